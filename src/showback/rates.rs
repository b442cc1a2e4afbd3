//! Exchange rates into the reporting currency: static ones from the config, and the ECB's
//! reference-rate CSV (the daily file or the history file: a `Date` column, then one column per
//! currency, in units of that currency per euro; cross rates go through the euro). A day
//! without a rate in the file takes the latest earlier day's.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

/// Reporting-currency units per unit of another currency, by day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    /// The reporting currency (ISO 4217).
    pub currency: String,
    /// From the config: the same every day; they win over the file.
    pub fixed: BTreeMap<String, f64>,
    /// From a rates file: units per euro, by day.
    pub per_euro: PerEuro,
}

/// A rates file's units per euro as one table: a row per day it quotes (oldest first), a
/// column per currency. The ECB's history (7,286 days × 41 currencies) held as maps of
/// strings took about 75 bytes a rate, 22 MiB; as a table 8 bytes, and a serving exporter
/// keeps only the days its budgets and showback can ask for ([`PerEuro::keep_from`]).
#[derive(Debug, Clone, Default)]
pub struct PerEuro {
    currencies: Vec<String>,
    days: Vec<NaiveDate>,
    /// Row by row; NaN where the file gives no rate.
    rates: Vec<f64>,
    /// The whole file's rates, hashed: what a reload compares, however many days are kept.
    content: u64,
}

/// Two tables are equal when they were read from the same rates (the days kept aside).
impl PartialEq for PerEuro {
    fn eq(&self, other: &Self) -> bool {
        self.content == other.content && self.currencies == other.currencies
    }
}

impl PerEuro {
    /// A table of `days` (any order; a later line of the same day wins), each with its rates.
    pub fn from_days(days: impl IntoIterator<Item = (NaiveDate, Vec<(String, f64)>)>) -> Self {
        let by_day: BTreeMap<NaiveDate, Vec<(String, f64)>> = days.into_iter().collect();
        let mut currencies: Vec<String> = (by_day.values().flatten())
            .map(|(currency, _)| currency.clone())
            .collect();
        currencies.sort();
        currencies.dedup();
        let mut table = PerEuro {
            rates: Vec::with_capacity(by_day.len() * currencies.len()),
            days: Vec::with_capacity(by_day.len()),
            currencies,
            content: 0,
        };
        let mut hasher = std::hash::DefaultHasher::new();
        for (day, quoted) in by_day {
            let row = table.rates.len();
            table.rates.resize(row + table.currencies.len(), f64::NAN);
            for (currency, rate) in quoted {
                if let Ok(column) = table.currencies.binary_search(&currency) {
                    table.rates[row + column] = rate;
                }
                std::hash::Hash::hash(&(day, &currency, rate.to_bits()), &mut hasher);
            }
            table.days.push(day);
        }
        table.content = std::hash::Hasher::finish(&hasher);
        table
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// The days quoted.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    /// The first and last day quoted.
    pub fn span(&self) -> Option<(NaiveDate, NaiveDate)> {
        Some((*self.days.first()?, *self.days.last()?))
    }

    /// How many currencies `day` (or the latest earlier day quoted) quotes.
    pub fn quoted_on(&self, day: NaiveDate) -> usize {
        self.row_on(day).map_or(0, |row| row.currencies().count())
    }

    /// The rates of `day`, or of the latest earlier day quoted.
    fn row_on(&self, day: NaiveDate) -> Option<Row<'_>> {
        let row = self.days.partition_point(|d| *d <= day).checked_sub(1)?;
        let width = self.currencies.len();
        Some(Row {
            currencies: &self.currencies,
            rates: &self.rates[row * width..(row + 1) * width],
        })
    }

    /// Whether any day quotes `currency`.
    fn quotes(&self, currency: &str) -> bool {
        let Ok(column) = self
            .currencies
            .binary_search_by(|c| c.as_str().cmp(currency))
        else {
            return false;
        };
        let width = self.currencies.len();
        (0..self.days.len()).any(|row| !self.rates[row * width + column].is_nan())
    }

    /// Drops the days before `day`, but the last one before it, whose rates `day` takes when
    /// the file does not quote it.
    pub fn keep_from(&mut self, day: NaiveDate) {
        let first = self.days.partition_point(|d| *d < day).saturating_sub(1);
        self.days.drain(..first);
        self.rates.drain(..first * self.currencies.len());
        self.days.shrink_to_fit();
        self.rates.shrink_to_fit();
    }
}

/// One day's rates.
struct Row<'t> {
    currencies: &'t [String],
    rates: &'t [f64],
}

impl Row<'_> {
    fn get(&self, currency: &str) -> Option<f64> {
        let column = (self
            .currencies
            .binary_search_by(|c| c.as_str().cmp(currency)))
        .ok()?;
        Some(self.rates[column]).filter(|rate| !rate.is_nan())
    }

    fn currencies(&self) -> impl Iterator<Item = &str> {
        (self.currencies.iter().zip(self.rates))
            .filter(|(_, rate)| !rate.is_nan())
            .map(|(currency, _)| currency.as_str())
    }
}

/// Why a rates file could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RatesFileError {
    #[error("cannot read it: {0}")]
    Read(String),
    #[error("line {line}: {detail}")]
    Line { line: u64, detail: String },
    #[error("it has no rates (a header `Date,USD,…` and a line per day are expected)")]
    Empty,
}

/// By the rates' bits: a reload that reads one new rate changes the hash, and a history file of
/// decades hashes without being formatted.
impl std::hash::Hash for Rates {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.currency.hash(state);
        for (currency, rate) in &self.fixed {
            (currency, rate.to_bits()).hash(state);
        }
        self.per_euro.content.hash(state);
    }
}

/// The widest rate the exporter takes, and the narrowest (its inverse): no two currencies
/// differ by more than twelve orders of magnitude, so a rate outside is a typo, and within it
/// every inverse and cross rate (a quotient of two rates) is a finite, normal number.
pub const MAX_RATE: f64 = 1e12;

/// Whether `rate` is one the exporter converts money at: finite, above 0, and within
/// [`MAX_RATE`] of 1 either way.
pub fn is_usable_rate(rate: f64) -> bool {
    rate.is_finite() && (1.0 / MAX_RATE..=MAX_RATE).contains(&rate)
}

impl Rates {
    /// Reporting-currency units per unit of `currency` on `day`; none if nothing gives one.
    pub fn rate(&self, currency: &str, day: NaiveDate) -> Option<f64> {
        if currency == self.currency {
            return Some(1.0);
        }
        if let Some(rate) = self.fixed.get(currency) {
            return Some(*rate);
        }
        let rates = self.per_euro.row_on(day)?;
        let per_euro = |c: &str| match c {
            "EUR" => Some(1.0),
            c => rates.get(c),
        };
        Some(per_euro(&self.currency)? / per_euro(currency)?)
    }

    /// The currencies a rate exists for, with the rate on `day`.
    pub fn all_on(&self, day: NaiveDate) -> BTreeMap<String, f64> {
        let mut currencies: Vec<String> = self.fixed.keys().cloned().collect();
        if let Some(rates) = self.per_euro.row_on(day) {
            currencies.extend(rates.currencies().map(str::to_string));
            currencies.push("EUR".to_string());
        }
        currencies
            .into_iter()
            .filter(|c| *c != self.currency)
            .filter_map(|c| Some((c.clone(), self.rate(&c, day)?)))
            .collect()
    }

    /// Whether any day of the file, or the config, gives `currency` a rate.
    pub fn knows(&self, currency: &str) -> bool {
        let in_file = |c: &str| c == "EUR" || self.per_euro.quotes(c);
        currency == self.currency
            || self.fixed.contains_key(currency)
            || (!self.per_euro.is_empty() && in_file(currency) && in_file(&self.currency))
    }
}

/// Reads an ECB reference-rate file: `Date,USD,JPY,…` then `2026-11-27,1.0552,…`. `N/A` and
/// empty cells are days without that rate; a trailing comma (as the ECB writes) is no column.
pub fn read_ecb_file(path: &Path) -> Result<PerEuro, RatesFileError> {
    let text = crate::model::files::read_to_string(path)
        .map_err(|e| RatesFileError::Read(e.to_string()))?;
    read_ecb_text(&text)
}

fn read_ecb_text(text: &str) -> Result<PerEuro, RatesFileError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| RatesFileError::Line {
            line: 1,
            detail: e.to_string(),
        })?
        .clone();
    if headers.get(0) != Some("Date") {
        return Err(RatesFileError::Line {
            line: 1,
            detail: format!(
                "the first column is {:?}, not Date: is this the ECB's eurofxref CSV?",
                headers.get(0).unwrap_or_default()
            ),
        });
    }
    let mut days = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| RatesFileError::Line {
            line: e.position().map_or(0, |p| p.line()),
            detail: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let bad = |detail: String| RatesFileError::Line { line, detail };
        let date = record.get(0).unwrap_or_default();
        let day = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|e| bad(format!("{date:?} is not a date as YYYY-MM-DD: {e}")))?;
        let mut rates = Vec::new();
        for (currency, cell) in headers.iter().zip(record.iter()).skip(1) {
            if currency.is_empty() || cell.is_empty() || cell == "N/A" {
                continue;
            }
            let rate: f64 = cell
                .parse()
                .map_err(|_| bad(format!("{currency}: {cell:?} is not a number")))?;
            if !is_usable_rate(rate) {
                return Err(bad(format!(
                    "{currency}: {cell} is not a rate between 1e-12 and 1e12"
                )));
            }
            rates.push((currency.to_string(), rate));
        }
        days.push((day, rates));
    }
    if days.is_empty() {
        return Err(RatesFileError::Empty);
    }
    Ok(PerEuro::from_days(days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::testing::day;

    /// The history file's shape: newest first, a trailing comma, N/A for a currency not quoted.
    const HISTORY: &str = "Date,USD,JPY,GBP,ISK,\n2026-11-27,1.0500,160.10,0.8300,N/A,\n2026-11-26,1.0400,159.00,0.8350,N/A,\n2026-11-24,1.0000,158.00,0.8400,150.0,\n";

    fn rates(currency: &str) -> Rates {
        Rates {
            currency: currency.into(),
            fixed: BTreeMap::new(),
            per_euro: read_ecb_text(HISTORY).unwrap(),
        }
    }

    #[test]
    fn a_day_takes_its_own_rate_or_the_latest_earlier_one_and_cross_rates_go_through_the_euro() {
        let eur = rates("EUR");
        assert_eq!(eur.rate("USD", day("2026-11-26")), Some(1.0 / 1.04));
        // Wednesday the 25th has no line: Tuesday's rate.
        assert_eq!(eur.rate("USD", day("2026-11-25")), Some(1.0));
        // A Sunday after the last line: Friday's.
        assert_eq!(eur.rate("USD", day("2026-11-29")), Some(1.0 / 1.05));
        assert_eq!(eur.rate("USD", day("2026-11-23")), None, "before the file");
        assert_eq!(eur.rate("EUR", day("2026-11-23")), Some(1.0));
        assert_eq!(eur.rate("ISK", day("2026-11-27")), None, "N/A is no rate");
        let usd = rates("USD");
        assert_eq!(usd.rate("EUR", day("2026-11-27")), Some(1.05));
        assert_eq!(usd.rate("GBP", day("2026-11-27")), Some(1.05 / 0.83));
        let fixed = Rates {
            fixed: BTreeMap::from([("USD".to_string(), 0.9)]),
            ..rates("EUR")
        };
        assert_eq!(
            fixed.rate("USD", day("2026-11-27")),
            Some(0.9),
            "the config wins"
        );
        assert!(fixed.knows("JPY") && fixed.knows("USD") && !fixed.knows("CHF"));
    }

    #[test]
    fn a_bad_rates_file_names_its_line() {
        let bad = |text: &str| read_ecb_text(text).unwrap_err().to_string();
        assert!(bad("Day,USD\n2026-11-27,1.05\n").contains("line 1"));
        assert_eq!(
            bad("Date,USD,\n2026-11-27,1.05,\n2026-13-01,1.06,\n")
                .split(':')
                .next(),
            Some("line 3")
        );
        assert!(bad("Date,USD\n2026-11-27,abc\n").contains("\"abc\" is not a number"));
        assert_eq!(read_ecb_text("Date,USD\n"), Err(RatesFileError::Empty));
    }

    /// A serving exporter keeps the days from the first it can ask for, and the day before
    /// them, whose rates the first takes when the file does not quote it; the rates it
    /// answers are those of the whole file, and so is what a reload compares.
    #[test]
    fn a_table_kept_from_a_day_answers_as_the_whole_file_from_that_day() {
        let whole = rates("EUR");
        let mut kept = rates("EUR");
        kept.per_euro.keep_from(day("2026-11-25"));
        assert_eq!(kept.per_euro.len(), 3, "the 24th stays for the 25th");
        for d in ["2026-11-25", "2026-11-26", "2026-11-27", "2026-12-31"] {
            for currency in ["USD", "JPY", "GBP", "ISK"] {
                let what = format!("{currency} on {d}");
                assert_eq!(
                    kept.rate(currency, day(d)),
                    whole.rate(currency, day(d)),
                    "{what}"
                );
            }
        }
        assert_eq!(kept, whole);
        kept.per_euro.keep_from(day("2026-11-27"));
        assert_eq!(
            kept.per_euro.span(),
            Some((day("2026-11-26"), day("2026-11-27")))
        );
    }
}

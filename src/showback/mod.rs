//! Showback: what each source's usage is, in units and in the reporting currency, and whose it
//! is. Vendor-blind, like budgets: evaluated by the poller after each poll from the usage the
//! source folded (the same the budgets read), a pure function of (config, usage, now).
//!
//! Every label set of the usage gets exactly one value per allocation dimension (the first
//! rule that matches, else the dimension's default), so the sum over a dimension's values is
//! the source's total: nothing lost, nothing counted twice. Money is units × the first
//! matching price, converted at its charge day's rate; a usage with no price has usage and no
//! cost, never a cost of 0 that would claim it is free.

pub mod budgets;
pub mod charges;
pub mod poll_step;
pub mod rates;
pub mod seats;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};

use crate::model::snapshot::{Combine, FamilyDesc, FamilyId, FamilySamples, SnapshotBuilder};
use crate::model::usage::{label_value, BudgetUnit, DailyUsage, ServiceOf, Usage};
pub use rates::Rates;

/// Label → the values it may have; every key must match.
pub type Matcher = Vec<(String, Vec<String>)>;

/// Whether every key of `matcher` has one of its values, as `lookup` reads the keys.
pub fn matches<'a>(matcher: &Matcher, lookup: impl Fn(&str) -> Option<&'a str>) -> bool {
    matcher
        .iter()
        .all(|(key, values)| lookup(key).is_some_and(|v| values.iter().any(|w| w == v)))
}

/// Whether `matcher` may match label sets of this source: its `source` and `vendor` keys
/// (the others are known only per label set).
pub fn may_apply(matcher: &Matcher, source: &str, vendor: &str) -> bool {
    matcher.iter().all(|(key, values)| match key.as_str() {
        "source" => values.iter().any(|v| v == source),
        "vendor" => values.iter().any(|v| v == vendor),
        _ => true,
    })
}

/// A list price of a vendor's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    pub matcher: Matcher,
    pub per_unit: f64,
    pub currency: String,
}

impl Price {
    /// Whether it prices idle seats (its match names `licence`), not units of usage.
    pub fn prices_seats(&self) -> bool {
        self.matcher.iter().any(|(key, _)| key == "licence")
    }
}

/// `money:`: the reporting currency, the rates into it, and the prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Money {
    pub rates: Rates,
    pub prices: Vec<Price>,
}

/// One `allocation:` dimension: a label on the showback families.
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    pub name: String,
    pub default: String,
    /// First match wins.
    pub rules: Vec<(Matcher, String)>,
}

/// The showback config: money, allocation, or both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Showback {
    pub money: Option<Money>,
    pub dimensions: Vec<Dimension>,
    /// Top-level budgets: money across sources, in the reporting currency.
    pub budgets: Vec<crate::budgets::Budget>,
}

/// Labels the showback families carry besides the dimensions (and `source`, which every
/// source's series have): a dimension may not be named like one.
pub const LABEL_NAMES: [&str; 6] = ["vendor", "service", "unit", "window", "currency", "origin"];

pub static USAGE: FamilyDesc = FamilyDesc {
    name: "consumption_usage",
    help: "Units consumed in the window (UTC days; `period`: the vendor's current consumption period), by service and allocation.",
};
pub static COST: FamilyDesc = FamilyDesc {
    name: "consumption_cost",
    help: "Money in the window, in the currency label's currency: units × the first matching price, converted at each charge day's rate.",
};

/// The first day of usage showback needs at `now`: this month's first, or yesterday on the 1st.
pub fn history_from(now: DateTime<Utc>) -> NaiveDate {
    let today = now.date_naive();
    let month_start = today.with_day(1).unwrap_or(today);
    month_start.min(today - Days::new(1))
}

/// What showback reads of one source's poll.
pub struct SourceUsage<'a> {
    pub vendor: &'static str,
    pub source: &'a str,
    pub usage: &'a Usage,
    /// Money the vendor computed per day, with a `currency` label: used as it is
    /// (`origin="vendor"`), and the source's usage is then not priced.
    pub vendor_costs: Option<&'a DailyUsage>,
    pub service: ServiceOf,
    pub unit: BudgetUnit,
}

/// A window of days, [first, last], and its label value.
struct Window {
    name: &'static str,
    first: NaiveDate,
    last: NaiveDate,
}

fn windows(now: DateTime<Utc>) -> [Window; 3] {
    let today = now.date_naive();
    let yesterday = today - Days::new(1);
    [
        Window {
            name: "today",
            first: today,
            last: today,
        },
        Window {
            name: "yesterday",
            first: yesterday,
            last: yesterday,
        },
        Window {
            name: "month_to_date",
            first: today.with_day(1).unwrap_or(today),
            last: today,
        },
    ]
}

/// One label set of the usage, as showback labels it.
struct LabelSet {
    service: String,
    unit: String,
    allocation: Vec<String>,
    price: Option<(f64, String)>,
}

impl Showback {
    /// The showback families of one source's poll.
    pub fn families(&self, input: &SourceUsage<'_>, now: DateTime<Utc>) -> Vec<FamilySamples> {
        let mut builder = SnapshotBuilder::new();
        let names = |first: &[&'static str]| -> Vec<&'static str> {
            let mut names = first.to_vec();
            names.extend(self.dimensions.iter().map(|d| leak_once(&d.name)));
            names
        };
        let usage = builder.family(
            &USAGE,
            names(&["vendor", "service", "unit", "window"]),
            Combine::Sum,
        );
        let cost = builder.family(
            &COST,
            names(&["vendor", "service", "currency", "window", "origin"]),
            Combine::Sum,
        );
        let ids = (usage, cost);
        if let Some(costs) = input.vendor_costs {
            self.observe_vendor_costs(&mut builder, cost, input, costs, now);
        }
        let names = input.usage.label_names();
        match input.usage {
            Usage::Daily(daily) => {
                for (values, days) in &daily.series {
                    let set = self.label_set(input, names, values);
                    for window in windows(now) {
                        self.observe_days(&mut builder, ids, input.vendor, &set, &window, days);
                    }
                }
            }
            Usage::Level(level) => {
                for (values, amount) in &level.series {
                    let set = self.label_set(input, names, values);
                    let day = now.date_naive();
                    let window = Window {
                        name: "period",
                        first: day,
                        last: day,
                    };
                    let days = [(day, *amount)];
                    self.observe_days(&mut builder, ids, input.vendor, &set, &window, &days);
                }
            }
        }
        builder
            .finish()
            .families
            .into_iter()
            .filter(|family| !family.is_empty())
            .collect()
    }

    /// The vendor's own money, by service, window and allocation, in the reporting currency
    /// at each day's rate (in its own currency on a day without one: never guessed).
    fn observe_vendor_costs(
        &self,
        builder: &mut SnapshotBuilder,
        cost: FamilyId,
        input: &SourceUsage<'_>,
        costs: &DailyUsage,
        now: DateTime<Utc>,
    ) {
        let names = &costs.label_names;
        for (values, days) in &costs.series {
            let set = self.label_set(input, names, values);
            let own = ServiceOf::Label("currency").of(names, values);
            for window in windows(now) {
                let in_window = days
                    .iter()
                    .filter(|(d, _)| window.first <= *d && *d <= window.last);
                let mut money: Vec<(String, f64)> = Vec::new();
                for (day, amount) in in_window {
                    let (currency, value) = self.in_reporting_currency(&own, *day, *amount);
                    match money.iter_mut().find(|(c, _)| *c == currency) {
                        Some((_, sum)) => *sum += value,
                        None => money.push((currency, value)),
                    }
                }
                for (currency, value) in &money {
                    let first = [input.vendor, &set.service, currency, window.name, "vendor"];
                    let mut labels: Vec<&str> = first.to_vec();
                    labels.extend(set.allocation.iter().map(String::as_str));
                    builder.observe(cost, &labels, *value);
                }
            }
        }
    }

    /// `amount` of `currency` on `day`, in the reporting currency, or as it is when no rate
    /// converts it.
    fn in_reporting_currency(&self, currency: &str, day: NaiveDate, amount: f64) -> (String, f64) {
        let rates = self.money.as_ref().map(|m| &m.rates);
        match rates.and_then(|r| Some((r, r.rate(currency, day)?))) {
            Some((rates, rate)) => (rates.currency.clone(), amount * rate),
            None => (currency.to_string(), amount),
        }
    }

    fn label_set(
        &self,
        input: &SourceUsage<'_>,
        names: &[&'static str],
        values: &[String],
    ) -> LabelSet {
        let service = input.service.of(names, values);
        let unit = match input.unit {
            BudgetUnit::Fixed(unit) => unit.to_string(),
            BudgetUnit::Label(label) => ServiceOf::Label(label).of(names, values),
        };
        let lookup = |key: &str| -> Option<&str> {
            match key {
                "source" => Some(input.source),
                "vendor" => Some(input.vendor),
                "service" => Some(service.as_str()),
                label => label_value(names, values, label),
            }
        };
        let allocation = self.allocation_of(lookup);
        let priced = self.money.as_ref().filter(|_| input.vendor_costs.is_none());
        let price = priced.and_then(|money| {
            let usage_prices = money.prices.iter().filter(|p| !p.prices_seats());
            let price = usage_prices.clone().find(|p| matches(&p.matcher, lookup))?;
            Some((price.per_unit, price.currency.clone()))
        });
        LabelSet {
            service,
            unit,
            allocation,
            price,
        }
    }

    /// Adds a label set's units (and money, when priced) in `window`.
    fn observe_days(
        &self,
        builder: &mut SnapshotBuilder,
        (usage, cost): (FamilyId, FamilyId),
        vendor: &str,
        set: &LabelSet,
        window: &Window,
        days: &[(NaiveDate, f64)],
    ) {
        let in_window = days
            .iter()
            .filter(|(day, _)| window.first <= *day && *day <= window.last);
        let mut units = 0.0;
        // Money by the currency it ends in: the reporting one, or the price's own on a day
        // with no rate (never guessed).
        let mut money: Vec<(String, f64)> = Vec::new();
        for (day, amount) in in_window {
            units += amount;
            let Some((per_unit, currency)) = &set.price else {
                continue;
            };
            let (currency, value) = self.in_reporting_currency(currency, *day, amount * per_unit);
            match money.iter_mut().find(|(c, _)| *c == currency) {
                Some((_, sum)) => *sum += value,
                None => money.push((currency, value)),
            }
        }
        fn labels<'a>(first: [&'a str; 4], set: &'a LabelSet) -> Vec<&'a str> {
            first
                .into_iter()
                .chain(set.allocation.iter().map(String::as_str))
                .collect()
        }
        builder.observe(
            usage,
            &labels([vendor, &set.service, &set.unit, window.name], set),
            units,
        );
        if self.money.is_some() && set.price.is_some() && money.is_empty() {
            money.push((
                self.money
                    .as_ref()
                    .map(|m| m.rates.currency.clone())
                    .unwrap_or_default(),
                0.0,
            ));
        }
        for (currency, value) in &money {
            let mut values = labels([vendor, &set.service, currency, window.name], set);
            values.insert(4, "price");
            builder.observe(cost, &values, *value);
        }
    }
}

impl Showback {
    /// The value of each dimension for a label set, as `lookup` reads its keys: the first
    /// rule that matches, else the default.
    fn allocation_of<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str> + Copy) -> Vec<String> {
        self.dimensions
            .iter()
            .map(|dimension| {
                dimension
                    .rules
                    .iter()
                    .find(|(matcher, _)| matches(matcher, lookup))
                    .map_or(&dimension.default, |(_, value)| value)
                    .clone()
            })
            .collect()
    }

    /// `usage` with a label per allocation dimension after its own, so that a source's budget
    /// may match on them (`match: {team: sales}`).
    pub fn allocated(&self, usage: &Usage, input: &SourceUsage<'_>) -> Usage {
        let names = usage.label_names().to_vec();
        let with_dimensions = |values: &[String]| -> Vec<String> {
            let mut all = values.to_vec();
            all.extend(self.label_set(input, &names, values).allocation);
            all
        };
        let mut label_names = names.clone();
        label_names.extend(self.dimensions.iter().map(|d| leak_once(&d.name)));
        match usage {
            Usage::Daily(daily) => Usage::Daily(DailyUsage {
                label_names,
                series: daily
                    .series
                    .iter()
                    .map(|(v, days)| (with_dimensions(v), days.clone()))
                    .collect(),
            }),
            Usage::Level(level) => Usage::Level(crate::model::usage::LevelUsage {
                label_names,
                series: level
                    .series
                    .iter()
                    .map(|(v, amount)| (with_dimensions(v), *amount))
                    .collect(),
                members: level.members.clone(),
            }),
        }
    }

    /// What `check` says of money: the reporting currency and where each rate comes from.
    pub fn describe_money(&self) -> Vec<String> {
        let Some(money) = &self.money else {
            return Vec::new();
        };
        let rates = &money.rates;
        let mut lines = vec![format!("money: reporting currency {}", rates.currency)];
        for (currency, rate) in &rates.fixed {
            lines.push(format!(
                "  rate {currency}: {rate} {} (config)",
                rates.currency
            ));
        }
        if let Some((first, last)) = rates.per_euro.span() {
            let quoted = rates.per_euro.quoted_on(last);
            lines.push(format!(
                "  rates file: {} days from {first} to {last}, {quoted} currencies on the last",
                rates.per_euro.len(),
            ));
        }
        lines
    }

    /// What `check` says of one source: the prices that may apply to it, or why it has none.
    pub fn describe_source(&self, source: &str, vendor: &str, billed: bool) -> String {
        if !billed {
            return format!("{source}: its usage is not billed: no showback rows");
        }
        let Some(money) = &self.money else {
            return format!("{source}: usage by allocation, no money (no `money:`)");
        };
        let applies = |price: &&Price| may_apply(&price.matcher, source, vendor);
        let prices: Vec<String> = money
            .prices
            .iter()
            .filter(applies)
            .map(|p| {
                format!(
                    "{} {} per unit where {}",
                    p.per_unit,
                    p.currency,
                    describe(&p.matcher)
                )
            })
            .collect();
        match prices.is_empty() {
            true => format!("{source}: no price matches: usage served, no cost"),
            false => format!(
                "{source}: priced: {}; other services have usage and no cost",
                prices.join("; ")
            ),
        }
    }
}

/// A matcher as `key=value|value, …` (`everything` when empty).
fn describe(matcher: &Matcher) -> String {
    match matcher.is_empty() {
        true => "everything".to_string(),
        false => matcher
            .iter()
            .map(|(key, values)| format!("{key}={}", values.join("|")))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A dimension's name for a family's label names, which are `&'static str`: each distinct
/// name is leaked once per process (a config has a handful; a reload adds none it had).
pub fn leak_once(name: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = crate::model::locks::lock(NAMES.get_or_init(Default::default));
    match names.get(name) {
        Some(known) => known,
        None => {
            let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
            names.insert(leaked);
            leaked
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::model::clock::testing::at;
    use crate::model::usage::DailyUsage;
    use proptest::prelude::*;

    const NAMES: [&str; 2] = ["env", "kind"];

    fn label_sets() -> impl Strategy<Value = Vec<crate::model::usage::DaySeries>> {
        let values = proptest::collection::vec("[a-c]", 2);
        let days = proptest::collection::vec((1..=15u32, 0.0..1000.0f64), 1..6).prop_map(|days| {
            let mut by_day: std::collections::BTreeMap<NaiveDate, f64> = Default::default();
            for (d, amount) in days {
                let day = NaiveDate::from_ymd_opt(2027, 1, d).unwrap_or_default();
                *by_day.entry(day).or_default() += amount;
            }
            by_day.into_iter().collect()
        });
        proptest::collection::vec((values, days), 1..8)
    }

    fn matcher() -> impl Strategy<Value = Matcher> {
        proptest::collection::vec(
            (
                proptest::sample::select(vec!["env", "kind", "service"]),
                proptest::collection::vec("[a-c]", 1..3),
            ),
            0..3,
        )
        .prop_map(|pairs| pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    fn showback() -> impl Strategy<Value = Showback> {
        let rules = proptest::collection::vec((matcher(), "[x-z]"), 0..4);
        let prices = proptest::collection::vec((matcher(), 0.01..10.0f64), 0..3);
        (rules, prices).prop_map(|(rules, prices)| Showback {
            money: Some(Money {
                rates: Rates {
                    currency: "EUR".into(),
                    fixed: [("USD".to_string(), 0.9)].into(),
                    ..Rates::default()
                },
                prices: prices
                    .into_iter()
                    .map(|(matcher, per_unit)| Price {
                        matcher,
                        per_unit,
                        currency: "USD".into(),
                    })
                    .collect(),
            }),
            dimensions: vec![Dimension {
                name: "team".into(),
                default: "unallocated".into(),
                rules,
            }],
            budgets: Vec::new(),
        })
    }

    proptest! {
        /// Whatever the label sets, rules and prices: every label set lands in exactly one
        /// team, so the teams' units sum to the source's total, and money is what the priced
        /// label sets' units cost.
        #[test]
        fn allocation_is_total_and_money_sums_to_the_priced_units(
            series in label_sets(),
            showback in showback(),
        ) {
            let usage = Usage::Daily(DailyUsage { label_names: NAMES.to_vec(), series: series.clone() });
            let input = SourceUsage {
                vendor: "some-vendor",
                source: "s",
                usage: &usage,
                vendor_costs: None,
                service: ServiceOf::Label("kind"),
                unit: BudgetUnit::Fixed("units"),
            };
            let families = showback.families(&input, at("2027-01-15T12:00:00Z"));
            let window_sum = |family: &str| -> f64 {
                families
                    .iter()
                    .filter(|f| f.desc.name == family)
                    .flat_map(|f| {
                        let window = f.label_names.iter().position(|n| *n == "window");
                        f.iter().filter_map(move |(mut values, value)| {
                            let in_month = values.nth(window?)? == "month_to_date";
                            in_month.then_some(value)
                        })
                    })
                    .sum()
            };
            let total: f64 = series.iter().flat_map(|(_, days)| days).map(|(_, a)| a).sum();
            prop_assert!((window_sum("consumption_usage") - total).abs() <= 1e-9 * total.max(1.0));
            let names: Vec<&'static str> = NAMES.to_vec();
            let priced: f64 = series
                .iter()
                .filter_map(|(values, days)| {
                    let lookup = |key: &str| match key {
                        "service" => Some(values[1].as_str()),
                        label => names.iter().position(|n| *n == label).map(|i| values[i].as_str()),
                    };
                    let money = showback.money.as_ref()?;
                    let price = money.prices.iter().find(|p| matches(&p.matcher, lookup))?;
                    Some(days.iter().map(|(_, a)| a * price.per_unit * 0.9).sum::<f64>())
                })
                .sum();
            let money = window_sum("consumption_cost");
            prop_assert!((money - priced).abs() <= 1e-9 * priced.max(1.0), "{money} != {priced}");
        }
    }
}

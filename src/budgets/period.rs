//! Budget periods: UTC calendar days and months, and quarters and years that start on a
//! contract anniversary. A pure function of (period, anchor, now).

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

/// How long a budget's period is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Month,
    Quarter,
    Year,
}

impl Period {
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }

    /// Whether a `start` anchor means anything for this period.
    pub fn takes_anchor(self) -> bool {
        matches!(self, Period::Quarter | Period::Year)
    }
}

/// The period that contains `now`: from its first day's midnight (UTC) to the next period's.
/// Quarters and years repeat every 3 or 12 months from `anchor`; a day past the end of a
/// shorter month falls on that month's last day (an anchor on the 31st starts a quarter on
/// 30 April), always counted from the anchor so it never drifts.
pub fn current(period: Period, anchor: NaiveDate, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let today = now.date_naive();
    match period {
        Period::Day => (today, today.succ_opt().unwrap_or(today)),
        Period::Month => {
            let start = today.with_day(1).unwrap_or(today);
            (start, start + Months::new(1))
        }
        Period::Quarter => anniversary(anchor, 3, today),
        Period::Year => anniversary(anchor, 12, today),
    }
}

fn anniversary(anchor: NaiveDate, step: i64, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let months = |date: NaiveDate| i64::from(date.year()) * 12 + i64::from(date.month0());
    let nth = |k: i64| shift(anchor, k * step);
    let mut k = (months(today) - months(anchor)).div_euclid(step);
    // The month arithmetic lands in the right period or the one after it (when today's day of
    // the month is before the anchor's).
    while nth(k) > today {
        k -= 1;
    }
    while nth(k + 1) <= today {
        k += 1;
    }
    (nth(k), nth(k + 1))
}

fn shift(date: NaiveDate, months: i64) -> NaiveDate {
    let magnitude = Months::new(u32::try_from(months.unsigned_abs()).unwrap_or(u32::MAX));
    let shifted = if months >= 0 {
        date.checked_add_months(magnitude)
    } else {
        date.checked_sub_months(magnitude)
    };
    shifted.unwrap_or(date)
}

/// Midnight UTC at the start of `day`, as Unix seconds.
pub fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::testing::{at, day};

    #[test]
    fn periods_contain_now_and_end_where_the_next_begins() {
        let jan1 = day("2026-01-01");
        #[rustfmt::skip]
        let table = [
            // period, anchor, now → start, end
            (Period::Day, jan1, "2026-12-31T23:59:59Z", "2026-12-31", "2027-01-01"),
            (Period::Day, jan1, "2027-01-01T00:00:00Z", "2027-01-01", "2027-01-02"),
            (Period::Month, jan1, "2026-11-30T23:59:59Z", "2026-11-01", "2026-12-01"),
            (Period::Month, jan1, "2026-12-01T00:00:00Z", "2026-12-01", "2027-01-01"),
            (Period::Month, jan1, "2028-02-29T12:00:00Z", "2028-02-01", "2028-03-01"),
            (Period::Quarter, jan1, "2026-03-31T23:59:59Z", "2026-01-01", "2026-04-01"),
            (Period::Quarter, jan1, "2026-04-01T00:00:00Z", "2026-04-01", "2026-07-01"),
            (Period::Quarter, day("2025-02-15"), "2026-02-14T23:59:59Z", "2025-11-15", "2026-02-15"),
            (Period::Quarter, day("2025-02-15"), "2026-02-15T00:00:00Z", "2026-02-15", "2026-05-15"),
            // An anchor on the 31st: quarters start on the month's last day where it is shorter.
            (Period::Quarter, day("2026-01-31"), "2026-05-01T00:00:00Z", "2026-04-30", "2026-07-31"),
            (Period::Quarter, day("2026-01-31"), "2026-07-31T00:00:00Z", "2026-07-31", "2026-10-31"),
            // A fiscal year from April crosses the calendar year.
            (Period::Year, day("2026-04-01"), "2027-01-15T08:00:00Z", "2026-04-01", "2027-04-01"),
            (Period::Year, day("2026-04-01"), "2027-03-31T23:59:59Z", "2026-04-01", "2027-04-01"),
            (Period::Year, day("2026-04-01"), "2027-04-01T00:00:00Z", "2027-04-01", "2028-04-01"),
            // Before the anchor: the period that ends on it.
            (Period::Year, day("2026-04-01"), "2026-03-01T00:00:00Z", "2025-04-01", "2026-04-01"),
            (Period::Year, jan1, "2026-12-31T23:59:59Z", "2026-01-01", "2027-01-01"),
            (Period::Year, day("2024-02-29"), "2025-03-01T00:00:00Z", "2025-02-28", "2026-02-28"),
        ];
        for (period, anchor, now, start, end) in table {
            assert_eq!(
                current(period, anchor, at(now)),
                (day(start), day(end)),
                "{period:?} from {anchor} at {now}"
            );
        }
    }
}

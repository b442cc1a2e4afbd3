//! The daily windows vendors with daily data share: `today`, `yesterday` and `month_to_date`,
//! UTC calendar days, and sums per label set in each. Daily data is exposed without a date label
//! so that series stay bounded.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use hashbrown::HashMap;

use super::PollPlan;
use crate::model::settled::{pack_values_into, SettledFamily, SettledSeries};
use crate::model::snapshot::{Combine, FamilyDesc, SnapshotBuilder};
use crate::model::usage::{DailyUsage, DaySeries, Usage};

/// The `window` label values, in the order of [`Windows::membership`].
pub const WINDOW_NAMES: [&str; 3] = ["today", "yesterday", "month_to_date"];

/// The UTC calendar windows one poll covers, how far back budgets need the days, and which
/// days earlier polls settled.
#[derive(Clone, Copy, Debug)]
pub struct Windows {
    pub today: NaiveDate,
    pub yesterday: NaiveDate,
    pub month_start: NaiveDate,
    /// Keep per-day amounts from this day on for budgets (none: no budgets).
    pub history_from: Option<NaiveDate>,
    /// Days before this one come from the plan's settled days: the vendor is asked from here.
    settled_until: Option<NaiveDate>,
    /// Days before this one are settled now and handed back for the next poll.
    settle_before: Option<NaiveDate>,
}

impl Windows {
    pub fn at(now: DateTime<Utc>) -> Self {
        let today = now.date_naive();
        Windows {
            today,
            yesterday: today.pred_opt().unwrap_or(today),
            month_start: today.with_day(1).unwrap_or(today),
            history_from: None,
            settled_until: None,
            settle_before: None,
        }
    }

    /// Today alone, as if every earlier day were settled: the smallest range to ask for.
    pub fn today_only(now: DateTime<Utc>) -> Self {
        let windows = Windows::at(now);
        Windows {
            settled_until: Some(windows.today),
            ..windows
        }
    }

    /// The windows of a poll at `now` that follows `plan`: the days budgets need, the settled
    /// days it starts from and the ones it hands back.
    pub fn planned(now: DateTime<Utc>, plan: &PollPlan) -> Self {
        Windows {
            settled_until: plan.settled.as_ref().map(|s| s.until),
            settle_before: plan.settle_before,
            ..Windows::at(now).with_history(plan.history_from)
        }
    }

    /// Also reads and keeps the days from `history_from` (the poll plan's), for budgets.
    pub fn with_history(self, history_from: Option<NaiveDate>) -> Self {
        Windows {
            history_from: history_from.map(|day| day.min(self.start_of_windows())),
            ..self
        }
    }

    /// The same windows for data budgets do not read (a vendor's money next to its usage).
    pub fn without_history(self) -> Self {
        Windows {
            history_from: None,
            ..self
        }
    }

    fn start_of_windows(&self) -> NaiveDate {
        self.month_start.min(self.yesterday)
    }

    /// The first day the windows and budgets cover: the month's first, or yesterday on the
    /// 1st, or the first day budgets need if that is earlier.
    pub fn start(&self) -> NaiveDate {
        let windows = self.start_of_windows();
        self.history_from.map_or(windows, |day| day.min(windows))
    }

    /// The first day to ask the vendor for: [`Windows::start`], or the first day not settled
    /// by earlier polls.
    pub fn query_start(&self) -> NaiveDate {
        let start = self.start();
        self.settled_until.map_or(start, |until| until.max(start))
    }

    /// Midnight UTC at the start of [`Windows::query_start`].
    pub fn query_start_time(&self) -> DateTime<Utc> {
        self.query_start()
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
    }

    /// Which windows a day falls in, in `WINDOW_NAMES` order.
    pub fn membership(&self, day: NaiveDate) -> [bool; 3] {
        [
            day == self.today,
            day == self.yesterday,
            day >= self.month_start && day <= self.today,
        ]
    }

    /// Whether an amount on `day` read from the vendor counts: inside the range, and not a
    /// settled day, which the plan already holds.
    fn takes(&self, day: NaiveDate) -> bool {
        day >= self.query_start() && day <= self.today
    }
}

/// Per-label-set amounts by day, summed into each window at the end, and handed to budgets
/// and to the next poll. Memory grows with label sets and days, never with records.
pub struct WindowSums {
    windows: Windows,
    /// Keyed by the label values, each prefixed by its length so that no two label sets make
    /// the same key, and looked up by `&str`: an amount for a known label set allocates nothing.
    sums: HashMap<String, LabelSet>,
    key: String,
}

struct LabelSet {
    values: Vec<String>,
    /// Amounts by day, sorted by day: records mostly come in time order, so an amount lands
    /// on the last day or goes after it, without a tree's node per day.
    days: Vec<(NaiveDate, f64)>,
}

impl LabelSet {
    /// The sum in each window, added day by day in date order: a poll that starts from
    /// settled days sums exactly as one that read them all.
    fn window_sums(&self, windows: &Windows) -> Option<[f64; 3]> {
        let mut sums = [0.0; 3];
        let mut in_window = false;
        for (day, amount) in &self.days {
            let membership = windows.membership(*day);
            for (sum, member) in sums.iter_mut().zip(membership) {
                if member {
                    *sum += amount;
                    in_window = true;
                }
            }
        }
        in_window.then_some(sums)
    }
}

/// Adds `amount` on `day` to `days`. A full vector grows as usual, but never past the days
/// that can still come (up to `today`): a label set with an amount every day ends with no
/// spare room, a year of days holding 16 bytes a day, not up to twice that.
fn add_to_day(days: &mut Vec<(NaiveDate, f64)>, day: NaiveDate, amount: f64, today: NaiveDate) {
    match days.last_mut() {
        Some((last, sum)) if *last == day => *sum += amount,
        Some((last, _)) if *last < day => {
            if days.len() == days.capacity() {
                let to_come = usize::try_from((today - day).num_days() + 1).unwrap_or(1);
                days.reserve_exact(days.len().max(4).min(to_come));
            }
            days.push((day, amount));
        }
        None => days.push((day, amount)),
        Some(_) => match days.binary_search_by_key(&day, |(d, _)| *d) {
            Ok(i) => days[i].1 += amount,
            Err(i) => days.insert(i, (day, amount)),
        },
    }
}

impl WindowSums {
    pub fn new(windows: Windows) -> Self {
        WindowSums {
            windows,
            sums: HashMap::new(),
            key: String::new(),
        }
    }

    /// Starts from the settled days of family `desc` in `plan`, those the windows still cover.
    pub fn seeded(mut self, plan: &PollPlan, desc: &FamilyDesc) -> Self {
        let Some(family) = plan.settled.as_ref().and_then(|s| s.family(desc.name)) else {
            return self;
        };
        let (start, until) = (self.windows.start(), self.windows.query_start());
        for series in &family.series {
            let kept: Vec<(NaiveDate, f64)> = (series.days().iter())
                .filter(|(day, _)| *day >= start && *day < until)
                .copied()
                .collect();
            if kept.is_empty() {
                continue;
            }
            let values: Vec<&str> = series.values().collect();
            self.label_set(&values).days = kept;
        }
        self
    }

    fn label_set(&mut self, label_values: &[&str]) -> &mut LabelSet {
        self.key.clear();
        pack_values_into(&mut self.key, label_values.iter().copied());
        self.sums
            .entry_ref(self.key.as_str())
            .or_insert_with(|| LabelSet {
                values: label_values.iter().map(|v| (*v).to_string()).collect(),
                days: Vec::new(),
            })
    }

    /// Adds `amount`, consumed on `day`. Days outside the range, and settled days the plan
    /// already holds, are ignored.
    pub fn add(&mut self, label_values: &[&str], day: NaiveDate, amount: f64) {
        if !self.windows.takes(day) {
            return;
        }
        let today = self.windows.today;
        add_to_day(&mut self.label_set(label_values).days, day, amount, today);
    }

    /// Adds the family with `label_names` plus `window`. Every label set seen in a window gets
    /// all three, zero where nothing was consumed, so an alert on `today` sees 0, not no data.
    /// The days go to the snapshot's usage, for budgets, and the settled ones to its settled
    /// days, for the next poll.
    pub fn into_family(
        self,
        builder: &mut SnapshotBuilder,
        desc: &'static FamilyDesc,
        label_names: &[&'static str],
    ) {
        let mut names = label_names.to_vec();
        names.push("window");
        let family = builder.family(desc, names, Combine::Sum);
        let mut labels: Vec<&str> = Vec::with_capacity(label_names.len() + 1);
        for set in self.sums.values() {
            let Some(sums) = set.window_sums(&self.windows) else {
                continue;
            };
            for (window, sum) in WINDOW_NAMES.iter().zip(sums) {
                labels.clear();
                labels.extend(set.values.iter().map(String::as_str));
                labels.push(window);
                builder.observe(family, &labels, sum);
            }
        }
        // Nothing settled since the plan's days: the poller keeps those as they are.
        let newly_settled = self.windows.settle_before != self.windows.settled_until;
        if let Some(before) = self.windows.settle_before.filter(|_| newly_settled) {
            let series = self
                .sums
                .values()
                .filter_map(|set| {
                    let settled = set.days.partition_point(|(day, _)| *day < before);
                    let values = set.values.iter().map(String::as_str);
                    (settled > 0).then(|| SettledSeries::new(values, &set.days[..settled]))
                })
                .collect();
            // Held between polls: no room to grow.
            let mut series: Vec<SettledSeries> = series;
            series.shrink_to_fit();
            builder.settled(SettledFamily {
                name: desc.name,
                series,
            });
        }
        if self.windows.history_from.is_some() {
            let series = self
                .sums
                .into_values()
                .map(|s| (s.values, s.days))
                .collect();
            builder.usage(Usage::Daily(DailyUsage {
                label_names: label_names.to_vec(),
                series,
            }));
        }
    }

    /// Every label set's amounts by day, as they stand (settled days included).
    pub fn day_series(&self, label_names: &[&'static str]) -> DailyUsage {
        DailyUsage {
            label_names: label_names.to_vec(),
            series: self
                .sums
                .values()
                .map(|s| (s.values.clone(), s.days.clone()))
                .collect(),
        }
    }

    /// As [`WindowSums::into_family`], for money the vendor computed (`label_names` hold a
    /// `currency`): the days go to the snapshot's vendor costs, for showback, not to budgets.
    pub fn into_money_family(
        self,
        builder: &mut SnapshotBuilder,
        desc: &'static FamilyDesc,
        label_names: &[&'static str],
    ) {
        let days: Vec<DaySeries> = self
            .sums
            .values()
            .map(|s| (s.values.clone(), s.days.clone()))
            .collect();
        let windows = self.windows;
        WindowSums {
            windows: windows.without_history(),
            ..self
        }
        .into_family(builder, desc, label_names);
        builder.vendor_costs(DailyUsage {
            label_names: label_names.to_vec(),
            series: days,
        });
    }
}

/// Reads a vendor's day or time: `YYYY-MM-DD` (midnight UTC), RFC 3339, or Unix milliseconds.
pub fn parse_day_or_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(millis) = text.parse::<i64>() {
        return DateTime::from_timestamp_millis(millis);
    }
    let date = NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
    date.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
}

/// When a period whose end a vendor gives as its last day ends: a `YYYY-MM-DD` date ends at
/// the following midnight UTC; an RFC 3339 time is the end itself.
pub fn end_of_last_day(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date.succ_opt()?.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::testing::{at, day};

    #[test]
    fn a_day_counts_in_every_window_it_falls_in() {
        let windows = Windows::at(at("2026-11-22T10:00:00Z"));
        assert_eq!(windows.membership(day("2026-11-22")), [true, false, true]);
        assert_eq!(windows.membership(day("2026-11-21")), [false, true, true]);
        assert_eq!(windows.membership(day("2026-11-01")), [false, false, true]);
        assert_eq!(windows.membership(day("2026-10-31")), [false, false, false]);
        assert_eq!(windows.start(), day("2026-11-01"));
        // On the 1st, yesterday is in the previous month and the query must reach it.
        let first = Windows::at(at("2026-12-01T00:30:00Z"));
        assert_eq!(first.start(), day("2026-11-30"));
        assert_eq!(first.membership(day("2026-11-30")), [false, true, false]);
    }

    #[test]
    fn days_and_times_are_read_in_three_forms() {
        assert_eq!(
            parse_day_or_time("2026-11-22"),
            Some(at("2026-11-22T00:00:00Z"))
        );
        assert_eq!(
            parse_day_or_time("2026-11-22T05:00:00+01:00"),
            Some(at("2026-11-22T04:00:00Z"))
        );
        assert_eq!(
            parse_day_or_time("1795305600000"),
            Some(at("2026-11-22T00:00:00Z"))
        );
        assert_eq!(parse_day_or_time("yesterday"), None);
    }

    #[test]
    fn label_sets_that_would_join_to_the_same_text_stay_apart() {
        let windows = Windows::at(at("2026-11-22T10:00:00Z"));
        let mut sums = WindowSums::new(windows);
        sums.add(&["a:b", "c"], day("2026-11-22"), 1.0);
        sums.add(&["a", "b:c"], day("2026-11-22"), 2.0);
        sums.add(&["a", "b:c"], day("2026-11-21"), 4.0);
        let mut builder = SnapshotBuilder::new();
        static DESC: FamilyDesc = FamilyDesc {
            name: "x",
            help: "x",
        };
        sums.into_family(&mut builder, &DESC, &["p", "q"]);
        let snapshot = builder.finish();
        let get = |p: &str, q: &str, w: &str| snapshot.families[0].get(&[p, q, w]).unwrap();
        assert_eq!(get("a:b", "c", "today"), 1.0);
        assert_eq!(get("a", "b:c", "today"), 2.0);
        assert_eq!(get("a", "b:c", "yesterday"), 4.0);
        assert_eq!(get("a", "b:c", "month_to_date"), 6.0);
        assert_eq!(get("a:b", "c", "yesterday"), 0.0);
    }
}

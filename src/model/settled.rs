//! Settled days: per-day amounts that no longer change at the vendor, kept between polls so
//! that a poll re-reads only the days after them (design.md, "Incremental polling"). A poll of
//! a source with daily data hands back its settled days in the snapshot; the poller keeps them
//! and gives them to the next poll, which takes them as they are.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// The settled days of one family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettledFamily {
    pub name: &'static str,
    pub series: Vec<SettledSeries>,
}

/// Appends label values to `out`, each as its length, `:`, then the value: so ["a:b", "c"] and
/// ["a", "b:c"] stay apart. Built without `write!`, which cost more than the rest of an
/// amount's bookkeeping where sources key their sums this way.
pub fn pack_values_into<'v>(out: &mut String, values: impl IntoIterator<Item = &'v str>) {
    for value in values {
        out.push_str(itoa::Buffer::new().format(value.len()));
        out.push(':');
        out.push_str(value);
    }
}

/// One label set's settled days, held between polls in two allocations: the label values
/// packed into one string, and the days. (As a `Vec<String>` and a `Vec` with room to grow,
/// a Power Platform label set of five values took seven allocations and about 300 bytes: a
/// third of what the exporter held per series beyond the exposition.)
#[derive(Debug, Clone, PartialEq)]
pub struct SettledSeries {
    /// Each value's length, `:`, then the value.
    packed_values: Box<str>,
    days: Box<[(NaiveDate, f64)]>,
}

impl SettledSeries {
    pub fn new<'v>(values: impl IntoIterator<Item = &'v str>, days: &[(NaiveDate, f64)]) -> Self {
        let mut packed = String::new();
        pack_values_into(&mut packed, values);
        SettledSeries {
            packed_values: packed.into_boxed_str(),
            days: days.into(),
        }
    }

    /// The label values, in the family's order.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        let mut rest: &str = &self.packed_values;
        std::iter::from_fn(move || {
            let (length, tail) = rest.split_once(':')?;
            let length: usize = length.parse().ok()?;
            let value = tail.get(..length)?;
            rest = &tail[length..];
            Some(value)
        })
    }

    /// The amounts by day, sorted by day.
    pub fn days(&self) -> &[(NaiveDate, f64)] {
        &self.days
    }

    fn heap_bytes(&self) -> usize {
        self.packed_values.len() + std::mem::size_of_val(&*self.days)
    }
}

/// What earlier polls kept: the amounts of the days from `from` up to (not including)
/// `until`, per family. The families may hold later days too (the recent ones, shared with
/// the days that include them), which a poll ignores: it takes the days before `until`.
#[derive(Debug, Clone, PartialEq)]
pub struct SettledDays {
    pub from: NaiveDate,
    pub until: NaiveDate,
    pub families: Arc<Vec<SettledFamily>>,
    /// The vendor's "as of" time when they were read (Unix seconds): a poll that reads only
    /// the days after them may see nothing newer.
    pub newest: Option<f64>,
}

impl SettledDays {
    pub fn family(&self, name: &str) -> Option<&SettledFamily> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The heap the days hold: label values and per-day amounts, for the memory figures.
    pub fn heap_bytes(&self) -> usize {
        self.families
            .iter()
            .map(|f| {
                let headers = f.series.capacity() * std::mem::size_of::<SettledSeries>();
                headers
                    + f.series
                        .iter()
                        .map(SettledSeries::heap_bytes)
                        .sum::<usize>()
            })
            .sum()
    }

    /// How many (label set, day) amounts are held.
    pub fn day_count(&self) -> usize {
        self.families
            .iter()
            .flat_map(|f| &f.series)
            .map(|series| series.days.len())
            .sum()
    }
}

/// What the poller keeps of one source between polls: every day before today as the last
/// recent refresh read it (the settled days taken as they were), when the whole range was last
/// read, and up to which day the days are settled.
#[derive(Debug, Default)]
pub struct SettledState {
    kept: Option<Kept>,
}

#[derive(Debug)]
struct Kept {
    /// From the range's start up to the day of the last recent refresh.
    days: Arc<SettledDays>,
    /// The days before this one were settled when the days were kept.
    settled_until: NaiveDate,
    full_read_at: DateTime<Utc>,
    recent_read_at: DateTime<Utc>,
}

/// How often a source re-reads what it keeps.
#[derive(Clone, Copy, Debug)]
pub struct Refresh {
    /// `full_refresh_interval`: the whole range, settled days included.
    pub full: std::time::Duration,
    /// `recent_refresh_interval`: the unsettled days before today (zero: every poll).
    pub recent: std::time::Duration,
}

/// What one poll starts from, and so what it asks the vendor for.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    /// Nothing kept applies: the whole range.
    Full,
    /// The settled days: the days after them, today included (a recent refresh).
    Settled(Arc<SettledDays>),
    /// The settled and the recent days up to today: today alone.
    TodayOnly(Arc<SettledDays>),
}

impl Start {
    /// The days the poll takes as they are.
    pub fn days(&self) -> Option<&Arc<SettledDays>> {
        match self {
            Start::Full => None,
            Start::Settled(days) | Start::TodayOnly(days) => Some(days),
        }
    }
}

/// The days one poll covers and settles, as the poller works them out.
#[derive(Clone, Copy, Debug)]
pub struct PollDays {
    pub now: DateTime<Utc>,
    /// The first day the windows and budgets cover.
    pub start: NaiveDate,
    /// Days before this one are settled.
    pub settle_before: NaiveDate,
}

impl PollDays {
    /// The days of a poll at `now` covering from `start`, with days settled `settled_after`
    /// past their end.
    pub fn at(now: DateTime<Utc>, start: NaiveDate, settled_after: std::time::Duration) -> Self {
        let settled_after = TimeDelta::from_std(settled_after).unwrap_or(TimeDelta::MAX);
        let settle_before = now
            .checked_sub_signed(settled_after)
            .map_or(NaiveDate::MIN, |at| at.date_naive());
        PollDays {
            now,
            start,
            settle_before,
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }
}

impl SettledState {
    /// What a poll starts from: the whole range at start, once `refresh.full` has passed since
    /// the last full read, and whenever the days kept do not fit the poll (its range starts
    /// earlier, or the clock went back); today alone while the days before today were read
    /// less than `refresh.recent` ago, on this same day; else the settled days.
    pub fn start(&self, days: PollDays, refresh: Refresh) -> Start {
        let Some(kept) = self.kept.as_ref() else {
            return Start::Full;
        };
        let since_full_read = (days.now - kept.full_read_at).to_std().ok();
        let fits = kept.days.from <= days.start && kept.settled_until <= days.settle_before;
        if !fits || since_full_read.is_none_or(|since| since >= refresh.full) {
            return Start::Full;
        }
        let since_recent_read = (days.now - kept.recent_read_at).to_std().ok();
        let recent = kept.days.until == days.today()
            && since_recent_read.is_some_and(|since| since < refresh.recent);
        match recent {
            true => Start::TodayOnly(kept.days.clone()),
            // The same days, taken up to the settled ones: no copy.
            false => Start::Settled(Arc::new(SettledDays {
                until: kept.settled_until,
                ..kept.days.as_ref().clone()
            })),
        }
    }

    /// Keeps what a successful poll handed back: every day before today it holds. A poll that
    /// started from today alone hands back none, and the days kept stay as they are.
    pub fn keep(
        &mut self,
        days: PollDays,
        start: &Start,
        families: Vec<SettledFamily>,
        newest: Option<f64>,
    ) {
        if let (Start::TodayOnly(_), Some(kept)) = (start, self.kept.as_mut()) {
            // A day may have settled since (a settled_after that is no whole number of days).
            kept.settled_until = days
                .settle_before
                .clamp(kept.settled_until, kept.days.until);
            return;
        }
        let full_read_at = match (start, &self.kept) {
            (Start::Settled(_), Some(kept)) => kept.full_read_at,
            _ => days.now,
        };
        let handed_back = match start.days() {
            // Nothing newly settled and nothing recent (settled_after: 0s): the days as kept.
            Some(started) if families.is_empty() => SettledDays {
                until: days.today(),
                ..started.as_ref().clone()
            },
            _ => SettledDays {
                from: days.start,
                until: days.today(),
                families: Arc::new(families),
                newest,
            },
        };
        self.kept = Some(Kept {
            settled_until: days.settle_before.min(handed_back.until),
            days: Arc::new(handed_back),
            full_read_at,
            recent_read_at: days.now,
        });
    }

    /// The days held (settled and recent), for the memory figures.
    pub fn held(&self) -> Option<&SettledDays> {
        self.kept.as_ref().map(|k| k.days.as_ref())
    }

    /// When the days before today were last read.
    #[cfg(test)]
    fn recent_read_at(&self) -> Option<DateTime<Utc>> {
        self.kept.as_ref().map(|k| k.recent_read_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::testing::{at, day};
    use std::time::Duration;

    const THREE_DAYS: Duration = Duration::from_secs(3 * 86_400);
    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn a_day_is_settled_once_its_end_is_settled_after_old() {
        let days = PollDays::at(at("2026-12-10T10:00:00Z"), day("2026-12-01"), THREE_DAYS);
        // Dec 6 ended on Dec 7 00:00, more than 3 days before Dec 10 10:00; Dec 7 did not.
        assert_eq!(days.settle_before, day("2026-12-07"));
        let days = PollDays::at(at("2027-01-02T23:59:59Z"), day("2027-01-01"), THREE_DAYS);
        assert_eq!(days.settle_before, day("2026-12-30"));
        let days = PollDays::at(
            at("2027-01-02T05:00:00Z"),
            day("2027-01-01"),
            Duration::ZERO,
        );
        assert_eq!(days.settle_before, day("2027-01-02"));
        let huge = PollDays::at(at("2027-01-02T05:00:00Z"), day("2027-01-01"), Duration::MAX);
        assert_eq!(huge.settle_before, NaiveDate::MIN);
    }

    const HOUR: Duration = Duration::from_secs(3_600);

    fn refresh(full: Duration, recent: Duration) -> Refresh {
        Refresh { full, recent }
    }

    /// One family with one label set holding `amount` on each of `days`.
    fn handed_back(days: &[&str], amount: f64) -> Vec<SettledFamily> {
        let series: Vec<_> = days.iter().map(|d| (day(d), amount)).collect();
        vec![SettledFamily {
            name: "usage",
            series: vec![SettledSeries::new(["a"], &series)],
        }]
    }

    fn days_of(start: &Start) -> Vec<(NaiveDate, f64)> {
        let held = start.days().expect("kept days");
        held.families[0].series[0].days().to_vec()
    }

    #[test]
    fn the_whole_range_is_read_at_start_every_full_refresh_interval_and_when_days_do_not_fit() {
        let mut state = SettledState::default();
        let every = refresh(DAY, Duration::ZERO);
        let first = PollDays::at(at("2026-12-10T10:00:00Z"), day("2026-12-01"), THREE_DAYS);
        assert_eq!(state.start(first, every), Start::Full, "at start");
        state.keep(first, &Start::Full, Vec::new(), None);

        let later = PollDays::at(at("2026-12-10T22:00:00Z"), day("2026-12-01"), THREE_DAYS);
        let Start::Settled(kept) = state.start(later, every) else {
            panic!("within the interval, the settled days");
        };
        assert_eq!(
            (kept.from, kept.until),
            (day("2026-12-01"), day("2026-12-07"))
        );
        state.keep(later, &Start::Settled(kept), Vec::new(), None);

        // The incremental poll did not move the last full read: 24h after it, read it all.
        let next_day = PollDays::at(at("2026-12-11T10:00:00Z"), day("2026-12-01"), THREE_DAYS);
        assert_eq!(
            state.start(next_day, every),
            Start::Full,
            "full refresh interval"
        );
        assert_ne!(
            state.start(next_day, refresh(DAY * 2, Duration::ZERO)),
            Start::Full
        );

        // A range that starts before the days kept (a budget reaching back), or a clock that
        // went back, reads everything.
        let earlier_start = PollDays {
            start: day("2026-11-30"),
            ..later
        };
        assert_eq!(state.start(earlier_start, every), Start::Full);
        let clock_back = PollDays::at(at("2026-12-09T10:00:00Z"), day("2026-12-01"), THREE_DAYS);
        assert_eq!(state.start(clock_back, every), Start::Full);
        assert_eq!(
            state.start(later, refresh(Duration::ZERO, Duration::ZERO)),
            Start::Full,
            "0s: always full"
        );
    }

    #[test]
    fn between_recent_refreshes_a_poll_starts_from_every_day_before_today() {
        let mut state = SettledState::default();
        let hourly = refresh(DAY, HOUR);
        let all_days = ["2026-12-01", "2026-12-06", "2026-12-07", "2026-12-09"];
        let first = PollDays::at(at("2026-12-10T10:00:00Z"), day("2026-12-01"), THREE_DAYS);
        state.keep(first, &Start::Full, handed_back(&all_days, 1.0), None);
        assert_eq!(state.recent_read_at(), Some(at("2026-12-10T10:00:00Z")));

        // 59 minutes later: today alone, from every day before it.
        let soon = PollDays::at(at("2026-12-10T10:59:00Z"), day("2026-12-01"), THREE_DAYS);
        let start = state.start(soon, hourly);
        let Start::TodayOnly(kept) = &start else {
            panic!("{start:?}");
        };
        assert_eq!(
            (kept.from, kept.until),
            (day("2026-12-01"), day("2026-12-10"))
        );
        let joined: Vec<NaiveDate> = days_of(&start).iter().map(|(d, _)| *d).collect();
        assert_eq!(
            joined,
            all_days.map(day),
            "one run of days, settled then recent"
        );
        state.keep(soon, &start, Vec::new(), None);
        assert_eq!(
            state.recent_read_at(),
            Some(at("2026-12-10T10:00:00Z")),
            "a today-only poll reads no earlier day"
        );

        // An hour after the recent refresh: the days after the settled ones are read again,
        // and the poll takes only the settled ones (the same days, cut at Dec 7).
        let hour = PollDays::at(at("2026-12-10T11:00:00Z"), day("2026-12-01"), THREE_DAYS);
        let Start::Settled(settled) = state.start(hour, hourly) else {
            panic!("a recent refresh");
        };
        assert_eq!(settled.until, day("2026-12-07"));
        assert!(
            matches!(
                state.start(soon, refresh(DAY, Duration::ZERO)),
                Start::Settled(_)
            ),
            "0s: every poll re-reads the recent days"
        );
    }

    #[test]
    fn a_new_day_re_reads_the_recent_days_whatever_the_interval() {
        let mut state = SettledState::default();
        let late = PollDays::at(at("2026-12-31T23:50:00Z"), day("2026-12-01"), THREE_DAYS);
        state.keep(
            late,
            &Start::Full,
            handed_back(&["2026-12-28", "2026-12-30"], 2.0),
            None,
        );
        // Ten minutes later it is a new day and a new year: yesterday was today, never kept.
        let new_year = PollDays::at(at("2027-01-01T00:00:00Z"), day("2026-12-31"), THREE_DAYS);
        let start = state.start(new_year, refresh(DAY, HOUR));
        assert!(matches!(start, Start::Settled(_)), "{start:?}");
    }

    #[test]
    fn a_day_that_settles_between_refreshes_is_taken_as_settled_by_the_next_refresh() {
        let mut state = SettledState::default();
        // settled_after 36h: at 11:30 days before Dec 8 are settled, from 12:00 before Dec 9.
        let after = Duration::from_secs(36 * 3_600);
        let morning = PollDays::at(at("2026-12-10T11:30:00Z"), day("2026-12-01"), after);
        assert_eq!(morning.settle_before, day("2026-12-08"));
        let read = ["2026-12-07", "2026-12-08", "2026-12-09"];
        state.keep(morning, &Start::Full, handed_back(&read, 1.0), None);
        let noon = PollDays::at(at("2026-12-10T12:10:00Z"), day("2026-12-01"), after);
        let start = state.start(noon, refresh(DAY, HOUR));
        assert!(matches!(start, Start::TodayOnly(_)), "{start:?}");
        state.keep(noon, &start, Vec::new(), None);
        let refresh_poll = PollDays::at(at("2026-12-10T12:40:00Z"), day("2026-12-01"), after);
        let Start::Settled(settled) = state.start(refresh_poll, refresh(DAY, Duration::ZERO))
        else {
            panic!("a recent refresh");
        };
        assert_eq!(settled.until, day("2026-12-09"), "Dec 8 settled at noon");
    }

    #[test]
    fn a_new_month_still_starts_from_the_days_kept() {
        let mut state = SettledState::default();
        let december = PollDays::at(at("2026-12-31T23:00:00Z"), day("2026-12-01"), THREE_DAYS);
        state.keep(december, &Start::Full, Vec::new(), None);
        // On Jan 1st the windows start on Dec 31 (yesterday); the days kept start earlier.
        let new_year = PollDays::at(at("2027-01-01T01:00:00Z"), day("2026-12-31"), THREE_DAYS);
        let Start::Settled(kept) = state.start(new_year, refresh(DAY, HOUR)) else {
            panic!("the kept days still fit");
        };
        assert_eq!(kept.until, day("2026-12-28"));
    }
}

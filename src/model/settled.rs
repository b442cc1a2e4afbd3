//! Settled days: per-day amounts that no longer change at the vendor, kept between polls so
//! that a poll re-reads only the days after them (design.md, "Incremental polling"). A poll of
//! a source with daily data hands back its settled days in the snapshot; the poller keeps them
//! and gives them to the next poll, which takes them as they are.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::model::usage::DaySeries;

/// The settled days of one family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettledFamily {
    pub name: &'static str,
    pub series: Vec<DaySeries>,
}

/// What earlier polls settled: the amounts of the days from `from` up to (not including)
/// `until`, per family.
#[derive(Debug, Clone, PartialEq)]
pub struct SettledDays {
    pub from: NaiveDate,
    pub until: NaiveDate,
    pub families: Vec<SettledFamily>,
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
        let per_day = std::mem::size_of::<(NaiveDate, f64)>();
        self.families
            .iter()
            .flat_map(|f| &f.series)
            .map(|(values, days)| {
                values.iter().map(String::capacity).sum::<usize>()
                    + values.capacity() * std::mem::size_of::<String>()
                    + days.capacity() * per_day
                    + std::mem::size_of::<DaySeries>()
            })
            .sum()
    }

    /// How many (label set, day) amounts are held.
    pub fn day_count(&self) -> usize {
        self.families
            .iter()
            .flat_map(|f| &f.series)
            .map(|(_, days)| days.len())
            .sum()
    }
}

/// What the poller keeps of one source between polls: the settled days, and when the whole
/// range was last read.
#[derive(Debug, Default)]
pub struct SettledState {
    kept: Option<Kept>,
}

#[derive(Debug)]
struct Kept {
    days: Arc<SettledDays>,
    full_read_at: DateTime<Utc>,
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
}

impl SettledState {
    /// The settled days a poll may start from, or none for a full read: at start, once
    /// `full_refresh_interval` has passed since the last one, and whenever the days kept do
    /// not fit the poll (its range starts earlier, or the clock went back).
    pub fn for_poll(
        &self,
        days: PollDays,
        full_refresh_interval: std::time::Duration,
    ) -> Option<Arc<SettledDays>> {
        let kept = self.kept.as_ref()?;
        let since_full_read = (days.now - kept.full_read_at).to_std().ok()?;
        let fits = kept.days.from <= days.start && kept.days.until <= days.settle_before;
        (since_full_read < full_refresh_interval && fits).then(|| kept.days.clone())
    }

    /// Keeps what a successful poll settled. `started_from` is what the poll started from
    /// (none: it read the whole range); when no day settled since, it stays as it is.
    pub fn keep(
        &mut self,
        days: PollDays,
        started_from: Option<&Arc<SettledDays>>,
        families: Vec<SettledFamily>,
        newest: Option<f64>,
    ) {
        let full_read_at = match (started_from, &self.kept) {
            (Some(_), Some(kept)) => kept.full_read_at,
            _ => days.now,
        };
        if let Some(unchanged) = started_from.filter(|s| s.until == days.settle_before) {
            // No day settled since: the days kept stay, uncopied (the poll handed back none).
            let days = unchanged.clone();
            self.kept = Some(Kept { days, full_read_at });
            return;
        }
        let days = Arc::new(SettledDays {
            from: days.start,
            until: days.settle_before,
            families,
            newest,
        });
        self.kept = Some(Kept { days, full_read_at });
    }

    /// The settled days held, for the memory figures.
    pub fn held(&self) -> Option<&SettledDays> {
        self.kept.as_ref().map(|k| k.days.as_ref())
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

    #[test]
    fn the_whole_range_is_read_at_start_every_full_refresh_interval_and_when_days_do_not_fit() {
        let mut state = SettledState::default();
        let first = PollDays::at(at("2026-12-10T10:00:00Z"), day("2026-12-01"), THREE_DAYS);
        assert_eq!(state.for_poll(first, DAY), None, "at start");
        state.keep(first, None, Vec::new(), None);

        let later = PollDays::at(at("2026-12-10T22:00:00Z"), day("2026-12-01"), THREE_DAYS);
        let kept = state.for_poll(later, DAY).expect("within the interval");
        assert_eq!(
            (kept.from, kept.until),
            (day("2026-12-01"), day("2026-12-07"))
        );
        state.keep(later, Some(&kept), Vec::new(), None);

        // The incremental poll did not move the last full read: 24h after it, read it all.
        let next_day = PollDays::at(at("2026-12-11T10:00:00Z"), day("2026-12-01"), THREE_DAYS);
        assert_eq!(state.for_poll(next_day, DAY), None, "full refresh interval");
        assert!(state.for_poll(next_day, DAY * 2).is_some());

        // A range that starts before the days kept (a budget reaching back), or a clock that
        // went back, reads everything.
        let earlier_start = PollDays {
            start: day("2026-11-30"),
            ..later
        };
        assert_eq!(state.for_poll(earlier_start, DAY), None);
        let clock_back = PollDays::at(at("2026-12-09T10:00:00Z"), day("2026-12-01"), THREE_DAYS);
        assert_eq!(state.for_poll(clock_back, DAY), None);
        assert_eq!(
            state.for_poll(later, Duration::ZERO),
            None,
            "0s: always full"
        );
    }

    #[test]
    fn a_new_month_still_starts_from_the_days_kept() {
        let mut state = SettledState::default();
        let december = PollDays::at(at("2026-12-31T23:00:00Z"), day("2026-12-01"), THREE_DAYS);
        state.keep(december, None, Vec::new(), None);
        // On Jan 1st the windows start on Dec 31 (yesterday); the days kept start earlier.
        let new_year = PollDays::at(at("2027-01-01T01:00:00Z"), day("2026-12-31"), THREE_DAYS);
        let kept = state
            .for_poll(new_year, DAY)
            .expect("the kept days still fit");
        assert_eq!(kept.until, day("2026-12-28"));
    }
}

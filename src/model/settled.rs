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

/// What the poller keeps of one source between polls: the settled days, when the whole range
/// was last read, and the recent days (after the settled ones, before today) as the last
/// recent refresh read them.
#[derive(Debug, Default)]
pub struct SettledState {
    kept: Option<Kept>,
    recent: Option<Recent>,
}

#[derive(Debug)]
struct Kept {
    days: Arc<SettledDays>,
    full_read_at: DateTime<Utc>,
}

/// The unsettled days before today, which a poll between two recent refreshes takes as they
/// are (design.md, "Vendor quota").
#[derive(Debug)]
struct Recent {
    days: SettledDays,
    read_at: DateTime<Utc>,
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
    /// earlier, or the clock went back); today alone while the recent days were read less than
    /// `refresh.recent` ago, on this same day; else the settled days.
    pub fn start(&self, days: PollDays, refresh: Refresh) -> Start {
        let Some(kept) = self.kept.as_ref() else {
            return Start::Full;
        };
        let since_full_read = (days.now - kept.full_read_at).to_std().ok();
        let fits = kept.days.from <= days.start && kept.days.until <= days.settle_before;
        if !fits || since_full_read.is_none_or(|since| since >= refresh.full) {
            return Start::Full;
        }
        match self.recent_for(days, refresh.recent) {
            Some(recent) => Start::TodayOnly(Arc::new(joined(&kept.days, recent))),
            None => Start::Settled(kept.days.clone()),
        }
    }

    /// The recent days, if a poll may take them: read less than `interval` ago, on the same
    /// day, and right after the settled days.
    fn recent_for(&self, days: PollDays, interval: std::time::Duration) -> Option<&SettledDays> {
        let recent = self.recent.as_ref()?;
        let since = (days.now - recent.read_at).to_std().ok()?;
        let kept = self.kept.as_ref()?;
        let current = recent.days.until == days.today() && recent.days.from == kept.days.until;
        (since < interval && current).then_some(&recent.days)
    }

    /// Keeps what a successful poll handed back: every day before today it holds (a poll
    /// started from kept days hands back none when none changed). The days before
    /// `days.settle_before` are the settled ones; the rest, up to today, the recent ones.
    pub fn keep(
        &mut self,
        days: PollDays,
        start: &Start,
        families: Vec<SettledFamily>,
        newest: Option<f64>,
    ) {
        let full_read_at = match (start, &self.kept) {
            (Start::Full, _) | (_, None) => days.now,
            (_, Some(kept)) => kept.full_read_at,
        };
        let recent_read_at = match (start, &self.recent) {
            (Start::TodayOnly(_), Some(recent)) => recent.read_at,
            _ => days.now,
        };
        let handed_back = match start.days() {
            Some(started) if families.is_empty() => started.as_ref().clone(),
            _ => SettledDays {
                from: days.start,
                until: days.today(),
                families,
                newest,
            },
        };
        let (settled, recent) = split(handed_back, days.settle_before);
        self.kept = Some(Kept {
            days: Arc::new(settled),
            full_read_at,
        });
        self.recent = Some(Recent {
            days: recent,
            read_at: recent_read_at,
        });
    }

    /// The settled days held, for the memory figures.
    pub fn held(&self) -> Option<&SettledDays> {
        self.kept.as_ref().map(|k| k.days.as_ref())
    }

    /// The recent days held and when they were read, for the memory figures.
    pub fn held_recent(&self) -> Option<(&SettledDays, DateTime<Utc>)> {
        self.recent.as_ref().map(|r| (&r.days, r.read_at))
    }
}

/// The settled days followed by the recent ones, as one run of days up to the recent's end.
fn joined(settled: &SettledDays, recent: &SettledDays) -> SettledDays {
    let mut families = settled.families.clone();
    for family in &recent.families {
        match families.iter_mut().find(|f| f.name == family.name) {
            Some(kept) => {
                for (values, days) in &family.series {
                    match kept.series.iter_mut().find(|(v, _)| v == values) {
                        Some((_, earlier)) => earlier.extend_from_slice(days),
                        None => kept.series.push((values.clone(), days.clone())),
                    }
                }
            }
            None => families.push(family.clone()),
        }
    }
    SettledDays {
        from: settled.from,
        until: recent.until,
        families,
        newest: match (settled.newest, recent.newest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        },
    }
}

/// The days before `day`, and the days from it on.
fn split(days: SettledDays, day: NaiveDate) -> (SettledDays, SettledDays) {
    let day = day.clamp(days.from, days.until);
    let mut before = Vec::new();
    let mut after = Vec::new();
    for family in days.families {
        let (mut early, mut late) = (Vec::new(), Vec::new());
        for (values, series) in family.series {
            let cut = series.partition_point(|(d, _)| *d < day);
            if cut > 0 {
                early.push((values.clone(), series[..cut].to_vec()));
            }
            if cut < series.len() {
                late.push((values, series[cut..].to_vec()));
            }
        }
        before.push(SettledFamily {
            name: family.name,
            series: early,
        });
        after.push(SettledFamily {
            name: family.name,
            series: late,
        });
    }
    let newest = days.newest;
    let settled = SettledDays {
        from: days.from,
        until: day,
        families: before,
        newest,
    };
    let recent = SettledDays {
        from: day,
        until: days.until,
        families: after,
        newest,
    };
    (settled, recent)
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
        let series = days.iter().map(|d| (day(d), amount)).collect();
        vec![SettledFamily {
            name: "usage",
            series: vec![(vec!["a".to_string()], series)],
        }]
    }

    fn days_of(start: &Start) -> Vec<(NaiveDate, f64)> {
        let held = start.days().expect("kept days");
        held.families[0].series[0].1.clone()
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
        let (recent, read_at) = state.held_recent().expect("the recent days are kept");
        assert_eq!(
            (recent.from, recent.until),
            (day("2026-12-07"), day("2026-12-10"))
        );
        assert_eq!(read_at, at("2026-12-10T10:00:00Z"));

        // 59 minutes later: today alone, from the settled days and the recent ones joined.
        let soon = PollDays::at(at("2026-12-10T10:59:00Z"), day("2026-12-01"), THREE_DAYS);
        let start = state.start(soon, hourly);
        assert!(matches!(start, Start::TodayOnly(_)), "{start:?}");
        let joined: Vec<NaiveDate> = days_of(&start).iter().map(|(d, _)| *d).collect();
        assert_eq!(
            joined,
            all_days.map(day),
            "one run of days, settled then recent"
        );
        state.keep(soon, &start, Vec::new(), None);
        let (_, read_at) = state.held_recent().expect("still kept");
        assert_eq!(
            read_at,
            at("2026-12-10T10:00:00Z"),
            "a today-only poll reads no recent day"
        );

        // An hour after the recent refresh: the recent days are read again.
        let hour = PollDays::at(at("2026-12-10T11:00:00Z"), day("2026-12-01"), THREE_DAYS);
        assert!(matches!(state.start(hour, hourly), Start::Settled(_)));
        assert!(
            matches!(
                state.start(hour, refresh(DAY, Duration::ZERO)),
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
    fn a_today_only_poll_moves_days_that_settle_meanwhile_from_recent_to_settled() {
        let mut state = SettledState::default();
        // settled_after 36h: at 11:59 days before Dec 8 are settled, at 12:00 before Dec 9.
        let after = Duration::from_secs(36 * 3_600);
        let morning = PollDays::at(at("2026-12-10T11:30:00Z"), day("2026-12-01"), after);
        assert_eq!(morning.settle_before, day("2026-12-08"));
        state.keep(
            morning,
            &Start::Full,
            handed_back(&["2026-12-07", "2026-12-08", "2026-12-09"], 1.0),
            None,
        );
        let noon = PollDays::at(at("2026-12-10T12:10:00Z"), day("2026-12-01"), after);
        let start = state.start(noon, refresh(DAY, HOUR));
        assert!(matches!(start, Start::TodayOnly(_)), "{start:?}");
        state.keep(noon, &start, Vec::new(), None);
        let settled = state.held().expect("settled days");
        assert_eq!(settled.until, day("2026-12-09"));
        assert_eq!(settled.day_count(), 2, "Dec 7 and Dec 8");
        let (recent, _) = state.held_recent().expect("recent days");
        assert_eq!((recent.from, recent.day_count()), (day("2026-12-09"), 1));
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

//! Incremental polling against full polling, over 40 simulated days that cross a month end and
//! a year end: every vendor whose API serves a range of days, in one config, polled by two
//! exporters on one injected clock; one keeps settled days (the defaults), one re-reads
//! everything every poll (`full_refresh_interval: 0s`).

use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use consumption_exporter::model::clock::FixedClock;
use consumption_exporter::simulator::kit::{Scale, SimulatedTenant, TenantSpec, VENDORS};
use consumption_exporter::simulator::{Fault, When};

use crate::helpers::{at, day};
use crate::helpers::{Exposition, TestExporter};

/// Families that count the exporter's own work, which incremental polling changes on purpose.
const WORK_FAMILIES: [&str; 4] = [
    "consumption_source_poll_duration_seconds",
    "consumption_source_requests_total",
    "consumption_source_response_bytes_total",
    "consumption_source_throttled_total",
];

/// What a user sees of the data: every sample but the exporter's work and build families.
fn served(exposition: &Exposition) -> Vec<String> {
    exposition
        .samples()
        .filter(|(name, _, _)| {
            !WORK_FAMILIES.contains(name)
                && !name.starts_with("consumption_exporter_")
                && !name.starts_with("process_")
        })
        .map(|(name, labels, value)| format!("{name}{labels:?} {value}"))
        .collect()
}

/// Fails with the first lines that differ, not the whole exposition.
fn assert_same(left: &[String], right: &[String], context: &str) {
    if left == right {
        return;
    }
    let only_left: Vec<_> = left.iter().filter(|l| !right.contains(l)).take(4).collect();
    let only_right: Vec<_> = right.iter().filter(|l| !left.contains(l)).take(4).collect();
    panic!("{context}: the expositions differ\nonly in the first: {only_left:#?}\nonly in the second: {only_right:#?}");
}

/// The sum of each family's `window="yesterday"` series.
fn yesterday_totals(exposition: &Exposition) -> Vec<(String, f64)> {
    let mut totals: Vec<(String, f64)> = Vec::new();
    for (name, labels, value) in exposition.samples() {
        if !labels
            .iter()
            .any(|(k, v)| k == "window" && v == "yesterday")
        {
            continue;
        }
        match totals.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total += value,
            None => totals.push((name.to_string(), value)),
        }
    }
    totals
}

fn bytes_read(exposition: &Exposition, source: &str) -> f64 {
    exposition
        .samples()
        .filter(|(name, labels, _)| {
            *name == "consumption_source_response_bytes_total"
                && labels.iter().any(|(k, v)| k == "source" && v == source)
        })
        .map(|(_, _, value)| value)
        .sum()
}

/// Budgets on everything a source consumed, in each period, so that used and forecast are
/// compared across month, quarter and year rollovers too.
const BUDGETS: &str = "    budgets:
      - {name: month, period: month, limit: 1000000000}
      - {name: quarter, period: quarter, limit: 1000000000}
      - {name: year, period: year, limit: 1000000000}
";

struct Run {
    tenants: Vec<SimulatedTenant>,
    incremental: TestExporter,
    full: TestExporter,
    clock: FixedClock,
}

impl Run {
    async fn start(first_poll: DateTime<Utc>, last_day: NaiveDate) -> Run {
        let mut tenants = Vec::new();
        for vendor in VENDORS {
            let spec = TenantSpec {
                seed: 7,
                today: last_day,
                scale: Scale::Small,
            };
            let tenant = vendor.start(spec).await.unwrap();
            if tenant.revisions().is_some() {
                tenants.push(tenant);
            }
        }
        assert!(tenants.len() >= 3, "the vendors with daily history");
        let entries: String = tenants
            .iter()
            .map(|t| t.entry(t.type_name()) + BUDGETS)
            .collect();
        let clock = FixedClock::new(first_poll);
        let shared = Arc::new(clock.clone());
        let incremental = format!("sources:\n{entries}");
        let full = format!("global:\n  full_refresh_interval: 0s\nsources:\n{entries}");
        Run {
            incremental: TestExporter::start_with_clock(&incremental, shared.clone()).await,
            full: TestExporter::start_with_clock(&full, shared).await,
            tenants,
            clock,
        }
    }

    async fn poll_both(&self, now: DateTime<Utc>) -> (Exposition, Exposition) {
        self.clock.set(now);
        for i in 0..self.tenants.len() {
            self.incremental.assert_polls(i).await;
            self.full.assert_polls(i).await;
        }
        (self.incremental.scrape().await, self.full.scrape().await)
    }

    fn revise(&self, day: NaiveDate, amount: f64) {
        for tenant in &self.tenants {
            tenant.revisions().unwrap().add(day, amount);
        }
    }
}

/// Five polls a day: after midnight, through the day, and just before the next.
fn poll_times(first_day: NaiveDate, days: u64) -> Vec<DateTime<Utc>> {
    let offsets = [(0, 10), (6, 10), (12, 10), (18, 10), (23, 55)];
    (0..days)
        .flat_map(|d| {
            let midnight = (first_day + Days::new(d)).and_hms_opt(0, 0, 0).unwrap();
            offsets.map(|(h, m)| midnight.and_utc() + TimeDelta::hours(h) + TimeDelta::minutes(m))
        })
        .collect()
}

#[tokio::test]
async fn incremental_polls_serve_what_full_polls_do_over_40_days_across_a_month_and_a_year_end() {
    let first_day = day("2026-12-12");
    let times = poll_times(first_day, 40);
    let run = Run::start(times[0], day("2027-01-20")).await;
    // A recent day revised (still unsettled: re-read at once) on the last day of the year,
    // and a settled day of the month revised on Jan 5 (read at the next full refresh).
    let recent = (at("2026-12-31T12:10:00Z"), day("2026-12-30"));
    let old = (at("2027-01-05T12:10:00Z"), day("2027-01-01"));
    let next_full_refresh = at("2027-01-06T00:10:00Z");
    let mut yesterday_before_revision = None;
    for now in times {
        if now == recent.0 {
            run.revise(recent.1, 1000.0);
        }
        if now == old.0 {
            run.revise(old.1, 500.0);
        }
        let (incremental, full) = run.poll_both(now).await;
        if now == at("2026-12-31T06:10:00Z") {
            yesterday_before_revision = Some(yesterday_totals(&full));
        }
        if now == recent.0 {
            let before = yesterday_before_revision.clone().unwrap();
            for (family, total) in yesterday_totals(&incremental) {
                let earlier = before.iter().find(|(f, _)| *f == family).unwrap().1;
                assert!(
                    total > earlier,
                    "{family}: the revision of yesterday is served at once"
                );
            }
        }
        if now >= old.0 && now < next_full_refresh {
            assert_ne!(
                served(&incremental),
                served(&full),
                "at {now}: a settled day's revision waits for the next full refresh"
            );
            continue;
        }
        assert_same(&served(&incremental), &served(&full), &format!("at {now}"));
    }
    let (incremental, full) = (run.incremental.scrape().await, run.full.scrape().await);
    for tenant in &run.tenants {
        let source = tenant.type_name();
        let (less, more) = (bytes_read(&incremental, source), bytes_read(&full, source));
        assert!(
            less > 0.0 && less * 2.0 < more,
            "{source}: incremental polls read {less} bytes, full polls {more}"
        );
    }
}

#[tokio::test]
async fn a_failed_poll_publishes_nothing_and_the_next_one_still_starts_from_the_settled_days() {
    let start = at("2026-12-20T10:00:00Z");
    let run = Run::start(start, day("2027-01-20")).await;
    run.poll_both(start).await;
    let vendor_data = |e: &Exposition| -> Vec<String> {
        served(e)
            .into_iter()
            .filter(|line| !line.starts_with("consumption_source_"))
            .collect()
    };
    let before = vendor_data(&run.incremental.scrape().await);
    let bytes_before = |e: &Exposition, t: &SimulatedTenant| bytes_read(e, t.type_name());
    let (incremental_start, full_start) = (run.incremental.scrape().await, run.full.scrape().await);

    run.clock.set(start + TimeDelta::hours(1));
    for (i, tenant) in run.tenants.iter().enumerate() {
        tenant
            .faults()
            .inject(When::Next, Fault::Status(400), usize::MAX);
        assert!(!run.incremental.poll(i).await, "{}", tenant.type_name());
        tenant.faults().clear();
    }
    let after = vendor_data(&run.incremental.scrape().await);
    assert_same(&before, &after, "after a failed poll");

    let (incremental, full) = run.poll_both(start + TimeDelta::hours(2)).await;
    let (incremental_data, full_data) = (vendor_data(&incremental), vendor_data(&full));
    assert_same(&incremental_data, &full_data, "after the failed poll");
    for tenant in &run.tenants {
        let after_failure =
            bytes_read(&incremental, tenant.type_name()) - bytes_before(&incremental_start, tenant);
        let full_poll = bytes_read(&full, tenant.type_name()) - bytes_before(&full_start, tenant);
        assert!(
            after_failure * 2.0 < full_poll,
            "{}: the poll after a failure read {after_failure} bytes, a full poll {full_poll}",
            tenant.type_name()
        );
    }
}

/// The sum of each family's series in `window`.
fn window_totals(exposition: &Exposition, window: &str) -> Vec<(String, f64)> {
    let mut totals: Vec<(String, f64)> = Vec::new();
    for (name, labels, value) in exposition.samples() {
        if !labels.iter().any(|(k, v)| k == "window" && v == window) {
            continue;
        }
        match totals.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total += value,
            None => totals.push((name.to_string(), value)),
        }
    }
    totals
}

#[tokio::test]
async fn recent_days_are_re_read_once_an_hour_and_today_by_every_poll_across_a_year_end() {
    // Polls every 15 minutes from 20:00 on Dec 31 to 02:00 on Jan 1, at the default
    // recent_refresh_interval (1h): the recent days are re-read at 20:00 (the first, full
    // read), 21:00, 22:00, 23:00, at midnight (a new day) and hourly after.
    let first = at("2026-12-31T20:00:00Z");
    let times: Vec<DateTime<Utc>> = (0..=24)
        .map(|i| first + TimeDelta::minutes(15 * i))
        .collect();
    let run = Run::start(first, day("2027-01-20")).await;
    let refreshes = [
        "20:00", "21:00", "22:00", "23:00", "00:00", "01:00", "02:00",
    ];
    let is_refresh =
        |now: &DateTime<Utc>| refreshes.contains(&now.format("%H:%M").to_string().as_str());
    let yesterday_revised = (at("2026-12-31T21:20:00Z"), day("2026-12-30"));
    let today_revised = (at("2026-12-31T22:35:00Z"), day("2026-12-31"));
    let mut pending_yesterday = false;
    let mut previous: Option<(Exposition, Exposition)> = None;
    for now in times {
        if now == yesterday_revised.0 {
            run.revise(yesterday_revised.1, 1000.0);
            pending_yesterday = true;
        }
        if now == today_revised.0 {
            run.revise(today_revised.1, 700.0);
        }
        let (incremental, full) = run.poll_both(now).await;
        // Today's revision is served by the very next poll, refresh or not.
        assert_eq!(
            window_totals(&incremental, "today"),
            window_totals(&full, "today"),
            "at {now}: today is read by every poll"
        );
        if is_refresh(&now) {
            pending_yesterday = false;
            assert_same(
                &served(&incremental),
                &served(&full),
                &format!("at the recent refresh {now}"),
            );
        } else if pending_yesterday {
            assert_ne!(
                window_totals(&incremental, "yesterday"),
                window_totals(&full, "yesterday"),
                "at {now}: yesterday's revision waits for the next recent refresh"
            );
        } else {
            assert_same(
                &served(&incremental),
                &served(&full),
                &format!("between refreshes, at {now}"),
            );
        }
        if let Some((before, _)) = &previous {
            for tenant in &run.tenants {
                let source = tenant.type_name();
                let read = bytes_read(&incremental, source) - bytes_read(before, source);
                let full_read =
                    bytes_read(&full, source) - bytes_read(&previous.as_ref().unwrap().1, source);
                assert!(read > 0.0, "{source} at {now}: today is read");
                if !is_refresh(&now) {
                    // On Jan 1 a full poll reads two days; on Dec 31, thirty-one.
                    let factor = if now.date_naive() == day("2026-12-31") {
                        2.0
                    } else {
                        1.0
                    };
                    assert!(
                        read * factor < full_read,
                        "{source} at {now}: a poll between refreshes reads today only: {read} bytes, a full poll {full_read}"
                    );
                }
            }
        }
        previous = Some((incremental, full));
    }
}

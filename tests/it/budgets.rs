//! Budgets over HTTP against every vendor's simulator, on an injected clock: used over a month,
//! a quarter from an anchor, a fiscal year across New Year, a forecast from a known 7-day
//! history, a money series, an empty match, and the last second of a period against the first
//! of the next. Expected values come from the simulators' own data functions (or hand-made
//! records), never from the exporter.

use std::sync::Arc;

use chrono::NaiveDate;
use consumption_exporter::model::clock::FixedClock;
use consumption_exporter::simulator::avepoint::{AvePointSimulator, AvePointTenant};
use consumption_exporter::simulator::kit::{self, Scale, TenantSpec};
use consumption_exporter::simulator::qlik::{QlikSimulator, QlikTenant};
use consumption_exporter::simulator::RunningSimulator;
use serde_json::json;

use crate::helpers::{at, day};
use crate::helpers::{Exposition, TestExporter};

fn midnight(text: &str) -> f64 {
    at(&format!("{text}T00:00:00Z")).timestamp() as f64
}

/// The sum of `amount` over the days from `first` to `last`, both included.
fn total(amount: &dyn Fn(NaiveDate) -> f64, first: &str, last: &str) -> f64 {
    day(first)
        .iter_days()
        .take_while(|d| *d <= day(last))
        .map(amount)
        .sum()
}

fn close(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: no series"));
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got} != {want}"
    );
}

/// One budget's series in a scrape.
struct BudgetSeries<'a> {
    m: &'a Exposition,
    vendor: &'a str,
}

impl BudgetSeries<'_> {
    fn get(&self, family: &str, budget: &str, unit: &str) -> Option<f64> {
        let labels = [
            ("source", "s"),
            ("vendor", self.vendor),
            ("budget", budget),
            ("unit", unit),
            ("origin", "config"),
        ];
        self.m.get(&format!("consumption_budget_{family}"), &labels)
    }
}

/// Budgets every daily vendor gets, over the label `key` = `value`.
fn daily_budgets(key: &str, value: &str) -> String {
    format!(
        "    budgets:
      - {{name: month, match: {{{key}: {value}}}, limit: 1, period: month}}
      - {{name: quarter, match: {{{key}: {value}}}, limit: 1e12, period: quarter, start: 2025-11-15}}
      - {{name: fy, match: {{{key}: {value}}}, limit: 1e12, period: year, start: 2026-04-01, shortfall_ratio: 0.9}}
      - {{name: money, match: {{{key}: {value}}}, limit: 1e12, period: month, price: 0.5, currency: EUR}}
      - {{name: empty, match: {{{key}: nobody}}, limit: 10, period: month, unit: things}}
"
    )
}

/// Polls `entry` (a source named `s` with [`daily_budgets`]) at 2027-01-15T12:00Z, then at the
/// last second of January and the first of February, checking each against `amount`: what the
/// matched label sets consume on a day.
async fn check_daily_vendor(
    vendor: &str,
    entry: &str,
    unit: &str,
    amount: &dyn Fn(NaiveDate) -> f64,
) {
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    let exporter =
        TestExporter::start_with_clock(&format!("sources:\n{entry}"), Arc::new(clock.clone()))
            .await;
    let poll = || async {
        assert!(
            exporter.poll(0).await,
            "{vendor}: {:?}",
            exporter.store.slots()[0].state().last_error
        );
        exporter.scrape().await
    };
    let m = poll().await;
    let b = BudgetSeries { m: &m, vendor };
    let month = total(amount, "2027-01-01", "2027-01-15");
    close(b.get("used", "month", unit), month, "used over the month");
    close(b.get("limit", "month", unit), 1.0, "limit");
    assert_eq!(
        b.get("overage", "month", unit),
        Some(1.0),
        "over its limit of 1"
    );
    assert_eq!(b.get("warn_ratio", "month", unit), Some(0.8));
    assert_eq!(
        b.get("shortfall_ratio", "fy", unit),
        Some(0.9),
        "a commitment's shortfall ratio"
    );
    assert_eq!(
        b.get("shortfall_ratio", "month", unit),
        None,
        "no ratio: not a commitment"
    );
    assert_eq!(
        b.get("period_start_timestamp_seconds", "month", unit),
        Some(midnight("2027-01-01"))
    );
    assert_eq!(
        b.get("period_end_timestamp_seconds", "month", unit),
        Some(midnight("2027-02-01"))
    );
    // The last 7 complete days (8 to 14 January) give the rate; 16.5 days are left.
    let rate = total(amount, "2027-01-08", "2027-01-14") / 7.0;
    close(
        b.get("forecast", "month", unit),
        month + rate * 16.5,
        "forecast",
    );
    let quarter = total(amount, "2026-11-15", "2027-01-15");
    close(
        b.get("used", "quarter", unit),
        quarter,
        "a quarter from 15 November",
    );
    assert_eq!(b.get("overage", "quarter", unit), Some(0.0));
    assert_eq!(
        b.get("period_end_timestamp_seconds", "quarter", unit),
        Some(midnight("2027-02-15"))
    );
    let year = total(amount, "2026-04-01", "2027-01-15");
    close(
        b.get("used", "fy", unit),
        year,
        "a fiscal year across New Year",
    );
    assert_eq!(
        b.get("period_start_timestamp_seconds", "fy", unit),
        Some(midnight("2026-04-01"))
    );
    close(b.get("used", "money", "EUR"), month * 0.5, "money used");
    close(b.get("limit", "money", "EUR"), 0.5e12, "money limit");
    close(
        b.get("forecast", "money", "EUR"),
        (month + rate * 16.5) * 0.5,
        "money forecast",
    );
    assert_eq!(b.get("used", "empty", "things"), Some(0.0), "0, not absent");
    assert_eq!(b.get("forecast", "empty", "things"), Some(0.0));

    clock.set(at("2027-01-31T23:59:59Z"));
    let m = poll().await;
    let b = BudgetSeries { m: &m, vendor };
    let january = total(amount, "2027-01-01", "2027-01-31");
    close(
        b.get("used", "month", unit),
        january,
        "the last second of January",
    );
    close(
        b.get("forecast", "month", unit),
        january + total(amount, "2027-01-24", "2027-01-30") / 7.0 / 86_400.0,
        "one second left",
    );
    clock.set(at("2027-02-01T00:00:00Z"));
    let m = poll().await;
    let b = BudgetSeries { m: &m, vendor };
    assert_eq!(
        b.get("used", "month", unit),
        Some(0.0),
        "the first second of February"
    );
    assert_eq!(
        b.get("period_start_timestamp_seconds", "month", unit),
        Some(midnight("2027-02-01"))
    );
    assert_eq!(
        b.get("period_end_timestamp_seconds", "month", unit),
        Some(midnight("2027-03-01"))
    );
    close(
        b.get("used", "quarter", unit),
        total(amount, "2026-11-15", "2027-01-31"),
        "the quarter goes on",
    );
    check_month_on_its_second_day(vendor, entry, unit, amount).await;
}

/// A month budget alone, on the 2nd at noon, polled by a fresh exporter: the forecast's rate
/// comes from the 7 days before today, six of them before the period began, which the poll
/// must read although no budget's period reaches back to them.
async fn check_month_on_its_second_day(
    vendor: &str,
    entry: &str,
    unit: &str,
    amount: &dyn Fn(NaiveDate) -> f64,
) {
    let (source, budgets) = entry
        .split_once("    budgets:\n")
        .expect("the entry has budgets");
    let month = budgets
        .lines()
        .find(|line| line.contains("{name: month,"))
        .expect("the entry has the month budget");
    let only_month = format!("sources:\n{source}    budgets:\n{month}\n");
    let clock = FixedClock::new(at("2027-02-02T12:00:00Z"));
    let exporter = TestExporter::start_with_clock(&only_month, Arc::new(clock)).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let b = BudgetSeries { m: &m, vendor };
    let used = total(amount, "2027-02-01", "2027-02-02");
    close(b.get("used", "month", unit), used, "used on the 2nd");
    let rate = total(amount, "2027-01-26", "2027-02-01") / 7.0;
    close(
        b.get("forecast", "month", unit),
        used + rate * 26.5,
        "the forecast on the 2nd, at the rate of 26 January to 1 February",
    );
}

/// Every vendor whose API serves days gives the kit a tenant and its per-day amounts; a
/// vendor that opts out must be one whose source reports a level, tested by hand below.
#[tokio::test]
async fn every_daily_vendor_has_exact_used_forecast_money_and_periods() {
    let mut covered = Vec::new();
    for vendor in kit::VENDORS {
        let name = vendor.type_name();
        let Some(case) = vendor.budget_case().await.unwrap() else {
            let tenant = vendor
                .start(TenantSpec {
                    seed: 1,
                    today: day("2027-01-15"),
                    scale: Scale::Small,
                })
                .await
                .unwrap();
            let config = crate::helpers::parse_config(&format!("sources:\n{}", tenant.entry("s")));
            assert!(
                !config.sources[0].source.facts().reads_date_range,
                "{name} serves days: give it a budget case in its kit"
            );
            continue;
        };
        let entry = format!("{}{}", case.entry, daily_budgets(case.key, &case.value));
        check_daily_vendor(name, &entry, &case.unit, &case.amount).await;
        covered.push(name);
    }
    assert!(
        covered.len() >= 3,
        "the daily vendors were checked: {covered:?}"
    );
}

/// A level vendor's budgets: used is the level now, and so is the forecast.
async fn scrape_levels(entry: &str, now: &str) -> Exposition {
    let clock = FixedClock::new(at(now));
    let exporter =
        TestExporter::start_with_clock(&format!("sources:\n{entry}"), Arc::new(clock)).await;
    exporter.assert_polls(0).await;
    exporter.scrape().await
}

fn level_budgets(key: &str, value: &str) -> String {
    format!(
        "    budgets:
      - {{name: quarter, match: {{{key}: {value}}}, limit: 400, period: quarter, start: 2025-11-15}}
      - {{name: fy, match: {{{key}: {value}}}, limit: 1e6, period: year, start: 2026-04-01, price: 2, currency: USD}}
      - {{name: empty, match: {{{key}: nobody}}, limit: 10, period: month}}
"
    )
}

#[tokio::test]
async fn qlik_budgets_read_the_current_periods_usage_of_the_matched_records() {
    let record = |resource_type: &str, unit: &str, end: &str, usage: f64| {
        json!({"resourceType": resource_type, "resourceAction": "reload", "periodType": "month",
               "unit": unit, "periodStart": "2027-01-01", "periodEnd": end, "localUsage": usage,
               "capacityLimit": 1000, "userId": "u"})
    };
    let records = vec![
        record("app", "reloads", "2027-01-31", 120.0),
        record("app", "reloads", "2027-01-31", 380.5),
        record("app", "reloads", "2026-12-31", 9999.0),
        record("automations", "runs", "2027-01-31", 7.0),
    ];
    let running: RunningSimulator = QlikSimulator::new(
        QlikTenant {
            today: day("2027-01-15"),
            ..QlikTenant::default()
        },
        records,
    )
    .start(0)
    .await
    .unwrap();
    let entry = format!(
        "  - name: s\n    type: qlik\n    base_url: {}\n    authorization:\n      credentials: qlik-sim-api-key\n{}",
        running.url(),
        level_budgets("resource_type", "app")
    );
    let m = scrape_levels(&entry, "2027-01-15T12:00:00Z").await;
    let b = BudgetSeries {
        m: &m,
        vendor: "qlik",
    };
    // The previous period's 9999 does not count; the unit is the records' own.
    assert_eq!(b.get("used", "quarter", "reloads"), Some(500.5));
    assert_eq!(b.get("forecast", "quarter", "reloads"), Some(500.5));
    assert_eq!(b.get("overage", "quarter", "reloads"), Some(1.0));
    assert_eq!(
        b.get("period_start_timestamp_seconds", "quarter", "reloads"),
        Some(midnight("2026-11-15"))
    );
    assert_eq!(b.get("used", "fy", "USD"), Some(1001.0));
    assert_eq!(
        b.get("period_end_timestamp_seconds", "fy", "reloads"),
        Some(midnight("2027-04-01"))
    );
    assert_eq!(b.get("used", "empty", "units"), Some(0.0));

    let m = scrape_levels(&entry, "2027-02-15T00:00:00Z").await;
    let b = BudgetSeries {
        m: &m,
        vendor: "qlik",
    };
    assert_eq!(
        b.get("period_start_timestamp_seconds", "quarter", "reloads"),
        Some(midnight("2027-02-15")),
        "the first second of the next quarter"
    );
}

#[tokio::test]
async fn avepoint_budgets_count_the_distinct_connections_of_the_matched_flows() {
    let row = |flow: &str, environment: &str, connection: &str| {
        (
            flow.to_string(),
            environment.to_string(),
            connection.to_string(),
        )
    };
    let tenant = AvePointTenant {
        rows: vec![
            row("f1", "Default-1", "sql-1"),
            row("f1", "Default-1", "sql-1"),
            row("f1", "Default-1", "teams-1"),
            row("f1", "Default-2", "sql-1"),
            row("f2", "Default-1", "sql-1"),
            row("f2", "Default-1", "sharepoint-9"),
        ],
        ..AvePointTenant::default()
    };
    let running = AvePointSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let url = running.url();
    let entry = format!(
        "  - name: s\n    type: avepoint\n    base_url: {url}\n    oauth2:\n      token_url: {url}/connect/token\n      client_id: {}\n      client_secret: {}\n{}",
        tenant.client_id,
        tenant.client_secret,
        level_budgets("environment_id", "Default-1")
    );
    let m = scrape_levels(&entry, "2027-01-15T12:00:00Z").await;
    let b = BudgetSeries {
        m: &m,
        vendor: "avepoint",
    };
    // sql-1, teams-1 and sharepoint-9: each connection once, whichever flows use it.
    assert_eq!(b.get("used", "quarter", "connections"), Some(3.0));
    assert_eq!(b.get("forecast", "quarter", "connections"), Some(3.0));
    assert_eq!(b.get("overage", "quarter", "connections"), Some(0.0));
    assert_eq!(b.get("used", "fy", "USD"), Some(6.0));
    assert_eq!(b.get("limit", "fy", "USD"), Some(2e6));
    assert_eq!(b.get("used", "empty", "connections"), Some(0.0));
    let end = b.get("period_end_timestamp_seconds", "quarter", "connections");
    assert_eq!(end, Some(midnight("2027-02-15")));

    // The last second of the quarter, and the first of the next.
    for (now, start, end) in [
        ("2027-02-14T23:59:59Z", "2026-11-15", "2027-02-15"),
        ("2027-02-15T00:00:00Z", "2027-02-15", "2027-05-15"),
    ] {
        let m = scrape_levels(&entry, now).await;
        let b = BudgetSeries {
            m: &m,
            vendor: "avepoint",
        };
        let period = |family| b.get(family, "quarter", "connections");
        assert_eq!(
            period("period_start_timestamp_seconds"),
            Some(midnight(start)),
            "{now}"
        );
        assert_eq!(
            period("period_end_timestamp_seconds"),
            Some(midnight(end)),
            "{now}"
        );
        assert_eq!(period("used"), Some(3.0), "{now}: a level stays what it is");
    }
}

//! Showback over HTTP against the simulators, on an injected clock: usage and money per
//! service, window and team, exact against the simulators' own data; a price in dollars
//! converted to euros at each day's rate from an ECB file (a weekend and a missing day taking
//! the latest earlier rate); a usage with no price; allocation that sums to the total; and the
//! config errors a user meets, each at its line.

use std::sync::Arc;

use chrono::NaiveDate;
use consumption_exporter::model::clock::FixedClock;
use consumption_exporter::simulator::kit::{self, BudgetCase};
use consumption_exporter::simulator::uipath::{daily_amount, UiPathOrganization};

use crate::helpers::{at, day, TestExporter};

/// An ECB history file's shape, newest first: no line for the weekend of 9–10 January, nor
/// for Wednesday 13 January; USD per euro.
const ECB_HISTORY: &str = "Date,USD,JPY,GBP,\n2027-01-15,1.0800,160.00,0.8400,\n2027-01-14,1.0750,160.00,0.8400,\n2027-01-12,1.0700,160.00,0.8400,\n2027-01-11,1.0650,160.00,0.8400,\n2027-01-08,1.0600,160.00,0.8400,\n2027-01-07,1.0550,160.00,0.8400,\n2027-01-06,1.0500,160.00,0.8400,\n2027-01-05,1.0450,160.00,0.8400,\n2027-01-04,1.0400,160.00,0.8400,\n2026-12-31,1.0350,160.00,0.8400,\n";

/// EUR per USD on `d`, as the file above gives it (the latest earlier line).
fn eur_per_usd(d: NaiveDate) -> f64 {
    let rates = [
        ("2027-01-15", 1.08),
        ("2027-01-14", 1.075),
        ("2027-01-12", 1.07),
        ("2027-01-11", 1.065),
        ("2027-01-08", 1.06),
        ("2027-01-07", 1.055),
        ("2027-01-06", 1.05),
        ("2027-01-05", 1.045),
        ("2027-01-04", 1.04),
        ("2026-12-31", 1.035),
    ];
    let per_euro = rates
        .iter()
        .find(|(from, _)| day(from) <= d)
        .map(|(_, r)| *r)
        .unwrap();
    1.0 / per_euro
}

fn close(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: no series"));
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got} != {want}"
    );
}

fn total(
    amount: &dyn Fn(NaiveDate) -> f64,
    first: &str,
    last: &str,
    weight: &dyn Fn(NaiveDate) -> f64,
) -> f64 {
    day(first)
        .iter_days()
        .take_while(|d| *d <= day(last))
        .map(|d| amount(d) * weight(d))
        .sum()
}

/// What the UiPath budget case's tenant consumes of Robot Units in `service` on a day.
fn robot_units(service: &'static str) -> impl Fn(NaiveDate) -> f64 {
    let org = UiPathOrganization {
        seed: 7,
        ..UiPathOrganization::default()
    };
    let tenant = org.tenant_ids[0].clone();
    move |d: NaiveDate| daily_amount(7, &tenant, "RU", service, d)
}

async fn uipath_case() -> BudgetCase {
    let uipath = kit::vendor("uipath").unwrap();
    uipath.budget_case().await.unwrap().unwrap()
}

#[tokio::test]
async fn a_dollar_price_is_converted_at_each_days_rate_and_allocated_to_teams_that_sum_to_the_total(
) {
    let case = uipath_case().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eurofxref-hist.csv"), ECB_HISTORY).unwrap();
    let yaml = format!(
        "money:\n  currency: EUR\n  rates_file: {}\n  prices:\n    - match: {{vendor: uipath, consumable: RU}}\n      price: 0.12\n      currency: USD\nallocation:\n  team:\n    default: unallocated\n    rules:\n      - match: {{uipath_service: orchestrator}}\n        value: sales\nsources:\n{}",
        dir.path().join("eurofxref-hist.csv").display(),
        case.entry
    );
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;

    let ru = robot_units;
    let one = |_: NaiveDate| 1.0;
    let usd = |d: NaiveDate| 0.12 * eur_per_usd(d);
    for (team, service) in [("sales", "orchestrator"), ("unallocated", "studio")] {
        let amount = ru(service);
        let labels = |window| {
            vec![
                ("source", "s"),
                ("vendor", "uipath"),
                ("service", "RU"),
                ("unit", "RU"),
                ("window", window),
                ("team", team),
            ]
        };
        close(
            m.get("consumption_usage", &labels("month_to_date")),
            total(&amount, "2027-01-01", "2027-01-15", &one),
            &format!("{team}: units this month"),
        );
        close(
            m.get("consumption_usage", &labels("yesterday")),
            amount(day("2027-01-14")),
            &format!("{team}: units yesterday"),
        );
        let cost = |window| {
            vec![
                ("source", "s"),
                ("vendor", "uipath"),
                ("service", "RU"),
                ("currency", "EUR"),
                ("window", window),
                ("origin", "price"),
                ("team", team),
            ]
        };
        // Saturday 9 and Sunday 10 January convert at Friday's rate, Wednesday 13 at Tuesday's.
        close(
            m.get("consumption_cost", &cost("month_to_date")),
            total(&amount, "2027-01-01", "2027-01-15", &usd),
            &format!("{team}: euros this month"),
        );
        close(
            m.get("consumption_cost", &cost("today")),
            amount(day("2027-01-15")) * 0.12 / 1.08,
            &format!("{team}: euros today"),
        );
    }
    // The rates in use, as of the poll's day: every currency the file quotes.
    close(
        m.get("consumption_exchange_rate", &[("currency", "USD")]),
        1.0 / 1.08,
        "USD in euros",
    );
    close(
        m.get("consumption_exchange_rate", &[("currency", "GBP")]),
        1.0 / 0.84,
        "GBP in euros",
    );
    assert_eq!(
        m.get("consumption_exchange_rate", &[("currency", "EUR")]),
        None
    );
    // The teams' sum is the source's total, and PLTU, with no price, has units and no cost.
    let sum = |family: &str, service: &str, window: &str| -> f64 {
        m.samples()
            .filter(|(name, labels, _)| {
                *name == family
                    && labels.contains(&("service".to_string(), service.to_string()))
                    && labels.contains(&("window".to_string(), window.to_string()))
            })
            .map(|(_, _, v)| v)
            .sum()
    };
    let all_ru = |d: NaiveDate| ru("orchestrator")(d) + ru("studio")(d);
    close(
        Some(sum("consumption_usage", "RU", "month_to_date")),
        total(&all_ru, "2027-01-01", "2027-01-15", &one),
        "the teams sum to the total",
    );
    assert!(sum("consumption_usage", "PLTU", "month_to_date") > 0.0);
    assert_eq!(
        m.samples()
            .filter(|(name, labels, _)| *name == "consumption_cost"
                && labels.contains(&("service".to_string(), "PLTU".to_string())))
            .count(),
        0,
        "a usage with no price has no cost, not a cost of 0"
    );
}

#[tokio::test]
async fn a_level_vendor_is_served_for_its_period_at_todays_rate() {
    let qlik = kit::vendor("qlik").unwrap();
    let tenant = qlik
        .start(kit::TenantSpec {
            seed: 3,
            today: day("2027-01-15"),
            scale: kit::Scale::Small,
        })
        .await
        .unwrap();
    let yaml = format!(
        "money:\n  currency: EUR\n  rates: {{USD: 0.5}}\n  prices:\n    - match: {{vendor: qlik}}\n      price: 2\n      currency: USD\nsources:\n{}",
        tenant.entry("s")
    );
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let mut checked = 0;
    for (name, labels, units) in m.samples().filter(|(n, _, _)| *n == "consumption_usage") {
        assert_eq!(
            labels
                .iter()
                .find(|(k, _)| k == "window")
                .map(|(_, v)| v.as_str()),
            Some("period"),
            "{name}: {labels:?}"
        );
        let mut cost_labels: Vec<(&str, &str)> = labels
            .iter()
            .filter(|(k, _)| k != "unit")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        cost_labels.extend([("currency", "EUR"), ("origin", "price")]);
        close(
            m.get("consumption_cost", &cost_labels),
            units * 2.0 * 0.5,
            "units × price × rate",
        );
        checked += 1;
    }
    assert!(checked > 0, "Qlik's usage is served: {}", m.text);
}

/// Errors of a config with `money`/`allocation` over one UiPath source.
fn refused(showback: &str) -> String {
    let org = UiPathOrganization::default();
    let yaml = format!(
        "{showback}sources:\n  - name: s\n    type: uipath\n    base_url: http://127.0.0.1:1\n    organization_id: {}\n    tenant_ids: [t1]\n    consumable_codes: [RU]\n    authorization:\n      credentials: k\n",
        org.organization_id
    );
    crate::helpers::parse_config_errors(&yaml)
}

#[test]
fn a_bad_money_or_allocation_block_is_refused_at_its_line() {
    let cases = [
        ("money:\n  currency: EURO\n", "test.yml:2:3: money.currency: \"EURO\" is not an ISO 4217 currency code"),
        (
            "money:\n  currency: EUR\n  prices:\n    - match: {vendor: uipath}\n      price: 1\n      currency: USD\n",
            "test.yml:6:7: money.prices[0].currency: no rate converts USD into EUR",
        ),
        (
            "money:\n  currency: EUR\n  prices:\n    - match: {vendor: uipath, flow_id: f}\n      price: 1\n",
            "money.prices[0].match.flow_id: `flow_id` is not a label of this source's usage",
        ),
        (
            "money:\n  currency: EUR\n  prices:\n    - match: {vendor: qlk}\n      price: 1\n",
            "money.prices[0].match.vendor: no source has vendor \"qlk\"",
        ),
        (
            "allocation:\n  window:\n    default: x\n",
            "test.yml:2:3: allocation.window: `window` is a label the exporter's series have already",
        ),
        (
            "allocation:\n  team:\n    default: x\n    rules:\n      - match: {tenant: t1}\n        value: a\n",
            "allocation.team.rules[0].match.tenant: `tenant` is not a label",
        ),
        (
            "money:\n  currency: EUR\n  rates: {EUR: 2}\n",
            "money.rates.EUR: EUR is the reporting currency, whose rate is 1",
        ),
        (
            "money:\n  currency: EUR\n  colour: blue\n",
            "test.yml:3:3: money.colour: unknown field `colour`",
        ),
        (
            "money:\n  currency: EUR\n  rates_file: /nonexistent/eurofxref.csv\n",
            "money.rates_file: /nonexistent/eurofxref.csv: cannot read it",
        ),
        // A rate whose inverse, or whose products with any price, is not a finite number.
        (
            "money:\n  currency: EUR\n  rates: {USD: 1e-320}\n",
            "test.yml:3:11: money.rates.USD: a rate must be a number between 1e-12 and 1e12",
        ),
        (
            "money:\n  currency: EUR\n  rates: {USD: 1e308}\n",
            "money.rates.USD: a rate must be a number between 1e-12 and 1e12",
        ),
    ];
    for (block, expected) in cases {
        let errors = refused(block);
        assert!(
            errors.contains(expected),
            "{block}\n→ {errors}\nexpected: {expected}"
        );
    }
}

#[test]
fn a_bad_rates_file_is_refused_with_its_line_and_a_new_rate_restarts_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rates.csv");
    let config = |rates: &str| {
        std::fs::write(&file, rates).unwrap();
        let org = UiPathOrganization::default();
        let yaml = format!(
            "money:\n  currency: EUR\n  rates_file: rates.csv\nsources:\n  - name: s\n    type: uipath\n    organization_id: {}\n    tenant_ids: [t1]\n    consumable_codes: [RU]\n    authorization:\n      credentials: k\n",
            org.organization_id
        );
        consumption_exporter::config::parse(&yaml, "test.yml", dir.path())
    };
    let errors = config("Date,USD,\n2027-01-15,1.08,\n2027-01-14,x,\n")
        .err()
        .unwrap()
        .to_string();
    assert!(
        errors.contains("rates.csv: line 3: USD: \"x\" is not a number"),
        "{errors}"
    );
    let errors = config("Date,USD,\n2027-01-15,1e-320,\n")
        .err()
        .unwrap()
        .to_string();
    assert!(
        errors.contains("rates.csv: line 2: USD: 1e-320 is not a rate between 1e-12 and 1e12"),
        "{errors}"
    );
    let before = config("Date,USD,\n2027-01-15,1.08,\n").unwrap().sources[0].fingerprint;
    let same = config("Date,USD,\n2027-01-15,1.08,\n").unwrap().sources[0].fingerprint;
    let after = config("Date,USD,\n2027-01-15,1.09,\n").unwrap().sources[0].fingerprint;
    assert_eq!(before, same);
    assert_ne!(
        before, after,
        "a reload that reads a new rate restarts the source"
    );
}

#[test]
fn check_prints_the_reporting_currency_where_rates_come_from_and_each_sources_prices() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rates.csv"), ECB_HISTORY).unwrap();
    let org = UiPathOrganization::default();
    let config = dir.path().join("exporter.yml");
    std::fs::write(
        &config,
        format!(
            "money:\n  currency: EUR\n  rates: {{CHF: 1.05}}\n  rates_file: rates.csv\n  prices:\n    - match: {{vendor: uipath, consumable: RU}}\n      price: 0.12\n      currency: USD\nsources:\n  - name: robots\n    type: uipath\n    organization_id: {}\n    tenant_ids: [t1]\n    consumable_codes: [RU]\n    authorization:\n      credentials: k\n  - name: flows\n    type: avepoint\n    authorization:\n      credentials: k\n",
            org.organization_id
        ),
    )
    .unwrap();
    let output = crate::helpers::run_ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
            .args(["check", "--config.file"])
            .arg(&config),
    );
    let said = crate::helpers::said(&output);
    for line in [
        "money: reporting currency EUR",
        "  rate CHF: 1.05 EUR (config)",
        "  rates file: 10 days from 2026-12-31 to 2027-01-15, 3 currencies on the last",
        "  robots: priced: 0.12 USD per unit where consumable=RU, vendor=uipath; other services have usage and no cost",
        "  flows: its usage is not billed: no showback rows",
    ] {
        assert!(said.lines().any(|l| l == line), "{line:?} not in:\n{said}");
    }
}

#[tokio::test]
async fn a_vendors_own_money_is_converted_at_each_days_rate_and_not_priced_again() {
    use consumption_exporter::simulator::dynatrace::{daily_usage, rate, DynatraceAccount};
    let dynatrace = kit::vendor("dynatrace").unwrap();
    let case = dynatrace.budget_case().await.unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rates.csv"), ECB_HISTORY).unwrap();
    // A price that would match too: the vendor's money wins, nothing is priced twice.
    let yaml = format!(
        "money:\n  currency: EUR\n  rates_file: {}\n  prices:\n    - match: {{vendor: dynatrace}}\n      price: 1000\nsources:\n{}    entitlements: true\n",
        dir.path().join("rates.csv").display(),
        case.entry
    );
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let environments = DynatraceAccount::default().environments;
    let key = "LOG_MANAGEMENT_INGEST";
    let dollars = |d: NaiveDate| -> f64 {
        environments
            .iter()
            .map(|env| daily_usage(3, env, key, d) * rate(key))
            .sum()
    };
    let cost = |window| {
        m.get(
            "consumption_cost",
            &[
                ("source", "s"),
                ("vendor", "dynatrace"),
                ("service", key),
                ("currency", "EUR"),
                ("window", window),
                ("origin", "vendor"),
            ],
        )
    };
    close(
        cost("month_to_date"),
        total(&dollars, "2027-01-01", "2027-01-15", &eur_per_usd),
        "the vendor's dollars this month, in euros at each day's rate",
    );
    close(
        cost("yesterday"),
        dollars(day("2027-01-14")) / 1.075,
        "yesterday",
    );
    assert_eq!(
        m.samples()
            .filter(|(name, labels, _)| *name == "consumption_cost"
                && labels.contains(&("origin".to_string(), "price".to_string())))
            .count(),
        0,
        "the vendor's own money is not priced again"
    );
}

#[tokio::test]
async fn a_reload_that_reads_a_new_rate_converts_at_it() {
    let case = uipath_case().await;
    let dir = tempfile::tempdir().unwrap();
    let rates = dir.path().join("rates.csv");
    let write_rates = |usd_per_euro: f64| {
        // The day of the exporter's injected clock.
        let today = crate::helpers::test_today();
        std::fs::write(&rates, format!("Date,USD,\n{today},{usd_per_euro},\n")).unwrap();
    };
    write_rates(1.25);
    let config = dir.path().join("exporter.yml");
    std::fs::write(
        &config,
        format!(
            "money:\n  currency: EUR\n  rates_file: rates.csv\n  prices:\n    - match: {{vendor: uipath}}\n      price: 1\n      currency: USD\nsources:\n{}",
            case.entry
        ),
    )
    .unwrap();
    let exporter = crate::helpers::RunningExporter::start_from_file(&config).await;
    let usd =
        |m: &crate::helpers::Exposition| m.get("consumption_exchange_rate", &[("currency", "USD")]);
    exporter
        .scrape_until(std::time::Duration::from_secs(20), |m| usd(m) == Some(0.8))
        .await;
    write_rates(2.0);
    let (status, answer) = exporter.reload().await;
    assert_eq!(status, 200, "{answer}");
    exporter
        .scrape_until(std::time::Duration::from_secs(20), |m| usd(m) == Some(0.5))
        .await;
}

// On one thread, so the test's log subscriber sees the exporter's tasks.
#[tokio::test(flavor = "current_thread")]
async fn money_no_rate_converts_is_served_in_its_own_currency_and_logged_once() {
    let dynatrace = kit::vendor("dynatrace").unwrap();
    let case = dynatrace.budget_case().await.unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The file starts on 11 January: the vendor's dollars of 1 to 10 January have no rate.
    let from_the_eleventh: String = ECB_HISTORY
        .lines()
        .filter(|line| !line.starts_with("2027-01-0") && !line.starts_with("2026"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(dir.path().join("rates.csv"), from_the_eleventh).unwrap();
    let yaml = format!(
        "money:\n  currency: EUR\n  rates_file: {}\nsources:\n{}    entitlements: true\n",
        dir.path().join("rates.csv").display(),
        case.entry
    );
    let (logs, _logging) = crate::helpers::capture_logs();
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
    exporter.assert_polls(0).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let month = |currency: &str| {
        let currency = ("currency".to_string(), currency.to_string());
        let window = ("window".to_string(), "month_to_date".to_string());
        m.samples()
            .filter(|(name, labels, _)| {
                *name == "consumption_cost"
                    && labels.contains(&window)
                    && labels.contains(&currency)
            })
            .count()
    };
    assert!(month("USD") > 0, "the days without a rate, in dollars");
    assert!(month("EUR") > 0, "the days with one, in euros");
    let text = logs.text();
    let warnings = text
        .lines()
        .filter(|l| l.contains("money served in its own currency") && l.contains("currency=USD"))
        .count();
    assert_eq!(warnings, 1, "logged once over two polls:\n{text}");
}

#[tokio::test]
async fn a_sources_budget_may_match_an_allocation_label() {
    let case = uipath_case().await;
    let yaml = format!(
        "allocation:\n  team:\n    default: unallocated\n    rules:\n      - match: {{uipath_service: orchestrator}}\n        value: sales\nsources:\n{}    budgets:\n      - {{name: sales-ru, match: {{team: sales, consumable: RU}}, limit: 1, period: month}}\n",
        case.entry
    );
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let orchestrator = robot_units("orchestrator");
    close(
        m.get(
            "consumption_budget_used",
            &[
                ("source", "s"),
                ("vendor", "uipath"),
                ("budget", "sales-ru"),
                ("unit", "RU"),
                ("origin", "config"),
            ],
        ),
        total(&orchestrator, "2027-01-01", "2027-01-15", &|_| 1.0),
        "the sales team's Robot Units this month",
    );
    let errors =
        crate::helpers::parse_config_errors(&yaml.replace("{team: sales,", "{owner: sales,"));
    assert!(
        errors.contains("`owner` is not a label of this source's usage: the labels this source keeps are tenant_id, consumable, uipath_service, team"),
        "{errors}"
    );
}

#[tokio::test]
async fn a_top_level_budget_sums_the_money_of_two_vendors_for_a_team() {
    use consumption_exporter::simulator::dynatrace::{daily_usage, rate, DynatraceAccount};
    let uipath = uipath_case().await;
    let dynatrace = kit::vendor("dynatrace").unwrap();
    let dynatrace = dynatrace.budget_case().await.unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rates.csv"), ECB_HISTORY).unwrap();
    let key = "LOG_MANAGEMENT_INGEST";
    let yaml = format!(
        "money:\n  currency: EUR\n  rates_file: {}\n  prices:\n    - match: {{vendor: uipath, consumable: RU}}\n      price: 0.12\n      currency: USD\nallocation:\n  team:\n    default: unallocated\n    rules:\n      - match: {{uipath_service: orchestrator}}\n        value: sales\n      - match: {{vendor: dynatrace, service: {key}}}\n        value: sales\nbudgets:\n  - name: sales-saas\n    match: {{team: sales}}\n    limit: 100\n    period: month\n  - name: nobody\n    match: {{team: finance}}\n    limit: 5\n    period: quarter\n    start: 2026-04-01\nsources:\n{}{}    entitlements: true\n",
        dir.path().join("rates.csv").display(),
        uipath.entry,
        dynatrace.entry.replacen("name: s\n", "name: dt\n", 1),
    );
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
    exporter.assert_polls(0).await;
    exporter.assert_polls(1).await;
    let m = exporter.scrape().await;

    let environments = DynatraceAccount::default().environments;
    let orchestrator = robot_units("orchestrator");
    let euros = |d: NaiveDate| -> f64 {
        let dynatrace: f64 = environments
            .iter()
            .map(|env| daily_usage(3, env, key, d) * rate(key))
            .sum();
        (orchestrator(d) * 0.12 + dynatrace) * eur_per_usd(d)
    };
    let one = |_: NaiveDate| 1.0;
    let used = total(&euros, "2027-01-01", "2027-01-15", &one);
    // The rate of the 7 complete days before today, for the 16.5 days left in January.
    let forecast = used + total(&euros, "2027-01-08", "2027-01-14", &one) / 7.0 * 16.5;
    let budget = |name| [("budget", name), ("unit", "EUR"), ("origin", "config")];
    close(
        m.get("consumption_budget_used", &budget("sales-saas")),
        used,
        "sales' euros across UiPath and Dynatrace this month",
    );
    close(
        m.get("consumption_budget_forecast", &budget("sales-saas")),
        forecast,
        "forecast",
    );
    close(
        m.get("consumption_budget_limit", &budget("sales-saas")),
        100.0,
        "limit",
    );
    assert!(used > 100.0, "the case should overrun its limit: {used}");
    close(
        m.get("consumption_budget_overage", &budget("sales-saas")),
        1.0,
        "overage",
    );
    close(
        m.get(
            "consumption_budget_period_start_timestamp_seconds",
            &budget("sales-saas"),
        ),
        at("2027-01-01T00:00:00Z").timestamp() as f64,
        "period start",
    );
    // A budget no money matches serves 0, never nothing; its quarter runs from the anniversary.
    close(
        m.get("consumption_budget_used", &budget("nobody")),
        0.0,
        "nobody's money",
    );
    close(
        m.get(
            "consumption_budget_period_end_timestamp_seconds",
            &budget("nobody"),
        ),
        at("2027-04-01T00:00:00Z").timestamp() as f64,
        "the quarter's end",
    );
}

#[test]
fn a_bad_top_level_budget_is_refused_at_its_line() {
    let allocation = "allocation:\n  team:\n    default: x\n";
    let money = "money:\n  currency: EUR\n";
    let cases = [
        (
            format!("{allocation}budgets:\n  - name: b\n    limit: 1\n    period: month\n"),
            "test.yml:4:1: budgets: top-level budgets are money in the reporting currency: add `money:`".to_string(),
        ),
        (
            format!("{money}{allocation}budgets:\n  - name: b\n    match: {{consumable: RU}}\n    limit: 1\n    period: month\n"),
            "budgets[0].match.consumable: a top-level budget matches on source, vendor, service, team; `consumable` is none of them".to_string(),
        ),
        (
            format!("{money}budgets:\n  - name: b\n    match: {{source: nope}}\n    limit: 1\n    period: month\n"),
            "budgets[0].match.source: no source has source \"nope\"".to_string(),
        ),
        (
            format!("{money}budgets:\n  - name: b\n    limit: 1\n    period: month\n    price: 2\n"),
            "test.yml:7:5: budgets[0].price: unknown field `price`".to_string(),
        ),
        (
            format!("{money}budgets:\n  - name: b\n    limit: 1\n    period: month\n  - name: b\n    limit: 0\n    period: week\n"),
            "budgets[1]".to_string(),
        ),
        (
            format!("{money}budgets:\n  - name: b\n    limit: 1\n    period: month\n    start: 2026-04-01\n"),
            "budgets[0].start: start anchors quarter and year periods".to_string(),
        ),
    ];
    for (showback, expected) in cases {
        let errors = refused(&showback);
        assert!(
            errors.contains(&expected),
            "{showback}\nwanted {expected:?} in:\n{errors}"
        );
    }
}

/// A vendor's demo spend (the demo's top-level budget) is priced as its demo price says.
#[test]
fn each_demo_spend_is_priced_as_the_vendors_demo_price() {
    let spec = kit::TenantSpec {
        seed: 1,
        today: day("2027-01-15"),
        scale: kit::Scale::Demo,
    };
    let mut spends = 0;
    for vendor in kit::VENDORS {
        let Some(spend) = vendor.demo_spend(spec) else {
            continue;
        };
        spends += 1;
        let price = vendor
            .demo_price()
            .expect("a demo spend needs a demo price");
        for part in [
            format!("vendor: {}", spend.vendor),
            format!("price: {}", spend.per_unit),
            format!("currency: {}", spend.currency),
        ] {
            assert!(
                price.contains(&part),
                "{}: {part} not in {price}",
                vendor.type_name()
            );
        }
        assert!(
            (spend.units)(day("2027-01-14")) > 0.0,
            "{}",
            vendor.type_name()
        );
    }
    assert!(
        spends > 0,
        "the demo's top-level budget takes some vendor's money"
    );
}

/// The case's Dynatrace cost, in US dollars, of one environment's capability (id, key, name)
/// for one cost centre (empty: unallocated) in one window.
fn centre_cost(
    m: &crate::helpers::Exposition,
    account: &consumption_exporter::simulator::dynatrace::DynatraceAccount,
    (environment, key, name): (&str, &str, &str),
    (centre, window): (&str, &str),
) -> f64 {
    let labels = [
        ("source", "dt"),
        ("subscription_uuid", account.subscription_uuid.as_str()),
        ("environment_id", environment),
        ("capability_key", key),
        ("capability_name", name),
        ("currency", "USD"),
        ("cost_center", centre),
        ("window", window),
    ];
    m.get("consumption_dynatrace_cost", &labels).unwrap_or(0.0)
}

/// A Dynatrace source with `cost_allocation: cost_center`, the simulator's cost allocation and
/// the rates in `money`, on a clock at noon on 2027-01-15.
async fn cost_centre_case(
    account: consumption_exporter::simulator::dynatrace::DynatraceAccount,
    showback: &str,
) -> (
    TestExporter,
    consumption_exporter::simulator::RunningSimulator,
    FixedClock,
) {
    use consumption_exporter::simulator::dynatrace::DynatraceSimulator;
    let running = DynatraceSimulator::new(account.clone())
        .start(0)
        .await
        .unwrap();
    let url = running.url();
    let yaml = format!(
        "{showback}sources:\n  - name: dt\n    type: dynatrace\n    base_url: {url}\n    account_uuid: {}\n    subscription_uuid: {}\n    entitlements: true\n    cost_allocation: cost_center\n    max_retries: 0\n    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n",
        account.account_uuid, account.subscription_uuid, account.client_id, account.client_secret,
    );
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    (
        TestExporter::start_with_clock(&yaml, Arc::new(clock.clone())).await,
        running,
        clock,
    )
}

#[tokio::test]
async fn dynatrace_cost_centres_split_its_money_and_a_rule_gives_one_to_a_team() {
    use consumption_exporter::simulator::dynatrace::{
        allocation_shares, daily_usage, rate, DynatraceAccount, CAPABILITIES,
    };
    let account = DynatraceAccount {
        seed: 3,
        today: day("2027-01-15"),
        ..DynatraceAccount::default()
    };
    let showback = "money:\n  currency: EUR\n  rates: {USD: 0.9}\nallocation:\n  team:\n    default: unallocated\n    rules:\n      - match: {vendor: dynatrace, cost_center: CC-1001}\n        value: platform\n";
    let (exporter, _running, _) = cost_centre_case(account.clone(), showback).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;

    let dollars = |environment: &str, key: &str| -> f64 {
        day("2027-01-01")
            .iter_days()
            .take_while(|d| *d <= day("2027-01-15"))
            .map(|d| daily_usage(3, environment, key, d) * rate(key))
            .sum()
    };
    let share = |centre: &str| -> f64 {
        allocation_shares("COSTCENTER")
            .iter()
            .find(|(c, _)| *c == centre)
            .map_or(0.0, |(_, s)| *s)
    };
    let mut platform = 0.0;
    let mut everything = 0.0;
    for (key, name, _) in CAPABILITIES {
        let mut per_capability = 0.0;
        for environment in &account.environments {
            let total = dollars(environment, key);
            everything += total;
            platform += total * share("CC-1001");
            // The vendor's own family carries the split: the centres and an unallocated rest.
            let mut sum = 0.0;
            for centre in ["CC-1001", "CC-2002", ""] {
                let series = (environment.as_str(), key, name);
                sum += centre_cost(&m, &account, series, (centre, "month_to_date"));
            }
            close(
                Some(sum),
                total,
                &format!("{environment}/{key}: the split sums to the cost"),
            );
            per_capability += total;
        }
        assert!(per_capability > 0.0, "{key} has cost");
    }
    let team = |team: &str| {
        let mut sum = 0.0;
        for (key, _, _) in CAPABILITIES {
            let labels = [
                ("source", "dt"),
                ("vendor", "dynatrace"),
                ("service", key),
                ("currency", "EUR"),
                ("window", "month_to_date"),
                ("origin", "vendor"),
                ("team", team),
            ];
            sum += m.get("consumption_cost", &labels).unwrap_or(0.0);
        }
        sum
    };
    close(
        Some(team("platform")),
        platform * 0.9,
        "CC-1001's euros go to platform",
    );
    close(
        Some(team("platform") + team("unallocated")),
        everything * 0.9,
        "the teams sum to the whole cost",
    );
}

#[tokio::test]
async fn a_refused_cost_allocation_names_what_the_client_needs() {
    use consumption_exporter::simulator::dynatrace::DynatraceAccount;
    let account = DynatraceAccount {
        today: day("2027-01-15"),
        cost_allocation_forbidden: true,
        ..DynatraceAccount::default()
    };
    let (exporter, _running, _) = cost_centre_case(account, "").await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    for needed in [
        "HTTP 403",
        "cost-allocation page",
        "account-uac-read",
        "account-viewer",
        "cost allocation on the subscription",
    ] {
        assert!(error.contains(needed), "{needed} not in {error}");
    }
}

#[test]
fn a_cost_centre_is_a_match_key_only_where_cost_allocation_reads_it() {
    use consumption_exporter::simulator::dynatrace::DynatraceAccount;
    let account = DynatraceAccount::default();
    let entry = |extra: &str| {
        format!(
            "allocation:\n  team:\n    default: x\n    rules:\n      - match: {{vendor: dynatrace, cost_center: CC-1}}\n        value: a\nsources:\n  - name: dt\n    type: dynatrace\n    account_uuid: {}\n    oauth2:\n      client_id: c\n      client_secret: s\n{extra}",
            account.account_uuid
        )
    };
    let without = crate::helpers::parse_config_errors(&entry(""));
    assert!(
        without
            .contains("allocation.team.rules[0].match.cost_center: `cost_center` is not a label"),
        "{without}"
    );
    let no_entitlements =
        crate::helpers::parse_config_errors(&entry("    cost_allocation: cost_center\n"));
    assert!(
        no_entitlements.contains("cost_allocation splits the cost that entitlements: true reads"),
        "{no_entitlements}"
    );
    let product = crate::helpers::parse_config_errors(&entry(
        "    entitlements: true\n    cost_allocation: product\n",
    ));
    assert!(
        product.contains("`cost_center` is not a label"),
        "{product}"
    );
}

/// A UiPath source with `by_folder: true` on the simulator, and `showback` before it.
async fn folder_case(
    org: UiPathOrganization,
    showback: &str,
    faults: impl FnOnce(&consumption_exporter::simulator::Faults),
) -> (
    TestExporter,
    consumption_exporter::simulator::RunningSimulator,
) {
    use consumption_exporter::simulator::uipath::UiPathSimulator;
    let simulator = UiPathSimulator::new(org.clone());
    faults(simulator.faults());
    let running = simulator.start(0).await.unwrap();
    let yaml = format!(
        "{showback}sources:\n  - name: robots\n    type: uipath\n    base_url: {}\n    organization_id: {}\n    tenant_ids: [{}]\n    consumable_codes: [RU]\n    by_folder: true\n    max_retries: 0\n    oauth2:\n      client_id: {}\n      client_secret: {}\n",
        running.url(),
        org.organization_id,
        org.tenant_ids[0],
        org.client_id,
        org.client_secret,
    );
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    (
        TestExporter::start_with_clock(&yaml, Arc::new(clock)).await,
        running,
    )
}

#[tokio::test]
async fn uipath_folders_split_its_units_and_a_rule_and_a_budget_read_them() {
    use consumption_exporter::simulator::uipath::FOLDERS;
    let org = UiPathOrganization {
        seed: 11,
        today: day("2027-01-15"),
        ..UiPathOrganization::default()
    };
    let showback = "money:\n  currency: EUR\n  prices:\n    - match: {vendor: uipath}\n      price: 0.1\nallocation:\n  team:\n    default: unallocated\n    rules:\n      - match: {vendor: uipath, folder: Shared/Finance}\n        value: finance\n";
    let (exporter, _running) = folder_case(org.clone(), showback, |_| {}).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let tenant = org.tenant_ids[0].clone();
    let units = |first: &str, last: &str| -> f64 {
        day(first)
            .iter_days()
            .take_while(|d| *d <= day(last))
            .flat_map(|d| {
                let tenant = tenant.clone();
                ["orchestrator", "studio"].map(move |s| daily_amount(11, &tenant, "RU", s, d))
            })
            .sum()
    };
    let share = |name: &str| {
        FOLDERS
            .iter()
            .find(|(_, n, _, _)| *n == name)
            .map_or(0.0, |f| f.3)
    };
    let usage = |team: &str, window: &str| {
        let labels = [
            ("source", "robots"),
            ("vendor", "uipath"),
            ("service", "RU"),
            ("unit", "RU"),
            ("window", window),
            ("team", team),
        ];
        m.get("consumption_usage", &labels)
    };
    for (window, first, last) in [
        ("month_to_date", "2027-01-01", "2027-01-15"),
        ("yesterday", "2027-01-14", "2027-01-14"),
        ("today", "2027-01-15", "2027-01-15"),
    ] {
        let all = units(first, last);
        close(
            usage("finance", window),
            all * share("Finance"),
            &format!("finance {window}"),
        );
        close(
            usage("unallocated", window),
            all * (share("Shared") + share("Sales")),
            &format!("the rest {window}"),
        );
    }
    // The vendor's own family has every folder by its path.
    for (folder, name) in [
        ("Shared", "Shared"),
        ("Shared/Finance", "Finance"),
        ("Shared/Sales", "Sales"),
    ] {
        let labels = [
            ("source", "robots"),
            ("tenant_id", tenant.as_str()),
            ("consumable", "RU"),
            ("folder", folder),
            ("window", "month_to_date"),
        ];
        close(
            m.get("consumption_uipath_folder_units", &labels),
            units("2027-01-01", "2027-01-15") * share(name),
            folder,
        );
    }
    let cost = [
        ("source", "robots"),
        ("vendor", "uipath"),
        ("service", "RU"),
        ("currency", "EUR"),
        ("window", "month_to_date"),
        ("origin", "price"),
        ("team", "finance"),
    ];
    close(
        m.get("consumption_cost", &cost),
        units("2027-01-01", "2027-01-15") * share("Finance") * 0.1,
        "finance's money",
    );
}

#[tokio::test]
async fn a_sources_budget_may_match_a_folder_and_a_refused_folder_read_names_the_grant() {
    use consumption_exporter::simulator::uipath::UiPathSimulator;
    let org = UiPathOrganization {
        seed: 11,
        today: day("2027-01-15"),
        ..UiPathOrganization::default()
    };
    let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    let yaml = format!(
        "sources:\n  - name: robots\n    type: uipath\n    base_url: {}\n    organization_id: {}\n    tenant_ids: [{}]\n    consumable_codes: [RU]\n    by_folder: true\n    oauth2:\n      client_id: {}\n      client_secret: {}\n    budgets:\n      - {{name: sales-robots, match: {{folder: Shared/Sales}}, limit: 1, period: month}}\n",
        running.url(),
        org.organization_id,
        org.tenant_ids[0],
        org.client_id,
        org.client_secret,
    );
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let tenant = &org.tenant_ids[0];
    let month: f64 = day("2027-01-01")
        .iter_days()
        .take_while(|d| *d <= day("2027-01-15"))
        .flat_map(|d| ["orchestrator", "studio"].map(|s| daily_amount(11, tenant, "RU", s, d)))
        .sum();
    let labels = [
        ("source", "robots"),
        ("vendor", "uipath"),
        ("budget", "sales-robots"),
        ("unit", "RU"),
        ("origin", "config"),
    ];
    close(
        m.get("consumption_budget_used", &labels),
        month * 0.3,
        "Sales' units this month",
    );

    let (refused, _running) = folder_case(
        UiPathOrganization {
            folders_forbidden: true,
            ..org
        },
        "",
        |_| {},
    )
    .await;
    assert!(!refused.poll(0).await);
    let error = refused.last_error(0);
    for needed in [
        "HTTP 403",
        "consumption by folder of tenant",
        "by_folder: true needs",
        "PM.License",
    ] {
        assert!(error.contains(needed), "{needed} not in {error}");
    }
}

/// A hostile answer of the folder endpoint: a chain of 4,000 folders (half a megabyte) whose
/// paths would repeat it, quadratically, in the exposition. It fails the poll by name.
#[tokio::test]
async fn a_folder_chain_too_deep_fails_the_poll_instead_of_growing_the_exposition() {
    use consumption_exporter::simulator::{Fault, When};
    let org = UiPathOrganization {
        today: day("2027-01-15"),
        ..UiPathOrganization::default()
    };
    let rows: Vec<serde_json::Value> = (0..4_000)
        .map(|i| {
            let parent = (i > 0).then(|| format!("f{}", i - 1));
            serde_json::json!({"folderKey": format!("f{i}"), "folderName": format!("folder-{i}"),
                "parentFolderKey": parent, "consumedBySelf": 1})
        })
        .collect();
    let body = serde_json::to_string(&rows).unwrap();
    let (exporter, _running) = folder_case(org, "", |faults| {
        faults.inject(When::Entitlements, Fault::answer(&body), usize::MAX)
    })
    .await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(error.contains("nested more than 32 levels deep"), "{error}");
    let m = exporter.scrape().await;
    let reason = [
        ("source", "robots"),
        ("vendor", "uipath"),
        ("reason", "invalid_response"),
    ];
    assert_eq!(m.get("consumption_source_errors_total", &reason), Some(1.0));
}

/// Every vendor that bills a usage by day: a top-level quarter budget over its money reads the
/// whole quarter (across a month boundary), whether the money is priced units or the vendor's
/// own, on the first poll and on the incremental one after it.
#[tokio::test]
async fn a_top_level_quarter_budget_reads_every_billing_vendors_money_of_the_whole_quarter() {
    let mut covered = Vec::new();
    for vendor in kit::VENDORS {
        let Some(case) = vendor.budget_case().await.unwrap() else {
            continue;
        };
        let (key, value) = (case.key, &case.value);
        let mut entry = case.entry.clone();
        if case.vendor_money.is_some() {
            entry.push_str("    entitlements: true\n");
        }
        let yaml = format!(
            "money:\n  currency: USD\n  prices:\n    - {{match: {{source: s, {key}: \"{value}\"}}, price: 0.5}}\nallocation:\n  team:\n    default: rest\n    rules:\n      - {{match: {{source: s, {key}: \"{value}\"}}, value: sales}}\nbudgets:\n  - {{name: sales-q, match: {{team: sales}}, limit: 5000, period: quarter, start: 2026-04-01}}\nsources:\n{entry}"
        );
        let clock = FixedClock::new(at("2027-02-10T12:00:00Z"));
        let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
        let money = |d: NaiveDate| match &case.vendor_money {
            Some(vendor_money) => vendor_money(d),
            None => (case.amount)(d) * 0.5,
        };
        let one = |_: NaiveDate| 1.0;
        let used = total(&money, "2027-01-01", "2027-02-10", &one);
        // 49.5 days from noon on 10 February to 1 April, at the rate of 3 to 9 February.
        let forecast = used + total(&money, "2027-02-03", "2027-02-09", &one) / 7.0 * 49.5;
        let budget = [("budget", "sales-q"), ("unit", "USD"), ("origin", "config")];
        let name = vendor.type_name();
        for poll in ["first", "incremental"] {
            exporter.assert_polls(0).await;
            let m = exporter.scrape().await;
            let what = format!("{name}'s money of the quarter, {poll} poll");
            close(m.get("consumption_budget_used", &budget), used, &what);
            close(
                m.get("consumption_budget_forecast", &budget),
                forecast,
                &what,
            );
        }
        covered.push(name);
    }
    assert_eq!(covered, ["powerplatform", "uipath", "dynatrace"]);
}

/// A price so large that the money overflows: the poll fails by name, and nothing of it is
/// served (no infinite cost, no budget whose used is infinite or NaN and never overruns).
#[tokio::test]
async fn a_poll_whose_money_is_not_finite_fails_by_name() {
    let case = uipath_case().await;
    let yaml = format!(
        "money:\n  currency: USD\n  prices:\n    - {{match: {{vendor: uipath, consumable: RU}}, price: 1e308}}\nbudgets:\n  - {{name: all, match: {{vendor: uipath}}, limit: 100, period: month}}\nsources:\n{}",
        case.entry
    );
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("consumption_cost{") && error.contains("is not a finite number"),
        "{error}"
    );
    assert!(error.contains("money.prices"), "{error}");
    let m = exporter.scrape().await;
    assert_eq!(m.count("consumption_cost"), 0);
    let errors = [
        ("source", "s"),
        ("vendor", "uipath"),
        ("reason", "non_finite_money"),
    ];
    assert_eq!(m.get("consumption_source_errors_total", &errors), Some(1.0));
}

/// A top-level money budget over a level vendor (Qlik: its current period's usage × a price):
/// used and forecast are the sum of every matched label set of every matched source, exactly
/// the `consumption_cost` the sources serve; a source's share with money counts, and a budget
/// nothing matches serves 0.
#[tokio::test]
async fn a_top_level_budget_sums_a_level_vendors_money_over_label_sets_and_sources() {
    let qlik = kit::vendor("qlik").unwrap();
    let spec = |seed| kit::TenantSpec {
        seed,
        today: day("2027-01-15"),
        scale: kit::Scale::Small,
    };
    let (first, second) = (
        qlik.start(spec(3)).await.unwrap(),
        qlik.start(spec(4)).await.unwrap(),
    );
    let yaml = format!(
        "money:\n  currency: EUR\n  rates: {{USD: 0.5}}\n  prices:\n    - {{match: {{vendor: qlik}}, price: 2, currency: USD}}\nallocation:\n  team:\n    default: finance\n    rules:\n      - {{match: {{vendor: qlik}}, value: analytics}}\nbudgets:\n  - {{name: analytics-q, match: {{team: analytics}}, limit: 1e9, period: quarter, start: 2026-04-01}}\n  - {{name: first-only, match: {{source: s}}, limit: 1e9, period: month}}\n  - {{name: nobody, match: {{team: finance}}, limit: 10, period: month}}\nsources:\n{}{}",
        first.entry("s"),
        second.entry("t")
    );
    let clock = FixedClock::new(at("2027-01-15T12:00:00Z"));
    let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
    exporter.assert_polls(0).await;
    exporter.assert_polls(1).await;
    let m = exporter.scrape().await;
    let costs = |source: &str| -> Vec<f64> {
        m.samples()
            .filter(|(name, labels, _)| {
                *name == "consumption_cost"
                    && labels.iter().any(|(k, v)| k == "source" && v == source)
            })
            .map(|(_, _, value)| value)
            .collect()
    };
    let (of_first, of_second) = (costs("s"), costs("t"));
    assert!(
        of_first.iter().filter(|c| **c > 0.0).count() >= 2 && !of_second.is_empty(),
        "each tenant has money in several label sets: {of_first:?} {of_second:?}"
    );
    let sum = |costs: &[f64]| costs.iter().sum::<f64>();
    let budget = |name| [("budget", name), ("unit", "EUR"), ("origin", "config")];
    let both = sum(&of_first) + sum(&of_second);
    for family in ["consumption_budget_used", "consumption_budget_forecast"] {
        close(
            m.get(family, &budget("analytics-q")),
            both,
            "both tenants' money",
        );
        close(
            m.get(family, &budget("first-only")),
            sum(&of_first),
            "the first's",
        );
        close(m.get(family, &budget("nobody")), 0.0, "nothing matched");
    }
}

/// The cost allocation is an inventory: read by the first poll and every `inventory_interval`
/// after (and when a new day enters the days it covers); between, the fresh cost is split by
/// the shares last read, which still sum to the cost.
#[tokio::test]
async fn dynatraces_cost_allocation_is_read_once_per_inventory_interval() {
    use consumption_exporter::simulator::dynatrace::{
        allocation_shares, DynatraceAccount, CAPABILITIES,
    };
    let account = DynatraceAccount {
        seed: 5,
        today: day("2027-01-15"),
        ..DynatraceAccount::default()
    };
    let (exporter, running, clock) = cost_centre_case(account.clone(), "").await;
    let noon = at("2027-01-15T12:00:00Z");
    let allocation_reads = || {
        let requests = running.requests();
        requests
            .iter()
            .filter(|r| r.uri.contains("/cost-allocation"))
            .count()
    };
    let share = allocation_shares("COSTCENTER")[0];
    let (environment, (key, name, _)) = (&account.environments[0], CAPABILITIES[0]);
    let mut seen = 0;
    for (hours, reads) in [(0, true), (1, false), (5, false), (6, true), (7, false)] {
        clock.set(noon + chrono::Duration::hours(hours));
        exporter.assert_polls(0).await;
        let now = allocation_reads();
        assert_eq!(now > seen, reads, "+{hours}h: the cost allocation read");
        seen = now;
        let m = exporter.scrape().await;
        let series = (environment.as_str(), key, name);
        let cost = |centre: &str| centre_cost(&m, &account, series, (centre, "today"));
        let whole = cost(share.0) + cost("CC-2002") + cost("");
        assert!(whole > 0.0, "+{hours}h: today has cost");
        close(
            Some(cost(share.0)),
            whole * share.1,
            &format!("+{hours}h: {} keeps its share of today's cost", share.0),
        );
    }
}

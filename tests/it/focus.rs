//! `consumption_exporter focus`: past days' cost and usage as FOCUS 1.2, against the
//! simulators over HTTP on an injected clock. Vendor-blind: every simulated vendor that bills a
//! usage with a history is exported, with money from the demo's prices or from the vendor's own
//! cost, and two teams. Its rows pass the FinOps Foundation's own validator, and a day's money
//! and units per service are exactly what the exporter served as `window="yesterday"` on the
//! day after.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};
use consumption_exporter::commands::focus::{self, Request, Target};
use consumption_exporter::config::Config;
use consumption_exporter::model::clock::FixedClock;
use consumption_exporter::simulator::kit::{self, BudgetCase, Scale, TenantSpec, VENDORS};

use crate::backfill::FailOn;
use crate::helpers::{at, parse_config, test_tool, TestExporter};

/// A vendor's budget-case tenant (data on every day), as a source named after its vendor.
struct Tenant {
    vendor: &'static str,
    case: BudgetCase,
}

/// Every simulated vendor whose source bills a usage it reads by day.
async fn billed_tenants() -> Vec<Tenant> {
    let mut tenants = Vec::new();
    for vendor in VENDORS {
        let Some(case) = vendor.budget_case().await.unwrap() else {
            continue;
        };
        let tenant = Tenant {
            vendor: vendor.type_name(),
            case,
        };
        let config = parse_config(&format!("sources:\n{}", tenant.entry()));
        let source = &config.sources[0].source;
        if source.facts().service.is_some() && source.facts().reads_date_range {
            tenants.push(tenant);
        }
    }
    assert!(
        tenants.len() >= 3,
        "the billed vendors with a history were found"
    );
    tenants
}

impl Tenant {
    fn entry(&self) -> String {
        let vendor = kit::vendor(self.vendor).unwrap();
        let mut entry =
            self.case
                .entry
                .replacen("name: s\n", &format!("name: {}\n", self.vendor), 1);
        if vendor.has_entitlements() && !entry.contains("entitlements:") {
            entry.push_str("    entitlements: true\n");
        }
        entry
    }
}

/// The demo's prices and a rates file, every tenant, and, with `teams`, the label set each
/// tenant's budget case matches allocated to `sales` and the rest to `platform`.
fn config_text(tenants: &[Tenant], rates_file: &Path, teams: bool) -> String {
    let mut prices = String::new();
    let mut rules = String::new();
    let mut entries = String::new();
    for tenant in tenants {
        if let Some(price) = kit::vendor(tenant.vendor).unwrap().demo_price() {
            prices.push_str(&format!("    - {price}\n"));
        }
        let (key, value) = (tenant.case.key, &tenant.case.value);
        rules.push_str(&format!(
            "      - {{match: {{source: {}, {key}: \"{value}\"}}, value: sales}}\n",
            tenant.vendor
        ));
        entries.push_str(&tenant.entry());
    }
    let allocation = match teams {
        true => format!("allocation:\n  team:\n    default: platform\n    rules:\n{rules}"),
        false => String::new(),
    };
    format!(
        "money:\n  currency: EUR\n  rates_file: {}\n  prices:\n{prices}{allocation}sources:\n{entries}",
        rates_file.display()
    )
}

fn rates_file(dir: &Path, today: NaiveDate) -> PathBuf {
    let path = dir.join("rates.csv");
    std::fs::write(&path, kit::demo_rates_file(today)).unwrap();
    path
}

/// What an export returned, wrote and said on stderr.
struct Export {
    result: anyhow::Result<focus::Summary>,
    csv: String,
    progress: String,
}

impl Export {
    fn rows(self) -> Vec<BTreeMap<String, String>> {
        if let Err(error) = &self.result {
            panic!("the export failed: {error}\n{}", self.progress);
        }
        rows(&self.csv)
    }
}

fn request(from: &str, to: &str, sources: &[&str], output: &Path) -> Request {
    Request {
        from: from.into(),
        to: Some(to.into()),
        sources: sources.iter().map(|s| s.to_string()).collect(),
        output: Target::File(output.to_path_buf()),
        include_unsettled: false,
    }
}

async fn export(config: &Config, request: &Request, now: DateTime<Utc>) -> Export {
    let mut progress = Vec::new();
    let result = focus::run(config, request, now, &mut progress).await;
    let csv = match &request.output {
        Target::File(path) => std::fs::read_to_string(path).unwrap_or_default(),
        Target::Stdout => String::new(),
    };
    Export {
        result,
        csv,
        progress: String::from_utf8_lossy(&progress).into_owned(),
    }
}

/// The rows, each as column → value.
fn rows(csv: &str) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|record| {
            header
                .iter()
                .cloned()
                .zip(record.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    let text = &row[column];
    text.parse()
        .unwrap_or_else(|_| panic!("{column} {text:?} is a decimal"))
}

fn close(got: f64, want: f64, what: &str) {
    let tolerance = 1e-9 * want.abs().max(1.0);
    assert!((got - want).abs() <= tolerance, "{what}: {got} ≠ {want}");
}

/// A source's money and units of `day` per service, summed over its rows.
fn per_service(
    rows: &[BTreeMap<String, String>],
    source: &str,
    day: NaiveDate,
) -> BTreeMap<String, (f64, f64)> {
    let start = format!("{day}T00:00:00Z");
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for row in rows
        .iter()
        .filter(|r| r["x_Source"] == source && r["ChargePeriodStart"] == start)
    {
        let sum = sums.entry(row["ServiceName"].clone()).or_default();
        sum.0 += number(row, "BilledCost");
        if !row["ConsumedQuantity"].is_empty() {
            sum.1 += number(row, "ConsumedQuantity");
        }
    }
    sums
}

#[tokio::test]
async fn a_days_money_and_units_per_service_are_what_the_exporter_served_as_yesterday_and_teams_sum_to_the_untagged_total(
) {
    let tenants = billed_tenants().await;
    let dir = tempfile::tempdir().unwrap();
    let now = at("2027-01-05T09:00:00Z");
    let rates = rates_file(dir.path(), now.date_naive());
    let yaml = config_text(&tenants, &rates, true);
    let untagged_yaml = config_text(&tenants, &rates, false);
    let output = dir.path().join("focus.csv");
    let range = request("2026-12-30", "2027-01-01", &[], &output);
    let tagged = export(&parse_config(&yaml), &range, now).await.rows();
    let untagged = export(&parse_config(&untagged_yaml), &range, now)
        .await
        .rows();
    let teams: BTreeSet<&str> = tagged.iter().map(|r| r["Tags"].as_str()).collect();
    assert_eq!(
        teams,
        BTreeSet::from([r#"{"team":"platform"}"#, r#"{"team":"sales"}"#]),
        "two teams"
    );
    // The last day of a month and of a year, and the first of the next.
    for day in ["2026-12-31", "2027-01-01"] {
        let day: NaiveDate = day.parse().unwrap();
        let clock = FixedClock::new(at(&format!("{}T12:00:00Z", day + Days::new(1))));
        let exporter = TestExporter::start_with_clock(&yaml, Arc::new(clock)).await;
        for source in 0..tenants.len() {
            exporter.assert_polls(source).await;
        }
        let served = exporter.scrape().await;
        for tenant in &tenants {
            let source = tenant.vendor;
            let exported = per_service(&tagged, source, day);
            assert!(!exported.is_empty(), "{source} has rows on {day}");
            let yesterday = |family: &str, service: &str| -> f64 {
                served
                    .samples()
                    .filter(|(name, labels, _)| {
                        let has = |k: &str, v: &str| labels.iter().any(|(a, b)| a == k && b == v);
                        *name == family
                            && has("source", source)
                            && has("service", service)
                            && has("window", "yesterday")
                    })
                    .map(|(_, _, value)| value)
                    .sum()
            };
            let charged: BTreeSet<String> = served
                .samples()
                .filter(|(name, labels, value)| {
                    let has = |k: &str, v: &str| labels.iter().any(|(a, b)| a == k && b == v);
                    *name == "consumption_cost"
                        && has("source", source)
                        && has("window", "yesterday")
                        && *value != 0.0
                })
                .filter_map(|(_, labels, _)| {
                    labels
                        .iter()
                        .find(|(k, _)| k == "service")
                        .map(|(_, v)| v.clone())
                })
                .collect();
            let rows: BTreeSet<String> = exported.keys().cloned().collect();
            assert_eq!(
                rows, charged,
                "{source} on {day}: a row for every service with money"
            );
            let untagged = per_service(&untagged, source, day);
            for (service, (money, units)) in &exported {
                let what = format!("{source} {service} on {day}");
                close(
                    *money,
                    yesterday("consumption_cost", service),
                    &format!("{what}: money"),
                );
                close(
                    *units,
                    yesterday("consumption_usage", service),
                    &format!("{what}: units"),
                );
                let (untagged_money, untagged_units) = untagged[service];
                close(
                    *money,
                    untagged_money,
                    &format!("{what}: teams sum to the untagged money"),
                );
                close(
                    *units,
                    untagged_units,
                    &format!("{what}: teams sum to the untagged units"),
                );
            }
        }
    }
}

/// The applicability criteria (what the provider supports) of one source's export: all that
/// the exporter fills, and the currency FOCUS prices it in (its virtual currency, or a national
/// one other than the billing currency).
fn criteria(config: &Config) -> String {
    let source = &config.sources[0];
    let billing = source
        .source
        .billing(&source.base_url, source.auth.token_url())
        .unwrap();
    let pricing = match billing.virtual_currency {
        true => "VIRTUAL_CURRENCY_SUPPORTED",
        false => "PRICING_BILLING_CURRENCY_DIFFERENCES_SUPPORTED",
    };
    [
        "ACCOUNT_NAMING_SUPPORTED",
        "SUB_ACCOUNT_SUPPORTED",
        "USAGE_MEASUREMENT_SUPPORTED",
        "NEGOTIATED_PRICING_SUPPORTED",
        "MULTIPLE_PRICING_CATEGORIES_SUPPORTED",
        "TAGGING_SUPPORTED",
        pricing,
    ]
    .join(",")
}

/// The rules a focus-validator report says failed, less those that are one branch of an OR
/// whose other branch passed ("InvoiceId MUST be null" / "MUST NOT be null": it lists both).
fn failed_rules(report: &str, model: &serde_json::Value) -> Vec<String> {
    let outcome = |mark: &str| -> BTreeSet<String> {
        report
            .lines()
            .filter_map(|line| line.strip_prefix(mark))
            .filter_map(|rest| rest.trim().split(':').next().map(str::to_string))
            .collect()
    };
    let (passed, failed) = (outcome("✅"), outcome("❌"));
    let mut alternatives: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rule in model["ModelRules"].as_object().unwrap().values() {
        let requirement = &rule["ValidationCriteria"]["Requirement"];
        if requirement["CheckFunction"] != "OR" {
            continue;
        }
        let branches: Vec<String> = requirement["Items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|item| item["ModelRuleId"].as_str().map(String::from))
            .collect();
        for branch in &branches {
            alternatives
                .entry(branch.clone())
                .or_default()
                .extend(branches.iter().filter(|b| *b != branch).cloned());
        }
    }
    failed
        .into_iter()
        .filter(|rule| {
            let others = alternatives
                .get(rule)
                .map(Vec::as_slice)
                .unwrap_or_default();
            !others.iter().any(|other| passed.contains(other))
        })
        .collect()
}

/// Runs focus-validator 2.2.1 on `file` for FOCUS 1.2, from its package's directory (it reads
/// its rules relative to the working directory), and returns its report and its rule model.
fn validate(file: &Path, criteria: &str) -> (String, serde_json::Value) {
    let validator = test_tool("focus-venv/bin/focus-validator");
    let python = test_tool("focus-venv/bin/python");
    let site = std::process::Command::new(python)
        .args(["-c", "import focus_validator, os; print(os.path.dirname(os.path.dirname(focus_validator.__file__)))"])
        .output()
        .unwrap();
    let site = PathBuf::from(String::from_utf8(site.stdout).unwrap().trim());
    let output = std::process::Command::new(validator)
        .args(["--data-file"])
        .arg(file)
        .args(["--validate-version", "1.2", "--block-download"])
        .args(["--applicability-criteria", criteria])
        .current_dir(&site)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let model = site.join("focus_validator/rules/model-1.2.0.1.json");
    let model = serde_json::from_str(&std::fs::read_to_string(model).unwrap()).unwrap();
    (report, model)
}

#[tokio::test]
#[ignore = "needs focus-validator 2.2.1 under target/test-tools: run ./scripts/test.sh"]
async fn every_vendors_export_passes_the_focus_validator_with_no_failed_rule() {
    let tenants = billed_tenants().await;
    let dir = tempfile::tempdir().unwrap();
    let now = at("2026-12-02T09:00:00Z");
    let rates = rates_file(dir.path(), now.date_naive());
    let config = parse_config(&config_text(&tenants, &rates, true));
    let mut origins = BTreeSet::new();
    for tenant in &tenants {
        let output = dir.path().join(format!("{}.csv", tenant.vendor));
        let range = request("2026-10-29", "2026-11-02", &[tenant.vendor], &output);
        let exported = export(&config, &range, now).await.rows();
        let mut one = config.clone();
        one.sources.retain(|s| s.name == tenant.vendor);
        let (report, model) = validate(&output, &criteria(&one));
        let checked = report
            .lines()
            .find(|l| l.starts_with("Total:"))
            .unwrap_or_else(|| panic!("focus-validator wrote a summary:\n{report}"));
        let passed: usize = checked
            .split("Pass: ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(
            passed > 150,
            "{}: the rules were checked: {checked}",
            tenant.vendor
        );
        let failed = failed_rules(&report, &model);
        let lines: Vec<&str> = report
            .lines()
            .filter(|l| failed.iter().any(|rule| l.contains(rule.as_str())))
            .collect();
        assert!(
            failed.is_empty(),
            "{}: focus-validator failed {failed:?}:\n{}",
            tenant.vendor,
            lines.join("\n")
        );
        assert!(exported.len() > 5, "{} has rows", tenant.vendor);
        origins.extend(exported.iter().map(|row| row["x_CostOrigin"].clone()));
    }
    assert_eq!(
        origins,
        BTreeSet::from(["price".to_string(), "vendor".to_string()]),
        "money from prices and from a vendor's own cost were validated"
    );
}

#[test]
fn a_failed_rule_counts_unless_another_branch_of_its_or_passed() {
    let model = serde_json::json!({"ModelRules": {
        "Id-C-003-C": {"ValidationCriteria": {"Requirement": {"CheckFunction": "OR", "Items": [
            {"CheckFunction": "CheckModelRule", "ModelRuleId": "Id-C-004-C"},
            {"CheckFunction": "CheckModelRule", "ModelRuleId": "Id-C-005-C"}]}}},
        "Cost-C-001-M": {"ValidationCriteria": {"Requirement": {"CheckFunction": "AND", "Items": []}}}
    }});
    let report = "✅ Id-C-004-C: PASS  (violations=0)\n❌ Id-C-005-C: FAIL  (violations=3)\n❌ Cost-C-001-M: FAIL  (violations=1)\n";
    assert_eq!(failed_rules(report, &model), ["Cost-C-001-M"]);
    let both_failed = "❌ Id-C-004-C: FAIL\n❌ Id-C-005-C: FAIL\n";
    assert_eq!(
        failed_rules(both_failed, &model),
        ["Id-C-004-C", "Id-C-005-C"]
    );
}

#[tokio::test]
async fn a_vendor_failure_part_way_fails_the_export_naming_the_source_and_leaves_the_earlier_file()
{
    let tenants = billed_tenants().await;
    let dir = tempfile::tempdir().unwrap();
    let now = at("2026-12-02T09:00:00Z");
    let rates = rates_file(dir.path(), now.date_naive());
    let priced = VENDORS
        .iter()
        .find(|v| v.demo_price().is_some() && tenants.iter().any(|t| t.vendor == v.type_name()))
        .unwrap();
    let spec = TenantSpec {
        seed: 3,
        today: now.date_naive(),
        scale: Scale::Small,
    };
    let victim = priced.start(spec).await.unwrap();
    let yaml = config_text(&tenants, &rates, true) + &victim.entry("victim");
    let config = parse_config(&yaml);
    let output = dir.path().join("focus.csv");
    std::fs::write(&output, "last month's export\n").unwrap();
    let mut progress = FailOn {
        tenant: &victim,
        day: "focus: 2026-11-02 (day 2 of 4)".into(),
        seen: String::new(),
    };
    let error = focus::run(
        &config,
        &request("2026-11-01", "2026-11-04", &[], &output),
        now,
        &mut progress,
    )
    .await
    .unwrap_err()
    .to_string();
    let vendor = priced.type_name();
    assert!(
        error.starts_with(&format!(
            "source victim ({vendor}): the export failed on 2026-11-03: "
        )),
        "{error}"
    );
    assert!(
        error.ends_with(&format!("{} was not written", output.display())),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "last month's export\n"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary file is left"
    );
}

#[tokio::test]
async fn sources_without_history_or_a_bill_are_skipped_and_services_without_money_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let now = at("2026-12-02T09:00:00Z");
    let rates = rates_file(dir.path(), now.date_naive());
    let spec = TenantSpec {
        seed: 3,
        today: now.date_naive(),
        scale: Scale::Small,
    };
    let mut entries = String::new();
    let mut running = Vec::new();
    for vendor in VENDORS {
        let tenant = vendor.start(spec).await.unwrap();
        entries.push_str(&tenant.entry(vendor.type_name()));
        running.push(tenant);
    }
    // No price at all: only a vendor's own money makes rows.
    let yaml = format!(
        "money:\n  currency: EUR\n  rates_file: {}\nsources:\n{entries}",
        rates.display()
    );
    let config = parse_config(&yaml);
    let output = dir.path().join("focus.csv");
    let exported = export(
        &config,
        &request("2026-11-01", "2026-11-02", &[], &output),
        now,
    )
    .await;
    let progress = exported.progress.clone();
    let rows = exported.rows();
    for source in &config.sources {
        let (name, vendor) = (&source.name, source.vendor);
        let billed = source.source.facts().service.is_some();
        let said = |what: &str| progress.contains(&format!("source {name} ({vendor}): {what}"));
        let has_rows = rows.iter().any(|row| row["x_Source"] == *name);
        match (billed, source.source.facts().reads_date_range) {
            (false, _) => assert!(said("skipped: its vendor does not bill its usage"), "{progress}"),
            (true, false) => assert!(said("skipped: its vendor's API reports the present state, not past days, so it has no history to export"), "{progress}"),
            (true, true) if has_rows => {
                assert!(rows.iter().filter(|r| r["x_Source"] == *name).all(|r| r["x_CostOrigin"] == "vendor"));
            }
            (true, true) => assert!(said("no rows for services "), "{name}: {progress}"),
        }
    }
    assert!(
        rows.iter().any(|row| row["x_CostOrigin"] == "vendor"),
        "a vendor's own money makes rows"
    );
}

#[tokio::test]
async fn a_config_without_money_or_a_day_not_settled_or_over_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let now = at("2026-12-02T09:00:00Z");
    let rates = rates_file(dir.path(), now.date_naive());
    let tenants = billed_tenants().await;
    let output = dir.path().join("focus.csv");
    let refused =
        |yaml: String, from: &'static str, to: Option<&'static str>, include_unsettled: bool| {
            let output = output.clone();
            async move {
                let request = Request {
                    from: from.into(),
                    to: to.map(String::from),
                    sources: Vec::new(),
                    output: Target::File(output),
                    include_unsettled,
                };
                let result = export(&parse_config(&yaml), &request, now).await.result;
                match result {
                    Ok(_) => format!("accepted {from} {to:?}"),
                    Err(e) => e.to_string(),
                }
            }
        };
    let with_money = config_text(&tenants, &rates, false);
    let without_money = format!("sources:\n{}", tenants[0].entry());
    let cases = [
        (
            refused(without_money, "2026-11-01", None, false).await,
            "focus exports money, and the config has no money: section",
        ),
        (
            refused(with_money.clone(), "2026-11-01", Some("2026-12-02"), true).await,
            "--to 2026-12-02 is not over yet: the last whole day is 2026-12-01",
        ),
        (
            refused(with_money.clone(), "2026-11-01", Some("2026-11-30"), false).await,
            "--to 2026-11-30 is not settled for source",
        ),
        (
            refused(with_money.clone(), "2026-11-30", None, false).await,
            "--from 2026-11-30 is after the last day to export, 2026-11-28: nothing to export",
        ),
        (
            refused(with_money, "1 Nov", None, false).await,
            "--from \"1 Nov\" is not a date (YYYY-MM-DD, a UTC day)",
        ),
    ];
    for (error, expected) in &cases {
        assert!(error.contains(expected), "{error}\nwanted: {expected}");
    }
    for tenant in &tenants {
        assert!(
            tenant.case.running.requests().is_empty(),
            "{} was asked nothing",
            tenant.vendor
        );
    }
}

#[tokio::test]
async fn every_source_that_bills_says_who_bills_it_in_focus_terms() {
    let spec = TenantSpec {
        seed: 1,
        today: at("2026-12-02T00:00:00Z").date_naive(),
        scale: Scale::Small,
    };
    for vendor in VENDORS {
        let tenant = vendor.start(spec).await.unwrap();
        let config = parse_config(&format!("sources:\n{}", tenant.entry("s")));
        let source = &config.sources[0];
        let billing = source
            .source
            .billing(&source.base_url, source.auth.token_url());
        let name = vendor.type_name();
        assert_eq!(
            billing.is_some(),
            source.source.facts().service.is_some(),
            "{name}: a source says who bills it exactly when its usage is billed"
        );
        let Some(billing) = billing else { continue };
        assert!(
            consumption_exporter::focus::is_service_category(
                billing.service_category,
                billing.service_subcategory
            ),
            "{name}: {} / {} is one of FOCUS 1.2's service categories and its subcategories",
            billing.service_category,
            billing.service_subcategory
        );
        assert!(!billing.account_id.is_empty(), "{name} names its account");
        if let Some(label) = billing.sub_account_label {
            assert!(
                source.source.facts().usage_labels.clone().contains(&label),
                "{name}: the sub-account label {label} is a usage label"
            );
        }
    }
}

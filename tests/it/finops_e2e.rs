//! The FinOps alerts end to end with the real programs: 30 days of a UiPath organisation's
//! history backfilled into Prometheus with `promtool tsdb create-blocks-from openmetrics`, the
//! organisation's usage spiking yesterday, a yearly commitment on course to end under-used and
//! a bundle ending in 20 days (the demo's organisation); the spend anomaly, the under-used
//! commitment and the renewal reach the FinOps receiver of the shipped Alertmanager config, and
//! every panel of the dashboard's Waste row returns data.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Days, Utc};
use consumption_exporter::model::clock::SystemClock;
use consumption_exporter::simulator::uipath::{UiPathOrganization, UiPathSimulator};
use serde_json::Value;

use crate::e2e::{query, start_alertmanager, start_prometheus, wait_for, webhook, Program};
use crate::helpers::{program, run_tool, RunningExporter};

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
}

/// Whether `receiver` was sent a firing `alertname` for the source `e2e-finops`.
fn delivered(received: &Mutex<Vec<Value>>, receiver: &str, alertname: &str) -> bool {
    received.lock().unwrap().iter().any(|notification| {
        notification["receiver"] == receiver
            && notification["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|alert| {
                    alert["labels"]["alertname"] == alertname
                        && alert["labels"]["source"] == "e2e-finops"
                        && alert["status"] == "firing"
                })
    })
}

/// The demo's UiPath organisation as a source with money (usage and idle seats priced), a
/// yearly commitment more than half gone, its bundle's end (`entitlements: true`) and its seats.
fn config(url: &str, org: &UiPathOrganization) -> String {
    let year_start = org.today - Days::new(200);
    format!(
        "money:\n  currency: EUR\n  rates: {{USD: 0.9}}\n  prices:\n    - {{match: {{vendor: uipath}}, price: 0.12, currency: USD}}\n    - {{match: {{vendor: uipath, licence: [Attended, Development, StudioX]}}, price: 15, currency: USD}}\nsources:\n  - name: e2e-finops\n    type: uipath\n    base_url: {url}\n    organization_id: {}\n    tenant_ids: [{}]\n    consumable_codes: [RU]\n    entitlements: true\n    seats: true\n    interval: 2s\n    oauth2:\n      client_id: {}\n      client_secret: {}\n    budgets:\n      - {{name: commitment, match: {{consumable: RU}}, limit: 1000000000, period: year, start: {year_start}, shortfall_ratio: 0.9}}\n",
        org.organization_id,
        org.tenant_ids.join(", "),
        org.client_id,
        org.client_secret,
    )
}

/// The shipped rules, with the baseline group evaluated every second instead of every 5
/// minutes, so the test need not wait for its first evaluation.
fn rules_evaluated_now(dir: &Path) -> std::path::PathBuf {
    let rules =
        std::fs::read_to_string(examples().join("prometheus/rules/consumption.rules.yml")).unwrap();
    let baseline = "name: consumption.baseline\n    interval: 5m\n";
    assert_eq!(
        rules.matches(baseline).count(),
        1,
        "the baseline group runs every 5 minutes"
    );
    let path = dir.join("consumption.rules.yml");
    std::fs::write(
        &path,
        rules.replace(baseline, "name: consumption.baseline\n    interval: 1s\n"),
    )
    .unwrap();
    path
}

/// Backfills 30 days of `config_file`'s sources and makes Prometheus blocks of them in `data`.
fn backfill_into(config_file: &Path, data: &Path, work: &Path) {
    let from = Utc::now().date_naive() - Days::new(30);
    let output = work.join("backfill.om");
    let run = Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args(["backfill", "--config.file"])
        .arg(config_file)
        .args(["--from", &from.to_string(), "--step", "1h", "--output"])
        .arg(&output)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    run_tool(
        program(&["promtool"], "prometheus"),
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            output.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        work,
    );
}

/// Alertmanager with the shipped config, every receiver pointed at `hook`, without waiting.
fn start_shipped_alertmanager(hook: &str, work: &Path) -> (Program, u16) {
    let shipped =
        std::fs::read_to_string(examples().join("alertmanager/alertmanager.yml")).unwrap();
    let finops = "http://127.0.0.1:5001/consumption-finops";
    let overage = "http://127.0.0.1:5001/consumption-overage";
    assert!(shipped.contains(finops) && shipped.contains(overage));
    let config = work.join("alertmanager.yml");
    std::fs::write(
        &config,
        shipped
            .replace(finops, hook)
            .replace(overage, hook)
            .replace("group_wait: 30s", "group_wait: 1s"),
    )
    .unwrap();
    let binary = program(
        &["prometheus-alertmanager", "alertmanager"],
        "prometheus-alertmanager",
    );
    start_alertmanager(&binary, &config, work)
}

/// The expressions of the dashboard's Waste row.
fn waste_row_expressions() -> Vec<(String, String)> {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("grafana/consumption-dashboard.json")).unwrap(),
    )
    .unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let row = panels
        .iter()
        .position(|p| p["type"] == "row" && p["title"] == "Waste")
        .expect("the dashboard has a Waste row");
    panels[row + 1..]
        .iter()
        .take_while(|p| p["type"] != "row")
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or("").to_string();
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| (title.clone(), t["expr"].as_str().unwrap().to_string()))
        })
        .collect()
}

#[ignore = "needs prometheus, promtool and alertmanager: ./scripts/test.sh installs and runs it"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finops_alerts_reach_their_receiver_from_a_backfilled_month() {
    program(&["prometheus"], "prometheus");
    let work = tempfile::tempdir().unwrap();
    let org = UiPathOrganization::demo(3, Utc::now().date_naive());
    let uipath = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    let yaml = config(&uipath.url(), &org);
    let config_file = work.path().join("exporter.yml");
    std::fs::write(&config_file, &yaml).unwrap();
    let data = work.path().join("data");
    backfill_into(&config_file, &data, work.path());

    let (hook, received, _hook) = webhook().await;
    let (_alertmanager, am_port) = start_shipped_alertmanager(&hook, work.path());
    let exporter = RunningExporter::start_with_clock(&yaml, Arc::new(SystemClock)).await;
    let prom_config = work.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [{}]\nalerting:\n  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]\nscrape_configs:\n  - job_name: consumption_exporter\n    static_configs: [{{targets: ['{}']}}]\n",
            rules_evaluated_now(work.path()).display(),
            exporter.addr
        ),
    )
    .unwrap();
    let (_prometheus, prometheus) = start_prometheus(&prom_config, &data).await;
    wait_for(
        "28 days of baseline from the backfill",
        Duration::from_secs(90),
        async || {
            !query(&prometheus, "consumption:usage_by_service:days_28d >= 14")
                .await
                .is_empty()
        },
    )
    .await;
    for alert in [
        "ConsumptionSpendAnomaly",
        "ConsumptionCommitmentUnderused",
        "ConsumptionRenewalDue",
    ] {
        wait_for(
            &format!("{alert} at the FinOps receiver"),
            Duration::from_secs(120),
            async || delivered(&received, "finops-webhook", alert),
        )
        .await;
    }
    for (title, expression) in waste_row_expressions() {
        let promql = expression.replace("$source", ".*");
        assert!(
            !query(&prometheus, &promql).await.is_empty(),
            "Waste panel {title:?} has no data: {promql}"
        );
    }
}

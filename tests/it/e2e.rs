//! End to end with the real programs (Debian's `prometheus` and `prometheus-alertmanager`):
//! Prometheus scrapes the exporter and loads the shipped rules; Alertmanager, with the shipped
//! config, sends an overage switched on in a simulator to this test's webhook; every query of
//! the shipped dashboard returns data; the rules and the dashboard name only metrics the
//! exporter serves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use consumption_exporter::model::clock::SystemClock;
use consumption_exporter::simulator::dynatrace::{self, DynatraceAccount, DynatraceSimulator};
use consumption_exporter::simulator::kit::{demo_period_start, DemoUsage};
use consumption_exporter::simulator::powerplatform::{PowerPlatformSimulator, PowerPlatformTenant};
use consumption_exporter::simulator::qlik::{QlikSimulator, QlikTenant};
use consumption_exporter::simulator::uipath::{self, UiPathOrganization, UiPathSimulator};
use serde_json::{json, Value};

use crate::helpers::RunningExporter;

/// A child process killed when the test ends, however it ends.
pub(crate) struct Program(pub(crate) Child);

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// A Qlik tenant at 40% of its capacity: nothing for the alerts to see.
fn calm_records() -> Vec<Value> {
    let today = Utc::now().date_naive();
    let month_end = (today + chrono::Months::new(1))
        .with_day0(0)
        .and_then(|d| d.pred_opt())
        .unwrap_or(today);
    vec![json!({
        "unit": "reloads", "resourceType": "app", "resourceAction": "reload", "periodType": "month",
        "periodStart": today.with_day0(0).unwrap_or(today).to_string(), "periodEnd": month_end.to_string(),
        "localUsage": 400, "globalUsage": 400, "capacityLimit": 1000, "guardrailLimit": 1500,
        "overage": false, "blocked": false, "closeToOverage": false, "updateTime": Utc::now().to_rfc3339(),
    })]
}

use crate::helpers::free_port;
use crate::helpers::{program, run_tool};
use chrono::Datelike;

pub(crate) async fn webhook() -> (
    String,
    Arc<Mutex<Vec<Value>>>,
    consumption_exporter::simulator::RunningSimulator,
) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let router = Router::new().route(
        "/overage",
        post(move |Json(body): Json<Value>| {
            let sink = sink.clone();
            async move { sink.lock().unwrap().push(body) }
        }),
    );
    let running = consumption_exporter::simulator::serve(router, 0)
        .await
        .unwrap();
    (format!("{}/overage", running.url()), received, running)
}

/// The alerting rule `name` in a `/api/v1/rules` answer (its state and its pending and firing
/// alerts), once it was evaluated after `since`.
fn evaluated_since<'r>(
    rules: &'r Value,
    name: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Option<&'r Value> {
    let groups = rules["data"]["groups"].as_array()?;
    let rule = groups
        .iter()
        .flat_map(|group| group["rules"].as_array().into_iter().flatten())
        .find(|rule| rule["name"] == name)?;
    let evaluated = chrono::DateTime::parse_from_rfc3339(rule["lastEvaluation"].as_str()?).ok()?;
    (evaluated > since).then_some(rule)
}

fn alerts_for(received: &Mutex<Vec<Value>>, alertname: &str, source: &str) -> usize {
    budget_alerts_for(received, alertname, source, None)
}

/// Firing alerts at the webhook by name and source, and by budget when one is given.
fn budget_alerts_for(
    received: &Mutex<Vec<Value>>,
    alertname: &str,
    source: &str,
    budget: Option<&str>,
) -> usize {
    received
        .lock()
        .unwrap()
        .iter()
        .flat_map(|notification| {
            notification["alerts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|alert| {
            alert["labels"]["alertname"] == alertname
                && alert["labels"]["source"].as_str().unwrap_or("") == source
                && budget.is_none_or(|b| alert["labels"]["budget"] == b)
                && alert["status"] == "firing"
        })
        .count()
}

pub(crate) async fn query(prometheus: &str, promql: &str) -> Vec<Value> {
    query_at(prometheus, promql, Utc::now()).await
}

/// An instant query evaluated at `at`.
pub(crate) async fn query_at(
    prometheus: &str,
    promql: &str,
    at: chrono::DateTime<Utc>,
) -> Vec<Value> {
    let time = (at.timestamp_millis() as f64 / 1000.0).to_string();
    let response = crate::helpers::json_of(
        crate::helpers::client()
            .get(format!("{prometheus}/api/v1/query"))
            .query(&[("query", promql), ("time", time.as_str())]),
    )
    .await;
    assert_eq!(response["status"], "success", "{promql}: {response}");
    response["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A real Prometheus with `config` on the blocks in `tsdb` (kept for ten years, so that
/// backfilled ones are not deleted at once), ready; and its URL.
pub(crate) async fn start_prometheus(config: &Path, tsdb: &Path) -> (Program, String) {
    let port = free_port();
    let program = Program(
        Command::new(program(&["prometheus"], "prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg("--storage.tsdb.retention.time=3650d")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_for("Prometheus to start", Duration::from_secs(60), async || {
        crate::helpers::client()
            .get(format!("{url}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    (program, url)
}

/// A real Alertmanager with `config`, its state under `work`, not clustered; and its port.
pub(crate) fn start_alertmanager(binary: &Path, config: &Path, work: &Path) -> (Program, u16) {
    let port = free_port();
    let alertmanager = Program(
        Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", work.join("am").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    (alertmanager, port)
}

pub(crate) async fn wait_for(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[ignore = "needs prometheus and alertmanager: ./scripts/test.sh installs and runs it"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_and_alertmanager_carry_an_overage_from_a_simulator_to_a_webhook() {
    // A missing Prometheus fails the test first, naming its package.
    program(&["prometheus"], "prometheus");
    let alertmanager_bin = program(
        &["prometheus-alertmanager", "alertmanager"],
        "prometheus-alertmanager",
    );
    let work = tempfile::tempdir().unwrap();

    // Every vendor from the demo, a Qlik tenant this test controls, and a Dynatrace source on
    // v2 (which announces its sunset, for the dashboard's sunset panel).
    let (demo, _demo_simulators) = consumption_exporter::commands::demo::start_simulators(7)
        .await
        .unwrap();
    let qlik = QlikSimulator::new(
        QlikTenant {
            today: Utc::now().date_naive(),
            ..QlikTenant::default()
        },
        calm_records(),
    );
    let qlik_running = qlik.start(0).await.unwrap();
    let dt_account = DynatraceAccount {
        today: Utc::now().date_naive(),
        ..DynatraceAccount::default()
    };
    let dt_v2 = DynatraceSimulator::new(dt_account.clone());
    let dt_running = dt_v2.start(0).await.unwrap();
    // A tenant whose every answer is a 403, so that the failure series exist too.
    let broken = QlikSimulator::new(QlikTenant::default(), calm_records());
    broken.faults().inject(
        consumption_exporter::simulator::When::Next,
        consumption_exporter::simulator::Fault::Status(403),
        usize::MAX,
    );
    let broken_running = broken.start(0).await.unwrap();
    let yaml = format!(
        "{}  - name: e2e-qlik\n    type: qlik\n    base_url: {}\n    authorization:\n      credentials: qlik-sim-api-key\n  - name: e2e-broken\n    type: qlik\n    base_url: {}\n    authorization:\n      credentials: qlik-sim-api-key\n  - name: e2e-dynatrace-v2\n    type: dynatrace\n    api_version: v2\n    entitlements: true\n    inventory_interval: 0s\n    base_url: {dt}\n    account_uuid: {}\n    subscription_uuid: {}\n    oauth2:\n      token_url: {dt}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n",
        demo.replace("poll_interval: 30s", "poll_interval: 1s"),
        qlik_running.url(),
        broken_running.url(),
        dt_account.account_uuid,
        dt_account.subscription_uuid,
        dt_account.client_id,
        dt_account.client_secret,
        dt = dt_running.url(),
    );
    let (budget_sources, robots, dynatrace_budgets, _budget_simulators) = budget_sources().await;
    // A top-level money budget (the demo's dollar price of Robot Units, in euros), far above
    // what e2e-robots spends until the surge below; it joins the demo's own top-level budget.
    assert!(
        yaml.contains("\nbudgets:\n"),
        "the demo has a top-level budget"
    );
    let yaml = format!("{yaml}{budget_sources}").replacen(
        "\nbudgets:\n",
        "\nbudgets:\n  - {name: e2e-spend, match: {source: e2e-robots}, limit: 10000000, period: month}\n",
        1,
    );
    // Every source but the broken one.
    let healthy = yaml.matches("\n  - name: ").count() - 1;
    let exporter = RunningExporter::start_with_clock(&yaml, Arc::new(SystemClock)).await;

    // Alertmanager with the shipped config, pointed at this test's webhook and told not to wait.
    let (hook_url, received, _hook) = webhook().await;
    let shipped =
        std::fs::read_to_string(examples().join("alertmanager/alertmanager.yml")).unwrap();
    assert!(
        shipped.contains("http://127.0.0.1:5001/consumption-overage")
            && shipped.contains("group_wait: 30s")
    );
    let am_config = work.path().join("alertmanager.yml");
    let rules_file = shipped_rules_with_short_forecast_wait(work.path());
    std::fs::write(
        &am_config,
        shipped
            .replace("http://127.0.0.1:5001/consumption-overage", &hook_url)
            .replace("group_wait: 30s", "group_wait: 1s"),
    )
    .unwrap();
    let (_alertmanager, am_port) = start_alertmanager(&alertmanager_bin, &am_config, work.path());

    // Prometheus scraping every second, with the shipped rules.
    let prom_config = work.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [{}]\nalerting:\n  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]\nscrape_configs:\n  - job_name: consumption_exporter\n    static_configs: [{{targets: ['{}']}}]\n",
            rules_file.display(),
            exporter.addr
        ),
    )
    .unwrap();
    let (_prometheus, prometheus) = start_prometheus(&prom_config, &work.path().join("tsdb")).await;
    wait_for(
        "the exporter target to be up",
        Duration::from_secs(60),
        async || {
            query(&prometheus, r#"up{job="consumption_exporter"} == 1"#)
                .await
                .len()
                == 1
        },
    )
    .await;
    wait_for(
        "every source's series",
        Duration::from_secs(60),
        async || query(&prometheus, "consumption_source_up == 1").await.len() == healthy,
    )
    .await;

    // Prometheus asks for OpenMetrics first and reads it: the units it keeps come only from
    // OpenMetrics' `# UNIT` lines (this Prometheus, 2.42, predates `scrape_protocols`, which
    // would pin the format; its default `Accept` header puts OpenMetrics 1.0.0 first).
    let metadata = crate::helpers::json_of(
        crate::helpers::client().get(format!("{prometheus}/api/v1/metadata")),
    )
    .await;
    for (family, kind, unit) in [
        (
            "consumption_source_poll_duration_seconds",
            "gauge",
            "seconds",
        ),
        ("consumption_source_requests", "counter", ""),
        ("process_cpu_seconds", "counter", "seconds"),
        ("process_resident_memory_bytes", "gauge", "bytes"),
    ] {
        let entry = &metadata["data"][family][0];
        assert_eq!(entry["type"], kind, "{family}: {entry}");
        assert_eq!(entry["unit"], unit, "{family}: {entry}");
    }
    wait_for(
        "the exporter's count of its scrapes",
        Duration::from_secs(30),
        async || {
            !query(
                &prometheus,
                r#"consumption_exporter_scrapes_total{code="200"} > 0"#,
            )
            .await
            .is_empty()
        },
    )
    .await;

    // Quiet first: the controlled tenant is well within its capacity. The overage rule is
    // evaluated over a scrape of it, and has no pending or firing alert for it.
    let scraped_by = chrono::Utc::now();
    wait_for(
        "an evaluation of the overage rule over the calm tenant",
        Duration::from_secs(30),
        async || {
            let rules = crate::helpers::json_of(
                crate::helpers::client().get(format!("{prometheus}/api/v1/rules?type=alert")),
            )
            .await;
            evaluated_since(&rules, "ConsumptionQlikOverage", scraped_by).is_some_and(|rule| {
                rule["alerts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|alert| alert["labels"]["source"] != "e2e-qlik")
            })
        },
    )
    .await;
    assert_eq!(
        alerts_for(&received, "ConsumptionQlikOverage", "e2e-qlik"),
        0,
        "an overage alert before any overage"
    );

    // Switch on an overage in the simulator: it travels poll → scrape → rule → Alertmanager → webhook.
    let mut overage = calm_records();
    overage[0]["localUsage"] = json!(1200);
    overage[0]["overage"] = json!(true);
    qlik.set_records(overage);
    wait_for(
        "the overage alert at the webhook",
        Duration::from_secs(90),
        async || alerts_for(&received, "ConsumptionQlikOverage", "e2e-qlik") > 0,
    )
    .await;

    // Budgets, every vendor alike: a UiPath budget and a priced Dynatrace budget go over their
    // limits in the simulators and page; a budget whose forecast, not its used, is over warns.
    for (source, budget) in [
        ("e2e-robots", "robot-units"),
        ("e2e-dynatrace-budget", "log-ingest"),
        ("", "e2e-spend"),
    ] {
        assert_eq!(
            budget_alerts_for(&received, "ConsumptionBudgetExceeded", source, Some(budget)),
            0,
            "{source}/{budget} is exceeded before its surge"
        );
    }
    robots.add_consumption_today(1e9);
    dynatrace_budgets.add_usage_today(1e9);
    // The top-level budget has no source label: "" matches its absence.
    for (source, budget) in [
        ("e2e-robots", "robot-units"),
        ("e2e-dynatrace-budget", "log-ingest"),
        ("", "e2e-spend"),
    ] {
        wait_for(
            &format!("ConsumptionBudgetExceeded for {source}/{budget} at the webhook"),
            Duration::from_secs(90),
            async || {
                budget_alerts_for(&received, "ConsumptionBudgetExceeded", source, Some(budget)) > 0
            },
        )
        .await;
    }
    // With no `budgets:`, what the vendors report: a Power Platform currency past its purchase,
    // and a Dynatrace commitment pushed past its total (read by every poll:
    // `inventory_interval: 0s`, so that the push shows at the next one).
    wait_for(
        "ConsumptionBudgetExceeded for the e2e-flows AI credits at the webhook",
        Duration::from_secs(90),
        async || {
            budget_alerts_for(
                &received,
                "ConsumptionBudgetExceeded",
                "e2e-flows",
                Some("AI"),
            ) > 0
        },
    )
    .await;
    let commitment = Some("commitment");
    assert_eq!(
        budget_alerts_for(
            &received,
            "ConsumptionBudgetExceeded",
            "e2e-dynatrace-v2",
            commitment
        ),
        0
    );
    dt_v2.set_commitment_used(dt_account.commitment.total * 1.5);
    wait_for(
        "ConsumptionBudgetExceeded for the e2e-dynatrace-v2 commitment at the webhook",
        Duration::from_secs(90),
        async || {
            budget_alerts_for(
                &received,
                "ConsumptionBudgetExceeded",
                "e2e-dynatrace-v2",
                commitment,
            ) > 0
        },
    )
    .await;
    wait_for(
        "ConsumptionBudgetForecastExceeded for e2e-dynatrace-budget/forecast at the webhook",
        Duration::from_secs(90),
        async || {
            budget_alerts_for(
                &received,
                "ConsumptionBudgetForecastExceeded",
                "e2e-dynatrace-budget",
                Some("forecast"),
            ) > 0
        },
    )
    .await;

    // Every dashboard query returns data from this Prometheus.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("grafana/consumption-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut expressions = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            expressions.push((
                panel["title"].as_str().unwrap_or("").to_string(),
                target["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert!(expressions.len() >= 15, "the dashboard has its panels");
    // The spend baseline needs weeks of history: the FinOps test backfills them and checks it.
    for (title, expression) in expressions.iter().filter(|(_, e)| !e.contains("_28d")) {
        let promql = expression.replace("$source", ".*");
        assert!(
            !query(&prometheus, &promql).await.is_empty(),
            "dashboard panel {title:?} has no data: {promql}"
        );
    }

    // The rules and the dashboard use only metric names the exporter serves.
    let names = crate::helpers::json_of(
        crate::helpers::client().get(format!("{prometheus}/api/v1/label/__name__/values")),
    )
    .await;
    let served: BTreeSet<&str> = names["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let rules = crate::helpers::shipped_rules();
    let rule_expressions = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default());
    let mut all_text: String = rule_expressions
        .map(|r| format!("{}\n", r["expr"].as_str().unwrap_or("")))
        .collect();
    all_text.extend(expressions.iter().map(|(_, e)| format!("{e}\n")));
    let used = metric_names(&all_text);
    assert!(used.len() > 15);
    for name in used {
        assert!(
            served.contains(name.as_str()),
            "{name} is used by the shipped rules or dashboard but the exporter does not serve it"
        );
    }
}

/// A UiPath and a Dynatrace source with budgets well under their limits (the Dynatrace one
/// priced), and a Dynatrace budget whose limit lies between its used and its forecast.
async fn budget_sources() -> (
    String,
    UiPathSimulator,
    DynatraceSimulator,
    [consumption_exporter::simulator::RunningSimulator; 3],
) {
    let now = Utc::now();
    let start = demo_period_start(now);
    let org = UiPathOrganization::default();
    let robots = UiPathSimulator::new(org.clone());
    let robots_running = robots.start(0).await.unwrap();
    let tenant = org.tenant_ids[0].clone();
    let (_, ru_services) = uipath::CONSUMABLES
        .iter()
        .find(|(code, _)| *code == "RU")
        .unwrap();
    let ru = DemoUsage::daily(
        "RU",
        |day| {
            ru_services
                .iter()
                .map(|s| uipath::daily_amount(org.seed, &tenant, "RU", s, day))
                .sum()
        },
        now,
    );
    let account = DynatraceAccount {
        today: now.date_naive(),
        ..DynatraceAccount::default()
    };
    let dt = DynatraceSimulator::new(account.clone());
    let dt_running = dt.start(0).await.unwrap();
    let usage = |key: &'static str| {
        let environments = account.environments.clone();
        DemoUsage::daily(
            key,
            move |day| {
                let first = account.today - chrono::Days::new(u64::from(account.days) - 1);
                if day < first {
                    return 0.0;
                }
                let amount = |e: &String| dynatrace::daily_usage(account.seed, e, key, day);
                environments.iter().map(amount).sum()
            },
            now,
        )
    };
    let (logs, hosts) = (
        usage("LOG_MANAGEMENT_INGEST"),
        usage("INFRASTRUCTURE_MONITORING"),
    );
    let period = format!("period: quarter, start: {start}");
    let yaml = format!(
        "  - name: e2e-robots\n    type: uipath\n    base_url: {}\n    organization_id: {}\n    tenant_ids: [{tenant}]\n    consumable_codes: [RU]\n    oauth2:\n      client_id: {}\n      client_secret: {}\n    budgets:\n      - {{name: robot-units, match: {{consumable: RU}}, limit: {}, {period}}}\n\
         \x20 - name: e2e-dynatrace-budget\n    type: dynatrace\n    base_url: {dt}\n    account_uuid: {}\n    subscription_uuid: {}\n    oauth2:\n      token_url: {dt}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n    budgets:\n      - {{name: log-ingest, match: {{capability_key: LOG_MANAGEMENT_INGEST}}, limit: {}, {period}, price: 0.5, currency: USD}}\n      - {{name: forecast, match: {{capability_key: INFRASTRUCTURE_MONITORING}}, limit: {}, {period}}}\n",
        robots_running.url(),
        org.organization_id,
        org.client_id,
        org.client_secret,
        ru.forecast * 10.0,
        account.account_uuid,
        account.subscription_uuid,
        account.client_id,
        account.client_secret,
        logs.forecast * 10.0,
        (hosts.used + hosts.forecast) / 2.0,
        dt = dt_running.url(),
    );
    // With no budgets: what Power Platform reports it sold, its AI Builder credits past it.
    let flows_tenant = PowerPlatformTenant {
        today: now.date_naive(),
        ..PowerPlatformTenant::default()
    };
    let flows = PowerPlatformSimulator::new(flows_tenant.clone())
        .start(0)
        .await
        .unwrap();
    let yaml = format!(
        "{yaml}  - name: e2e-flows\n    type: powerplatform\n    base_url: {url}\n    entitlements: true\n    oauth2:\n      token_url: {url}/t/oauth2/v2.0/token\n      client_id: {}\n      client_secret: {}\n",
        flows_tenant.client_id,
        flows_tenant.client_secret,
        url = flows.url()
    );
    (yaml, robots, dt, [robots_running, dt_running, flows])
}

/// The shipped rules, with the forecast alert's hour-long `for` cut to a second so the test
/// sees it fire; everything else as shipped.
fn shipped_rules_with_short_forecast_wait(dir: &Path) -> PathBuf {
    let rules =
        std::fs::read_to_string(examples().join("prometheus/rules/consumption.rules.yml")).unwrap();
    let forecast_wait = "consumption_budget_warn_ratio\n        for: 1h\n";
    assert_eq!(
        rules.matches(forecast_wait).count(),
        1,
        "the forecast alert waits an hour"
    );
    let path = dir.join("consumption.rules.yml");
    std::fs::write(
        &path,
        rules.replace(
            forecast_wait,
            "consumption_budget_warn_ratio\n        for: 1s\n",
        ),
    )
    .unwrap();
    path
}

/// Metric names in PromQL text: not recording rules (they contain a colon), not label values.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(start) = text[i..].find("consumption_").map(|p| p + i) {
        let preceded_by_word = start > 0
            && (bytes[start - 1].is_ascii_alphanumeric() || b"_:\"".contains(&bytes[start - 1]));
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |e| start + e);
        if !preceded_by_word && !text[end..].starts_with(':') {
            names.insert(text[start..end].to_string());
        }
        i = end;
    }
    names
}

#[ignore = "needs promtool: ./scripts/test.sh installs and runs it"]
#[test]
fn the_shipped_rules_pass_promtool_check_and_their_unit_tests() {
    let promtool = program(&["promtool"], "prometheus");
    let dir = examples().join("prometheus");
    let checked = run_tool(
        promtool.clone(),
        &["check", "rules", "rules/consumption.rules.yml"],
        &dir,
    );
    assert!(checked.contains("SUCCESS"), "{checked}");
    run_tool(
        promtool,
        &[
            "test",
            "rules",
            "tests/consumption.rules.test.yml",
            "tests/consumption.finops.test.yml",
        ],
        &dir,
    );
}

#[ignore = "needs amtool and promtool: ./scripts/test.sh installs and runs it"]
#[test]
fn the_shipped_alertmanager_and_prometheus_configs_are_valid() {
    let amtool = program(&["amtool"], "prometheus-alertmanager");
    run_tool(
        amtool,
        &["check-config", "alertmanager/alertmanager.yml"],
        &examples(),
    );
    let promtool = program(&["promtool"], "prometheus");
    run_tool(
        promtool,
        &["check", "config", "prometheus.yml"],
        &examples().join("prometheus"),
    );
}

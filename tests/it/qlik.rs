//! The Qlik Cloud source against the Qlik simulator over real HTTP, and against a Qlik-shaped
//! server built here from the vendor's documented example.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use consumption_exporter::simulator::qlik::{
    generate_records, NextLinkStyle, QlikSimulator, QlikTenant,
};
use consumption_exporter::simulator::{Fault, When};
use serde_json::{json, Value};

use crate::helpers::{
    assert_loop_detected, qlik_source, test_today, RunningExporter, TestExporter,
};

fn record(kind: (&str, &str, &str, &str), period: (&str, &str), user: &str, usage: Value) -> Value {
    let (resource_type, action, period_type, unit) = kind;
    let mut r = json!({
        "unit": unit, "resourceType": resource_type, "resourceAction": action, "periodType": period_type,
        "periodStart": period.0, "periodEnd": period.1, "userId": user, "scope": ["user"],
    });
    for (k, v) in usage.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

/// Resource type, action, period type, unit.
type Kind = (&'static str, &'static str, &'static str, &'static str);

const RELOAD: Kind = ("app", "reload", "month", "reloads");
const AUTOMATION: Kind = ("automations", "executed", "day", "runs");
const VOLUME: Kind = ("data.volume.consumption", "aggregation", "year", "GB");

/// Six records whose sums are worked out by hand in the tests below (today is 2026-11-22).
fn fixture_records() -> Vec<Value> {
    vec![
        record(
            RELOAD,
            ("2026-11-01", "2026-11-30"),
            "u1",
            json!({"localUsage": 120, "globalUsage": 130, "capacityLimit": 500, "guardrailLimit": 750, "overage": false, "updateTime": "2026-11-22T06:00:00Z"}),
        ),
        record(
            RELOAD,
            ("2026-11-01", "2026-11-30"),
            "u2",
            json!({"localUsage": 380, "globalUsage": 400, "capacityLimit": 500, "guardrailLimit": 750, "closeToOverage": true, "updateTime": "2026-11-22T07:30:00Z"}),
        ),
        record(
            RELOAD,
            ("2026-10-01", "2026-10-31"),
            "u1",
            json!({"localUsage": 610, "globalUsage": 640, "capacityLimit": 500, "guardrailLimit": 750, "overage": true, "blocked": true, "updateTime": "2026-11-01T00:10:00Z"}),
        ),
        record(
            AUTOMATION,
            ("2026-11-22", "2026-11-22"),
            "",
            json!({"localUsage": 12, "globalUsage": 12, "capacityLimit": 40, "guardrailLimit": 60}),
        ),
        record(
            AUTOMATION,
            ("2026-11-21", "2026-11-21"),
            "",
            json!({"localUsage": 45, "globalUsage": 45, "capacityLimit": 40, "guardrailLimit": 60, "overage": true}),
        ),
        record(
            VOLUME,
            ("2026-01-01", "2026-12-31"),
            "",
            json!({"localUsage": 20.5, "globalUsage": 21.25, "capacityLimit": 50}),
        ),
    ]
}

fn tenant() -> QlikTenant {
    QlikTenant {
        today: test_today(),
        ..QlikTenant::default()
    }
}

fn midnight(y: i32, m: u32, d: u32) -> f64 {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap().timestamp() as f64
}

fn labels<'a>(
    kind: (&'a str, &'a str, &'a str, &'a str),
    period: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("source", "acme"),
        ("resource_type", kind.0),
        ("resource_action", kind.1),
        ("period_type", kind.2),
        ("unit", kind.3),
        ("period", period),
    ]
}

#[tokio::test]
async fn every_qlik_family_has_the_exact_values_of_the_records_across_pages() {
    let simulator = QlikSimulator::new(tenant(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&format!(
        "sources:\n{}",
        qlik_source("acme", &running.url(), "    page_size: 2\n")
    ))
    .await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;

    let expected: [(&str, Kind, &str, f64); 32] = [
        ("consumption_qlik_local_usage", RELOAD, "current", 500.0),
        ("consumption_qlik_global_usage", RELOAD, "current", 530.0),
        ("consumption_qlik_capacity_limit", RELOAD, "current", 1000.0),
        (
            "consumption_qlik_guardrail_limit",
            RELOAD,
            "current",
            1500.0,
        ),
        ("consumption_qlik_overage", RELOAD, "current", 0.0),
        ("consumption_qlik_blocked", RELOAD, "current", 0.0),
        ("consumption_qlik_close_to_overage", RELOAD, "current", 1.0),
        (
            "consumption_qlik_period_end_timestamp_seconds",
            RELOAD,
            "current",
            midnight(2026, 12, 1),
        ),
        ("consumption_qlik_local_usage", RELOAD, "previous", 610.0),
        ("consumption_qlik_global_usage", RELOAD, "previous", 640.0),
        ("consumption_qlik_capacity_limit", RELOAD, "previous", 500.0),
        (
            "consumption_qlik_guardrail_limit",
            RELOAD,
            "previous",
            750.0,
        ),
        ("consumption_qlik_overage", RELOAD, "previous", 1.0),
        ("consumption_qlik_blocked", RELOAD, "previous", 1.0),
        ("consumption_qlik_close_to_overage", RELOAD, "previous", 0.0),
        (
            "consumption_qlik_period_end_timestamp_seconds",
            RELOAD,
            "previous",
            midnight(2026, 11, 1),
        ),
        ("consumption_qlik_local_usage", AUTOMATION, "current", 12.0),
        (
            "consumption_qlik_capacity_limit",
            AUTOMATION,
            "current",
            40.0,
        ),
        ("consumption_qlik_overage", AUTOMATION, "current", 0.0),
        (
            "consumption_qlik_period_end_timestamp_seconds",
            AUTOMATION,
            "current",
            midnight(2026, 11, 23),
        ),
        ("consumption_qlik_local_usage", AUTOMATION, "previous", 45.0),
        (
            "consumption_qlik_global_usage",
            AUTOMATION,
            "previous",
            45.0,
        ),
        (
            "consumption_qlik_guardrail_limit",
            AUTOMATION,
            "previous",
            60.0,
        ),
        ("consumption_qlik_overage", AUTOMATION, "previous", 1.0),
        (
            "consumption_qlik_period_end_timestamp_seconds",
            AUTOMATION,
            "previous",
            midnight(2026, 11, 22),
        ),
        ("consumption_qlik_local_usage", VOLUME, "current", 20.5),
        ("consumption_qlik_global_usage", VOLUME, "current", 21.25),
        ("consumption_qlik_capacity_limit", VOLUME, "current", 50.0),
        ("consumption_qlik_overage", VOLUME, "current", 0.0),
        ("consumption_qlik_blocked", VOLUME, "current", 0.0),
        ("consumption_qlik_close_to_overage", VOLUME, "current", 0.0),
        (
            "consumption_qlik_period_end_timestamp_seconds",
            VOLUME,
            "current",
            midnight(2027, 1, 1),
        ),
    ];
    for (family, kind, period, value) in expected {
        assert_eq!(
            m.get(family, &labels(kind, period)),
            Some(value),
            "{family} {kind:?} {period}\n{}",
            m.text
        );
    }
    // A record without guardrailLimit adds no guardrail series.
    assert_eq!(
        m.get(
            "consumption_qlik_guardrail_limit",
            &labels(VOLUME, "current")
        ),
        None
    );
    assert_eq!(
        m.get("consumption_qlik_tenant_overage", &[("source", "acme")]),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            "consumption_qlik_tenant_close_to_overage",
            &[("source", "acme")]
        ),
        Some(1.0)
    );
    let health = [("source", "acme"), ("vendor", "qlik")];
    assert_eq!(m.get("consumption_source_up", &health), Some(1.0));
    let updated = Utc
        .with_ymd_and_hms(2026, 11, 22, 7, 30, 0)
        .unwrap()
        .timestamp() as f64;
    assert_eq!(
        m.get("consumption_source_data_updated_timestamp_seconds", &health),
        Some(updated)
    );
    // Qlik's own capacities of the current period, in the budget families: the records of one
    // resource action summed, the period from the records' own dates.
    let vendor_budgets = [
        (
            "app/reload/month",
            "reloads",
            1000.0,
            500.0,
            (2026, 11, 1),
            (2026, 12, 1),
        ),
        (
            "automations/executed/day",
            "runs",
            40.0,
            12.0,
            (2026, 11, 22),
            (2026, 11, 23),
        ),
        (
            "data.volume.consumption/aggregation/year",
            "GB",
            50.0,
            20.5,
            (2026, 1, 1),
            (2027, 1, 1),
        ),
    ];
    for (budget, unit, limit, used, start, end) in vendor_budgets {
        let labels = [
            ("source", "acme"),
            ("vendor", "qlik"),
            ("budget", budget),
            ("unit", unit),
            ("origin", "vendor"),
        ];
        let get = |family: &str| m.get(&format!("consumption_budget_{family}"), &labels);
        assert_eq!(get("limit"), Some(limit), "{budget}");
        assert_eq!(get("used"), Some(used), "{budget}");
        assert_eq!(
            get("forecast"),
            Some(used),
            "{budget}: a level's forecast is itself"
        );
        assert_eq!(get("overage"), Some(0.0), "{budget}");
        assert_eq!(
            get("period_start_timestamp_seconds"),
            Some(midnight(start.0, start.1, start.2))
        );
        assert_eq!(
            get("period_end_timestamp_seconds"),
            Some(midnight(end.0, end.1, end.2))
        );
    }
    // 5 label sets × 8 families, less the missing guardrail, plus the 2 tenant flags, plus
    // 3 capacities × 7 budget families.
    assert_eq!(m.get("consumption_source_series", &health), Some(62.0));
    // Three pages of two records each.
    assert_eq!(
        m.get(
            "consumption_source_requests_total",
            &[
                ("source", "acme"),
                ("vendor", "qlik"),
                ("api_endpoint", "usage"),
                ("code", "200")
            ]
        ),
        Some(3.0)
    );
}

#[tokio::test]
async fn opt_in_labels_split_series_by_user() {
    let simulator = QlikSimulator::new(tenant(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    let extra = "    labels: [resource_type, user_id]\n";
    let exporter = TestExporter::start(&format!(
        "sources:\n{}",
        qlik_source("acme", &running.url(), extra)
    ))
    .await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    let local = |resource_type, user, period| {
        m.get(
            "consumption_qlik_local_usage",
            &[
                ("source", "acme"),
                ("resource_type", resource_type),
                ("user_id", user),
                ("period", period),
            ],
        )
    };
    assert_eq!(local("app", "u1", "current"), Some(120.0));
    assert_eq!(local("app", "u2", "current"), Some(380.0));
    assert_eq!(local("app", "u1", "previous"), Some(610.0));
    assert_eq!(local("automations", "", "previous"), Some(45.0));
    // app×u1 and app×u2 now, app×u1 before, automations now and before, data volume now.
    assert_eq!(m.count("consumption_qlik_local_usage"), 6);
}

/// The test's own reading of Qlik records: local usage by (type, action, period type, unit, period).
fn expected_local_usage(records: &[Value], today: NaiveDate) -> BTreeMap<Vec<String>, f64> {
    let mut sums = BTreeMap::new();
    for r in records {
        let end = NaiveDate::parse_from_str(r["periodEnd"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let period = if end < today { "previous" } else { "current" };
        let key: Vec<String> = ["resourceType", "resourceAction", "periodType", "unit"]
            .iter()
            .map(|k| r[*k].as_str().unwrap().to_string())
            .chain([period.to_string()])
            .collect();
        *sums.entry(key).or_insert(0.0) += r["localUsage"].as_f64().unwrap();
    }
    sums
}

#[tokio::test]
async fn paging_reads_every_page_whether_the_link_is_a_token_a_relative_or_a_foreign_href() {
    let records = generate_records(11, 60, test_today());
    let expected = expected_local_usage(&records, test_today());
    let pages = records.len().div_ceil(200);
    assert!(
        pages >= 9,
        "the data set should span many pages, has {pages}"
    );
    for style in [
        NextLinkStyle::HrefAndToken,
        NextLinkStyle::RelativeHrefOnly,
        NextLinkStyle::ForeignHrefOnly,
    ] {
        let simulator = QlikSimulator::new(
            QlikTenant {
                next_link_style: style,
                ..tenant()
            },
            records.clone(),
        );
        let running = simulator.start(0).await.unwrap();
        let exporter = TestExporter::start(&format!(
            "sources:\n{}",
            qlik_source("acme", &running.url(), "")
        ))
        .await;
        assert!(exporter.poll(0).await, "{style:?}");
        let m = exporter.scrape().await;
        for (key, sum) in &expected {
            let labels = labels((&key[0], &key[1], &key[2], &key[3]), &key[4]);
            assert_eq!(
                m.get("consumption_qlik_local_usage", &labels),
                Some(*sum),
                "{style:?} {key:?}"
            );
        }
        let data_requests: Vec<_> = simulator
            .received()
            .into_iter()
            .filter(|r| r.path.ends_with("/executions"))
            .collect();
        assert_eq!(data_requests.len(), pages, "{style:?}");
        assert!(
            data_requests.iter().all(|r| r.query.contains("limit=200")),
            "{style:?}"
        );
        assert!(data_requests[0]
            .query
            .contains("periodsToInclude=current&periodsToInclude=previous"));
    }
}

#[tokio::test]
async fn a_throttled_page_is_waited_out_as_retry_after_asks() {
    let simulator = QlikSimulator::new(tenant(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    simulator.faults().inject(
        When::Page(2),
        Fault::Throttle {
            retry_after: "1".into(),
        },
        1,
    );
    let exporter = TestExporter::start(&format!(
        "sources:\n{}",
        qlik_source("acme", &running.url(), "    page_size: 2\n")
    ))
    .await;
    let started = std::time::Instant::now();
    assert!(exporter.poll(0).await);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the Retry-After wait was skipped"
    );
    let m = exporter.scrape().await;
    let health = [("source", "acme"), ("vendor", "qlik")];
    assert_eq!(
        m.get("consumption_source_throttled_total", &health),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            "consumption_source_requests_total",
            &[
                ("source", "acme"),
                ("vendor", "qlik"),
                ("api_endpoint", "usage"),
                ("code", "429")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.get("consumption_qlik_local_usage", &labels(RELOAD, "current")),
        Some(500.0)
    );
}

#[tokio::test]
async fn a_poll_failing_on_its_last_page_publishes_nothing_and_keeps_the_previous_snapshot() {
    let simulator = QlikSimulator::new(tenant(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    let extra = "    page_size: 2\n    max_retries: 1\n";
    let exporter = TestExporter::start(&format!(
        "sources:\n{}",
        qlik_source("acme", &running.url(), extra)
    ))
    .await;
    assert!(exporter.poll(0).await);

    // New data whose first pages would change the sums, and a last page that keeps failing.
    let mut changed = fixture_records();
    changed[0]["localUsage"] = json!(9999);
    simulator.set_records(changed);
    simulator
        .faults()
        .inject(When::Page(3), Fault::Status(500), 2);
    assert!(!exporter.poll(0).await);

    let m = exporter.scrape().await;
    let health = [("source", "acme"), ("vendor", "qlik")];
    assert_eq!(m.get("consumption_source_up", &health), Some(0.0));
    assert_eq!(
        m.get("consumption_qlik_local_usage", &labels(RELOAD, "current")),
        Some(500.0)
    );
    assert_eq!(
        m.get(
            "consumption_source_errors_total",
            &[
                ("source", "acme"),
                ("vendor", "qlik"),
                ("reason", "server_error")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            "consumption_source_requests_total",
            &[
                ("source", "acme"),
                ("vendor", "qlik"),
                ("api_endpoint", "usage"),
                ("code", "500")
            ]
        ),
        Some(2.0)
    );

    // The next good poll publishes the new data.
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    assert_eq!(
        m.get("consumption_qlik_local_usage", &labels(RELOAD, "current")),
        Some(9999.0 + 380.0)
    );
    assert_eq!(m.get("consumption_source_up", &health), Some(1.0));
}

#[tokio::test]
async fn data_expires_after_max_age_while_health_series_stay() {
    let simulator = QlikSimulator::new(tenant(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    let extra = "    interval: 1s\n    max_age: 2s\n    max_retries: 0\n";
    let exporter = RunningExporter::start(&format!(
        "sources:\n{}",
        qlik_source("acme", &running.url(), extra)
    ))
    .await;
    let health = [("source", "acme"), ("vendor", "qlik")];
    exporter
        .scrape_until(Duration::from_secs(10), |m| {
            m.get("consumption_source_up", &health) == Some(1.0)
        })
        .await;

    simulator
        .faults()
        .inject(When::Next, Fault::Status(503), usize::MAX);
    let failing = exporter
        .scrape_until(Duration::from_secs(10), |m| {
            m.get("consumption_source_up", &health) == Some(0.0)
        })
        .await;
    // Failing, but younger than max_age: the last good data is still served... unless the
    // scrape landed after it had already expired, which the next assertion covers either way.
    if failing.get("consumption_source_series", &health) != Some(0.0) {
        assert_eq!(
            failing.get("consumption_qlik_local_usage", &labels(RELOAD, "current")),
            Some(500.0)
        );
    }
    let expired = exporter
        .scrape_until(Duration::from_secs(10), |m| {
            m.count("consumption_qlik_local_usage") == 0
        })
        .await;
    assert_eq!(expired.get("consumption_source_up", &health), Some(0.0));
    assert_eq!(expired.get("consumption_source_series", &health), Some(0.0));
    assert!(expired
        .get("consumption_source_last_success_timestamp_seconds", &health)
        .is_some());
    assert_eq!(expired.count("consumption_qlik_tenant_overage"), 0);
}

fn oauth_source(url: &str) -> String {
    format!("sources:\n  - name: acme\n    type: qlik\n    base_url: {url}\n    oauth2:\n      client_id: qlik-sim-client\n      client_secret: qlik-sim-secret\n    page_size: 2\n")
}

#[tokio::test]
async fn an_oauth_token_is_fetched_once_and_reused_across_pages_and_polls() {
    let simulator = QlikSimulator::new(tenant(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&oauth_source(&running.url())).await;
    assert!(exporter.poll(0).await);
    assert!(exporter.poll(0).await);
    assert_eq!(simulator.tokens_issued(), 1);
    let data: Vec<_> = simulator
        .received()
        .into_iter()
        .filter(|r| r.path.ends_with("/executions"))
        .collect();
    assert_eq!(data.len(), 6);
    assert!(data.iter().all(|r| r
        .authorization
        .as_deref()
        .is_some_and(|a| a.starts_with("Bearer qlik-sim-token-"))));
}

#[tokio::test]
async fn a_401_mid_poll_refreshes_the_token_once_and_the_poll_succeeds() {
    let simulator = QlikSimulator::new(tenant(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&oauth_source(&running.url())).await;
    simulator
        .faults()
        .inject(When::Page(2), Fault::Status(401), 1);
    assert!(exporter.poll(0).await);
    assert_eq!(simulator.tokens_issued(), 2);
}

#[tokio::test]
async fn a_rejected_client_secret_fails_the_poll_with_a_token_error() {
    let simulator = QlikSimulator::new(
        QlikTenant {
            client_secret: "another".into(),
            ..tenant()
        },
        fixture_records(),
    );
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&oauth_source(&running.url())).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.store.slots()[0].state().last_error.unwrap();
    assert!(
        error.contains("source acme (qlik)")
            && error.contains("/oauth/token")
            && error.contains("401"),
        "{error}"
    );
    assert!(
        !error.contains("qlik-sim-secret"),
        "the secret leaked: {error}"
    );
    let m = exporter.scrape().await;
    assert_eq!(
        m.get(
            "consumption_source_errors_total",
            &[("source", "acme"), ("vendor", "qlik"), ("reason", "token")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn qlik_errors_reach_the_user_with_their_code_detail_and_trace_id() {
    let simulator = QlikSimulator::new(tenant(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    simulator
        .faults()
        .inject(When::Page(1), Fault::Status(403), 1);
    let exporter = TestExporter::start(&format!(
        "sources:\n{}",
        qlik_source("acme", &running.url(), "")
    ))
    .await;
    assert!(!exporter.poll(0).await);
    let error = exporter.store.slots()[0].state().last_error.unwrap();
    for part in [
        "source acme (qlik)",
        "page 1",
        "HTTP 403",
        "HTTP-403 Forbidden (simulated fault)",
        "traceId 5ce1c5b5d1f0a0b7",
        "lacks what usage needs: a Machine-to-machine OAuth client (it has the Tenant Admin role)",
    ] {
        assert!(error.contains(part), "{part:?} missing from: {error}");
    }
    let page = crate::helpers::get(&exporter.url("/")).await;
    assert!(
        page.contains("HTTP-403"),
        "the landing page shows the error: {page}"
    );
}

mod against_a_qlik_shaped_server {
    //! A server answering exactly as qlik.dev's reference shows (its example record, its
    //! `links.next` naming `localhost:8787`), built with wiremock instead of our simulator.

    use super::*;
    use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn documented_page(next: Option<Value>) -> Value {
        let mut body = json!({
            "totalCount": 2, "currentPageCount": 1,
            "data": [{
                "unit": "string", "scope": ["tenant", "resourceType"], "userId": "string", "blocked": false,
                "overage": false, "segments": [{"QDI": 10}, {"APP": 10}], "taskName": "task_name", "tenantId": "string",
                "periodEnd": "2022-01-31", "localUsage": 20, "periodType": "month",
                "resourceId": "228ac375-086e-4652-b9c0-fa8689bac75f", "updateTime": "string",
                "enforcement": [{"resourceType": "string", "actionToBlock": "string"}], "globalUsage": 29,
                "periodStart": "2022-01-01", "resourceType": "app", "scopeMapping": "string", "capacityLimit": 50,
                "closeToOverage": false, "customerFacing": true, "guardrailLimit": 20, "resourceAction": "reload",
                "taskDescription": "some description", "blockedEventTime": "string", "overageEventTime": "string",
                "consumptionReportId": "01xQ1chLoHkOikyzUGcHJquteNrAfketW"
            }],
            "links": {"self": {"href": "http://localhost:8787/v1/items/5da5825325dc9a0dd0260af9"}},
            "overage": false, "closeToOverage": false, "globalUsageAvailable": true
        });
        if let Some(next) = next {
            body["links"]["next"] = next;
        }
        body
    }

    #[tokio::test]
    async fn the_documented_response_is_read_and_the_next_token_used_on_the_tenant_host() {
        let server = MockServer::start().await;
        let token = "JwAAAAJfaWQAGQAAADVjZjUwM2NjMjVkYzlhMTM1MzYwZTVjZAAA";
        let next = json!({"href": "http://localhost:8787/v1/items?limit=12", "type": "next", "token": token});
        Mock::given(method("GET"))
            .and(path("/api/v1/consumption/executions"))
            .and(query_param_is_missing("page"))
            .and(header("authorization", "Bearer my-api-key"))
            .respond_with(ResponseTemplate::new(200).set_body_json(documented_page(Some(next))))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/consumption/executions"))
            .and(query_param("page", token))
            .respond_with(ResponseTemplate::new(200).set_body_json(documented_page(None)))
            .expect(1)
            .mount(&server)
            .await;
        let yaml = format!(
            "sources:\n  - name: acme\n    type: qlik\n    base_url: {}\n    authorization:\n      credentials: my-api-key\n",
            server.uri()
        );
        let exporter = TestExporter::start(&yaml).await;
        assert!(exporter.poll(0).await);
        let m = exporter.scrape().await;
        let labels = labels(("app", "reload", "month", "string"), "previous");
        assert_eq!(m.get("consumption_qlik_local_usage", &labels), Some(40.0));
        assert_eq!(m.get("consumption_qlik_global_usage", &labels), Some(58.0));
        assert_eq!(
            m.get("consumption_qlik_capacity_limit", &labels),
            Some(100.0)
        );
        assert_eq!(
            m.get("consumption_qlik_guardrail_limit", &labels),
            Some(40.0)
        );
        assert_eq!(
            m.get("consumption_qlik_period_end_timestamp_seconds", &labels),
            Some(midnight(2022, 2, 1))
        );
        // "updateTime": "string" is not a time: no as-of time rather than a wrong one.
        assert_eq!(
            m.get(
                "consumption_source_data_updated_timestamp_seconds",
                &[("source", "acme"), ("vendor", "qlik")]
            ),
            None
        );
    }

    /// Every form an `href` without a token can take. An absolute one names another host in
    /// Qlik's own examples, so only its path is kept, on the tenant host; relative ones are
    /// resolved against the page that carried them (RFC 3986 §5).
    #[tokio::test]
    async fn a_next_href_in_every_form_is_fetched_where_it_points() {
        const LIST: &str = "/api/v1/consumption/executions";
        let forms = [
            (
                "http://localhost:8787/api/v1/consumption/executions?page=2",
                LIST,
            ),
            (
                "/api/v2/consumption/executions?page=2",
                "/api/v2/consumption/executions",
            ),
            ("executions?limit=200&page=2", LIST),
            ("./more?page=2", "/api/v1/consumption/more"),
            ("../usage/executions?page=2", "/api/v1/usage/executions"),
            ("?page=2", LIST),
        ];
        for (href, expected_path) in forms {
            let server = MockServer::start().await;
            Mock::given(method("GET"))
                .and(path(LIST))
                .and(query_param_is_missing("page"))
                .respond_with(
                    ResponseTemplate::new(200).set_body_json(documented_page(Some(
                        json!({"href": href, "type": "next"}),
                    ))),
                )
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(expected_path))
                .and(query_param("page", "2"))
                .respond_with(ResponseTemplate::new(200).set_body_json(documented_page(None)))
                .expect(1)
                .mount(&server)
                .await;
            let yaml = format!("sources:\n{}", qlik_source("acme", &server.uri(), ""));
            let exporter = TestExporter::start(&yaml).await;
            assert!(
                exporter.poll(0).await,
                "{href}: {:?}",
                exporter.store.slots()[0].state().last_error
            );
            server.verify().await;
        }
    }

    #[tokio::test]
    async fn a_scheme_relative_href_to_another_host_is_refused() {
        let server = MockServer::start().await;
        let next = json!({"href": "//elsewhere.example/api/v1/consumption/executions?page=2"});
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(documented_page(Some(next))))
            .expect(1)
            .mount(&server)
            .await;
        let yaml = format!("sources:\n{}", qlik_source("acme", &server.uri(), ""));
        let exporter = TestExporter::start(&yaml).await;
        assert!(!exporter.poll(0).await);
        let labels = [
            ("source", "acme"),
            ("vendor", "qlik"),
            ("reason", "foreign_link"),
        ];
        let m = exporter.scrape().await;
        assert_eq!(m.get("consumption_source_errors_total", &labels), Some(1.0));
    }

    #[tokio::test]
    async fn qlik_429_with_its_documented_body_is_waited_out() {
        let server = MockServer::start().await;
        let throttled = json!({"errors":[{"code":"HTTP-429","title":"API rate limit reached.","detail":"You need to wait 1 seconds until limit is lifted."}]});
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", "1")
                    .set_body_json(throttled),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(documented_page(None)))
            .mount(&server)
            .await;
        let yaml = format!("sources:\n  - name: acme\n    type: qlik\n    base_url: {}\n    authorization:\n      credentials: k\n", server.uri());
        let exporter = TestExporter::start(&yaml).await;
        assert!(exporter.poll(0).await);
        let m = exporter.scrape().await;
        assert_eq!(
            m.get(
                "consumption_source_throttled_total",
                &[("source", "acme"), ("vendor", "qlik")]
            ),
            Some(1.0)
        );
    }
}

/// A cursor that points back at a page already read ends the poll with
/// `reason="pagination_loop"` instead of polling forever.
#[tokio::test]
async fn a_qlik_cursor_that_repeats_is_stopped() {
    use serde_json::json;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let body = json!({"data": [], "totalCount": 0, "currentPageCount": 0, "links": {"next": {"href": "/api/v1/consumption/executions?page=same", "token": "same"}}});
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let yaml = format!("sources:\n  - name: victim\n    type: qlik\n    base_url: {}\n    authorization:\n      credentials: k\n", server.uri());
    assert_loop_detected(&yaml, "qlik").await;
    assert!(
        server.received_requests().await.unwrap().len() <= 3,
        "stopped at the first repeat"
    );
}

fn allotment(m: &crate::helpers::Exposition, name: &str, family: &str) -> Option<f64> {
    let labels = [
        ("source", "acme"),
        ("vendor", "qlik"),
        ("budget", name),
        ("unit", "units"),
        ("origin", "vendor"),
    ];
    m.get(&format!("consumption_budget_{family}"), &labels)
}

#[tokio::test]
async fn entitlements_serve_the_licence_allotments_overage_and_validity() {
    let simulator = QlikSimulator::new(tenant(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    let yaml = format!(
        "sources:\n{}",
        qlik_source("acme", &running.url(), "    entitlements: true\n")
    );
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    for (name, units, used) in [
        ("allotment/professional", 200.0, 15.0),
        ("allotment/analyzer", 500.0, 480.0),
        ("allotment/analyzer_time", 300.0, 242.0),
    ] {
        assert_eq!(allotment(&m, name, "limit"), Some(units), "{name}");
        assert_eq!(allotment(&m, name, "used"), Some(used), "{name}");
        assert_eq!(allotment(&m, name, "overage"), Some(0.0), "{name}");
        assert_eq!(
            allotment(&m, name, "period_end_timestamp_seconds"),
            Some(midnight(2027, 1, 1))
        );
    }
    let overage = |name| {
        m.get(
            "consumption_qlik_allotment_overage_allowed",
            &[("source", "acme"), ("allotment", name)],
        )
    };
    assert_eq!(overage("analyzer"), Some(f64::INFINITY), "-1 is unbounded");
    assert_eq!(overage("analyzer_time"), Some(100.0));
    assert_eq!(overage("professional"), None, "not sent: absent, not 0");
    assert!(m.text.contains(
        "consumption_qlik_allotment_overage_allowed{source=\"acme\",allotment=\"analyzer\"} +Inf"
    ));
    assert_eq!(
        m.get("consumption_qlik_license_valid", &[("source", "acme")]),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            "consumption_qlik_license_end_timestamp_seconds",
            &[("source", "acme")]
        ),
        Some(midnight(2027, 1, 1))
    );
    assert!(
        !m.text.contains("license-key"),
        "the licence key is never served"
    );
}

#[tokio::test]
async fn an_expired_licence_is_not_valid_and_a_refused_overview_names_the_role() {
    use consumption_exporter::simulator::qlik::QlikLicense;
    let expired = QlikTenant {
        license: QlikLicense {
            status: "Expired".into(),
            ..QlikLicense::default()
        },
        ..tenant()
    };
    let running = QlikSimulator::new(expired, fixture_records())
        .start(0)
        .await
        .unwrap();
    let yaml = format!(
        "sources:\n{}",
        qlik_source("acme", &running.url(), "    entitlements: true\n")
    );
    let exporter = TestExporter::start(&yaml).await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    assert_eq!(
        m.get("consumption_qlik_license_valid", &[("source", "acme")]),
        Some(0.0)
    );

    let forbidden = QlikTenant {
        license_forbidden: true,
        ..tenant()
    };
    let running = QlikSimulator::new(forbidden, fixture_records())
        .start(0)
        .await
        .unwrap();
    let yaml = format!(
        "sources:\n{}",
        qlik_source(
            "acme",
            &running.url(),
            "    entitlements: true\n    max_retries: 0\n"
        )
    );
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("HTTP 403") && error.contains("Tenant Admin"),
        "{error}"
    );
    let m = exporter.scrape().await;
    assert_eq!(m.count("consumption_qlik_local_usage"), 0, "all or nothing");
}

#[tokio::test]
async fn the_documented_licence_overview_is_read() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/consumption/executions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": [], "links": {}, "totalCount": 0, "currentPageCount": 0}),
        ))
        .mount(&server)
        .await;
    // qlik.dev's example allotments (vendor-limits.md §4.1).
    Mock::given(method("GET"))
        .and(path("/api/v1/licenses/overview"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "licenseNumber": "0000000000000000", "product": "Qlik Cloud", "status": "Ok", "trial": false,
            "valid": "2026-01-01T00:00:00Z/2027-01-01T00:00:00Z", "licenseKey": "documented-secret-key",
            "allotments": [
                {"name": "analyzer_time", "units": 300, "overage": 100, "unitsUsed": 242, "usageClass": "time"},
                {"name": "professional", "units": 200, "unitsUsed": 15, "usageClass": "assigned"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let yaml = format!(
        "sources:\n{}",
        qlik_source("acme", &server.uri(), "    entitlements: true\n")
    );
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    assert_eq!(
        allotment(&m, "allotment/analyzer_time", "used"),
        Some(242.0)
    );
    assert_eq!(
        allotment(&m, "allotment/professional", "limit"),
        Some(200.0)
    );
    assert_eq!(
        m.get("consumption_qlik_license_valid", &[("source", "acme")]),
        Some(1.0)
    );
    assert!(!m.text.contains("documented-secret-key"));
}

#[tokio::test]
async fn the_bytes_each_source_reads_from_its_vendor_are_counted() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let page = r#"{"data":[],"links":{},"overage":false,"totalCount":0,"currentPageCount":0}"#;
    let refused = r#"{"errors":[{"code":"HTTP-404","title":"Not Found"}]}"#;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(page, "application/json"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(refused, "application/json"))
        .mount(&server)
        .await;
    let yaml = format!(
        "sources:\n{}",
        qlik_source("acme", &server.uri(), "    max_retries: 0\n")
    );
    let exporter = TestExporter::start(&yaml).await;
    let bytes = |m: &crate::helpers::Exposition| {
        m.get(
            "consumption_source_response_bytes_total",
            &[
                ("source", "acme"),
                ("vendor", "qlik"),
                ("api_endpoint", "usage"),
            ],
        )
    };
    assert_eq!(bytes(&exporter.scrape().await), Some(0.0));
    assert!(exporter.poll(0).await);
    assert_eq!(bytes(&exporter.scrape().await), Some(page.len() as f64));
    assert!(exporter.poll(0).await);
    assert!(!exporter.poll(0).await, "the third answer is a 404");
    assert_eq!(
        bytes(&exporter.scrape().await),
        Some((2 * page.len() + refused.len()) as f64),
        "a refused answer's body is traffic too"
    );
}

#[tokio::test]
async fn seats_count_twenty_thousand_assignments_through_internal_host_links() {
    use consumption_exporter::simulator::qlik::assignment;
    let tenant = QlikTenant {
        assignments: 20_000,
        ..QlikTenant::default()
    };
    let simulator = QlikSimulator::new(tenant.clone(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    let yaml = format!(
        "sources:\n{}",
        qlik_source("acme", &running.url(), "    seats: true\n")
    );
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;

    let mut expected: BTreeMap<&str, [f64; 3]> = BTreeMap::new();
    for i in 0..tenant.assignments {
        let (_, kind, excess, orphan) = assignment(i);
        let counts = expected.entry(kind.unwrap_or("unknown")).or_default();
        counts[0] += 1.0;
        counts[1] += f64::from(u8::from(excess));
        counts[2] += f64::from(u8::from(orphan));
    }
    assert!(
        expected["unknown"][0] > 0.0,
        "qlik.dev's odd items are in the data"
    );
    for (kind, [all, excess, orphan]) in &expected {
        for (which, count) in [("all", all), ("excess", excess), ("orphan", orphan)] {
            let labels = [("source", "acme"), ("type", *kind), ("kind", which)];
            assert_eq!(
                m.get("consumption_qlik_license_assignments", &labels),
                Some(*count),
                "{kind} {which}"
            );
        }
    }
    // The internal host of every next link was never asked: each page came from the tenant.
    let pages = simulator
        .received()
        .iter()
        .filter(|r| r.path == "/api/v1/licenses/assignments")
        .count();
    let orphans = expected.values().map(|c| c[2]).sum::<f64>() as usize;
    assert_eq!(pages, 20_000 / 100 + orphans.div_ceil(100));
    // Seats are the assigned allotments of the overview; its time allotment is capacity.
    let seats = |family: &str, licence: &str| {
        m.get(
            family,
            &[("source", "acme"), ("vendor", "qlik"), ("licence", licence)],
        )
    };
    for (name, units, used, _, class) in &tenant.license.allotments {
        let expected = (class == "assigned").then_some(*units as f64);
        assert_eq!(
            seats("consumption_seats_purchased", name),
            expected,
            "{name}"
        );
        let expected = (class == "assigned").then_some(*used as f64);
        assert_eq!(
            seats("consumption_seats_assigned", name),
            expected,
            "{name}"
        );
    }
    assert_eq!(
        m.count("consumption_seats_idle"),
        0,
        "Qlik's licences hold no activity"
    );
    // Read for seats alone (no entitlements), the licence's end is a renewal: the end of its
    // last valid day, as ConsumptionRenewalDue reads it.
    let (_, last_day) = tenant.license.valid;
    let end_of_last_day = last_day.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap();
    assert_eq!(
        m.get(
            "consumption_licence_end_timestamp_seconds",
            &[
                ("source", "acme"),
                ("vendor", "qlik"),
                ("licence", "Qlik Cloud licence")
            ],
        ),
        Some(end_of_last_day.and_utc().timestamp() as f64)
    );
}

#[tokio::test]
async fn refused_assignments_name_the_role() {
    let tenant = QlikTenant {
        license_forbidden: true,
        ..QlikTenant::default()
    };
    let running = QlikSimulator::new(tenant, fixture_records())
        .start(0)
        .await
        .unwrap();
    let yaml = format!(
        "sources:\n{}",
        qlik_source(
            "acme",
            &running.url(),
            "    seats: true\n    max_retries: 0\n"
        )
    );
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("HTTP 403") && error.contains("Tenant Admin"),
        "{error}"
    );
}

#[tokio::test]
async fn seat_activity_reads_both_session_event_names_and_idles_who_has_none() {
    use consumption_exporter::model::clock::FixedClock;
    use consumption_exporter::simulator::qlik::{assignment, last_session};
    let today = NaiveDate::from_ymd_opt(2027, 5, 20).unwrap();
    let tenant = QlikTenant {
        assignments: 20_000,
        today,
        ..QlikTenant::default()
    };
    let simulator = QlikSimulator::new(tenant.clone(), fixture_records());
    let running = simulator.start(0).await.unwrap();
    let now = today.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let yaml = format!(
        "sources:\n{}",
        qlik_source(
            "acme",
            &running.url(),
            "    seats: true\n    seat_activity: true\n    idle_after: 30d\n"
        )
    );
    let exporter =
        TestExporter::start_with_clock(&yaml, std::sync::Arc::new(FixedClock::new(now))).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let mut expected: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for i in 0..tenant.assignments {
        let (_, kind, _, _) = assignment(i);
        let idle =
            last_session(today, i).is_none_or(|(at, _)| now - at >= chrono::Duration::days(30));
        let entry = expected.entry(kind.unwrap_or("unknown")).or_default();
        entry.0 += 1.0;
        entry.1 += f64::from(u8::from(idle));
    }
    for (licence, (assigned, idle)) in &expected {
        let seats = |family: &str| {
            m.get(
                family,
                &[
                    ("source", "acme"),
                    ("vendor", "qlik"),
                    ("licence", *licence),
                ],
            )
        };
        assert_eq!(
            seats("consumption_seats_assigned"),
            Some(*assigned),
            "{licence}"
        );
        assert_eq!(seats("consumption_seats_idle"), Some(*idle), "{licence}");
        assert_eq!(
            seats("consumption_seats_active"),
            Some(assigned - idle),
            "{licence}"
        );
    }
    let professional = tenant
        .license
        .allotments
        .iter()
        .find(|a| a.0 == "professional")
        .unwrap();
    assert_eq!(
        m.get(
            "consumption_seats_purchased",
            &[
                ("source", "acme"),
                ("vendor", "qlik"),
                ("licence", "professional")
            ]
        ),
        Some(professional.1 as f64)
    );
    // Both event names were asked, with the audits' 90-day interval.
    let asked: Vec<String> = simulator
        .received()
        .into_iter()
        .filter(|r| r.path == "/api/v1/audits" && !r.query.contains("next="))
        .map(|r| r.query)
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked
        .iter()
        .any(|q| q.contains("com.qlik.core.user-session.begun")));
}

#[tokio::test]
async fn a_qlik_user_turns_idle_at_exactly_idle_after() {
    use consumption_exporter::model::clock::FixedClock;
    use consumption_exporter::simulator::qlik::{assignment, last_session};
    let today = NaiveDate::from_ymd_opt(2027, 5, 20).unwrap();
    let tenant = QlikTenant {
        assignments: 300,
        today,
        ..QlikTenant::default()
    };
    let running = QlikSimulator::new(tenant.clone(), fixture_records())
        .start(0)
        .await
        .unwrap();
    let (i, (last, _)) = (0..tenant.assignments)
        .find_map(|i| Some((i, last_session(today, i)?)))
        .unwrap();
    let kind = assignment(i).1.unwrap_or("unknown");
    let boundary = last + chrono::Duration::days(30);
    let clock = FixedClock::new(boundary);
    // Every poll reads the seats: the boundary between two polls is the point here.
    let yaml = format!(
        "sources:\n{}",
        qlik_source(
            "acme",
            &running.url(),
            "    seats: true\n    seat_activity: true\n    idle_after: 30d\n    inventory_interval: 0s\n"
        )
    );
    let exporter = TestExporter::start_with_clock(&yaml, std::sync::Arc::new(clock.clone())).await;
    let mut idle = Vec::new();
    for now in [boundary - chrono::Duration::seconds(1), boundary] {
        clock.set(now);
        exporter.assert_polls(0).await;
        let m = exporter.scrape().await;
        let expected = (0..tenant.assignments)
            .filter(|j| assignment(*j).1.unwrap_or("unknown") == kind)
            .filter(|j| {
                // The exporter asks for the sessions of the 90 days before now: a later one
                // (the simulated tenant's data runs to its own today) is not seen either.
                let seen =
                    |at: chrono::DateTime<Utc>| now - chrono::Duration::days(90) <= at && at < now;
                last_session(today, *j)
                    .filter(|(at, _)| seen(*at))
                    .is_none_or(|(at, _)| now - at >= chrono::Duration::days(30))
            })
            .count() as f64;
        let labels = [("source", "acme"), ("vendor", "qlik"), ("licence", kind)];
        assert_eq!(
            m.get("consumption_seats_idle", &labels),
            Some(expected),
            "{now}"
        );
        idle.push(expected);
    }
    assert!(
        idle[1] > idle[0],
        "the user turned idle at exactly 30 days: {idle:?}"
    );
}

/// A hostile vendor's answers: each repeats what it was sent, the token request's form and
/// the request's `Authorization` header, in its error text. (The scrub is the HTTP layer's,
/// vendor-blind; Qlik takes both a static key and OAuth2, so one vendor tries both.)
struct Echo {
    status: u16,
}

impl wiremock::Respond for Echo {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let authorization = request
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        let form = String::from_utf8_lossy(&request.body);
        let said = format!("you sent {form} with Authorization: {authorization}");
        let body = serde_json::json!({"error": "invalid_client", "error_description": said,
            "errors": [{"title": said, "code": "ECHO"}]});
        wiremock::ResponseTemplate::new(self.status).set_body_json(body)
    }
}

#[tokio::test]
async fn a_secret_a_vendor_echoes_is_scrubbed_from_the_error_a_user_sees() {
    use wiremock::matchers::{method, path};
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Echo { status: 400 })
        .mount(&server)
        .await;
    // A 200 whose list is the header it got: the decoder's message quotes the value.
    wiremock::Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex("^/decoded/"))
        .respond_with(|request: &wiremock::Request| {
            let header = request.headers.get("authorization");
            let header = header.map(|v| v.to_str().unwrap_or_default().to_string());
            let body = serde_json::json!({"data": header, "totalCount": 0, "currentPageCount": 0});
            wiremock::ResponseTemplate::new(200).set_body_json(body)
        })
        .mount(&server)
        .await;
    wiremock::Mock::given(method("GET"))
        .respond_with(Echo { status: 403 })
        .mount(&server)
        .await;
    let url = server.uri();
    let secret = "s3cr3t+/=&value";
    let password = "pa ss+word";
    let yaml = format!(
        "sources:\n  - name: token\n    type: qlik\n    base_url: {url}\n    max_retries: 0\n    oauth2:\n      token_url: {url}/token\n      client_id: app\n      client_secret: \"{secret}\"\n  - name: static\n    type: qlik\n    base_url: {url}\n    max_retries: 0\n    authorization:\n      credentials: \"{password}\"\n  - name: decoded\n    type: qlik\n    base_url: {url}/decoded\n    max_retries: 0\n    authorization:\n      credentials: \"{password}\"\n"
    );
    let exporter = crate::helpers::TestExporter::start(&yaml).await;
    for (i, source) in ["token", "static", "decoded"].iter().enumerate() {
        assert!(!exporter.poll(i).await);
        let error = exporter.last_error(i);
        assert!(error.contains("<secret>"), "{source}: {error}");
        for leaked in [secret, password, "s3cr3t%2B", "pa+ss%2Bword", "pa%20ss"] {
            assert!(!error.contains(leaked), "{source}: {leaked:?} in {error}");
        }
    }
    let landing = crate::helpers::get(&format!("http://{}/", exporter.addr)).await;
    assert!(landing.contains("&lt;secret&gt;") || landing.contains("<secret>"));
    assert!(!landing.contains("s3cr3t") && !landing.contains("ss+word"));
}

/// Qlik's contract makes `data` optional on executions and audits pages: an empty result may
/// leave it out (the simulator does), and is read as no records, not as a broken answer; a
/// body without the required counts still is one.
#[tokio::test]
async fn pages_without_data_are_empty_results_and_a_body_without_counts_is_refused() {
    let empty = QlikTenant {
        assignments: 0,
        ..tenant()
    };
    let simulator = QlikSimulator::new(empty, Vec::new());
    let running = simulator.start(0).await.unwrap();
    let extra = "    seats: true\n    seat_activity: true\n    max_retries: 0\n";
    let yaml = format!("sources:\n{}", qlik_source("acme", &running.url(), extra));
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    assert_eq!(m.count("consumption_qlik_local_usage"), 0);
    let audits = simulator
        .received()
        .iter()
        .filter(|r| r.path == "/api/v1/audits")
        .count();
    assert_eq!(audits, 2, "both session event names were asked");

    simulator
        .faults()
        .inject(When::Next, Fault::answer(r#"{"data":[]}"#), 1);
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(error.contains("currentPageCount"), "{error}");
}

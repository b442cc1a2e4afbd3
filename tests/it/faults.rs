//! The fault suite: every source type against each vendor fault. For each, the poll fails
//! without a panic, `up` goes to 0 with the right `reason`, the last good data stays (nothing
//! partial), a healthy source beside it is untouched, and the next poll after the fault recovers.

use consumption_exporter::simulator::avepoint::{AvePointSimulator, AvePointTenant};
use consumption_exporter::simulator::dynatrace::{DynatraceAccount, DynatraceSimulator};
use consumption_exporter::simulator::powerplatform::{PowerPlatformSimulator, PowerPlatformTenant};
use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
use consumption_exporter::simulator::uipath::{UiPathOrganization, UiPathSimulator};
use consumption_exporter::simulator::{Fault, RunningSimulator, When};

use crate::helpers::{qlik_source, test_today, Exposition, TestExporter};

/// A running simulator of one vendor and the config entry for it, named `victim`.
struct Vendor {
    vendor: &'static str,
    entry: String,
    /// An answer with no data, and one with unexpected fields and records missing theirs.
    empty: &'static str,
    odd: &'static str,
    inject: Box<dyn Fn(When, Fault, usize) + Send + Sync>,
    clear: Box<dyn Fn() + Send + Sync>,
    _running: RunningSimulator,
}

/// What goes wrong, the faults injected for it, and the `reason` the exporter must report.
type FaultCase = (&'static str, Vec<(When, Fault)>, &'static str);

const LIMITS: &str = "    max_retries: 0\n    request_timeout: 300ms\n    poll_timeout: 5s\n    max_response_bytes: 2000000\n";

async fn vendors() -> Vec<Vendor> {
    let today = test_today();
    let mut all = Vec::new();

    let qlik = QlikSimulator::new(
        QlikTenant {
            today,
            ..QlikTenant::default()
        },
        generate_records(1, 2, today),
    );
    let running = qlik.start(0).await.unwrap();
    let entry = format!("  - name: victim\n    type: qlik\n    base_url: {}\n    oauth2:\n      client_id: qlik-sim-client\n      client_secret: qlik-sim-secret\n{LIMITS}", running.url());
    let (q, q2) = (qlik.clone(), qlik.clone());
    all.push(Vendor {
        vendor: "qlik",
        entry,
        empty: r#"{"totalCount":0,"currentPageCount":0,"data":[],"links":{}}"#,
        odd: r#"{"data":[{"surprise":1},{"resourceType":"app","localUsage":3}],"new":{"x":[1]}}"#,
        inject: Box::new(move |when, fault, times| q.faults().inject(when, fault, times)),
        clear: Box::new(move || q2.faults().clear()),
        _running: running,
    });

    let pp = PowerPlatformSimulator::new(PowerPlatformTenant {
        today,
        ..PowerPlatformTenant::default()
    });
    let running = pp.start(0).await.unwrap();
    let url = running.url();
    let entry = format!("  - name: victim\n    type: powerplatform\n    base_url: {url}\n    oauth2:\n      token_url: {url}/t/oauth2/v2.0/token\n      client_id: pp-sim-client\n      client_secret: pp-sim-secret\n{LIMITS}");
    let (p, p2) = (pp.clone(), pp.clone());
    all.push(Vendor {
        vendor: "powerplatform",
        entry,
        empty: r#"{"currentPage":1,"records":[]}"#,
        odd: r#"{"records":[{"unexpected":true},{"consumptionDate":"2026-11-22T01:00:00Z"}],"extra":1}"#,
        inject: Box::new(move |when, fault, times| p.faults().inject(when, fault, times)),
        clear: Box::new(move || p2.faults().clear()),
        _running: running,
    });

    let org = UiPathOrganization::default();
    let ui = UiPathSimulator::new(org.clone());
    let running = ui.start(0).await.unwrap();
    let entry = format!(
        "  - name: victim\n    type: uipath\n    base_url: {}\n    organization_id: {}\n    tenant_ids: [{}]\n    consumable_codes: [RU]\n    oauth2:\n      client_id: uipath-sim-app\n      client_secret: uipath-sim-secret\n{LIMITS}",
        running.url(), org.organization_id, org.tenant_ids[0]
    );
    let (u, u2) = (ui.clone(), ui.clone());
    all.push(Vendor {
        vendor: "uipath",
        entry,
        empty: r#"{"items":[]}"#,
        odd: r#"{"items":[{"surprise":1},{"date":"2026-11-22"}],"more":[]}"#,
        inject: Box::new(move |when, fault, times| u.faults().inject(when, fault, times)),
        clear: Box::new(move || u2.faults().clear()),
        _running: running,
    });

    let account = DynatraceAccount {
        today,
        ..DynatraceAccount::default()
    };
    let dt = DynatraceSimulator::new(account.clone());
    let running = dt.start(0).await.unwrap();
    let url = running.url();
    let entry = format!(
        "  - name: victim\n    type: dynatrace\n    base_url: {url}\n    account_uuid: {}\n    subscription_uuid: {}\n    page_size: 10\n    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n{LIMITS}",
        account.account_uuid, account.subscription_uuid, account.client_id, account.client_secret
    );
    let (d, d2) = (dt.clone(), dt.clone());
    all.push(Vendor {
        vendor: "dynatrace",
        entry,
        empty: r#"{"data":[],"lastModifiedTime":"2026-11-22T00:00:00Z","nextPageKey":null}"#,
        odd: r#"{"data":[{"usage":[{"value":1}]},{"environmentId":"e","usage":[{"startTime":"2026-11-22","surprise":"x"}]}],"nextPageKey":""}"#,
        inject: Box::new(move |when, fault, times| d.faults().inject(when, fault, times)),
        clear: Box::new(move || d2.faults().clear()),
        _running: running,
    });

    let ave = AvePointSimulator::new(AvePointTenant::default());
    let running = ave.start(0).await.unwrap();
    let url = running.url();
    let entry = format!("  - name: victim\n    type: avepoint\n    base_url: {url}\n    oauth2:\n      token_url: {url}/connect/token\n      client_id: avepoint-sim-app\n      client_secret: avepoint-sim-secret\n{LIMITS}");
    let (a, a2) = (ave.clone(), ave.clone());
    all.push(Vendor {
        vendor: "avepoint",
        entry,
        empty: r#"{"connectionUsageCloudFlows":[],"totalCount":0,"nextLink":""}"#,
        odd: r#"{"connectionUsageCloudFlows":[{"flowId":"f"},{"surprise":1}],"nextLink":null,"other":{}}"#,
        inject: Box::new(move |when, fault, times| a.faults().inject(when, fault, times)),
        clear: Box::new(move || a2.faults().clear()),
        _running: running,
    });
    all
}

fn health<'a>(m: &Exposition, source: &'a str, vendor: &'a str, family: &str) -> Option<f64> {
    m.get(family, &[("source", source), ("vendor", vendor)])
}

fn errors(m: &Exposition, vendor: &str, reason: &str) -> Option<f64> {
    m.get(
        "consumption_source_errors_total",
        &[("source", "victim"), ("vendor", vendor), ("reason", reason)],
    )
}

#[tokio::test]
async fn every_source_type_survives_every_vendor_fault_and_recovers() {
    let far_future = "Sun, 01 Jan 2090 00:00:00 GMT";
    let next = |fault| vec![(When::Next, fault)];
    let faults: [FaultCase; 10] = [
        ("a 500", next(Fault::Status(500)), "server_error"),
        (
            "a 429 asking for seconds past the poll timeout",
            next(Fault::Throttle {
                retry_after: "3600".into(),
            }),
            "throttled",
        ),
        (
            "a 429 with an HTTP date",
            next(Fault::Throttle {
                retry_after: far_future.into(),
            }),
            "throttled",
        ),
        (
            "a hung response",
            next(Fault::Delay(std::time::Duration::from_secs(2))),
            "timeout",
        ),
        (
            "malformed JSON",
            next(Fault::MalformedJson),
            "invalid_response",
        ),
        (
            "truncated JSON",
            next(Fault::TruncatedJson),
            "invalid_response",
        ),
        (
            "an HTML page",
            next(Fault::WrongContentType),
            "invalid_response",
        ),
        (
            "a body over max_response_bytes",
            next(Fault::Oversized(3_000_000)),
            "too_large",
        ),
        (
            "a connection reset mid-body",
            next(Fault::ResetMidBody),
            "connection",
        ),
        // A 401 mid-poll makes the exporter refresh its token, from an endpoint that is down.
        (
            "a 401 while the token endpoint is down",
            vec![
                (When::Next, Fault::Status(401)),
                (When::Token, Fault::Status(503)),
            ],
            "token",
        ),
    ];
    let bystander_sim = QlikSimulator::new(
        QlikTenant {
            today: test_today(),
            ..QlikTenant::default()
        },
        generate_records(9, 1, test_today()),
    );
    let bystander = bystander_sim.start(0).await.unwrap();
    for vendor in vendors().await {
        for (what, injections, reason) in &faults {
            let yaml = format!(
                "sources:\n{}{}",
                vendor.entry,
                qlik_source("bystander", &bystander.url(), "")
            );
            let exporter = TestExporter::start(&yaml).await;
            assert!(
                exporter.poll(0).await && exporter.poll(1).await,
                "{} {what}: the first polls",
                vendor.vendor
            );
            let before = exporter.scrape().await;
            let series = health(
                &before,
                "victim",
                vendor.vendor,
                "consumption_source_series",
            );

            for (when, fault) in injections {
                (vendor.inject)(*when, fault.clone(), usize::MAX);
            }
            assert!(
                !exporter.poll(0).await,
                "{} {what}: the poll should fail",
                vendor.vendor
            );
            assert!(
                exporter.poll(1).await,
                "{} {what}: the bystander still polls",
                vendor.vendor
            );
            let during = exporter.scrape().await;
            let context = format!(
                "{} {what}\n{}",
                vendor.vendor,
                exporter.store.slots()[0]
                    .state()
                    .last_error
                    .unwrap_or_default()
            );
            assert_eq!(
                health(&during, "victim", vendor.vendor, "consumption_source_up"),
                Some(0.0),
                "{context}"
            );
            assert_eq!(
                errors(&during, vendor.vendor, reason),
                Some(1.0),
                "{context}"
            );
            assert_eq!(
                health(
                    &during,
                    "victim",
                    vendor.vendor,
                    "consumption_source_series"
                ),
                series,
                "the last good data stays: {context}"
            );
            assert_eq!(
                health(&during, "bystander", "qlik", "consumption_source_up"),
                Some(1.0),
                "{context}"
            );

            (vendor.clear)();
            assert!(exporter.poll(0).await, "{context}: recovery");
            assert_eq!(
                health(
                    &exporter.scrape().await,
                    "victim",
                    vendor.vendor,
                    "consumption_source_up"
                ),
                Some(1.0),
                "{context}"
            );
        }
    }
}

#[tokio::test]
async fn every_source_type_reads_empty_and_unexpected_answers_as_data_not_failures() {
    for vendor in vendors().await {
        for (what, body) in [
            ("an empty result", vendor.empty),
            ("unexpected and missing fields", vendor.odd),
        ] {
            let exporter = TestExporter::start(&format!("sources:\n{}", vendor.entry)).await;
            (vendor.clear)();
            (vendor.inject)(
                When::Next,
                Fault::Custom {
                    status: 200,
                    body: body.to_string(),
                    retry_after: None,
                },
                usize::MAX,
            );
            let ok = exporter.poll(0).await;
            let context = format!(
                "{} {what}: {:?}",
                vendor.vendor,
                exporter.store.slots()[0].state().last_error
            );
            assert!(ok, "{context}");
            let m = exporter.scrape().await;
            assert_eq!(
                health(&m, "victim", vendor.vendor, "consumption_source_up"),
                Some(1.0),
                "{context}"
            );
            (vendor.clear)();
        }
        // A 401 in the middle of a poll: the token is refreshed once and the poll goes on.
        let exporter = TestExporter::start(&format!("sources:\n{}", vendor.entry)).await;
        assert!(exporter.poll(0).await);
        (vendor.inject)(When::Next, Fault::Status(401), 1);
        assert!(
            exporter.poll(0).await,
            "{}: a 401 mid-poll: {:?}",
            vendor.vendor,
            exporter.store.slots()[0].state().last_error
        );
        (vendor.clear)();
    }
}

mod cursors_that_never_end {
    //! Vendors whose cursor points back at a page already read: the poll ends with
    //! `reason="pagination_loop"` instead of polling forever.

    use super::*;
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    async fn assert_loop_detected(yaml: &str, vendor: &str) {
        let exporter = TestExporter::start(yaml).await;
        assert!(!exporter.poll(0).await);
        let error = exporter.store.slots()[0]
            .state()
            .last_error
            .unwrap_or_default();
        assert!(error.contains("pagination loop"), "{vendor}: {error}");
        let m = exporter.scrape().await;
        assert_eq!(errors(&m, vendor, "pagination_loop"), Some(1.0));
    }

    #[tokio::test]
    async fn a_qlik_cursor_that_repeats_is_stopped() {
        let server = MockServer::start().await;
        let body = json!({"data": [], "links": {"next": {"href": "/api/v1/consumption/executions?page=same", "token": "same"}}});
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

    #[tokio::test]
    async fn a_dynatrace_page_key_that_repeats_is_stopped() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/sso/oauth2/token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_token": "t", "expires_in": 300})),
            )
            .mount(&server)
            .await;
        let body =
            json!({"data": [], "lastModifiedTime": "2026-11-22T00:00:00Z", "nextPageKey": "again"});
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
        let yaml = format!(
            "sources:\n  - name: victim\n    type: dynatrace\n    base_url: {url}\n    account_uuid: a\n    subscription_uuid: s\n    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: c\n      client_secret: s\n",
            url = server.uri()
        );
        assert_loop_detected(&yaml, "dynatrace").await;
    }
}

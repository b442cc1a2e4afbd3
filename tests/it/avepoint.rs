//! The AvePoint source against its simulator over real HTTP, and against an AvePoint-shaped
//! server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use consumption_exporter::simulator::avepoint::{
    generate_rows, AvePointSimulator, AvePointTenant, LastPage, NextLink,
};
use consumption_exporter::simulator::{Fault, When};

use crate::helpers::{Exposition, TestExporter};

fn fixtures() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/client-certificate")
        .display()
        .to_string()
}

fn source(url: &str, extra: &str) -> String {
    format!(
        "sources:\n  - name: ave\n    type: avepoint\n    base_url: {url}\n    oauth2:\n      token_url: {url}/connect/token\n      client_id: avepoint-sim-app\n      client_secret: avepoint-sim-secret\n{extra}"
    )
}

/// The test's own count of distinct connections per (environment, flow).
fn expected(rows: &[(String, String, String)]) -> BTreeMap<(String, String), usize> {
    let mut sets: BTreeMap<(String, String), BTreeSet<&str>> = BTreeMap::new();
    for (flow, environment, connection) in rows {
        sets.entry((environment.clone(), flow.clone()))
            .or_default()
            .insert(connection);
    }
    sets.into_iter().map(|(k, v)| (k, v.len())).collect()
}

fn assert_connections(m: &Exposition, rows: &[(String, String, String)]) {
    let want = expected(rows);
    for ((environment, flow), count) in &want {
        let labels = [
            ("source", "ave"),
            ("environment_id", environment.as_str()),
            ("flow_id", flow.as_str()),
        ];
        assert_eq!(
            m.get("consumption_avepoint_flow_connections", &labels),
            Some(*count as f64),
            "{environment} {flow}"
        );
    }
    assert_eq!(m.count("consumption_avepoint_flow_connections"), want.len());
}

#[tokio::test]
async fn distinct_connections_per_flow_are_exact_for_every_kind_of_next_link() {
    let rows = generate_rows(3, 25);
    assert!(rows.len() > 40, "several pages of 8");
    for (next_link, last_page) in [
        (NextLink::Absolute, LastPage::EmptyString),
        (NextLink::Relative, LastPage::Null),
    ] {
        let simulator = AvePointSimulator::new(AvePointTenant {
            next_link,
            last_page,
            rows: rows.clone(),
            ..AvePointTenant::default()
        });
        let running = simulator.start(0).await.unwrap();
        let exporter = TestExporter::start(&source(&running.url(), "    page_size: 8\n")).await;
        assert!(
            exporter.poll(0).await,
            "{next_link:?}: {:?}",
            exporter.store.slots()[0].state().last_error
        );
        let m = exporter.scrape().await;
        assert_connections(&m, &rows);
        assert_eq!(
            m.get(
                "consumption_avepoint_connection_usage_records",
                &[("source", "ave")]
            ),
            Some(rows.len() as f64)
        );
        assert_eq!(
            simulator.queries().len(),
            rows.len().div_ceil(8),
            "{next_link:?}"
        );
        assert!(
            !simulator.queries()[0].contains("flowId"),
            "no flow_ids: one query for every flow"
        );
    }
}

#[tokio::test]
async fn each_configured_flow_is_queried_on_its_own() {
    let rows = generate_rows(4, 10);
    let flows: Vec<String> = rows
        .iter()
        .map(|r| r.0.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .take(2)
        .collect();
    let simulator = AvePointSimulator::new(AvePointTenant {
        rows: rows.clone(),
        ..AvePointTenant::default()
    });
    let running = simulator.start(0).await.unwrap();
    let extra = format!(
        "    flow_ids: [{}]\n    tenant: contoso\n",
        flows.join(", ")
    );
    let exporter = TestExporter::start(&source(&running.url(), &extra)).await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    let chosen: Vec<_> = rows
        .iter()
        .filter(|r| flows.contains(&r.0))
        .cloned()
        .collect();
    assert_connections(&m, &chosen);
    assert_eq!(
        m.get(
            "consumption_avepoint_connection_usage_records",
            &[("source", "ave")]
        ),
        Some(chosen.len() as f64)
    );
    let queries = simulator.queries();
    assert_eq!(queries.len(), 2);
    assert!(queries
        .iter()
        .all(|q| q.contains("tenant=contoso") && q.contains("top=1000")));
    assert!(
        queries[0].contains(&format!("flowId={}", flows[0]))
            && queries[1].contains(&format!("flowId={}", flows[1]))
    );
}

fn certificate_source(url: &str, key: &str) -> String {
    let dir = fixtures();
    format!(
        "sources:\n  - name: ave\n    type: avepoint\n    base_url: {url}\n    oauth2:\n      token_url: {url}/connect/token\n      client_id: avepoint-sim-app\n      client_certificate:\n        cert_file: {dir}/app.pem\n        key_file: {dir}/{key}\n"
    )
}

#[tokio::test]
async fn a_certificate_signed_assertion_authenticates_the_poll() {
    let certificate = std::fs::read_to_string(format!("{}/app.pem", fixtures())).unwrap();
    let rows = generate_rows(5, 4);
    let simulator = AvePointSimulator::new(AvePointTenant {
        certificate_pem: Some(certificate),
        rows: rows.clone(),
        ..AvePointTenant::default()
    });
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&certificate_source(&running.url(), "app.key")).await;
    exporter.assert_polls(0).await;
    assert_eq!(simulator.assertions_accepted(), 1);
    assert_connections(&exporter.scrape().await, &rows);
}

#[tokio::test]
async fn an_assertion_signed_by_another_key_is_refused() {
    let certificate = std::fs::read_to_string(format!("{}/app.pem", fixtures())).unwrap();
    let simulator = AvePointSimulator::new(AvePointTenant {
        certificate_pem: Some(certificate),
        ..AvePointTenant::default()
    });
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&certificate_source(&running.url(), "other.key")).await;
    assert!(!exporter.poll(0).await);
    assert_eq!(simulator.assertions_accepted(), 0);
    let error = exporter.store.slots()[0].state().last_error.unwrap();
    assert!(
        error.contains("/connect/token") && error.contains("invalid_client"),
        "{error}"
    );
    assert!(
        !error.contains("PRIVATE KEY"),
        "the key leaked into an error: {error}"
    );
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let simulator = AvePointSimulator::new(AvePointTenant {
        foreign_link_on_page: Some(2),
        ..AvePointTenant::default()
    });
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    page_size: 5\n")).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.store.slots()[0].state().last_error.unwrap();
    assert!(
        error.contains("page 2: refusing to follow a link to https://graph-elsewhere.example.net"),
        "{error}"
    );
    assert_eq!(
        simulator.queries().len(),
        2,
        "the foreign link was not followed"
    );
    let m = exporter.scrape().await;
    assert_eq!(
        m.get(
            "consumption_source_errors_total",
            &[
                ("source", "ave"),
                ("vendor", "avepoint"),
                ("reason", "foreign_link")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(m.count("consumption_avepoint_flow_connections"), 0);
}

#[tokio::test]
async fn a_next_link_seen_twice_ends_the_poll_instead_of_looping() {
    let simulator = AvePointSimulator::new(AvePointTenant {
        loop_on_page: Some(3),
        ..AvePointTenant::default()
    });
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    page_size: 5\n")).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.store.slots()[0].state().last_error.unwrap();
    assert!(error.contains("pagination loop"), "{error}");
    assert!(
        simulator.queries().len() <= 6,
        "stopped at the first repeated link"
    );
    let m = exporter.scrape().await;
    assert_eq!(
        m.get(
            "consumption_source_errors_total",
            &[
                ("source", "ave"),
                ("vendor", "avepoint"),
                ("reason", "pagination_loop")
            ]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn avepoint_errors_reach_the_user_with_request_and_trace_ids() {
    let simulator = AvePointSimulator::new(AvePointTenant::default());
    let running = simulator.start(0).await.unwrap();
    simulator
        .faults()
        .inject(When::Page(1), Fault::Status(500), 1);
    let exporter = TestExporter::start(&source(&running.url(), "    max_retries: 0\n")).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.store.slots()[0].state().last_error.unwrap();
    assert!(error.contains("simulated fault (statusCode 500, requestId sim-request-1, traceId 00-5ce1c5b5d1f0a0b7-01)"), "{error}");
}

mod against_an_avepoint_shaped_server {
    use super::*;
    use serde_json::json;
    use wiremock::matchers::{body_string_contains, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn the_documented_response_is_read() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/connect/token"))
            .and(body_string_contains("scope=enpower.data.read.all"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": "doc"})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/smp/powerplatform/connectionusage/cloudflows"))
            .and(query_param("top", "1000"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "connectionUsageCloudFlows": [
                    {"flowId": "f1", "environmentId": "Default-1", "connectionId": "c1"},
                    {"flowId": "f1", "environmentId": "Default-1", "connectionId": "c2"},
                    {"flowId": "f1", "environmentId": "Default-1", "connectionId": "c1"}
                ],
                "totalCount": 3, "nextLink": ""})))
            .expect(1)
            .mount(&server)
            .await;
        let exporter = TestExporter::start(&source(&server.uri(), "")).await;
        exporter.assert_polls(0).await;
        let m = exporter.scrape().await;
        assert_eq!(
            m.get(
                "consumption_avepoint_flow_connections",
                &[
                    ("source", "ave"),
                    ("environment_id", "Default-1"),
                    ("flow_id", "f1")
                ]
            ),
            Some(2.0)
        );
        assert_eq!(
            m.get(
                "consumption_avepoint_connection_usage_records",
                &[("source", "ave")]
            ),
            Some(3.0)
        );
    }

    /// Every form a `nextLink` can take, and where RFC 3986 §5 puts it: relative links are
    /// resolved against the page that carried them, not against `base_url`.
    #[tokio::test]
    async fn a_next_link_in_every_form_is_fetched_where_it_points() {
        use wiremock::matchers::query_param_is_missing;
        const LIST: &str = "/smp/powerplatform/connectionusage/cloudflows";
        let forms = [
            (
                "{uri}/smp/powerplatform/connectionusage/cloudflows?skip=9",
                LIST,
            ),
            ("/smp/v2/cloudflows?skip=9", "/smp/v2/cloudflows"),
            ("cloudflows?flowId=f&skip=9", LIST),
            ("./next?skip=9", "/smp/powerplatform/connectionusage/next"),
            (
                "../paged/cloudflows?skip=9",
                "/smp/powerplatform/paged/cloudflows",
            ),
            ("?skip=9", LIST),
        ];
        for (link, expected_path) in forms {
            let server = MockServer::start().await;
            let link = link.replace("{uri}", &server.uri());
            let row = |connection: &str| json!({"flowId": "f1", "environmentId": "e", "connectionId": connection});
            Mock::given(method("POST"))
                .and(path("/connect/token"))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_json(json!({"access_token": "t", "expires_in": 3600})),
                )
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(LIST))
                .and(query_param_is_missing("skip"))
                .respond_with(ResponseTemplate::new(200).set_body_json(
                    json!({"connectionUsageCloudFlows": [row("c1")], "totalCount": 2, "nextLink": link}),
                ))
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(expected_path))
                .and(query_param("skip", "9"))
                .respond_with(ResponseTemplate::new(200).set_body_json(
                    json!({"connectionUsageCloudFlows": [row("c2")], "totalCount": 2, "nextLink": ""}),
                ))
                .expect(1)
                .mount(&server)
                .await;
            let exporter = TestExporter::start(&source(&server.uri(), "")).await;
            assert!(
                exporter.poll(0).await,
                "{link}: {:?}",
                exporter.store.slots()[0].state().last_error
            );
            let m = exporter.scrape().await;
            let labels = [
                ("source", "ave"),
                ("environment_id", "e"),
                ("flow_id", "f1"),
            ];
            assert_eq!(
                m.get("consumption_avepoint_flow_connections", &labels),
                Some(2.0),
                "{link}: both pages were read"
            );
            server.verify().await;
        }
    }
}

#[tokio::test]
async fn ten_thousand_flows_and_apps_are_seats_per_environment_idle_at_idle_after() {
    use consumption_exporter::model::clock::FixedClock;
    use consumption_exporter::simulator::avepoint::inventory_item;
    let today = chrono::NaiveDate::from_ymd_opt(2027, 2, 1).unwrap();
    let tenant = AvePointTenant {
        inventory: 10_000,
        today,
        ..AvePointTenant::default()
    };
    let running = AvePointSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let now = today.and_hms_opt(6, 0, 0).unwrap().and_utc();
    let yaml = source(&running.url(), "    seats: true\n    idle_after: 30d\n");
    let exporter =
        TestExporter::start_with_clock(&yaml, std::sync::Arc::new(FixedClock::new(now))).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    // The test's own reading of the simulator's items: (licence, environment) -> (assigned, idle).
    let mut expected: BTreeMap<(&str, String), (f64, f64)> = BTreeMap::new();
    for (kind, licence) in [("flow", "cloud flow"), ("app", "premium app")] {
        for i in 0..tenant.inventory {
            let (_, environment, last, premium) = inventory_item(1, today, kind, i);
            if kind == "app" && !premium {
                continue;
            }
            let last = chrono::NaiveDateTime::parse_from_str(&last, "%Y-%m-%d %H:%M:%S").ok();
            let idle = last.is_none_or(|last| now - last.and_utc() >= chrono::Duration::days(30));
            let entry = expected.entry((licence, environment)).or_default();
            entry.0 += 1.0;
            entry.1 += f64::from(u8::from(idle));
        }
    }
    assert_eq!(expected.len(), 6, "two kinds in three environments");
    assert_eq!(m.count("consumption_seats_assigned"), expected.len());
    for ((licence, environment), (assigned, idle)) in &expected {
        let seats = |family: &str| {
            m.get(
                family,
                &[
                    ("source", "ave"),
                    ("vendor", "avepoint"),
                    ("licence", licence),
                    ("sub_account", environment),
                ],
            )
        };
        let licence = format!("{licence} in {environment}");
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
        assert!(
            *idle > 0.0 && *idle < *assigned,
            "{licence}: some idle, some not"
        );
    }
}

#[tokio::test]
async fn a_flow_turns_idle_at_exactly_idle_after() {
    use consumption_exporter::model::clock::FixedClock;
    use consumption_exporter::simulator::avepoint::inventory_item;
    let today = chrono::NaiveDate::from_ymd_opt(2027, 2, 1).unwrap();
    let tenant = AvePointTenant {
        inventory: 200,
        today,
        ..AvePointTenant::default()
    };
    let running = AvePointSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let (_, environment, last, _) = (0..tenant.inventory)
        .map(|i| inventory_item(1, today, "flow", i))
        .find(|(_, _, last, _)| !last.is_empty())
        .unwrap();
    let last = chrono::NaiveDateTime::parse_from_str(&last, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc();
    let boundary = last + chrono::Duration::days(30);
    let clock = FixedClock::new(boundary);
    // Every poll reads the seats: the boundary between two polls is the point here.
    let yaml = source(
        &running.url(),
        "    seats: true\n    idle_after: 30d\n    inventory_interval: 0s\n",
    );
    let exporter = TestExporter::start_with_clock(&yaml, std::sync::Arc::new(clock.clone())).await;
    let mut idle = Vec::new();
    for now in [boundary - chrono::Duration::seconds(1), boundary] {
        clock.set(now);
        exporter.assert_polls(0).await;
        let m = exporter.scrape().await;
        let expected = (0..tenant.inventory)
            .map(|i| inventory_item(1, today, "flow", i))
            .filter(|(_, e, _, _)| *e == environment)
            .filter(|(_, _, last, _)| {
                chrono::NaiveDateTime::parse_from_str(last, "%Y-%m-%d %H:%M:%S")
                    .map_or(true, |at| now - at.and_utc() >= chrono::Duration::days(30))
            })
            .count() as f64;
        let labels = [
            ("source", "ave"),
            ("vendor", "avepoint"),
            ("licence", "cloud flow"),
            ("sub_account", environment.as_str()),
        ];
        assert_eq!(
            m.get("consumption_seats_idle", &labels),
            Some(expected),
            "{now}"
        );
        idle.push(expected);
    }
    assert!(
        idle[1] > idle[0],
        "the flow turned idle at exactly 30 days: {idle:?}"
    );
}

#[tokio::test]
async fn cloud_backup_seats_are_bought_and_assigned_and_a_refusal_names_the_permission() {
    let tenant = AvePointTenant {
        backup_seats: Some((100, 47)),
        ..AvePointTenant::default()
    };
    let running = AvePointSimulator::new(tenant).start(0).await.unwrap();
    let yaml = source(
        &running.url(),
        "    seats: true\n    cloud_backup_seats: true\n",
    );
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let labels = [
        ("source", "ave"),
        ("vendor", "avepoint"),
        ("licence", "Cloud Backup for Microsoft 365"),
    ];
    assert_eq!(m.get("consumption_seats_purchased", &labels), Some(100.0));
    assert_eq!(m.get("consumption_seats_assigned", &labels), Some(47.0));
    assert_eq!(
        m.get("consumption_seats_idle", &labels),
        None,
        "no activity per seat"
    );

    let without = AvePointTenant {
        backup_seats: None,
        ..AvePointTenant::default()
    };
    let running = AvePointSimulator::new(without).start(0).await.unwrap();
    let yaml = source(
        &running.url(),
        "    seats: true\n    cloud_backup_seats: true\n    max_retries: 0\n",
    );
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("microsoft365backup.subscriptionInfo.read.all") && error.contains("404"),
        "{error}"
    );
    let refused = crate::helpers::parse_config_errors(&source(
        "http://127.0.0.1:1",
        "    cloud_backup_seats: true\n",
    ));
    assert!(refused.contains("set seats: true"), "{refused}");
}

/// Hostile Cloud Backup counts: `"NaN"` and `"1e999"` are no seat counts. The poll fails as
/// an invalid answer, never serving NaN or +Inf seats.
#[tokio::test]
async fn cloud_backup_seats_that_are_not_finite_numbers_fail_the_poll() {
    let tenant = AvePointTenant {
        inventory: 5,
        ..AvePointTenant::default()
    };
    let simulator = AvePointSimulator::new(tenant);
    // The flow and app listings answer as usual; the backup counts come as strings.
    let faults = simulator.faults();
    faults.inject(
        When::Entitlements,
        Fault::Delay(std::time::Duration::ZERO),
        2,
    );
    let hostile = r#"{"statusCode":200,"message":"Success","data":{"purchasedUserSeats":"NaN","assignedUserSeats":"1e999"}}"#;
    faults.inject(When::Entitlements, Fault::answer(hostile), 1);
    let running = simulator.start(0).await.unwrap();
    let yaml = source(
        &running.url(),
        "    seats: true\n    cloud_backup_seats: true\n    max_retries: 0\n",
    );
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("purchasedUserSeats is \"NaN\", not a finite number of seats"),
        "{error}"
    );
    let m = exporter.scrape().await;
    let reason = [
        ("source", "ave"),
        ("vendor", "avepoint"),
        ("reason", "invalid_response"),
    ];
    assert_eq!(m.get("consumption_source_errors_total", &reason), Some(1.0));
}

/// `cloud_backup_seats: true` asks for Cloud Backup's permission in the token request (a
/// token's scope is the permission it was requested for); written scopes are taken as they are.
#[tokio::test]
async fn cloud_backup_seats_ask_for_their_permission_unless_the_config_writes_scopes() {
    let running = AvePointSimulator::new(AvePointTenant::default())
        .start(0)
        .await
        .unwrap();
    let keys = "    seats: true\n    cloud_backup_seats: true\n    max_retries: 0\n";
    let exporter = TestExporter::start(&source(&running.url(), keys)).await;
    exporter.assert_polls(0).await;
    let written = source(&running.url(), keys).replace(
        "      client_secret: avepoint-sim-secret\n",
        "      client_secret: avepoint-sim-secret\n      scopes: [enpower.data.read.all]\n",
    );
    let exporter = TestExporter::start(&written).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("HTTP 403")
            && error.contains("microsoft365backup.subscriptionInfo.read.all"),
        "{error}"
    );
}

/// AvePoint's reference marks `flowId` "Required: Yes" while its text says all flows are
/// returned without it. Without `flow_ids` the exporter makes that documented call; a server
/// that enforces the parameter fails the poll saying to list the flows, and with `flow_ids`
/// the same server answers.
#[tokio::test]
async fn a_server_that_requires_flow_id_is_answered_with_flow_ids() {
    let rows = generate_rows(4, 10);
    let simulator = AvePointSimulator::new(AvePointTenant {
        rows: rows.clone(),
        flow_id_required: true,
        ..AvePointTenant::default()
    });
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    max_retries: 0\n")).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("HTTP 400") && error.contains("list the flows to read in flow_ids"),
        "{error}"
    );
    let flow = &rows[0].0;
    let extra = format!("    flow_ids: [{flow}]\n");
    let exporter = TestExporter::start(&source(&running.url(), &extra)).await;
    exporter.assert_polls(0).await;
    let only: Vec<_> = rows.iter().filter(|r| &r.0 == flow).cloned().collect();
    assert_connections(&exporter.scrape().await, &only);
}

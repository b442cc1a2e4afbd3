//! The Power Platform source against its simulator over real HTTP.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration as Days};
use consumption_exporter::simulator::powerplatform::{
    generated_record, FlowRecords, PastTheEnd, PowerPlatformSimulator, PowerPlatformTenant,
};
use consumption_exporter::simulator::{Fault, When};
use serde_json::{json, Value};

use crate::helpers::{test_today, TestExporter};

fn record(at: &str, env: &str, context: &str, category: &str, user: &str, units: u64) -> Value {
    json!({"consumptionDate": at, "consumptionUnits": units, "environmentId": env, "flowContext": context,
           "flowLicenseCategorization": category, "resourceId": format!("flow-{user}"), "tenantId": "t", "userId": user})
}

/// Today is 2026-11-22 (the test clock); sums below are worked out by hand.
fn fixture() -> Vec<Value> {
    vec![
        record("2026-11-22T08:00:00Z", "e1", "Premium", "Premium", "u1", 10),
        record("2026-11-22T09:00:00Z", "e1", "Premium", "Premium", "u2", 5),
        record("2026-11-21T12:00:00Z", "e1", "Premium", "Premium", "u1", 7),
        record(
            "2026-11-03T00:00:00Z",
            "e2",
            "Process",
            "Standard",
            "u3",
            100,
        ),
        record(
            "2026-10-31T23:00:00Z",
            "e2",
            "Process",
            "Standard",
            "u3",
            1000,
        ),
        record("2026-11-22T09:30:00Z", "e2", "Process", "Standard", "u3", 1),
    ]
}

fn tenant(records: Vec<Value>) -> PowerPlatformTenant {
    PowerPlatformTenant {
        today: test_today(),
        records: FlowRecords::Listed(records),
        ..PowerPlatformTenant::default()
    }
}

fn source(url: &str, extra: &str) -> String {
    format!(
        "sources:\n  - name: flows\n    type: powerplatform\n    base_url: {url}\n    oauth2:\n      token_url: {url}/contoso.onmicrosoft.com/oauth2/v2.0/token\n      client_id: pp-sim-client\n      client_secret: pp-sim-secret\n{extra}"
    )
}

/// The label set of environment e1's premium flows.
const PREMIUM_E1: [(&str, &str); 3] = [
    ("environment_id", "e1"),
    ("flow_context", "Premium"),
    ("flow_license_categorization", "Premium"),
];

fn units(m: &crate::helpers::Exposition, labels: &[(&str, &str)], window: &str) -> Option<f64> {
    let mut all = vec![("source", "flows"), ("window", window)];
    all.extend_from_slice(labels);
    m.get("consumption_powerplatform_flow_capacity_units", &all)
}

#[tokio::test]
async fn window_sums_are_exact_for_every_label_set_across_pages() {
    let simulator = PowerPlatformSimulator::new(tenant(fixture()));
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    page_size: 2\n")).await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    let premium = PREMIUM_E1;
    let process = [
        ("environment_id", "e2"),
        ("flow_context", "Process"),
        ("flow_license_categorization", "Standard"),
    ];
    for (labels, expected) in [(&premium, [15.0, 7.0, 22.0]), (&process, [1.0, 0.0, 101.0])] {
        for (window, value) in ["today", "yesterday", "month_to_date"]
            .into_iter()
            .zip(expected)
        {
            assert_eq!(
                units(&m, labels, window),
                Some(value),
                "{labels:?} {window}\n{}",
                m.text
            );
        }
    }
    assert_eq!(m.count("consumption_powerplatform_flow_capacity_units"), 6);
    let health = [("source", "flows"), ("vendor", "powerplatform")];
    let newest = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:30:00Z")
        .unwrap()
        .timestamp() as f64;
    assert_eq!(
        m.get("consumption_source_data_updated_timestamp_seconds", &health),
        Some(newest)
    );
    // Five records in range, two a page: a short page may be a server's cap, so the walk ends
    // at the fourth, answered 204.
    let queries = simulator.queries();
    assert_eq!(queries.len(), 4, "{queries:?}");
    assert!(queries[0].starts_with("api-version=2024-10-01&startDate=2026-11-01T00%3A00%3A00Z&endDate=2026-11-22T10%3A00%3A00Z"), "{}", queries[0]);
    assert!(
        queries[3].ends_with("pageNumber=4&pageSize=2"),
        "{}",
        queries[3]
    );
}

/// The contract has no total, no next link and no maximum page size: a server that caps
/// `pageSize` below what was asked sends short pages that are not the last. Every page is
/// read, to the empty one or the 204.
#[tokio::test]
async fn short_pages_from_a_server_side_cap_are_not_taken_for_the_last() {
    let records: Vec<Value> = (0..250)
        .map(|i| {
            record(
                "2026-11-22T08:00:00Z",
                "e1",
                "Premium",
                "Premium",
                &format!("u{i}"),
                1,
            )
        })
        .collect();
    for past_the_end in [PastTheEnd::NoContent, PastTheEnd::EmptyPage] {
        let simulator = PowerPlatformSimulator::new(PowerPlatformTenant {
            max_page_size: Some(100),
            past_the_end,
            ..tenant(records.clone())
        });
        let running = simulator.start(0).await.unwrap();
        let exporter = TestExporter::start(&source(&running.url(), "    page_size: 1000\n")).await;
        exporter.assert_polls(0).await;
        let m = exporter.scrape().await;
        let premium = PREMIUM_E1;
        assert_eq!(
            units(&m, &premium, "today"),
            Some(250.0),
            "{past_the_end:?}"
        );
    }
}

#[tokio::test]
async fn after_the_first_poll_only_the_unsettled_days_are_asked_for_with_the_same_sums() {
    let simulator = PowerPlatformSimulator::new(tenant(fixture()));
    let running = simulator.start(0).await.unwrap();
    // Every poll re-reads the unsettled days here; at the default recent_refresh_interval the
    // second poll, in the same hour, would read today alone (tests/it/incremental.rs).
    let every_poll = "    recent_refresh_interval: 0s\n";
    let exporter = TestExporter::start(&source(&running.url(), every_poll)).await;
    exporter.assert_polls(0).await;
    let first = exporter.scrape().await;
    exporter.assert_polls(0).await;
    let second = exporter.scrape().await;
    let queries = simulator.queries();
    // 10:00 on the 22nd: days that ended 3 days ago (the 18th and before) are settled.
    assert!(
        queries[0].contains("startDate=2026-11-01T00%3A00%3A00Z"),
        "{}",
        queries[0]
    );
    // Each poll reads its one page and the 204 after it.
    assert_eq!(queries.len(), 4, "{queries:?}");
    assert!(
        queries[2].contains("startDate=2026-11-19T00%3A00%3A00Z"),
        "{}",
        queries[2]
    );
    let units_of = |m: &crate::helpers::Exposition| -> Vec<String> {
        m.text
            .lines()
            .filter(|l| l.starts_with("consumption_powerplatform_flow_capacity_units{"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(units_of(&first), units_of(&second));
    assert!(!units_of(&first).is_empty());
}

#[tokio::test]
async fn opt_in_user_labels_and_filters_reach_the_series_and_the_query() {
    let simulator = PowerPlatformSimulator::new(tenant(fixture()));
    let running = simulator.start(0).await.unwrap();
    let extra = "    labels: [user_id]\n    filters: {flow_context: Premium}\n";
    let exporter = TestExporter::start(&source(&running.url(), extra)).await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    assert_eq!(units(&m, &[("user_id", "u1")], "today"), Some(10.0));
    assert_eq!(units(&m, &[("user_id", "u1")], "yesterday"), Some(7.0));
    assert_eq!(units(&m, &[("user_id", "u2")], "month_to_date"), Some(5.0));
    assert_eq!(
        units(&m, &[("user_id", "u3")], "month_to_date"),
        None,
        "filtered out by flowContext"
    );
    assert!(simulator.queries()[0].contains("flowContext=Premium"));
}

#[tokio::test]
async fn paging_ends_on_204_on_an_empty_page_and_from_page_zero() {
    let four = fixture()
        .into_iter()
        .filter(|r| r["userId"] != "u3" || r["consumptionUnits"] == 100)
        .collect::<Vec<_>>();
    assert_eq!(four.len(), 4);
    for (past_the_end, first_page) in [
        (PastTheEnd::NoContent, 1),
        (PastTheEnd::EmptyPage, 1),
        (PastTheEnd::NoContent, 0),
    ] {
        let simulator = PowerPlatformSimulator::new(PowerPlatformTenant {
            past_the_end,
            first_page,
            ..tenant(four.clone())
        });
        let running = simulator.start(0).await.unwrap();
        let extra = format!("    page_size: 2\n    first_page: {first_page}\n");
        let exporter = TestExporter::start(&source(&running.url(), &extra)).await;
        assert!(exporter.poll(0).await, "{past_the_end:?}");
        let m = exporter.scrape().await;
        let premium = PREMIUM_E1;
        assert_eq!(
            units(&m, &premium, "month_to_date"),
            Some(22.0),
            "{past_the_end:?}"
        );
        assert_eq!(
            simulator.queries().len(),
            3,
            "two full pages, then the end: {past_the_end:?}"
        );
        let status = if past_the_end == PastTheEnd::NoContent {
            "204"
        } else {
            "200"
        };
        let code = [
            ("source", "flows"),
            ("vendor", "powerplatform"),
            ("api_endpoint", "usage"),
            ("code", status),
        ];
        assert!(m
            .get("consumption_source_requests_total", &code)
            .is_some_and(|n| n >= 1.0));
    }
}

#[tokio::test]
async fn throttled_pages_are_waited_out_whether_429_or_a_burst_throttle_body() {
    let simulator = PowerPlatformSimulator::new(tenant(fixture()));
    let running = simulator.start(0).await.unwrap();
    simulator.faults().inject(
        When::Page(2),
        Fault::Throttle {
            retry_after: "1".into(),
        },
        1,
    );
    let burst = json!({"error": {"code": "BurstRequestsThrottled", "message": "Too many requests", "defaultUrlType": "x"}});
    simulator.faults().inject(
        When::Page(3),
        Fault::Custom {
            status: 400,
            body: burst.to_string(),
            retry_after: Some("1".into()),
        },
        1,
    );
    let exporter = TestExporter::start(&source(&running.url(), "    page_size: 2\n")).await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    assert_eq!(
        m.get(
            "consumption_source_throttled_total",
            &[("source", "flows"), ("vendor", "powerplatform")]
        ),
        Some(2.0)
    );
    let premium = PREMIUM_E1;
    assert_eq!(units(&m, &premium, "today"), Some(15.0));
}

#[tokio::test]
async fn microsoft_errors_reach_the_user() {
    let simulator = PowerPlatformSimulator::new(tenant(fixture()));
    let running = simulator.start(0).await.unwrap();
    simulator
        .faults()
        .inject(When::Page(1), Fault::Status(403), 1);
    let exporter = TestExporter::start(&source(&running.url(), "")).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.store.slots()[0].state().last_error.unwrap();
    assert!(
        error.contains("source flows (powerplatform)")
            && error.contains("HTTP 403")
            && error.contains("Forbidden: simulated fault"),
        "{error}"
    );
}

#[tokio::test]
async fn the_tenant_summary_serves_users_by_flow_context_and_status() {
    let simulator = PowerPlatformSimulator::new(tenant(fixture()));
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    tenant_summary: true\n")).await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    let users = |context, status| {
        m.get(
            "consumption_powerplatform_users",
            &[
                ("source", "flows"),
                ("flow_context", context),
                ("status", status),
            ],
        )
    };
    assert_eq!(users("Premium", "exceeding_capacity"), Some(3.0));
    assert_eq!(users("Premium", "in_compliance"), Some(41.0));
    assert_eq!(users("Premium", "without_license"), Some(2.0));
    assert_eq!(users("Premium", "without_premium_using_premium"), Some(1.0));
    assert_eq!(users("Process", "in_compliance"), Some(7.0));
    assert_eq!(m.count("consumption_powerplatform_users"), 8);
}

#[tokio::test]
async fn a_large_generated_tenant_sums_to_what_its_records_say() {
    let (seed, per_day, days, environments, users) = (5, 300, 40, 4, 30);
    let simulator = PowerPlatformSimulator::new(PowerPlatformTenant {
        today: test_today(),
        records: FlowRecords::Generated {
            seed,
            per_day,
            days,
            environments,
            users,
        },
        ..PowerPlatformTenant::default()
    });
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    page_size: 500\n")).await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;

    let first_day = test_today() - Days::days(days as i64 - 1);
    let month_start = test_today().with_day0(0).unwrap();
    let mut expected: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for i in 0..per_day * days {
        let r = generated_record((seed, per_day, environments, users, first_day), i);
        let at =
            chrono::DateTime::parse_from_rfc3339(r["consumptionDate"].as_str().unwrap()).unwrap();
        // The query ends now: later records of today are not there yet.
        if at.date_naive() >= month_start && at <= crate::helpers::test_now() {
            let key = (
                r["environmentId"].as_str().unwrap().to_string(),
                r["flowContext"].as_str().unwrap().to_string(),
                r["flowLicenseCategorization"].as_str().unwrap().to_string(),
            );
            *expected.entry(key).or_default() += r["consumptionUnits"].as_f64().unwrap();
        }
    }
    assert!(expected.len() > 10);
    for ((env, context, category), sum) in &expected {
        let labels = [
            ("environment_id", env.as_str()),
            ("flow_context", context.as_str()),
            ("flow_license_categorization", category.as_str()),
        ];
        assert_eq!(
            units(&m, &labels, "month_to_date"),
            Some(*sum),
            "{labels:?}"
        );
    }
}

mod against_a_power_platform_shaped_server {
    //! A server answering as Microsoft's reference and token documentation show, built with
    //! wiremock instead of our simulator.

    use super::*;
    use wiremock::matchers::{body_string_contains, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn the_documented_token_and_record_shapes_are_read_until_204() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
            .and(body_string_contains("grant_type=client_credentials"))
            .and(body_string_contains(format!("scope={}", urlencode(&format!("{}/.default", server.uri())))))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "eyJ0eXAi.doc"}),
            ))
            .expect(1)
            .mount(&server)
            .await;
        let page = json!({"currentPage": 1, "records": [
            {"consumptionDate": "2026-11-22T03:00:00Z", "consumptionUnits": 1200, "environmentId": "8f2c0f4e-0000-0000-0000-000000000001",
             "flowContext": "Premium", "flowLicenseCategorization": "Premium", "resourceId": "r1", "tenantId": "t", "userId": "u1"},
            {"consumptionDate": "2026-11-21T23:59:59Z", "consumptionUnits": 300, "environmentId": "8f2c0f4e-0000-0000-0000-000000000001",
             "flowContext": "Premium", "flowLicenseCategorization": "Premium", "resourceId": "r2", "tenantId": "t", "userId": "u2"}
        ]});
        Mock::given(method("GET"))
            .and(path("/licensing/UserPerFlowCapacitySource"))
            .and(query_param("api-version", "2024-10-01"))
            .and(query_param("pageNumber", "1"))
            .and(query_param("pageSize", "2"))
            .and(header("authorization", "Bearer eyJ0eXAi.doc"))
            .respond_with(ResponseTemplate::new(200).set_body_json(page))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/licensing/UserPerFlowCapacitySource"))
            .and(query_param("pageNumber", "2"))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
        let exporter = TestExporter::start(
            &super::source(&server.uri(), "    page_size: 2\n").replace("pp-sim-", "doc-"),
        )
        .await;
        exporter.assert_polls(0).await;
        let m = exporter.scrape().await;
        let labels = [
            ("environment_id", "8f2c0f4e-0000-0000-0000-000000000001"),
            ("flow_context", "Premium"),
            ("flow_license_categorization", "Premium"),
        ];
        assert_eq!(super::units(&m, &labels, "today"), Some(1200.0));
        assert_eq!(super::units(&m, &labels, "yesterday"), Some(300.0));
        assert_eq!(super::units(&m, &labels, "month_to_date"), Some(1500.0));
    }

    fn urlencode(text: &str) -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }
}

fn vendor_budget(
    m: &crate::helpers::Exposition,
    budget: &str,
    unit: &str,
    family: &str,
) -> Option<f64> {
    let labels = [
        ("source", "flows"),
        ("vendor", "powerplatform"),
        ("budget", budget),
        ("unit", unit),
        ("origin", "vendor"),
    ];
    m.get(&format!("consumption_budget_{family}"), &labels)
}

#[tokio::test]
async fn entitlements_serve_currencies_and_capacities_with_what_is_reported_of_them() {
    // No flow records: the as-of time below is then the entitlements' own.
    let simulator = PowerPlatformSimulator::new(PowerPlatformTenant {
        today: test_today(),
        records: FlowRecords::Listed(Vec::new()),
        ..PowerPlatformTenant::default()
    });
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    entitlements: true\n")).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let get = |budget, unit, family| vendor_budget(&m, budget, unit, family);
    assert_eq!(get("PowerAutomatePerProcess", "units", "limit"), Some(25.0));
    assert_eq!(get("PowerAutomatePerProcess", "units", "used"), Some(18.0));
    assert_eq!(
        get("PowerAutomatePerProcess", "units", "overage"),
        Some(0.0)
    );
    assert_eq!(get("AI", "units", "used"), Some(1_250_000.0));
    assert_eq!(
        get("AI", "units", "overage"),
        Some(1.0),
        "AI Builder credits past their purchase"
    );
    assert_eq!(get("PerFlowPlan", "units", "limit"), Some(5.0));
    assert_eq!(
        get("PerFlowPlan", "units", "used"),
        None,
        "no consumption reported: absent"
    );
    assert_eq!(get("PerFlowPlan", "units", "overage"), None);
    assert_eq!(get("Database", "MB", "limit"), Some(20480.0));
    assert_eq!(get("Database", "MB", "used"), Some(3150.94));
    assert_eq!(get("ApiCallCount", "units", "limit"), Some(2_500_000.0));
    assert_eq!(
        get("ApiCallCount", "units", "used"),
        None,
        "0001-01-01: not reported"
    );
    assert_eq!(
        get("Database", "MB", "forecast"),
        None,
        "Microsoft forecasts nothing"
    );
    let allocated = |currency| {
        m.get(
            "consumption_powerplatform_currency_allocated",
            &[("source", "flows"), ("currency_type", currency)],
        )
    };
    assert_eq!(allocated("PowerAutomatePerProcess"), Some(20.0));
    assert_eq!(allocated("AI"), Some(600_000.0));
    // The newest as-of time it read: the capacity's actualUpdatedOn, newer than the report's.
    let updated = chrono::DateTime::parse_from_rfc3339("2026-11-22T08:52:06.33+00:00").unwrap();
    assert_eq!(
        m.get(
            "consumption_source_data_updated_timestamp_seconds",
            &[("source", "flows"), ("vendor", "powerplatform")]
        ),
        Some(updated.timestamp() as f64)
    );
}

#[tokio::test]
async fn a_principal_that_may_not_read_capacity_fails_the_poll_saying_so() {
    let simulator = PowerPlatformSimulator::new(PowerPlatformTenant {
        today: test_today(),
        capacity_forbidden: true,
        ..PowerPlatformTenant::default()
    });
    let running = simulator.start(0).await.unwrap();
    let yaml = source(
        &running.url(),
        "    entitlements: true\n    max_retries: 0\n",
    );
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("HTTP 403")
            && error.contains("Forbidden")
            && error.contains("Power Platform administrator"),
        "{error}"
    );
    let m = exporter.scrape().await;
    assert_eq!(
        m.count("consumption_powerplatform_flow_capacity_units"),
        0,
        "all or nothing"
    );
}

#[tokio::test]
async fn the_documented_currency_report_and_capacity_shapes_are_read() {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("POST"))
        .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .respond_with(ok(
            json!({"access_token": "t", "expires_in": 3599, "token_type": "Bearer"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/licensing/UserPerFlowCapacitySource"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/licensing/tenantCapacity/currencyReports"))
        .and(query_param("includeAllocations", "true"))
        .and(query_param("includeConsumptions", "true"))
        .respond_with(ok(
            json!([{"currencyType": "MCSMessages", "purchased": 25000, "allocated": 10000,
            "consumed": {"unitsConsumed": 9000, "lastUpdatedDay": "2026-11-21T00:00:00Z"}}]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    // The Terraform provider's recorded tenantCapacity response (vendor-limits.md §3.2), trimmed.
    Mock::given(method("GET"))
        .and(path("/licensing/tenantCapacity"))
        .respond_with(ok(json!({"tenantId": "00000000-0000-0000-0000-000000000001", "licenseModelType": "StorageDriven",
            "capacitySummary": {"status": "Available", "statusMessage": null, "statusMessageCode": "AllCapacityAvailable"},
            "legacyModelCapacity": null, "temporaryLicenseInfo": {"hasTemporaryLicense": false},
            "tenantCapacities": [
                {"capacityType": "Database", "capacityUnits": "MB", "totalCapacity": 20480.0, "maxCapacity": 20480.0,
                 "consumption": {"actual": 3150.94, "rated": 2379.90, "actualUpdatedOn": "2025-11-30T08:52:06.33+00:00", "ratedUpdatedOn": "2025-11-30T08:52:06.33+00:00"},
                 "status": "Available", "overflowCapacity": [], "capacityEntitlements": []},
                {"capacityType": "ApiCallCount", "capacityUnits": null, "totalCapacity": 2500000.0, "maxCapacity": 10000000.0,
                 "consumption": {"actual": 0.0, "rated": 0.0, "actualUpdatedOn": "0001-01-01T00:00:00+00:00", "ratedUpdatedOn": "0001-01-01T00:00:00+00:00"},
                 "status": null}
            ]})))
        .expect(1)
        .mount(&server)
        .await;
    let exporter = TestExporter::start(&source(&server.uri(), "    entitlements: true\n")).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    assert_eq!(
        vendor_budget(&m, "MCSMessages", "units", "used"),
        Some(9000.0)
    );
    assert_eq!(vendor_budget(&m, "Database", "MB", "used"), Some(3150.94));
    assert_eq!(vendor_budget(&m, "ApiCallCount", "units", "used"), None);
}

/// A server that ignores `pageNumber` sends the same page again: a full one could hide more
/// records, so the poll fails as a loop rather than serving the first page as all; a short one
/// was all there is.
#[tokio::test]
async fn the_same_full_page_twice_is_a_loop_and_the_same_short_page_is_the_end() {
    let page = json!({"records": [
        record("2026-11-22T08:00:00Z", "e1", "Premium", "Premium", "u1", 4),
        record("2026-11-22T08:00:00Z", "e1", "Premium", "Premium", "u2", 4)]})
    .to_string();
    for (page_size, polls) in [(2, false), (3, true)] {
        let simulator = PowerPlatformSimulator::new(tenant(fixture()));
        simulator
            .faults()
            .inject(When::Next, Fault::answer(&page), usize::MAX);
        let running = simulator.start(0).await.unwrap();
        let extra = format!("    page_size: {page_size}\n    max_retries: 0\n");
        let exporter = TestExporter::start(&source(&running.url(), &extra)).await;
        assert_eq!(exporter.poll(0).await, polls, "page_size {page_size}");
        match polls {
            true => {
                let m = exporter.scrape().await;
                let premium = PREMIUM_E1;
                assert_eq!(units(&m, &premium, "today"), Some(8.0));
            }
            false => assert!(exporter.last_error(0).contains("pagination loop")),
        }
    }
}

/// Currency reports come as a bare array (or under `value`): an answer of another shape is a
/// broken one, not a tenant without reports, and fails the poll by name.
#[tokio::test]
async fn currency_reports_of_the_wrong_shape_fail_the_poll() {
    let simulator = PowerPlatformSimulator::new(PowerPlatformTenant {
        currency_reports: json!({"reports": []}),
        ..tenant(fixture())
    });
    let running = simulator.start(0).await.unwrap();
    let extra = "    entitlements: true\n    max_retries: 0\n";
    let exporter = TestExporter::start(&source(&running.url(), extra)).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("currency reports") && error.contains("expected a list of currency reports"),
        "{error}"
    );
}

/// The currency and capacity reports are an inventory: read by the first poll and every
/// `inventory_interval` after, and served as read in between; the records are read by every
/// poll.
#[tokio::test]
async fn entitlements_are_read_once_per_inventory_interval_and_served_in_between() {
    use consumption_exporter::model::clock::FixedClock;
    let simulator = PowerPlatformSimulator::new(PowerPlatformTenant {
        today: test_today(),
        ..PowerPlatformTenant::default()
    });
    let running = simulator.start(0).await.unwrap();
    let noon = test_today().and_hms_opt(12, 0, 0).unwrap().and_utc();
    let clock = FixedClock::new(noon);
    let yaml = source(&running.url(), "    entitlements: true\n");
    let exporter = TestExporter::start_with_clock(&yaml, std::sync::Arc::new(clock.clone())).await;
    let count = |fragment: &str| {
        let requests = running.requests();
        requests.iter().filter(|r| r.uri.contains(fragment)).count()
    };
    let allocated = [
        ("source", "flows"),
        ("currency_type", "PowerAutomatePerProcess"),
    ];
    let mut seen = (0, 0);
    for (hours, reads) in [(0, true), (2, false), (5, false), (6, true), (8, false)] {
        clock.set(noon + chrono::Duration::hours(hours));
        exporter.assert_polls(0).await;
        let now = (
            count("currencyReports"),
            count("UserPerFlowCapacitySource?"),
        );
        assert_eq!(
            now.0 > seen.0,
            reads,
            "+{hours}h: the currency reports read"
        );
        assert!(
            now.1 > seen.1,
            "+{hours}h: the records are read by every poll"
        );
        seen = now;
        let m = exporter.scrape().await;
        let served = m.get("consumption_powerplatform_currency_allocated", &allocated);
        assert!(served.is_some(), "+{hours}h: the entitlements are served");
    }
}

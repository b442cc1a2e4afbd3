//! The UiPath source against its simulator over real HTTP, and against a UiPath-shaped server.

use chrono::{Duration, NaiveDate};
use consumption_exporter::simulator::uipath::{
    daily_amount, DateStyle, UiPathOrganization, UiPathSimulator,
};
use serde_json::json;

use crate::helpers::{test_now, test_today, Exposition, TestExporter};

const TENANT_A: &str = "22222222-2222-2222-2222-222222222222";
const TENANT_B: &str = "33333333-3333-3333-3333-333333333333";

fn source(url: &str, extra: &str) -> String {
    format!(
        "sources:\n  - name: robots\n    type: uipath\n    base_url: {url}\n    organization_id: 11111111-1111-1111-1111-111111111111\n    tenant_ids: [{TENANT_A}, {TENANT_B}]\n    consumable_codes: [RU, AIU]\n    oauth2:\n      client_id: uipath-sim-app\n      client_secret: uipath-sim-secret\n{extra}"
    )
}

fn units(
    m: &Exposition,
    tenant: &str,
    consumable: &str,
    service: &str,
    window: &str,
) -> Option<f64> {
    m.get(
        "consumption_uipath_consumed_units",
        &[
            ("source", "robots"),
            ("tenant_id", tenant),
            ("consumable", consumable),
            ("uipath_service", service),
            ("window", window),
        ],
    )
}

/// The test's own window sums of the simulator's daily amounts (today is 2026-11-22).
fn expected(seed: u64, tenant: &str, consumable: &str, service: &str) -> [f64; 3] {
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let amount = |d: u32| daily_amount(seed, tenant, consumable, service, day(d));
    [amount(22), amount(21), (1..=22).map(amount).sum()]
}

#[tokio::test]
async fn window_sums_are_exact_for_every_tenant_consumable_and_service() {
    let simulator = UiPathSimulator::new(UiPathOrganization::default());
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "")).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let services = [
        ("RU", "orchestrator"),
        ("RU", "studio"),
        ("AIU", "aicenter"),
        ("AIU", "documentunderstanding"),
    ];
    for tenant in [TENANT_A, TENANT_B] {
        for (consumable, service) in services {
            let want = expected(1, tenant, consumable, service);
            for (window, value) in ["today", "yesterday", "month_to_date"]
                .into_iter()
                .zip(want)
            {
                assert_eq!(
                    units(&m, tenant, consumable, service, window),
                    Some(value),
                    "{tenant} {consumable} {service} {window}"
                );
            }
        }
    }
    assert_eq!(m.count("consumption_uipath_consumed_units"), 2 * 4 * 3);
    assert_eq!(
        simulator.tokens_issued(),
        1,
        "one token for all four requests"
    );
}

#[tokio::test]
async fn each_tenant_and_consumable_is_asked_for_once_with_the_documented_body() {
    let simulator = UiPathSimulator::new(UiPathOrganization::default());
    let running = simulator.start(0).await.unwrap();
    let extra = "    folder_keys: [f0b4a1c2-0000-0000-0000-000000000001]\n    aggregate_by_ownership: true\n";
    let exporter = TestExporter::start(&source(&running.url(), extra)).await;
    assert!(exporter.poll(0).await);
    let mut bodies = simulator.bodies();
    bodies.sort_by_key(|b| (b["tenantId"].to_string(), b["consumableCode"].to_string()));
    let start = NaiveDate::from_ymd_opt(2026, 11, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    let mut wanted = Vec::new();
    for tenant in [TENANT_A, TENANT_B] {
        for code in ["AIU", "RU"] {
            wanted.push(json!({
                "tenantId": tenant, "startDate": start, "endDate": test_now().timestamp_millis(), "consumableCode": code,
                "aggregateByOwnership": true, "folderKeys": ["f0b4a1c2-0000-0000-0000-000000000001"],
            }));
        }
    }
    assert_eq!(bodies, wanted);
}

#[tokio::test]
async fn dates_as_rfc3339_or_epoch_milliseconds_give_the_same_sums() {
    for style in [DateStyle::Rfc3339, DateStyle::EpochMillis] {
        let simulator = UiPathSimulator::new(UiPathOrganization {
            date_style: style,
            seed: 4,
            ..UiPathOrganization::default()
        });
        let running = simulator.start(0).await.unwrap();
        let exporter = TestExporter::start(&source(&running.url(), "")).await;
        assert!(exporter.poll(0).await, "{style:?}");
        let m = exporter.scrape().await;
        let want = expected(4, TENANT_B, "AIU", "aicenter");
        assert_eq!(
            units(&m, TENANT_B, "AIU", "aicenter", "month_to_date"),
            Some(want[2]),
            "{style:?}"
        );
        let newest = (test_today().and_hms_opt(0, 0, 0).unwrap().and_utc()).timestamp() as f64;
        assert_eq!(
            m.get(
                "consumption_source_data_updated_timestamp_seconds",
                &[("source", "robots"), ("vendor", "uipath")]
            ),
            Some(newest)
        );
    }
}

#[tokio::test]
async fn an_inactive_consumable_fails_the_poll_naming_the_tenant_and_consumable() {
    let simulator = UiPathSimulator::new(UiPathOrganization::default());
    let running = simulator.start(0).await.unwrap();
    let yaml = source(&running.url(), "")
        .replace("consumable_codes: [RU, AIU]", "consumable_codes: [RU, TEU]");
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.store.slots()[0].state().last_error.unwrap();
    assert!(error.contains("source robots (uipath)"), "{error}");
    assert!(
        error.contains("consumable TEU") && error.contains("HTTP 400"),
        "{error}"
    );
    assert!(
        error.contains("Unit 'TEU' is not an active consumable in this organization."),
        "{error}"
    );
    let m = exporter.scrape().await;
    assert_eq!(
        m.count("consumption_uipath_consumed_units"),
        0,
        "nothing partial is published"
    );
}

mod against_a_uipath_shaped_server {
    use super::*;
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn the_documented_response_is_read_with_a_static_token() {
        let server = MockServer::start().await;
        let yesterday = (test_today() - Duration::days(1))
            .format("%Y-%m-%d")
            .to_string();
        Mock::given(method("POST"))
            .and(path("/lease_/api/usage/11111111-1111-1111-1111-111111111111/tenants/daily-consumption-by-service"))
            .and(header("authorization", "Bearer minted-elsewhere"))
            .and(header("content-type", "application/json"))
            .and(body_partial_json(json!({"tenantId": TENANT_A, "consumableCode": "PLTU"})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
                {"date": "2026-11-22", "service": "orchestrator", "consumedAmount": 12.5},
                {"date": yesterday, "service": "orchestrator", "consumedAmount": 30},
                {"date": "2026-11-02", "service": "dataservice", "consumedAmount": 4}
            ]})))
            .expect(1)
            .mount(&server)
            .await;
        let yaml = format!(
            "sources:\n  - name: robots\n    type: uipath\n    base_url: {}\n    organization_id: 11111111-1111-1111-1111-111111111111\n    tenant_ids: [{TENANT_A}]\n    consumable_codes: [PLTU]\n    authorization:\n      credentials: minted-elsewhere\n",
            server.uri()
        );
        let exporter = TestExporter::start(&yaml).await;
        exporter.assert_polls(0).await;
        let m = exporter.scrape().await;
        assert_eq!(
            units(&m, TENANT_A, "PLTU", "orchestrator", "today"),
            Some(12.5)
        );
        assert_eq!(
            units(&m, TENANT_A, "PLTU", "orchestrator", "yesterday"),
            Some(30.0)
        );
        assert_eq!(
            units(&m, TENANT_A, "PLTU", "orchestrator", "month_to_date"),
            Some(42.5)
        );
        assert_eq!(
            units(&m, TENANT_A, "PLTU", "dataservice", "today"),
            Some(0.0)
        );
        assert_eq!(
            units(&m, TENANT_A, "PLTU", "dataservice", "month_to_date"),
            Some(4.0)
        );
    }
}

fn password_source(url: &str, password: &str, secret: &str) -> String {
    format!(
        "sources:\n  - name: robots\n    type: uipath\n    base_url: {url}\n    organization_id: 11111111-1111-1111-1111-111111111111\n    tenant_ids: [{TENANT_A}]\n    consumable_codes: [RU]\n    max_retries: 0\n    oauth2:\n      grant_type: password\n      client_id: uipath-sim-app\n{secret}      username: robot-admin@acme.example\n      password: {password}\n      endpoint_params:\n        acr_values: tenant:11111111-1111-1111-1111-111111111111\n"
    )
}

#[tokio::test]
async fn the_password_grant_signs_in_as_the_user_with_or_without_a_client_secret() {
    let org = UiPathOrganization::default();
    let simulator = UiPathSimulator::new(org.clone());
    let running = simulator.start(0).await.unwrap();
    for secret in ["      client_secret: uipath-sim-secret\n", ""] {
        let yaml = password_source(&running.url(), &org.password, secret);
        let exporter = TestExporter::start(&yaml).await;
        assert!(
            exporter.poll(0).await,
            "{secret:?}: {:?}",
            exporter.store.slots()[0].state().last_error
        );
        assert!(exporter.poll(0).await, "the cached token is used again");
    }
    let token_requests: Vec<String> = running
        .requests()
        .into_iter()
        .filter(|r| r.uri.starts_with("/identity_/connect/token"))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        token_requests.len(),
        2,
        "one token per exporter, reused: {token_requests:?}"
    );
    let form = consumption_exporter::simulator::form(&token_requests[0]);
    assert_eq!(form["grant_type"], "password");
    assert_eq!(form["username"], "robot-admin@acme.example");
    assert_eq!(form["password"], org.password);
    assert_eq!(
        form["acr_values"],
        "tenant:11111111-1111-1111-1111-111111111111"
    );
    assert_eq!(form["scope"], "PM.License", "the default scope stays");
    assert!(
        !consumption_exporter::simulator::form(&token_requests[1]).contains_key("client_secret")
    );
}

#[tokio::test]
async fn a_wrong_password_fails_the_poll_with_uipaths_answer_and_no_password() {
    let simulator = UiPathSimulator::new(UiPathOrganization::default());
    let running = simulator.start(0).await.unwrap();
    let yaml = password_source(&running.url(), "not-the-password-42", "");
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("getting a token from") && error.contains("invalid_grant"),
        "{error}"
    );
    assert!(!error.contains("not-the-password-42"), "{error}");
    let m = exporter.scrape().await;
    let labels = [
        ("source", "robots"),
        ("vendor", "uipath"),
        ("reason", "token"),
    ];
    assert_eq!(m.get("consumption_source_errors_total", &labels), Some(1.0));
}

fn allocation(m: &Exposition, tenant: &str, consumable: &str, family: &str) -> Option<f64> {
    let budget = format!("{consumable}/{tenant}");
    let labels = [
        ("source", "robots"),
        ("vendor", "uipath"),
        ("budget", budget.as_str()),
        ("unit", consumable),
        ("origin", "vendor"),
    ];
    m.get(&format!("consumption_budget_{family}"), &labels)
}

#[tokio::test]
async fn entitlements_serve_each_tenants_allocation_and_its_draw_on_the_org_pool() {
    use consumption_exporter::simulator::uipath::tenant_consumption;
    let org = UiPathOrganization {
        today: test_today(),
        ..UiPathOrganization::default()
    };
    let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    entitlements: true\n")).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let midnight = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp() as f64
    };
    for tenant in [TENANT_A, TENANT_B] {
        for consumable in ["RU", "AIU"] {
            let (allocated, tenant_pool, org_pool) = tenant_consumption(&org, tenant, consumable);
            let context = format!("{tenant} {consumable}");
            assert_eq!(
                allocation(&m, tenant, consumable, "limit"),
                Some(allocated),
                "{context}"
            );
            let used = allocation(&m, tenant, consumable, "used").unwrap_or(f64::NAN);
            assert!(
                (used - (tenant_pool + org_pool)).abs() < 1e-6,
                "{context}: {used}"
            );
            let over = if org_pool > 0.0 { 1.0 } else { 0.0 };
            assert_eq!(
                allocation(&m, tenant, consumable, "overage"),
                Some(over),
                "{context}"
            );
            let pool = m.get(
                "consumption_uipath_org_pool_units",
                &[
                    ("source", "robots"),
                    ("tenant_id", tenant),
                    ("consumable", consumable),
                ],
            );
            assert!(
                (pool.unwrap_or(f64::NAN) - org_pool).abs() < 1e-6,
                "{context}"
            );
            assert_eq!(
                allocation(&m, tenant, consumable, "period_end_timestamp_seconds"),
                Some(midnight("2027-01-01T00:00:00Z")),
                "the bundle window"
            );
        }
    }
    // One summary per tenant and consumable, with the code and no dates (the bundle window).
    let summaries: Vec<serde_json::Value> = running
        .requests()
        .iter()
        .filter(|r| r.uri.ends_with("/consumption-summary"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(summaries.len(), 4);
    assert!(summaries
        .iter()
        .all(|b| b.get("startDate").is_none() && b["consumableCode"].is_string()));
}

#[tokio::test]
async fn a_token_that_may_not_read_the_summary_fails_the_poll_naming_the_grant() {
    let org = UiPathOrganization {
        summary_forbidden: true,
        ..UiPathOrganization::default()
    };
    let running = UiPathSimulator::new(org).start(0).await.unwrap();
    let yaml = source(
        &running.url(),
        "    entitlements: true\n    max_retries: 0\n",
    );
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("HTTP 403")
            && error.contains("Organization Administrator")
            && error.contains("PM.License"),
        "{error}"
    );
    assert_eq!(
        exporter
            .scrape()
            .await
            .count("consumption_uipath_consumed_units"),
        0,
        "all or nothing"
    );
}

#[tokio::test]
async fn the_summary_in_the_fields_of_uipaths_cli_is_read_and_absent_fields_stay_absent() {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex("daily-consumption-by-service$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&server)
        .await;
    // The CLI's example row (vendor-limits.md §2.3) for one tenant; the other misses its pools.
    Mock::given(method("POST"))
        .and(path_regex(format!("tenants/{TENANT_A}/consumption-summary$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code":"AIU","name":"AI Units","totalUnitsInAccount":5000,"allocated":1200,"consumedFromOrgWithoutTenant":30,"startDate":"2023-11-14T22:13:20.000Z","endDate":"2027-09-15T18:40:00.000Z","tenantId":TENANT_A,"tenantName":"default","consumedFromTenantPool":800,"consumedFromOrgPool":150})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!(
            "tenants/{TENANT_B}/consumption-summary$"
        )))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"code":"AIU","allocated":500})),
        )
        .mount(&server)
        .await;
    let yaml = format!(
        "sources:\n  - name: robots\n    type: uipath\n    base_url: {}\n    organization_id: o\n    tenant_ids: [{TENANT_A}, {TENANT_B}]\n    consumable_codes: [AIU]\n    entitlements: true\n    authorization:\n      credentials: static-token\n",
        server.uri()
    );
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    assert_eq!(allocation(&m, TENANT_A, "AIU", "limit"), Some(1200.0));
    assert_eq!(allocation(&m, TENANT_A, "AIU", "used"), Some(950.0));
    assert_eq!(
        allocation(&m, TENANT_A, "AIU", "period_end_timestamp_seconds"),
        Some(
            chrono::DateTime::parse_from_rfc3339("2027-09-15T18:40:00Z")
                .unwrap()
                .timestamp() as f64
        )
    );
    assert_eq!(allocation(&m, TENANT_B, "AIU", "limit"), Some(500.0));
    assert_eq!(
        allocation(&m, TENANT_B, "AIU", "used"),
        None,
        "no pools reported: absent, not 0"
    );
    let pool = |tenant| {
        m.get(
            "consumption_uipath_org_pool_units",
            &[
                ("source", "robots"),
                ("tenant_id", tenant),
                ("consumable", "AIU"),
            ],
        )
    };
    assert_eq!(pool(TENANT_A), Some(150.0));
    assert_eq!(pool(TENANT_B), None);
}

/// Seats the test expects from the simulator's own named users at `now`: per tenant and
/// licence type, (assigned, active, idle).
fn expected_seats(
    org: &UiPathOrganization,
    now: chrono::DateTime<chrono::Utc>,
    idle_after: Duration,
) -> std::collections::BTreeMap<(String, &'static str), (f64, f64, f64)> {
    use consumption_exporter::simulator::uipath::named_user;
    let mut seats = std::collections::BTreeMap::new();
    for tenant in &org.tenant_ids {
        for i in 0..org.named_users {
            let (_, licence, last) = named_user(org, tenant, i);
            let entry = seats
                .entry((tenant.clone(), licence))
                .or_insert((0.0, 0.0, 0.0));
            entry.0 += 1.0;
            match last.filter(|last| now - *last < idle_after) {
                Some(_) => entry.1 += 1.0,
                None => entry.2 += 1.0,
            }
        }
    }
    seats
}

#[tokio::test]
async fn seats_of_named_users_past_a_thousand_turn_idle_at_exactly_idle_after() {
    use consumption_exporter::model::clock::FixedClock;
    use consumption_exporter::simulator::uipath::{named_user, seats_bought, NAMED_USER_TYPES};
    let org = UiPathOrganization {
        named_users: 5_000,
        today: NaiveDate::from_ymd_opt(2027, 3, 10).unwrap(),
        ..UiPathOrganization::default()
    };
    let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    // One user's last licence acquisition: the clock is put a second before it is 30 days
    // old, then at exactly 30 days.
    let last = (0..org.named_users)
        .find_map(|i| named_user(&org, &org.tenant_ids[0], i).2)
        .unwrap();
    let boundary = last + Duration::days(30);
    let clock = FixedClock::new(boundary - Duration::seconds(1));
    // Every poll reads the seats: the boundary between two polls is the point here.
    let yaml = source(
        &running.url(),
        "    seats: true\n    idle_after: 30d\n    inventory_interval: 0s\n",
    );
    let exporter = TestExporter::start_with_clock(&yaml, std::sync::Arc::new(clock.clone())).await;
    let mut idle_before = 0.0;
    for (now, phase) in [
        (boundary - Duration::seconds(1), "before"),
        (boundary, "at"),
    ] {
        clock.set(now);
        exporter.assert_polls(0).await;
        let m = exporter.scrape().await;
        let seats = |family: &str, tenant: &str, licence: &str| {
            m.get(
                family,
                &[
                    ("source", "robots"),
                    ("vendor", "uipath"),
                    ("licence", licence),
                    ("sub_account", tenant),
                ],
            )
        };
        let expected = expected_seats(&org, now, Duration::days(30));
        let mut idle = 0.0;
        for ((tenant, licence), (assigned, active, idle_seats)) in &expected {
            let (tenant, licence) = (tenant.as_str(), *licence);
            assert!(
                *assigned > 1_000.0,
                "{licence}: more than one page of named users"
            );
            let what = format!("{phase}: {licence} in tenant {tenant}");
            let got = |family| seats(family, tenant, licence);
            assert_eq!(got("consumption_seats_assigned"), Some(*assigned), "{what}");
            assert_eq!(got("consumption_seats_active"), Some(*active), "{what}");
            assert_eq!(got("consumption_seats_idle"), Some(*idle_seats), "{what}");
            let bought = seats_bought(&org, tenant, licence) as f64;
            assert_eq!(got("consumption_seats_purchased"), Some(bought), "{what}");
            idle += idle_seats;
        }
        assert_eq!(
            m.count("consumption_seats_assigned"),
            (NAMED_USER_TYPES.len() + 1) * org.tenant_ids.len(),
            "each licence type once per tenant, never summed over tenants"
        );
        // A runtime licence has no named users: its seats are Orchestrator's Used, no activity.
        for tenant in &org.tenant_ids {
            assert_eq!(
                seats("consumption_seats_assigned", tenant, "Unattended"),
                Some(12.0)
            );
            assert_eq!(seats("consumption_seats_idle", tenant, "Unattended"), None);
        }
        if phase == "at" {
            assert!(
                idle > idle_before,
                "the user turned idle at exactly 30 days"
            );
        }
        idle_before = idle;
        let end = m.get(
            "consumption_licence_end_timestamp_seconds",
            &[
                ("source", "robots"),
                ("vendor", "uipath"),
                ("licence", "Orchestrator licence"),
                ("sub_account", TENANT_A),
            ],
        );
        let bundle_end = org.bundle.1.and_hms_opt(0, 0, 0).unwrap().and_utc();
        assert_eq!(end, Some(bundle_end.timestamp() as f64));
    }
}

#[tokio::test]
async fn seats_refused_name_the_scopes_and_the_permission() {
    let org = UiPathOrganization {
        licences_forbidden: true,
        ..UiPathOrganization::default()
    };
    let running = UiPathSimulator::new(org).start(0).await.unwrap();
    let yaml = source(&running.url(), "    seats: true\n    max_retries: 0\n");
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    for needed in [
        "HTTP 403",
        "Orchestrator licence of tenant",
        "OR.License.Read",
        "OR.Settings.Read",
        "License.View",
    ] {
        assert!(error.contains(needed), "{needed} not in {error}");
    }
}

#[tokio::test]
async fn idle_seats_are_priced_per_month_by_a_seat_price_and_usage_prices_leave_them() {
    use consumption_exporter::model::clock::FixedClock;
    let org = UiPathOrganization {
        named_users: 300,
        today: NaiveDate::from_ymd_opt(2027, 3, 10).unwrap(),
        ..UiPathOrganization::default()
    };
    let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    let now = org.today.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let money = "money:\n  currency: EUR\n  rates: {USD: 0.9}\n  prices:\n    - {match: {vendor: uipath, consumable: RU}, price: 0.12, currency: USD}\n    - {match: {vendor: uipath, licence: Attended}, price: 15, currency: USD}\n";
    let yaml = format!(
        "{money}{}",
        source(&running.url(), "    seats: true\n    idle_after: 14d\n")
    );
    let exporter =
        TestExporter::start_with_clock(&yaml, std::sync::Arc::new(FixedClock::new(now))).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let expected = expected_seats(&org, now, Duration::days(14));
    let cost = |tenant: &str, licence: &str| {
        m.get(
            "consumption_seats_idle_cost",
            &[
                ("source", "robots"),
                ("vendor", "uipath"),
                ("licence", licence),
                ("sub_account", tenant),
                ("currency", "EUR"),
            ],
        )
    };
    for tenant in &org.tenant_ids {
        let idle = expected[&(tenant.clone(), "Attended")].2;
        assert!(idle > 0.0);
        let got = cost(tenant, "Attended").unwrap();
        assert!((got - idle * 15.0 * 0.9).abs() < 1e-9, "{tenant}: {got}");
        assert_eq!(
            cost(tenant, "Development"),
            None,
            "no seat price matches it"
        );
    }
    assert_eq!(
        m.count("consumption_seats_idle_cost"),
        org.tenant_ids.len(),
        "the RU price prices no seats"
    );

    let refused = crate::helpers::parse_config_errors(&format!(
        "money:\n  currency: EUR\n  prices:\n    - {{match: {{licence: Attended, consumable: RU}}, price: 1}}\n{}",
        source("http://127.0.0.1:1", "    seats: true\n")
    ));
    assert!(
        refused.contains("a seat price matches on licence, source and vendor only; consumable"),
        "{refused}"
    );
}

/// An idle seat as the `seats` command lists it: (tenant, licence, user name, last acquisition).
type IdleRow = (
    String,
    String,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// The simulator's idle named users at `now`.
fn idle_holders(
    org: &UiPathOrganization,
    now: chrono::DateTime<chrono::Utc>,
    idle_after: Duration,
) -> std::collections::BTreeSet<IdleRow> {
    use consumption_exporter::simulator::uipath::named_user;
    let mut idle = std::collections::BTreeSet::new();
    for tenant in &org.tenant_ids {
        for i in 0..org.named_users {
            let (name, licence, last) = named_user(org, tenant, i);
            if last.is_none_or(|last| now - last >= idle_after) {
                idle.insert((tenant.clone(), licence.to_string(), name, last));
            }
        }
    }
    idle
}

#[tokio::test]
async fn the_seats_command_lists_exactly_the_idle_holders() {
    use consumption_exporter::commands::seats::{idle_seats, write_csv};
    use consumption_exporter::model::clock::FixedClock;
    let org = UiPathOrganization {
        named_users: 1_200,
        today: NaiveDate::from_ymd_opt(2027, 3, 10).unwrap(),
        ..UiPathOrganization::default()
    };
    let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    let now = org.today.and_hms_opt(9, 0, 0).unwrap().and_utc();
    let yaml = source(&running.url(), "    seats: true\n    idle_after: 21d\n");
    let config = crate::helpers::parse_config(&yaml);
    let clock = std::sync::Arc::new(FixedClock::new(now));
    let seats = idle_seats(&config, &[], clock).await.unwrap();
    let listed: std::collections::BTreeSet<IdleRow> = seats
        .iter()
        .map(|s| {
            let row = (s.sub_account.clone(), s.licence.clone());
            (row.0, row.1, s.holder_id.clone(), s.last_activity)
        })
        .collect();
    assert_eq!(listed.len(), seats.len(), "each idle seat once");
    assert_eq!(listed, idle_holders(&org, now, Duration::days(21)));
    assert!(seats.iter().all(|s| s.source == "robots"));
    // CSV as RFC 4180 says: a header, CRLF, one fact a column, a user name with a backslash
    // as it is, and an empty last activity for a seat never used.
    let mut csv = Vec::new();
    write_csv(&mut csv, &seats).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.starts_with("source,sub_account,licence,holder_id,holder_name,last_activity\r\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), seats.len() + 1);
    let row = format!("robots,{TENANT_A},Attended,acme\\user");
    assert!(csv.contains(&row), "{}", &csv[..300]);
    assert!(
        csv.contains(",,\r\n"),
        "a seat never used has no name and no activity"
    );
}

// The binary talks to the simulator of this test's runtime while the test waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seats_command_of_the_binary_prints_csv_and_refuses_an_unknown_source() {
    let org = UiPathOrganization {
        named_users: 90,
        ..UiPathOrganization::default()
    };
    let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.yml");
    std::fs::write(&file, source(&running.url(), "    seats: true\n")).unwrap();
    let before = chrono::Utc::now();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
            .args(["seats", "--config.file", file.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&["--format", "csv"]);
    let after = chrono::Utc::now();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = String::from_utf8_lossy(&output.stdout).lines().count() - 1;
    let (most, least) = (
        idle_holders(&org, after, Duration::days(30)).len(),
        idle_holders(&org, before, Duration::days(30)).len(),
    );
    assert!(
        (least..=most).contains(&rows),
        "{rows} rows, {least}..={most} idle"
    );
    let other = run(&["--source", "nope"]);
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("unknown source nope"));
}

/// `seats: true` asks for the scopes Orchestrator's spec requires of its licence endpoints,
/// beside the vendor's default; scopes written in the config are taken as they are, and a token
/// without Orchestrator's scopes is refused there, naming them.
#[tokio::test]
async fn seats_ask_for_orchestrators_scopes_unless_the_config_writes_its_own() {
    let running = UiPathSimulator::new(UiPathOrganization::default())
        .start(0)
        .await
        .unwrap();
    let config = crate::helpers::parse_config(&source(&running.url(), "    seats: true\n"));
    let scopes = match &config.sources[0].auth {
        consumption_exporter::http::AuthConfig::OAuth2(oauth) => oauth.scopes.clone(),
        _ => panic!("the source takes OAuth2"),
    };
    assert_eq!(
        scopes,
        ["PM.License", "OR.License.Read", "OR.Settings.Read"]
    );
    let exporter = TestExporter::start(&source(&running.url(), "    seats: true\n")).await;
    exporter.assert_polls(0).await;

    let written = "    seats: true\n    max_retries: 0\n    oauth2:\n      client_id: uipath-sim-app\n      client_secret: uipath-sim-secret\n      scopes: [PM.License]\n";
    let yaml = source(&running.url(), "").replace(
        "    oauth2:\n      client_id: uipath-sim-app\n      client_secret: uipath-sim-secret\n",
        written,
    );
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("HTTP 403") && error.contains("OR.License.Read"),
        "{error}"
    );
}

/// Only the 400 that names the robot type (a value the tenant does not know) skips that type;
/// any other 400 of the named-user endpoint fails the poll by name, never read as "no users".
#[tokio::test]
async fn only_a_400_naming_the_robot_type_skips_it() {
    use consumption_exporter::simulator::{Fault, When};
    let org = UiPathOrganization::default();
    let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    let unknown = "    seats: true\n    seat_robot_types: [Attended, NotARobotType]\n";
    let exporter = TestExporter::start(&source(&running.url(), unknown)).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let attended = [
        ("source", "robots"),
        ("vendor", "uipath"),
        ("licence", "Attended"),
        ("sub_account", TENANT_A),
    ];
    assert!(m.get("consumption_seats_assigned", &attended).is_some());

    let simulator = UiPathSimulator::new(org);
    // The licence answers; the first named-user page is refused with a 400 of another kind.
    let faults = simulator.faults();
    faults.inject(
        When::Entitlements,
        Fault::Delay(std::time::Duration::ZERO),
        1,
    );
    faults.inject(When::Entitlements, Fault::Status(400), 1);
    let running = simulator.start(0).await.unwrap();
    let yaml = source(&running.url(), "    seats: true\n    max_retries: 0\n");
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(
        error.contains("HTTP 400") && error.contains("Attended named users of tenant"),
        "{error}"
    );
}

#[tokio::test]
async fn a_server_cap_on_named_users_per_page_is_not_taken_for_the_last_page() {
    let now = chrono::Utc::now();
    for omits_count in [false, true] {
        let org = UiPathOrganization {
            named_users: 900,
            named_user_page_cap: Some(100),
            omits_odata_count: omits_count,
            ..UiPathOrganization::default()
        };
        let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
        let exporter = TestExporter::start(&source(&running.url(), "    seats: true\n")).await;
        exporter.assert_polls(0).await;
        let m = exporter.scrape().await;
        let what = if omits_count { "without" } else { "with" };
        for ((tenant, licence), (assigned, _, _)) in expected_seats(&org, now, Duration::days(30)) {
            assert!(assigned > 100.0, "{licence}: more than one capped page");
            let labels = [
                ("source", "robots"),
                ("vendor", "uipath"),
                ("licence", licence),
                ("sub_account", tenant.as_str()),
            ];
            assert_eq!(
                m.get("consumption_seats_assigned", &labels),
                Some(assigned),
                "{licence} of {tenant}, {what} @odata.count"
            );
        }
    }
}

/// The `seats` command polls on the same path as a served poll: a panic there fails the
/// command by name and reason, and the command goes on to say so instead of dying with it.
#[tokio::test]
async fn a_panic_in_the_seats_commands_poll_fails_the_command_with_reason_panic() {
    use consumption_exporter::commands::seats::idle_seats;
    let org = UiPathOrganization::default();
    let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    let mut config = crate::helpers::parse_config(&format!(
        "sources:\n  - name: robots\n    type: uipath\n    base_url: {}\n    organization_id: {}\n    tenant_ids: [{}]\n    consumable_codes: [RU]\n    seats: true\n    oauth2:\n      client_id: {}\n      client_secret: {}\n",
        running.url(),
        org.organization_id,
        org.tenant_ids.join(", "),
        org.client_id,
        org.client_secret,
    ));
    let source = &mut config.sources[0];
    source.source = std::sync::Arc::new(crate::hostile::PanickingSource {
        inner: source.source.clone(),
        panics: std::sync::atomic::AtomicUsize::new(1),
    });
    let clock: consumption_exporter::model::clock::SharedClock =
        std::sync::Arc::new(consumption_exporter::model::clock::SystemClock);
    let outcome = tokio::spawn(async move { idle_seats(&config, &[], clock).await })
        .await
        .expect("the command's task survives a panic in a poll");
    let error = outcome
        .expect_err("a poll that panicked fails the command")
        .to_string();
    assert!(
        error.starts_with("source robots (uipath): the poll panicked"),
        "{error}"
    );
    assert!(error.contains("a bug in a vendor decoder"), "{error}");
}

/// Seats are an inventory: read by the first poll, kept (and served, with the time they were
/// read) by the polls within `inventory_interval`, read again after it; usage is read by every
/// poll. A poll whose inventory read fails leaves the kept read's time, so the next poll reads
/// again.
#[tokio::test]
async fn seats_are_read_once_per_inventory_interval_and_served_in_between() {
    use consumption_exporter::model::clock::FixedClock;
    use consumption_exporter::simulator::{Fault, When};
    let org = UiPathOrganization {
        named_users: 40,
        ..UiPathOrganization::default()
    };
    let simulator = UiPathSimulator::new(org.clone());
    let faults = simulator.faults();
    let running = simulator.start(0).await.unwrap();
    let noon = org.today.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let clock = FixedClock::new(noon);
    let yaml = source(
        &running.url(),
        "    seats: true\n    inventory_interval: 6h\n    max_retries: 0\n",
    );
    let exporter = TestExporter::start_with_clock(&yaml, std::sync::Arc::new(clock.clone())).await;
    let count = |fragment: &str| {
        let requests = running.requests();
        requests.iter().filter(|r| r.uri.contains(fragment)).count()
    };
    let (named, usage) = ("GetLicensesNamedUser", "daily-consumption-by-service");
    let attended = [
        ("source", "robots"),
        ("vendor", "uipath"),
        ("licence", "Attended"),
        ("sub_account", TENANT_A),
    ];
    let read_at = [("source", "robots"), ("vendor", "uipath")];
    let inventory = "consumption_source_inventory_read_timestamp_seconds";
    let mut seen = (0, 0);
    for (hours, reads_seats) in [(0, true), (1, false), (5, false), (6, true), (7, false)] {
        clock.set(noon + Duration::hours(hours));
        exporter.assert_polls(0).await;
        let now = (count(named), count(usage));
        assert!(now.1 > seen.1, "+{hours}h: usage is read by every poll");
        assert_eq!(now.0 > seen.0, reads_seats, "+{hours}h: named users read");
        seen = now;
        let m = exporter.scrape().await;
        let read = if hours < 6 {
            noon
        } else {
            noon + Duration::hours(6)
        };
        assert_eq!(
            m.get(inventory, &read_at),
            Some(read.timestamp() as f64),
            "+{hours}h"
        );
        let assigned = m.get("consumption_seats_assigned", &attended);
        assert!(assigned.is_some_and(|n| n > 0.0), "+{hours}h: seats served");
    }
    // At +12h the inventory is due; its read fails, and the poll with it. The next poll reads
    // it again, though it is only a minute later.
    clock.set(noon + Duration::hours(12));
    faults.inject(When::Entitlements, Fault::Status(503), 1);
    let failing_before = count(named);
    assert!(!exporter.poll(0).await, "the inventory read failed");
    assert!(count("GetLicense") > 0 && count(named) >= failing_before);
    clock.set(noon + Duration::hours(12) + Duration::minutes(1));
    let before = count(named);
    exporter.assert_polls(0).await;
    assert!(
        count(named) > before,
        "a failed inventory read is read again at the next poll"
    );
}

/// The folders' shares are an inventory: consumption by folder is read by the first poll and
/// every `inventory_interval` after (and for a range not read before); the polls between split
/// the fresh units by the kept shares, which still sum to the units.
#[tokio::test]
async fn folder_shares_are_read_once_per_inventory_interval_and_still_sum_to_the_units() {
    use consumption_exporter::model::clock::FixedClock;
    let org = UiPathOrganization::default();
    let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    let noon = org.today.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let clock = FixedClock::new(noon);
    let yaml = source(&running.url(), "    by_folder: true\n");
    let exporter = TestExporter::start_with_clock(&yaml, std::sync::Arc::new(clock.clone())).await;
    let count = |fragment: &str| {
        let requests = running.requests();
        requests.iter().filter(|r| r.uri.contains(fragment)).count()
    };
    let mut seen = (0, 0);
    for (hours, reads) in [(0, true), (1, false), (5, false), (6, true), (7, false)] {
        clock.set(noon + Duration::hours(hours));
        exporter.assert_polls(0).await;
        let now = (
            count("consumption-by-folder"),
            count("daily-consumption-by-service"),
        );
        assert_eq!(
            now.0 > seen.0,
            reads,
            "+{hours}h: consumption by folder read"
        );
        assert!(now.1 > seen.1, "+{hours}h: the usage is read by every poll");
        seen = now;
        let m = exporter.scrape().await;
        for tenant in &org.tenant_ids {
            let today_of = |family: &str| -> f64 {
                m.samples()
                    .filter(|(name, labels, _)| {
                        let has = |key: &str, value: &str| {
                            labels.iter().any(|(k, v)| k == key && v == value)
                        };
                        *name == family
                            && has("tenant_id", tenant)
                            && has("consumable", "RU")
                            && has("window", "today")
                    })
                    .map(|(_, _, value)| value)
                    .sum()
            };
            let of_folders = today_of("consumption_uipath_folder_units");
            let units = today_of("consumption_uipath_consumed_units");
            assert!(units > 0.0, "+{hours}h: {tenant} has units today");
            assert!(
                (of_folders - units).abs() < 1e-6 * units,
                "+{hours}h: {tenant}: {of_folders} of {units}"
            );
        }
    }
}

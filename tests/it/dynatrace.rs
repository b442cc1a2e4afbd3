//! The Dynatrace source against its simulator over real HTTP, and against a Dynatrace-shaped
//! server.

use std::time::Duration;

use chrono::NaiveDate;
use consumption_exporter::simulator::dynatrace::{
    daily_usage, DynatraceAccount, DynatraceSimulator, CAPABILITIES,
};
use consumption_exporter::simulator::{Fault, When};

use crate::helpers::{assert_loop_detected, test_today, Exposition, TestExporter};

fn account() -> DynatraceAccount {
    DynatraceAccount {
        today: test_today(),
        ..DynatraceAccount::default()
    }
}

fn source(url: &str, extra: &str) -> String {
    let a = DynatraceAccount::default();
    format!(
        "sources:\n  - name: dt\n    type: dynatrace\n    base_url: {url}\n    account_uuid: {}\n    subscription_uuid: {}\n    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n{extra}",
        a.account_uuid, a.subscription_uuid, a.client_id, a.client_secret
    )
}

fn usage(
    m: &Exposition,
    environment: &str,
    capability: (&str, &str, &str),
    window: &str,
) -> Option<f64> {
    let (key, name, unit) = capability;
    m.get(
        "consumption_dynatrace_usage",
        &[
            ("source", "dt"),
            ("subscription_uuid", "dps-0000-4000-8000-000000000002"),
            ("environment_id", environment),
            ("capability_key", key),
            ("capability_name", name),
            ("unit", unit),
            ("window", window),
        ],
    )
}

/// The test's own window sums of the simulator's daily usage (today is 2026-11-22).
fn expected(seed: u64, environment: &str, capability: &str) -> [f64; 3] {
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let value = |d: u32| daily_usage(seed, environment, capability, day(d));
    [value(22), value(21), (1..=22).map(value).sum()]
}

fn assert_all_windows(m: &Exposition, environments: &[&str]) {
    for environment in environments {
        for capability in CAPABILITIES {
            let want = expected(1, environment, capability.0);
            for (window, value) in ["today", "yesterday", "month_to_date"]
                .into_iter()
                .zip(want)
            {
                assert_eq!(
                    usage(m, environment, capability, window),
                    Some(value),
                    "{environment} {capability:?} {window}"
                );
            }
        }
    }
    assert_eq!(
        m.count("consumption_dynatrace_usage"),
        environments.len() * CAPABILITIES.len() * 3
    );
}

#[tokio::test]
async fn v3_window_sums_are_exact_across_cursor_pages() {
    let simulator = DynatraceSimulator::new(account());
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "")).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    assert_all_windows(
        &m,
        &["abc12345", "def67890", "ghi13579", "jkl24680", "mno11223"],
    );
    let queries = simulator.queries();
    assert_eq!(
        queries.len(),
        3,
        "five environments, two a page: {queries:?}"
    );
    assert_eq!(
        queries[0],
        "startTime=2026-11-01T00%3A00%3A00Z&endTime=2026-11-22T10%3A00%3A00Z"
    );
    assert!(
        queries[1].starts_with("page-key=") && !queries[1].contains("startTime"),
        "{}",
        queries[1]
    );
    let health = [("source", "dt"), ("vendor", "dynatrace")];
    let modified = chrono::DateTime::parse_from_rfc3339("2026-11-22T04:00:00Z")
        .unwrap()
        .timestamp() as f64;
    assert_eq!(
        m.get("consumption_source_data_updated_timestamp_seconds", &health),
        Some(modified)
    );
    assert_eq!(
        m.count("consumption_source_api_sunset_timestamp_seconds"),
        0,
        "v3 announces no sunset"
    );
}

#[tokio::test]
async fn environment_and_capability_filters_narrow_the_query() {
    let simulator = DynatraceSimulator::new(account());
    let running = simulator.start(0).await.unwrap();
    let extra = "    environment_ids: [def67890, mno11223]\n    capability_keys: [FULLSTACK_MONITORING]\n    page_size: 10\n";
    let exporter = TestExporter::start(&source(&running.url(), extra)).await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    let fullstack = CAPABILITIES[0];
    assert_eq!(
        usage(&m, "def67890", fullstack, "month_to_date"),
        Some(expected(1, "def67890", fullstack.0)[2])
    );
    assert_eq!(m.count("consumption_dynatrace_usage"), 2 * 3);
    let query = &simulator.queries()[0];
    assert!(
        query.contains("environmentIds=def67890%2Cmno11223")
            && query.contains("capabilityKeys=FULLSTACK_MONITORING")
            && query.contains("page-size=10"),
        "{query}"
    );
}

#[tokio::test]
async fn v2_is_read_unpaged_and_its_sunset_date_is_served() {
    let simulator = DynatraceSimulator::new(account());
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    api_version: v2\n")).await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    assert_all_windows(
        &m,
        &["abc12345", "def67890", "ghi13579", "jkl24680", "mno11223"],
    );
    assert_eq!(simulator.queries().len(), 1);
    let sunset = chrono::DateTime::parse_from_rfc3339("2027-01-11T00:00:00Z")
        .unwrap()
        .timestamp() as f64;
    assert_eq!(
        m.get(
            "consumption_source_api_sunset_timestamp_seconds",
            &[("source", "dt")]
        ),
        Some(sunset)
    );
}

#[tokio::test]
async fn a_poll_that_outlives_its_token_renews_it_before_it_expires() {
    let simulator = DynatraceSimulator::new(DynatraceAccount {
        token_lifetime: Duration::from_secs(2),
        ..account()
    });
    let running = simulator.start(0).await.unwrap();
    for page in 1..=3 {
        simulator.faults().inject(
            When::Page(page),
            Fault::Delay(Duration::from_millis(900)),
            1,
        );
    }
    let exporter = TestExporter::start(&source(&running.url(), "")).await;
    exporter.assert_polls(0).await;
    assert!(
        simulator.tokens_issued() >= 2,
        "the walk lasted longer than one token"
    );
    let m = exporter.scrape().await;
    let refused = m
        .samples()
        .filter(|(name, labels, _)| {
            *name == "consumption_source_requests_total"
                && labels.iter().any(|(k, v)| k == "code" && v == "401")
        })
        .count();
    assert!(
        m.count("consumption_source_requests_total") > 0,
        "requests are counted"
    );
    assert_eq!(refused, 0, "no request went out with an expired token");
}

#[tokio::test]
async fn a_502_mid_walk_is_retried() {
    let simulator = DynatraceSimulator::new(account());
    let running = simulator.start(0).await.unwrap();
    simulator
        .faults()
        .inject(When::Page(2), Fault::Status(502), 1);
    let exporter = TestExporter::start(&source(&running.url(), "")).await;
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    assert_eq!(
        m.get(
            "consumption_source_requests_total",
            &[
                ("source", "dt"),
                ("vendor", "dynatrace"),
                ("api_endpoint", "usage"),
                ("code", "502")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(m.count("consumption_dynatrace_usage"), 5 * 4 * 3);
}

mod against_a_dynatrace_shaped_server {
    use super::*;
    use serde_json::json;
    use wiremock::matchers::{body_string_contains, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn the_documented_shapes_are_read_with_the_resource_in_the_token_request() {
        let server = MockServer::start().await;
        let a = DynatraceAccount::default();
        Mock::given(method("POST"))
            .and(path("/sso/oauth2/token"))
            .and(body_string_contains(format!(
                "resource=urn%3Adtaccount%3A{}",
                a.account_uuid
            )))
            .and(body_string_contains("scope=account-uac-read"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "resource": format!("urn:dtaccount:{}", a.account_uuid),
                "access_token": "doc-token", "expires_in": 300, "scope": "account-uac-read"})))
            .expect(1)
            .mount(&server)
            .await;
        // The Python client's test sample: date-only times, no nextPageKey at all.
        Mock::given(method("GET"))
            .and(path(format!("/sub/v3/accounts/{}/subscriptions/{}/environments/usage", a.account_uuid, a.subscription_uuid)))
            .and(query_param("startTime", "2026-11-01T00:00:00Z"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [{"environmentId": "environment-1", "usage": [
                    {"capabilityKey": "metric", "capabilityName": "Metrics", "startTime": "2026-11-21", "endTime": "2026-11-22", "value": 1.5, "unitMeasure": "GiB"},
                    {"capabilityKey": "metric", "capabilityName": "Metrics", "startTime": "2026-11-22", "endTime": "2026-11-23", "value": 0.25, "unitMeasure": "GiB"}
                ]}],
                "lastModifiedTime": "2026-11-22T00:00:00Z"})))
            .expect(1)
            .mount(&server)
            .await;
        let exporter = TestExporter::start(&source(&server.uri(), "")).await;
        exporter.assert_polls(0).await;
        let m = exporter.scrape().await;
        let metric = ("metric", "Metrics", "GiB");
        assert_eq!(usage(&m, "environment-1", metric, "today"), Some(0.25));
        assert_eq!(usage(&m, "environment-1", metric, "yesterday"), Some(1.5));
        assert_eq!(
            usage(&m, "environment-1", metric, "month_to_date"),
            Some(1.75)
        );
    }
}

/// A cursor that points back at a page already read ends the poll with
/// `reason="pagination_loop"` instead of polling forever.
#[tokio::test]
async fn a_dynatrace_page_key_that_repeats_is_stopped() {
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

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

fn commitment(m: &Exposition, family: &str) -> Option<f64> {
    let labels = [
        ("source", "dt"),
        ("vendor", "dynatrace"),
        ("budget", "commitment"),
        ("unit", "USD"),
        ("origin", "vendor"),
    ];
    m.get(&format!("consumption_budget_{family}"), &labels)
}

fn midnight(day: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(&format!("{day}T00:00:00Z"))
        .unwrap()
        .timestamp() as f64
}

#[tokio::test]
async fn entitlements_serve_the_commitment_and_dynatraces_forecast_of_it() {
    let simulator = DynatraceSimulator::new(account());
    let running = simulator.start(0).await.unwrap();
    // Every poll reads the commitment: its change between two polls is the point here.
    let extra = "    entitlements: true\n    inventory_interval: 0s\n";
    let exporter = TestExporter::start(&source(&running.url(), extra)).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    assert_eq!(commitment(&m, "limit"), Some(250_000.0));
    assert_eq!(commitment(&m, "used"), Some(131_072.5));
    assert_eq!(commitment(&m, "forecast"), Some(262_144.0));
    assert_eq!(commitment(&m, "overage"), Some(0.0));
    assert_eq!(commitment(&m, "warn_ratio"), Some(0.8));
    // currentPeriod 2026-04-01 to 2027-03-31: it ends at the midnight after its last day.
    assert_eq!(
        commitment(&m, "period_start_timestamp_seconds"),
        Some(midnight("2026-04-01"))
    );
    assert_eq!(
        commitment(&m, "period_end_timestamp_seconds"),
        Some(midnight("2027-04-01"))
    );

    simulator.set_commitment_used(300_000.0);
    assert!(exporter.poll(0).await);
    let m = exporter.scrape().await;
    assert_eq!(
        commitment(&m, "overage"),
        Some(1.0),
        "past the commitment: on-demand spend"
    );
}

#[tokio::test]
async fn no_forecast_yet_is_no_forecast_series_and_no_error() {
    let simulator = DynatraceSimulator::new(DynatraceAccount {
        forecast_median: None,
        ..account()
    });
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    entitlements: true\n")).await;
    assert!(exporter.poll(0).await, "a 404 forecast is not an error");
    let m = exporter.scrape().await;
    assert_eq!(commitment(&m, "forecast"), None);
    assert_eq!(commitment(&m, "limit"), Some(250_000.0));
}

#[tokio::test]
async fn a_client_without_the_permission_fails_the_poll_naming_the_scope_and_publishes_nothing() {
    let simulator = DynatraceSimulator::new(DynatraceAccount {
        subscription_forbidden: true,
        ..account()
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
            && error.contains("account-uac-read")
            && error.contains("account-viewer"),
        "{error}"
    );
    let m = exporter.scrape().await;
    assert_eq!(
        m.count("consumption_dynatrace_usage"),
        0,
        "all or nothing: no usage either"
    );
    let labels = [
        ("source", "dt"),
        ("vendor", "dynatrace"),
        ("reason", "forbidden"),
    ];
    assert_eq!(m.get("consumption_source_errors_total", &labels), Some(1.0));
}

#[tokio::test]
async fn without_entitlements_the_subscription_is_not_asked_for() {
    let simulator = DynatraceSimulator::new(account());
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "")).await;
    assert!(exporter.poll(0).await);
    assert_eq!(commitment(&exporter.scrape().await, "limit"), None);
    assert!(running
        .requests()
        .iter()
        .all(|r| r.uri.contains("/environments/usage") || r.uri.contains("/sso/")));
}

#[tokio::test]
async fn the_documented_subscription_and_forecast_are_read() {
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let a = DynatraceAccount::default();
    let ok = |body| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("POST"))
        .and(path("/sso/oauth2/token"))
        .respond_with(ok(json!({"access_token": "t", "expires_in": 300})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/sub/v3/accounts/{}/subscriptions/{}/environments/usage",
            a.account_uuid, a.subscription_uuid
        )))
        .respond_with(ok(
            json!({"data": [], "lastModifiedTime": "2026-11-22T00:00:00Z"}),
        ))
        .mount(&server)
        .await;
    // The cost listing in the shape of Dynatrace's spec (SubscriptionEnvironmentCostListV3Dto).
    Mock::given(method("GET"))
        .and(path(format!("/sub/v3/accounts/{}/subscriptions/{}/environments/cost", a.account_uuid, a.subscription_uuid)))
        .respond_with(ok(json!({"data": [{"clusterId": "c-1", "environmentId": "env-1", "cost": [
            {"startTime": "2026-11-22T00:00:00Z", "endTime": "2026-11-23T00:00:00Z", "value": 12.5, "currencyCode": "USD",
             "capabilityKey": "metric", "capabilityName": "Metrics", "bookingDate": "2026-11-22"}]}],
            "lastModifiedTime": "2026-11-22T06:00:00Z", "nextPageKey": null})))
        .expect(1)
        .mount(&server)
        .await;
    // The mock values of Dynatrace's Python client tests (vendor-limits.md §1.1 and §1.4).
    Mock::given(method("GET"))
        .and(path(format!("/sub/v2/accounts/{}/subscriptions/{}", a.account_uuid, a.subscription_uuid)))
        .respond_with(ok(json!({"uuid":"subscription-789","type":"STANDARD","status":"ACTIVE","budget":{"total":100.0,"used":25.0,"currencyCode":"USD"},"currentPeriod":{"startTime":"2026-04-01","endTime":"2026-04-30","daysRemaining":29},"periods":[{"startTime":"2026-01-01","endTime":"2026-03-31"}],"capabilities":[{"key":"metric","name":"Metrics"}]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/sub/v2/accounts/{}/subscriptions/forecast", a.account_uuid)))
        .respond_with(ok(json!({"forecastMedian":42.0,"forecastLower":40.0,"forecastUpper":45.0,"budget":100.0,"forecastBudgetPct":42.0,"forecastBudgetDate":"2026-05-01","forecastCreatedAt":"2026-04-02T00:00:00Z"})))
        .expect(1)
        .mount(&server)
        .await;
    let exporter = TestExporter::start(&source(&server.uri(), "    entitlements: true\n")).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    assert_eq!(commitment(&m, "limit"), Some(100.0));
    assert_eq!(commitment(&m, "used"), Some(25.0));
    assert_eq!(commitment(&m, "forecast"), Some(42.0));
    assert_eq!(
        commitment(&m, "period_end_timestamp_seconds"),
        Some(midnight("2026-05-01"))
    );
}

#[tokio::test]
async fn entitlements_serve_dynatraces_cost_per_window_across_cursor_pages() {
    let account = DynatraceAccount {
        default_page_size: 2,
        ..account()
    };
    let simulator = DynatraceSimulator::new(account.clone());
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), "    entitlements: true\n")).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    for environment in &account.environments {
        for (key, name, _) in consumption_exporter::simulator::dynatrace::CAPABILITIES {
            let cost = |d: u32| {
                consumption_exporter::simulator::dynatrace::daily_usage(
                    account.seed,
                    environment,
                    key,
                    day(d),
                ) * consumption_exporter::simulator::dynatrace::rate(key)
            };
            let expected = [
                ("today", cost(22)),
                ("yesterday", cost(21)),
                ("month_to_date", (1..=22).map(cost).sum::<f64>()),
            ];
            for (window, want) in expected {
                let labels = [
                    ("source", "dt"),
                    ("subscription_uuid", account.subscription_uuid.as_str()),
                    ("environment_id", environment.as_str()),
                    ("capability_key", key),
                    ("capability_name", name),
                    ("currency", "USD"),
                    ("window", window),
                ];
                let got = m
                    .get("consumption_dynatrace_cost", &labels)
                    .unwrap_or(f64::NAN);
                assert!(
                    (got - want).abs() < 1e-6 * want.max(1.0),
                    "{environment} {key} {window}: {got} != {want}"
                );
            }
        }
    }
    let cost_pages = running
        .requests()
        .iter()
        .filter(|r| r.uri.contains("/environments/cost"))
        .count();
    assert_eq!(cost_pages, 3, "five environments, two a page");
}

/// A source without `subscription_uuid`: Dynatrace lists the account's subscriptions.
fn discovering_source(url: &str, extra: &str) -> String {
    let a = DynatraceAccount::default();
    format!(
        "sources:\n  - name: dt\n    type: dynatrace\n    base_url: {url}\n    account_uuid: {}\n    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n{extra}",
        a.account_uuid, a.client_id, a.client_secret
    )
}

#[tokio::test]
async fn without_a_subscription_every_active_subscription_of_the_account_is_polled() {
    let main = DynatraceAccount::default().subscription_uuid;
    let (second, ended, expired) = ("dps-second", "dps-terminated", "dps-expired");
    let simulator = DynatraceSimulator::new(DynatraceAccount {
        other_subscriptions: vec![
            (second.into(), "ACTIVE".into()),
            (ended.into(), "TERMINATED".into()),
            (expired.into(), "EXPIRED".into()),
        ],
        ..account()
    });
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&discovering_source(
        &running.url(),
        "    entitlements: true\n",
    ))
    .await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let served = |subscription: &str| {
        m.samples()
            .filter(|(name, _, _)| *name == "consumption_dynatrace_usage")
            .filter(|(_, labels, _)| {
                labels
                    .iter()
                    .any(|(k, v)| k == "subscription_uuid" && v == subscription)
            })
            .count()
    };
    let per_subscription = 5 * CAPABILITIES.len() * 3;
    assert_eq!(served(&main), per_subscription);
    assert_eq!(served(second), per_subscription);
    assert_eq!(served(ended), 0, "a terminated subscription is not polled");
    assert_eq!(served(expired), 0, "an expired subscription is not polled");
    // Each subscription's own usage (the simulator shifts the second one's seed).
    let today = |subscription: &str| {
        m.get(
            "consumption_dynatrace_usage",
            &[
                ("source", "dt"),
                ("subscription_uuid", subscription),
                ("environment_id", "abc12345"),
                ("capability_key", CAPABILITIES[0].0),
                ("capability_name", CAPABILITIES[0].1),
                ("unit", CAPABILITIES[0].2),
                ("window", "today"),
            ],
        )
    };
    assert_eq!(
        today(&main),
        Some(expected(1, "abc12345", CAPABILITIES[0].0)[0])
    );
    assert_eq!(
        today(second),
        Some(expected(1001, "abc12345", CAPABILITIES[0].0)[0])
    );
    let paths: Vec<String> = running.requests().into_iter().map(|r| r.uri).collect();
    assert!(
        !paths
            .iter()
            .any(|p| p.contains(ended) || p.contains(expired)),
        "nothing is asked of the ended subscriptions: {paths:?}"
    );
    // One commitment per subscription, named apart; the account's forecast belongs to none.
    for subscription in [main.as_str(), second] {
        let labels = [
            ("source", "dt"),
            ("vendor", "dynatrace"),
            ("budget", &format!("commitment-{subscription}")),
            ("unit", "USD"),
            ("origin", "vendor"),
        ];
        assert_eq!(m.get("consumption_budget_limit", &labels), Some(250_000.0));
        assert_eq!(m.get("consumption_budget_forecast", &labels), None);
    }
    assert!(
        !paths.iter().any(|p| p.contains("/subscriptions/forecast")),
        "the account forecast is not read for two subscriptions"
    );
}

/// The error of a poll that lists `account`'s subscriptions and fails, and what it served.
async fn failed_discovery(account: DynatraceAccount) -> (String, Exposition) {
    let simulator = DynatraceSimulator::new(account);
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&discovering_source(&running.url(), "")).await;
    assert!(!exporter.poll(0).await, "the poll fails");
    (exporter.last_error(0), exporter.scrape().await)
}

#[tokio::test]
async fn an_account_with_no_active_subscription_fails_the_poll_saying_what_to_set() {
    let (error, served) = failed_discovery(DynatraceAccount {
        subscription_status: "EXPIRED".into(),
        other_subscriptions: vec![("dps-ended".into(), "TERMINATED".into())],
        ..account()
    })
    .await;
    assert!(
        error.contains("no active subscription in the account: set subscription_uuid"),
        "{error}"
    );
    assert_eq!(served.count("consumption_dynatrace_usage"), 0);
}

#[tokio::test]
async fn a_subscription_list_refused_names_the_scope_it_needs() {
    let (error, _) = failed_discovery(DynatraceAccount {
        subscription_forbidden: true,
        ..account()
    })
    .await;
    assert!(
        error.contains("the subscription list of account") && error.contains("account-uac-read"),
        "{error}"
    );
}

/// Without `subscription_uuid` the account's subscriptions are listed: an inventory, listed by
/// the first poll and every `inventory_interval` after; the usage is read by every poll.
#[tokio::test]
async fn the_subscriptions_are_listed_once_per_inventory_interval() {
    use consumption_exporter::model::clock::FixedClock;
    let running = DynatraceSimulator::new(account()).start(0).await.unwrap();
    let a = DynatraceAccount::default();
    let url = running.url();
    let yaml = format!(
        "sources:\n  - name: dt\n    type: dynatrace\n    base_url: {url}\n    account_uuid: {}\n    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n",
        a.account_uuid, a.client_id, a.client_secret
    );
    let noon = crate::helpers::test_today()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    let clock = FixedClock::new(noon);
    let exporter = TestExporter::start_with_clock(&yaml, std::sync::Arc::new(clock.clone())).await;
    let count = |listing: bool| {
        let requests = running.requests();
        let is_listing = |uri: &str| {
            uri.split('?')
                .next()
                .is_some_and(|p| p.ends_with("/subscriptions"))
        };
        requests
            .iter()
            .filter(|r| is_listing(&r.uri) == listing && r.uri.contains("/sub/"))
            .count()
    };
    let mut seen = (0, 0);
    for (hours, lists) in [(0, true), (2, false), (6, true), (9, false)] {
        clock.set(noon + chrono::Duration::hours(hours));
        exporter.assert_polls(0).await;
        let now = (count(true), count(false));
        assert_eq!(now.0 > seen.0, lists, "+{hours}h: the subscriptions listed");
        assert!(now.1 > seen.1, "+{hours}h: the usage is read by every poll");
        seen = now;
        let m = exporter.scrape().await;
        assert!(m.count("consumption_dynatrace_usage") > 0, "+{hours}h");
    }
}

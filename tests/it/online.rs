//! `check --online` against every vendor's simulator: all good (exit 0, a line per endpoint the
//! config calls), and per vendor the first-hour failures a user meets (a refused secret, a 403 on
//! one endpoint, an unreachable host, a private CA), each line saying what to do.

use std::path::Path;

use consumption_exporter::commands::online::{check_online, table, Call};
use consumption_exporter::simulator::kit::{Credentials, SimulatedTenant, VENDORS};
use consumption_exporter::simulator::{Fault, When};

use crate::helpers::{free_port, parse_config};
use crate::tls::{tls_gateway, PrivatePki};

async fn tenant(
    vendor: &dyn consumption_exporter::simulator::kit::SimulatedVendor,
) -> SimulatedTenant {
    let spec = consumption_exporter::simulator::kit::TenantSpec {
        seed: 11,
        today: chrono::Utc::now().date_naive(),
        scale: consumption_exporter::simulator::kit::Scale::Small,
    };
    vendor.start(spec).await.unwrap()
}

async fn calls(entries: &str) -> Vec<Call> {
    let config = parse_config(&format!("sources:\n{entries}"));
    check_online(&config, chrono::Utc::now()).await.unwrap()
}

fn failed(calls: &[Call]) -> Vec<&Call> {
    calls.iter().filter(|c| !c.ok).collect()
}

async fn check_binary(dir: &Path, yaml: &str, args: &[&str]) -> std::process::Output {
    let config = dir.join("exporter.yml");
    std::fs::write(&config, yaml).unwrap();
    // Awaited, not waited for: the simulators answer on this test's runtime.
    tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args(["check", "--online", "--config.file"])
        .arg(&config)
        .args(args)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_good_setup_of_every_vendor_answers_on_every_endpoint_and_exits_0() {
    let mut yaml = "sources:\n".to_string();
    let mut tenants = Vec::new();
    for vendor in VENDORS {
        let tenant = tenant(*vendor).await;
        yaml.push_str(&tenant.entry(vendor.type_name()));
        tenants.push(tenant);
    }
    let dir = tempfile::tempdir().unwrap();
    let output = check_binary(dir.path(), &yaml, &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for vendor in VENDORS {
        let vendor = vendor.type_name();
        let endpoints = endpoints_called(vendor);
        for endpoint in endpoints {
            let line = format!("{vendor}  ");
            assert!(
                stdout.lines().any(|l| l.starts_with(&line)
                    && l.contains(&format!("  {endpoint}  "))
                    && l.contains("  ok  ")),
                "{vendor} {endpoint} ok:\n{stdout}"
            );
        }
    }
    for tenant in &tenants {
        let requests = tenant.requests();
        assert!(!requests.is_empty(), "{} was called", tenant.type_name());
        let pages = requests
            .iter()
            .filter(|r| {
                r.uri.contains("page=2")
                    || r.uri.contains("pageNumber=2")
                    || r.uri.contains("skip=1")
            })
            .count();
        assert_eq!(
            pages,
            0,
            "{}: one smallest request per endpoint, no second page: {requests:?}",
            tenant.type_name()
        );
    }
    assert!(
        !stdout.lines().any(|l| l
            .split_whitespace()
            .nth(2)
            .is_some_and(|e| e.starts_with('/'))),
        "every call is named by its vendor's endpoint table:\n{stdout}"
    );
    let json = check_binary(dir.path(), &yaml, &["--output", "json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert!(report["calls"].as_array().unwrap().len() >= 20, "{report}");
}

#[tokio::test]
async fn a_refused_secret_names_the_token_endpoint_and_what_to_register() {
    for vendor in VENDORS {
        let tenant = tenant(*vendor).await;
        let Some(entry) = tenant.entry_with("bad-secret", &Credentials::WrongClientSecret) else {
            continue;
        };
        let calls = calls(&entry).await;
        let failures = failed(&calls);
        assert_eq!(failures.len(), 1, "{}", table(&calls));
        let token = failures[0];
        assert_eq!(token.endpoint, "token", "{}", table(&calls));
        let error = token.error.as_deref().unwrap();
        assert!(
            error.contains("token needs") || error.contains("needs"),
            "{}: {error}",
            vendor.type_name()
        );
        assert!(
            matches!(token.status, Some(400 | 401)),
            "{}: {error}",
            vendor.type_name()
        );
    }
}

#[tokio::test]
async fn a_403_on_one_endpoint_says_what_that_endpoint_needs_and_the_others_still_answer() {
    for vendor in VENDORS {
        let name = vendor.type_name();
        let tenant = tenant(*vendor).await;
        let when = match vendor.has_entitlements() {
            true => When::Entitlements,
            false => When::Next,
        };
        tenant.faults().inject(when, Fault::Status(403), 1);
        let calls = calls(&tenant.entry(name)).await;
        let failures = failed(&calls);
        assert_eq!(failures.len(), 1, "{name}: {}", table(&calls));
        let refused = failures[0];
        assert_eq!(refused.status, Some(403));
        let error = refused.error.as_deref().unwrap();
        assert!(
            error.contains(&format!("lacks what {} needs: ", refused.endpoint)),
            "{name}: {error}"
        );
        if when == When::Entitlements {
            assert!(
                calls.iter().any(|c| c.endpoint == "usage" && c.ok),
                "{name}: {}",
                table(&calls)
            );
        }
    }
}

#[tokio::test]
async fn an_unreachable_host_names_the_host_to_check() {
    for vendor in VENDORS {
        let tenant = tenant(*vendor).await;
        let dead = format!("http://127.0.0.1:{}", free_port());
        let entry = tenant
            .entry(vendor.type_name())
            .replace(&tenant.url(), &dead);
        let calls = calls(&format!("{entry}    max_retries: 0\n")).await;
        let failures = failed(&calls);
        assert_eq!(failures.len(), 1, "{}", table(&calls));
        let error = failures[0].error.as_deref().unwrap();
        assert!(
            error.contains("check that 127.0.0.1 is the right host and region"),
            "{}: {error}",
            vendor.type_name()
        );
    }
}

#[ignore = "needs openssl: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn a_private_ca_without_ca_file_says_the_chain_failed_and_what_to_set() {
    let pki = PrivatePki::new();
    for vendor in VENDORS {
        let tenant = tenant(*vendor).await;
        let gateway = tls_gateway(&pki, &tenant, false).await;
        let entry = crate::tls::entry_behind(
            &tenant,
            vendor.type_name(),
            &gateway,
            "    max_retries: 0\n",
        );
        let calls = calls(&entry).await;
        let failures = failed(&calls);
        assert_eq!(failures.len(), 1, "{}", table(&calls));
        let error = failures[0].error.as_deref().unwrap();
        assert!(
            error.contains("TLS to 127.0.0.1") && error.contains("tls_config.ca_file"),
            "{}: {error}",
            vendor.type_name()
        );
        assert!(table(&calls).contains("  TLS  "), "{}", table(&calls));
    }
}

#[tokio::test]
async fn a_failing_setup_exits_non_zero_with_the_json_saying_why() {
    let tenant = tenant(VENDORS[0]).await;
    tenant.faults().inject(When::Next, Fault::Status(403), 1);
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("sources:\n{}", tenant.entry("refused"));
    let output = check_binary(dir.path(), &yaml, &["--output", "json"]).await;
    assert!(!output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let refused = report["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ok"] == false)
        .unwrap();
    assert_eq!(refused["status"], 403);
    assert!(
        refused["error"].as_str().unwrap().contains("needs"),
        "{refused}"
    );
}

#[tokio::test]
async fn every_request_a_poll_makes_belongs_to_an_endpoint_that_says_what_it_needs() {
    for vendor in VENDORS {
        let tenant = tenant(*vendor).await;
        let yaml = format!("sources:\n{}", tenant.entry(vendor.type_name()));
        let endpoints = parse_config(&yaml).sources[0].source.facts().endpoints;
        let exporter = crate::helpers::TestExporter::start(&yaml).await;
        exporter.assert_polls(0).await;
        let requests = tenant.requests();
        assert!(requests.len() > 1, "{}", vendor.type_name());
        for request in requests {
            let path = request
                .uri
                .split('?')
                .next()
                .unwrap_or_default()
                .to_string();
            let endpoint = consumption_exporter::http::endpoint_of(endpoints, &path);
            assert!(
                endpoint.is_some_and(|e| !e.needs.is_empty()),
                "{}: {path} is in no endpoint of the vendor's table",
                vendor.type_name()
            );
        }
    }
}

/// `sum by (api_endpoint)` of the request counter is what each endpoint cost: the requests
/// the simulator received, counted by the endpoint of its path.
#[tokio::test]
async fn the_request_counters_say_what_each_endpoint_cost() {
    for vendor in VENDORS {
        let name = vendor.type_name();
        let tenant = tenant(*vendor).await;
        let yaml = format!("sources:\n{}", tenant.entry(name));
        let endpoints = parse_config(&yaml).sources[0].source.facts().endpoints;
        let exporter = crate::helpers::TestExporter::start(&yaml).await;
        exporter.assert_polls(0).await;
        let mut received: std::collections::BTreeMap<String, f64> = Default::default();
        for request in tenant.requests() {
            let path = request.uri.split('?').next().unwrap_or_default();
            let endpoint = consumption_exporter::http::endpoint_of(endpoints, path).unwrap();
            *received.entry(endpoint.name.to_string()).or_default() += 1.0;
        }
        let m = exporter.scrape().await;
        let mut counted: std::collections::BTreeMap<String, f64> = Default::default();
        for (family, labels, value) in m.samples() {
            if family != "consumption_source_requests_total" {
                continue;
            }
            let endpoint = labels.iter().find(|(k, _)| k == "api_endpoint");
            let endpoint = endpoint.unwrap_or_else(|| panic!("{name}: {labels:?}"));
            *counted.entry(endpoint.1.clone()).or_default() += value;
        }
        assert!(received.len() > 1, "{name}: {received:?}");
        assert_eq!(counted, received, "{name}");
        for endpoint in endpoints {
            let bytes = [
                ("source", name),
                ("vendor", name),
                ("api_endpoint", endpoint.name),
            ];
            let served = m.get("consumption_source_response_bytes_total", &bytes);
            assert!(
                served.is_some(),
                "{name}: {} has a byte counter",
                endpoint.name
            );
        }
    }
}

/// The endpoints a good setup of each vendor calls, by `check --online`'s names; a vendor
/// without a row fails the test.
fn endpoints_called(vendor: &str) -> &'static [&'static str] {
    let table: [(&str, &[&str]); 6] = [
        (
            "qlik",
            &["usage", "licence overview", "seat assignments"][..],
        ),
        (
            "powerplatform",
            &["token", "usage", "currency reports", "tenant capacity"],
        ),
        (
            "uipath",
            &[
                "token",
                "usage",
                "consumption summary",
                "Orchestrator licence",
                "named users",
            ],
        ),
        (
            "dynatrace",
            &["token", "usage", "cost", "commitment", "forecast"],
        ),
        ("avepoint", &["token", "usage", "cloud flows", "apps"]),
        ("microsoft", &["token", "subscribed SKUs"]),
    ];
    match table.iter().find(|(name, _)| *name == vendor) {
        Some((_, endpoints)) => endpoints,
        None => panic!("{vendor} has no row in endpoints_called: add the endpoints it calls"),
    }
}

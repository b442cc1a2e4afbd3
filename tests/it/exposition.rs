//! What Prometheus reads: the exposition as a whole, checked by promtool, compared with a golden
//! file, served with the right headers and gzip.

use std::io::Read;
use std::process::Command;

use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};

use consumption_exporter::simulator::kit::{self, Scale, SimulatedTenant, TenantSpec};

use crate::helpers::{qlik_source, status_of, test_today, TestExporter};
use consumption_exporter::serve::server;

async fn two_qlik_tenants() -> (
    TestExporter,
    Vec<consumption_exporter::simulator::RunningSimulator>,
) {
    let tenant = QlikTenant {
        today: test_today(),
        ..QlikTenant::default()
    };
    let eu = QlikSimulator::new(tenant.clone(), generate_records(1, 8, test_today()))
        .start(0)
        .await
        .unwrap();
    let us = QlikSimulator::new(tenant, generate_records(2, 3, test_today()))
        .start(0)
        .await
        .unwrap();
    let yaml = format!(
        "sources:\n{}{}",
        qlik_source("acme-eu", &eu.url(), ""),
        qlik_source(
            "acme-us",
            &us.url(),
            "    labels: [resource_type, user_id]\n"
        )
    );
    let exporter = TestExporter::start(&yaml).await;
    assert!(exporter.poll(0).await);
    assert!(exporter.poll(1).await);
    (exporter, vec![eu, us])
}

/// A small tenant of every simulated vendor, each polled once on the test clock.
async fn every_vendor() -> (TestExporter, Vec<SimulatedTenant>) {
    let mut tenants = Vec::new();
    for (seed, vendor) in kit::VENDORS.iter().enumerate() {
        let spec = TenantSpec {
            seed: seed as u64,
            today: test_today(),
            scale: Scale::Small,
        };
        tenants.push(vendor.start(spec).await.unwrap());
    }
    let entries: String = tenants
        .iter()
        .map(|t| t.entry(&format!("acme-{}", t.type_name())))
        .collect();
    let exporter = TestExporter::start(&format!("sources:\n{entries}")).await;
    for (i, tenant) in tenants.iter().enumerate() {
        assert!(exporter.poll(i).await, "{}", tenant.type_name());
    }
    (exporter, tenants)
}

/// promtool from Debian's `prometheus` package; its absence fails the test with what to install.
fn promtool() -> &'static str {
    let found = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "promtool is not installed: run `apt-get install prometheus` (or ./scripts/test.sh, which does)");
    "promtool"
}

#[ignore = "needs promtool: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn promtool_check_metrics_is_clean_for_every_vendor_and_two_qlik_sources() {
    let (exporter, _simulators) = every_vendor().await;
    promtool_check_metrics(&exporter.scrape().await.text);
    let (exporter, _simulators) = two_qlik_tenants().await;
    promtool_check_metrics(&exporter.scrape().await.text);
}

fn promtool_check_metrics(body: &str) {
    let output = crate::helpers::output_with_input(
        Command::new(promtool()).args(["check", "metrics"]),
        body,
    );
    let complaints = crate::helpers::said(&output);
    assert!(
        output.status.success() && complaints.trim().is_empty(),
        "promtool check metrics:\n{complaints}"
    );
}

#[tokio::test]
async fn families_from_several_sources_share_one_help_and_type_line() {
    let (exporter, _simulators) = two_qlik_tenants().await;
    let text = exporter.scrape().await.text;
    for family in [
        "consumption_qlik_local_usage",
        "consumption_source_up",
        "consumption_source_requests_total",
    ] {
        assert_eq!(
            text.matches(&format!("# TYPE {family} ")).count(),
            1,
            "{family}"
        );
        assert_eq!(
            text.matches(&format!("# HELP {family} ")).count(),
            1,
            "{family}"
        );
    }
    assert!(text.contains("# TYPE consumption_source_requests_total counter"));
    assert!(text.contains("consumption_qlik_local_usage{source=\"acme-us\",resource_type=\"app\",user_id=\"user-00001\",period=\"current\"}"));
}

#[tokio::test]
async fn metrics_are_served_as_text_exposition_and_as_gzip_when_asked() {
    let (exporter, _simulators) = two_qlik_tenants().await;
    let client = crate::helpers::client();
    let plain = client.get(exporter.url("/metrics")).send().await.unwrap();
    assert_eq!(
        plain.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();

    let zipped = client
        .get(exporter.url("/metrics"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let zipped = zipped.bytes().await.unwrap();
    assert!(
        zipped.len() * 4 < plain.len(),
        "gzip should shrink the body: {} vs {}",
        zipped.len(),
        plain.len()
    );
    // One gzip member (GzDecoder, as curl, reads no further), the per-scrape block included.
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    let unzipped = String::from_utf8(unzipped).unwrap();
    let plain = String::from_utf8(plain.to_vec()).unwrap();
    assert_eq!(
        without_scrape_block(&unzipped),
        without_scrape_block(&plain)
    );
    assert!(
        unzipped.contains("\nprocess_resident_memory_bytes "),
        "{unzipped}"
    );
}

/// The exposition without what changes from one scrape to the next: the process figures and
/// the scrape counts.
fn without_scrape_block(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.contains("process_") && !l.contains("consumption_exporter_scrapes_total"))
        .collect()
}

#[tokio::test]
async fn health_and_readiness_endpoints_answer_as_prometheus_tooling_expects() {
    let simulator = QlikSimulator::new(
        QlikTenant {
            today: test_today(),
            ..QlikTenant::default()
        },
        generate_records(1, 1, test_today()),
    );
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&format!(
        "sources:\n{}",
        qlik_source("acme", &running.url(), "")
    ))
    .await;
    let status = |path: &'static str| status_of(exporter.url(path));
    assert_eq!(status("/-/healthy").await, 200);
    assert_eq!(
        status("/-/ready").await,
        503,
        "not ready before the first poll"
    );
    assert!(exporter.poll(0).await);
    assert_eq!(status("/-/ready").await, 200);
    assert_eq!(status("/nope").await, 404);
    let landing = crate::helpers::get(&exporter.url("/")).await;
    assert!(landing.contains("acme") && landing.contains("qlik") && landing.contains("up"));
    assert!(
        !landing.contains("qlik-sim-api-key"),
        "the landing page shows a secret"
    );
    // Relative links, so the page works behind a proxy that serves it under a path prefix.
    assert!(landing.contains("href=\"metrics\""), "{landing}");
    assert!(!landing.contains("href=\"/"), "{landing}");
    for (method, path, allow) in [
        (reqwest::Method::POST, "/metrics", "GET, HEAD"),
        (reqwest::Method::DELETE, "/", "GET, HEAD"),
        (reqwest::Method::GET, "/-/reload", "POST, PUT"),
    ] {
        let response = crate::helpers::client()
            .request(method.clone(), exporter.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
}

#[tokio::test]
async fn the_exposition_of_every_vendor_matches_the_golden_file() {
    let (exporter, _simulators) = every_vendor().await;
    let text = exporter.scrape().await.text;
    // Durations, byte counts and the build revision change from run to run; everything else is fixed by the
    // seeds and the test clock.
    let stable: String = text
        .lines()
        .map(|line| {
            let series = line.rsplit_once(' ').map_or(line, |(series, _)| series);
            if line.starts_with("consumption_source_poll_duration_seconds{") {
                format!("{series} <duration>")
            } else if line.starts_with("consumption_source_response_bytes_total{") {
                // Token answers carry expiry times of varying digits; the bytes test counts.
                format!("{series} <bytes>")
            } else if line.starts_with("process_") {
                format!("{series} <process>")
            } else if line.starts_with("consumption_exporter_build_info{") {
                "consumption_exporter_build_info{version=\"<version>\",revision=\"<revision>\",branch=\"<branch>\",rustversion=\"<rustversion>\"} 1"
                    .to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("every_vendor", stable);
}

/// The target labels Kubernetes service discovery and a prometheus-operator ServiceMonitor or
/// PodMonitor attach to every scraped series, and Prometheus's own `job` and `instance`.
const TARGET_LABELS: [&str; 7] = [
    "namespace",
    "pod",
    "service",
    "container",
    "endpoint",
    "job",
    "instance",
];

#[tokio::test]
async fn no_family_carries_a_label_that_kubernetes_or_prometheus_adds_to_targets() {
    // Demo tenants: every optional family of every vendor (summaries, entitlements).
    let mut tenants = Vec::new();
    for vendor in kit::VENDORS {
        for source in vendor.demo_sources() {
            let spec = TenantSpec {
                seed: 3,
                today: test_today(),
                scale: source.scale,
            };
            let tenant = vendor.start(spec).await.unwrap();
            tenants.push((source.name, tenant));
        }
    }
    let entries: String = tenants.iter().map(|(name, t)| t.entry(name)).collect();
    let exporter = TestExporter::start(&format!("sources:\n{entries}")).await;
    for (i, (name, _)) in tenants.iter().enumerate() {
        assert!(exporter.poll(i).await, "{name}: {}", exporter.last_error(i));
    }
    let exposition = exporter.scrape().await;
    let mut families = 0;
    for (name, labels, _) in exposition.samples() {
        families += 1;
        for (label, _) in labels {
            assert!(
                !TARGET_LABELS.contains(&label.as_str()),
                "{name} has the label {label}, which a scrape under Kubernetes renames to exported_{label}"
            );
        }
    }
    assert!(families > 100, "{families} samples");
}

#[tokio::test]
async fn the_metrics_path_is_what_web_telemetry_path_says() {
    let (store, _pollers) = consumption_exporter::app::pollers(
        &crate::helpers::parse_config(&format!(
            "sources:\n{}",
            qlik_source("acme", "http://127.0.0.1:9", "")
        )),
        crate::helpers::test_clock(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut endpoints = server::Endpoints::new(None);
    endpoints.telemetry_path = server::parse_telemetry_path("/internal/metrics").unwrap();
    tokio::spawn(server::serve(
        vec![listener],
        store,
        server::Options::serving(endpoints),
        stop.clone(),
    ));
    let status = |path: &str| status_of(format!("http://{addr}{path}"));
    assert_eq!(status("/internal/metrics").await, 200);
    assert_eq!(status("/metrics").await, 404);
    let landing = crate::helpers::get(&format!("http://{addr}/")).await;
    assert!(landing.contains("href=\"internal/metrics\""), "{landing}");
    for refused in ["metrics", "/", "/-/ready", "/-/custom"] {
        assert!(server::parse_telemetry_path(refused).is_err(), "{refused}");
    }
    stop.cancel();
}

/// What `tests/it/scripts/parse_exposition.py` (Debian's python3-prometheus-client) reads from
/// `body` with the `openmetrics` or `text` parser; a parse error fails the test.
fn python_parse(body: &str, parser: &str) -> Vec<String> {
    let python = std::path::Path::new("/usr/bin/python3");
    assert!(
        python.is_file(),
        "/usr/bin/python3 is missing: run `apt-get install python3-prometheus-client` (or ./scripts/test.sh, which does)"
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/scripts/parse_exposition.py");
    let output =
        crate::helpers::output_with_input(Command::new(python).arg(script).arg(parser), body);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'prometheus_client'"),
        "python3-prometheus-client is missing: run `apt-get install python3-prometheus-client` (or ./scripts/test.sh, which does)"
    );
    assert!(
        output.status.success(),
        "the {parser} parser refused the exposition:\n{stderr}"
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

async fn fetch(url: &str, accept: Option<&str>) -> (String, String) {
    let mut request = crate::helpers::client().get(url);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    let response = request.send().await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (content_type, response.text().await.unwrap())
}

/// Prometheus 2.x's scrape `Accept` header: OpenMetrics first.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[ignore = "needs python3-prometheus-client: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn openmetrics_is_served_when_asked_and_the_python_parsers_read_the_same_samples_in_both() {
    let (exporter, _simulators) = every_vendor().await;
    let url = exporter.url("/metrics");
    let (om_type, om) = fetch(&url, Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(
        om_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(
        om.ends_with("# EOF\n"),
        "{}",
        &om[om.len().saturating_sub(200)..]
    );
    assert!(
        om.contains("# TYPE consumption_source_requests counter\n"),
        "counters are named without _total"
    );
    assert!(om.contains("# UNIT consumption_source_poll_duration_seconds seconds\n"));
    assert!(om.contains("# UNIT process_cpu_seconds seconds\n"));
    assert!(om.contains("# UNIT consumption_source_response_bytes bytes\n"));
    let (text_type, text) = fetch(&url, None).await;
    assert_eq!(text_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(!text.contains("# EOF"));

    let om_read = python_parse(&om, "openmetrics");
    let text_read = python_parse(&text, "text");
    // The samples, but for the figures that move between two scrapes.
    let steady = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.starts_with("sample\t"))
            .filter(|l| !l.contains("process_") && !l.contains("scrapes_total"))
            .cloned()
            .collect()
    };
    let (om_samples, text_samples) = (steady(&om_read), steady(&text_read));
    assert!(om_samples.len() > 300, "{}", om_samples.len());
    let differ: Vec<_> = om_samples
        .iter()
        .zip(&text_samples)
        .filter(|(a, b)| a != b)
        .take(3)
        .collect();
    assert!(differ.is_empty(), "OpenMetrics against text: {differ:#?}");
    assert_eq!(om_samples.len(), text_samples.len());
    for family in [
        "consumption_source_poll_duration_seconds",
        "process_resident_memory_bytes",
    ] {
        let unit = om_read
            .iter()
            .find(|l| l.starts_with(&format!("family\t{family}\t")))
            .unwrap_or_else(|| panic!("{family} not read"));
        assert!(
            unit.ends_with("\tseconds") || unit.ends_with("\tbytes"),
            "{unit}"
        );
    }
}

#[tokio::test]
async fn every_counter_ends_in_total_so_its_openmetrics_samples_keep_their_names() {
    let (exporter, _simulators) = every_vendor().await;
    let (_, text) = fetch(&exporter.url("/metrics"), None).await;
    let counters: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    assert!(counters.len() >= 4, "{counters:?}");
    for counter in counters {
        assert!(counter.ends_with("_total"), "{counter}");
    }
}

#[tokio::test]
async fn scrapes_are_counted_by_status_code_in_the_scrape_after() {
    let (exporter, _simulators) = two_qlik_tenants().await;
    let url = exporter.url("/metrics");
    let count = |text: &str, code: u16| -> Option<f64> {
        let prefix = format!("consumption_exporter_scrapes_total{{code=\"{code}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
    };
    let (_, first) = fetch(&url, None).await;
    assert_eq!(
        count(&first, 200),
        None,
        "the first scrape has none before it"
    );
    let refused = crate::helpers::client().post(&url).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 405);
    fetch(&url, None).await;
    let (_, fourth) = fetch(&url, None).await;
    assert_eq!(count(&fourth, 200), Some(2.0));
    assert_eq!(count(&fourth, 405), Some(1.0));
    let other_paths = crate::helpers::status_of(exporter.url("/-/healthy")).await;
    assert_eq!(other_paths, 200);
    let (_, fifth) = fetch(&url, None).await;
    assert_eq!(
        count(&fifth, 200),
        Some(3.0),
        "only the metrics path is counted"
    );
}

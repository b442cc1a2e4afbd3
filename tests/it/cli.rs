//! The binary as a user runs it.

use std::process::Command;

use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
use consumption_exporter::simulator::{Fault, When};

use crate::helpers::{qlik_source, test_today};

fn exporter() -> Command {
    Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
}

fn write_config(dir: &tempfile::TempDir, yaml: &str) -> String {
    let path = dir.path().join("exporter.yml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

#[test]
fn check_prints_the_line_and_column_of_a_typo_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, "sources:\n  - name: acme\n    type: qlik\n    base_url: https://acme.eu.qlikcloud.com\n    authorisation:\n      credentials: k\n");
    let output = exporter()
        .args(["check", "--config.file", &path])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{path}:5:5: sources[0].authorisation: qlik source: unknown field `authorisation`"
        )),
        "{stderr}"
    );
}

#[test]
fn check_accepts_a_good_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        &format!(
            "sources:\n{}",
            qlik_source("acme", "https://acme.eu.qlikcloud.com", "")
        ),
    );
    let output = exporter()
        .args(["check", "--config.file", &path])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{path}: OK, 1 sources\n")
    );
}

#[tokio::test]
async fn once_prints_the_exposition_and_fails_when_a_source_fails() {
    let tenant = QlikTenant {
        today: test_today(),
        ..QlikTenant::default()
    };
    let good = QlikSimulator::new(tenant.clone(), generate_records(3, 2, test_today()));
    let bad = QlikSimulator::new(tenant, generate_records(4, 2, test_today()));
    bad.faults()
        .inject(When::Next, Fault::Status(404), usize::MAX);
    let (good_running, bad_running) = (good.start(0).await.unwrap(), bad.start(0).await.unwrap());
    let dir = tempfile::tempdir().unwrap();

    let path = write_config(
        &dir,
        &format!("sources:\n{}", qlik_source("good", &good_running.url(), "")),
    );
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args(["once", "--config.file", &path])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("consumption_source_up{source=\"good\",vendor=\"qlik\"} 1"),
        "{stdout}"
    );
    assert!(stdout.contains("consumption_qlik_local_usage{source=\"good\""));

    let both = format!(
        "sources:\n{}{}",
        qlik_source("good", &good_running.url(), ""),
        qlik_source("bad", &bad_running.url(), "    max_retries: 0\n")
    );
    let path = write_config(&dir, &both);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args(["once", "--config.file", &path])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("consumption_source_up{source=\"bad\",vendor=\"qlik\"} 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("consumption_source_up{source=\"good\",vendor=\"qlik\"} 1"),
        "one failing source leaves the other alone"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("poll failed") && stderr.contains("source=bad"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_demo_polls_every_vendor_successfully() {
    let (yaml, _simulators) = consumption_exporter::demo::start_simulators(42)
        .await
        .unwrap();
    let exporter = crate::helpers::TestExporter::start(&yaml).await;
    let sources = [
        "demo-qlik-eu",
        "demo-qlik-us",
        "demo-flows",
        "demo-robots",
        "demo-dynatrace",
        "demo-avepoint",
    ];
    for (i, source) in sources.iter().enumerate() {
        assert!(
            exporter.poll(i).await,
            "{source}: {:?}",
            exporter.store.slots()[i].state().last_error
        );
    }
    let m = exporter.scrape().await;
    for family in [
        "consumption_qlik_local_usage",
        "consumption_powerplatform_users",
        "consumption_uipath_consumed_units",
        "consumption_dynatrace_usage",
        "consumption_avepoint_flow_connections",
    ] {
        assert!(m.count(family) > 0, "the demo serves no {family}");
    }
}

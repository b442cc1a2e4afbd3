//! Config reload: `POST /-/reload` and SIGHUP re-read the file; a bad file is refused and the
//! running config stays.

use std::time::Duration;

use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};

use crate::helpers::{qlik_source, test_today, RunningExporter};

async fn tenant(
    seed: u64,
) -> (
    QlikSimulator,
    consumption_exporter::simulator::RunningSimulator,
) {
    let simulator = QlikSimulator::new(
        QlikTenant {
            today: test_today(),
            ..QlikTenant::default()
        },
        generate_records(seed, 2, test_today()),
    );
    let running = simulator.start(0).await.unwrap();
    (simulator, running)
}

fn data_requests(simulator: &QlikSimulator) -> usize {
    simulator
        .received()
        .iter()
        .filter(|r| r.path.ends_with("/executions"))
        .count()
}

fn up(source: &'static str) -> impl Fn(&crate::helpers::Exposition) -> bool {
    move |m| {
        m.get(
            "consumption_source_up",
            &[("source", source), ("vendor", "qlik")],
        ) == Some(1.0)
    }
}

#[tokio::test]
async fn a_reload_adds_changes_and_removes_sources_and_leaves_unchanged_ones_alone() {
    let ((a, a_url), (b, b_url), (c, c_url)) = (tenant(1).await, tenant(2).await, tenant(3).await);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exporter.yml");
    let hourly = "    interval: 1h\n";
    std::fs::write(
        &path,
        format!(
            "sources:\n{}{}",
            qlik_source("a", &a_url.url(), hourly),
            qlik_source("b", &b_url.url(), hourly)
        ),
    )
    .unwrap();
    let exporter = RunningExporter::start_from_file(&path).await;
    exporter
        .scrape_until(Duration::from_secs(10), |m| up("a")(m) && up("b")(m))
        .await;
    let (a_before, b_before) = (data_requests(&a), data_requests(&b));

    // Keep a, change b's labels, add c.
    let b_changed = format!("{hourly}    labels: [resource_type, user_id]\n");
    std::fs::write(
        &path,
        format!(
            "sources:\n{}{}{}",
            qlik_source("a", &a_url.url(), hourly),
            qlik_source("b", &b_url.url(), &b_changed),
            qlik_source("c", &c_url.url(), hourly)
        ),
    )
    .unwrap();
    let (status, answer) = exporter.reload().await;
    assert_eq!(
        (status, answer.as_str()),
        (
            200,
            "Config reloaded: 1 unchanged, 1 changed, 1 added, 0 removed\n"
        )
    );
    let m = exporter
        .scrape_until(Duration::from_secs(10), |m| {
            up("c")(m) && m.text.contains("user_id=")
        })
        .await;
    assert_eq!(
        data_requests(&a),
        a_before,
        "an unchanged source is not polled again"
    );
    assert!(data_requests(&b) > b_before, "a changed source restarts");
    assert!(data_requests(&c) > 0);
    assert_eq!(
        m.get("consumption_exporter_config_last_reload_successful", &[]),
        Some(1.0)
    );

    // Remove b: its series go.
    std::fs::write(
        &path,
        format!(
            "sources:\n{}{}",
            qlik_source("a", &a_url.url(), hourly),
            qlik_source("c", &c_url.url(), hourly)
        ),
    )
    .unwrap();
    assert_eq!(exporter.reload().await.0, 200);
    let m = exporter.scrape().await;
    assert_eq!(
        m.get(
            "consumption_source_up",
            &[("source", "b"), ("vendor", "qlik")]
        ),
        None
    );
    assert!(!m.text.contains("source=\"b\""), "b's series are gone");
    assert!(up("a")(&m) && up("c")(&m));
}

#[tokio::test]
async fn a_bad_config_is_refused_with_its_errors_and_the_old_config_keeps_running() {
    let (_a, a_url) = tenant(1).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exporter.yml");
    let good = format!(
        "sources:\n{}",
        qlik_source("a", &a_url.url(), "    interval: 1h\n")
    );
    std::fs::write(&path, &good).unwrap();
    let exporter = RunningExporter::start_from_file(&path).await;
    exporter
        .scrape_until(Duration::from_secs(10), up("a"))
        .await;

    std::fs::write(&path, good.replace("interval: 1h", "intervall: 1h")).unwrap();
    let (status, answer) = exporter.reload().await;
    assert_eq!(status, 500);
    assert!(
        answer.contains("previous config keeps running")
            && answer.contains(":7:5: sources[0].intervall"),
        "{answer}"
    );
    let m = exporter.scrape().await;
    assert_eq!(
        m.get("consumption_exporter_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert!(up("a")(&m), "the old config still runs");

    // A label listed twice, apart, would make Prometheus drop every source's scrape.
    let repeated = "    labels: [user_id, resource_type, user_id]\n";
    std::fs::write(&path, format!("{good}{repeated}")).unwrap();
    let (status, answer) = exporter.reload().await;
    assert_eq!(status, 500);
    assert!(
        answer.contains(":8:38: sources[0].labels[2]: qlik source: `user_id` is already listed"),
        "{answer}"
    );
    assert!(
        up("a")(&exporter.scrape().await),
        "the old config still runs"
    );

    // A FIFO where a file is named would block the reload, and the shutdown behind it.
    let fifo = dir.path().join("rates.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let money = "money:\n  currency: EUR\n  rates_file: rates.fifo\n";
    std::fs::write(&path, format!("{money}{good}")).unwrap();
    let (status, answer) = exporter.reload().await;
    assert_eq!(status, 500);
    assert!(
        answer.contains("money.rates_file") && answer.contains("not a regular file but a FIFO"),
        "{answer}"
    );

    std::fs::write(&path, &good).unwrap();
    assert_eq!(exporter.reload().await.0, 200);
    assert_eq!(
        exporter
            .scrape()
            .await
            .get("consumption_exporter_config_last_reload_successful", &[]),
        Some(1.0)
    );
}

#[tokio::test]
async fn sighup_reloads_the_config_of_the_running_binary() {
    let ((_a, a_url), (_b, b_url)) = (tenant(1).await, tenant(2).await);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exporter.yml");
    std::fs::write(
        &path,
        format!("sources:\n{}", qlik_source("a", &a_url.url(), "")),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args([
            "--config.file",
            &path.display().to_string(),
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
        ])
        .kill_on_drop(true)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let scrape = || async {
        crate::helpers::client()
            .get(&metrics)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !scrape()
        .await
        .is_some_and(|t| t.contains("consumption_source_up{source=\"a\",vendor=\"qlik\"} 1"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the exporter did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::write(
        &path,
        format!(
            "sources:\n{}{}",
            qlik_source("a", &a_url.url(), ""),
            qlik_source("b", &b_url.url(), "")
        ),
    )
    .unwrap();
    let pid = libc::pid_t::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill(2) with a child's pid and a signal number reads no memory.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    while !scrape()
        .await
        .is_some_and(|t| t.contains("consumption_source_up{source=\"b\",vendor=\"qlik\"} 1"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "SIGHUP did not add source b"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP must not end the exporter"
    );
    child.kill().await.unwrap();
}

/// A CA renewed on disk, the YAML unchanged: a reload re-reads it (as Prometheus does) and
/// restarts the source with the new trust; a reload with nothing changed leaves it be.
#[tokio::test]
async fn a_reload_rereads_tls_files_changed_on_disk() {
    let (_simulator, running) = tenant(1).await;
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/web");
    let ca = dir.path().join("ca.pem");
    std::fs::copy(fixtures.join("server-ca.pem"), &ca).unwrap();
    let path = dir.path().join("exporter.yml");
    let tls = "    interval: 1h\n    tls_config:\n      ca_file: ca.pem\n";
    std::fs::write(
        &path,
        format!("sources:\n{}", qlik_source("a", &running.url(), tls)),
    )
    .unwrap();
    let exporter = RunningExporter::start_from_file(&path).await;
    let (status, answer) = exporter.reload().await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("1 unchanged, 0 changed"), "{answer}");

    std::fs::copy(fixtures.join("rotated-ca.pem"), &ca).unwrap();
    let (status, answer) = exporter.reload().await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("0 unchanged, 1 changed"), "{answer}");
}

/// A reload that changes a source reads its inventories at its first poll, though the kept
/// read is younger than `inventory_interval`.
#[tokio::test]
async fn a_reload_that_changes_a_source_reads_its_inventories_again() {
    let (simulator, running) = tenant(4).await;
    let assignments = |simulator: &QlikSimulator| {
        let received = simulator.received();
        received
            .iter()
            .filter(|r| r.path.ends_with("/licenses/assignments"))
            .count()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exporter.yml");
    let seats = "    interval: 1h\n    seats: true\n    inventory_interval: 6h\n";
    let write = |extra: &str| {
        let entry = qlik_source("a", &running.url(), &format!("{seats}{extra}"));
        std::fs::write(&path, format!("sources:\n{entry}")).unwrap();
    };
    write("");
    let exporter = RunningExporter::start_from_file(&path).await;
    exporter
        .scrape_until(Duration::from_secs(10), |m| {
            up("a")(m) && m.text.contains("consumption_seats_assigned{")
        })
        .await;
    let before = assignments(&simulator);
    assert!(before > 0, "the first poll read the assignments");
    write("    page_size: 150\n");
    let (status, answer) = exporter.reload().await;
    assert_eq!(
        (status, answer.as_str()),
        (
            200,
            "Config reloaded: 0 unchanged, 1 changed, 0 added, 0 removed\n"
        )
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while assignments(&simulator) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the changed source read its assignments again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

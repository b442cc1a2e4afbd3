//! Secrets never reach logs (at debug level), errors, the landing page, reload answers or
//! `/metrics`, for every source type, on success and on failure.

use std::path::Path;
use std::time::Duration;

use consumption_exporter::simulator::qlik::{QlikSimulator, QlikTenant};

use crate::helpers::client;

/// The credentials the simulators accept, and the prefixes of the tokens they issue.
const SECRETS: &[&str] = &[
    "qlik-sim-api-key",
    "qlik-sim-secret",
    "pp-sim-secret",
    "uipath-sim-secret",
    "dt0s02.SIMCLIENT.SECRET",
    "avepoint-sim-secret",
    "wrong-qlik-key-123",
    "-sim-token-",
    "PRIVATE KEY",
];

#[tokio::test]
async fn no_secret_is_printed_or_served_by_any_source_on_success_or_failure() {
    let (demo, _simulators) = consumption_exporter::demo::start_simulators(5)
        .await
        .unwrap();
    // One source with a wrong key and one with a certificate that the server refuses, so the
    // failure paths run too.
    let refusing = QlikSimulator::new(QlikTenant::default(), Vec::new());
    let refusing_running = refusing.start(0).await.unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/avepoint");
    let yaml = format!(
        "{}  - name: wrong-key\n    type: qlik\n    base_url: {url}\n    authorization:\n      credentials: wrong-qlik-key-123\n  - name: refused-certificate\n    type: qlik\n    base_url: {url}\n    oauth2:\n      client_id: qlik-sim-client\n      client_certificate:\n        cert_file: {dir}/app.pem\n        key_file: {dir}/other.key\n",
        demo.replace("poll_interval: 30s", "poll_interval: 1s"),
        url = refusing_running.url(),
        dir = fixtures.display(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exporter.yml");
    std::fs::write(&path, &yaml).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = dir.path().join("exporter.log");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args([
            "--config.file",
            &path.display().to_string(),
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--log.level",
            "debug",
        ])
        .stderr(std::fs::File::create(&log_path).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let get = |path: &'static str| {
        let url = format!("{base}{path}");
        async move { client().get(url).send().await.ok()?.text().await.ok() }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // Every source polled at least twice (token reuse and refresh paths included).
    while !get("/metrics").await.is_some_and(|m| {
        m.matches("consumption_source_requests_total{").count() >= 8
            && m.contains("source=\"refused-certificate\"")
    }) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sources did not poll"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // A refused reload prints config errors; the file still holds every secret.
    std::fs::write(
        &path,
        yaml.replace("poll_interval: 1s", "poll_interval: 1s\n  bogus: 1"),
    )
    .unwrap();
    let reload_answer = client()
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(reload_answer.contains("bogus"), "{reload_answer}");

    let metrics = get("/metrics").await.unwrap();
    let landing = get("/").await.unwrap();
    assert!(
        landing.contains("wrong-key") && landing.contains("HTTP 401"),
        "the failures are on the landing page: {landing}"
    );
    drop(child);
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("level=debug"), "debug logging was on");
    assert!(logs.contains("poll failed") && logs.contains("config reload refused"));
    for (place, text) in [
        ("logs", &logs),
        ("/metrics", &metrics),
        ("the landing page", &landing),
        ("the reload answer", &reload_answer),
    ] {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret:?} appears in {place}");
        }
    }
}

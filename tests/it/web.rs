//! `--web.config.file`: TLS with a real TLS client, basic auth with bcrypt hashes, and both
//! rotated without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
use consumption_exporter::web_config::WebConfig;

use crate::helpers::{qlik_source, test_today, RunningExporter};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/web")
        .join(name)
}

/// A client that trusts only `ca` (a fixture certificate).
fn tls_client(ca: &str) -> reqwest::Client {
    crate::helpers::client(); // installs the crypto provider
    let pem = std::fs::read(fixture(ca)).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

fn write_web_config(dir: &Path, cert: &str, user: &str, password: &str) {
    // Cost 4 keeps the test fast; real configs use 10 or more.
    let hash = bcrypt::hash(password, 4).unwrap();
    let yaml = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  {user}: {hash}\n",
        fixture(&format!("{cert}.pem")).display(),
        fixture(&format!("{cert}.key")).display()
    );
    std::fs::write(dir.join("web.yml"), yaml).unwrap();
}

async fn status(
    client: &reqwest::Client,
    url: &str,
    credentials: Option<(&str, &str)>,
) -> Result<u16, String> {
    let mut request = client.get(url);
    if let Some((user, password)) = credentials {
        request = request.basic_auth(user, Some(password));
    }
    request
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn tls_and_basic_auth_protect_every_endpoint_and_rotate_without_a_restart() {
    let simulator = QlikSimulator::new(
        QlikTenant {
            today: test_today(),
            ..QlikTenant::default()
        },
        generate_records(1, 1, test_today()),
    );
    let running = simulator.start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_web_config(dir.path(), "server", "prometheus", "s3cret");
    let web = Arc::new(WebConfig::load(&dir.path().join("web.yml")).unwrap());
    let exporter = RunningExporter::start_with_web(
        &format!("sources:\n{}", qlik_source("acme", &running.url(), "")),
        web,
    )
    .await;
    let metrics = format!("https://localhost:{}/metrics", exporter.addr.port());
    let client = tls_client("server-ca.pem");

    assert_eq!(
        status(&client, &metrics, Some(("prometheus", "s3cret"))).await,
        Ok(200)
    );
    let body = client
        .get(&metrics)
        .basic_auth("prometheus", Some("s3cret"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("consumption_exporter_build_info"));
    for path in ["/metrics", "/", "/-/healthy", "/-/ready"] {
        let url = format!("https://localhost:{}{path}", exporter.addr.port());
        assert_eq!(
            status(&client, &url, None).await,
            Ok(401),
            "{path} without a password"
        );
        assert_eq!(
            status(&client, &url, Some(("prometheus", "wrong"))).await,
            Ok(401),
            "{path} with a wrong password"
        );
        assert_eq!(
            status(&client, &url, Some(("nobody", "s3cret"))).await,
            Ok(401),
            "{path} with an unknown user"
        );
    }
    let unauthorised = client.get(&metrics).send().await.unwrap();
    assert_eq!(
        unauthorised.headers()["www-authenticate"],
        "Basic realm=\"consumption_exporter\""
    );
    let plain = crate::helpers::client()
        .get(format!("http://localhost:{}/metrics", exporter.addr.port()))
        .send()
        .await;
    assert!(
        !plain.is_ok_and(|r| r.status().as_u16() == 200),
        "plain HTTP must not get metrics"
    );

    // Rotate the certificate and the password; the next connection sees both.
    tokio::time::sleep(Duration::from_millis(20)).await;
    write_web_config(dir.path(), "rotated", "prometheus", "n3w-s3cret");
    let rotated = tls_client("rotated-ca.pem");
    assert_eq!(
        status(&rotated, &metrics, Some(("prometheus", "n3w-s3cret"))).await,
        Ok(200)
    );
    assert_eq!(
        status(&rotated, &metrics, Some(("prometheus", "s3cret"))).await,
        Ok(401),
        "the old password no longer works"
    );
    assert!(
        status(
            &tls_client("server-ca.pem"),
            &metrics,
            Some(("prometheus", "n3w-s3cret"))
        )
        .await
        .is_err(),
        "the old certificate is gone"
    );

    // A broken change is refused and the last good settings stay.
    std::fs::write(
        dir.path().join("web.yml"),
        "tls_server_config: {cert_file: /nonexistent.pem, key_file: /nonexistent.key}\n",
    )
    .unwrap();
    assert_eq!(
        status(&rotated, &metrics, Some(("prometheus", "n3w-s3cret"))).await,
        Ok(200)
    );
}

#[test]
fn a_bad_web_config_is_refused_at_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    let cases = [
        (
            "basic_auth_users:\n  prometheus: not-a-hash\n",
            "basic_auth_users.prometheus is not a bcrypt hash",
        ),
        (
            "tls_server_config:\n  cert_file: /nonexistent.pem\n  key_file: /nonexistent.key\n",
            "cert_file /nonexistent.pem",
        ),
        ("tls_config: {}\n", "unknown field `tls_config`"),
    ];
    for (yaml, reason) in cases {
        std::fs::write(&path, yaml).unwrap();
        let error = format!("{:#}", WebConfig::load(&path).err().expect("refused"));
        assert!(error.contains(reason), "{yaml}: {error}");
    }
}

#[tokio::test]
async fn a_required_client_certificate_is_checked_against_the_client_ca() {
    let simulator = QlikSimulator::new(
        QlikTenant {
            today: test_today(),
            ..QlikTenant::default()
        },
        generate_records(1, 1, test_today()),
    );
    let running = simulator.start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
        fixture("server.pem").display(),
        fixture("server.key").display(),
        fixture("client-ca.pem").display()
    );
    std::fs::write(dir.path().join("web.yml"), yaml).unwrap();
    let web = Arc::new(WebConfig::load(&dir.path().join("web.yml")).unwrap());
    let exporter = RunningExporter::start_with_web(
        &format!("sources:\n{}", qlik_source("acme", &running.url(), "")),
        web,
    )
    .await;
    let metrics = format!("https://localhost:{}/metrics", exporter.addr.port());

    crate::helpers::client(); // installs the crypto provider
    let mut identity = std::fs::read(fixture("client.pem")).unwrap();
    identity.extend(std::fs::read(fixture("client.key")).unwrap());
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(fixture("server-ca.pem")).unwrap()).unwrap();
    let with_certificate = reqwest::Client::builder()
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .build()
        .unwrap();
    assert_eq!(status(&with_certificate, &metrics, None).await, Ok(200));
    assert!(
        status(&tls_client("server-ca.pem"), &metrics, None)
            .await
            .is_err(),
        "no client certificate, no connection"
    );
}

//! `--web.config.file`: TLS with a real TLS client, basic auth with bcrypt hashes, and both
//! rotated without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use consumption_exporter::serve::web_config::WebConfig;
use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};

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

/// A fixture's `# expect:` and `# promtool:` lines.
struct Expectation {
    /// `None`: loads; `Some(text)`: refused with an error containing `text`.
    refusal: Option<String>,
    promtool: String,
}

fn expectation(path: &Path) -> Expectation {
    let text = std::fs::read_to_string(path).unwrap();
    let header = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("# {name}: ")))
            .unwrap_or_else(|| panic!("{} has no `# {name}:` line", path.display()))
            .to_string()
    };
    let expect = header("expect");
    Expectation {
        refusal: expect.strip_prefix("refused: ").map(str::to_string),
        promtool: header("promtool"),
    }
}

#[ignore = "needs promtool: ./scripts/test.sh installs and runs it"]
#[test]
fn every_web_config_fixture_is_judged_as_promtool_check_web_config_judges_it() {
    let promtool = crate::helpers::program(&["promtool"], "prometheus");
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(fixture("configs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 30, "{fixtures:?}");
    for path in &fixtures {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let expected = expectation(path);
        let output = std::process::Command::new(&promtool)
            .args(["check", "web-config", &name])
            .current_dir(path.parent().unwrap())
            .output()
            .unwrap();
        let said = crate::helpers::said(&output);
        match expected.promtool.as_str() {
            "ok" => assert!(output.status.success(), "promtool refuses {name}:\n{said}"),
            "fails" => assert!(!output.status.success(), "promtool accepts {name}"),
            newer => {
                // The installed promtool's toolkit predates these keys: it must fail on exactly
                // them, so the rest of the file is what it knows.
                let keys = newer
                    .strip_prefix("predates ")
                    .expect("ok, fails or predates");
                let unknown: Vec<&str> = said
                    .lines()
                    .filter_map(|l| l.split("field ").nth(1)?.split(' ').next())
                    .collect();
                let listed: Vec<&str> = keys.split(", ").collect();
                assert_eq!(unknown, listed, "{name}: promtool said\n{said}");
            }
        }
        match (WebConfig::load(path), expected.refusal) {
            (Ok(_), None) => {}
            (Err(e), None) => panic!("{name} must load: {e}"),
            (Ok(_), Some(reason)) => panic!("{name} must be refused with {reason:?}"),
            (Err(e), Some(reason)) => {
                let error = e.to_string();
                assert!(error.contains(&reason), "{name}: {error}");
                assert!(
                    error.contains(&name),
                    "{name}: the error names the file: {error}"
                );
            }
        }
    }
}

#[test]
fn what_rustls_cannot_do_is_refused_with_the_key_the_value_and_the_reason() {
    let reasons = [
        (
            "rustls-no-tls10.yml",
            "rustls implements only TLS 1.2 and 1.3",
        ),
        ("rustls-no-cbc.yml", "rustls implements no CBC-mode suite"),
        ("rustls-no-static-rsa.yml", "no forward secrecy"),
        ("rustls-no-p521.yml", "no P-521 key exchange"),
        ("verify-without-ca.yml", "needs client_ca_file or client_ca"),
    ];
    for (name, reason) in reasons {
        let error = WebConfig::load(&fixture("configs").join(name))
            .err()
            .unwrap_or_else(|| panic!("{name} loads"))
            .to_string();
        assert!(error.contains(reason), "{name}: {error}");
    }
}

/// An exporter behind the fixture web config `name`.
async fn exporter_behind(name: &str) -> (RunningExporter, impl Drop) {
    let simulator = QlikSimulator::new(
        QlikTenant {
            today: test_today(),
            ..QlikTenant::default()
        },
        generate_records(1, 1, test_today()),
    );
    let running = simulator.start(0).await.unwrap();
    let web = Arc::new(WebConfig::load(&fixture("configs").join(name)).unwrap());
    let exporter = RunningExporter::start_with_web(
        &format!("sources:\n{}", qlik_source("acme", &running.url(), "")),
        web,
    )
    .await;
    (exporter, running)
}

/// An exporter (its one source never polled successfully) behind the web config `yaml`, and
/// the directory holding that file.
async fn exporter_behind_text(yaml: &str) -> (RunningExporter, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yml"), yaml).unwrap();
    let web = Arc::new(WebConfig::load(&dir.path().join("web.yml")).unwrap());
    let source = qlik_source("acme", "http://127.0.0.1:9", "");
    let exporter = RunningExporter::start_with_web(&format!("sources:\n{source}"), web).await;
    (exporter, dir)
}

/// What `openssl s_client` says of a handshake with these options, or why it failed.
async fn s_client(exporter: &RunningExporter, options: &[&str]) -> Result<String, String> {
    let openssl = crate::helpers::program(&["openssl"], "openssl");
    let connect = format!("127.0.0.1:{}", exporter.addr.port());
    let ca = fixture("server-ca.pem");
    let output = tokio::process::Command::new(openssl)
        .args(["s_client", "-connect", &connect, "-servername", "localhost"])
        .arg("-CAfile")
        .arg(&ca)
        .args(["-verify_return_error"])
        .args(options)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let said = crate::helpers::said(&output);
    let established = said.contains(", Cipher is ") && !said.contains("Cipher is (NONE)");
    match output.status.success() && established {
        true => Ok(said),
        false => Err(said),
    }
}

#[ignore = "needs openssl: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn openssl_s_client_sees_the_pinned_versions_ciphers_and_curves() {
    let (tls13, _sim) = exporter_behind("tls13-only.yml").await;
    let said = s_client(&tls13, &["-tls1_3"]).await.unwrap();
    assert!(said.contains("TLSv1.3, Cipher is "), "{said}");
    assert!(
        s_client(&tls13, &["-tls1_2"]).await.is_err(),
        "min_version TLS13 refuses a TLS 1.2 client"
    );

    let (one_suite, _sim) = exporter_behind("tls12-one-suite.yml").await;
    let said = s_client(
        &one_suite,
        &[
            "-cipher",
            "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
        ],
    )
    .await
    .unwrap();
    assert!(
        said.contains("TLSv1.2, Cipher is ECDHE-RSA-AES256-GCM-SHA384"),
        "{said}"
    );
    assert!(
        s_client(&one_suite, &["-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])
            .await
            .is_err(),
        "a suite not in cipher_suites is refused"
    );
    assert!(
        s_client(&one_suite, &["-tls1_3"]).await.is_err(),
        "max_version TLS12 refuses a TLS 1.3 client"
    );

    let (p384, _sim) = exporter_behind("p384-only.yml").await;
    let said = s_client(&p384, &["-groups", "P-384:X25519"]).await.unwrap();
    assert!(said.contains("secp384r1"), "{said}");
    assert!(
        s_client(&p384, &["-groups", "X25519"]).await.is_err(),
        "a curve not in curve_preferences is refused"
    );

    // Go's default: TLS 1.2 and 1.3 both served.
    let (defaults, _sim) = exporter_behind("client-auth-NoClientCert.yml").await;
    for version in ["-tls1_2", "-tls1_3"] {
        s_client(&defaults, &[version]).await.unwrap();
    }
    assert!(s_client(&defaults, &["-tls1_1"]).await.is_err());
}

#[ignore = "needs openssl: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn http2_is_offered_by_alpn_unless_the_web_config_turns_it_off() {
    let (default_on, _sim) = exporter_behind("client-auth-NoClientCert.yml").await;
    let said = s_client(&default_on, &["-alpn", "h2,http/1.1"])
        .await
        .unwrap();
    assert!(said.contains("ALPN protocol: h2"), "{said}");
    let response = tls_client("server-ca.pem")
        .get(format!(
            "https://localhost:{}/metrics",
            default_on.addr.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("consumption_exporter_build_info"));

    let (off, _sim) = exporter_behind("http2-off.yml").await;
    let said = s_client(&off, &["-alpn", "h2,http/1.1"]).await.unwrap();
    assert!(said.contains("ALPN protocol: http/1.1"), "{said}");
    let response = tls_client("server-ca.pem")
        .get(format!("https://localhost:{}/metrics", off.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
}

/// A TLS client trusting the server's CA, presenting `identity` (a fixture pair) if given.
fn client_with(identity: Option<&str>) -> reqwest::Client {
    crate::helpers::client(); // installs the crypto provider
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(fixture("server-ca.pem")).unwrap()).unwrap();
    let builder = reqwest::Client::builder().add_root_certificate(ca);
    let builder = match identity {
        Some(name) => {
            let mut pem = std::fs::read(fixture(&format!("{name}.pem"))).unwrap();
            pem.extend(std::fs::read(fixture(&format!("{name}.key"))).unwrap());
            builder.identity(reqwest::Identity::from_pem(&pem).unwrap())
        }
        None => builder,
    };
    builder.build().unwrap()
}

#[tokio::test]
async fn each_client_auth_type_asks_for_and_checks_what_go_does() {
    // (fixture, no certificate, a certificate of client-ca, a certificate of another CA)
    let cases = [
        ("client-auth-NoClientCert.yml", true, true, true),
        ("client-auth-RequestClientCert.yml", true, true, true),
        ("client-auth-RequireAnyClientCert.yml", false, true, true),
        ("client-auth-RequireClientCert.yml", false, true, true),
        ("client-auth-VerifyClientCertIfGiven.yml", true, true, false),
        (
            "client-auth-RequireAndVerifyClientCert.yml",
            false,
            true,
            false,
        ),
    ];
    for (name, anonymous, client_ca, other_ca) in cases {
        let (exporter, _sim) = exporter_behind(name).await;
        let url = format!("https://localhost:{}/metrics", exporter.addr.port());
        for (identity, expected) in [
            (None, anonymous),
            (Some("client"), client_ca),
            (Some("sans-client"), other_ca),
        ] {
            let served = status(&client_with(identity), &url, None).await == Ok(200);
            assert_eq!(served, expected, "{name} with {identity:?}");
        }
    }
}

#[tokio::test]
async fn client_allowed_sans_lets_in_only_a_certificate_carrying_one() {
    let (exporter, _sim) = exporter_behind("newer-toolkit-keys.yml").await;
    let url = format!("https://localhost:{}/metrics", exporter.addr.port());
    assert_eq!(
        status(&client_with(Some("sans-client")), &url, None).await,
        Ok(200)
    );
    let yaml = std::fs::read_to_string(fixture("configs/newer-toolkit-keys.yml"))
        .unwrap()
        .replace("../", &format!("{}/", fixture("").display()))
        .replace("prometheus.monitoring.svc", "grafana.monitoring.svc");
    let (other, _dir) = exporter_behind_text(&yaml).await;
    let url = format!("https://localhost:{}/metrics", other.addr.port());
    assert!(
        status(&client_with(Some("sans-client")), &url, None)
            .await
            .is_err(),
        "a verified certificate without an allowed SAN is refused"
    );
}

#[tokio::test]
async fn the_configured_headers_are_on_every_response_even_a_refusal() {
    let (exporter, _sim) = exporter_behind("headers-and-users.yml").await;
    let client = crate::helpers::client();
    for (credentials, expected) in [(None, 401), (Some(("prometheus", "s3cret")), 200)] {
        let mut request = client.get(format!("http://127.0.0.1:{}/metrics", exporter.addr.port()));
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected);
        let headers = response.headers();
        assert_eq!(headers["x-frame-options"], "sameorigin");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["content-security-policy"], "default-src 'none'");
    }
}

#[tokio::test]
async fn rate_limit_answers_429_beyond_the_burst() {
    let (exporter, _dir) = exporter_behind_text("rate_limit:\n  burst: 3\n  interval: 1h\n").await;
    let url = format!("http://127.0.0.1:{}/-/healthy", exporter.addr.port());
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(crate::helpers::status_of(url.clone()).await);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

#[tokio::test]
async fn an_unknown_user_costs_a_bcrypt_check_as_a_wrong_password_does() {
    let web = Arc::new(WebConfig::load(&fixture("configs/headers-and-users.yml")).unwrap());
    let settings = web.current();
    let header = |user: &str, password: &str| {
        use base64::Engine;
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {encoded}")
    };
    let checks = |web: &WebConfig| web.password_checks();
    assert!(
        !web.authorised(&settings, Some(&header("nobody", "s3cret")))
            .await
    );
    assert_eq!(
        checks(&web),
        1,
        "an unknown user is checked against the stand-in hash"
    );
    assert!(
        !web.authorised(&settings, Some(&header("prometheus", "wrong")))
            .await
    );
    assert!(
        !web.authorised(&settings, Some(&header("prometheus", "wrong")))
            .await
    );
    assert_eq!(checks(&web), 3, "a failure is never cached");
    assert!(
        web.authorised(&settings, Some(&header("prometheus", "s3cret")))
            .await
    );
    assert!(
        web.authorised(&settings, Some(&header("prometheus", "s3cret")))
            .await
    );
    assert_eq!(checks(&web), 4, "a success is cached");
}

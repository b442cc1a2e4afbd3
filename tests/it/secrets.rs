//! Secrets never reach logs (at debug level), errors, the landing page, reload answers or
//! `/metrics`, for every source type, on success and on failure.

use std::path::Path;
use std::time::Duration;

use consumption_exporter::simulator::kit::{self, Credentials, Scale, TenantSpec, WRONG_SECRET};

use crate::helpers::{client, test_today};

/// Every secret a simulated vendor accepts or issues, the refused ones, and any PEM key.
fn secrets() -> Vec<&'static str> {
    let mut all: Vec<&str> = kit::VENDORS
        .iter()
        .flat_map(|v| v.secrets())
        .copied()
        .collect();
    all.extend([WRONG_SECRET, "PRIVATE KEY"]);
    all
}

/// Per source, what changes when a poll ends: its failures so far and its last success.
fn poll_outcomes(metrics: &str) -> std::collections::BTreeMap<String, (f64, f64)> {
    let exposition = crate::helpers::Exposition::parse(metrics);
    let mut outcomes = std::collections::BTreeMap::<String, (f64, f64)>::new();
    for (family, labels, value) in exposition.samples() {
        let Some((_, source)) = labels.iter().find(|(name, _)| name == "source") else {
            continue;
        };
        let outcome = outcomes.entry(source.clone()).or_default();
        match family {
            "consumption_source_errors_total" => outcome.0 += value,
            "consumption_source_last_success_timestamp_seconds" => outcome.1 = value,
            "consumption_source_up" => {}
            _ => continue,
        }
    }
    outcomes
}

/// The exporter binary on a config of its own, logging at debug level to a file, ready.
struct LoggedExporter {
    child: tokio::process::Child,
    base: String,
    config: std::path::PathBuf,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl LoggedExporter {
    /// Starts it on `yaml` with `env` set, and waits until every source's first poll ended.
    async fn start(yaml: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("exporter.yml");
        std::fs::write(&config, yaml).unwrap();
        let port = crate::helpers::free_port();
        let log = dir.path().join("exporter.log");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
            .args([
                "--config.file",
                &config.display().to_string(),
                "--web.listen-address",
                &format!("127.0.0.1:{port}"),
                "--log.level",
                "debug",
            ])
            .envs(env.iter().copied())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !client()
            .get(format!("{base}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the sources did not poll"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        LoggedExporter {
            child,
            base,
            config,
            log,
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> String {
        crate::helpers::get(&format!("{}{path}", self.base)).await
    }

    /// `POST /-/reload`'s answer.
    async fn reload(&self) -> String {
        let url = format!("{}/-/reload", self.base);
        client()
            .post(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Stops it and returns what it logged.
    fn logs(mut self) -> String {
        let _ = self.child.start_kill();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

#[tokio::test]
async fn no_secret_is_printed_or_served_by_any_source_on_success_or_failure() {
    let (demo, _simulators) = consumption_exporter::commands::demo::start_simulators(5)
        .await
        .unwrap();
    // For every vendor, sources that fail: a wrong secret, a wrong static token where the
    // vendor takes one, and a certificate the identity server does not know (the assertion
    // is signed and refused), so the failure paths run too.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/client-certificate");
    let refused = [
        ("wrong-secret", Credentials::WrongClientSecret),
        ("wrong-token", Credentials::WrongStaticToken),
        ("wrong-password", Credentials::WrongPassword),
        (
            "unknown-certificate",
            Credentials::UnknownCertificate {
                cert_file: fixtures.join("app.pem"),
                key_file: fixtures.join("other.key"),
            },
        ),
    ];
    let mut extra_entries = String::new();
    let mut failing = Vec::new();
    let mut tenants = Vec::new();
    for vendor in kit::VENDORS {
        let spec = TenantSpec {
            seed: 3,
            today: test_today(),
            scale: Scale::Small,
        };
        let tenant = vendor.start(spec).await.unwrap();
        for (what, credentials) in &refused {
            let name = format!("{}-{what}", vendor.type_name());
            if let Some(entry) = tenant.entry_with(&name, credentials) {
                extra_entries.push_str(&entry);
                failing.push(name);
            }
        }
        // The password grant's success path, where the vendor takes it.
        let name = format!("{}-password", vendor.type_name());
        if let Some(entry) = tenant.entry_with(&name, &Credentials::Password) {
            extra_entries.push_str(&entry);
        }
        tenants.push(tenant);
    }
    let yaml = format!(
        "{}{extra_entries}",
        demo.replace("poll_interval: 30s", "poll_interval: 1s")
    );
    // Every source's first poll ended (the exporter is ready), then a second poll for each
    // (token reuse and refresh paths included): its failures or its last success changed.
    let exporter = LoggedExporter::start(&yaml, &[]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let first = poll_outcomes(&exporter.get("/metrics").await);
    loop {
        let now = poll_outcomes(&exporter.get("/metrics").await);
        let polled_again = first
            .iter()
            .all(|(source, outcome)| now.get(source).is_some_and(|n| n != outcome));
        if polled_again {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every source polled a second time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A refused reload prints config errors; the file still holds every secret.
    std::fs::write(
        &exporter.config,
        yaml.replace("poll_interval: 1s", "poll_interval: 1s\n  bogus: 1"),
    )
    .unwrap();
    let reload_answer = exporter.reload().await;
    assert!(reload_answer.contains("bogus"), "{reload_answer}");

    let metrics = exporter.get("/metrics").await;
    let landing = exporter.get("/").await;
    for name in &failing {
        assert!(
            landing.contains(name.as_str()),
            "{name} is on the landing page: {landing}"
        );
    }
    assert!(
        landing.matches("getting a token from").count() >= 2 * kit::VENDORS.len(),
        "every vendor's refused secret and certificate are on the landing page: {landing}"
    );
    let (online_table, online_json) = check_online_outputs(&exporter.config, &yaml).await;
    for name in &failing {
        assert!(
            online_table.contains(name.as_str()),
            "check --online reports {name}: {online_table}"
        );
    }
    let logs = exporter.logs();
    assert!(logs.contains("level=DEBUG"), "debug logging was on");
    assert!(logs.contains("poll failed") && logs.contains("config reload refused"));
    for (place, text) in [
        ("logs", &logs),
        ("/metrics", &metrics),
        ("the landing page", &landing),
        ("the reload answer", &reload_answer),
        ("check --online", &online_table),
        ("check --online --output json", &online_json),
    ] {
        for secret in secrets() {
            assert!(!text.contains(secret), "{secret:?} appears in {place}");
        }
    }
}

/// What `check --online` prints (stdout and stderr, at debug level) as a table and as JSON.
async fn check_online_outputs(config: &Path, yaml: &str) -> (String, String) {
    std::fs::write(config, yaml).unwrap();
    let mut outputs = Vec::new();
    for output in ["table", "json"] {
        let ran = tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
            .args([
                "check",
                "--online",
                "--log.level",
                "debug",
                "--output",
                output,
            ])
            .arg("--config.file")
            .arg(config)
            .output()
            .await
            .unwrap();
        assert!(!ran.status.success(), "the refused sources fail the check");
        outputs.push(format!(
            "{}{}",
            String::from_utf8_lossy(&ran.stdout),
            String::from_utf8_lossy(&ran.stderr)
        ));
    }
    let json = outputs.pop().unwrap_or_default();
    (outputs.pop().unwrap_or_default(), json)
}

/// The secrets a config can carry outside its secret keys: a password in a URL's userinfo, a
/// secret in a URL's query, and a value expanded from the environment.
const URL_PASSWORD: &str = "URLPASS-S3CR3T";
const QUERY_SECRET: &str = "QUERY-S3CR3T";
const ENV_SECRET: &str = "ENV-VALUE-S3CR3T";
const ENV_VARIABLE: &str = "CONSUMPTION_EXPORTER_TEST_LEAK";

#[tokio::test]
async fn no_secret_in_a_url_or_the_environment_reaches_logs_check_the_landing_page_or_a_reload() {
    let spec = TenantSpec {
        seed: 3,
        today: test_today(),
        scale: Scale::Small,
    };
    // Every vendor: its base_url with a password, its token_url (where it takes one) with a
    // client_secret in the query, and its client_id from the environment.
    let mut entries = String::new();
    let mut tenants = Vec::new();
    for vendor in kit::VENDORS {
        let tenant = vendor.start(spec).await.unwrap();
        let url = tenant.url();
        let with_password = url.replace("http://", &format!("http://user:{URL_PASSWORD}@"));
        let entry = tenant
            .entry(vendor.type_name())
            .replace(
                &format!("base_url: {url}"),
                &format!("base_url: {with_password}"),
            )
            .lines()
            .map(|line| match line.trim_start().starts_with("token_url:") {
                true => format!("{line}?client_secret={QUERY_SECRET}\n"),
                false => format!("{line}\n"),
            })
            .collect::<String>()
            .replace("client_id: ", &format!("client_id: ${{{ENV_VARIABLE}}}-"));
        assert!(entry.contains(URL_PASSWORD), "{entry}");
        entries.push_str(&entry);
        tenants.push(tenant);
    }
    assert!(
        entries.contains(QUERY_SECRET),
        "some vendor takes a token_url"
    );
    let yaml = format!("global:\n  poll_interval: 1s\nsources:\n{entries}");
    let exporter = LoggedExporter::start(&yaml, &[(ENV_VARIABLE, ENV_SECRET)]).await;
    // A reload refused for a key whose value is the environment's: the error names the
    // variable. The same file through `check`.
    let refused = yaml.replace(
        "  poll_interval: 1s\n",
        &format!("  poll_interval: 1s\n  max_pages: ${{{ENV_VARIABLE}}}\n"),
    );
    std::fs::write(&exporter.config, &refused).unwrap();
    let reload_answer = exporter.reload().await;
    assert!(reload_answer.contains(ENV_VARIABLE), "{reload_answer}");
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args(["check", "--config.file"])
        .arg(&exporter.config)
        .env(ENV_VARIABLE, ENV_SECRET)
        .output()
        .unwrap();
    assert!(!check.status.success(), "check refuses the file");
    let check = crate::helpers::said(&check);
    assert!(check.contains(ENV_VARIABLE), "{check}");

    let landing = exporter.get("/").await;
    let metrics = exporter.get("/metrics").await;
    for redacted in ["user:xxxxx@", "client_secret=xxxxx"] {
        assert!(
            landing.contains(redacted),
            "poll errors show redacted URLs: {landing}"
        );
    }
    let logs = exporter.logs();
    assert!(logs.contains("poll failed") && logs.contains("config reload refused"));
    for (place, text) in [
        ("logs", &logs),
        ("check", &check),
        ("/metrics", &metrics),
        ("the landing page", &landing),
        ("the reload answer", &reload_answer),
    ] {
        for secret in [URL_PASSWORD, QUERY_SECRET, ENV_SECRET] {
            assert!(
                !text.contains(secret),
                "{secret:?} appears in {place}:\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn a_proxys_password_and_headers_never_print_in_check_online() {
    const PROXY_PASSWORD: &str = "PROXYPASS-S3CR3T";
    const HEADER_SECRET: &str = "HEADER-S3CR3T";
    let spec = TenantSpec {
        seed: 3,
        today: test_today(),
        scale: Scale::Small,
    };
    let tenant = kit::VENDORS[0].start(spec).await.unwrap();
    let dead_proxy = format!(
        "http://user:{PROXY_PASSWORD}@127.0.0.1:{}",
        crate::helpers::free_port()
    );
    let yaml = format!(
        "sources:\n{}    max_retries: 0\n    proxy_url: {dead_proxy}\n    proxy_connect_header:\n      Proxy-Authorization: [Basic {HEADER_SECRET}]\n",
        tenant.entry("proxied")
    );
    let dir = tempfile::tempdir().unwrap();
    let (table, json) = check_online_outputs(&dir.path().join("exporter.yml"), &yaml).await;
    assert!(
        table.contains("through the proxy http://user:xxxxx@127.0.0.1"),
        "{table}"
    );
    for text in [&table, &json] {
        for secret in [PROXY_PASSWORD, HEADER_SECRET] {
            assert!(!text.contains(secret), "{secret} printed: {text}");
        }
    }
}

//! Outbound proxies through a real forward proxy (Debian's `tinyproxy`, started on loopback):
//! every vendor's source through `proxy_url`, its token requests included; a source that
//! `no_proxy` excludes; the environment's `HTTP_PROXY`, and `HTTPS_PROXY` for an https source
//! (a `CONNECT` tunnel); `proxy_connect_header` for a proxy that wants credentials; and
//! `proxy_from_environment: false`.
//! The proxy's own log says which requests went through it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use consumption_exporter::simulator::kit::{Scale, SimulatedTenant, TenantSpec, VENDORS};

use crate::e2e::{wait_for, Program};
use crate::helpers::{free_port, parse_config_errors, program, TestExporter};

/// A tinyproxy on loopback that logs every request it forwards, and its URL; `extra` is more
/// of its config (`BasicAuth user password`, say).
fn start_tinyproxy(dir: &Path, extra: &str) -> (Program, String, PathBuf) {
    let port = free_port();
    let log = dir.join("tinyproxy.log");
    let config = dir.join("tinyproxy.conf");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\nMaxClients 50\nAllow 127.0.0.1\n{extra}",
            log.display()
        ),
    )
    .unwrap();
    let proxy = Program(
        Command::new(program(&["tinyproxy"], "tinyproxy"))
            .args(["-d", "-c"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    (proxy, format!("http://127.0.0.1:{port}"), log)
}

/// The requests the proxy forwarded to `tenant`, as `METHOD path`.
fn forwarded_to(log: &Path, tenant: &SimulatedTenant) -> Vec<String> {
    let origin = tenant.url();
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once("): ").map(|(_, request)| request))
        .filter_map(|request| {
            let (method, rest) = request.split_once(' ')?;
            let path = rest.strip_prefix(origin.as_str())?;
            let path = path.split(' ').next()?;
            Some(format!("{method} {path}"))
        })
        .collect()
}

async fn small(
    vendor: &dyn consumption_exporter::simulator::kit::SimulatedVendor,
) -> SimulatedTenant {
    let spec = TenantSpec {
        seed: 5,
        today: chrono::Utc::now().date_naive(),
        scale: Scale::Small,
    };
    vendor.start(spec).await.unwrap()
}

#[ignore = "needs tinyproxy: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn every_request_of_a_source_with_proxy_url_goes_through_the_proxy_and_no_proxy_bypasses_it()
{
    let dir = tempfile::tempdir().unwrap();
    let (_proxy, proxy_url, log) = start_tinyproxy(dir.path(), "");
    let mut entries = String::new();
    let mut proxied = Vec::new();
    for vendor in VENDORS {
        let tenant = small(*vendor).await;
        entries.push_str(&tenant.entry(&format!("via-{}", vendor.type_name())));
        entries.push_str(&format!("    proxy_url: {proxy_url}\n"));
        proxied.push(tenant);
    }
    let direct = small(VENDORS[0]).await;
    entries.push_str(&direct.entry("direct"));
    entries.push_str(&format!(
        "    proxy_url: {proxy_url}\n    no_proxy: 127.0.0.1\n"
    ));
    let exporter = TestExporter::start(&format!("sources:\n{entries}")).await;
    for (i, slot) in exporter.store.slots().iter().enumerate() {
        assert!(
            exporter.poll(i).await,
            "{}: {:?}",
            slot.name,
            slot.state().last_error
        );
    }
    for tenant in &proxied {
        let asked: Vec<String> = tenant
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.uri))
            .collect();
        assert!(!asked.is_empty(), "{} was asked", tenant.type_name());
        wait_for(
            "the proxy's log of every request",
            Duration::from_secs(10),
            async || {
                let forwarded = forwarded_to(&log, tenant);
                asked.iter().all(|request| forwarded.contains(request))
            },
        )
        .await;
    }
    assert!(
        proxied.iter().any(|tenant| forwarded_to(&log, tenant)
            .iter()
            .any(|r| r.contains("token"))),
        "token requests go through the proxy too"
    );
    assert!(
        !direct.requests().is_empty(),
        "the excluded source was polled"
    );
    assert_eq!(
        forwarded_to(&log, &direct),
        Vec::<String>::new(),
        "no_proxy bypasses the proxy"
    );
}

/// `once` on `yaml`, with `HTTP_PROXY` set to `proxy_url` and no `NO_PROXY`.
async fn once_with_http_proxy(dir: &Path, yaml: &str, proxy_url: &str) -> std::process::Output {
    once_with_proxy_variable(dir, yaml, "HTTP_PROXY", proxy_url).await
}

/// `once` on `yaml`, with `variable` (and its lower-case twin) set to `proxy_url` and no
/// `NO_PROXY`.
async fn once_with_proxy_variable(
    dir: &Path,
    yaml: &str,
    variable: &str,
    proxy_url: &str,
) -> std::process::Output {
    let config = dir.join("exporter.yml");
    std::fs::write(&config, yaml).unwrap();
    // Awaited, not waited for: the simulators answer on this test's runtime.
    tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args(["once", "--config.file"])
        .arg(&config)
        .env(variable, proxy_url)
        .env(variable.to_lowercase(), proxy_url)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .await
        .unwrap()
}

#[ignore = "needs tinyproxy: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn the_environments_proxy_is_used_unless_proxy_from_environment_is_false() {
    let dir = tempfile::tempdir().unwrap();
    let (_proxy, proxy_url, log) = start_tinyproxy(dir.path(), "");
    let through = small(VENDORS[0]).await;
    let output = once_with_http_proxy(
        dir.path(),
        &format!("sources:\n{}", through.entry("env")),
        &proxy_url,
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    wait_for(
        "HTTP_PROXY's requests in the proxy's log",
        Duration::from_secs(10),
        async || forwarded_to(&log, &through).len() == through.requests().len(),
    )
    .await;

    let direct = small(VENDORS[0]).await;
    let yaml = format!(
        "sources:\n{}    proxy_from_environment: false\n",
        direct.entry("off")
    );
    let output = once_with_http_proxy(dir.path(), &yaml, &proxy_url).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!direct.requests().is_empty());
    assert_eq!(
        forwarded_to(&log, &direct),
        Vec::<String>::new(),
        "proxy_from_environment: false goes directly"
    );
}

#[ignore = "needs tinyproxy: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn proxy_connect_header_gives_the_proxy_its_credentials_and_a_refusal_names_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (_proxy, proxy_url, log) = start_tinyproxy(dir.path(), "BasicAuth exporter s3cret-proxy\n");
    let tenant = small(VENDORS[0]).await;
    let without = format!(
        "sources:\n{}    proxy_url: {proxy_url}\n",
        tenant.entry("without")
    );
    let exporter = TestExporter::start(&without).await;
    assert!(!exporter.poll(0).await, "the proxy wants credentials");
    let refused = exporter.last_error(0);
    // tinyproxy answers 407 and may close before reading a body: a status or a reset.
    assert!(
        refused.contains(&proxy_url) && refused.contains("proxy_connect_header"),
        "{refused}"
    );
    assert!(
        tenant.requests().is_empty(),
        "the proxy let nothing through"
    );

    let tenant = small(VENDORS[0]).await;
    // base64("exporter:s3cret-proxy")
    let header = "    proxy_connect_header:\n      Proxy-Authorization: [Basic ZXhwb3J0ZXI6czNjcmV0LXByb3h5]\n";
    let with = format!(
        "sources:\n{}    proxy_url: {proxy_url}\n{header}",
        tenant.entry("with")
    );
    let exporter = TestExporter::start(&with).await;
    exporter.assert_polls(0).await;
    wait_for(
        "the proxy's log of the source's requests",
        Duration::from_secs(10),
        async || forwarded_to(&log, &tenant).len() == tenant.requests().len(),
    )
    .await;

    // The same credentials as proxy_url's user and password.
    let tenant = small(VENDORS[0]).await;
    let in_url = proxy_url.replacen("http://", "http://exporter:s3cret-proxy@", 1);
    let with = format!(
        "sources:\n{}    proxy_url: {in_url}\n",
        tenant.entry("in-url")
    );
    let exporter = TestExporter::start(&with).await;
    exporter.assert_polls(0).await;
    assert!(!tenant.requests().is_empty());
}

#[ignore = "needs tinyproxy: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn an_unreachable_proxy_is_named_in_the_error() {
    let tenant = small(VENDORS[0]).await;
    let dead_proxy = format!("http://user:hunter2@127.0.0.1:{}", free_port());
    let yaml = format!(
        "sources:\n{}    proxy_url: {dead_proxy}\n",
        tenant.entry("dead")
    );
    let exporter = TestExporter::start(&yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    let shown = dead_proxy.replace("hunter2", "xxxxx");
    assert!(
        error.contains(&format!("through the proxy {shown}")),
        "{error}"
    );
    assert!(!error.contains("hunter2"), "{error}");
}

#[test]
fn proxy_keys_prometheus_refuses_are_refused_at_their_line() {
    let source = "sources:\n  - name: s\n    type: qlik\n    base_url: https://tenant.example\n    authorization:\n      credentials: k\n";
    let cases = [
        (format!("{source}    proxy_url: socks5://user:hunter2@127.0.0.1:1080\n"), "test.yml:7:5: sources[0].proxy_url: proxy_url socks5://user:xxxxx@127.0.0.1:1080 is not an http:// or https:// proxy"),
        (format!("{source}    no_proxy: .example.com\n"), "test.yml:7:5: sources[0].no_proxy: no_proxy lists what bypasses proxy_url, and this source has no proxy_url"),
        (format!("{source}    proxy_url: http://proxy:3128\n    proxy_from_environment: true\n"), "test.yml:8:5: sources[0].proxy_from_environment: proxy_from_environment: true and a proxy_url: choose one"),
        (format!("global:\n  proxy_url: http://proxy:3128\n  proxy_from_environment: true\n{source}"), "test.yml:3:3: global.proxy_from_environment: proxy_from_environment: true and a proxy_url: choose one"),
        (format!("{source}    proxy_connect_header: {{Proxy-Authorization: [Basic hunter2]}}\n"), "test.yml:7:5: sources[0].proxy_connect_header: proxy_connect_header is sent to proxy_url, and this source has no proxy_url"),
        (format!("{source}    proxy_url: http://proxy:3128\n    proxy_connect_header: {{Proxy-Authorization: [\"Basic hunter2\\n\"]}}\n"), "test.yml:8:28: sources[0].proxy_connect_header.Proxy-Authorization: a header value must be visible ASCII text"),
    ];
    for (yaml, expected) in cases {
        let errors = parse_config_errors(&yaml);
        assert!(errors.starts_with(expected), "{errors}\nwanted: {expected}");
        assert!(
            !errors.contains("hunter2"),
            "a proxy's password never prints: {errors}"
        );
    }
}

#[ignore = "needs tinyproxy and openssl: ./scripts/test.sh installs and runs them"]
#[tokio::test]
async fn an_https_source_goes_through_https_proxy_with_connect() {
    let dir = tempfile::tempdir().unwrap();
    let (_proxy, proxy_url, log) = start_tinyproxy(dir.path(), "");
    let pki = crate::tls::PrivatePki::new();
    let tenant = small(VENDORS[0]).await;
    let gateway = crate::tls::tls_gateway(&pki, &tenant, false).await;
    let tls = format!(
        "    tls_config:\n      ca_file: {}\n      server_name: {}\n",
        pki.path("ca.pem").display(),
        crate::tls::GATEWAY_NAME
    );
    let yaml = format!(
        "sources:\n{}",
        crate::tls::entry_behind(&tenant, "https", &gateway, &tls)
    );
    let output = once_with_proxy_variable(dir.path(), &yaml, "HTTPS_PROXY", &proxy_url).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tunnel = format!("CONNECT {} ", gateway.trim_start_matches("https://"));
    wait_for(
        "the proxy's log of the CONNECT tunnel",
        Duration::from_secs(10),
        async || std::fs::read_to_string(&log).is_ok_and(|l| l.contains(&tunnel)),
    )
    .await;
    assert!(
        !tenant.requests().is_empty(),
        "the tenant was reached through the tunnel"
    );
}

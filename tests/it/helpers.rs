//! Shared test plumbing: an exporter on a random loopback port with pollers the test drives,
//! scraping, and reading samples out of an exposition.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use consumption_exporter::app;
use consumption_exporter::config::{self, Config};
use consumption_exporter::engine::poller::Poller;
use consumption_exporter::engine::store::Store;
use consumption_exporter::model::clock::{FixedClock, SharedClock};
use consumption_exporter::serve::server;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The simulated "now" of the tests: 2026-11-22 10:00 UTC.
pub fn test_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// An RFC 3339 instant.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .to_utc()
}

/// A `YYYY-MM-DD` day.
pub fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .unwrap_or_else(|e| panic!("{text:?} is not YYYY-MM-DD: {e}"))
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

pub fn test_today() -> NaiveDate {
    test_now().date_naive()
}

pub fn test_clock() -> SharedClock {
    Arc::new(FixedClock::new(test_now()))
}

/// The errors of a config the loader refuses; a config it accepts fails the test.
pub fn parse_config_errors(yaml: &str) -> String {
    match config::parse(yaml, "test.yml", Path::new(".")) {
        Ok(_) => panic!("the config was accepted:\n{yaml}"),
        Err(errors) => errors.to_string(),
    }
}

pub fn parse_config(yaml: &str) -> Config {
    config::parse(yaml, "test.yml", Path::new("."))
        .unwrap_or_else(|e| panic!("test config is invalid:\n{e}"))
}

/// An exporter whose polls the test triggers one by one, serving /metrics on loopback.
pub struct TestExporter {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    pollers: Vec<Poller>,
    stop: CancellationToken,
}

impl TestExporter {
    pub async fn start(yaml: &str) -> Self {
        Self::start_with_clock(yaml, test_clock()).await
    }

    /// An exporter whose "now" the test sets (a [`FixedClock`] it keeps a clone of).
    pub async fn start_with_clock(yaml: &str, clock: SharedClock) -> Self {
        let (store, pollers) = app::pollers(&parse_config(yaml), clock).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(server::serve(
            vec![listener],
            store.clone(),
            server::Options::default(),
            stop.clone(),
        ));
        TestExporter {
            addr,
            store,
            pollers,
            stop,
        }
    }

    /// Polls every source at once, each in one of the process's `max_concurrent_polls` slots
    /// as a running exporter does; returns whether each succeeded.
    pub async fn poll_all_in_slots(&self) -> Vec<bool> {
        futures_util::future::join_all(self.pollers.iter().map(|p| p.poll_in_a_slot())).await
    }

    /// Runs one poll of source `i`; returns whether it succeeded.
    pub async fn poll(&self, i: usize) -> bool {
        self.pollers[i].poll_once().await
    }

    /// Runs one poll of source `i` and requires it to succeed, showing its error otherwise.
    pub async fn assert_polls(&self, i: usize) {
        assert!(
            self.poll(i).await,
            "poll {i} failed: {}",
            self.last_error(i)
        );
    }

    /// The last poll error of source `i` (empty when its last poll succeeded).
    pub fn last_error(&self, i: usize) -> String {
        self.store.slots()[i].state().last_error.unwrap_or_default()
    }

    pub async fn scrape(&self) -> Exposition {
        Exposition::parse(&get(&format!("http://{}/metrics", self.addr)).await)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for TestExporter {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The whole exporter (pollers on their intervals) on a random port, for timing behaviour.
pub struct RunningExporter {
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl RunningExporter {
    pub async fn start(yaml: &str) -> Self {
        Self::start_with_clock(yaml, test_clock()).await
    }

    /// The exporter as `serve` runs it: from a config file, which reloads re-read.
    pub async fn start_from_file(path: &Path) -> Self {
        let config = config::load(path).unwrap_or_else(|e| panic!("test config is invalid:\n{e}"));
        Self::launch(config, test_clock(), Some(path.to_path_buf())).await
    }

    pub async fn start_with_clock(yaml: &str, clock: SharedClock) -> Self {
        Self::launch(parse_config(yaml), clock, None).await
    }

    /// The exporter with a config the test has changed after parsing it.
    pub async fn start_with_config(config: Config) -> Self {
        Self::launch(config, test_clock(), None).await
    }

    /// The exporter behind a web config (TLS, basic auth).
    pub async fn start_with_web(
        yaml: &str,
        web: Arc<consumption_exporter::serve::web_config::WebConfig>,
    ) -> Self {
        Self::launch_with(parse_config(yaml), test_clock(), None, Some(web)).await
    }

    async fn launch(config: Config, clock: SharedClock, path: Option<std::path::PathBuf>) -> Self {
        Self::launch_with(config, clock, path, None).await
    }

    async fn launch_with(
        config: Config,
        clock: SharedClock,
        path: Option<std::path::PathBuf>,
        web: Option<Arc<consumption_exporter::serve::web_config::WebConfig>>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let endpoints = server::Endpoints::new(web);
        tokio::spawn(app::run(
            config,
            vec![listener],
            clock,
            stop.clone(),
            app::ConfigFile {
                path,
                shard: Default::default(),
            },
            endpoints,
        ));
        RunningExporter { addr, stop }
    }

    pub async fn scrape(&self) -> Exposition {
        Exposition::parse(&get(&format!("http://{}/metrics", self.addr)).await)
    }

    /// `POST /-/reload`: the status code and the answer.
    pub async fn reload(&self) -> (u16, String) {
        let response = crate::helpers::client()
            .post(format!("http://{}/-/reload", self.addr))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Scrapes until `condition` holds, for at most `limit`; panics with the last scrape if not.
    pub async fn scrape_until(
        &self,
        limit: Duration,
        condition: impl Fn(&Exposition) -> bool,
    ) -> Exposition {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let exposition = self.scrape().await;
            if condition(&exposition) {
                return exposition;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "condition not met within {limit:?}; last scrape:\n{}",
                    exposition.text
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for RunningExporter {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// An HTTP client for the tests, with the crypto provider the exporter uses.
pub fn client() -> reqwest::Client {
    consumption_exporter::http::build_reqwest_client(&Default::default()).unwrap()
}

/// The status code of a GET of `url`.
pub async fn status_of(url: String) -> u16 {
    client().get(url).send().await.unwrap().status().as_u16()
}

pub async fn get(url: &str) -> String {
    crate::helpers::client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A parsed text exposition: samples by name and sorted label pairs.
pub struct Exposition {
    pub text: String,
    samples: BTreeMap<(String, Vec<(String, String)>), f64>,
}

impl Exposition {
    pub fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {line:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}"));
            let (name, mut labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (series, Vec::new()),
            };
            // As Prometheus reads it: a label with an empty value is no label.
            labels.retain(|(_, value)| !value.is_empty());
            samples.insert((name.to_string(), labels), value);
        }
        Exposition {
            text: text.to_string(),
            samples,
        }
    }

    /// The value of the series with exactly these labels (an empty value: without it).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut key: Vec<(String, String)> = labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        key.sort();
        self.samples.get(&(name.to_string(), key)).copied()
    }

    /// Every sample: family name, labels (sorted by name) and value.
    pub fn samples(&self) -> impl Iterator<Item = (&str, &[(String, String)], f64)> {
        self.samples
            .iter()
            .map(|((name, labels), value)| (name.as_str(), labels.as_slice(), *value))
    }

    /// How many series of this family there are.
    pub fn count(&self, name: &str) -> usize {
        self.samples.keys().filter(|(n, _)| n == name).count()
    }
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let end = after
            .find('"')
            .unwrap_or_else(|| panic!("unterminated label in {text:?}"));
        labels.push((
            name.trim_start_matches(',').to_string(),
            after[..end].to_string(),
        ));
        rest = &after[end + 1..];
    }
    labels.sort();
    labels
}

/// A Qlik source entry for a simulator at `url`, authenticated with the simulator's API key.
pub fn qlik_source(name: &str, url: &str, extra: &str) -> String {
    format!("  - name: {name}\n    type: qlik\n    base_url: {url}\n    authorization:\n      credentials: qlik-sim-api-key\n{extra}")
}

/// Polls the only source once and requires that it stopped on a pagination loop.
pub async fn assert_loop_detected(yaml: &str, vendor: &str) {
    let exporter = TestExporter::start(yaml).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.store.slots()[0]
        .state()
        .last_error
        .unwrap_or_default();
    assert!(error.contains("pagination loop"), "{vendor}: {error}");
    let m = exporter.scrape().await;
    let labels = [
        ("source", "victim"),
        ("vendor", vendor),
        ("reason", "pagination_loop"),
    ];
    assert_eq!(m.get("consumption_source_errors_total", &labels), Some(1.0));
}

/// Runs `command` and returns what it printed; a non-zero exit fails the test with the command
/// and everything it printed.
pub fn run_ok(command: &mut std::process::Command) -> std::process::Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}",
        output.status,
        said(&output)
    );
    output
}

/// What a tool printed, stdout then stderr: where its verdict is, whichever it writes to.
pub fn said(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `command` with `input` on its standard input, and waits for its output.
pub fn output_with_input(command: &mut std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The JSON an HTTP API answers `request` with.
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// `examples/prometheus/rules/consumption.rules.yml`, parsed.
pub fn shipped_rules() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/prometheus/rules/consumption.rules.yml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The first of `names` on the PATH; a missing program fails the test, naming its package.
pub fn program(names: &[&str], package: &str) -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{} is not installed: run `apt-get install {package}` (or ./scripts/test.sh, which does)", names[0]))
}

/// A tool `scripts/test.sh` installs under target/test-tools; missing, the test says so.
pub fn test_tool(relative: &str) -> std::path::PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-tools")
        .join(relative);
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/test.sh, which installs the PyPI and npm tools the tests use",
        path.display()
    );
    path
}

/// Runs a tool in `directory`; a failure fails the test with everything it printed.
pub fn run_tool(program_path: std::path::PathBuf, args: &[&str], directory: &Path) -> String {
    let output = run_ok(
        std::process::Command::new(&program_path)
            .args(args)
            .current_dir(directory),
    );
    said(&output)
}

/// Everything logged, in the exporter's own line format.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// Captures what the exporter logs on this thread, in its own line format, until the guard
/// drops: for a `current_thread` test, whose spawned tasks run on it too.
pub fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .event_format(consumption_exporter::commands::logging::PrometheusFormat {
            format: consumption_exporter::commands::cli::LogFormat::Logfmt,
        })
        .with_writer(move || writer.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

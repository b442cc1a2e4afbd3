//! Serving at scale: the exporter binary with one Qlik source whose per-user labels make it
//! serve about N series, scraped by the load generator next to nginx serving the same bytes.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
use consumption_exporter::simulator::RunningSimulator;
use consumption_exporter::{app, clock::SystemClock, config};

use crate::load::{self, LoadResult, Target};
use crate::nginx::Nginx;
use crate::processes::{self, Process};

/// Series one simulated Qlik user adds with `user_id` as a label: 8 families × 5 resource
/// kinds × 3 period types × current and previous period.
const SERIES_PER_USER: usize = 240;
/// How long each load run is measured, after a warm-up.
pub struct LoadSettings {
    pub warm_up: Duration,
    pub duration: Duration,
    pub idle: Duration,
}

pub struct ScaleFigures {
    pub series: usize,
    pub render_median: Duration,
    pub render_max: Duration,
    pub gzip_time: Duration,
    pub plain_bytes: usize,
    pub gzip_bytes: usize,
    pub rss_bytes: u64,
    pub idle_cpu: Duration,
    pub idle_wakeups: u64,
    pub runs: Vec<LoadRun>,
}

/// One encoding and concurrency, against both servers.
pub struct LoadRun {
    pub gzip: bool,
    pub clients: usize,
    pub exporter: LoadResult,
    pub nginx: LoadResult,
}

/// A Qlik tenant that makes the exporter serve about `series` series.
struct Tenant {
    _simulator: RunningSimulator,
    config: String,
}

async fn tenant(series: usize) -> anyhow::Result<Tenant> {
    let today = Utc::now().date_naive();
    let tenant = QlikTenant {
        today,
        ..QlikTenant::default()
    };
    // Records with no user are the tenant's own; they count as one user's worth.
    let users = (series / SERIES_PER_USER).saturating_sub(1);
    let simulator = QlikSimulator::new(tenant.clone(), generate_records(7, users, today))
        .start(0)
        .await?;
    let config = format!(
        "global:\n  poll_interval: 1h\nsources:\n  - name: qlik-bench\n    type: qlik\n    base_url: {}\n    labels: [resource_type, resource_action, period_type, unit, user_id]\n    authorization:\n      credentials: {}\n",
        simulator.url(),
        tenant.api_key
    );
    Ok(Tenant {
        _simulator: simulator,
        config,
    })
}

pub async fn measure(series: usize, settings: &LoadSettings) -> anyhow::Result<ScaleFigures> {
    eprintln!("scrape section: about {series} series");
    let tenant = tenant(series).await?;
    let (render_median, render_max, gzip_time) = render_times(&tenant.config).await?;

    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("exporter.yml");
    std::fs::write(&config_path, &tenant.config)?;
    let addr: SocketAddr = format!("127.0.0.1:{}", processes::free_port()?).parse()?;
    let exporter = Process::spawn(
        Command::new(processes::exporter_binary()?)
            .arg("--config.file")
            .arg(&config_path)
            .args([
                "--web.listen-address",
                &addr.to_string(),
                "--log.level",
                "warn",
            ])
            .stdout(Stdio::null()),
    )?;
    processes::wait_until_listening(addr, Duration::from_secs(10))?;
    let client = consumption_exporter::http::build_reqwest_client()?;
    wait_ready(&client, addr).await?;
    let plain = fetch(&client, addr, false).await?;
    let gzipped = fetch(&client, addr, true).await?;
    let served_series = served_series(&plain)?;
    let nginx = Nginx::start(&plain, &gzipped)?;

    let mut runs = Vec::new();
    for gzip in [false, true] {
        let expected_len = if gzip { gzipped.len() } else { plain.len() };
        for clients in [1, 16] {
            let target = |addr| Target {
                addr,
                path: "/metrics",
                gzip,
                expected_len,
            };
            let what = format!(
                "{served_series} series, {} body, {clients} clients",
                if gzip { "gzip" } else { "plain" }
            );
            eprintln!("  scraping: {what}");
            let exporter_result =
                load::run(target(addr), clients, settings.warm_up, settings.duration)
                    .await
                    .with_context(|| format!("scraping the exporter ({what})"))?;
            let nginx_result = load::run(
                target(nginx.addr),
                clients,
                settings.warm_up,
                settings.duration,
            )
            .await
            .with_context(|| format!("scraping nginx ({what})"))?;
            runs.push(LoadRun {
                gzip,
                clients,
                exporter: exporter_result,
                nginx: nginx_result,
            });
        }
    }
    drop(nginx);

    let rss_bytes = exporter.rss_bytes()?;
    let (cpu_before, wakeups_before) = (exporter.cpu_time()?, exporter.context_switches()?);
    tokio::time::sleep(settings.idle).await;
    let idle_cpu = exporter.cpu_time()? - cpu_before;
    let idle_wakeups = exporter.context_switches()? - wakeups_before;
    Ok(ScaleFigures {
        series: served_series,
        render_median,
        render_max,
        gzip_time,
        plain_bytes: plain.len(),
        gzip_bytes: gzipped.len(),
        rss_bytes,
        idle_cpu,
        idle_wakeups,
        runs,
    })
}

/// The render a changed snapshot triggers, timed in this process over repeated renders of the
/// same sources, and the gzip the first gzip scrape after it pays.
async fn render_times(config_text: &str) -> anyhow::Result<(Duration, Duration, Duration)> {
    let config = config::parse(config_text, "benchmark config", Path::new("."))?;
    let (store, pollers) = app::pollers(&config, Arc::new(SystemClock))?;
    for poller in &pollers {
        anyhow::ensure!(poller.poll_once().await, "the benchmark's Qlik poll failed");
    }
    let mut times: Vec<Duration> = (0..15)
        .map(|_| {
            let started = Instant::now();
            store.rerender();
            started.elapsed()
        })
        .collect();
    times.sort_unstable();
    let rendered = store.rendered();
    let started = Instant::now();
    let _ = rendered.gzipped();
    Ok((
        times[times.len() / 2],
        times[times.len() - 1],
        started.elapsed(),
    ))
}

async fn wait_ready(client: &reqwest::Client, addr: SocketAddr) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        let response = client.get(format!("http://{addr}/-/ready")).send().await?;
        if response.status().is_success() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("the exporter on {addr} was not ready within 120 s")
}

/// The exposition's bytes as served; reqwest is built without gzip, so these are the wire bytes.
async fn fetch(client: &reqwest::Client, addr: SocketAddr, gzip: bool) -> anyhow::Result<Vec<u8>> {
    let mut request = client.get(format!("http://{addr}/metrics"));
    if gzip {
        request = request.header("Accept-Encoding", "gzip");
    }
    Ok(request
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?
        .to_vec())
}

fn served_series(exposition: &[u8]) -> anyhow::Result<usize> {
    let text = std::str::from_utf8(exposition)?;
    text.lines()
        .find_map(|line| line.strip_prefix("consumption_source_series{"))
        .and_then(|rest| rest.rsplit_once(' '))
        .and_then(|(_, value)| value.parse::<f64>().ok())
        .map(|v| v as usize)
        .context("no consumption_source_series in the exposition")
}

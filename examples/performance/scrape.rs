//! Serving at scale: the exporter binary with one Qlik source whose per-user labels make it
//! serve about N series, scraped by the load generator next to nginx serving the same bytes.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use consumption_exporter::model::clock::SystemClock;
use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
use consumption_exporter::{app, config};

use crate::load::{self, LoadResult, Target};
use crate::nginx::Nginx;
use crate::processes::{self, Process};

/// Series one simulated Qlik user adds with `user_id` as a label: 8 families × 5 resource
/// kinds × 3 period types × current and previous period.
const SERIES_PER_USER: usize = 240;

/// How each load run is measured: a warm-up, then `rounds` alternating rounds of `duration`
/// per server; `idle` is the window the idle CPU is read over.
pub struct LoadSettings {
    pub warm_up: Duration,
    pub duration: Duration,
    pub rounds: usize,
    pub idle: Duration,
}

pub struct ScaleFigures {
    pub series: usize,
    pub render_median: Duration,
    pub render_max: Duration,
    pub gzip_time: Duration,
    /// The OpenMetrics form, made on the first OpenMetrics scrape after a render.
    pub openmetrics_time: Duration,
    /// What every scrape makes: the process figures, the scrape counts, the gzip tail.
    pub per_scrape: Duration,
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

/// A Qlik tenant that makes the exporter serve about `series` series. The simulator runs in a
/// child process, so this process's heap holds only what the exporter's would.
struct Tenant {
    _simulator: Process,
    /// The config with `{interval}` where the poll interval goes.
    config: String,
}

impl Tenant {
    fn config(&self, poll_interval: &str) -> String {
        self.config.replace("{interval}", poll_interval)
    }
}

/// The child's side: serves a Qlik tenant with `users` users and prints its URL.
pub async fn serve_simulator(users: usize) -> anyhow::Result<()> {
    let today = Utc::now().date_naive();
    let tenant = QlikTenant {
        today,
        ..QlikTenant::default()
    };
    let simulator = QlikSimulator::new(tenant, generate_records(7, users, today))
        .start(0)
        .await?;
    println!("{}", simulator.url());
    std::future::pending::<()>().await;
    Ok(())
}

/// The child's side: serves a Power Platform tenant with `per_day` flow-run records a day over
/// the month so far (20 environments, 5,000 users, 200 flows) and prints its URL.
pub async fn serve_powerplatform(per_day: u64) -> anyhow::Result<()> {
    use consumption_exporter::simulator::powerplatform::{
        FlowRecords, PowerPlatformSimulator, PowerPlatformTenant,
    };
    let today = Utc::now().date_naive();
    let tenant = PowerPlatformTenant {
        today,
        records: FlowRecords::Generated {
            seed: 7,
            per_day,
            days: 3,
            environments: 20,
            users: 5_000,
        },
        ..PowerPlatformTenant::default()
    };
    let simulator = PowerPlatformSimulator::new(tenant).start(0).await?;
    println!("{}", simulator.url());
    std::future::pending::<()>().await;
    Ok(())
}

/// Poll and render times of the scrape tenant at about `series` series, with `extra` keys in
/// its entry (the budgets section compares none with twenty budgets).
pub async fn poll_and_render(series: usize, extra: &str) -> anyhow::Result<(Duration, Duration)> {
    let tenant = tenant(series).await?;
    let config = config::parse(
        &format!("{}{extra}", tenant.config("1h")),
        "benchmark config",
        Path::new("."),
    )?;
    let (store, pollers) = app::pollers(&config, Arc::new(SystemClock))?;
    let mut polls = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        anyhow::ensure!(
            pollers[0].poll_once().await,
            "the benchmark's Qlik poll failed"
        );
        polls.push(started.elapsed());
    }
    let mut renders: Vec<Duration> = (0..15)
        .map(|_| {
            let started = Instant::now();
            store.rerender();
            started.elapsed()
        })
        .collect();
    polls.sort_unstable();
    renders.sort_unstable();
    Ok((polls[1], renders[renders.len() / 2]))
}

/// What the scrape section serves: the Qlik tenant at about `n` series, or the Power Platform
/// stand-in (five labels per flow run, three windows) with `n` records a day.
#[derive(Clone, Copy, Debug)]
pub enum Stand {
    Qlik(usize),
    PowerPlatform(u64),
}

async fn tenant(series: usize) -> anyhow::Result<Tenant> {
    stand_tenant(Stand::Qlik(series)).await
}

async fn stand_tenant(stand: Stand) -> anyhow::Result<Tenant> {
    let (flag, size, entry) = match stand {
        // Records with no user are the tenant's own; they count as one user's worth.
        Stand::Qlik(series) => (
            crate::SERVE_QLIK_FLAG,
            (series / SERIES_PER_USER).saturating_sub(1).to_string(),
            format!("type: qlik\n    base_url: {{url}}\n    labels: [resource_type, resource_action, period_type, unit, user_id]\n    authorization:\n      credentials: {}\n", QlikTenant::default().api_key),
        ),
        Stand::PowerPlatform(records) => (
            crate::SERVE_POWERPLATFORM_FLAG,
            records.to_string(),
            "type: powerplatform\n    base_url: {url}\n    labels: [environment_id, flow_context, flow_license_categorization, resource_id, user_id]\n    oauth2:\n      token_url: {url}/contoso.onmicrosoft.com/oauth2/v2.0/token\n      client_id: pp-sim-client\n      client_secret: pp-sim-secret\n".to_string(),
        ),
    };
    let mut simulator = Process::spawn(
        Command::new(std::env::current_exe()?)
            .args([flag, &size])
            .stdout(Stdio::piped()),
    )?;
    let url = simulator.read_line()?;
    let config = format!(
        "global:\n  poll_interval: {{interval}}\nsources:\n  - name: bench\n    {}",
        entry.replace("{url}", &url)
    );
    Ok(Tenant {
        _simulator: simulator,
        config,
    })
}

pub async fn measure(stand: Stand, settings: &LoadSettings) -> anyhow::Result<ScaleFigures> {
    eprintln!("scrape section: {stand:?}");
    let tenant = stand_tenant(stand).await?;
    let times = render_times(&tenant.config("1h")).await?;
    let (render_median, render_max, gzip_time) = (times.median, times.max, times.gzip);

    let rss_bytes = steady_rss(&tenant).await?;
    // Polls an hour apart: the scrapes and the idle figures see no poll.
    let (exporter, addr, _dir) = start_exporter(&tenant.config("1h"))?;
    let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
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
                expected_len: Some(expected_len),
            };
            let what = format!(
                "{served_series} series, {} body, {clients} clients",
                if gzip { "gzip" } else { "plain" }
            );
            eprintln!("  scraping: {what}");
            // Alternating rounds, pooled, so a moment of interference on this shared machine
            // falls on both servers rather than on one.
            let mut pooled: Option<(LoadResult, LoadResult)> = None;
            for _ in 0..settings.rounds {
                let exporter_round =
                    load::run(target(addr), clients, settings.warm_up, settings.duration)
                        .await
                        .with_context(|| format!("scraping the exporter ({what})"))?;
                let nginx_round = load::run(
                    target(nginx.addr),
                    clients,
                    settings.warm_up,
                    settings.duration,
                )
                .await
                .with_context(|| format!("scraping nginx ({what})"))?;
                pooled = Some(match pooled {
                    None => (exporter_round, nginx_round),
                    Some((mut exporter, mut nginx)) => {
                        exporter.merge(exporter_round);
                        nginx.merge(nginx_round);
                        (exporter, nginx)
                    }
                });
            }
            let (exporter_result, nginx_result) =
                pooled.context("the benchmark needs at least one round")?;
            runs.push(LoadRun {
                gzip,
                clients,
                exporter: exporter_result,
                nginx: nginx_result,
            });
        }
    }
    drop(nginx);

    let (cpu_before, wakeups_before) = (exporter.cpu_time()?, exporter.context_switches()?);
    tokio::time::sleep(settings.idle).await;
    let idle_cpu = exporter.cpu_time()? - cpu_before;
    let idle_wakeups = exporter.context_switches()? - wakeups_before;
    Ok(ScaleFigures {
        series: served_series,
        render_median,
        render_max,
        openmetrics_time: times.openmetrics,
        per_scrape: times.per_scrape,
        gzip_time,
        plain_bytes: plain.len(),
        gzip_bytes: gzipped.len(),
        rss_bytes,
        idle_cpu,
        idle_wakeups,
        runs,
    })
}

/// Starts the exporter binary on a free port with `config`.
pub fn start_exporter(config: &str) -> anyhow::Result<(Process, SocketAddr, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("exporter.yml");
    std::fs::write(&config_path, config)?;
    let addr = processes::free_address()?;
    let exporter = Process::spawn(&mut processes::serve_command(&config_path, addr)?)?;
    processes::wait_until_listening(addr, Duration::from_secs(10))?;
    Ok((exporter, addr, dir))
}

/// Resident memory once the exporter has polled several times and been scraped in both
/// encodings: what a long-running exporter holds, old snapshots and bodies replaced.
async fn steady_rss(tenant: &Tenant) -> anyhow::Result<u64> {
    const POLLS: f64 = 4.0;
    let (exporter, addr, _dir) = start_exporter(&tenant.config("2s"))?;
    let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
    wait_ready(&client, addr).await?;
    let per_poll = requests_made(&client, addr).await?;
    let started = Instant::now();
    while requests_made(&client, addr).await? < POLLS * per_poll {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "the exporter did not poll {POLLS} times within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the last poll's render land, then scrape in every form: plain and gzip text, and
    // gzipped OpenMetrics as Prometheus asks for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    fetch(&client, addr, false).await?;
    fetch(&client, addr, true).await?;
    fetch_as_prometheus(&client, addr).await?;
    exporter.rss_bytes()
}

/// The exporter's count of requests to the vendor, from its gzip exposition.
async fn requests_made(client: &reqwest::Client, addr: SocketAddr) -> anyhow::Result<f64> {
    let gzipped = fetch(client, addr, true).await?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzipped[..]), &mut text)?;
    Ok(text
        .lines()
        .filter(|line| line.starts_with("consumption_source_requests_total{"))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum())
}

struct RenderTimes {
    median: Duration,
    max: Duration,
    gzip: Duration,
    openmetrics: Duration,
    per_scrape: Duration,
}

/// The render a changed snapshot triggers, timed in this process over repeated renders of the
/// same sources; the gzip and OpenMetrics forms the first scrape asking for them pays; and the
/// block every scrape makes (median of 500).
async fn render_times(config_text: &str) -> anyhow::Result<RenderTimes> {
    use consumption_exporter::exposition::openmetrics::Format;
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
    let prefix = rendered.gzip_prefix_in(Format::Text);
    let gzip = started.elapsed();
    let started = Instant::now();
    let _ = rendered.body_in(Format::OpenMetrics);
    let openmetrics = started.elapsed();
    let counts = [(200u16, 1_000u64), (401, 3)];
    let mut per_scrape: Vec<Duration> = (0..500)
        .map(|_| {
            let started = Instant::now();
            let block = consumption_exporter::exposition::families::scrape_block(
                &consumption_exporter::exposition::process::read(),
                &counts,
                0,
                &[],
            );
            std::hint::black_box(prefix.finish(block.as_bytes()));
            started.elapsed()
        })
        .collect();
    per_scrape.sort_unstable();
    Ok(RenderTimes {
        median: times[times.len() / 2],
        max: times[times.len() - 1],
        gzip,
        openmetrics,
        per_scrape: per_scrape[per_scrape.len() / 2],
    })
}

pub async fn wait_ready(client: &reqwest::Client, addr: SocketAddr) -> anyhow::Result<()> {
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

/// What Prometheus asks for: OpenMetrics first, gzipped (its default scrape `Accept`).
pub async fn fetch_as_prometheus(
    client: &reqwest::Client,
    addr: SocketAddr,
) -> anyhow::Result<Vec<u8>> {
    const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let response = client
        .get(format!("http://{addr}/metrics"))
        .header("Accept", ACCEPT)
        .header("Accept-Encoding", "gzip")
        .send()
        .await?
        .error_for_status()?;
    Ok(response.bytes().await?.to_vec())
}

/// The exposition's bytes as served; reqwest is built without gzip, so these are the wire bytes.
pub async fn fetch(
    client: &reqwest::Client,
    addr: SocketAddr,
    gzip: bool,
) -> anyhow::Result<Vec<u8>> {
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

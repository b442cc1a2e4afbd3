//! A thousand sources in one process: every vendor in turn, small and demo-sized tenants served by a
//! simulator child process (several sources share a tenant, as the exporter cannot tell),
//! polled through `max_concurrent_polls`. Memory, idle CPU and scrapes are the exporter
//! binary's; the render per change and `check` are timed on the same config.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use consumption_exporter::model::clock::SystemClock;
use consumption_exporter::simulator::kit::{self, Scale, TenantSpec};
use consumption_exporter::{app, config};
use futures_util::StreamExt;

use crate::load::{self, LoadResult, Target};
use crate::processes::Process;
use crate::scrape::{fetch, fetch_as_prometheus, start_exporter, wait_ready};

/// Simulated tenants per vendor; the sources take them in turn.
const TENANTS_PER_VENDOR: usize = 10;
const NAME_MARK: &str = "FLEET_SOURCE_NAME";
const END_MARK: &str = "END";

pub struct FleetFigures {
    pub sources: usize,
    pub series: usize,
    /// Per vendor: sources and the series one of its sources serves.
    pub per_vendor: Vec<(&'static str, usize, usize)>,
    pub base_rss: u64,
    pub rss: u64,
    pub first_round: Duration,
    pub most_in_flight: f64,
    pub max_concurrent_polls: usize,
    pub idle_cpu: Duration,
    pub idle_wakeups: u64,
    pub idle_window: Duration,
    pub render_one: (Duration, Duration),
    pub render_all: Duration,
    pub parse: Duration,
    pub check: (Duration, Duration),
    pub scrapes: Vec<(bool, usize, LoadResult)>,
    /// nginx serving the same bodies under the same loads, measured right after.
    pub nginx_scrapes: Vec<(bool, usize, LoadResult)>,
    /// The same scrapes while every source polls once a minute, and the polls that ended
    /// during them.
    pub churn_scrapes: Vec<(bool, usize, LoadResult)>,
    pub churn_polls: usize,
    pub churn_window: Duration,
    pub body_bytes: (usize, usize),
}

/// The child's side: starts the tenants and prints one `sources` entry per tenant (JSON, with
/// [`NAME_MARK`] where the name goes), then [`END_MARK`].
pub async fn serve_simulators() -> anyhow::Result<()> {
    let mut running = Vec::new();
    for i in 0..TENANTS_PER_VENDOR {
        for vendor in kit::VENDORS {
            let spec = TenantSpec {
                seed: i as u64,
                today: chrono::Utc::now().date_naive(),
                // Small and demo-sized tenants in turn: about 100 series a source on average.
                scale: if i % 2 == 0 {
                    Scale::Demo
                } else {
                    Scale::Small
                },
            };
            let tenant = vendor.start(spec).await?;
            println!("{}", serde_json::to_string(&tenant.entry(NAME_MARK))?);
            running.push(tenant);
        }
    }
    println!("{END_MARK}");
    std::future::pending::<()>().await;
    Ok(())
}

struct Fleet {
    _simulators: Process,
    entries: Vec<String>,
}

impl Fleet {
    fn start() -> anyhow::Result<Self> {
        let mut simulators = Process::spawn(
            Command::new(std::env::current_exe()?)
                .arg(crate::SERVE_FLEET_FLAG)
                .stdout(Stdio::piped()),
        )?;
        let mut entries = Vec::new();
        loop {
            let line = simulators.read_line()?;
            if line == END_MARK {
                break;
            }
            anyhow::ensure!(!line.is_empty(), "the fleet's simulators stopped");
            entries.push(serde_json::from_str(&line)?);
        }
        Ok(Fleet {
            _simulators: simulators,
            entries,
        })
    }

    /// `sources` sources, the tenants in turn, polled every `interval`.
    fn config(&self, sources: usize, interval: &str, max_concurrent_polls: usize) -> String {
        let mut text = format!(
            "global:\n  poll_interval: {interval}\n  max_concurrent_polls: {max_concurrent_polls}\nsources:\n"
        );
        for i in 0..sources {
            let entry = &self.entries[i % self.entries.len()];
            text.push_str(&entry.replacen(NAME_MARK, &format!("fleet-{i:04}"), 1));
        }
        text
    }
}

pub async fn measure(sources: usize, idle_window: Duration) -> anyhow::Result<FleetFigures> {
    const MAX_CONCURRENT_POLLS: usize = 16;
    let fleet = Fleet::start()?;
    let text = fleet.config(sources, "1h", MAX_CONCURRENT_POLLS);
    eprintln!("fleet section: {sources} sources");
    let in_process = in_process_figures(&text).await?;
    let check = check_times(&text)?;
    let base_rss = {
        let (exporter, addr, _dir) = start_exporter(&fleet.config(1, "1h", MAX_CONCURRENT_POLLS))?;
        let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
        wait_ready(&client, addr).await?;
        fetch(&client, addr, false).await?;
        fetch(&client, addr, true).await?;
        fetch_as_prometheus(&client, addr).await?;
        exporter.rss_bytes()?
    };
    let (exporter, addr, _dir) = start_exporter(&text)?;
    let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
    let started = Instant::now();
    let most_in_flight = watch_first_round(&client, addr).await?;
    let first_round = started.elapsed();
    let plain = fetch(&client, addr, false).await?;
    let gzipped = fetch(&client, addr, true).await?;
    fetch_as_prometheus(&client, addr).await?;
    let rss = exporter.rss_bytes()?;
    let (cpu_before, wakeups_before) = (exporter.cpu_time()?, exporter.context_switches()?);
    tokio::time::sleep(idle_window).await;
    let idle_cpu = exporter.cpu_time()? - cpu_before;
    let idle_wakeups = exporter.context_switches()? - wakeups_before;
    let scrapes = scrape_runs(addr, plain.len(), gzipped.len()).await?;
    drop(exporter);
    let nginx = crate::nginx::Nginx::start(&plain, &gzipped)?;
    let nginx_scrapes = scrape_runs(nginx.addr, plain.len(), gzipped.len()).await?;
    drop(nginx);
    let churn = churn_runs(&fleet.config(sources, "1m", MAX_CONCURRENT_POLLS)).await?;
    let by_source = vendor_series(&String::from_utf8_lossy(&plain));
    Ok(FleetFigures {
        sources,
        series: by_source.values().map(|(_, s)| s).sum(),
        per_vendor: per_vendor(&by_source),
        base_rss,
        rss,
        first_round,
        most_in_flight,
        max_concurrent_polls: MAX_CONCURRENT_POLLS,
        idle_cpu,
        idle_wakeups,
        idle_window,
        render_one: in_process.render_one,
        render_all: in_process.render_all,
        parse: in_process.parse,
        check,
        scrapes,
        nginx_scrapes,
        churn_scrapes: churn.0,
        churn_polls: churn.1,
        churn_window: churn.2,
        body_bytes: (plain.len(), gzipped.len()),
    })
}

pub struct InProcess {
    pub parse: Duration,
    /// Every source polled once, 16 at a time.
    pub poll_all: Duration,
    /// Sample lines in the rendered body.
    pub samples: usize,
    pub render_one: (Duration, Duration),
    pub render_all: Duration,
}

/// The fleet's in-process figures without and with `showback` (a `money:`/`allocation:` block).
pub async fn showback_overhead(
    sources: usize,
    showback: &str,
) -> anyhow::Result<(InProcess, InProcess)> {
    let fleet = Fleet::start()?;
    let text = fleet.config(sources, "1h", 16);
    let with = text.replacen("sources:\n", &format!("{showback}sources:\n"), 1);
    Ok((
        in_process_figures(&text).await?,
        in_process_figures(&with).await?,
    ))
}

/// Parses the config, polls every source once, then times what one source's change costs (its
/// lines written anew, the others copied) against a render of every source.
pub async fn in_process_figures(text: &str) -> anyhow::Result<InProcess> {
    let started = Instant::now();
    let config = config::parse(text, "fleet config", Path::new("."))?;
    let parse = started.elapsed();
    let (store, pollers) = app::pollers(&config, Arc::new(SystemClock))?;
    let started = Instant::now();
    let failed = futures_util::stream::iter(pollers.iter().map(|p| p.poll_once()))
        .buffer_unordered(16)
        .filter(|ok| std::future::ready(!ok))
        .count()
        .await;
    let poll_all = started.elapsed();
    let samples = store
        .rendered()
        .text()
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty() && !line.starts_with(b"#"))
        .count();
    anyhow::ensure!(failed == 0, "{failed} of the fleet's polls failed");
    let slots = store.slots();
    let mut one: Vec<Duration> = (0..60)
        .map(|i| {
            let slot = &slots[(i * 997) % slots.len()];
            let started = Instant::now();
            store.record_failure(slot, "benchmark".into(), Duration::ZERO);
            started.elapsed()
        })
        .collect();
    one.sort_unstable();
    let mut all: Vec<Duration> = (0..9)
        .map(|_| {
            let started = Instant::now();
            store.rerender();
            started.elapsed()
        })
        .collect();
    all.sort_unstable();
    Ok(InProcess {
        parse,
        poll_all,
        samples,
        render_one: (one[one.len() / 2], one[one.len() - 1]),
        render_all: all[all.len() / 2],
    })
}

/// `consumption_exporter check` on the fleet's config: median and max of five runs.
fn check_times(text: &str) -> anyhow::Result<(Duration, Duration)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("exporter.yml");
    std::fs::write(&path, text)?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let output = Command::new(crate::processes::exporter_binary()?)
            .args(["check", "--config.file"])
            .arg(&path)
            .output()?;
        times.push(started.elapsed());
        anyhow::ensure!(
            output.status.success(),
            "check refused the fleet config: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    times.sort_unstable();
    Ok((times[2], times[4]))
}

/// Scrapes until every source has polled once; returns the most polls seen in flight.
async fn watch_first_round(client: &reqwest::Client, addr: SocketAddr) -> anyhow::Result<f64> {
    let mut most = 0.0f64;
    let started = Instant::now();
    loop {
        let ready = client.get(format!("http://{addr}/-/ready")).send().await?;
        if ready.status().is_success() {
            return Ok(most);
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the fleet's first polls did not end within 600 s"
        );
        let body = fetch(client, addr, false).await?;
        let in_flight = String::from_utf8_lossy(&body)
            .lines()
            .find_map(|l| {
                l.strip_prefix("consumption_exporter_polls_in_flight ")?
                    .parse()
                    .ok()
            })
            .context("no polls_in_flight gauge")?;
        most = most.max(in_flight);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Scrapes while the sources poll every minute (after the first round, whose polls run back
/// to back): each ended poll renders, and the next gzip scrape compresses the new body.
async fn churn_runs(
    text: &str,
) -> anyhow::Result<(Vec<(bool, usize, LoadResult)>, usize, Duration)> {
    let (exporter, addr, _dir) = start_exporter(text)?;
    let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
    wait_ready(&client, addr).await?;
    // The second round starts about a minute after the first did.
    tokio::time::sleep(Duration::from_secs(45)).await;
    let before = last_successes(&String::from_utf8_lossy(
        &fetch(&client, addr, false).await?,
    ));
    let started = Instant::now();
    // Bodies change while these run, so any length will do.
    let cases = [(true, 1, None), (true, 16, None), (false, 1, None)];
    let runs = load_rounds(addr, &cases, Duration::from_secs(8), "the polling fleet").await?;
    let window = started.elapsed();
    let after = last_successes(&String::from_utf8_lossy(
        &fetch(&client, addr, false).await?,
    ));
    let polls = after
        .iter()
        .filter(|(source, at)| before.get(*source) != Some(*at))
        .count();
    drop(exporter);
    Ok((runs, polls, window))
}

/// `consumption_source_last_success_timestamp_seconds` by source, as served.
fn last_successes(exposition: &str) -> std::collections::BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("consumption_source_last_success_timestamp_seconds{"))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once(' ')?;
            Some((labels.to_string(), value.to_string()))
        })
        .collect()
}

async fn scrape_runs(
    addr: SocketAddr,
    plain_len: usize,
    gzip_len: usize,
) -> anyhow::Result<Vec<(bool, usize, LoadResult)>> {
    let (plain, gzip) = (Some(plain_len), Some(gzip_len));
    let cases = [
        (false, 1, plain),
        (false, 16, plain),
        (true, 1, gzip),
        (true, 16, gzip),
    ];
    load_rounds(addr, &cases, Duration::from_secs(3), "the fleet").await
}

/// One load run per case (gzip, clients, the body length every answer must have).
async fn load_rounds(
    addr: SocketAddr,
    cases: &[(bool, usize, Option<usize>)],
    duration: Duration,
    what: &str,
) -> anyhow::Result<Vec<(bool, usize, LoadResult)>> {
    let mut runs = Vec::new();
    for &(gzip, clients, expected_len) in cases {
        let target = Target {
            addr,
            path: "/metrics",
            gzip,
            expected_len,
        };
        let result = load::run(target, clients, Duration::from_millis(500), duration)
            .await
            .with_context(|| format!("scraping {what} (gzip {gzip}, {clients} clients)"))?;
        runs.push((gzip, clients, result));
    }
    Ok(runs)
}

/// `consumption_source_series` by source: (vendor, series).
fn vendor_series(exposition: &str) -> std::collections::BTreeMap<String, (String, usize)> {
    let mut by_source = std::collections::BTreeMap::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix("consumption_source_series{") else {
            continue;
        };
        let label = |name: &str| {
            let start = rest.find(&format!("{name}=\""))? + name.len() + 2;
            let end = rest[start..].find('"')? + start;
            Some(rest[start..end].to_string())
        };
        let value = rest
            .rsplit_once(' ')
            .and_then(|(_, v)| v.parse::<f64>().ok());
        if let (Some(source), Some(vendor), Some(value)) = (label("source"), label("vendor"), value)
        {
            by_source.insert(source, (vendor, value as usize));
        }
    }
    by_source
}

fn per_vendor(
    by_source: &std::collections::BTreeMap<String, (String, usize)>,
) -> Vec<(&'static str, usize, usize)> {
    kit::VENDORS
        .iter()
        .map(|vendor| {
            let name = vendor.type_name();
            let of_vendor: Vec<usize> = by_source
                .values()
                .filter(|(v, _)| v == name)
                .map(|(_, s)| *s)
                .collect();
            let mean = of_vendor.iter().sum::<usize>() / of_vendor.len().max(1);
            (name, of_vendor.len(), mean)
        })
        .collect()
}

/// The first round of polls at one fleet size: from start to ready, the exporter's CPU in
/// that time, and plain scrapes taken back to back while it runs.
pub struct FirstRound {
    pub sources: usize,
    pub to_ready: Duration,
    pub cpu: Duration,
    pub rss: u64,
    pub scrapes: usize,
    pub scrape_p50: Duration,
    pub scrape_p99: Duration,
    pub scrape_max: Duration,
}

/// Starts the exporter on `sources` sources (interval 1h, so each polls once) and measures
/// its first round. Sizes run one after the other, on one set of simulated tenants.
pub async fn first_rounds(sizes: &[usize]) -> anyhow::Result<Vec<FirstRound>> {
    let fleet = Fleet::start()?;
    let mut rounds = Vec::new();
    for &sources in sizes {
        eprintln!("first round: {sources} sources");
        let (exporter, addr, _dir) = start_exporter(&fleet.config(sources, "1h", 16))?;
        let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
        let started = Instant::now();
        let cpu_before = exporter.cpu_time()?;
        let mut latencies = Vec::new();
        loop {
            let ready = client.get(format!("http://{addr}/-/ready")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(1200),
                "{sources} sources were not ready within 1200 s"
            );
            let scrape_started = Instant::now();
            match fetch(&client, addr, false).await {
                Ok(_) => latencies.push(scrape_started.elapsed()),
                // Not listening yet: the config is still being read.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let to_ready = started.elapsed();
        let cpu = exporter.cpu_time()? - cpu_before;
        let rss = exporter.rss_bytes()?;
        latencies.sort_unstable();
        let quantile = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        rounds.push(FirstRound {
            sources,
            to_ready,
            cpu,
            rss,
            scrapes: latencies.len(),
            scrape_p50: quantile(0.5),
            scrape_p99: quantile(0.99),
            scrape_max: latencies.last().copied().unwrap_or_default(),
        });
    }
    Ok(rounds)
}

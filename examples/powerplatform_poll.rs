//! Benchmark: one poll of a large Power Platform tenant against merely downloading its pages.
//!
//! The simulator runs in a child process, so the figures are the exporter's own: the wall time
//! of a full poll (paging, decoding, folding into window sums) against a plain loop that fetches
//! the same pages and throws them away, and the exporter's peak RSS during the poll.
//!
//! `cargo run --release --example powerplatform_poll [-- PAGES PAGE_SIZE]` (default 1000 × 1000).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, SecondsFormat, Utc};
use consumption_exporter::app;
use consumption_exporter::clock::SystemClock;
use consumption_exporter::config;
use consumption_exporter::simulator::powerplatform::{
    FlowRecords, PowerPlatformSimulator, PowerPlatformTenant,
};

const CHILD_FLAG: &str = "--serve-simulator";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD_FLAG) {
        return serve_simulator(args[2].parse()?);
    }
    let pages: u64 = args.get(1).map_or(Ok(1000), |a| a.parse())?;
    let page_size: u64 = args.get(2).map_or(Ok(1000), |a| a.parse())?;
    let (_child, url) = spawn_simulator(pages * page_size)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(measure(&url, pages, page_size))
}

/// Kills the simulator when the benchmark ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child: a tenant whose records all fall on yesterday, so every one is inside the poll.
fn serve_simulator(records: u64) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let tenant = PowerPlatformTenant {
            today: Utc::now().date_naive() - Duration::days(1),
            records: FlowRecords::Generated {
                seed: 9,
                per_day: records,
                days: 1,
                environments: 20,
                users: 5000,
            },
            ..PowerPlatformTenant::default()
        };
        let running = PowerPlatformSimulator::new(tenant).start(0).await?;
        println!("{}", running.url());
        std::future::pending::<()>().await;
        Ok(())
    })
}

fn spawn_simulator(records: u64) -> anyhow::Result<(KillOnDrop, String)> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([CHILD_FLAG, &records.to_string()])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout from the simulator"))?;
    let child = KillOnDrop(child);
    let mut url = String::new();
    BufReader::new(stdout).read_line(&mut url)?;
    Ok((child, url.trim().to_string()))
}

async fn measure(url: &str, pages: u64, page_size: u64) -> anyhow::Result<()> {
    let records = pages * page_size;
    println!("Power Platform: {records} records, {pages} pages of {page_size}, simulator in a child process");
    let (download_time, bytes) = download(url, page_size).await?;
    let yaml = format!(
        "sources:\n  - name: bench\n    type: powerplatform\n    base_url: {url}\n    poll_timeout: 30m\n    page_size: {page_size}\n    max_pages: {}\n    oauth2:\n      token_url: {url}/t/oauth2/v2.0/token\n      client_id: pp-sim-client\n      client_secret: pp-sim-secret\n",
        pages + 10
    );
    let config = config::parse(&yaml, "bench", std::path::Path::new("."))?;
    let (store, pollers) = app::pollers(&config, Arc::new(SystemClock))?;
    let rss_before = status_kib("VmRSS:");
    reset_peak_rss();
    let started = Instant::now();
    let ok = pollers[0].poll_once().await;
    let poll_time = started.elapsed();
    let peak = status_kib("VmHWM:");
    anyhow::ensure!(
        ok,
        "the poll failed: {:?}",
        store.slots()[0].state().last_error
    );
    let series = store.slots()[0]
        .state()
        .snapshot
        .map_or(0, |s| s.series_count());
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| download only (same pages) | {:.2} s, {:.1} MiB |",
        download_time.as_secs_f64(),
        bytes as f64 / 1048576.0
    );
    println!(
        "| exporter poll | {:.2} s ({series} series) |",
        poll_time.as_secs_f64()
    );
    println!(
        "| poll / download | {:.2} (target ≤ 1.50) |",
        poll_time.as_secs_f64() / download_time.as_secs_f64()
    );
    println!(
        "| exporter RSS before poll | {:.1} MiB |",
        rss_before as f64 / 1024.0
    );
    println!(
        "| exporter peak RSS during poll | {:.1} MiB (target < 64) |",
        peak as f64 / 1024.0
    );
    Ok(())
}

/// Fetches every page the poll would fetch and discards it.
async fn download(url: &str, page_size: u64) -> anyhow::Result<(std::time::Duration, usize)> {
    let client = consumption_exporter::http::build_reqwest_client()?;
    let token: serde_json::Value = client
        .post(format!("{url}/t/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "pp-sim-client"),
            ("client_secret", "pp-sim-secret"),
            ("scope", "x/.default"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let bearer = format!(
        "Bearer {}",
        token["access_token"].as_str().unwrap_or_default()
    );
    let now = Utc::now();
    let start = (now.date_naive() - Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let started = Instant::now();
    let mut bytes = 0;
    for page in 1.. {
        let body = client
            .get(format!("{url}/licensing/UserPerFlowCapacitySource"))
            .query(&[
                ("api-version", "2024-10-01".to_string()),
                (
                    "startDate",
                    start.to_rfc3339_opts(SecondsFormat::Secs, true),
                ),
                ("endDate", now.to_rfc3339_opts(SecondsFormat::Secs, true)),
                ("pageNumber", page.to_string()),
                ("pageSize", page_size.to_string()),
            ])
            .header("Authorization", &bearer)
            .send()
            .await?
            .bytes()
            .await?;
        bytes += body.len();
        // The same end rule as the source: 204 (empty body) or a short page.
        if body.is_empty() || bytecount_records(&body) < page_size as usize {
            break;
        }
    }
    Ok((started.elapsed(), bytes))
}

/// Records on a page, counted without decoding it (each record has one consumptionUnits).
fn bytecount_records(body: &[u8]) -> usize {
    body.windows(b"consumptionUnits".len())
        .filter(|w| *w == b"consumptionUnits")
        .count()
}

fn reset_peak_rss() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

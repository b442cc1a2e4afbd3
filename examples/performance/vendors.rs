//! Large polls: for each vendor, the exporter binary's `once` polls a big simulated tenant, and
//! then a plain client replays exactly the requests that poll made (recorded by the simulator)
//! and throws the bodies away. The ratio of the two is what decoding and aggregating cost on
//! top of the download. The poll is repeated at a tenth of the size: if memory follows the
//! record count rather than one page plus the aggregates, the two peaks differ.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use consumption_exporter::simulator::kit::{Scale, SimulatedVendor, TenantSpec};
use consumption_exporter::simulator::RecordedRequest;
use futures_util::{stream, StreamExt, TryStreamExt};

use crate::processes::{self, Process};

/// Keys that let one poll of a large tenant run to its end.
pub const LARGE_POLL: &str = "    poll_timeout: 30m\n    max_pages: 1000000\n";

pub struct PollFigures {
    pub requests: usize,
    pub downloaded_bytes: u64,
    pub download: Duration,
    pub poll: Duration,
    pub series: usize,
    pub peak_rss: u64,
}

/// Polls `vendor` at `scale` with the exporter binary, then downloads the same requests.
pub async fn measure(vendor: &dyn SimulatedVendor, scale: u64) -> anyhow::Result<PollFigures> {
    measure_with(vendor, scale, "").await
}

/// [`measure`] with `extra` keys (four-space indented) in the source's entry.
pub async fn measure_with(
    vendor: &dyn SimulatedVendor,
    scale: u64,
    extra: &str,
) -> anyhow::Result<PollFigures> {
    measure_configured(vendor, scale, ("", extra)).await
}

/// As [`measure_with`], with `top` (top-level keys such as `money:`) before `sources:`.
pub async fn measure_configured(
    vendor: &dyn SimulatedVendor,
    scale: u64,
    (top, extra): (&str, &str),
) -> anyhow::Result<PollFigures> {
    let spec = TenantSpec {
        seed: 3,
        today: Utc::now().date_naive(),
        scale: Scale::Units(scale),
    };
    let simulator = vendor.start(spec).await?;
    let entry = simulator.entry(vendor.type_name());
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("exporter.yml");
    std::fs::write(
        &config_path,
        format!("{top}sources:\n{entry}{LARGE_POLL}{extra}"),
    )?;
    let (peak_rss, exposition) = once_with_peak(vendor, &config_path).await?;
    let poll = Duration::from_secs_f64(gauge(
        &exposition,
        "consumption_source_poll_duration_seconds",
    )?);
    let series = gauge(&exposition, "consumption_source_series")? as usize;
    let requests = simulator.requests();
    let started = Instant::now();
    let downloaded_bytes = replay(&simulator.url(), &requests, vendor.concurrency()).await?;
    Ok(PollFigures {
        requests: requests.len(),
        downloaded_bytes,
        download: started.elapsed(),
        poll,
        series,
        peak_rss,
    })
}

/// Runs the binary's `once` on `config_path`: its peak resident memory and its exposition.
pub async fn once_with_peak(
    vendor: &dyn SimulatedVendor,
    config_path: &std::path::Path,
) -> anyhow::Result<(u64, String)> {
    let child = Process::spawn(
        Command::new(processes::exporter_binary()?)
            .arg("once")
            .arg("--config.file")
            .arg(config_path)
            .args(["--log.level", "error"])
            .stdout(Stdio::piped()),
    )?;
    let (status, peak_rss, exposition) =
        tokio::task::spawn_blocking(move || child.wait_with_output_and_peak_rss()).await??;
    anyhow::ensure!(
        status.success(),
        "the {} poll failed ({status}); run `consumption_exporter once` on the config to see why",
        vendor.type_name()
    );
    Ok((peak_rss, exposition))
}

/// Sends the recorded requests again, as a client that does nothing with the answers would.
async fn replay(
    base_url: &str,
    requests: &[RecordedRequest],
    concurrency: usize,
) -> anyhow::Result<u64> {
    let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
    let sizes: Vec<u64> = stream::iter(requests)
        .map(|recorded| {
            let mut request = client.request(
                recorded.method.clone(),
                format!("{base_url}{}", recorded.uri),
            );
            for (name, value) in &recorded.headers {
                if name != "host" && name != "content-length" {
                    request = request.header(name, value);
                }
            }
            let request = request.body(recorded.body.clone());
            async move {
                let response = request.send().await?.error_for_status()?;
                anyhow::Ok(response.bytes().await?.len() as u64)
            }
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    Ok(sizes.iter().sum())
}

/// The value of the first sample of `family` in an exposition.
fn gauge(exposition: &str, family: &str) -> anyhow::Result<f64> {
    exposition
        .lines()
        .filter(|line| line.starts_with(family))
        .find_map(|line| line.rsplit_once(' ')?.1.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {family} in the exporter's output"))
}

//! FOCUS export: the exporter binary's `focus` over the settled days of a vendor's history
//! tenant, with its time and peak memory. An export streams day by day, so its peak follows
//! a month's aggregates of one day's polls, not the range: 10 and 90 days should peak alike.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use consumption_exporter::simulator::kit::{self, Scale, SimulatedVendor, TenantSpec};

use crate::processes::{self, Process};
use crate::vendors::LARGE_POLL;

pub struct FocusFigures {
    pub rows: u64,
    pub elapsed: Duration,
    pub peak_rss: u64,
    pub output_bytes: u64,
}

/// The binary's export of the last `days` settled days (`settled_after: 3d`) of a tenant of
/// `scale`, priced with the demo's price (or the vendor's own money).
pub async fn measure(
    vendor: &dyn SimulatedVendor,
    scale: u64,
    days: u64,
) -> anyhow::Result<FocusFigures> {
    let today = Utc::now().date_naive();
    let spec = TenantSpec {
        seed: 13,
        today,
        scale: Scale::Monthly(scale),
    };
    let tenant = vendor.start(spec).await?;
    let dir = tempfile::tempdir()?;
    let rates = dir.path().join("rates.csv");
    std::fs::write(&rates, kit::demo_rates_file(today))?;
    let price = vendor
        .demo_price()
        .map_or(String::new(), |price| format!("  prices:\n    - {price}\n"));
    let mut entry = tenant.entry(vendor.type_name());
    if vendor.has_entitlements() && !entry.contains("entitlements:") {
        entry.push_str("    entitlements: true\n");
    }
    let config = format!(
        "money:\n  currency: EUR\n  rates_file: {}\n{price}sources:\n{entry}{LARGE_POLL}",
        rates.display()
    );
    let config_path = dir.path().join("exporter.yml");
    std::fs::write(&config_path, config)?;
    let output = dir.path().join("focus.csv");
    let progress_path = dir.path().join("progress.txt");
    let (from, to) = (today - Days::new(days + 3), today - Days::new(4));
    let child = Process::spawn(
        Command::new(processes::exporter_binary()?)
            .arg("focus")
            .arg("--config.file")
            .arg(&config_path)
            .args(["--from", &from.to_string(), "--to", &to.to_string()])
            .arg("--output")
            .arg(&output)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&progress_path)?),
    )?;
    let started = Instant::now();
    let (status, peak_rss, _) =
        tokio::task::spawn_blocking(move || child.wait_with_output_and_peak_rss()).await??;
    let elapsed = started.elapsed();
    let progress = std::fs::read_to_string(&progress_path)?;
    anyhow::ensure!(
        status.success(),
        "the {} FOCUS export failed ({status}):\n{progress}",
        vendor.type_name()
    );
    Ok(FocusFigures {
        rows: rows_written(&progress)?,
        elapsed,
        peak_rss,
        output_bytes: std::fs::metadata(&output)?.len(),
    })
}

/// The rows of the last line (`wrote FILE: N rows of ...`).
fn rows_written(progress: &str) -> anyhow::Result<u64> {
    progress
        .lines()
        .rev()
        .find_map(|line| {
            let (_, tail) = line.strip_prefix("wrote ")?.split_once(": ")?;
            tail.split(' ').next()?.parse().ok()
        })
        .ok_or_else(|| anyhow::anyhow!("no summary line in the export's stderr:\n{progress}"))
}

//! Backfill: the exporter binary's `backfill` over 90 days of a vendor's history tenant, at one
//! step an hour, with its peak memory: a backfill streams, so the peak follows one step's
//! aggregates, not the range.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use consumption_exporter::simulator::kit::{Scale, SimulatedVendor, TenantSpec};

use crate::processes::{self, Process};
use crate::vendors::{once_with_peak, LARGE_POLL};

pub struct BackfillFigures {
    pub days: u64,
    pub requests: u64,
    pub elapsed: Duration,
    pub peak_rss: u64,
    pub output_bytes: u64,
}

/// Peak memory of the binary's `once` (a first poll: the whole range read, its days summed,
/// settled and handed to budgets) on the history tenant with `budget_period` budget.
pub async fn once_peak(
    vendor: &dyn SimulatedVendor,
    scale: u64,
    budget_period: &str,
) -> anyhow::Result<u64> {
    let spec = TenantSpec {
        seed: 17,
        today: Utc::now().date_naive(),
        scale: Scale::Monthly(scale),
    };
    let tenant = vendor.start(spec).await?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("exporter.yml");
    std::fs::write(
        &config_path,
        format!(
            "sources:\n{}{LARGE_POLL}    budgets:\n      - {{name: b, period: {budget_period}, limit: 1000000000000}}\n",
            tenant.entry(vendor.type_name())
        ),
    )?;
    let (peak_rss, _) = once_with_peak(vendor, &config_path).await?;
    Ok(peak_rss)
}

pub async fn measure(
    vendor: &dyn SimulatedVendor,
    scale: u64,
    days: u64,
) -> anyhow::Result<BackfillFigures> {
    let today = Utc::now().date_naive();
    let spec = TenantSpec {
        seed: 13,
        today,
        scale: Scale::Monthly(scale),
    };
    let tenant = vendor.start(spec).await?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("exporter.yml");
    let entry = tenant.entry(vendor.type_name());
    std::fs::write(&config_path, format!("sources:\n{entry}{LARGE_POLL}"))?;
    let output = dir.path().join("backfill.om");
    let progress_path = dir.path().join("progress.txt");
    let from = (today - Days::new(days)).to_string();
    let child = Process::spawn(
        Command::new(processes::exporter_binary()?)
            .arg("backfill")
            .arg("--config.file")
            .arg(&config_path)
            .args(["--from", &from, "--step", "1h", "--output"])
            .arg(&output)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&progress_path)?),
    )?;
    let started = Instant::now();
    let (status, peak_rss, _) =
        tokio::task::spawn_blocking(move || child.wait_with_output_and_peak_rss()).await??;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        status.success(),
        "the {} backfill failed ({status}); run it by hand on the config to see why",
        vendor.type_name()
    );
    Ok(BackfillFigures {
        days,
        requests: requests_sent(&std::fs::read_to_string(&progress_path)?)?,
        elapsed,
        peak_rss,
        output_bytes: std::fs::metadata(&output)?.len(),
    })
}

/// The requests of the last progress line (`backfill: DAY (day n of m): NAME N requests`): the
/// simulator's own log keeps only the latest 100,000.
fn requests_sent(progress: &str) -> anyhow::Result<u64> {
    progress
        .lines()
        .rev()
        .find_map(|line| {
            let (_, tail) = line.strip_prefix("backfill: ")?.rsplit_once("): ")?;
            tail.strip_suffix(" requests")?
                .rsplit_once(' ')?
                .1
                .parse()
                .ok()
        })
        .ok_or_else(|| anyhow::anyhow!("no progress line in the backfill's stderr"))
}

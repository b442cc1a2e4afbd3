//! Incremental polling: one simulated day, mid-month, at a 15-minute interval, of two exporters
//! in this process on one injected clock: one keeps settled days (the defaults), one re-reads
//! the whole range every poll (`full_refresh_interval: 0s`). Both poll the same tenant; their
//! expositions must be equal after every poll.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta};
use consumption_exporter::engine::poller::Poller;
use consumption_exporter::engine::store::Store;
use consumption_exporter::model::clock::FixedClock;
use consumption_exporter::simulator::kit::{Scale, SimulatedVendor, TenantSpec};
use consumption_exporter::{app, config};

use crate::vendors::LARGE_POLL;

/// Families that count the exporter's own work, which incremental polling changes on purpose.
const WORK_FAMILIES: [&str; 5] = [
    "consumption_source_poll_duration_seconds",
    "consumption_source_requests_total",
    "consumption_source_response_bytes_total",
    "consumption_source_throttled_total",
    "consumption_exporter_",
];

/// What one exporter's day of polls cost.
#[derive(Default)]
pub struct DayFigures {
    pub requests: u64,
    pub bytes: u64,
    pub polling: Duration,
    /// (label set, day) amounts held between polls (settled and recent), and their heap.
    pub settled_days: usize,
    pub settled_bytes: usize,
}

/// The full exporter's day, and each incremental variant's.
pub struct Comparison {
    pub full: DayFigures,
    pub incremental: Vec<DayFigures>,
}

struct Exporter {
    store: Arc<Store>,
    poller: Poller,
    figures: DayFigures,
}

impl Exporter {
    fn start(yaml: &str, clock: &FixedClock) -> anyhow::Result<Self> {
        let config = config::parse(yaml, "benchmark config", Path::new("."))?;
        let (store, mut pollers) = app::pollers(&config, Arc::new(clock.clone()))?;
        let poller = pollers.pop().ok_or_else(|| anyhow::anyhow!("no source"))?;
        Ok(Exporter {
            store,
            poller,
            figures: DayFigures::default(),
        })
    }

    async fn poll(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        let polled = self.poller.poll_once().await;
        self.figures.polling += started.elapsed();
        let state = self.poller.slot.state();
        anyhow::ensure!(
            polled,
            "poll failed: {}",
            state.last_error.unwrap_or_default()
        );
        Ok(())
    }

    /// The exposition without the families that count the exporter's own work.
    fn served(&self) -> Vec<String> {
        let rendered = self.store.rendered();
        String::from_utf8_lossy(&rendered.text())
            .lines()
            .filter(|line| !WORK_FAMILIES.iter().any(|f| line.starts_with(f)))
            .map(str::to_owned)
            .collect()
    }

    fn finish(mut self) -> DayFigures {
        let stats = &self.poller.slot.stats;
        self.figures.requests = stats.requests().values().sum();
        self.figures.bytes = stats.response_bytes().values().sum();
        let state = self
            .poller
            .settled
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(held) = state.held() {
            self.figures.settled_days = held.day_count();
            self.figures.settled_bytes = held.heap_bytes();
        }

        drop(state);
        self.figures
    }
}

/// `polls` polls 15 minutes apart from midnight of `day` (mid-month) by a full exporter and
/// one incremental exporter per entry of `variants` (its `global` keys).
pub async fn compare(
    vendor: &dyn SimulatedVendor,
    scale: u64,
    day: NaiveDate,
    polls: usize,
    variants: &[&str],
) -> anyhow::Result<Comparison> {
    let spec = TenantSpec {
        seed: 11,
        today: day,
        scale: Scale::Monthly(scale),
    };
    let tenant = vendor.start(spec).await?;
    let entry = format!("{}{LARGE_POLL}", tenant.entry(vendor.type_name()));
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let clock = FixedClock::new(midnight);
    let config = |global: &str| format!("global:\n{global}sources:\n{entry}");
    let mut full = Exporter::start(&config("  full_refresh_interval: 0s\n"), &clock)?;
    let mut incremental = variants
        .iter()
        .map(|global| Exporter::start(&config(global), &clock))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for i in 0..polls {
        clock.set(midnight + TimeDelta::minutes(15 * i as i64));
        full.poll().await?;
        let expected = full.served();
        for (exporter, variant) in incremental.iter_mut().zip(variants) {
            exporter.poll().await?;
            let served = exporter.served();
            if let Some(differ) = served.iter().zip(&expected).find(|(a, b)| a != b) {
                anyhow::bail!(
                    "{} ({variant:?}): after poll {} the incremental and full expositions differ: {differ:?}",
                    vendor.type_name(),
                    i + 1
                );
            }
            anyhow::ensure!(
                served.len() == expected.len(),
                "{}: series differ",
                vendor.type_name()
            );
        }
    }
    Ok(Comparison {
        full: full.finish(),
        incremental: incremental.into_iter().map(Exporter::finish).collect(),
    })
}

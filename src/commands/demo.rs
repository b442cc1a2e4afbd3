//! `consumption_exporter demo`: vendor simulators on loopback and the exporter against them, so
//! a newcomer sees real gauges without a vendor account. The demo's config goes through the same
//! loader as a user's `exporter.yml`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::app;
use crate::config;
use crate::model::clock::SystemClock;
use crate::serve::server;
use crate::simulator::kit::{self, SimulatedTenant};
use tokio::net::TcpListener;

/// `demo`'s flags.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Seed of the simulated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Starts the simulators and serves the exporter on `listeners` until `shutdown`, behind
/// `web` (TLS, basic auth) when given, as `serve` would be.
pub async fn run(
    listeners: Vec<TcpListener>,
    seed: u64,
    endpoints: server::Endpoints,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (config_text, _simulators) = start_simulators(seed).await?;
    let config = config::parse(&config_text, "demo config", Path::new("."))
        .map_err(|e| anyhow::anyhow!("the demo's own config is invalid (a bug): {e}"))?;
    let port = listeners
        .first()
        .context("the demo needs a socket to serve on")?
        .local_addr()?
        .port();
    let scheme = match endpoints.web.as_ref().is_some_and(|w| w.serves_tls()) {
        true => "https",
        false => "http",
    };
    println!("consumption_exporter demo: simulated vendors are running on loopback.");
    println!(
        "  metrics:      {scheme}://localhost:{port}{}",
        endpoints.telemetry_path
    );
    println!("  sources page: {scheme}://localhost:{port}/");
    println!("  a real config: exporter.yml in the repository; check it with `consumption_exporter check`");
    println!("Press Ctrl-C to stop.");
    app::run(
        config,
        listeners,
        Arc::new(SystemClock),
        shutdown,
        app::ConfigFile::default(),
        endpoints,
    )
    .await
}

/// What the demo runs beside the exporter: the simulated tenants and the rates file, which
/// stop and go when dropped.
pub struct DemoParts {
    pub tenants: Vec<SimulatedTenant>,
    _files: tempfile::TempDir,
}

/// Starts every simulated vendor's demo tenants and writes the demo's rates file; returns the
/// config for them and what must live as long as it is used.
pub async fn start_simulators(seed: u64) -> anyhow::Result<(String, DemoParts)> {
    let now = Utc::now();
    let (entries, tenants, spends) = kit::start_demo(seed, now)
        .await
        .context("starting the demo's simulators")?;
    let files = tempfile::tempdir().context("making a directory for the demo's rates file")?;
    let rates = files.path().join("eurofxref-hist.csv");
    std::fs::write(&rates, kit::demo_rates_file(now.date_naive()))
        .with_context(|| format!("writing {}", rates.display()))?;
    let per_euro = crate::showback::rates::read_ecb_file(&rates)
        .map_err(|e| anyhow::anyhow!("the demo's rates file: {e}"))?;
    let in_euros = crate::showback::Rates {
        currency: "EUR".to_string(),
        per_euro,
        ..Default::default()
    };
    let config = format!(
        "global:\n  poll_interval: 30s\n  max_age: 5m\n{}{}sources:\n{entries}",
        kit::demo_showback(&rates),
        kit::demo_money_budget(&spends, &in_euros, now),
    );
    let parts = DemoParts {
        tenants,
        _files: files,
    };
    Ok((config, parts))
}

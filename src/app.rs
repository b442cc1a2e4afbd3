//! Wiring: config → store, one poller task per source, and the HTTP server, with reload and
//! shutdown.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, SourceConfig};
use crate::engine::poller::Poller;
use crate::engine::store::Store;
use crate::http::{build_reqwest_client, HttpClient, VendorHooks};
use crate::model::clock::SharedClock;
use crate::model::health::SourceSlot;
use crate::model::shard::Shard;
use crate::serve::server::{self, ReloadError, ReloadRequest, ReloadSummary};

fn now_unix(clock: &SharedClock) -> f64 {
    clock.now().timestamp_millis() as f64 / 1000.0
}

fn new_poller(
    source: &SourceConfig,
    slot: Arc<SourceSlot>,
    http: &reqwest::Client,
    store: &Arc<Store>,
    clock: &SharedClock,
) -> Poller {
    Poller {
        client: http_client(source, http, slot.stats.clone()),
        slot,
        config: source.clone(),
        store: store.clone(),
        clock: clock.clone(),
        settled: Default::default(),
        unconverted: Default::default(),
        inventory: Default::default(),
    }
}

/// The HTTP client of one source: its own `reqwest` client if its outbound keys need one, else
/// the shared one, with the vendor's hooks.
pub fn http_client(
    source: &SourceConfig,
    shared: &reqwest::Client,
    stats: Arc<crate::model::source_stats::SourceStats>,
) -> HttpClient {
    HttpClient::new(
        source.http.clone().unwrap_or_else(|| shared.clone()),
        source.base_url.clone(),
        source.limits,
        &source.auth,
        VendorHooks {
            error_detail: source.source.facts().error_detail,
            throttle_signal: source.source.facts().throttle_signal,
            endpoints: source.source.facts().endpoints,
        },
        stats,
    )
    .going_out(&source.outbound)
}

/// A source's slot, its byte counters of every endpoint started at 0 (before the first render),
/// so that a rate over the first poll is not lost.
fn source_slot(source: &SourceConfig) -> Arc<SourceSlot> {
    let slot = SourceSlot::new(source.name.clone(), source.vendor);
    let endpoints = source.source.facts().endpoints.iter();
    slot.stats
        .expect_endpoints(endpoints.map(|endpoint| endpoint.name));
    Arc::new(slot)
}

/// Builds the store and one poller per configured source, without starting them (for `once`
/// and for tests that drive polls one by one).
pub fn pollers(config: &Config, clock: SharedClock) -> anyhow::Result<(Arc<Store>, Vec<Poller>)> {
    let http = build_reqwest_client(&Default::default()).context("building the HTTP client")?;
    let slots: Vec<Arc<SourceSlot>> = config.sources.iter().map(source_slot).collect();
    let store = Store::new(slots.clone(), now_unix(&clock));
    store.set_max_concurrent_polls(config.max_concurrent_polls);
    store.set_top_level_budgets(config.showback.clone(), clock.clone());
    let pollers = config
        .sources
        .iter()
        .zip(slots)
        .map(|(source, slot)| new_poller(source, slot, &http, &store, &clock))
        .collect();
    Ok((store, pollers))
}

struct RunningSource {
    name: String,
    fingerprint: u64,
    slot: Arc<SourceSlot>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// The poller tasks of the current config, and the store they publish to.
pub struct Supervisor {
    store: Arc<Store>,
    http: reqwest::Client,
    clock: SharedClock,
    config_file: ConfigFile,
    running: Vec<RunningSource>,
}

/// Where the config came from, so a reload re-reads it, and which of its sources this replica
/// runs (`--sources.shard`).
#[derive(Clone, Debug, Default)]
pub struct ConfigFile {
    /// None for `demo`, which makes its config: nothing to reload.
    pub path: Option<PathBuf>,
    pub shard: Shard,
}

impl Supervisor {
    /// Starts a poller per source of this shard.
    pub fn start(
        config: &Config,
        clock: SharedClock,
        config_file: ConfigFile,
    ) -> anyhow::Result<Self> {
        let http = build_reqwest_client(&Default::default()).context("building the HTTP client")?;
        let store = Store::new(Vec::new(), now_unix(&clock));
        let mut supervisor = Supervisor {
            store,
            http,
            clock,
            config_file,
            running: Vec::new(),
        };
        supervisor.apply(config);
        Ok(supervisor)
    }

    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// Re-reads the config file. A bad file is refused whole and the running config stays.
    pub fn reload(&mut self) -> Result<ReloadSummary, ReloadError> {
        let Some(path) = self.config_file.path.clone() else {
            return Err(ReloadError::NoConfigFile);
        };
        let loaded = config::load(&path).and_then(|config| {
            config
                .check_shard(self.config_file.shard)
                .map_err(|message| config::ConfigErrors {
                    file: path.display().to_string(),
                    errors: vec![config::ConfigError {
                        position: None,
                        path: "budgets".to_string(),
                        message,
                    }],
                })?;
            Ok(config.for_serving(self.clock.now()))
        });
        match loaded {
            Ok(config) => {
                let summary = self.apply(&config);
                self.store.record_reload(true, now_unix(&self.clock));
                tracing::info!(file = %path.display(), %summary, "config reloaded");
                Ok(summary)
            }
            Err(errors) => {
                self.store.record_reload(false, now_unix(&self.clock));
                tracing::error!(file = %path.display(), errors = %errors, "config reload refused; the previous config keeps running");
                Err(ReloadError::Invalid(errors))
            }
        }
    }

    /// Moves to `config`: sources whose settings are unchanged keep polling undisturbed; the
    /// others stop, start, or restart with fresh state.
    fn apply(&mut self, config: &Config) -> ReloadSummary {
        let mut previous: Vec<RunningSource> = std::mem::take(&mut self.running);
        let mut summary = ReloadSummary::default();
        self.store
            .set_max_concurrent_polls(config.max_concurrent_polls);
        self.store
            .set_top_level_budgets(config.showback.clone(), self.clock.clone());
        let keeps_money = config.showback.as_ref().is_some_and(|s| s.money.is_some());
        if !keeps_money {
            self.store.set_exchange_rates(Vec::new());
        }
        let shard = self.config_file.shard;
        for source in config.sources.iter().filter(|s| shard.owns(&s.name)) {
            let same_name = previous.iter().position(|r| r.name == source.name);
            match same_name.map(|i| (i, previous[i].fingerprint == source.fingerprint)) {
                Some((i, true)) => {
                    self.running.push(previous.swap_remove(i));
                    summary.unchanged += 1;
                }
                Some((i, false)) => {
                    previous.swap_remove(i).stop.cancel();
                    self.running.push(self.spawn(source));
                    summary.changed += 1;
                }
                None => {
                    self.running.push(self.spawn(source));
                    summary.added += 1;
                }
            }
        }
        summary.removed = previous.len();
        for gone in previous {
            gone.stop.cancel();
        }
        self.store
            .replace_slots(self.running.iter().map(|r| r.slot.clone()).collect());
        summary
    }

    fn spawn(&self, source: &SourceConfig) -> RunningSource {
        let slot = source_slot(source);
        let poller = new_poller(source, slot.clone(), &self.http, &self.store, &self.clock);
        let stop = CancellationToken::new();
        let task = tokio::spawn(poller.run(stop.clone()));
        RunningSource {
            name: source.name.clone(),
            fingerprint: source.fingerprint,
            slot,
            stop,
            task,
        }
    }

    pub async fn stop(self) {
        for running in &self.running {
            running.stop.cancel();
        }
        for running in self.running {
            let _ = running.task.await;
        }
    }
}

/// Serves this shard's sources of `config` on `listeners` until `shutdown`, reloading on SIGHUP
/// and `POST /-/reload` when the exporter was started from a config file.
pub async fn run(
    config: Config,
    listeners: Vec<TcpListener>,
    clock: SharedClock,
    shutdown: CancellationToken,
    config_file: ConfigFile,
    endpoints: server::Endpoints,
) -> anyhow::Result<()> {
    log_start(&config, &listeners, &endpoints, config_file.shard);
    let config = config.for_serving(clock.now());
    let mut supervisor = Supervisor::start(&config, clock, config_file)?;
    let (reload_sender, mut reloads) = mpsc::channel::<ReloadRequest>(4);
    // Before serving: once /metrics answers, a SIGHUP reloads rather than ends the process.
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let options = server::Options {
        reload: Some(reload_sender),
        ..server::Options::serving(endpoints)
    };
    let server = tokio::spawn(server::serve(
        listeners,
        supervisor.store(),
        options,
        shutdown.clone(),
    ));
    loop {
        tokio::select! {
            Some(reply) = reloads.recv() => {
                let _ = reply.send(supervisor.reload());
            }
            Some(()) = async { match hangups.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                let _ = supervisor.reload();
            }
            _ = shutdown.cancelled() => break,
        }
    }
    supervisor.stop().await;
    server.await.context("the HTTP server task failed")?
}

/// The one start-up line: version, where it listens, and whether TLS and basic auth are on.
fn log_start(
    config: &Config,
    listeners: &[TcpListener],
    endpoints: &server::Endpoints,
    shard: Shard,
) {
    let web = endpoints.web.as_ref();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        revision = crate::model::build::REVISION,
        addresses = %crate::serve::listen::describe(listeners),
        telemetry_path = %endpoints.telemetry_path,
        tls = web.is_some_and(|w| w.serves_tls()),
        basic_auth = web.is_some_and(|w| w.current().requires_auth()),
        sources = config.sources.iter().filter(|s| shard.owns(&s.name)).count(),
        shard = %shard,
        "listening"
    );
}

/// What `check` prints for a good config: the source count, and each budget's current period
/// as of `now`, so a user sees that an anniversary was read as meant.
pub fn check(
    path: &std::path::Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, config::ConfigErrors> {
    let config = config::load(path)?;
    let mut report = format!("{}: OK, {} sources\n", path.display(), config.sources.len());
    for source in &config.sources {
        let reads_days = source.source.facts().reads_date_range;
        let schedule = source.schedule.describe(reads_days, now);
        report.push_str(&format!("  {}: {schedule}\n", source.name));
        for budget in &source.budgets {
            report.push_str(&format!("  {}: {}\n", source.name, budget.describe(now)));
        }
    }
    if let Some(showback) = &config.showback {
        for line in showback.describe_money() {
            report.push_str(&format!("{line}\n"));
        }
        for source in &config.sources {
            let billed = source.source.facts().service.is_some();
            let line = showback.describe_source(&source.name, source.vendor, billed);
            report.push_str(&format!("  {line}\n"));
        }
        for budget in &showback.budgets {
            report.push_str(&format!("  top level: {}\n", budget.describe(now)));
        }
    }
    Ok(report)
}

/// Polls every source once, concurrently, and returns the exposition and whether all succeeded.
pub async fn once(config: Config, clock: SharedClock) -> anyhow::Result<(bytes::Bytes, bool)> {
    let (store, pollers) = pollers(&config, clock)?;
    let mut polls = JoinSet::new();
    for poller in pollers {
        polls.spawn(async move { poller.poll_in_a_slot().await });
    }
    let mut all_succeeded = true;
    while let Some(outcome) = polls.join_next().await {
        all_succeeded &= outcome.unwrap_or(false);
    }
    Ok((store.rendered().text(), all_succeeded))
}

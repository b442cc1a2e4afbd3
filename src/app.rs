//! Wiring: config → store, one poller per source, and the HTTP server, with shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::http::{build_reqwest_client, HttpClient};
use crate::poller::Poller;
use crate::server;
use crate::store::{SourceSlot, Store};

/// Builds the store and one poller per configured source.
pub fn pollers(config: &Config, clock: SharedClock) -> anyhow::Result<(Arc<Store>, Vec<Poller>)> {
    let http = build_reqwest_client().context("building the HTTP client")?;
    let slots: Vec<Arc<SourceSlot>> = config
        .sources
        .iter()
        .map(|s| Arc::new(SourceSlot::new(s.name.clone(), s.vendor)))
        .collect();
    let store = Store::new(slots.clone());
    let pollers = config
        .sources
        .iter()
        .zip(slots)
        .enumerate()
        .map(|(i, (source, slot))| Poller {
            slot: i,
            config: source.clone(),
            client: HttpClient::new(http.clone(), source, slot.stats.clone()),
            store: store.clone(),
            clock: clock.clone(),
        })
        .collect();
    Ok((store, pollers))
}

/// Serves `config` on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (store, pollers) = pollers(&config, clock)?;
    let mut tasks = JoinSet::new();
    for poller in pollers {
        tasks.spawn(poller.run(shutdown.clone()));
    }
    let result = server::serve(listener, store, shutdown.clone()).await;
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    result
}

/// Polls every source once, concurrently, and returns the exposition and whether all succeeded.
pub async fn once(config: Config, clock: SharedClock) -> anyhow::Result<(bytes::Bytes, bool)> {
    let (store, pollers) = pollers(&config, clock)?;
    let mut polls = JoinSet::new();
    for poller in pollers {
        polls.spawn(async move { poller.poll_once().await });
    }
    let mut all_succeeded = true;
    while let Some(outcome) = polls.join_next().await {
        all_succeeded &= outcome.unwrap_or(false);
    }
    Ok((store.rendered().body.clone(), all_succeeded))
}

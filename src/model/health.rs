//! What is known of each source's health: its identity and counters, the outcome of its last
//! poll and its last good snapshot, and the outcome of the last config reload. The store keeps
//! these; the render reads them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::locks::lock;
use crate::model::snapshot::Snapshot;
use crate::model::source_stats::SourceStats;

/// What the store knows of one source.
#[derive(Debug, Clone, Default)]
pub struct SourceState {
    /// The last good snapshot, until `max_age` drops it.
    pub snapshot: Option<Arc<Snapshot>>,
    /// Whether the last poll succeeded; `None` before the first poll ends.
    pub up: Option<bool>,
    pub last_success_unix: Option<f64>,
    pub last_duration: Option<Duration>,
    /// The last poll's error, for the landing page (never holds a secret: see `http::HttpError`).
    pub last_error: Option<String>,
}

/// One source's identity, counters and state.
#[derive(Debug)]
pub struct SourceSlot {
    /// Unique among the slots the process ever made: a reload that replaces a source makes a
    /// new slot, and the render must not take it for the old one.
    pub id: u64,
    pub name: String,
    pub vendor: &'static str,
    pub stats: Arc<SourceStats>,
    state: Mutex<SourceState>,
}

impl SourceSlot {
    pub fn new(name: String, vendor: &'static str) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        SourceSlot {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name,
            vendor,
            stats: Arc::default(),
            state: Mutex::default(),
        }
    }

    pub fn state(&self) -> SourceState {
        lock(&self.state).clone()
    }

    /// Only the store changes a slot's state, and re-renders after.
    pub(crate) fn change_state(&self, change: impl FnOnce(&mut SourceState)) {
        change(&mut lock(&self.state));
    }
}

/// The outcome of the last config reload, for `consumption_exporter_config_last_reload_*`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReloadStatus {
    pub successful: bool,
    pub last_success_unix: f64,
}

//! The latest snapshot and the health of every source, and the exposition rendered from them.
//!
//! Writers (pollers) replace a source's state whole and re-render; readers (scrapes) take the
//! rendered bytes behind an `Arc` and never wait for a poll or a render.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::http::SourceStats;
use crate::render::{self, Rendered};
use crate::snapshot::Snapshot;

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
    pub name: String,
    pub vendor: &'static str,
    pub stats: Arc<SourceStats>,
    state: Mutex<SourceState>,
}

impl SourceSlot {
    pub fn new(name: String, vendor: &'static str) -> Self {
        SourceSlot {
            name,
            vendor,
            stats: Arc::default(),
            state: Mutex::default(),
        }
    }

    pub fn state(&self) -> SourceState {
        lock(&self.state).clone()
    }
}

/// Every source's slot and the current exposition.
pub struct Store {
    slots: Vec<Arc<SourceSlot>>,
    rendered: RwLock<Arc<Rendered>>,
    /// Serialises renders so two pollers finishing together cannot publish an older render last.
    render_lock: Mutex<()>,
}

impl Store {
    pub fn new(slots: Vec<Arc<SourceSlot>>) -> Arc<Self> {
        let store = Arc::new(Store {
            slots,
            rendered: RwLock::new(Arc::default()),
            render_lock: Mutex::new(()),
        });
        store.rerender();
        store
    }

    pub fn slots(&self) -> &[Arc<SourceSlot>] {
        &self.slots
    }

    /// The current exposition; cheap, for every scrape.
    pub fn rendered(&self) -> Arc<Rendered> {
        self.rendered
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Ready once every source has finished its first poll, successful or not.
    pub fn ready(&self) -> bool {
        self.slots.iter().all(|s| lock(&s.state).up.is_some())
    }

    pub fn record_success(
        &self,
        slot: usize,
        snapshot: Snapshot,
        duration: Duration,
        now_unix: f64,
    ) {
        self.update(slot, |state| {
            state.snapshot = Some(Arc::new(snapshot));
            state.up = Some(true);
            state.last_success_unix = Some(now_unix);
            state.last_duration = Some(duration);
            state.last_error = None;
        });
    }

    /// A failed poll keeps the last good snapshot: `max_age` decides when it goes.
    pub fn record_failure(&self, slot: usize, error: String, duration: Duration) {
        self.update(slot, |state| {
            state.up = Some(false);
            state.last_duration = Some(duration);
            state.last_error = Some(error);
        });
    }

    pub fn expire_snapshot(&self, slot: usize) {
        self.update(slot, |state| state.snapshot = None);
    }

    fn update(&self, slot: usize, change: impl FnOnce(&mut SourceState)) {
        if let Some(slot) = self.slots.get(slot) {
            change(&mut lock(&slot.state));
        }
        self.rerender();
    }

    /// Renders the exposition from every source's current state and publishes it.
    pub fn rerender(&self) {
        let _serial = lock(&self.render_lock);
        let views: Vec<(Arc<SourceSlot>, SourceState)> =
            self.slots.iter().map(|s| (s.clone(), s.state())).collect();
        let rendered = render::render(&views);
        *self.rendered.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rendered);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

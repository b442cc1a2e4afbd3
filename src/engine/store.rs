//! The latest snapshot and the health of every source, and the exposition rendered from them.
//!
//! Writers (pollers) replace a source's state whole and re-render; readers (scrapes) take the
//! rendered bytes behind an `Arc` and never wait for a poll or a render. A reload swaps the set
//! of slots; a source that stays keeps its slot, so its data and counters carry over.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::exposition::render::{self, Rendered};
use crate::model::clock::SharedClock;
use crate::model::health::{ReloadStatus, SourceSlot, SourceState};
use crate::model::locks::{lock, read, write};
use crate::model::poll_slots::{PollSlot, PollSlots};
use crate::model::snapshot::{FamilySamples, Snapshot};
use crate::showback::Showback;

/// Every source's slot and the current exposition.
pub struct Store {
    slots: RwLock<Vec<Arc<SourceSlot>>>,
    reload: Mutex<ReloadStatus>,
    rendered: RwLock<Arc<Rendered>>,
    /// Whether every source had finished its first poll in the published render: readiness
    /// follows what `/metrics` serves, not a poll whose render is still being made.
    ready: AtomicBool,
    /// Serialises renders so two pollers finishing together cannot publish an older render last.
    render_lock: Mutex<()>,
    /// The sources changed since the last render, and whether a render of changes is running.
    pending: Mutex<PendingChanges>,
    /// `max_concurrent_polls`.
    poll_slots: PollSlots,
    /// The exchange rates in use, as of the last poll: served per scrape.
    exchange_rates: RwLock<Vec<(String, f64)>>,
    /// The showback config whose top-level budgets sum every source's share at each render,
    /// and the clock they are evaluated by.
    across_sources: RwLock<Option<(Arc<Showback>, SharedClock)>>,
}

impl Store {
    pub fn new(slots: Vec<Arc<SourceSlot>>, loaded_at_unix: f64) -> Arc<Self> {
        let store = Arc::new(Store {
            slots: RwLock::new(slots),
            reload: Mutex::new(ReloadStatus {
                successful: true,
                last_success_unix: loaded_at_unix,
            }),
            rendered: RwLock::new(Arc::default()),
            ready: AtomicBool::new(false),
            render_lock: Mutex::new(()),
            pending: Mutex::new(PendingChanges::default()),
            poll_slots: PollSlots::default(),
            exchange_rates: RwLock::new(Vec::new()),
            across_sources: RwLock::new(None),
        });
        store.rerender();
        store
    }

    /// Sets how many polls may be in flight at once.
    pub fn set_max_concurrent_polls(&self, max: usize) {
        self.poll_slots.set_max(max);
    }

    /// Waits for a poll slot (`max_concurrent_polls`).
    pub async fn poll_slot(&self) -> PollSlot {
        self.poll_slots.acquire().await
    }

    /// Sets the showback config whose top-level budgets are evaluated across sources (none, or
    /// one without budgets: nothing across sources). Takes effect at the next render.
    pub fn set_top_level_budgets(&self, showback: Option<Arc<Showback>>, clock: SharedClock) {
        let across = showback.filter(|s| !s.budgets.is_empty());
        *write(&self.across_sources) = across.map(|showback| (showback, clock));
    }

    /// The families across sources: the top-level budgets over the shares every source's
    /// current snapshot holds, as of now.
    fn across_sources(&self, slots: &[Arc<SourceSlot>]) -> Vec<FamilySamples> {
        let Some((showback, clock)) = read(&self.across_sources).clone() else {
            return Vec::new();
        };
        let snapshots: Vec<Arc<Snapshot>> = slots
            .iter()
            .filter_map(|slot| slot.state().snapshot)
            .collect();
        let shares = snapshots.iter().flat_map(|s| &s.budget_shares);
        showback.budget_families(shares, clock.now())
    }

    /// Sets the exchange rates in use (none: no `money:`).
    pub fn set_exchange_rates(&self, rates: Vec<(String, f64)>) {
        *write(&self.exchange_rates) = rates;
    }

    /// The exchange rates in use, reporting-currency units per unit, by currency.
    pub fn exchange_rates(&self) -> Vec<(String, f64)> {
        read(&self.exchange_rates).clone()
    }

    /// Polls holding a slot now.
    pub fn polls_in_flight(&self) -> usize {
        self.poll_slots.in_flight()
    }

    /// The most polls that ever held a slot at once.
    pub fn most_polls_in_flight(&self) -> usize {
        self.poll_slots.most_in_flight()
    }

    pub fn slots(&self) -> Vec<Arc<SourceSlot>> {
        read(&self.slots).clone()
    }

    /// Replaces the set of sources (a reload), then re-renders.
    pub fn replace_slots(&self, slots: Vec<Arc<SourceSlot>>) {
        *write(&self.slots) = slots;
        self.rerender();
    }

    pub fn record_reload(&self, successful: bool, now_unix: f64) {
        {
            let mut status = lock(&self.reload);
            status.successful = successful;
            if successful {
                status.last_success_unix = now_unix;
            }
        }
        self.rerender();
    }

    /// The current exposition; cheap, for every scrape.
    pub fn rendered(&self) -> Arc<Rendered> {
        read(&self.rendered).clone()
    }

    /// Ready once every source has finished its first poll, successful or not, and `/metrics`
    /// serves its outcome.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn record_success(
        &self,
        slot: &SourceSlot,
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
    pub fn record_failure(&self, slot: &SourceSlot, error: String, duration: Duration) {
        self.update(slot, |state| {
            state.up = Some(false);
            state.last_duration = Some(duration);
            state.last_error = Some(error);
        });
    }

    pub fn expire_snapshot(&self, slot: &SourceSlot) {
        self.update(slot, |state| state.snapshot = None);
    }

    /// Changes one source's state and sees it rendered: by this caller, or, when a render is
    /// running, by that render's next round, which takes every change made meanwhile. Renders
    /// coalesce, so a thousand polls ending together cost a few renders, not a thousand, and
    /// only one thread renders at a time while the others go on polling and serving scrapes.
    fn update(&self, slot: &SourceSlot, change: impl FnOnce(&mut SourceState)) {
        slot.change_state(change);
        {
            let mut pending = lock(&self.pending);
            pending.changed.insert(slot.id);
            if pending.rendering {
                return;
            }
            pending.rendering = true;
        }
        let _unwinding = RenderingUnwinds(&self.pending);
        loop {
            let changed = {
                let mut pending = lock(&self.pending);
                if pending.changed.is_empty() {
                    pending.rendering = false;
                    return;
                }
                std::mem::take(&mut pending.changed)
            };
            self.render_changes(&changed);
        }
    }

    /// Renders the changed sources' lines anew and copies the rest from the last render.
    fn render_changes(&self, changed: &HashSet<u64>) {
        let _serial = lock(&self.render_lock);
        let slots = self.slots();
        let reload = *lock(&self.reload);
        let across = self.across_sources(&slots);
        match render::rerender_sources(&self.rendered(), &slots, changed, &across, reload) {
            Some(rendered) => self.publish(rendered),
            None => self.render_all(&slots),
        }
    }

    /// Renders the exposition from every source's current state and publishes it.
    pub fn rerender(&self) {
        let _serial = lock(&self.render_lock);
        self.render_all(&self.slots());
    }

    /// Under `render_lock`.
    fn render_all(&self, slots: &[Arc<SourceSlot>]) {
        let views: Vec<(Arc<SourceSlot>, SourceState)> =
            slots.iter().map(|s| (s.clone(), s.state())).collect();
        let across = self.across_sources(slots);
        let rendered = render::render(&views, &across, *lock(&self.reload));
        drop(views);
        self.publish(rendered);
    }

    fn publish(&self, rendered: Rendered) {
        let ready = rendered.every_source_polled();
        *write(&self.rendered) = Arc::new(rendered);
        self.ready.store(ready, Ordering::Release);
        crate::engine::memory::release_free_memory();
    }
}

/// What `update` leaves for the render in flight.
#[derive(Default)]
struct PendingChanges {
    /// The ids of the slots changed since the last render took them.
    changed: HashSet<u64>,
    rendering: bool,
}

/// Clears `rendering` if a render panics, so that the next change renders again instead of
/// waiting for a render that will never take it.
struct RenderingUnwinds<'a>(&'a Mutex<PendingChanges>);

impl Drop for RenderingUnwinds<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(self.0).rendering = false;
        }
    }
}

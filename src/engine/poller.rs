//! One task per source: poll on the source's interval (with jitter), within its poll timeout,
//! never two polls of one source at once; publish a complete snapshot or keep the last good one
//! until `max_age`. The poller, not the source, times polls and counts failures.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::budgets::{self, BudgetFamilies};
use crate::config::SourceConfig;
use crate::engine::inventory::InventoryCache;
use crate::engine::store::Store;
use crate::http::HttpClient;
use crate::model::clock::SharedClock;
use crate::model::health::SourceSlot;
use crate::model::locks::lock;
use crate::model::poll_slots::PollSlot;
use crate::model::seats::SeatRule;
use crate::model::settled::{PollDays, Refresh, SettledState, Start};
use crate::model::snapshot::Snapshot;
use crate::showback::charges::DayCharges;
use crate::showback::poll_step::PolledSource;
use crate::sources::windows::Windows;
use crate::sources::{PollError, PollPlan};

/// What a poll is for. Every purpose takes the same path (plan, timeout, panic guard); they
/// differ in what the plan asks for and which steps follow.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Purpose {
    /// Served on `/metrics`: everything, then budgets, showback and seats.
    Live,
    /// A backfill's days, as of the clock's now: nothing that reports only the present.
    History,
    /// The `seats` command: the seats, every holder kept.
    Seats,
    /// A FOCUS export: the days' usage and money as the vendor folded them.
    Charges,
}

impl Purpose {
    fn history_only(self) -> bool {
        matches!(self, Purpose::History | Purpose::Charges)
    }

    /// Whether the steps after the vendor's answer (showback, budgets, seats) run.
    fn serves_families(self) -> bool {
        matches!(self, Purpose::Live | Purpose::History)
    }
}

/// A source with everything it needs to poll.
pub struct Poller {
    pub slot: Arc<SourceSlot>,
    pub config: SourceConfig,
    pub client: HttpClient,
    pub store: Arc<Store>,
    pub clock: SharedClock,
    /// The settled days of earlier polls (sources with daily data).
    pub settled: Mutex<SettledState>,
    /// The currencies this source's money came in that no rate converts, each logged once.
    pub unconverted: Mutex<std::collections::BTreeSet<String>>,
    /// The last good inventory read, served until `inventory_interval` has passed.
    pub inventory: Mutex<InventoryCache>,
}

impl Poller {
    /// Polls until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut snapshot_expires: Option<Instant> = None;
        loop {
            let succeeded = tokio::select! {
                outcome = self.poll_in_a_slot() => outcome,
                _ = shutdown.cancelled() => return,
            };
            if succeeded {
                snapshot_expires = Some(Instant::now() + self.config.schedule.max_age);
            }
            let next_poll = Instant::now() + jittered(self.config.schedule.interval);
            if !self
                .wait_for_next_poll(next_poll, &mut snapshot_expires, &shutdown)
                .await
            {
                return;
            }
        }
    }

    /// One poll, once one of the process's `max_concurrent_polls` slots is free.
    pub async fn poll_in_a_slot(&self) -> bool {
        let slot = self.store.poll_slot().await;
        self.poll_and_publish(Some(slot)).await
    }

    /// Sleeps until `next_poll`, dropping the snapshot on the way if it passes `max_age`.
    /// Returns false on shutdown.
    async fn wait_for_next_poll(
        &self,
        next_poll: Instant,
        snapshot_expires: &mut Option<Instant>,
        shutdown: &CancellationToken,
    ) -> bool {
        loop {
            let expiry = snapshot_expires.filter(|at| *at < next_poll);
            let wake = expiry.unwrap_or(next_poll);
            tokio::select! {
                _ = sleep_until(wake) => {}
                _ = shutdown.cancelled() => return false,
            }
            match expiry {
                Some(_) => {
                    tracing::warn!(source_name = %self.config.name, vendor = self.config.vendor, max_age = ?self.config.schedule.max_age, "data passed max_age without a successful poll; no longer serving it");
                    self.store.expire_snapshot(&self.slot);
                    *snapshot_expires = None;
                }
                None => return true,
            }
        }
    }

    /// One poll, published to the store, outside the process's slots (`once`, tests).
    /// Returns whether it succeeded.
    pub async fn poll_once(&self) -> bool {
        self.poll_and_publish(None).await
    }

    /// Polls, lets go of the slot, then publishes: a render is no vendor's business, and
    /// another source may poll while it runs.
    async fn poll_and_publish(&self, slot: Option<PollSlot>) -> bool {
        let started = Instant::now();
        let result = self.poll(Purpose::Live, slot.as_ref()).await;
        drop(slot);
        let duration = started.elapsed();
        let source = &self.config.name;
        let vendor = self.config.vendor;
        match result {
            Ok(snapshot) => {
                tracing::info!(source_name = %source, vendor, series = snapshot.series_count(), duration_ms = duration.as_millis() as u64, "poll succeeded");
                let now = self.clock.now().timestamp_millis() as f64 / 1000.0;
                self.store
                    .record_success(&self.slot, snapshot, duration, now);
                true
            }
            Err(error) => {
                let shown = self.client.scrub_known(&error.to_string());
                let message = format!("source {source} ({vendor}): poll failed: {shown}");
                match error {
                    PollError::Panic(_) => {
                        tracing::error!(source_name = %source, vendor, reason = error.reason(), error = %shown, "poll failed")
                    }
                    _ => {
                        tracing::warn!(source_name = %source, vendor, reason = error.reason(), error = %shown, "poll failed")
                    }
                }
                self.client.stats().count_error(error.reason());
                self.store.record_failure(&self.slot, message, duration);
                false
            }
        }
    }

    /// One poll for a backfill, as of the clock's now: the days' families and the budgets
    /// configured on them, nothing that reports only the present state. Not published.
    pub async fn poll_history(&self) -> Result<Snapshot, PollError> {
        self.poll(Purpose::History, None).await
    }

    /// The seats the source reports now, every holder kept, for the `seats` command. Not
    /// published.
    pub async fn poll_seats(&self) -> Result<crate::model::seats::Seats, PollError> {
        let snapshot = self.poll(Purpose::Seats, None).await?;
        Ok(snapshot.seats.unwrap_or_default())
    }

    /// One poll for a FOCUS export, as of the clock's now: the charges of `day`, which must be
    /// within the days the poll reads (today, or a day this month or yesterday). Not published.
    pub async fn poll_charges(&self, day: chrono::NaiveDate) -> Result<DayCharges, ChargesError> {
        let snapshot = self.poll(Purpose::Charges, None).await?;
        let (Some(showback), Some(usage)) = (&self.config.showback, snapshot.usage.as_ref()) else {
            return Ok(DayCharges::default());
        };
        let Some(input) = self
            .polled_source()
            .usage_input(usage, snapshot.vendor_costs.as_ref())
        else {
            return Ok(DayCharges::default());
        };
        let base_url = &self.config.base_url;
        let billing = self
            .config
            .source
            .billing(base_url, self.config.auth.token_url());
        let sub_account = billing.and_then(|b| b.sub_account_label);
        showback
            .day_charges(&input, sub_account, day)
            .map_err(|currency| ChargesError::Unconverted { currency, day })
    }

    /// The one poll path every purpose takes: the plan, the vendor's pages within the poll
    /// timeout, then the purpose's steps, a panic anywhere failing the poll instead of ending
    /// the source's task (a task that ended would leave `up` at 1 and its data frozen) or the
    /// command that asked.
    async fn poll(&self, purpose: Purpose, slot: Option<&PollSlot>) -> Result<Snapshot, PollError> {
        surviving_panics(async {
            let mut snapshot = self.poll_vendor(purpose, slot).await?;
            if purpose.serves_families() {
                self.add_steps(&mut snapshot)?;
            }
            Ok(snapshot)
        })
        .await
    }

    /// What the vendor answered, folded, with the settled days kept: usage and money per day,
    /// before budgets and showback read them.
    async fn poll_vendor(
        &self,
        purpose: Purpose,
        slot: Option<&PollSlot>,
    ) -> Result<Snapshot, PollError> {
        let timeout = self.config.schedule.poll_timeout;
        let session = self.client.session(Instant::now() + timeout, slot);
        let (mut plan, kept) = self.plan();
        plan.history_only = purpose.history_only();
        let now = self.clock.now();
        let interval = self.config.schedule.inventory_interval;
        plan.keep_inventories =
            purpose == Purpose::Live && lock(&self.inventory).keeps_at(now, interval);
        if purpose == Purpose::Seats {
            plan.seat_rule = plan.seat_rule.map(|rule| SeatRule {
                keep_idle: true,
                ..rule
            });
        }
        let poll = self
            .config
            .source
            .poll(&session, self.clock.as_ref(), plan.clone());
        let mut snapshot = match tokio::time::timeout(timeout, poll).await {
            Ok(result) => result?,
            Err(_) => return Err(PollError::Timeout(timeout)),
        };
        self.keep_settled(kept, &mut snapshot);
        if purpose == Purpose::Live {
            let kept = (plan.keep_inventories, self.config.vendor);
            lock(&self.inventory).after_poll(kept, &mut snapshot, now);
        } else if let Some(part) = snapshot.inventory.take() {
            crate::engine::inventory::fold_in(&mut snapshot, *part);
        }
        if purpose.history_only() {
            // A backfill is about days gone: the present state of limits and seats is not.
            snapshot.vendor_budgets.clear();
            snapshot.seats = None;
        }
        Ok(snapshot)
    }

    /// What this poll reads: the days budgets need, and for a source with daily data, the
    /// days kept it starts from (settled, and recent between two recent refreshes).
    fn plan(&self) -> (PollPlan, Option<(PollDays, Start)>) {
        let now = self.clock.now();
        let showback_from = self
            .config
            .showback
            .as_ref()
            .map(|showback| showback.history_from(&self.config.name, self.config.vendor, now));
        let history_from = match (
            budgets::history_from(&self.config.budgets, now),
            showback_from,
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let idle_after = chrono::Duration::from_std(self.config.idle_after);
        let seat_rule = Some(SeatRule::at(
            now,
            idle_after.unwrap_or(chrono::Duration::MAX),
        ));
        let schedule = &self.config.schedule;
        let incremental = self.config.source.facts().reads_date_range
            && !schedule.full_refresh_interval.is_zero();
        if !incremental {
            let plan = PollPlan {
                history_from,
                seat_rule,
                ..PollPlan::default()
            };
            return (plan, None);
        }
        let start = Windows::at(now).with_history(history_from).start();
        let days = PollDays::at(now, start, schedule.settled_after);
        let refresh = Refresh {
            full: schedule.full_refresh_interval,
            recent: schedule.recent_refresh_interval,
        };
        let start = lock(&self.settled).start(days, refresh);
        let plan = PollPlan {
            history_from,
            settled: start.days().cloned(),
            // Every day before today comes back, so that the recent ones are kept too.
            settle_before: Some(days.today()),
            seat_rule,
            ..PollPlan::default()
        };
        (plan, Some((days, start)))
    }

    /// Keeps the days the poll handed back for the next one; a poll that started from kept
    /// days may have seen nothing newer than they did.
    fn keep_settled(&self, kept: Option<(PollDays, Start)>, snapshot: &mut Snapshot) {
        let families = std::mem::take(&mut snapshot.settled);
        let Some((days, start)) = kept else {
            return;
        };
        if let Some(newest) = start.days().and_then(|s| s.newest) {
            snapshot.data_updated = Some(snapshot.data_updated.map_or(newest, |n| n.max(newest)));
        }
        lock(&self.settled).keep(days, &start, families, snapshot.data_updated);
    }

    /// What a served poll adds to the vendor's answer, in order, each step owned by its wing:
    /// showback (its families, and the usage with allocation labels), the budgets (configured
    /// and the vendor's own), the seats and their idle money; then the money is checked, so
    /// that no budget sums an infinity. The per-day usage is dropped after.
    fn add_steps(&self, snapshot: &mut Snapshot) -> Result<(), PollError> {
        let now = self.clock.now();
        let usage = snapshot.usage.take();
        let vendor_costs = snapshot.vendor_costs.take();
        let showback = self.config.showback.as_ref().map(|showback| {
            let daily = (usage.as_ref(), vendor_costs.as_ref());
            let source = self.polled_source();
            showback.add_to_poll(&source, snapshot, daily, now, &self.unconverted)
        });
        let showback = showback.unwrap_or_default();
        if let Some(rates) = showback.rates {
            self.store.set_exchange_rates(rates);
        }
        let budgeted = showback.allocated.as_ref().or(usage.as_ref());
        let mut families = BudgetFamilies::new(self.config.vendor);
        let unit = self.config.source.facts().budget_unit;
        families.add_configured(&self.config.budgets, budgeted, unit, now);
        families.add_reported(&std::mem::take(&mut snapshot.vendor_budgets));
        snapshot.families.extend(families.finish());
        self.add_seats(snapshot, now);
        let shares = &snapshot.budget_shares;
        match crate::showback::poll_step::non_finite_money(&snapshot.families, shares) {
            Some(what) => Err(PollError::NonFiniteMoney(what)),
            None => Ok(()),
        }
    }

    /// The seat families, and the money of the idle ones where a seat price matches.
    fn add_seats(&self, snapshot: &mut Snapshot, now: chrono::DateTime<chrono::Utc>) {
        let Some(seats) = snapshot.seats.take() else {
            return;
        };
        let vendor = self.config.vendor;
        snapshot
            .families
            .extend(crate::seats::families(vendor, &seats));
        if let Some(showback) = &self.config.showback {
            let source = (self.config.name.as_str(), vendor);
            let cost = showback.idle_seat_cost(source, &seats, now);
            snapshot.families.extend(cost);
        }
    }

    /// The source as showback sees it.
    fn polled_source(&self) -> PolledSource<'_> {
        let facts = self.config.source.facts();
        PolledSource {
            name: &self.config.name,
            vendor: self.config.vendor,
            service: facts.service,
            unit: facts.budget_unit,
            has_budgets: !self.config.budgets.is_empty(),
        }
    }
}

/// `poll`'s outcome, or a panic in it as a failed poll.
async fn surviving_panics(
    poll: impl std::future::Future<Output = Result<Snapshot, PollError>>,
) -> Result<Snapshot, PollError> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(poll)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(PollError::Panic(panic_message(panic.as_ref()))))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}

/// Why a FOCUS export has no charges of a source's day.
#[derive(Debug, thiserror::Error)]
pub enum ChargesError {
    #[error(transparent)]
    Poll(#[from] PollError),
    #[error("no rate converts its money in {currency} on {day} into the reporting currency: add money.rates for {currency}, or a money.rates_file that covers {day}")]
    Unconverted {
        currency: String,
        day: chrono::NaiveDate,
    },
}

/// The interval ±10%, so that sources started together do not poll their vendors in step.
fn jittered(interval: Duration) -> Duration {
    let jitter = crate::config::POLL_JITTER;
    interval.mul_f64(rand::rng().random_range(1.0 - jitter..=1.0 + jitter))
}

//! The process's `max_concurrent_polls` permits, and a poll's hold on one.
//!
//! A poll that waits (a vendor's `Retry-After`, a backoff after a 5xx) lets go of its permit
//! for the wait and queues for one again after: a throttled host's sources, asleep, hold no
//! permit that other hosts' sources are queuing for.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::model::locks::{lock, read, write};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The permits. A reload that changes their number replaces the semaphore (every source
/// restarts then, since the global keys are part of each source's fingerprint).
pub struct PollSlots {
    permits: RwLock<(usize, Arc<Semaphore>)>,
    in_flight: Arc<InFlight>,
}

/// Polls holding a permit now, and the most that ever did at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Default for PollSlots {
    fn default() -> Self {
        PollSlots {
            permits: RwLock::new((0, Arc::new(Semaphore::new(0)))),
            in_flight: Arc::default(),
        }
    }
}

impl PollSlots {
    pub fn set_max(&self, max: usize) {
        let mut permits = write(&self.permits);
        if permits.0 != max {
            *permits = (max, Arc::new(Semaphore::new(max)));
        }
    }

    /// Waits for a permit.
    pub async fn acquire(&self) -> PollSlot {
        let semaphore = read(&self.permits).1.clone();
        let slot = PollSlot {
            semaphore,
            permit: Mutex::new(None),
            held: AtomicBool::new(false),
            in_flight: self.in_flight.clone(),
        };
        slot.take_permit().await;
        slot
    }

    /// Polls holding a permit now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.now.load(Ordering::Relaxed)
    }

    /// The most polls that ever held a permit at once (a high-water mark: unlike the gauge,
    /// it misses no peak between two reads).
    pub fn most_in_flight(&self) -> usize {
        self.in_flight.most.load(Ordering::Relaxed)
    }
}

/// One poll's hold on a permit, given back when dropped.
pub struct PollSlot {
    semaphore: Arc<Semaphore>,
    permit: Mutex<Option<OwnedSemaphorePermit>>,
    /// Whether the poll counts as in flight now: a poll cancelled during its wait (its
    /// timeout) holds nothing, and is not counted out twice.
    held: AtomicBool,
    in_flight: Arc<InFlight>,
}

impl PollSlot {
    /// Sleeps `wait` without the permit, then queues for one again.
    pub async fn wait_without_permit(&self, wait: Duration) {
        self.give_back();
        tokio::time::sleep(wait).await;
        self.take_permit().await;
    }

    async fn take_permit(&self) {
        // The semaphore is never closed; without a permit the poll goes ahead rather than hang.
        let permit = self.semaphore.clone().acquire_owned().await.ok();
        *lock(&self.permit) = permit;
        self.held.store(true, Ordering::Relaxed);
        let now = self.in_flight.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.in_flight.most.fetch_max(now, Ordering::Relaxed);
    }

    fn give_back(&self) {
        if !self.held.swap(false, Ordering::Relaxed) {
            return;
        }
        let permit = lock(&self.permit).take();
        drop(permit);
        self.in_flight.now.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for PollSlot {
    fn drop(&mut self) {
        self.give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_poll_cancelled_while_it_waits_is_counted_out_once_and_frees_its_permit() {
        let slots = PollSlots::default();
        slots.set_max(1);
        let slot = slots.acquire().await;
        assert_eq!(slots.in_flight(), 1);
        // A poll timeout drops the waiting future half-way; the slot is dropped after.
        let waiting = slot.wait_without_permit(Duration::from_secs(3600));
        let _ = tokio::time::timeout(Duration::from_millis(10), waiting).await;
        assert_eq!(slots.in_flight(), 0, "waiting, it is not in flight");
        drop(slot);
        assert_eq!(
            slots.in_flight(),
            0,
            "and dropping it counts nothing out again"
        );
        let next = tokio::time::timeout(Duration::from_secs(1), slots.acquire()).await;
        assert!(next.is_ok(), "the one permit is free for the next poll");
    }
}

//! Counters of one source's traffic, read by the renderer for the health families.

use crate::model::locks::lock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counts kept for the life of a source: requests by status code, failed polls by reason,
/// throttling responses and the bytes the vendor sent. Behind `std` mutexes: they are held for one map update, never across
/// an `.await`.
#[derive(Debug, Default)]
pub struct SourceStats {
    requests: Mutex<BTreeMap<u16, u64>>,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    throttled: AtomicU64,
    /// Body bytes read from the vendor, token answers and failed ones included.
    response_bytes: AtomicU64,
}

impl SourceStats {
    pub fn count_response(&self, status: u16) {
        *lock(&self.requests).entry(status).or_default() += 1;
    }

    pub fn count_error(&self, reason: &'static str) {
        *lock(&self.errors).entry(reason).or_default() += 1;
    }

    pub fn count_response_bytes(&self, bytes: usize) {
        self.response_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn response_bytes(&self) -> u64 {
        self.response_bytes.load(Ordering::Relaxed)
    }

    pub fn count_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn requests(&self) -> BTreeMap<u16, u64> {
        lock(&self.requests).clone()
    }

    pub fn errors(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.errors).clone()
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

//! Counters of one source's traffic, read by the renderer for the health families.

use crate::model::locks::lock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counts kept for the life of a source: requests by endpoint and status code, failed polls by
/// reason, throttling responses and the bytes the vendor sent by endpoint. An endpoint is the
/// short, fixed name the vendor's endpoint table gives it, so `sum by (api_endpoint)` is the quota
/// each costs. Behind `std` mutexes: they are held for one map update, never across
/// an `.await`.
#[derive(Debug, Default)]
pub struct SourceStats {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    throttled: AtomicU64,
    /// Body bytes read from the vendor by endpoint, token answers and failed ones included.
    response_bytes: Mutex<BTreeMap<&'static str, u64>>,
}

impl SourceStats {
    pub fn count_response(&self, endpoint: &'static str, status: u16) {
        *lock(&self.requests).entry((endpoint, status)).or_default() += 1;
    }

    pub fn count_error(&self, reason: &'static str) {
        *lock(&self.errors).entry(reason).or_default() += 1;
    }

    pub fn count_response_bytes(&self, endpoint: &'static str, bytes: usize) {
        *lock(&self.response_bytes).entry(endpoint).or_default() += bytes as u64;
    }

    /// Starts the byte counters of `endpoints` at 0.
    pub fn expect_endpoints(&self, endpoints: impl Iterator<Item = &'static str>) {
        let mut bytes = lock(&self.response_bytes);
        for endpoint in endpoints {
            bytes.entry(endpoint).or_default();
        }
    }

    /// Bytes read by endpoint.
    pub fn response_bytes(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.response_bytes).clone()
    }

    pub fn count_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests by endpoint and status code.
    pub fn requests(&self) -> BTreeMap<(&'static str, u16), u64> {
        lock(&self.requests).clone()
    }

    /// Every request sent, whatever its endpoint and answer.
    pub fn requests_sent(&self) -> u64 {
        lock(&self.requests).values().sum()
    }

    pub fn errors(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.errors).clone()
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

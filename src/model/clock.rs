//! Wall-clock time, injectable: UTC windows, "current or previous period" and timestamps are
//! calendar logic that tests must pin (tokio's paused time only moves its own `Instant`).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::locks::lock;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved, for tests and reproducible simulations.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        FixedClock(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *lock(&self.0) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// Instants and days written as text, for the unit tests' injected clocks.
#[cfg(test)]
pub mod testing {
    use chrono::{DateTime, NaiveDate, Utc};

    /// An RFC 3339 instant.
    pub fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
            .to_utc()
    }

    /// A `YYYY-MM-DD` day.
    pub fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .unwrap_or_else(|e| panic!("{text:?} is not YYYY-MM-DD: {e}"))
    }
}

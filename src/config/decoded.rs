//! What the config decodes into: every source with its schedule, limits, credentials, budgets
//! and vendor source, the process's keys and showback; and what a bad config says.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::positions::Position;
use crate::budgets::Budget;
use crate::http::{AuthConfig, RequestLimits};
use crate::sources::Source;

/// The whole, validated configuration.
#[derive(Clone)]
pub struct Config {
    pub sources: Vec<SourceConfig>,
    /// `global.max_concurrent_polls`: polls in flight at once in the process.
    pub max_concurrent_polls: usize,
    /// `money:` and `allocation:`, when either is configured (each source holds it too).
    pub showback: Option<Arc<crate::showback::Showback>>,
}

impl Config {
    /// Whether this config may run as `shard`: a top-level budget sums every source, which no
    /// shard sees.
    pub fn check_shard(&self, shard: crate::model::shard::Shard) -> Result<(), String> {
        let budgets = self.showback.as_ref().map_or(0, |s| s.budgets.len());
        if shard == crate::model::shard::Shard::WHOLE || budgets == 0 {
            return Ok(());
        }
        Err(format!("--sources.shard={shard}: the config has {budgets} top-level budget(s), which sum the money of every source, and a shard polls only some: run them in one unsharded exporter, or remove `budgets:` and sum consumption_cost in Prometheus"))
    }

    /// The config as a serving exporter holds it: of a rates file, only the days from the
    /// first any source's budgets or showback can ask for at `now` (a serving exporter's days
    /// only move on; a reload reads the file again). `backfill` and `focus` keep every day.
    pub fn for_serving(mut self, now: chrono::DateTime<chrono::Utc>) -> Config {
        let Some(showback) = self.showback.as_ref() else {
            return self;
        };
        let needed = self.sources.iter().map(|source| {
            let own = crate::budgets::history_from(&source.budgets, now);
            let showback = showback.history_from(&source.name, source.vendor, now);
            own.map_or(showback, |own| own.min(showback))
        });
        let Some(first) = needed.min() else {
            return self;
        };
        let mut trimmed = showback.as_ref().clone();
        if let Some(money) = trimmed.money.as_mut() {
            money.rates.per_euro.keep_from(first);
        }
        let trimmed = Some(Arc::new(trimmed));
        for source in &mut self.sources {
            source.showback.clone_from(&trimmed);
        }
        self.showback = trimmed;
        self
    }

    /// Only the sources of `shard` (`--sources.shard`).
    pub fn of_shard(mut self, shard: crate::model::shard::Shard) -> Config {
        self.sources.retain(|source| shard.owns(&source.name));
        self
    }
}

/// One configured source: the shared settings, and the vendor's source built from its own keys.
#[derive(Clone)]
pub struct SourceConfig {
    pub name: String,
    pub vendor: &'static str,
    pub base_url: Url,
    pub schedule: Schedule,
    pub limits: RequestLimits,
    pub auth: AuthConfig,
    pub source: Arc<dyn Source>,
    /// The budgets declared for this source, evaluated after each poll.
    pub budgets: Vec<Budget>,
    /// A seat whose holder was not active for this long is idle.
    pub idle_after: Duration,
    /// Where its requests go out (proxy).
    pub outbound: crate::http::Outbound,
    /// The HTTP client its `outbound` needs; none: the process's shared one.
    pub http: Option<reqwest::Client>,
    /// The process's showback config, evaluated after each poll too.
    pub showback: Option<Arc<crate::showback::Showback>>,
    /// Changes whenever anything that shapes this source's polls changes (its entry, the
    /// global keys, the environment it expands, the secrets its files hold), so a reload can
    /// leave unchanged sources polling undisturbed.
    pub fingerprint: u64,
}

/// When and for how long a source is polled, and how long its last good data is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub poll_timeout: Duration,
    pub max_age: Duration,
    /// A day whose end is older than this is settled: kept from earlier polls, not re-read.
    pub settled_after: Duration,
    /// How often the whole range is re-read anyway (zero: every poll).
    pub full_refresh_interval: Duration,
    /// How often the unsettled days before today are re-read (zero: every poll).
    pub recent_refresh_interval: Duration,
    /// How often inventories (seats, licences, allocations, subscriptions) are re-read; zero:
    /// every poll. In between, the last good read is served.
    pub inventory_interval: Duration,
}

impl Schedule {
    /// What `check` prints of a source's polls as of `now`: how often, and for a source whose
    /// vendor serves a range of days, which days each poll re-reads.
    pub fn describe(&self, reads_date_range: bool, now: chrono::DateTime<chrono::Utc>) -> String {
        let every = |d: Duration| humantime::format_duration(d).to_string();
        let polls = format!("polls every {}", every(self.interval));
        if !reads_date_range {
            return format!("{polls}, each reading the vendor's current state");
        }
        if self.full_refresh_interval.is_zero() {
            return format!("{polls}, each reading the whole range (full_refresh_interval: 0s)");
        }
        let days = crate::model::settled::PollDays::at(now, now.date_naive(), self.settled_after);
        let recent = match self.recent_refresh_interval.is_zero() {
            true => "by every poll".to_string(),
            false => format!("at most every {}", every(self.recent_refresh_interval)),
        };
        format!(
            "{polls}: today by every poll; the unsettled days before today (from {}) {recent}; the whole range every {}",
            days.settle_before,
            every(self.full_refresh_interval)
        )
    }
}

/// One problem in the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub position: Option<Position>,
    pub path: String,
    pub message: String,
}

/// Every problem found in one config file.
#[derive(Debug)]
pub struct ConfigErrors {
    pub file: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file)?;
            if let Some(p) = error.position {
                write!(f, ":{}:{}", p.line, p.column)?;
            }
            if error.path.is_empty() {
                write!(f, ": {}", error.message)?;
            } else {
                write!(f, ": {}: {}", error.path, error.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// How far a poll may start before or after its interval, as a share of it: sources started
/// together do not poll their vendors in step. `max_age` counts it.
pub const POLL_JITTER: f64 = 0.1;

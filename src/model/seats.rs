//! What a poll found of seats: per licence, how many were bought and assigned, and, where the
//! vendor reports activity, how many of the assigned seats are active and idle; and when
//! licences end. Sources fill it, folding each holder into the counts as the vendor's pages
//! arrive ([`Activity::add`]), so a poll's memory follows the licences, not the users;
//! [`crate::seats`] turns it into the seat families, vendor-blind. Holders are per-user facts:
//! never labels, never logged; the idle ones are kept only for the `seats` command.

use chrono::{DateTime, Duration, Utc};

/// One poll's seats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seats {
    pub licences: Vec<LicenceSeats>,
    /// When licences, bundles or commitments end.
    pub ends: Vec<LicenceEnd>,
}

/// When a licence, bundle or commitment ends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LicenceEnd {
    pub licence: String,
    /// The tenant or environment it belongs to; empty where the vendor has none.
    pub sub_account: String,
    /// Unix seconds.
    pub at: f64,
}

/// The seats of one licence in one sub-account: seats of two tenants are never summed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LicenceSeats {
    pub licence: String,
    /// The tenant or environment the vendor keeps the seats in (UiPath tenant, AvePoint
    /// environment); empty where the vendor has none.
    pub sub_account: String,
    /// Seats bought; none where the vendor does not say.
    pub purchased: Option<f64>,
    /// Seats assigned; none: as many as `activity` counts.
    pub assigned: Option<f64>,
    /// The assigned seats' activity; none where the vendor reports none.
    pub activity: Option<Activity>,
}

/// How a poll judges a seat: idle when its holder was last active at `idle_since` or before
/// (`idle_after` ago or longer), or never; active otherwise. With `keep_idle` (the `seats`
/// command) the idle holders are kept, to be listed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeatRule {
    pub idle_since: DateTime<Utc>,
    pub keep_idle: bool,
}

impl SeatRule {
    /// The rule at `now` for seats idle after `idle_after`.
    pub fn at(now: DateTime<Utc>, idle_after: Duration) -> Self {
        SeatRule {
            idle_since: now
                .checked_sub_signed(idle_after)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            keep_idle: false,
        }
    }

    pub fn is_idle(&self, last_activity: Option<DateTime<Utc>>) -> bool {
        last_activity.is_none_or(|last| last <= self.idle_since)
    }
}

/// The assigned seats of a licence, counted active and idle as their holders are read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    pub active: u64,
    pub idle: u64,
    /// The idle holders, where the rule keeps them (else empty).
    pub idle_holders: Vec<Holder>,
}

impl Activity {
    /// Counts one holder, keeping it only if it is idle and the rule keeps idle ones.
    pub fn add(&mut self, rule: &SeatRule, holder: Holder) {
        match rule.is_idle(holder.last_activity) {
            false => self.active += 1,
            true => {
                self.idle += 1;
                if rule.keep_idle {
                    self.idle_holders.push(holder);
                }
            }
        }
    }

    pub fn assigned(&self) -> u64 {
        self.active + self.idle
    }
}

/// One assigned seat.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    /// The vendor's stable id of the user, flow or app (a UPN, a user name, a flow or app id).
    pub id: String,
    /// Its display name, where the vendor gives one apart from the id.
    pub name: Option<String>,
    /// None: never used, as far as the vendor says.
    pub last_activity: Option<DateTime<Utc>>,
}

//! What a poll found of seats: per licence, how many were bought and assigned, and, where the
//! vendor reports it, who holds each seat and when they last used it; and when licences end.
//! Sources fill it; [`crate::seats`] turns it into the seat families, vendor-blind. Holders are
//! per-user facts: never labels, never logged; only the `seats` command prints them.

use chrono::{DateTime, Utc};

/// One poll's seats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seats {
    pub licences: Vec<LicenceSeats>,
    /// When a licence, bundle or commitment ends (Unix seconds), by licence.
    pub ends: Vec<(String, f64)>,
}

/// The seats of one licence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LicenceSeats {
    pub licence: String,
    /// Seats bought; none where the vendor does not say.
    pub purchased: Option<f64>,
    /// Seats assigned; none: as many as `holders` lists.
    pub assigned: Option<f64>,
    /// Who holds a seat and when they last used it; none where the vendor reports no activity.
    pub holders: Option<Vec<Holder>>,
}

/// One assigned seat.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    /// The user, flow or app, as the vendor names it.
    pub who: String,
    /// None: never used, as far as the vendor says.
    pub last_activity: Option<DateTime<Utc>>,
}

//! What a poll found of seats: per licence, how many were bought and assigned, and, where the
//! vendor reports it, who holds each seat and when they last used it; and when licences end.
//! Sources fill it; [`crate::seats`] turns it into the seat families, vendor-blind. Holders are
//! per-user facts: never labels, never logged; only the `seats` command prints them.

use chrono::{DateTime, Utc};

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
    /// Seats assigned; none: as many as `holders` lists.
    pub assigned: Option<f64>,
    /// Who holds a seat and when they last used it; none where the vendor reports no activity.
    pub holders: Option<Vec<Holder>>,
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

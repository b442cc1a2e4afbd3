//! Inventories read as often as they change, not every poll: seats and the licences behind
//! them change a few times a day, while a read of them (20,000 Qlik assignments, a tenant's
//! named users page by page) costs far more of the vendor's quota than the usage does. A poll
//! within `inventory_interval` of the last good inventory read asks its source to keep them
//! (`PollPlan::keep_inventories`), and the last good read is served again, with the time it
//! was made. A failed poll leaves the last read's time as it was, so the next poll past the
//! interval reads again; a source changed by a reload starts with no read at all.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::seats::Seats;
use crate::model::snapshot::{Combine, FamilyDesc, Snapshot, SnapshotBuilder};

pub static INVENTORY_READ: FamilyDesc = FamilyDesc {
    name: "consumption_source_inventory_read_timestamp_seconds",
    help: "When the inventories served (seats, licence ends) were read from the vendor, Unix seconds: they are re-read every inventory_interval, and served as read in between.",
};

/// The last good inventory read of one source: its seats, and the rest of what it read
/// (entitlements' families, vendor budgets and licence ends).
#[derive(Debug, Default)]
pub struct InventoryCache {
    seats: Option<Seats>,
    part: Option<Snapshot>,
    read_at: Option<DateTime<Utc>>,
}

impl InventoryCache {
    /// Whether a poll at `now` may keep the inventories of the last read.
    pub fn keeps_at(&self, now: DateTime<Utc>, interval: Duration) -> bool {
        let Some(read_at) = self.read_at else {
            return false;
        };
        let interval = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
        !interval.is_zero() && now - read_at < interval
    }

    /// After a good poll: a poll that read the inventories replaces the kept ones; one that
    /// kept them gets the kept seats back, beside the ends it read itself (a bundle's end read
    /// with the usage is newer than a kept one of the same licence).
    pub fn after_poll(
        &mut self,
        (kept, vendor): (bool, &str),
        snapshot: &mut Snapshot,
        now: DateTime<Utc>,
    ) {
        if !kept {
            self.part = snapshot.inventory.take().map(|part| *part);
            self.seats = snapshot.seats.clone();
            self.read_at = Some(now);
        } else if let Some(kept_seats) = &self.seats {
            let fresh = snapshot.seats.take().unwrap_or_default();
            snapshot.seats = Some(merged(kept_seats, fresh));
        }
        if let Some(part) = &self.part {
            fold_in(snapshot, part.clone());
        }
        let served = snapshot.seats.is_some() || self.part.is_some();
        if let (Some(read_at), true) = (self.read_at, served) {
            let mut builder = SnapshotBuilder::new();
            let family = builder.family(&INVENTORY_READ, vec!["vendor"], Combine::Max);
            builder.observe(family, &[vendor], read_at.timestamp() as f64);
            snapshot.families.extend(builder.finish().families);
        }
    }
}

/// Folds an inventory part read apart into its poll's snapshot: its families and vendor
/// budgets beside the usage's, its licence ends beside the seats', its as-of time if newer.
pub fn fold_in(snapshot: &mut Snapshot, part: Snapshot) {
    snapshot.data_updated = match (snapshot.data_updated, part.data_updated) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    snapshot.families.extend(part.families);
    snapshot.vendor_budgets.extend(part.vendor_budgets);
    if let Some(part_seats) = part.seats {
        let seats = snapshot.seats.get_or_insert_with(Default::default);
        seats.ends.extend(part_seats.ends);
        seats.licences.extend(part_seats.licences);
    }
}

fn merged(kept: &Seats, fresh: Seats) -> Seats {
    let same = |a: &crate::model::seats::LicenceEnd, b: &crate::model::seats::LicenceEnd| {
        a.licence == b.licence && a.sub_account == b.sub_account
    };
    let mut ends = fresh.ends;
    let kept_ends: Vec<_> = kept
        .ends
        .iter()
        .filter(|end| !ends.iter().any(|fresh| same(fresh, end)))
        .cloned()
        .collect();
    ends.extend(kept_ends);
    let licences = match fresh.licences.is_empty() {
        true => kept.licences.clone(),
        false => fresh.licences,
    };
    Seats { licences, ends }
}

//! Seats: bought, assigned, active and idle per licence, and when licences end, the same
//! families for every vendor that sells seats. Vendor-blind, like budgets: it reads the
//! [`Seats`] a source folded and knows nothing of where they came from.
//!
//! A seat is idle when its holder's last activity is `idle_after` or longer ago, or unknown;
//! active otherwise, so active + idle = assigned ([`crate::model::seats::SeatRule`], which the
//! poller gives the source, so that it folds holders into counts as they arrive). Holders
//! never become labels.

use crate::model::seats::{Holder, LicenceSeats, Seats};
use crate::model::snapshot::{Combine, FamilyDesc, FamilySamples, SnapshotBuilder};

/// `idle_after` when a source sets none.
pub const DEFAULT_IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

pub static PURCHASED: FamilyDesc = FamilyDesc {
    name: "consumption_seats_purchased",
    help: "Seats of the licence bought, as the vendor reports them.",
};
pub static ASSIGNED: FamilyDesc = FamilyDesc {
    name: "consumption_seats_assigned",
    help: "Seats of the licence assigned to a user, flow or app.",
};
pub static ACTIVE: FamilyDesc = FamilyDesc {
    name: "consumption_seats_active",
    help: "Assigned seats whose holder was active within the source's idle_after.",
};
pub static IDLE: FamilyDesc = FamilyDesc {
    name: "consumption_seats_idle",
    help: "Assigned seats whose holder was not active within the source's idle_after (or never).",
};
pub static LICENCE_END: FamilyDesc = FamilyDesc {
    name: "consumption_licence_end_timestamp_seconds",
    help: "When the licence, bundle or commitment ends (Unix seconds), as the vendor reports it.",
};

/// The labels of every seat family, besides `source`. `sub_account` is empty where the
/// vendor keeps no tenant or environment (Prometheus reads an empty label as absent).
pub const LABEL_NAMES: [&str; 3] = ["vendor", "licence", "sub_account"];

/// One licence's counts now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeatCount {
    pub purchased: Option<f64>,
    pub assigned: Option<f64>,
    /// None where the vendor reports no activity.
    pub active: Option<f64>,
    pub idle: Option<f64>,
}

/// A licence's counts, as its source folded them.
pub fn count(licence: &LicenceSeats) -> SeatCount {
    let Some(activity) = &licence.activity else {
        return SeatCount {
            purchased: licence.purchased,
            assigned: licence.assigned,
            active: None,
            idle: None,
        };
    };
    let assigned = activity.assigned() as f64;
    SeatCount {
        purchased: licence.purchased,
        assigned: Some(licence.assigned.unwrap_or(assigned)),
        active: Some(activity.active as f64),
        idle: Some(activity.idle as f64),
    }
}

/// The idle holders every licence kept (a poll whose rule keeps them), licence by licence.
pub fn idle_holders(seats: &Seats) -> Vec<(&LicenceSeats, &Holder)> {
    seats
        .licences
        .iter()
        .flat_map(|licence| {
            let holders = licence.activity.iter().flat_map(|a| &a.idle_holders);
            holders.map(move |h| (licence, h))
        })
        .collect()
}

/// The seat families of one poll of one source.
pub fn families(vendor: &'static str, seats: &Seats) -> Vec<FamilySamples> {
    let mut builder = SnapshotBuilder::new();
    let [purchased, assigned, active, idle, end] =
        [&PURCHASED, &ASSIGNED, &ACTIVE, &IDLE, &LICENCE_END]
            .map(|desc| builder.family(desc, LABEL_NAMES.to_vec(), Combine::Sum));
    for licence in &seats.licences {
        let counts = count(licence);
        let labels = [vendor, &licence.licence, &licence.sub_account];
        let observed = [
            (purchased, counts.purchased),
            (assigned, counts.assigned),
            (active, counts.active),
            (idle, counts.idle),
        ];
        let observations = observed
            .into_iter()
            .filter_map(|(family, value)| Some((family, value?)));
        builder.observe_all(&labels, observations);
    }
    for licence_end in &seats.ends {
        let labels = [vendor, &licence_end.licence, &licence_end.sub_account];
        builder.observe(end, &labels, licence_end.at);
    }
    builder
        .finish()
        .families
        .into_iter()
        .filter(|family| !family.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::testing::at;
    use crate::model::seats::{Activity, SeatRule};
    use chrono::Duration;

    #[test]
    fn a_seat_turns_idle_at_exactly_idle_after_and_active_plus_idle_is_assigned() {
        let now = at("2027-01-01T00:00:00Z");
        let rule = SeatRule {
            keep_idle: true,
            ..SeatRule::at(now, Duration::days(30))
        };
        let holder = |id: &str, last: Option<&str>| Holder {
            id: id.into(),
            name: None,
            last_activity: last.map(at),
        };
        let mut activity = Activity::default();
        activity.add(&rule, holder("a", Some("2026-12-02T00:00:01Z")));
        activity.add(&rule, holder("b", Some("2026-12-02T00:00:00Z")));
        activity.add(&rule, holder("c", None));
        let licence = LicenceSeats {
            licence: "Attended".into(),
            sub_account: String::new(),
            purchased: Some(10.0),
            assigned: None,
            activity: Some(activity),
        };
        let counts = count(&licence);
        assert_eq!(counts.active, Some(1.0), "29 days 23:59:59 ago is active");
        assert_eq!(counts.idle, Some(2.0), "30 days ago, and never, are idle");
        assert_eq!(counts.assigned, Some(3.0));
        assert_eq!(counts.purchased, Some(10.0));
        let seats = Seats {
            licences: vec![licence],
            ends: Vec::new(),
        };
        let idle: Vec<&str> = idle_holders(&seats)
            .iter()
            .map(|(_, h)| h.id.as_str())
            .collect();
        assert_eq!(idle, ["b", "c"]);
    }

    /// A live poll keeps counts only: a million holders cost no memory beyond two numbers.
    #[test]
    fn a_rule_that_does_not_keep_idle_holders_counts_them_and_keeps_none() {
        let rule = SeatRule::at(at("2027-01-01T00:00:00Z"), Duration::days(30));
        let mut activity = Activity::default();
        for i in 0..1_000_000 {
            let last_activity = (i % 3 == 0).then(|| at("2026-12-31T00:00:00Z"));
            let id = format!("user{i}");
            activity.add(
                &rule,
                Holder {
                    id,
                    name: None,
                    last_activity,
                },
            );
        }
        assert_eq!((activity.active, activity.idle), (333_334, 666_666));
        assert!(activity.idle_holders.is_empty() && activity.idle_holders.capacity() == 0);
    }
}

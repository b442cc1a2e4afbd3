//! The money of idle seats: a seat price (a `money.prices` item whose match names `licence`,
//! money per seat and month) times the idle seats of the licences it matches, in the reporting
//! currency at today's rate. Vendor-blind: it reads the seats a source folded.

use chrono::{DateTime, Utc};

use super::{matches, Showback};
use crate::model::seats::Seats;
use crate::model::snapshot::{Combine, FamilyDesc, FamilySamples, SnapshotBuilder};

pub static IDLE_COST: FamilyDesc = FamilyDesc {
    name: "consumption_seats_idle_cost",
    help: "Monthly money of the licence's idle seats: idle seats × the seat price matching the licence, in the currency label's currency.",
};

impl Showback {
    /// The idle seats' monthly money of one source's licences that a seat price matches.
    pub fn idle_seat_cost(
        &self,
        (source, vendor): (&str, &'static str),
        seats: &Seats,
        now: DateTime<Utc>,
    ) -> Vec<FamilySamples> {
        let Some(money) = &self.money else {
            return Vec::new();
        };
        let mut builder = SnapshotBuilder::new();
        let names = vec!["vendor", "licence", "sub_account", "currency"];
        let family = builder.family(&IDLE_COST, names, Combine::Sum);
        for licence in &seats.licences {
            let Some(idle) = crate::seats::count(licence).idle else {
                continue;
            };
            let lookup = |key: &str| match key {
                "source" => Some(source),
                "vendor" => Some(vendor),
                "licence" => Some(licence.licence.as_str()),
                _ => None,
            };
            let seat_prices = money.prices.iter().filter(|p| p.prices_seats());
            let Some(price) = seat_prices.clone().find(|p| matches(&p.matcher, lookup)) else {
                continue;
            };
            let rate = money.rates.rate(&price.currency, now.date_naive());
            let (currency, per_seat) = match rate {
                Some(rate) => (money.rates.currency.as_str(), price.per_unit * rate),
                None => (price.currency.as_str(), price.per_unit),
            };
            builder.observe(
                family,
                &[vendor, &licence.licence, &licence.sub_account, currency],
                idle * per_seat,
            );
        }
        builder
            .finish()
            .families
            .into_iter()
            .filter(|f| !f.is_empty())
            .collect()
    }
}

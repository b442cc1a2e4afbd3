//! One day's charges of one source: units and money by sub-account, service, unit and
//! allocation values, as a cost-and-usage export (FOCUS) reports them. The same label sets,
//! prices, allocation rules and rates as the showback families, so that a day's charges sum to
//! what `consumption_usage` and `consumption_cost` served for it as `window="yesterday"`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::{Showback, SourceUsage};
use crate::model::usage::{label_value, DailyUsage, ServiceOf, Usage};

/// Money and units of one sub-account, service, unit and allocation on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    pub sub_account: Option<String>,
    pub service: String,
    /// One value per allocation dimension, in the config's order.
    pub allocation: Vec<String>,
    /// The unit and how many were consumed; none for the vendor's money on a service it
    /// reported no usage for in one unit.
    pub consumed: Option<(String, f64)>,
    /// In the reporting currency, at the day's rate.
    pub cost: f64,
    /// The currency the money was priced in (the price's, or the vendor's own) and the
    /// money in it.
    pub pricing_currency: String,
    pub pricing_cost: f64,
    /// `price` (units × a configured price) or `vendor` (the vendor's own money).
    pub origin: &'static str,
}

/// A source's charges on one day, and the services whose usage had no money.
#[derive(Debug, Default, PartialEq)]
pub struct DayCharges {
    pub charges: Vec<Charge>,
    pub unpriced: BTreeSet<String>,
}

/// What a charge sums over: its sub-account, service, unit, allocation and pricing currency.
type PricedKey = (Option<String>, String, String, Vec<String>, String);

/// A sub-account and a service.
type ServiceKey = (Option<String>, String);

/// What the vendor's money sums over: sub-account, service, allocation and its currency.
type MoneyKey = (Option<String>, String, Vec<String>, String);

/// Reads a label set's sub-account, from the label the source names.
#[derive(Clone, Copy)]
struct SubAccountOf<'a>(Option<&'a str>);

impl SubAccountOf<'_> {
    fn of(self, names: &[&str], values: &[String]) -> Option<String> {
        self.0
            .and_then(|label| label_value(names, values, label))
            .map(str::to_string)
    }
}

#[derive(Default)]
struct PricedSums {
    units: f64,
    cost: f64,
    pricing_cost: f64,
}

/// The amount of a label set's `days` (sorted by day) on `day`, if it has one.
fn on_day(days: &[(NaiveDate, f64)], day: NaiveDate) -> Option<f64> {
    days.binary_search_by_key(&day, |(d, _)| *d)
        .ok()
        .map(|at| days[at].1)
}

impl Showback {
    /// Each label set of `usage` with an amount on `day`: its values, the amount, and how
    /// showback labels it.
    fn on_day<'a>(
        &'a self,
        input: &'a SourceUsage<'_>,
        usage: &'a DailyUsage,
        day: NaiveDate,
    ) -> impl Iterator<Item = (&'a [String], f64, super::LabelSet)> + 'a {
        usage.series.iter().filter_map(move |(values, days)| {
            let amount = on_day(days, day)?;
            let set = self.label_set(input, &usage.label_names, values);
            Some((values.as_slice(), amount, set))
        })
    }

    /// The charges of `day`, or the currency of money no rate converts into the reporting
    /// currency on that day (a charge must be in one currency).
    pub fn day_charges(
        &self,
        input: &SourceUsage<'_>,
        sub_account_label: Option<&str>,
        day: NaiveDate,
    ) -> Result<DayCharges, String> {
        let Usage::Daily(daily) = input.usage else {
            return Ok(DayCharges::default());
        };
        let sub_account = SubAccountOf(sub_account_label);
        match input.vendor_costs {
            Some(costs) => self.vendor_charges(input, daily, costs, sub_account, day),
            None => self.priced_charges(input, daily, sub_account, day),
        }
    }

    /// Units × the first matching price, summed by what a charge sums over.
    fn priced_charges(
        &self,
        input: &SourceUsage<'_>,
        daily: &DailyUsage,
        sub_account: SubAccountOf<'_>,
        day: NaiveDate,
    ) -> Result<DayCharges, String> {
        let names = &daily.label_names;
        let mut sums: BTreeMap<PricedKey, PricedSums> = BTreeMap::new();
        let mut unpriced = BTreeSet::new();
        for (values, units, set) in self.on_day(input, daily, day) {
            let Some((per_unit, currency)) = &set.price else {
                unpriced.insert(set.service);
                continue;
            };
            let cost = self
                .converted(currency, day, units * per_unit)
                .ok_or_else(|| currency.clone())?;
            let key = (
                sub_account.of(names, values),
                set.service,
                set.unit,
                set.allocation,
                currency.clone(),
            );
            let sum = sums.entry(key).or_default();
            sum.units += units;
            sum.cost += cost;
            sum.pricing_cost += units * per_unit;
        }
        let charges = sums
            .into_iter()
            .map(
                |((sub_account, service, unit, allocation, currency), sum)| Charge {
                    sub_account,
                    service,
                    allocation,
                    consumed: Some((unit, sum.units)),
                    cost: sum.cost,
                    pricing_currency: currency,
                    pricing_cost: sum.pricing_cost,
                    origin: "price",
                },
            )
            .collect();
        Ok(DayCharges { charges, unpriced })
    }

    /// The vendor's own money, with the units of its sub-account and service shared out in
    /// proportion to the money (the vendor charges per unit, so its split of the money by a
    /// cost centre is its split of the units).
    fn vendor_charges(
        &self,
        input: &SourceUsage<'_>,
        daily: &DailyUsage,
        costs: &DailyUsage,
        sub_account: SubAccountOf<'_>,
        day: NaiveDate,
    ) -> Result<DayCharges, String> {
        let measured = self.units_by_service(input, daily, sub_account, day);
        let money = self.vendor_money(input, costs, sub_account, day)?;
        let mut totals: BTreeMap<ServiceKey, f64> = BTreeMap::new();
        for ((sub_account, service, _, _), (_, own)) in &money {
            *totals
                .entry((sub_account.clone(), service.clone()))
                .or_default() += own;
        }
        let mut unpriced: BTreeSet<String> = measured.keys().map(|(_, s)| s.clone()).collect();
        let charges = money
            .into_iter()
            .map(
                |((sub_account, service, allocation, currency), (cost, own))| {
                    let group = (sub_account, service);
                    unpriced.remove(&group.1);
                    let total = totals.get(&group).copied().unwrap_or_default();
                    let share = if total == 0.0 { 0.0 } else { own / total };
                    let consumed = match measured.get(&group).map(Vec::as_slice) {
                        Some([(unit, units)]) => Some((unit.clone(), units * share)),
                        _ => None,
                    };
                    let (sub_account, service) = group;
                    Charge {
                        sub_account,
                        service,
                        allocation,
                        consumed,
                        cost,
                        pricing_currency: currency,
                        pricing_cost: own,
                        origin: "vendor",
                    }
                },
            )
            .collect();
        Ok(DayCharges { charges, unpriced })
    }

    /// The vendor's money on `day`, in the reporting currency and in its own, by what a
    /// charge sums over.
    fn vendor_money(
        &self,
        input: &SourceUsage<'_>,
        costs: &DailyUsage,
        sub_account: SubAccountOf<'_>,
        day: NaiveDate,
    ) -> Result<BTreeMap<MoneyKey, (f64, f64)>, String> {
        let names = &costs.label_names;
        let mut money: BTreeMap<MoneyKey, (f64, f64)> = BTreeMap::new();
        for (values, amount, set) in self.on_day(input, costs, day) {
            let currency = ServiceOf::Label("currency").of(names, values);
            let cost = self
                .converted(&currency, day, amount)
                .ok_or_else(|| currency.clone())?;
            let key = (
                sub_account.of(names, values),
                set.service,
                set.allocation,
                currency,
            );
            let sum = money.entry(key).or_default();
            sum.0 += cost;
            sum.1 += amount;
        }
        Ok(money)
    }

    /// Each sub-account's and service's units on `day`, by unit.
    fn units_by_service(
        &self,
        input: &SourceUsage<'_>,
        daily: &DailyUsage,
        sub_account: SubAccountOf<'_>,
        day: NaiveDate,
    ) -> BTreeMap<ServiceKey, Vec<(String, f64)>> {
        let names = &daily.label_names;
        let mut measured: BTreeMap<ServiceKey, Vec<(String, f64)>> = BTreeMap::new();
        for (values, units, set) in self.on_day(input, daily, day) {
            let by_unit = measured
                .entry((sub_account.of(names, values), set.service))
                .or_default();
            match by_unit.iter_mut().find(|(unit, _)| *unit == set.unit) {
                Some((_, sum)) => *sum += units,
                None => by_unit.push((set.unit, units)),
            }
        }
        measured
    }
}

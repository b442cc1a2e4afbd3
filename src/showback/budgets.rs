//! Top-level budgets: money budgets across sources, in the reporting currency. Each source's
//! poll hands over its share (the money per charge day of the label sets a budget matches);
//! the store sums every source's share and evaluates the sum with the budget machinery, so a
//! top-level budget serves the budget families every alert already reads, without `source` and
//! `vendor` labels.
//!
//! Money no rate converts to the reporting currency has no place in a sum in that currency: it
//! stays out of the shares, and the poller logs it once (as it does for the cost series).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::{LabelSet, Showback, SourceUsage};
use crate::budgets::{self, Budget, BudgetFamilies, Evaluation};
use crate::model::snapshot::FamilySamples;
use crate::model::usage::{BudgetShare, ServiceOf, Usage};

/// Keys a top-level budget may match on besides the allocation dimensions.
pub const MATCH_KEYS: [&str; 3] = ["source", "vendor", "service"];

impl Showback {
    /// Whether a top-level budget may take money from this source: its `source` and `vendor`
    /// keys (the others are known only per label set).
    fn may_match(budget: &Budget, source: &str, vendor: &str) -> bool {
        budget
            .matcher
            .iter()
            .all(|(key, values)| match key.as_str() {
                "source" => values.iter().any(|v| v == source),
                "vendor" => values.iter().any(|v| v == vendor),
                _ => true,
            })
    }

    /// The first day of usage a source's poll must read for showback at `now`: this month's
    /// (yesterday's on the 1st), or earlier where a top-level budget that may take its money
    /// needs its period and the forecast's rate days.
    pub fn history_from(&self, source: &str, vendor: &str, now: DateTime<Utc>) -> NaiveDate {
        let own = super::history_from(now);
        let budgets: Vec<Budget> = self
            .budgets
            .iter()
            .filter(|b| Self::may_match(b, source, vendor))
            .cloned()
            .collect();
        budgets::history_from(&budgets, now).map_or(own, |from| from.min(own))
    }

    /// This source's share of each top-level budget it has money for.
    pub fn budget_shares(&self, input: &SourceUsage<'_>, now: DateTime<Utc>) -> Vec<BudgetShare> {
        let budgets: Vec<&Budget> = self
            .budgets
            .iter()
            .filter(|b| Self::may_match(b, input.source, input.vendor))
            .collect();
        if budgets.is_empty() || self.money.is_none() {
            return Vec::new();
        }
        let mut shares: Vec<(BTreeMap<NaiveDate, f64>, f64)> =
            vec![Default::default(); budgets.len()];
        let mut add = |set: &LabelSet, days: &mut dyn Iterator<Item = (NaiveDate, f64)>| {
            let lookup = |key: &str| self.budget_key(input, set, key);
            let matched: Vec<usize> = (0..budgets.len())
                .filter(|&i| super::matches(&budgets[i].matcher, lookup))
                .collect();
            if matched.is_empty() {
                return;
            }
            for (day, money) in days {
                for &i in &matched {
                    *shares[i].0.entry(day).or_default() += money;
                }
            }
        };
        match (input.vendor_costs, input.usage) {
            (Some(costs), _) => {
                let names = &costs.label_names;
                for (values, days) in &costs.series {
                    let set = self.label_set(input, names, values);
                    let own = ServiceOf::Label("currency").of(names, values);
                    let mut money = days.iter().filter_map(|(day, amount)| {
                        Some((*day, self.converted(&own, *day, *amount)?))
                    });
                    add(&set, &mut money);
                }
            }
            (None, Usage::Daily(daily)) => {
                let names = &daily.label_names;
                for (values, days) in &daily.series {
                    let set = self.label_set(input, names, values);
                    let Some((per_unit, currency)) = &set.price else {
                        continue;
                    };
                    let mut money = days.iter().filter_map(|(day, amount)| {
                        Some((*day, self.converted(currency, *day, amount * per_unit)?))
                    });
                    add(&set, &mut money);
                }
            }
            (None, Usage::Level(level)) => {
                let names = &level.label_names;
                let today = now.date_naive();
                for (values, amount) in &level.series {
                    let set = self.label_set(input, names, values);
                    let Some((per_unit, currency)) = &set.price else {
                        continue;
                    };
                    let lookup = |key: &str| self.budget_key(input, &set, key);
                    let Some(money) = self.converted(currency, today, amount * per_unit) else {
                        continue;
                    };
                    for (i, budget) in budgets.iter().enumerate() {
                        if super::matches(&budget.matcher, lookup) {
                            shares[i].1 += money;
                        }
                    }
                }
            }
        }
        budgets
            .iter()
            .zip(shares)
            .filter(|(_, (days, level))| !days.is_empty() || *level != 0.0)
            .map(|(budget, (days, level))| BudgetShare {
                budget: budget.name.clone(),
                days: days.into_iter().collect(),
                level,
            })
            .collect()
    }

    /// A key of a top-level budget's match, as a label set of this source reads it.
    fn budget_key<'a>(
        &'a self,
        input: &'a SourceUsage<'_>,
        set: &'a LabelSet,
        key: &str,
    ) -> Option<&'a str> {
        match key {
            "source" => Some(input.source),
            "vendor" => Some(input.vendor),
            "service" => Some(set.service.as_str()),
            dimension => self
                .dimensions
                .iter()
                .position(|d| d.name == dimension)
                .map(|i| set.allocation[i].as_str()),
        }
    }

    /// `amount` of `currency` on `day` in the reporting currency; none without a rate.
    fn converted(&self, currency: &str, day: NaiveDate, amount: f64) -> Option<f64> {
        let rate = self.money.as_ref()?.rates.rate(currency, day)?;
        Some(amount * rate)
    }

    /// The top-level budgets' families: each budget over the sum of every source's share, as
    /// of `now`, in the reporting currency. A budget no share touches serves used 0.
    pub fn budget_families<'a>(
        &self,
        shares: impl IntoIterator<Item = &'a BudgetShare>,
        now: DateTime<Utc>,
    ) -> Vec<FamilySamples> {
        let Some(money) = &self.money else {
            return Vec::new();
        };
        if self.budgets.is_empty() {
            return Vec::new();
        }
        let mut by_budget: Vec<Vec<&BudgetShare>> = vec![Vec::new(); self.budgets.len()];
        for share in shares {
            if let Some(i) = self.budgets.iter().position(|b| b.name == share.budget) {
                by_budget[i].push(share);
            }
        }
        let mut families = BudgetFamilies::across_sources();
        for (budget, shares) in self.budgets.iter().zip(by_budget) {
            let daily =
                budgets::evaluate_days(budget, shares.iter().map(|s| s.days.as_slice()), now);
            let level: f64 = shares.iter().map(|s| s.level).sum();
            let evaluation = Evaluation {
                used: daily.used + level,
                forecast: daily.forecast + level,
            };
            families.add_evaluated(budget, &money.rates.currency, evaluation, now);
        }
        families.finish()
    }
}

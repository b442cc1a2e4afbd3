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

/// One label set's money: per charge day in the reporting currency, or a level in a
/// price's currency (converted at today's rate).
enum Money<'a> {
    Days(Box<dyn Iterator<Item = (NaiveDate, f64)> + 'a>),
    Level((f64, String)),
}

/// The shares of one source's poll while its label sets are added.
struct Shares<'b> {
    budgets: &'b [&'b Budget],
    days: Vec<BTreeMap<NaiveDate, f64>>,
    levels: Vec<f64>,
}

impl Shares<'_> {
    fn matched<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str> + Copy) -> Vec<usize> {
        (0..self.budgets.len())
            .filter(|&i| super::matches(&self.budgets[i].matcher, lookup))
            .collect()
    }

    fn add_days<'a>(
        &mut self,
        lookup: impl Fn(&str) -> Option<&'a str> + Copy,
        days: Box<dyn Iterator<Item = (NaiveDate, f64)> + '_>,
    ) {
        let matched = self.matched(lookup);
        if matched.is_empty() {
            return;
        }
        for (day, money) in days {
            for &i in &matched {
                *self.days[i].entry(day).or_default() += money;
            }
        }
    }

    fn add_level<'a>(&mut self, lookup: impl Fn(&str) -> Option<&'a str> + Copy, money: f64) {
        for i in self.matched(lookup) {
            self.levels[i] += money;
        }
    }

    /// The shares with money, one per budget.
    fn finish(self) -> Vec<BudgetShare> {
        self.budgets
            .iter()
            .zip(self.days.into_iter().zip(self.levels))
            .filter(|(_, (days, level))| !days.is_empty() || *level != 0.0)
            .map(|(budget, (days, level))| BudgetShare {
                budget: budget.name.clone(),
                days: days.into_iter().collect(),
                level,
            })
            .collect()
    }
}

/// Keys a top-level budget may match on besides the allocation dimensions.
pub const MATCH_KEYS: [&str; 3] = ["source", "vendor", "service"];

impl Showback {
    /// Whether a top-level budget may take money from this source.
    fn may_match(budget: &Budget, source: &str, vendor: &str) -> bool {
        super::may_apply(&budget.matcher, source, vendor)
    }

    /// The first day of usage a source's poll must read for showback at `now`: this month's
    /// (yesterday's on the 1st), or earlier where a top-level budget that may take its money
    /// needs its period and the forecast's rate days.
    pub fn history_from(&self, source: &str, vendor: &str, now: DateTime<Utc>) -> NaiveDate {
        let own = super::history_from(now);
        let budgets = self
            .budgets
            .iter()
            .filter(|b| Self::may_match(b, source, vendor));
        budgets::history_from(budgets, now).map_or(own, |from| from.min(own))
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
        let mut shares = Shares {
            budgets: &budgets,
            days: vec![BTreeMap::new(); budgets.len()],
            levels: vec![0.0; budgets.len()],
        };
        let today = now.date_naive();
        for (set, money) in self.money_of(input) {
            let lookup = |key: &str| self.budget_key(input, &set, key);
            match money {
                Money::Days(days) => shares.add_days(lookup, days),
                Money::Level(amount) => {
                    let converted = self.converted(&amount.1, today, amount.0);
                    shares.add_level(lookup, converted.unwrap_or(0.0));
                }
            }
        }
        shares.finish()
    }

    /// Each label set's money: the vendor's own where it computes it, else the priced units,
    /// per day in the reporting currency (days no rate converts left out).
    fn money_of<'a>(&'a self, input: &'a SourceUsage<'_>) -> Vec<(LabelSet, Money<'a>)> {
        let priced = |set: LabelSet, days: &'a [(NaiveDate, f64)]| {
            let (per_unit, currency) = set.price.clone()?;
            let money = days.iter().filter_map(move |(day, amount)| {
                Some((*day, self.converted(&currency, *day, amount * per_unit)?))
            });
            Some((set, Money::Days(Box::new(money))))
        };
        match (input.vendor_costs, input.usage) {
            (Some(costs), _) => {
                let names = &costs.label_names;
                let sets = costs.series.iter().map(|(values, days)| {
                    let set = self.label_set(input, names, values);
                    let own = ServiceOf::Label("currency").of(names, values);
                    let money = days.iter().filter_map(move |(day, amount)| {
                        Some((*day, self.converted(&own, *day, *amount)?))
                    });
                    (set, Money::Days(Box::new(money)))
                });
                sets.collect()
            }
            (None, Usage::Daily(daily)) => daily
                .series
                .iter()
                .filter_map(|(values, days)| {
                    priced(self.label_set(input, &daily.label_names, values), days)
                })
                .collect(),
            (None, Usage::Level(level)) => level
                .series
                .iter()
                .filter_map(|(values, amount)| {
                    let set = self.label_set(input, &level.label_names, values);
                    let (per_unit, currency) = set.price.clone()?;
                    Some((set, Money::Level((amount * per_unit, currency))))
                })
                .collect(),
        }
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
    pub(super) fn converted(&self, currency: &str, day: NaiveDate, amount: f64) -> Option<f64> {
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

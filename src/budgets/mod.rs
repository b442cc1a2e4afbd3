//! Budgets: the limits a customer declares per source (and those a vendor reports), evaluated
//! after each poll against what the source consumed, into the same families for every vendor:
//! limit, used, forecast, overage, warn ratio and the current period.
//!
//! Vendor-blind: it reads [`Usage`] (per-day amounts or levels, by label set) and
//! [`VendorBudget`]s, and knows nothing of where they came from. A pure function of
//! (budgets, usage, now).

pub mod period;

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::model::snapshot::{Combine, FamilyDesc, FamilyId, FamilySamples, SnapshotBuilder};
use crate::model::usage::{sum_days, BudgetUnit, DailyUsage, LevelUsage, Usage, VendorBudget};
pub use period::Period;

/// Days of history the forecast's rate is taken over: the last complete UTC days.
pub const RATE_DAYS: i64 = 7;

/// The default `warn_ratio`.
pub const DEFAULT_WARN_RATIO: f64 = 0.8;

/// A declared budget, validated by the config loader.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub name: String,
    /// Label → the values it may have; every key must match.
    pub matcher: Vec<(String, Vec<String>)>,
    pub limit: f64,
    pub period: Period,
    /// Where quarters and years start (its month and day); January 1 by default.
    pub anchor: NaiveDate,
    pub unit: Option<String>,
    pub price: Option<Price>,
    pub warn_ratio: f64,
    /// A commitment's share of the limit that the forecast should reach by the period's end;
    /// none: not watched for under-use.
    pub shortfall_ratio: Option<f64>,
}

/// Money per unit of a budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    pub per_unit: f64,
    pub currency: String,
}

impl Budget {
    /// The current period's first day and the day after its last.
    pub fn current_period(&self, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
        period::current(self.period, self.anchor, now)
    }

    /// One line for `check`: the current period as read from the config, so a user can see
    /// that an anniversary was understood as meant.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        let (start, end) = self.current_period(now);
        let last = end.pred_opt().unwrap_or(end);
        let unit = self
            .unit
            .as_deref()
            .map(|u| format!(" {u}"))
            .unwrap_or_default();
        let money = self
            .price
            .as_ref()
            .map(|p| format!(", {} {} per unit", p.per_unit, p.currency))
            .unwrap_or_default();
        let commitment = self
            .shortfall_ratio
            .map(|ratio| format!(", a commitment: alerts when forecast under {ratio} of it"))
            .unwrap_or_default();
        format!(
            "budget {}: limit {}{unit}{money}{commitment}; current {} {start} to {last} (ends {end}T00:00:00Z)",
            self.name,
            self.limit,
            self.period.name()
        )
    }

    fn matches(&self, label_names: &[&str], values: &[String]) -> bool {
        self.matcher.iter().all(|(label, allowed)| {
            label_names
                .iter()
                .position(|name| name == label)
                .is_some_and(|i| allowed.contains(&values[i]))
        })
    }
}

/// The first day of usage a poll must read so that every budget can be evaluated: the start
/// of the longest current period, or the start of the forecast's rate window if earlier.
pub fn history_from<'a>(
    budgets: impl IntoIterator<Item = &'a Budget>,
    now: DateTime<Utc>,
) -> Option<NaiveDate> {
    let rate_start = now.date_naive() - Duration::days(RATE_DAYS);
    budgets
        .into_iter()
        .map(|b| b.current_period(now).0.min(rate_start))
        .min()
}

pub static LIMIT: FamilyDesc = FamilyDesc {
    name: "consumption_budget_limit",
    help: "The budget's limit in its current period, in the unit label's unit.",
};
pub static USED: FamilyDesc = FamilyDesc {
    name: "consumption_budget_used",
    help: "Consumed against the budget in its current period, up to now.",
};
pub static FORECAST: FamilyDesc = FamilyDesc {
    name: "consumption_budget_forecast",
    help: "Projected consumption at the end of the budget's current period (used + the last 7 complete days' daily rate × days left; levels: used).",
};
pub static OVERAGE: FamilyDesc = FamilyDesc {
    name: "consumption_budget_overage",
    help: "1 when the budget's used is over its limit, else 0.",
};
pub static WARN_RATIO: FamilyDesc = FamilyDesc {
    name: "consumption_budget_warn_ratio",
    help: "The used/limit ratio from which the budget warns.",
};
pub static SHORTFALL_RATIO: FamilyDesc = FamilyDesc {
    name: "consumption_budget_shortfall_ratio",
    help: "The share of the limit a commitment's forecast should reach by its period's end (only for budgets with shortfall_ratio).",
};
pub static PERIOD_START: FamilyDesc = FamilyDesc {
    name: "consumption_budget_period_start_timestamp_seconds",
    help: "Start of the budget's current period (Unix seconds, UTC midnight).",
};
pub static PERIOD_END: FamilyDesc = FamilyDesc {
    name: "consumption_budget_period_end_timestamp_seconds",
    help: "End of the budget's current period, which is the next period's start (Unix seconds).",
};

/// Used and forecast of one budget now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub used: f64,
    pub forecast: f64,
}

/// What one budget's series carry.
struct Series<'a> {
    labels: (&'a str, &'a str, &'a str),
    limit: f64,
    /// None: the vendor does not report it (then neither used nor overage is served).
    used: Option<f64>,
    /// None: the vendor has no forecast yet, and the series is absent.
    forecast: Option<f64>,
    warn_ratio: f64,
    shortfall_ratio: Option<f64>,
    period: Option<(f64, f64)>,
    money: Option<&'a Price>,
}

/// Evaluates one budget against daily amounts.
pub fn evaluate_daily(budget: &Budget, usage: &DailyUsage, now: DateTime<Utc>) -> Evaluation {
    let matched = usage
        .series
        .iter()
        .filter(|(values, _)| budget.matches(&usage.label_names, values))
        .map(|(_, days)| days.as_slice());
    evaluate_days(budget, matched, now)
}

/// Evaluates one budget against the per-day amounts of the series it matched.
pub fn evaluate_days<'a>(
    budget: &Budget,
    matched: impl IntoIterator<Item = &'a [(NaiveDate, f64)]>,
    now: DateTime<Utc>,
) -> Evaluation {
    let (start, end) = budget.current_period(now);
    let today = now.date_naive();
    let rate_start = today - Duration::days(RATE_DAYS);
    let (mut used, mut recent) = (0.0, 0.0);
    for days in matched {
        used += sum_days(days, start, end.min(today + Duration::days(1)));
        recent += sum_days(days, rate_start, today);
    }
    let seconds_left = (period::midnight(end) - now).num_milliseconds().max(0) as f64 / 1000.0;
    let days_left = seconds_left / 86_400.0;
    Evaluation {
        used,
        forecast: used + recent / RATE_DAYS as f64 * days_left,
    }
}

/// Evaluates one budget against current levels: used is the level, and so is the forecast.
pub fn evaluate_level(budget: &Budget, usage: &LevelUsage) -> Evaluation {
    let matched = usage
        .series
        .iter()
        .enumerate()
        .filter(|(_, (values, _))| budget.matches(&usage.label_names, values));
    let used = match &usage.members {
        Some(members) => {
            let distinct: HashSet<&str> = matched
                .flat_map(|(i, _)| members[i].iter().map(String::as_str))
                .collect();
            distinct.len() as f64
        }
        None => matched.map(|(_, (_, value))| value).sum(),
    };
    Evaluation {
        used,
        forecast: used,
    }
}

/// `usage` on only the labels `budgets` match on (and the unit label), label sets that become
/// equal merged: the sums per day add up, the levels too, and members join.
fn project(usage: &Usage, budgets: &[Budget], default_unit: BudgetUnit) -> Usage {
    let names = usage.label_names();
    let needed = |name: &'static str| {
        budgets
            .iter()
            .any(|b| b.matcher.iter().any(|(l, _)| l == name))
            || default_unit == BudgetUnit::Label(name)
    };
    let kept: Vec<usize> = (0..names.len()).filter(|&i| needed(names[i])).collect();
    let kept_names: Vec<&'static str> = kept.iter().map(|&i| names[i]).collect();
    let key =
        |values: &[String]| -> Vec<String> { kept.iter().map(|&i| values[i].clone()).collect() };
    match usage {
        Usage::Daily(daily) => {
            let mut merged: std::collections::HashMap<
                Vec<String>,
                std::collections::BTreeMap<NaiveDate, f64>,
            > = std::collections::HashMap::new();
            for (values, days) in &daily.series {
                let sums = merged.entry(key(values)).or_default();
                for (day, amount) in days {
                    *sums.entry(*day).or_insert(0.0) += amount;
                }
            }
            Usage::Daily(DailyUsage {
                label_names: kept_names,
                series: merged
                    .into_iter()
                    .map(|(values, days)| (values, days.into_iter().collect()))
                    .collect(),
            })
        }
        Usage::Level(level) => {
            // Members are gathered distinct, borrowed, and copied once at the end.
            let mut merged: std::collections::HashMap<Vec<String>, (f64, HashSet<&str>)> =
                std::collections::HashMap::new();
            for (i, (values, value)) in level.series.iter().enumerate() {
                let entry = merged.entry(key(values)).or_default();
                entry.0 += value;
                if let Some(members) = &level.members {
                    entry.1.extend(members[i].iter().map(String::as_str));
                }
            }
            let (series, members): (Vec<_>, Vec<_>) = merged
                .into_iter()
                .map(|(values, (value, members))| {
                    let members: Vec<String> = members.into_iter().map(str::to_string).collect();
                    ((values, value), members)
                })
                .unzip();
            Usage::Level(LevelUsage {
                label_names: kept_names,
                series,
                members: level.members.is_some().then_some(members),
            })
        }
    }
}

/// The unit of a budget: its own; else the source's fixed unit; else the one value the
/// source's unit label has in the matched label sets (or in the match itself); else `units`.
fn unit_of(budget: &Budget, usage: Option<&Usage>, default: BudgetUnit) -> String {
    if let Some(unit) = &budget.unit {
        return unit.clone();
    }
    let label = match default {
        BudgetUnit::Fixed(unit) => return unit.to_string(),
        BudgetUnit::Label(label) => label,
    };
    let mut seen = std::collections::BTreeSet::new();
    if let Some(usage) = usage {
        let names = usage.label_names();
        if let Some(i) = names.iter().position(|n| *n == label) {
            seen.extend(
                usage
                    .label_sets()
                    .filter(|values| budget.matches(names, values))
                    .map(|values| values[i].as_str()),
            );
        }
    }
    let asked = budget.matcher.iter().find(|(l, _)| l == label);
    match (seen.len(), asked.map(|(_, values)| values.as_slice())) {
        (1, _) => seen.into_iter().next().unwrap_or("units").to_string(),
        (_, Some([only])) => only.clone(),
        _ => "units".to_string(),
    }
}

/// The labels of every budget family, besides `source`.
pub const LABEL_NAMES: [&str; 4] = ["vendor", "budget", "unit", "origin"];

/// The budget families of one poll of one source (its declared budgets against its usage, and
/// the budgets its vendor reports), or of the top-level budgets across sources.
pub struct BudgetFamilies {
    builder: SnapshotBuilder,
    ids: [FamilyId; 8],
    /// None: the top-level budgets, which have no `source` or `vendor` label.
    vendor: Option<&'static str>,
}

impl BudgetFamilies {
    /// One source's budget families.
    pub fn new(vendor: &'static str) -> Self {
        Self::with_vendor(Some(vendor))
    }

    /// The top-level budgets' families: over many sources, so without `vendor`.
    pub fn across_sources() -> Self {
        Self::with_vendor(None)
    }

    fn with_vendor(vendor: Option<&'static str>) -> Self {
        let mut builder = SnapshotBuilder::new();
        let names = || LABEL_NAMES[usize::from(vendor.is_none())..].to_vec();
        let ids = [
            &LIMIT,
            &USED,
            &FORECAST,
            &OVERAGE,
            &WARN_RATIO,
            &PERIOD_START,
            &PERIOD_END,
            &SHORTFALL_RATIO,
        ]
        .map(|desc| builder.family(desc, names(), Combine::Sum));
        BudgetFamilies {
            builder,
            ids,
            vendor,
        }
    }

    /// Adds every series of one budget; a priced one serves limit, used and forecast again in
    /// its currency.
    fn add(&mut self, series: Series<'_>) {
        let [limit_id, used_id, forecast_id, overage_id, warn_id, start_id, end_id, shortfall_id] =
            self.ids;
        let (name, unit, origin) = series.labels;
        let first = usize::from(self.vendor.is_none());
        let labels = [self.vendor.unwrap_or_default(), name, unit, origin];
        let labels = &labels[first..];
        let mut observations = vec![(limit_id, series.limit), (warn_id, series.warn_ratio)];
        if let Some(used) = series.used {
            let overage = if used > series.limit { 1.0 } else { 0.0 };
            observations.extend([(used_id, used), (overage_id, overage)]);
        }
        observations.extend(series.forecast.map(|f| (forecast_id, f)));
        observations.extend(series.shortfall_ratio.map(|r| (shortfall_id, r)));
        if let Some((start, end)) = series.period {
            observations.extend([(start_id, start), (end_id, end)]);
        }
        self.builder.observe_all(labels, observations);
        if let Some(price) = series.money {
            let labels = [
                self.vendor.unwrap_or_default(),
                name,
                price.currency.as_str(),
                origin,
            ];
            let labels = &labels[first..];
            let mut money = vec![(limit_id, series.limit * price.per_unit)];
            money.extend(series.used.map(|u| (used_id, u * price.per_unit)));
            money.extend(series.forecast.map(|f| (forecast_id, f * price.per_unit)));
            self.builder.observe_all(labels, money);
        }
    }

    /// Evaluates the declared budgets against `usage` (none: used 0).
    pub fn add_configured(
        &mut self,
        budgets: &[Budget],
        usage: Option<&Usage>,
        default_unit: BudgetUnit,
        now: DateTime<Utc>,
    ) {
        // Each budget reads the usage once per label set: first fold away the labels no
        // budget names (a source split by user has many label sets, its budgets few).
        let projected = usage.map(|usage| project(usage, budgets, default_unit));
        let usage = projected.as_ref();
        for budget in budgets {
            let evaluation = match usage {
                Some(Usage::Daily(daily)) => evaluate_daily(budget, daily, now),
                Some(Usage::Level(level)) => evaluate_level(budget, level),
                None => Evaluation {
                    used: 0.0,
                    forecast: 0.0,
                },
            };
            let (start, end) = budget.current_period(now);
            let period = (seconds(start), seconds(end));
            let unit = unit_of(budget, usage, default_unit);
            self.add(Series {
                labels: (&budget.name, &unit, "config"),
                limit: budget.limit,
                used: Some(evaluation.used),
                forecast: Some(evaluation.forecast),
                warn_ratio: budget.warn_ratio,
                shortfall_ratio: budget.shortfall_ratio,
                period: Some(period),
                money: budget.price.as_ref(),
            });
        }
    }

    /// Serves a budget evaluated elsewhere (the top-level budgets, over many sources' money).
    pub fn add_evaluated(
        &mut self,
        budget: &Budget,
        unit: &str,
        evaluation: Evaluation,
        now: DateTime<Utc>,
    ) {
        let (start, end) = budget.current_period(now);
        self.add(Series {
            labels: (&budget.name, unit, "config"),
            limit: budget.limit,
            used: Some(evaluation.used),
            forecast: Some(evaluation.forecast),
            warn_ratio: budget.warn_ratio,
            shortfall_ratio: budget.shortfall_ratio,
            period: Some((seconds(start), seconds(end))),
            money: None,
        });
    }

    /// Serves what the vendor reports as its own limits.
    pub fn add_reported(&mut self, budgets: &[VendorBudget]) {
        for budget in budgets {
            self.add(Series {
                labels: (&budget.name, &budget.unit, "vendor"),
                limit: budget.limit,
                used: budget.used,
                forecast: budget.forecast,
                warn_ratio: DEFAULT_WARN_RATIO,
                shortfall_ratio: None,
                period: budget.period,
                money: None,
            });
        }
    }

    pub fn finish(self) -> Vec<FamilySamples> {
        self.builder
            .finish()
            .families
            .into_iter()
            .filter(|family| !family.is_empty())
            .collect()
    }
}

fn seconds(day: NaiveDate) -> f64 {
    period::midnight(day).timestamp() as f64
}

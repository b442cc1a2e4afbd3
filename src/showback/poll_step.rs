//! What showback adds to a source's poll, after the vendor's pages are folded and before the
//! budgets are evaluated: the usage and money families, each top-level budget's share, the
//! usage with allocation dimensions as labels (which budgets may match on), and the rates of
//! the day for the landing page. The engine runs it as one step of every poll.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::{Showback, SourceUsage, COST};
use crate::model::snapshot::{FamilySamples, Snapshot};
use crate::model::usage::{BudgetUnit, DailyUsage, ServiceOf, Usage};

/// A source as showback sees it: what its facts and config say, nothing of its vendor's code.
pub struct PolledSource<'a> {
    pub name: &'a str,
    pub vendor: &'static str,
    /// What the vendor bills a label set as; none: the usage is not billed.
    pub service: Option<ServiceOf>,
    pub unit: BudgetUnit,
    /// Whether the source has budgets of its own, which may match on allocation dimensions.
    pub has_budgets: bool,
}

impl<'a> PolledSource<'a> {
    /// What showback reads of a poll; none when the vendor does not bill the usage.
    pub fn usage_input(
        &self,
        usage: &'a Usage,
        vendor_costs: Option<&'a DailyUsage>,
    ) -> Option<SourceUsage<'a>> {
        Some(SourceUsage {
            vendor: self.vendor,
            source: self.name,
            usage,
            vendor_costs,
            service: self.service?,
            unit: self.unit,
        })
    }
}

/// What the step hands on to the budgets and to the landing page.
#[derive(Default)]
pub struct StepOutcome {
    /// The usage with the allocation dimensions as labels, when the source has budgets and
    /// there are dimensions; the budgets read it instead of the plain usage.
    pub allocated: Option<Usage>,
    /// Every rate of the day, when money is configured.
    pub rates: Option<Vec<(String, f64)>>,
}

impl Showback {
    /// Adds the source's usage and money families and budget shares to `snapshot`. Money no
    /// rate converts is logged once per currency in `unconverted`'s keeping.
    pub fn add_to_poll(
        &self,
        source: &PolledSource<'_>,
        snapshot: &mut Snapshot,
        (usage, vendor_costs): (Option<&Usage>, Option<&DailyUsage>),
        now: DateTime<Utc>,
        unconverted: &Mutex<BTreeSet<String>>,
    ) -> StepOutcome {
        let Some(usage) = usage else {
            return StepOutcome::default();
        };
        let allocated = self.with_allocation(source, usage);
        let Some(input) = source.usage_input(usage, vendor_costs) else {
            return StepOutcome {
                allocated,
                rates: None,
            };
        };
        let families = self.families(&input, now);
        snapshot.budget_shares = self.budget_shares(&input, now);
        let rates = self.money.as_ref().map(|money| {
            log_unconverted(source, &families, &money.rates.currency, unconverted);
            money.rates.all_on(now.date_naive()).into_iter().collect()
        });
        snapshot.families.extend(families);
        StepOutcome { allocated, rates }
    }

    /// The usage with the allocation dimensions as labels, when there are any and the source
    /// has budgets, which may match on them.
    fn with_allocation(&self, source: &PolledSource<'_>, usage: &Usage) -> Option<Usage> {
        if self.dimensions.is_empty() || !source.has_budgets {
            return None;
        }
        let input = SourceUsage {
            vendor: source.vendor,
            source: source.name,
            usage,
            vendor_costs: None,
            service: source.service.unwrap_or(ServiceOf::Joined(&[])),
            unit: source.unit,
        };
        Some(self.allocated(usage, &input))
    }
}

/// Logs, once per currency, money this source was served in because no rate converts it.
fn log_unconverted(
    source: &PolledSource<'_>,
    families: &[FamilySamples],
    reporting: &str,
    unconverted: &Mutex<BTreeSet<String>>,
) {
    let Some(cost) = families.iter().find(|f| f.desc.name == COST.name) else {
        return;
    };
    let Some(at) = cost.label_names.iter().position(|n| *n == "currency") else {
        return;
    };
    let mut logged = crate::model::locks::lock(unconverted);
    for (mut values, _) in cost.iter() {
        let Some(currency) = values.nth(at).filter(|c| c != reporting) else {
            continue;
        };
        if logged.insert(currency.to_string()) {
            tracing::warn!(source_name = %source.name, vendor = source.vendor, currency = %currency, reporting, "money served in its own currency: no rate converts it on its day; add money.rates or a rates_file that covers it");
        }
    }
}

/// The first money of one poll that is not a finite number (a cost, an idle seat's money, a
/// budget's amount, or a share of a top-level budget), named by its family and labels.
pub fn non_finite_money(
    families: &[FamilySamples],
    shares: &[crate::model::usage::BudgetShare],
) -> Option<String> {
    let money_families = families.iter().filter(|f| {
        [COST.name, super::seats::IDLE_COST.name].contains(&f.desc.name)
            || f.desc.name.starts_with("consumption_budget_")
    });
    for family in money_families {
        for (values, value) in family.iter() {
            if !value.is_finite() {
                let labels: Vec<String> = family
                    .label_names
                    .iter()
                    .zip(values)
                    .map(|(name, value)| format!("{name}={value:?}"))
                    .collect();
                return Some(format!(
                    "{}{{{}}} ({value})",
                    family.desc.name,
                    labels.join(",")
                ));
            }
        }
    }
    shares.iter().find_map(|share| {
        let days = share.days.iter().map(|(_, amount)| *amount);
        let amount = std::iter::once(share.level)
            .chain(days)
            .find(|a| !a.is_finite())?;
        Some(format!(
            "the money for top-level budget {} ({amount})",
            share.budget
        ))
    })
}

//! What a poll consumed, in the form budgets read it: per-day amounts of each label set (vendors
//! whose API reports days), or current levels (vendors that report a state), and the limits a
//! vendor reports itself. Sources fill these; [`crate::budgets`] evaluates them, never knowing
//! which vendor they came from.

use chrono::NaiveDate;

/// The consumption a poll saw, by label set.
#[derive(Debug, Clone, PartialEq)]
pub enum Usage {
    Daily(DailyUsage),
    Level(LevelUsage),
}

impl Usage {
    pub fn label_names(&self) -> &[&'static str] {
        match self {
            Usage::Daily(daily) => &daily.label_names,
            Usage::Level(level) => &level.label_names,
        }
    }

    /// The label values of every label set.
    pub fn label_sets(&self) -> Box<dyn Iterator<Item = &[String]> + '_> {
        match self {
            Usage::Daily(daily) => Box::new(daily.series.iter().map(|(v, _)| v.as_slice())),
            Usage::Level(level) => Box::new(level.series.iter().map(|(v, _)| v.as_slice())),
        }
    }
}

/// Amounts consumed per UTC day, per label set (each label set's days sorted by day, one
/// amount a day), from the first day a budget needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DailyUsage {
    pub label_names: Vec<&'static str>,
    pub series: Vec<DaySeries>,
}

/// One label set's values and its amounts by day, sorted by day.
pub type DaySeries = (Vec<String>, Vec<(NaiveDate, f64)>);

/// The sum of the amounts of `days` (sorted by day) from `from` up to, not including, `until`.
pub fn sum_days(days: &[(NaiveDate, f64)], from: NaiveDate, until: NaiveDate) -> f64 {
    let first = days.partition_point(|(day, _)| *day < from);
    let end = days.partition_point(|(day, _)| *day < until);
    days[first..end.max(first)].iter().map(|(_, a)| a).sum()
}

/// Current levels per label set (a count of connections, usage in the current period).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LevelUsage {
    pub label_names: Vec<&'static str>,
    pub series: Vec<(Vec<String>, f64)>,
    /// The members each label set holds, in `series` order: budgets then count the distinct
    /// members of the matched label sets instead of summing their values (AvePoint: the
    /// connections of each flow, each connection counted once however many flows use it).
    pub members: Option<Vec<Vec<String>>>,
}

/// A limit the vendor reports with its usage (Qlik's capacity), served beside the configured
/// budgets with `origin="vendor"`.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorBudget {
    pub name: String,
    pub unit: String,
    pub limit: f64,
    /// None: the vendor does not report it (Power Platform's "not reported" capacity).
    pub used: Option<f64>,
    /// What the vendor forecasts for the period's end; none: the forecast series is absent.
    pub forecast: Option<f64>,
    /// The period the vendor names, as Unix seconds [start, end).
    pub period: Option<(f64, f64)>,
}

/// What a vendor bills a usage label set as (showback's `service` label): the value of one
/// label, or of several joined by `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceOf {
    Label(&'static str),
    Joined(&'static [&'static str]),
}

/// The value of `label` in a label set whose names are `names`.
pub fn label_value<'a>(names: &[&str], values: &'a [String], label: &str) -> Option<&'a str> {
    let at = names.iter().position(|n| *n == label)?;
    values.get(at).map(String::as_str)
}

impl ServiceOf {
    /// The service of a label set; a label the set lacks reads as empty.
    pub fn of(&self, names: &[&'static str], values: &[String]) -> String {
        let value = |label: &str| label_value(names, values, label).unwrap_or("");
        match self {
            ServiceOf::Label(label) => value(label).to_string(),
            ServiceOf::Joined(labels) => labels
                .iter()
                .map(|l| value(l))
                .collect::<Vec<_>>()
                .join("/"),
        }
    }

    /// The labels it reads.
    pub fn labels(&self) -> &[&'static str] {
        match self {
            ServiceOf::Label(label) => std::slice::from_ref(label),
            ServiceOf::Joined(labels) => labels,
        }
    }
}

/// Which unit a budget over this source's usage is in when the config names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetUnit {
    /// Always this unit.
    Fixed(&'static str),
    /// The value of this label, when the matched label sets agree on one.
    Label(&'static str),
}

/// One source's money toward one top-level budget: the reporting-currency money per charge day
/// of the label sets the budget matches (daily vendors), and the money of the current levels
/// (vendors that report a state). The store sums the shares of every source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetShare {
    pub budget: String,
    /// Sorted by day, one amount a day.
    pub days: Vec<(NaiveDate, f64)>,
    pub level: f64,
}

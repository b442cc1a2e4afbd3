//! A source's `budgets`: each entry decoded and checked against what the source keeps (its
//! match keys must be labels of the source's usage), with every error at its line and column.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde_yaml::Value;

use super::context::Context;
use super::raw::RawBudget;
use crate::budgets::{Budget, Price, DEFAULT_WARN_RATIO};
use crate::sources::Source;

impl Context<'_> {
    pub(super) fn budgets(
        &mut self,
        prefix: &str,
        entries: Vec<Value>,
        source: &dyn Source,
    ) -> Vec<Budget> {
        let mut labels = source.facts().usage_labels.clone();
        labels.extend(
            self.dimensions
                .iter()
                .map(|d| crate::showback::leak_once(d)),
        );
        let mut names = HashSet::new();
        let mut budgets = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let path = format!("{prefix}.budgets[{i}]");
            let Some(raw) = self.decode_value::<RawBudget>(&path, entry) else {
                continue;
            };
            if !names.insert(raw.name.clone()) {
                let message = format!(
                    "duplicate budget name {:?}: names must be unique within a source (they are the `budget` label)",
                    raw.name
                );
                self.error(format!("{path}.name"), message);
            }
            if let Some(budget) = self.budget(&path, raw, &labels) {
                budgets.push(budget);
            }
        }
        budgets
    }

    pub(super) fn budget(
        &mut self,
        path: &str,
        mut raw: RawBudget,
        labels: &[&str],
    ) -> Option<Budget> {
        let errors_before = self.errors.len();
        if raw.name.trim().is_empty() {
            self.error(format!("{path}.name"), "a budget name must not be empty");
        }
        let matcher = self.matcher(path, std::mem::take(&mut raw.matcher), labels);
        if !(raw.limit.is_finite() && raw.limit > 0.0) {
            self.error(
                format!("{path}.limit"),
                "the limit must be a number above 0",
            );
        }
        let anchor = self.anchor(path, &raw);
        let price = self.price(path, raw.price, raw.currency.take());
        let warn_ratio = raw.warn_ratio.unwrap_or(DEFAULT_WARN_RATIO);
        if !(warn_ratio > 0.0 && warn_ratio <= 1.0) {
            self.error(
                format!("{path}.warn_ratio"),
                "warn_ratio must be above 0 and at most 1 (a share of the limit)",
            );
        }
        if raw
            .shortfall_ratio
            .is_some_and(|ratio| !(ratio > 0.0 && ratio <= 1.0))
        {
            self.error(
                format!("{path}.shortfall_ratio"),
                "shortfall_ratio must be above 0 and at most 1 (the share of the limit a commitment should reach by its period's end)",
            );
        }
        if raw.unit.as_deref().is_some_and(|u| u.trim().is_empty()) {
            self.error(format!("{path}.unit"), "unit must not be empty");
        }
        (self.errors.len() == errors_before).then_some(Budget {
            name: raw.name,
            matcher,
            limit: raw.limit,
            period: raw.period,
            anchor,
            unit: raw.unit,
            price,
            warn_ratio,
            shortfall_ratio: raw.shortfall_ratio,
        })
    }

    pub(super) fn matcher(
        &mut self,
        path: &str,
        raw: std::collections::BTreeMap<String, Value>,
        labels: &[&str],
    ) -> Vec<(String, Vec<String>)> {
        let mut matcher = Vec::new();
        for (label, value) in raw {
            let key_path = format!("{path}.match.{label}");
            if !labels.contains(&label.as_str()) {
                let known = match labels {
                    [] => "this source's usage has no labels to match on".to_string(),
                    _ => format!("the labels this source keeps are {}", labels.join(", ")),
                };
                self.error(
                    key_path,
                    format!("`{label}` is not a label of this source's usage: {known}"),
                );
                continue;
            }
            let values = match value {
                Value::Sequence(items) => items.iter().map(scalar).collect(),
                one => vec![scalar(&one)],
            };
            match values.into_iter().collect::<Option<Vec<String>>>() {
                Some(values) if !values.is_empty() => matcher.push((label, values)),
                _ => self.error(
                    key_path,
                    "a match is a label value or a non-empty list of values",
                ),
            }
        }
        matcher
    }

    /// The month and day quarters and years start on; January 1 by default.
    fn anchor(&mut self, path: &str, raw: &RawBudget) -> NaiveDate {
        let default = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
        let Some(start) = &raw.start else {
            return default;
        };
        if !raw.period.takes_anchor() {
            let message = format!(
                "start anchors quarter and year periods; a {} is a UTC calendar {0}: remove start",
                raw.period.name()
            );
            self.error(format!("{path}.start"), message);
            return default;
        }
        match NaiveDate::parse_from_str(start, "%Y-%m-%d") {
            Ok(date) => date,
            Err(e) => {
                let message =
                    format!("start must be a date as YYYY-MM-DD (the contract's anniversary): {e}");
                self.error(format!("{path}.start"), message);
                default
            }
        }
    }

    fn price(&mut self, path: &str, price: Option<f64>, currency: Option<String>) -> Option<Price> {
        match (price, currency) {
            (Some(per_unit), Some(currency)) if per_unit.is_finite() && per_unit > 0.0 => {
                if currency.trim().is_empty() {
                    self.error(format!("{path}.currency"), "currency must not be empty");
                }
                Some(Price { per_unit, currency })
            }
            (Some(_), Some(_)) => {
                self.error(
                    format!("{path}.price"),
                    "the price must be a number above 0",
                );
                None
            }
            (Some(_), None) => {
                self.error(
                    format!("{path}.price"),
                    "a price needs a currency: add `currency` (e.g. EUR), the `unit` of the money series",
                );
                None
            }
            (None, Some(_)) => {
                self.error(
                    format!("{path}.currency"),
                    "a currency without a price: add `price` (money per unit) or remove currency",
                );
                None
            }
            (None, None) => None,
        }
    }
}

/// A YAML scalar as a label value (`RU`, `42`, `true`).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

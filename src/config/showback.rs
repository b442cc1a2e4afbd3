//! `money:` and `allocation:`: the reporting currency, its rates and the prices, and the
//! dimensions usage is allocated by. Checked against the sources they apply to (a match key
//! must be something a matching source keeps), every error at its line and column.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::context::Context;
use super::decoded::SourceConfig;
use super::raw::RawBudget;
use crate::budgets::Budget;
use crate::showback::rates::{is_usable_rate, read_ecb_file, Rates};
use crate::showback::{Dimension, Matcher, Money, Price, Showback};

/// `money:`.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMoney {
    /// The reporting currency (ISO 4217): every `consumption_cost` series is in it.
    currency: String,
    /// Reporting-currency units per one unit of another currency.
    #[serde(default)]
    rates: BTreeMap<String, f64>,
    /// The ECB's reference-rate CSV (daily or history), re-read on reload.
    #[serde(default)]
    rates_file: Option<PathBuf>,
    /// List prices of vendor units; the first match wins.
    #[serde(default)]
    prices: Vec<RawPrice>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    /// Over `source`, `vendor`, `service` and the source's own labels.
    #[serde(rename = "match", default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    matcher: BTreeMap<String, Value>,
    price: f64,
    /// The price's currency; the reporting currency when left out.
    #[serde(default)]
    currency: Option<String>,
}

/// One `allocation:` dimension.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDimension {
    /// The value where no rule matches.
    default: String,
    /// First match wins.
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    matcher: BTreeMap<String, Value>,
    value: String,
}

/// One top-level budget: money across sources, in the reporting currency.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMoneyBudget {
    /// Unique among the top-level budgets; the `budget` label.
    name: String,
    /// Over `source`, `vendor`, `service` and the allocation dimensions.
    #[serde(rename = "match", default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    matcher: BTreeMap<String, Value>,
    /// In the reporting currency.
    limit: f64,
    period: crate::budgets::Period,
    /// The anchor of quarter and year periods; January 1 by default.
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    warn_ratio: Option<f64>,
    #[serde(default)]
    shortfall_ratio: Option<f64>,
}

/// The top-level keys showback reads, as written.
pub(super) struct RawShowback {
    pub(super) money: Option<Value>,
    pub(super) allocation: Option<Value>,
    pub(super) budgets: Option<Value>,
}

/// Keys a rule or price may match on besides the sources' own labels.
const SHOWBACK_KEYS: [&str; 3] = ["source", "vendor", "service"];

impl Context<'_> {
    /// `money:` and `allocation:`, given to every source too. Their content (the rates file's
    /// too) is part of each source's fingerprint: a reload that reads a new rate restarts the
    /// sources, which then convert at it.
    pub(super) fn attach_showback(
        &mut self,
        raw: RawShowback,
        sources: &mut [SourceConfig],
    ) -> Option<Arc<Showback>> {
        let showback = Arc::new(self.showback(raw, sources)?);
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            let prices = showback.money.as_ref().map(|m| &m.prices);
            format!("{prices:?}{:?}{:?}", showback.dimensions, showback.budgets).hash(&mut hasher);
            showback.money.as_ref().map(|m| &m.rates).hash(&mut hasher);
            hasher.finish()
        };
        for source in sources.iter_mut() {
            source.showback = Some(showback.clone());
            source.fingerprint ^= fingerprint;
        }
        Some(showback)
    }

    /// `money:`, `allocation:` and the top-level `budgets:`, or none when none is configured.
    fn showback(&mut self, raw: RawShowback, sources: &[SourceConfig]) -> Option<Showback> {
        let RawShowback {
            money,
            allocation,
            budgets,
        } = raw;
        if money.is_none() && allocation.is_none() && budgets.is_none() {
            return None;
        }
        let money_configured = money.is_some();
        let money = money.and_then(|value| {
            let raw = self.decode_value::<RawMoney>("money", value)?;
            self.money(raw, sources)
        });
        let dimensions = allocation
            .and_then(|value| {
                self.decode_value::<BTreeMap<String, RawDimension>>("allocation", value)
            })
            .map(|raw| self.dimensions(raw, sources))
            .unwrap_or_default();
        let budgets = match (budgets, money_configured) {
            (None, _) => Vec::new(),
            (Some(_), false) => {
                self.error("budgets", "top-level budgets are money in the reporting currency: add `money:` with its `currency` (and the prices or rates the money comes from)");
                Vec::new()
            }
            (Some(value), true) => {
                let currency = money.as_ref().map(|m| m.rates.currency.clone());
                self.money_budgets(value, &dimensions, sources, currency.unwrap_or_default())
            }
        };
        Some(Showback {
            money,
            dimensions,
            budgets,
        })
    }

    fn money(&mut self, raw: RawMoney, sources: &[SourceConfig]) -> Option<Money> {
        let errors_before = self.errors.len();
        self.iso_currency("money.currency", &raw.currency);
        let mut rates = Rates {
            currency: raw.currency.clone(),
            ..Rates::default()
        };
        for (currency, rate) in raw.rates {
            let path = format!("money.rates.{currency}");
            self.iso_currency(&path, &currency);
            if !is_usable_rate(rate) {
                self.error(
                    path,
                    "a rate must be a number between 1e-12 and 1e12 (reporting-currency units per unit)",
                );
            } else if currency == raw.currency {
                let message =
                    format!("{currency} is the reporting currency, whose rate is 1: remove it");
                self.error(path, message);
            }
            rates.fixed.insert(currency, rate);
        }
        if let Some(file) = raw.rates_file {
            let file = self.base_dir.join(file);
            match read_ecb_file(&file) {
                Ok(days) => rates.per_euro = days,
                Err(e) => self.error("money.rates_file", format!("{}: {e}", file.display())),
            }
        }
        let mut prices = Vec::new();
        for (i, price) in raw.prices.into_iter().enumerate() {
            let path = format!("money.prices[{i}]");
            let currency = price.currency.unwrap_or_else(|| raw.currency.clone());
            self.iso_currency(&format!("{path}.currency"), &currency);
            if !rates.knows(&currency) {
                let message = format!("no rate converts {currency} into {}: add money.rates.{currency} or a rates_file that quotes both", raw.currency);
                self.error(format!("{path}.currency"), message);
            }
            if !(price.price.is_finite() && price.price > 0.0) {
                self.error(
                    format!("{path}.price"),
                    "the price must be a number above 0",
                );
            }
            let matcher = self.price_matcher(&path, price.matcher, sources);
            prices.push(Price {
                matcher,
                per_unit: price.price,
                currency,
            });
        }
        (self.errors.len() == errors_before).then_some(Money { rates, prices })
    }

    fn dimensions(
        &mut self,
        raw: BTreeMap<String, RawDimension>,
        sources: &[SourceConfig],
    ) -> Vec<Dimension> {
        let mut dimensions = Vec::new();
        for (name, dimension) in raw {
            let path = format!("allocation.{name}");
            self.dimension_name(&path, &name, sources);
            if dimension.default.is_empty() {
                self.error(
                    format!("{path}.default"),
                    "the default value must not be empty",
                );
            }
            let mut rules = Vec::new();
            for (i, rule) in dimension.rules.into_iter().enumerate() {
                let rule_path = format!("{path}.rules[{i}]");
                if rule.value.is_empty() {
                    self.error(format!("{rule_path}.value"), "the value must not be empty");
                }
                let matcher = self.showback_matcher(&rule_path, rule.matcher, sources);
                rules.push((matcher, rule.value));
            }
            dimensions.push(Dimension {
                name,
                default: dimension.default,
                rules,
            });
        }
        dimensions
    }

    /// The top-level `budgets:`: each a budget over `source`, `vendor`, `service` and the
    /// allocation dimensions, in the reporting currency.
    fn money_budgets(
        &mut self,
        value: Value,
        dimensions: &[Dimension],
        sources: &[SourceConfig],
        currency: String,
    ) -> Vec<Budget> {
        let entries = self
            .decode_value::<Vec<Value>>("budgets", value)
            .unwrap_or_default();
        let mut keys: Vec<&str> = crate::showback::budgets::MATCH_KEYS.to_vec();
        keys.extend(dimensions.iter().map(|d| d.name.as_str()));
        let mut names = std::collections::HashSet::new();
        let mut budgets = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let path = format!("budgets[{i}]");
            let Some(raw) = self.decode_value::<RawMoneyBudget>(&path, entry) else {
                continue;
            };
            if !names.insert(raw.name.clone()) {
                let message = format!("duplicate budget name {:?}: top-level budget names must be unique (they are the `budget` label)", raw.name);
                self.error(format!("{path}.name"), message);
            }
            let mut matcher = raw.matcher;
            matcher.retain(|key, _| {
                let known = keys.contains(&key.as_str());
                if !known {
                    let message = format!("a top-level budget matches on {}; `{key}` is none of them (a source's own labels are matched by that source's budgets)", keys.join(", "));
                    self.error(format!("{path}.match.{key}"), message);
                }
                known
            });
            let raw = RawBudget {
                name: raw.name,
                matcher,
                limit: raw.limit,
                period: raw.period,
                start: raw.start,
                unit: Some(currency.clone()),
                price: None,
                currency: None,
                warn_ratio: raw.warn_ratio,
                shortfall_ratio: raw.shortfall_ratio,
            };
            let Some(budget) = self.budget(&path, raw, &keys) else {
                continue;
            };
            self.known_sources_and_vendors(&path, &budget.matcher, sources);
            budgets.push(budget);
        }
        budgets
    }

    /// A dimension becomes a label: it must be a label name no series has already.
    fn dimension_name(&mut self, path: &str, name: &str, sources: &[SourceConfig]) {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with("__");
        if !valid {
            let message = format!("{name:?} is not a label name: letters, digits and _, not starting with a digit or __");
            self.error(path, message);
            return;
        }
        let taken = ["source"]
            .iter()
            .chain(crate::showback::LABEL_NAMES.iter())
            .chain(crate::budgets::LABEL_NAMES.iter())
            .chain(crate::seats::LABEL_NAMES.iter())
            .any(|label| *label == name)
            || sources
                .iter()
                .any(|s| s.source.facts().label_names.clone().contains(&name));
        if taken {
            let message = format!("`{name}` is a label the exporter's series have already: name the dimension otherwise (team, owner, cost_centre, …)");
            self.error(path, message);
        }
    }

    /// A price's `match:`: a rule's keys, or `licence` (then it prices idle seats, per seat
    /// and month, of the sources that report seats), not both kinds.
    fn price_matcher(
        &mut self,
        path: &str,
        mut raw: BTreeMap<String, Value>,
        sources: &[SourceConfig],
    ) -> Matcher {
        let Some(licence) = raw.remove("licence") else {
            return self.showback_matcher(path, raw, sources);
        };
        let other: Vec<String> = raw
            .keys()
            .filter(|k| !["source", "vendor"].contains(&k.as_str()))
            .cloned()
            .collect();
        if !other.is_empty() {
            let message = format!("a seat price matches on licence, source and vendor only; {} belong to a price of usage", other.join(", "));
            self.error(format!("{path}.match"), message);
        }
        let mut matcher = self.showback_matcher(path, raw, sources);
        let values = match licence {
            Value::Sequence(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Value::String(one) => vec![one],
            _ => Vec::new(),
        };
        if values.is_empty() {
            self.error(
                format!("{path}.match.licence"),
                "a licence is a name or a list of names",
            );
        }
        matcher.push(("licence".to_string(), values));
        matcher
    }

    /// A `match:` of a price or rule: each key must be `source`, `vendor`, `service` or a
    /// label that a source it can match keeps; `source` and `vendor` must name some.
    fn showback_matcher(
        &mut self,
        path: &str,
        raw: BTreeMap<String, Value>,
        sources: &[SourceConfig],
    ) -> Matcher {
        let vendors: Vec<String> = match raw.get("vendor") {
            Some(Value::String(v)) => vec![v.clone()],
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let reachable: Vec<&SourceConfig> = sources
            .iter()
            .filter(|s| vendors.is_empty() || vendors.iter().any(|v| v == s.vendor))
            .collect();
        let mut keys: Vec<&str> = SHOWBACK_KEYS.to_vec();
        for source in &reachable {
            keys.extend(source.source.facts().usage_labels.clone());
            keys.extend(source.source.facts().money_labels.clone());
        }
        keys.sort_unstable();
        keys.dedup();
        let matcher = self.matcher(path, raw, &keys);
        self.known_sources_and_vendors(path, &matcher, sources);
        matcher
    }

    /// A match's `source` and `vendor` values must name a configured source and a vendor.
    fn known_sources_and_vendors(
        &mut self,
        path: &str,
        matcher: &Matcher,
        sources: &[SourceConfig],
    ) {
        for (key, values) in matcher {
            let known: Vec<&str> = match key.as_str() {
                "vendor" => crate::sources::type_names(),
                "source" => sources.iter().map(|s| s.name.as_str()).collect(),
                _ => continue,
            };
            for value in values.iter().filter(|v| !known.contains(&v.as_str())) {
                let message = format!(
                    "no source has {key} {value:?}: the config has {}",
                    known.join(", ")
                );
                self.error(format!("{path}.match.{key}"), message);
            }
        }
    }

    fn iso_currency(&mut self, path: &str, code: &str) {
        if iso_currency::Currency::from_code(code).is_none() {
            let message = format!("{code:?} is not an ISO 4217 currency code (EUR, USD, GBP, …)");
            self.error(path, message);
        }
    }
}

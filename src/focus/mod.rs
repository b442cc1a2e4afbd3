//! FOCUS 1.2 cost-and-usage rows (the FinOps Foundation's format that Datadog, Vantage,
//! OpenCost, Cloudability and Microsoft's FinOps hubs import), as CSV with a header: one row per
//! day's [`Charge`] of a source. Vendor-blind: what a row says of the vendor comes from the
//! source's [`Billing`], the rest from showback's charges.
//!
//! Each column follows its FOCUS 1.2 rules: a `Usage` row has its quantities and unit prices
//! (money ÷ units, so that price × quantity is the cost); the vendor's money on a service it
//! measured in no single unit is an `Adjustment` without them. Every cost is the same money,
//! in the reporting currency: the exporter knows one price per unit, no discount or commitment
//! (list = contracted = effective = billed). Where the vendor's units are its virtual currency,
//! the `PricingCurrency*` columns count in them; otherwise in the currency the money was priced
//! in.

use std::io::Write;

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::model::billing::Billing;
use crate::showback::charges::Charge;

/// Every column a row has, in order: FOCUS 1.2's mandatory ones, the conditional and
/// recommended ones the exporter fills, and its own (`x_`).
pub const COLUMNS: [&str; 41] = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountId",
    "CommitmentDiscountStatus",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_Source",
    "x_Vendor",
    "x_CostOrigin",
];

/// FOCUS 1.2's allowed `ServiceCategory` values, each with its allowed `ServiceSubcategory` values.
pub const SERVICE_CATEGORIES: [(&str, &[&str]); 19] = [
    (
        "AI and Machine Learning",
        &[
            "AI Platforms",
            "Bots",
            "Generative AI",
            "Machine Learning",
            "Natural Language Processing",
            "Other (AI and Machine Learning)",
        ],
    ),
    (
        "Analytics",
        &[
            "Analytics Platforms",
            "Business Intelligence",
            "Data Processing",
            "Search",
            "Streaming Analytics",
            "Other (Analytics)",
        ],
    ),
    (
        "Business Applications",
        &[
            "Productivity and Collaboration",
            "Other (Business Applications)",
        ],
    ),
    (
        "Compute",
        &[
            "Containers",
            "End User Computing",
            "Quantum Compute",
            "Serverless Compute",
            "Virtual Machines",
            "Other (Compute)",
        ],
    ),
    (
        "Databases",
        &[
            "Caching",
            "Data Warehouses",
            "Ledger Databases",
            "NoSQL Databases",
            "Relational Databases",
            "Time Series Databases",
            "Other (Databases)",
        ],
    ),
    (
        "Developer Tools",
        &[
            "Developer Platforms",
            "Continuous Integration and Deployment",
            "Development Environments",
            "Source Code Management",
            "Quality Assurance",
            "Other (Developer Tools)",
        ],
    ),
    (
        "Identity",
        &["Identity and Access Management", "Other (Identity)"],
    ),
    (
        "Integration",
        &[
            "API Management",
            "Messaging",
            "Workflow Orchestration",
            "Other (Integration)",
        ],
    ),
    (
        "Internet of Things",
        &[
            "IoT Analytics",
            "IoT Platforms",
            "Other (Internet of Things)",
        ],
    ),
    (
        "Management and Governance",
        &[
            "Architecture",
            "Compliance",
            "Cost Management",
            "Data Governance",
            "Disaster Recovery",
            "Endpoint Management",
            "Observability",
            "Support",
            "Other (Management and Governance)",
        ],
    ),
    (
        "Media",
        &[
            "Content Creation",
            "Gaming",
            "Media Streaming",
            "Mixed Reality",
            "Other (Media)",
        ],
    ),
    (
        "Migration",
        &["Data Migration", "Resource Migration", "Other (Migration)"],
    ),
    ("Mobile", &["Other (Mobile)"]),
    (
        "Multicloud",
        &["Multicloud Integration", "Other (Multicloud)"],
    ),
    (
        "Networking",
        &[
            "Application Networking",
            "Content Delivery",
            "Network Connectivity",
            "Network Infrastructure",
            "Network Routing",
            "Network Security",
            "Other (Networking)",
        ],
    ),
    (
        "Security",
        &[
            "Secret Management",
            "Security Posture Management",
            "Threat Detection and Response",
            "Other (Security)",
        ],
    ),
    (
        "Storage",
        &[
            "Backup Storage",
            "Block Storage",
            "File Storage",
            "Object Storage",
            "Storage Platforms",
            "Other (Storage)",
        ],
    ),
    ("Web", &["Application Platforms", "Other (Web)"]),
    ("Other", &["Other (Other)"]),
];

/// Whether `subcategory` is one of FOCUS 1.2's subcategories of `category`.
pub fn is_service_category(category: &str, subcategory: &str) -> bool {
    SERVICE_CATEGORIES
        .iter()
        .any(|(c, subs)| *c == category && subs.contains(&subcategory))
}
/// The source a row's charge is of.
pub struct Account<'a> {
    pub source: &'a str,
    pub vendor: &'a str,
    pub billing: &'a Billing,
}

/// Writes the header, then rows, as CSV.
pub struct FocusWriter<W: Write> {
    csv: csv::Writer<W>,
    dimensions: Vec<String>,
    currency: String,
}

impl<W: Write> FocusWriter<W> {
    /// Writes the header. `dimensions` are the allocation dimensions (the `Tags` keys), in
    /// the order a charge's allocation values are; `currency` is the reporting currency.
    pub fn new(out: W, dimensions: Vec<String>, currency: &str) -> csv::Result<Self> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(COLUMNS)?;
        Ok(FocusWriter {
            csv,
            dimensions,
            currency: currency.to_string(),
        })
    }

    /// Writes one row per charge of `account` on `day`; returns how many.
    pub fn write_day(
        &mut self,
        account: &Account<'_>,
        day: NaiveDate,
        charges: &[Charge],
    ) -> csv::Result<u64> {
        let period = Period::of(day);
        for charge in charges {
            let row = self.row(account, &period, charge);
            self.csv
                .write_record(row.iter().map(|v| v.as_deref().unwrap_or("")))?;
        }
        Ok(charges.len() as u64)
    }

    /// Flushes and hands back what it wrote to.
    pub fn finish(self) -> std::io::Result<W> {
        self.csv.into_inner().map_err(|e| e.into_error())
    }

    /// A row's values, in [`COLUMNS`]' order; none is null.
    fn row(&self, account: &Account<'_>, period: &Period, charge: &Charge) -> [Option<String>; 41] {
        let billing = account.billing;
        let cost = Some(decimal(charge.cost));
        let usage = UsageColumns::of(charge, billing);
        let text = |s: &str| Some(s.to_string());
        let description = match &charge.sub_account {
            Some(sub) => format!("{} {} usage of {sub}", billing.provider, charge.service),
            None => format!("{} {} usage", billing.provider, charge.service),
        };
        [
            cost.clone(),
            text(&billing.account_id),
            text(account.source),
            text(&self.currency),
            text(&period.billing_end),
            text(&period.billing_start),
            text(usage.category),
            None,
            Some(description),
            text("Usage-Based"),
            text(&period.charge_end),
            text(&period.charge_start),
            // No commitment discount applies to a charge the exporter knows of.
            None,
            None,
            usage.consumed_quantity.clone(),
            usage.unit.clone(),
            cost.clone(),
            usage.unit_price.clone(),
            cost.clone(),
            None,
            text(billing.provider),
            cost,
            usage.unit_price,
            usage.pricing_category,
            Some(usage.pricing_currency),
            usage.pricing_currency_unit_price.clone(),
            Some(usage.pricing_currency_cost),
            usage.pricing_currency_unit_price,
            usage.consumed_quantity,
            usage.unit,
            text(billing.provider),
            text(billing.provider),
            text(billing.service_category),
            text(&charge.service),
            text(billing.service_subcategory),
            charge.sub_account.clone(),
            charge.sub_account.clone(),
            self.tags(&charge.allocation),
            text(account.source),
            text(account.vendor),
            text(charge.origin),
        ]
    }

    /// The allocation as a JSON object; null without dimensions.
    fn tags(&self, allocation: &[String]) -> Option<String> {
        if self.dimensions.is_empty() {
            return None;
        }
        let tags: serde_json::Map<String, serde_json::Value> = self
            .dimensions
            .iter()
            .zip(allocation)
            .map(|(name, value)| (name.clone(), serde_json::Value::from(value.as_str())))
            .collect();
        Some(serde_json::Value::Object(tags).to_string())
    }
}

/// The columns that depend on whether the charge measured its units.
struct UsageColumns {
    category: &'static str,
    consumed_quantity: Option<String>,
    unit: Option<String>,
    unit_price: Option<String>,
    pricing_category: Option<String>,
    pricing_currency: String,
    pricing_currency_unit_price: Option<String>,
    pricing_currency_cost: String,
}

impl UsageColumns {
    fn of(charge: &Charge, billing: &Billing) -> Self {
        let measured = charge
            .consumed
            .as_ref()
            .filter(|(_, units)| *units != 0.0 || charge.cost == 0.0);
        let Some((unit, units)) = measured else {
            // Money without units to price it by: FOCUS allows no usage row without them.
            return UsageColumns {
                category: "Adjustment",
                consumed_quantity: None,
                unit: None,
                unit_price: None,
                pricing_category: None,
                pricing_currency: charge.pricing_currency.clone(),
                pricing_currency_unit_price: None,
                pricing_currency_cost: decimal(charge.pricing_cost),
            };
        };
        let per_unit = |money: f64| if *units == 0.0 { 0.0 } else { money / units };
        let (pricing_currency, pricing_unit_price, pricing_cost) = match billing.virtual_currency {
            true => (unit.clone(), 1.0, *units),
            false => (
                charge.pricing_currency.clone(),
                per_unit(charge.pricing_cost),
                charge.pricing_cost,
            ),
        };
        UsageColumns {
            category: "Usage",
            consumed_quantity: Some(decimal(*units)),
            unit: Some(focus_unit(unit)),
            unit_price: Some(decimal(per_unit(charge.cost))),
            pricing_category: Some("Standard".to_string()),
            pricing_currency,
            pricing_currency_unit_price: Some(decimal(pricing_unit_price)),
            pricing_currency_cost: decimal(pricing_cost),
        }
    }
}

/// A charge day's bounds and its calendar month's, as FOCUS writes date-times.
struct Period {
    charge_start: String,
    charge_end: String,
    billing_start: String,
    billing_end: String,
}

impl Period {
    fn of(day: NaiveDate) -> Self {
        let month = day.with_day(1).unwrap_or(day);
        let midnight = |d: NaiveDate| d.format("%Y-%m-%dT00:00:00Z").to_string();
        Period {
            charge_start: midnight(day),
            charge_end: midnight(day + Days::new(1)),
            billing_start: midnight(month),
            billing_end: midnight(month + Months::new(1)),
        }
    }
}

/// A vendor's unit in FOCUS's Unit Format: a count word capitalised (`host` → `Host`), and a
/// unit per time its plural time (`GiB-hour` → `GiB-Hours`). Data sizes (`GiB`) and units
/// already capitalised (`RU`) are kept as they are.
pub fn focus_unit(unit: &str) -> String {
    const TIMES: [&str; 6] = ["Year", "Month", "Day", "Hour", "Minute", "Second"];
    let capitalised = |word: &str| {
        let mut chars = word.chars();
        match chars.next() {
            Some(first) if word.chars().all(|c| c.is_ascii_lowercase()) => {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            }
            _ => word.to_string(),
        }
    };
    let time = |word: &str| {
        let singular = word.strip_suffix('s').unwrap_or(word);
        TIMES
            .iter()
            .find(|time| time.eq_ignore_ascii_case(singular))
    };
    match unit.rsplit_once('-') {
        Some((base, per)) if time(per).is_some() => {
            let per = time(per).map_or(per.to_string(), |t| format!("{t}s"));
            format!("{}-{per}", capitalised(base))
        }
        _ => capitalised(unit),
    }
}

/// A decimal with a fractional part always (`25.0`, never `25`, which CSV readers type as an
/// integer column) and never an exponent.
pub fn decimal(value: f64) -> String {
    let text = value.to_string();
    match text.contains('.') || !value.is_finite() {
        true => text,
        false => text + ".0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn billing(virtual_currency: bool) -> Billing {
        Billing {
            provider: "Acme",
            account_id: "org-1".into(),
            sub_account_label: Some("tenant"),
            service_category: "Integration",
            service_subcategory: "Workflow Orchestration",
            virtual_currency,
        }
    }

    fn charge(consumed: Option<(&str, f64)>, cost: f64) -> Charge {
        Charge {
            sub_account: Some("t1".into()),
            service: "robots".into(),
            allocation: vec!["sales".into()],
            consumed: consumed.map(|(unit, units)| (unit.to_string(), units)),
            cost,
            pricing_currency: "USD".into(),
            pricing_cost: cost * 1.25,
            origin: "price",
        }
    }

    fn rows(virtual_currency: bool, charges: &[Charge]) -> Vec<csv::StringRecord> {
        let billing = billing(virtual_currency);
        let account = Account {
            source: "acme-prod",
            vendor: "acme",
            billing: &billing,
        };
        let mut writer = FocusWriter::new(Vec::new(), vec!["team".into()], "EUR").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        writer.write_day(&account, day, charges).unwrap();
        let bytes = writer.finish().unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(
            reader.headers().unwrap(),
            &csv::StringRecord::from(COLUMNS.to_vec())
        );
        reader.records().map(Result::unwrap).collect()
    }

    fn column<'r>(row: &'r csv::StringRecord, name: &str) -> &'r str {
        let at = COLUMNS.iter().position(|c| *c == name).unwrap();
        &row[at]
    }

    #[test]
    fn a_usage_row_prices_its_units_so_that_price_times_quantity_is_its_cost() {
        let rows = rows(false, &[charge(Some(("Unit", 40.0)), 10.0)]);
        let row = &rows[0];
        for (name, value) in [
            ("ChargeCategory", "Usage"),
            ("ConsumedQuantity", "40.0"),
            ("ConsumedUnit", "Unit"),
            ("CommitmentDiscountStatus", ""),
            ("PricingQuantity", "40.0"),
            ("ListUnitPrice", "0.25"),
            ("ContractedUnitPrice", "0.25"),
            ("BilledCost", "10.0"),
            ("EffectiveCost", "10.0"),
            ("BillingCurrency", "EUR"),
            ("PricingCurrency", "USD"),
            ("PricingCurrencyEffectiveCost", "12.5"),
            ("PricingCurrencyListUnitPrice", "0.3125"),
            ("SubAccountId", "t1"),
            ("Tags", r#"{"team":"sales"}"#),
            ("ChargeClass", ""),
            ("x_Source", "acme-prod"),
        ] {
            assert_eq!(column(row, name), value, "{name}");
        }
    }

    #[test]
    fn a_day_at_the_end_of_a_year_is_charged_to_its_month_and_ends_at_midnight_of_the_next() {
        let rows = rows(false, &[charge(Some(("Unit", 1.0)), 1.0)]);
        let row = &rows[0];
        assert_eq!(column(row, "ChargePeriodStart"), "2026-12-31T00:00:00Z");
        assert_eq!(column(row, "ChargePeriodEnd"), "2027-01-01T00:00:00Z");
        assert_eq!(column(row, "BillingPeriodStart"), "2026-12-01T00:00:00Z");
        assert_eq!(column(row, "BillingPeriodEnd"), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn virtual_currency_units_price_themselves_one_for_one() {
        let rows = rows(true, &[charge(Some(("RU", 40.0)), 10.0)]);
        let row = &rows[0];
        assert_eq!(column(row, "PricingCurrency"), "RU");
        assert_eq!(column(row, "PricingCurrencyListUnitPrice"), "1.0");
        assert_eq!(column(row, "PricingCurrencyEffectiveCost"), "40.0");
        assert_eq!(column(row, "ListUnitPrice"), "0.25");
    }

    #[test]
    fn money_without_units_is_an_adjustment_without_quantities_or_unit_prices() {
        let rows = rows(false, &[charge(None, 7.0), charge(Some(("GiB", 0.0)), 3.0)]);
        for row in &rows {
            assert_eq!(column(row, "ChargeCategory"), "Adjustment");
            for empty in [
                "ConsumedQuantity",
                "PricingQuantity",
                "ListUnitPrice",
                "PricingUnit",
            ] {
                assert_eq!(column(row, empty), "", "{empty}");
            }
        }
        assert_eq!(column(&rows[0], "BilledCost"), "7.0");
        assert_eq!(column(&rows[0], "ListCost"), "7.0");
    }

    #[test]
    fn vendor_units_are_written_in_focus_unit_format() {
        for (vendor, focus) in [
            ("host-hour", "Host-Hours"),
            ("GiB-hour", "GiB-Hours"),
            ("GiB-Hours", "GiB-Hours"),
            ("GiB", "GiB"),
            ("units", "Units"),
            ("RU", "RU"),
            ("session-day", "Session-Days"),
            ("pod-hours", "Pod-Hours"),
            ("read-write", "read-write"),
        ] {
            assert_eq!(focus_unit(vendor), focus, "{vendor}");
        }
    }

    #[test]
    fn decimals_always_have_a_fraction_and_never_an_exponent() {
        assert_eq!(decimal(25.0), "25.0");
        assert_eq!(decimal(0.1), "0.1");
        assert_eq!(decimal(1e-7), "0.0000001");
        assert_eq!(decimal(1e21), "1000000000000000000000.0");
        assert_eq!(decimal(-2.5), "-2.5");
    }
}

//! Power Platform's entitlements (`entitlements: true`): the tenant's currency reports
//! (add-ons and credits purchased, allocated and consumed) and its tenant capacity, as
//! families and as the vendor's own budgets.

use super::*;

pub(super) const CURRENCY_REPORTS_PATH: &str = "/licensing/tenantCapacity/currencyReports";
pub(super) const TENANT_CAPACITY_PATH: &str = "/licensing/tenantCapacity";

/// What a refused entitlement request needs, for the user's error.
pub(super) const ENTITLEMENT_PERMISSION: &str = "entitlements: true needs the service principal to read tenant capacity, as a Power Platform administrator may";

pub static CURRENCY_ALLOCATED: FamilyDesc = FamilyDesc {
    name: "consumption_powerplatform_currency_allocated",
    help: "Units of a Power Platform currency (add-on, credits) allocated to environments, from the tenant's currency report.",
};

/// A list, or a list wrapped in `value` (OData style): both are seen from Microsoft's APIs.
/// Any other JSON is an empty list: unexpected answers are data, not failures.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Listed<T> {
    List(Vec<T>),
    Wrapped { value: Vec<T> },
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct CurrencyReport {
    currency_type: Option<String>,
    purchased: Option<f64>,
    allocated: Option<f64>,
    #[serde(default, deserialize_with = "crate::sources::strict::optional_object")]
    consumed: Option<CurrencyConsumed>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct CurrencyConsumed {
    units_consumed: Option<f64>,
    last_updated_day: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct TenantCapacity {
    #[serde(deserialize_with = "crate::sources::strict::nullable_objects")]
    tenant_capacities: Vec<CapacityRow>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct CapacityRow {
    capacity_type: Option<String>,
    capacity_units: Option<String>,
    total_capacity: Option<f64>,
    #[serde(default, deserialize_with = "crate::sources::strict::optional_object")]
    consumption: Option<CapacityConsumption>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct CapacityConsumption {
    actual: Option<f64>,
    actual_updated_on: Option<String>,
}

/// Each currency's purchase as a budget (used: what was consumed, where the report says), and
/// its allocation.
pub(super) fn add_currency_reports(builder: &mut SnapshotBuilder, reports: &[CurrencyReport]) {
    let allocated = builder.family(&CURRENCY_ALLOCATED, vec!["currency_type"], Combine::Sum);
    for report in reports {
        let currency = report.currency_type.as_deref().unwrap_or("");
        if let Some(units) = report.allocated {
            builder.observe(allocated, &[currency], units);
        }
        let consumed = report.consumed.as_ref();
        if let Some(day) = consumed
            .and_then(|c| c.last_updated_day.as_deref())
            .and_then(parse_day_or_time)
        {
            builder.data_updated(day.timestamp() as f64);
        }
        let Some(limit) = report.purchased else {
            continue;
        };
        let used = consumed.and_then(|c| c.units_consumed);
        builder.vendor_budget(vendor_budget(currency, "units", limit, used));
    }
}

/// Each capacity type's total as a budget. Microsoft sends `0001-01-01` as the update time of a
/// consumption it does not report: used is then absent, not 0.
pub(super) fn add_tenant_capacity(builder: &mut SnapshotBuilder, capacity: &TenantCapacity) {
    for row in &capacity.tenant_capacities {
        let Some(limit) = row.total_capacity else {
            continue;
        };
        let consumption = row.consumption.as_ref();
        let updated = consumption
            .and_then(|c| c.actual_updated_on.as_deref())
            .and_then(parse_day_or_time)
            .filter(|at| chrono::Datelike::year(at) > 1);
        if let Some(at) = updated {
            builder.data_updated(at.timestamp() as f64);
        }
        let used = updated.and(consumption.and_then(|c| c.actual));
        let unit = row.capacity_units.as_deref().unwrap_or("units");
        let name = row.capacity_type.as_deref().unwrap_or("");
        builder.vendor_budget(vendor_budget(name, unit, limit, used));
    }
}

pub(super) fn vendor_budget(name: &str, unit: &str, limit: f64, used: Option<f64>) -> VendorBudget {
    VendorBudget {
        name: name.to_string(),
        unit: unit.to_string(),
        limit,
        used,
        forecast: None,
        period: None,
    }
}

//! Microsoft Graph licences: `GET /v1.0/subscribedSkus`, the commercial subscriptions a tenant
//! bought, per SKU: seats bought (`prepaidUnits`) and assigned (`consumedUnits`). Power
//! Automate Premium and Process, Power Apps Premium, and every other Microsoft SKU.
//!
//! Vendor facts (shared/vendor-seats.md §4): client credentials with the scope
//! `https://graph.microsoft.com/.default` and the application permission
//! `Organization.Read.All` (admin consent); `$select` only, no `$filter`, so the SKU filter is
//! the exporter's; no paging documented, `@odata.nextLink` followed if present; the scalars may
//! be null and older answers lack `lockedOut`; a SKU is matched by its stable `skuId` or its
//! part number (exact case in Microsoft's table, compared without case here).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{Endpoint, Facts, PollError, PollPlan, Probe, Source, Vendor};
use crate::http::{PageError, PollSession, Request, TOKEN_ENDPOINT};
use crate::model::billing::Billing;
use crate::model::clock::Clock;
use crate::model::seats::{LicenceSeats, Seats};
use crate::model::snapshot::{Combine, FamilyDesc, Snapshot, SnapshotBuilder};
use crate::model::usage::{BudgetUnit, LevelUsage, Usage};
use crate::settings::FieldError;

pub static SKU_UNITS: FamilyDesc = FamilyDesc {
    name: "consumption_microsoft_sku_units",
    help: "Licence units of a Microsoft SKU by state (prepaidUnits enabled, warning, suspended, locked_out; consumed: assigned), from Microsoft Graph subscribedSkus.",
};

/// The `type: microsoft` entry of the config.
pub struct MicrosoftType;

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Only these SKUs, by part number (any case); none and no `sku_ids`: every SKU.
    #[serde(default)]
    sku_part_numbers: Vec<String>,
    /// Only these SKUs, by `skuId` (a GUID).
    #[serde(default)]
    sku_ids: Vec<String>,
    /// Names for part numbers, over the built-in table of Microsoft's names.
    #[serde(default)]
    licence_names: BTreeMap<String, String>,
}

impl Vendor for MicrosoftType {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "microsoft"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://graph.microsoft.com")
    }

    /// Entra ID's scope for an API is its host with `/.default` (national clouds included).
    fn default_scopes(&self, base_url: &Url) -> Vec<String> {
        let host = base_url.host_str().unwrap_or("graph.microsoft.com");
        vec![format!("{}://{host}/.default", base_url.scheme())]
    }

    fn source(&self, settings: Settings) -> Result<Arc<dyn Source>, Vec<FieldError>> {
        let empty = settings
            .sku_part_numbers
            .iter()
            .chain(&settings.sku_ids)
            .any(|s| s.trim().is_empty());
        if empty {
            return Err(vec![FieldError::new(
                "sku_part_numbers",
                "a SKU part number or id must not be empty",
            )]);
        }
        Ok(Arc::new(Microsoft {
            settings,
            facts: facts(),
            kept: Default::default(),
        }))
    }
}

/// Seats are bought, not consumed: no showback rows.
fn facts() -> Facts {
    let mut label_names = SKU_LABELS.to_vec();
    label_names.push("units");
    Facts {
        label_names,
        error_detail: describe_graph_error,
        budget_unit: BudgetUnit::Fixed("seats"),
        ..Facts::new(ENDPOINTS, &SKU_LABELS)
    }
}

/// Microsoft's names for the SKUs people buy for Power Platform (Microsoft's licensing service
/// plan reference); other part numbers are their own name unless `licence_names` gives one.
const KNOWN_NAMES: [(&str, &str); 12] = [
    ("POWERAUTOMATE_ATTENDED_RPA", "Power Automate Premium"),
    (
        "POWERAUTOMATE_ATTENDED_RPA_GCC",
        "Power Automate Premium for Government",
    ),
    ("Power_Automate_per_process", "Power Automate Process"),
    ("FLOW_BUSINESS_PROCESS", "Power Automate per flow plan"),
    (
        "FLOW_BUSINESS_PROCESS_GCC",
        "Power Automate per flow plan for Government",
    ),
    ("FLOW_PER_USER", "Power Automate per user plan"),
    ("FLOW_PER_USER_DEPT", "Power Automate per user plan dept"),
    (
        "POWERAUTOMATE_UNATTENDED_RPA",
        "Power Automate unattended RPA add-on",
    ),
    ("POWERAPPS_PER_USER", "Power Apps Premium"),
    (
        "POWERAPPS_PER_USER_GCC",
        "Power Apps Premium for Government",
    ),
    ("POWERAPPS_PER_APP", "Power Apps per app Plan"),
    (
        "POWERAPPS_PER_APP_NEW",
        "Power Apps per app Plan (1 app or portal)",
    ),
];

/// A configured Microsoft Entra tenant.
pub struct Microsoft {
    settings: Settings,
    facts: Facts,
    /// The SKUs last read: an inventory, read again when the poll reads inventories
    /// (`inventory_interval`), served from here in between.
    kept: super::kept::Kept<Vec<SubscribedSku>>,
}

/// `value` is required: a body without it is not a tenant without licences.
#[derive(Deserialize)]
struct SkuPage {
    #[serde(deserialize_with = "crate::sources::strict::objects")]
    value: Vec<SubscribedSku>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
struct SubscribedSku {
    sku_id: Option<String>,
    sku_part_number: Option<String>,
    consumed_units: Option<f64>,
    #[serde(default, deserialize_with = "crate::sources::strict::optional_object")]
    prepaid_units: Option<PrepaidUnits>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
struct PrepaidUnits {
    enabled: Option<f64>,
    warning: Option<f64>,
    suspended: Option<f64>,
    locked_out: Option<f64>,
}

/// What the app registration needs, for a refused request's error.
const GRANT: &str = "subscribedSkus needs the application permission Organization.Read.All (or Directory.Read.All) with admin consent, and a token for https://graph.microsoft.com/.default";

/// The labels of the SKU family besides `units`, and of the usage budgets read.
const SKU_LABELS: [&str; 3] = ["sku_id", "sku_part_number", "licence"];

impl Microsoft {
    fn wanted(&self, sku: &SubscribedSku) -> bool {
        let (ids, parts) = (&self.settings.sku_ids, &self.settings.sku_part_numbers);
        if ids.is_empty() && parts.is_empty() {
            return true;
        }
        let id = sku.sku_id.as_deref().unwrap_or("");
        let part = sku.sku_part_number.as_deref().unwrap_or("");
        ids.iter().any(|i| i.eq_ignore_ascii_case(id))
            || parts.iter().any(|p| p.eq_ignore_ascii_case(part))
    }

    fn licence_name(&self, part: &str) -> String {
        if let Some(name) = self.settings.licence_names.get(part) {
            return name.clone();
        }
        KNOWN_NAMES
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(part))
            .map_or_else(|| part.to_string(), |(_, name)| name.to_string())
    }
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: TOKEN_ENDPOINT,
        path_contains: "/oauth2/",
        needs: "an Entra app registration in this tenant (the tenant ID in token_url), its client ID and a current client secret or certificate, and the scope https://graph.microsoft.com/.default; AADSTS7000215 is a wrong secret, AADSTS700016 an app unknown in this tenant, AADSTS700024 a certificate's signed assertion outside its time range (this machine's clock is off: check NTP)",
    },
    Endpoint {
        name: "subscribed SKUs",
        path_contains: "/subscribedSkus",
        needs: "the Microsoft Graph application permission Organization.Read.All (least privileged; Directory.Read.All also works) with admin consent granted in Entra ID > App registrations > API permissions",
    },
];

#[async_trait]
impl Source for Microsoft {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    /// subscribedSkus takes no `$top`: the probe is the first page, as a poll reads it.
    fn probes(&self, session: &PollSession<'_>, _now: DateTime<Utc>) -> Vec<Probe> {
        vec![Probe::of(Request::get(session.url("/v1.0/subscribedSkus")))]
    }

    async fn poll(
        &self,
        session: &PollSession<'_>,
        _clock: &dyn Clock,
        plan: PollPlan,
    ) -> Result<Snapshot, PollError> {
        let read = self.read_skus(session);
        let skus = self.kept.or_read(plan.reads_inventories(), read).await?;
        Ok(self.snapshot(&skus))
    }

    fn billing(&self, _base_url: &Url, _token_url: Option<&Url>) -> Option<Billing> {
        None
    }
}

impl Microsoft {
    /// Every page of `subscribedSkus`, the wanted SKUs kept.
    async fn read_skus(&self, session: &PollSession<'_>) -> Result<Vec<SubscribedSku>, PollError> {
        let mut url = session.url("/v1.0/subscribedSkus");
        let mut skus = Vec::new();
        let fail = |PageError { page, source }| PollError::Item {
            item: format!("page {page} of subscribedSkus ({GRANT})"),
            source,
        };
        loop {
            let page = session.get_page(&url).await.map_err(fail)?;
            let body: SkuPage = page.json_object().map_err(fail)?;
            skus.extend(body.value.into_iter().filter(|sku| self.wanted(sku)));
            match body
                .next_link
                .as_deref()
                .map(str::trim)
                .filter(|l| !l.is_empty())
            {
                Some(link) => url = session.same_host_link(&page, link).map_err(fail)?,
                None => break,
            }
        }
        Ok(skus)
    }
}

impl Microsoft {
    /// The SKU units by state, the seats, and the assigned seats as a level budgets read.
    fn snapshot(&self, skus: &[SubscribedSku]) -> Snapshot {
        let mut builder = SnapshotBuilder::new();
        let mut names = SKU_LABELS.to_vec();
        names.push("units");
        let units = builder.family(&SKU_UNITS, names, Combine::Sum);
        let mut seats = Seats::default();
        let mut assigned = Vec::new();
        for sku in skus {
            let part = sku.sku_part_number.as_deref().unwrap_or("");
            let licence = self.licence_name(part);
            let id = sku.sku_id.as_deref().unwrap_or("");
            let prepaid = sku.prepaid_units.as_ref();
            let states = [
                ("enabled", prepaid.and_then(|p| p.enabled)),
                ("warning", prepaid.and_then(|p| p.warning)),
                ("suspended", prepaid.and_then(|p| p.suspended)),
                ("locked_out", prepaid.and_then(|p| p.locked_out)),
                ("consumed", sku.consumed_units),
            ];
            for (state, value) in states {
                if let Some(value) = value {
                    builder.observe(units, &[id, part, &licence, state], value);
                }
            }
            // Seats in their grace period (warning) are still paid for and assignable.
            let purchased = prepaid.and_then(|p| match (p.enabled, p.warning) {
                (None, None) => None,
                (enabled, warning) => Some(enabled.unwrap_or(0.0) + warning.unwrap_or(0.0)),
            });
            seats.licences.push(LicenceSeats {
                licence: licence.clone(),
                sub_account: String::new(),
                purchased,
                assigned: sku.consumed_units,
                activity: None,
            });
            if let Some(consumed) = sku.consumed_units {
                let labels = vec![id.to_string(), part.to_string(), licence];
                assigned.push((labels, consumed));
            }
        }
        builder.seats(seats);
        builder.usage(Usage::Level(LevelUsage {
            label_names: SKU_LABELS.to_vec(),
            series: assigned,
            members: None,
        }));
        builder.finish()
    }
}

/// Graph's error body: `{"error": {"code", "message"}}`.
fn describe_graph_error(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct GraphError {
        error: GraphErrorBody,
    }
    #[derive(Deserialize)]
    struct GraphErrorBody {
        code: Option<String>,
        message: Option<String>,
    }
    let parsed: GraphError = serde_json::from_slice(body).ok()?;
    let parts: Vec<String> = [parsed.error.code, parsed.error.message]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| parts.join(": "))
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::sources::arbitrary_json::body;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "value",
        "@odata.nextLink",
        "skuId",
        "skuPartNumber",
        "capabilityStatus",
        "consumedUnits",
        "prepaidUnits",
        "enabled",
        "warning",
        "suspended",
        "lockedOut",
    ];

    proptest! {
        #[test]
        fn any_body_decodes_and_folds_or_errors_without_panicking(bytes in body(KEYS)) {
            if let Ok(page) = serde_json::from_slice::<SkuPage>(&bytes) {
                let source = Microsoft { facts: facts(), kept: Default::default(), settings: Settings { sku_part_numbers: Vec::new(), sku_ids: Vec::new(), licence_names: BTreeMap::new() } };
                source.snapshot(&page.value);
            }
        }
    }
}

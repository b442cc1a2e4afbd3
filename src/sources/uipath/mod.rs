//! UiPath Automation Cloud: `POST /lease_/api/usage/{org}/tenants/daily-consumption-by-service`,
//! one request per tenant and consumable code.
//!
//! Vendor facts (shared/vendor-apis.md §3): `startDate`/`endDate` are Unix milliseconds; there
//! is no paging; the answer is `{"items":[{"date","service","consumedAmount"}]}`, and since the
//! raw `date` format is not pinned down it is read as `YYYY-MM-DD`, RFC 3339 or epoch
//! milliseconds; a consumable that is not active in the organisation is refused with a 4xx.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::windows::{parse_day_or_time, WindowSums, Windows};
use super::{Facts, PollError, PollPlan, Probe, Source, TokenDefaults, Vendor};
use crate::http::{PollSession, Request};
use crate::model::billing::Billing;
use crate::model::clock::Clock;
use crate::model::seats::LicenceEnd;
use crate::model::snapshot::{Combine, FamilyDesc, Snapshot, SnapshotBuilder};
use crate::model::usage::{BudgetUnit, ServiceOf, Usage, VendorBudget};
use crate::settings::FieldError;

mod folders;
mod probes;
mod seats;

const DAILY_ENDPOINT: &str = "daily-consumption-by-service";

pub static CONSUMED_UNITS: FamilyDesc = FamilyDesc {
    name: "consumption_uipath_consumed_units",
    help: "UiPath consumable units (consumedAmount) consumed per tenant, consumable code and service in the window (UTC days).",
};

/// The `type: uipath` entry of the config.
pub struct UiPathType;

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    organization_id: String,
    tenant_ids: Vec<String>,
    consumable_codes: Vec<String>,
    #[serde(default)]
    folder_keys: Vec<String>,
    #[serde(default)]
    aggregate_by_ownership: bool,
    #[serde(default = "default_concurrency")]
    concurrency: usize,
    /// Also read each tenant's allocation of each consumable (the consumption summary).
    #[serde(default)]
    entitlements: bool,
    /// Also split each consumable's units by the Orchestrator folder that consumed them (a
    /// `folder` label on what budgets and showback read).
    #[serde(default)]
    by_folder: bool,
    /// Also read each tenant's Orchestrator licence and its named users (seats).
    #[serde(default)]
    seats: bool,
    /// The robot types whose named users are read with `seats: true` (default: the named-user
    /// types).
    seat_robot_types: Option<Vec<String>>,
}

impl UiPath {
    /// A path of the usage (`lease_`) API of the organisation's tenants.
    fn lease_path(&self, endpoint: &str) -> String {
        let organization = &self.settings.organization_id;
        format!("/lease_/api/usage/{organization}/tenants/{endpoint}")
    }

    /// A path of a tenant's Orchestrator OData API.
    fn orchestrator_path(&self, tenant: &str, odata: &str) -> String {
        let organization = &self.settings.organization_id;
        format!("/{organization}/{tenant}/orchestrator_/odata/{odata}")
    }
}

fn default_concurrency() -> usize {
    4
}

impl Vendor for UiPathType {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "uipath"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://cloud.uipath.com")
    }

    /// External applications get tokens from the Identity Server on the same host.
    fn default_token_url(&self, base_url: &Url) -> Option<Url> {
        base_url.join("/identity_/connect/token").ok()
    }

    fn default_scopes(&self, _base_url: &Url) -> Vec<String> {
        vec!["PM.License".to_string()]
    }

    fn source(&self, settings: Settings) -> Result<Arc<dyn Source>, Vec<FieldError>> {
        let mut errors = Vec::new();
        if settings.tenant_ids.is_empty() {
            errors.push(FieldError::new("tenant_ids", "list at least one tenant ID"));
        }
        if settings.consumable_codes.is_empty() {
            errors.push(FieldError::new(
                "consumable_codes",
                "list at least one consumable code, e.g. [RU, PLTU, AGU]",
            ));
        }
        if settings.concurrency == 0 {
            errors.push(FieldError::new("concurrency", "must be at least 1"));
        }
        match (&settings.seat_robot_types, settings.seats) {
            (Some(_), false) => errors.push(FieldError::new(
                "seat_robot_types",
                "the robot types of named users are read with seats: true; set it, or remove seat_robot_types",
            )),
            (Some(types), true) if types.is_empty() => errors.push(FieldError::new(
                "seat_robot_types",
                "list at least one robot type, e.g. [Attended, Development]",
            )),
            _ => {}
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let facts = facts(&settings);
        Ok(Arc::new(UiPath {
            settings,
            facts,
            kept_shares: Default::default(),
        }))
    }
}

/// UiPath bills each consumable (RU, PLTU, AGU, …), units of their own, by day.
/// Orchestrator's `GetLicense` and `GetLicensesNamedUser` require `OR.License(.Read)` and
/// `OR.Settings(.Read)` (its OpenAPI's security entries): `seats: true` asks for both.
fn facts(settings: &Settings) -> Facts {
    let mut usage_labels = USAGE_LABELS.to_vec();
    if settings.by_folder {
        usage_labels.push(folders::FOLDER_LABEL);
    }
    let mut label_names = usage_labels.clone();
    label_names.push("window");
    let scopes = match settings.seats {
        true => seats::SEATS_SCOPES.map(String::from).to_vec(),
        false => Vec::new(),
    };
    Facts {
        reads_date_range: true,
        label_names,
        reports_seat_activity: settings.seats,
        service: Some(ServiceOf::Label("consumable")),
        budget_unit: BudgetUnit::Label("consumable"),
        error_detail: describe_uipath_error,
        token_defaults: TokenDefaults {
            params: Vec::new(),
            scopes,
        },
        ..Facts::new(probes::ENDPOINTS, &usage_labels)
    }
}

/// (service, day, amount) of each item whose date can be read.
fn daily_amounts(items: &[DailyItem<'_>]) -> Vec<(String, DateTime<Utc>, f64)> {
    items
        .iter()
        .filter_map(|i| {
            let at = day_or_millis(i.date.as_ref()?)?;
            Some((
                i.service.as_deref().unwrap_or("").to_string(),
                at,
                i.consumed_amount.unwrap_or(0.0),
            ))
        })
        .collect()
}

/// A UiPath date: a day or time as text, or Unix milliseconds.
fn day_or_millis(value: &serde_json::Value) -> Option<DateTime<Utc>> {
    match value {
        serde_json::Value::String(text) => parse_day_or_time(text),
        serde_json::Value::Number(n) => DateTime::from_timestamp_millis(n.as_i64()?),
        _ => None,
    }
}

/// UiPath's error bodies are not documented; the services seen use `message` (and `traceId`).
fn describe_uipath_error(body: &[u8]) -> Option<String> {
    let parsed: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = parsed.get("message").and_then(|m| m.as_str())?;
    Some(match parsed.get("traceId").and_then(|t| t.as_str()) {
        Some(trace) => format!("{message} [traceId {trace}]"),
        None => message.to_string(),
    })
}

/// The labels of `consumption_uipath_consumed_units` besides `window`.
/// `uipath_service`, not `service`: a prometheus-operator ServiceMonitor adds a `service`
/// target label, which would turn ours into `exported_service`.
const USAGE_LABELS: [&str; 3] = ["tenant_id", "consumable", "uipath_service"];

/// A configured UiPath organisation.
pub struct UiPath {
    settings: Settings,
    facts: Facts,
    /// Each (tenant, consumable, range)'s folder shares as last read (`by_folder: true`).
    kept_shares: std::sync::Mutex<std::collections::HashMap<folders::SharesKey, folders::Shares>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum UsageBody<'a> {
    Items {
        #[serde(borrow, deserialize_with = "crate::sources::strict::objects")]
        items: Vec<DailyItem<'a>>,
    },
    List(#[serde(borrow)] Vec<DailyItem<'a>>),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DailyItem<'a> {
    /// A string or a number of milliseconds.
    date: Option<serde_json::Value>,
    #[serde(borrow)]
    service: Option<Cow<'a, str>>,
    consumed_amount: Option<f64>,
}

/// What one request (a tenant and a consumable) brought back, already folded to days.
struct Consumption {
    tenant: String,
    consumable: String,
    days: Vec<(String, DateTime<Utc>, f64)>,
}

#[async_trait]
impl Source for UiPath {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn probes(&self, session: &PollSession<'_>, now: DateTime<Utc>) -> Vec<Probe> {
        self.smallest_requests(session, now)
    }

    async fn poll(
        &self,
        session: &PollSession<'_>,
        clock: &dyn Clock,
        plan: PollPlan,
    ) -> Result<Snapshot, PollError> {
        let now = clock.now();
        let windows = Windows::planned(now, &plan);
        // Owned pairs: futures borrowing from a closure argument do not prove `Send` here.
        let mut pairs = Vec::new();
        for tenant in &self.settings.tenant_ids {
            for consumable in &self.settings.consumable_codes {
                pairs.push((tenant.clone(), consumable.clone()));
            }
        }
        // Each answer is folded as it comes: memory holds the sums, not every answer.
        let mut folder = Folder::new(windows, &plan);
        let mut answers = stream::iter(pairs.clone())
            .map(|(tenant, consumable)| self.fetch(session, windows, now, tenant, consumable))
            .buffer_unordered(self.settings.concurrency);
        while let Some(answer) = answers.next().await {
            folder.add(&answer?);
        }
        drop(answers);
        let mut summaries: Vec<(String, String, Summary)> = Vec::new();
        if self.settings.entitlements && !plan.history_only {
            summaries = stream::iter(pairs)
                .map(|(tenant, consumable)| self.summary(session, tenant, consumable))
                .buffer_unordered(self.settings.concurrency)
                .try_collect()
                .await?;
        }
        let days = self
            .settings
            .by_folder
            .then(|| folder.sums.day_series(&USAGE_LABELS));
        let mut snapshot = folder.finish(&summaries);
        if self.settings.seats && plan.reads_inventories() {
            let rule = plan.seat_rule(now);
            snapshot.seats = Some(self.seats(session, &rule).await?);
        }
        let bundle_ends = bundle_ends(&summaries);
        if !bundle_ends.is_empty() {
            let seats = snapshot.seats.get_or_insert_with(Default::default);
            seats.ends.extend(bundle_ends);
        }
        if let Some(days) = days {
            let days = (days, plan.reads_inventories());
            let split = self.split_by_folder(session, days, now).await?;
            snapshot
                .families
                .extend(folders::folder_family(&split, &windows));
            if snapshot.usage.is_some() {
                snapshot.usage = Some(Usage::Daily(split));
            }
        }
        Ok(snapshot)
    }

    fn billing(&self, _base_url: &Url, _token_url: Option<&Url>) -> Option<Billing> {
        Some(Billing {
            provider: "UiPath",
            account_id: self.settings.organization_id.clone(),
            sub_account_label: Some("tenant_id"),
            service_category: "Integration",
            service_subcategory: "Workflow Orchestration",
            // Robot, platform and AI units: bought in bundles, prices are per unit.
            virtual_currency: true,
        })
    }
}

/// Every tenant's and consumable's days, summed into the windows per label set. One label set
/// gets its amounts from one answer, so the order answers come in changes no sum.
struct Folder {
    sums: WindowSums,
    newest: Option<DateTime<Utc>>,
}

impl Folder {
    fn new(windows: Windows, plan: &PollPlan) -> Self {
        Folder {
            sums: WindowSums::new(windows).seeded(plan, &CONSUMED_UNITS),
            newest: None,
        }
    }

    fn add(&mut self, answer: &Consumption) {
        for (service, at, amount) in &answer.days {
            self.newest = self.newest.max(Some(*at));
            self.sums.add(
                &[&answer.tenant, &answer.consumable, service],
                at.date_naive(),
                *amount,
            );
        }
    }

    fn finish(self, summaries: &[(String, String, Summary)]) -> Snapshot {
        let mut builder = SnapshotBuilder::new();
        self.sums
            .into_family(&mut builder, &CONSUMED_UNITS, &USAGE_LABELS);
        if let Some(newest) = self.newest {
            builder.data_updated(newest.timestamp() as f64);
        }
        if !summaries.is_empty() {
            add_allocations(&mut builder, summaries);
        }
        builder.finish()
    }
}

/// One row of the per-tenant consumption summary. The field names come from UiPath's CLI only,
/// so every field is optional and an absent one is absent, never 0.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
struct Summary {
    allocated: Option<f64>,
    consumed_from_tenant_pool: Option<f64>,
    consumed_from_org_pool: Option<f64>,
    start_date: Option<serde_json::Value>,
    end_date: Option<serde_json::Value>,
}

/// The summary as one row, a list of rows (the first is the tenant's), or rows under `items`.
#[derive(Deserialize)]
#[serde(untagged)]
enum SummaryBody {
    Items { items: Vec<Summary> },
    List(Vec<Summary>),
    Row(Summary),
}

/// What a refused summary needs, for the user's error.
const ENTITLEMENT_GRANT: &str = "entitlements: true needs a token that may read license consumption: UiPath documents the password grant of an Organization Administrator for it, or an external application with PM.License";

pub static ORG_POOL_UNITS: FamilyDesc = FamilyDesc {
    name: "consumption_uipath_org_pool_units",
    help: "UiPath units a tenant drew from the organisation's pool beyond its allocation, in the bundle window: above 0, the tenant has outgrown its allocation.",
};

/// When each tenant's bundle of each consumable ends, as its summary says.
fn bundle_ends(summaries: &[(String, String, Summary)]) -> Vec<LicenceEnd> {
    let end = |(tenant, consumable, summary): &(String, String, Summary)| {
        let end = day_or_millis(summary.end_date.as_ref()?)?;
        Some(LicenceEnd {
            licence: format!("{consumable} bundle"),
            sub_account: tenant.clone(),
            at: end.timestamp() as f64,
        })
    };
    summaries.iter().filter_map(end).collect()
}

/// Each tenant's allocation of each consumable as a budget with `origin="vendor"`, over the
/// bundle window, and what it drew from the organisation's pool.
fn add_allocations(builder: &mut SnapshotBuilder, summaries: &[(String, String, Summary)]) {
    let org_pool = builder.family(
        &ORG_POOL_UNITS,
        vec!["tenant_id", "consumable"],
        Combine::Sum,
    );
    for (tenant, consumable, summary) in summaries {
        if let Some(units) = summary.consumed_from_org_pool {
            builder.observe(org_pool, &[tenant, consumable], units);
        }
        let Some(limit) = summary.allocated else {
            continue;
        };
        let used = summary
            .consumed_from_tenant_pool
            .zip(summary.consumed_from_org_pool)
            .map(|(tenant_pool, org_pool)| tenant_pool + org_pool);
        let time = |value: &Option<serde_json::Value>| day_or_millis(value.as_ref()?);
        let period = time(&summary.start_date)
            .zip(time(&summary.end_date))
            .map(|(start, end)| (start.timestamp() as f64, end.timestamp() as f64));
        builder.vendor_budget(VendorBudget {
            name: format!("{consumable}/{tenant}"),
            unit: consumable.clone(),
            limit,
            used,
            forecast: None,
            period,
        });
    }
}

impl UiPath {
    /// The consumption summary of one tenant and consumable, in its bundle window (no dates:
    /// each consumable's own window, as UiPath's CLI reads it).
    async fn summary(
        &self,
        session: &PollSession<'_>,
        tenant: String,
        consumable: String,
    ) -> Result<(String, String, Summary), PollError> {
        let item = format!(
            "consumption summary of tenant {tenant} consumable {consumable} ({ENTITLEMENT_GRANT})"
        );
        let fail = |source| PollError::Item {
            item: item.clone(),
            source,
        };
        let path = self.lease_path(&format!("{tenant}/consumption-summary"));
        let body = json!({"consumableCode": consumable});
        let response = session
            .send(&Request::post_json(session.url(&path), body))
            .await
            .map_err(fail)?;
        let summary = match response.json::<SummaryBody>().map_err(fail)? {
            SummaryBody::Row(row) => row,
            SummaryBody::List(rows) | SummaryBody::Items { items: rows } => {
                rows.into_iter().next().unwrap_or_default()
            }
        };
        Ok((tenant, consumable, summary))
    }

    async fn fetch(
        &self,
        session: &PollSession<'_>,
        windows: Windows,
        now: DateTime<Utc>,
        tenant: String,
        consumable: String,
    ) -> Result<Consumption, PollError> {
        let item = format!("tenant {tenant} consumable {consumable}");
        let fail = |source| PollError::Item {
            item: item.clone(),
            source,
        };
        let path = self.lease_path(DAILY_ENDPOINT);
        let mut body = json!({
            "tenantId": tenant,
            "startDate": windows.query_start_time().timestamp_millis(),
            "endDate": now.timestamp_millis(),
            "consumableCode": consumable,
            "aggregateByOwnership": self.settings.aggregate_by_ownership,
        });
        if !self.settings.folder_keys.is_empty() {
            body["folderKeys"] = json!(self.settings.folder_keys);
        }
        let response = session
            .send(&Request::post_json(session.url(&path), body))
            .await
            .map_err(fail)?;
        let parsed: UsageBody = response.json().map_err(fail)?;
        let items = match parsed {
            UsageBody::Items { items } | UsageBody::List(items) => items,
        };
        let days = daily_amounts(&items);
        Ok(Consumption {
            tenant,
            consumable,
            days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::testing::at;

    #[test]
    fn days_fold_into_windows_per_tenant_consumable_and_service_across_a_month_boundary() {
        let items: UsageBody = serde_json::from_str(
            r#"{"items":[
              {"date":"2026-11-30","service":"orchestrator","consumedAmount":10.5},
              {"date":"2026-12-01T00:00:00Z","service":"orchestrator","consumedAmount":2},
              {"date":1796083200000,"service":"studio","consumedAmount":4},
              {"date":"2026-11-29","service":"studio","consumedAmount":100},
              {"date":"not a date","service":"studio","consumedAmount":1000},
              {"service":"studio","consumedAmount":1000}
            ]}"#,
        )
        .unwrap();
        let (UsageBody::Items { items } | UsageBody::List(items)) = items;
        let results = [
            Consumption {
                tenant: "t1".into(),
                consumable: "RU".into(),
                days: daily_amounts(&items),
            },
            Consumption {
                tenant: "t1".into(),
                consumable: "PLTU".into(),
                days: vec![("orchestrator".into(), at("2026-12-01T08:00:00Z"), 1.25)],
            },
        ];
        // The 1st of December: month_to_date is today alone; yesterday is in November.
        let mut folder = Folder::new(
            Windows::at(at("2026-12-01T10:00:00Z")),
            &PollPlan::default(),
        );
        for answer in &results {
            folder.add(answer);
        }
        let snapshot = folder.finish(&[]);
        let family = snapshot
            .family("consumption_uipath_consumed_units")
            .unwrap();
        let get = |consumable, service, window| family.get(&["t1", consumable, service, window]);
        assert_eq!(get("RU", "orchestrator", "today"), Some(2.0));
        assert_eq!(get("RU", "orchestrator", "yesterday"), Some(10.5));
        assert_eq!(get("RU", "orchestrator", "month_to_date"), Some(2.0));
        // 1796083200000 ms is 2026-12-01T00:00Z; 2026-11-29 is in no window.
        assert_eq!(get("RU", "studio", "today"), Some(4.0));
        assert_eq!(get("RU", "studio", "yesterday"), Some(0.0));
        assert_eq!(get("RU", "studio", "month_to_date"), Some(4.0));
        assert_eq!(get("PLTU", "orchestrator", "month_to_date"), Some(1.25));
        assert_eq!(family.len(), 9, "three label sets, three windows each");
        assert_eq!(
            snapshot.data_updated,
            Some(at("2026-12-01T08:00:00Z").timestamp() as f64)
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::sources::arbitrary_json::body;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "items",
        "date",
        "service",
        "consumedAmount",
        "message",
        "traceId",
    ];

    proptest! {
        #[test]
        fn any_body_decodes_and_folds_or_errors_without_panicking(bytes in body(KEYS)) {
            if let Ok(parsed) = serde_json::from_slice::<UsageBody>(&bytes) {
                let items = match parsed {
                    UsageBody::Items { items } | UsageBody::List(items) => items,
                };
                let mut sums = WindowSums::new(Windows::at(Utc::now()));
                for (service, at, amount) in daily_amounts(&items) {
                    sums.add(&["t", "c", &service], at.date_naive(), amount);
                }
                sums.into_family(&mut SnapshotBuilder::new(), &CONSUMED_UNITS, &USAGE_LABELS);
            }
            let _ = describe_uipath_error(&bytes);
        }
    }
}

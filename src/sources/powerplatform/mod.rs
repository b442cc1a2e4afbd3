//! Power Platform licensing: `GET /licensing/UserPerFlowCapacitySource` (Power Automate
//! per-flow capacity consumption), and optionally `.../TenantContextSummary`.
//!
//! Vendor facts (shared/vendor-apis.md §1): `startDate` is required, `endDate` defaults to now;
//! paging is `pageNumber`/`pageSize` with only `currentPage` in the answer, no total and no
//! next link, so the end is a 204 or an empty page (a short page may be a server-side cap on
//! `pageSize`, which is undocumented, not the last); whether pages count from 0 or 1 is
//! undocumented
//! (`first_page`, default 1); `flowContext` and `flowLicenseCategorization` have no published
//! enum; throttling may come as a body with `error.code = BurstRequestsThrottled`.

mod entitlements;

use entitlements::*;
use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use reqwest::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use super::windows::{parse_day_or_time, WindowSums, Windows};
use super::{with_query, Endpoint, Facts, PollError, PollPlan, Probe, Source, Vendor};
use crate::http::{PollSession, Request, TOKEN_ENDPOINT};
use crate::model::billing::Billing;
use crate::model::clock::Clock;
use crate::model::snapshot::{Combine, FamilyDesc, Snapshot, SnapshotBuilder};
use crate::model::usage::{ServiceOf, VendorBudget};
use crate::settings::{check_labels, FieldError};

const RECORDS_PATH: &str = "/licensing/UserPerFlowCapacitySource";
const SUMMARY_PATH: &str = "/licensing/UserPerFlowCapacitySource/TenantContextSummary";

pub static FLOW_CAPACITY_UNITS: FamilyDesc = FamilyDesc {
    name: "consumption_powerplatform_flow_capacity_units",
    help: "Power Automate per-flow capacity consumptionUnits summed over the window (UTC days: today, yesterday, month_to_date).",
};
pub static USERS: FamilyDesc = FamilyDesc {
    name: "consumption_powerplatform_users",
    help:
        "Users per flow context by licensing status, from the Power Platform TenantContextSummary.",
};

/// The `type: powerplatform` entry of the config.
pub struct PowerPlatformType;

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "default_api_version")]
    api_version: String,
    #[serde(default = "default_page_size")]
    page_size: u32,
    #[serde(default = "default_first_page")]
    first_page: u32,
    #[serde(default)]
    filters: Filters,
    #[serde(default = "default_labels")]
    labels: Vec<Label>,
    #[serde(default)]
    tenant_summary: bool,
    /// Also read what the tenant bought: currency reports and tenant capacity.
    #[serde(default)]
    entitlements: bool,
}

#[derive(Deserialize, Serialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
struct Filters {
    environment_id: Option<String>,
    flow_context: Option<String>,
    flow_license_categorization: Option<String>,
    resource_id: Option<String>,
    user_id: Option<String>,
}

#[derive(Deserialize, Serialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
enum Label {
    EnvironmentId,
    FlowContext,
    FlowLicenseCategorization,
    ResourceId,
    UserId,
}

impl Label {
    fn name(self) -> &'static str {
        match self {
            Label::EnvironmentId => "environment_id",
            Label::FlowContext => "flow_context",
            Label::FlowLicenseCategorization => "flow_license_categorization",
            Label::ResourceId => "resource_id",
            Label::UserId => "user_id",
        }
    }

    fn value<'r>(self, record: &'r CapacityRecord<'_>) -> &'r str {
        let field = match self {
            Label::EnvironmentId => &record.environment_id,
            Label::FlowContext => &record.flow_context,
            Label::FlowLicenseCategorization => &record.flow_license_categorization,
            Label::ResourceId => &record.resource_id,
            Label::UserId => &record.user_id,
        };
        field.as_deref().unwrap_or("")
    }
}

fn default_api_version() -> String {
    "2024-10-01".into()
}
fn default_page_size() -> u32 {
    1000
}
fn default_first_page() -> u32 {
    1
}
fn default_labels() -> Vec<Label> {
    vec![
        Label::EnvironmentId,
        Label::FlowContext,
        Label::FlowLicenseCategorization,
    ]
}

impl Vendor for PowerPlatformType {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "powerplatform"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.powerplatform.com")
    }

    /// Entra ID's scope for an API is its host with `/.default` (sovereign clouds included).
    fn default_scopes(&self, base_url: &Url) -> Vec<String> {
        vec![format!(
            "{}/.default",
            base_url.origin().ascii_serialization()
        )]
    }

    fn source(&self, settings: Settings) -> Result<Arc<dyn Source>, Vec<FieldError>> {
        let mut errors = Vec::new();
        if settings.page_size == 0 {
            errors.push(FieldError::new("page_size", "must be at least 1"));
        }
        let names: Vec<&str> = settings.labels.iter().map(|l| l.name()).collect();
        errors.extend(check_labels("labels", &names));
        if !errors.is_empty() {
            return Err(errors);
        }
        let facts = facts(&settings);
        Ok(Arc::new(PowerPlatform { settings, facts }))
    }
}

/// Power Platform bills flow capacity by licence categorisation, by day; Microsoft throttles
/// bursts with a body of its own besides 429.
fn facts(settings: &Settings) -> Facts {
    let usage_labels: Vec<&'static str> = settings.labels.iter().map(|l| l.name()).collect();
    let mut label_names = usage_labels.clone();
    label_names.extend(["window", "flow_context", "status", "currency_type"]);
    Facts {
        reads_date_range: true,
        label_names,
        service: Some(ServiceOf::Label("flow_license_categorization")),
        error_detail: describe_microsoft_error,
        throttle_signal: Some(is_burst_throttled),
        ..Facts::new(ENDPOINTS, &usage_labels)
    }
}

/// A configured Power Platform tenant.
pub struct PowerPlatform {
    settings: Settings,
    facts: Facts,
}

/// A page of records. Strings borrow from the response body where they can (a page holds
/// thousands of records, each with six strings).
/// `records` is required: the documented empty answer is 204 or `records: []` (or null, which
/// Microsoft's client reads anywhere); an object without it (a gateway's or an error's body)
/// read as no records would drop every series.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordsPage<'a> {
    #[serde(borrow, deserialize_with = "crate::sources::strict::nullable_objects")]
    records: Vec<CapacityRecord<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CapacityRecord<'a> {
    #[serde(borrow)]
    consumption_date: Option<Cow<'a, str>>,
    consumption_units: Option<f64>,
    #[serde(borrow)]
    environment_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    flow_context: Option<Cow<'a, str>>,
    #[serde(borrow)]
    flow_license_categorization: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resource_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SummaryBody {
    List(Vec<ContextSummary>),
    Wrapped { value: Vec<ContextSummary> },
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ContextSummary {
    flow_context: Option<String>,
    count_of_users_exceeding_capacity: Option<f64>,
    count_of_users_in_compliance: Option<f64>,
    count_of_users_without_a_license: Option<f64>,
    count_of_users_without_premium_license_using_premium_features: Option<f64>,
}

/// Power Platform's endpoints. The service principal is an Entra app registration that a
/// Power Platform administrator registered (`pac admin application register`), after which its
/// calls are made as a Power Platform Administrator.
const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: TOKEN_ENDPOINT,
        path_contains: "/oauth2/",
        needs: "an Entra app registration in this tenant (the tenant ID in token_url), its client ID and a current client secret or certificate, and the scope https://api.powerplatform.com/.default (the matching sovereign host's for another cloud); AADSTS7000215 is a wrong secret, AADSTS700016 an app unknown in this tenant, AADSTS700024 a certificate's signed assertion outside its time range (this machine's clock is off: check NTP)",
    },
    Endpoint {
        name: "tenant summary",
        path_contains: SUMMARY_PATH,
        needs: "tenant_summary: true needs what usage needs",
    },
    Endpoint {
        name: "usage",
        path_contains: RECORDS_PATH,
        needs: "the API permission Power Platform API (app 8578e004-a5c6-46e7-913e-12f58912df43) on the app registration with admin consent, and the app registered as a Power Platform management application by a Power Platform administrator (pac admin application register), so that its calls are made as a Power Platform Administrator",
    },
    Endpoint {
        name: "currency reports",
        path_contains: CURRENCY_REPORTS_PATH,
        needs: "entitlements: true needs the service principal to read tenant capacity, as a Power Platform administrator may (the app registered with pac admin application register)",
    },
    Endpoint {
        name: "tenant capacity",
        path_contains: TENANT_CAPACITY_PATH,
        needs: "entitlements: true needs the service principal to read tenant capacity, as a Power Platform administrator may (the app registered with pac admin application register)",
    },
];

#[async_trait]
impl Source for PowerPlatform {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    /// Today's first record, the summary and the entitlements, as configured.
    fn probes(&self, session: &PollSession<'_>, now: DateTime<Utc>) -> Vec<Probe> {
        let today = Windows::today_only(now);
        let records = self.records_url(session, today, now, self.settings.first_page);
        let mut probes = vec![Probe::of(Request::get(with_query(
            &records, "pageSize", "1",
        )))];
        if self.settings.tenant_summary {
            probes.push(Probe::of(Request::get(self.summary_url(session, today))));
        }
        if self.settings.entitlements {
            probes.push(Probe::of(Request::get(self.currency_reports_url(session))));
            probes.push(Probe::of(Request::get(self.tenant_capacity_url(session))));
        }
        probes
    }

    async fn poll(
        &self,
        session: &PollSession<'_>,
        clock: &dyn Clock,
        plan: PollPlan,
    ) -> Result<Snapshot, PollError> {
        let now = clock.now();
        let windows = Windows::planned(now, &plan);
        let mut folder = Folder::new(&self.settings.labels, windows, &plan);
        self.read_records(session, (windows, now), &mut folder)
            .await?;
        let mut builder = folder.finish();
        if self.settings.tenant_summary && !plan.history_only {
            self.poll_summary(session, windows, &mut builder).await?;
        }
        let mut snapshot = builder.finish();
        // The currency and capacity reports are an inventory: read every inventory_interval.
        if self.settings.entitlements && plan.reads_inventories() {
            let mut entitlements = SnapshotBuilder::new();
            self.poll_entitlements(session, &mut entitlements).await?;
            snapshot.inventory = Some(Box::new(entitlements.finish()));
        }
        Ok(snapshot)
    }

    /// The account is the Entra tenant, which the token URL names
    /// (`https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`); the base URL otherwise.
    fn billing(&self, base_url: &Url, token_url: Option<&Url>) -> Option<Billing> {
        let tenant = token_url
            .and_then(|url| url.path_segments()?.next().map(str::to_string))
            .filter(|segment| !segment.is_empty());
        let sub_account = self.settings.labels.contains(&Label::EnvironmentId);
        Some(Billing {
            provider: "Microsoft",
            account_id: tenant.unwrap_or_else(|| base_url.origin().ascii_serialization()),
            sub_account_label: sub_account.then_some("environment_id"),
            service_category: "Integration",
            service_subcategory: "Workflow Orchestration",
            // Flow capacity: the licences' capacity units that runs draw on.
            virtual_currency: true,
        })
    }
}

impl PowerPlatform {
    /// Every page of records, folded as it arrives, to the 204 or the empty page that ends
    /// them: a short page may be a server's cap on `pageSize`, not the last. The same page
    /// twice is a server that ignores `pageNumber`: a short one was all there is, a full one
    /// could hide more and fails the poll as a loop.
    async fn read_records(
        &self,
        session: &PollSession<'_>,
        (windows, now): (Windows, DateTime<Utc>),
        folder: &mut Folder<'_>,
    ) -> Result<(), PollError> {
        use std::hash::{Hash, Hasher};
        let mut page_number = self.settings.first_page;
        let mut previous = None;
        loop {
            let url = self.records_url(session, windows, now, page_number);
            let page = session.get_page(&url).await?;
            if page.response.status == StatusCode::NO_CONTENT || page.response.body.is_empty() {
                return Ok(());
            }
            let body: RecordsPage = page.json_object()?;
            if body.records.is_empty() {
                return Ok(());
            }
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            page.response.body.hash(&mut hasher);
            let digest = hasher.finish();
            if previous == Some(digest) {
                if body.records.len() < self.settings.page_size as usize {
                    return Ok(());
                }
                let link = crate::model::secret::redacted_url(&url);
                let source = crate::http::HttpError::PaginationLoop { link };
                return Err(crate::http::PageError {
                    page: page.number,
                    source,
                }
                .into());
            }
            previous = Some(digest);
            folder.fold_page(&body);
            page_number += 1;
        }
    }

    fn summary_url(&self, session: &PollSession<'_>, windows: Windows) -> Url {
        let mut url = session.url(SUMMARY_PATH);
        self.base_query(&mut url, windows.start());
        if let Some(environment) = &self.settings.filters.environment_id {
            url.query_pairs_mut()
                .append_pair("environmentId", environment);
        }
        url
    }

    fn currency_reports_url(&self, session: &PollSession<'_>) -> Url {
        let mut url = session.url(CURRENCY_REPORTS_PATH);
        url.query_pairs_mut()
            .append_pair("includeAllocations", "true")
            .append_pair("includeConsumptions", "true")
            .append_pair("api-version", &self.settings.api_version);
        url
    }

    fn tenant_capacity_url(&self, session: &PollSession<'_>) -> Url {
        let mut url = session.url(TENANT_CAPACITY_PATH);
        url.query_pairs_mut()
            .append_pair("api-version", &self.settings.api_version);
        url
    }

    fn base_query(&self, url: &mut Url, start: NaiveDate) {
        let start = Utc.from_utc_datetime(&start.and_hms_opt(0, 0, 0).unwrap_or_default());
        url.query_pairs_mut()
            .append_pair("api-version", &self.settings.api_version)
            .append_pair(
                "startDate",
                &start.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
    }

    fn records_url(
        &self,
        session: &PollSession<'_>,
        windows: Windows,
        now: DateTime<Utc>,
        page_number: u32,
    ) -> Url {
        let mut url = session.url(RECORDS_PATH);
        self.base_query(&mut url, windows.query_start());
        let filters = &self.settings.filters;
        let mut query = url.query_pairs_mut();
        query.append_pair("endDate", &now.to_rfc3339_opts(SecondsFormat::Secs, true));
        for (key, value) in [
            ("environmentId", &filters.environment_id),
            ("flowContext", &filters.flow_context),
            (
                "flowLicenseCategorization",
                &filters.flow_license_categorization,
            ),
            ("resourceId", &filters.resource_id),
            ("userId", &filters.user_id),
        ] {
            if let Some(value) = value {
                query.append_pair(key, value);
            }
        }
        query.append_pair("pageNumber", &page_number.to_string());
        query.append_pair("pageSize", &self.settings.page_size.to_string());
        drop(query);
        url
    }

    /// Currency reports (purchased, allocated, consumed per currency) and tenant capacity
    /// (total and actual per capacity type), as budgets with `origin="vendor"`.
    async fn poll_entitlements(
        &self,
        session: &PollSession<'_>,
        builder: &mut SnapshotBuilder,
    ) -> Result<(), PollError> {
        let fail = |what: &'static str| {
            move |source| PollError::Item {
                item: format!("{what} ({ENTITLEMENT_PERMISSION})"),
                source,
            }
        };
        let response = session
            .send(&Request::get(self.currency_reports_url(session)))
            .await
            .map_err(fail("currency reports"))?;
        let reports = match response
            .json::<Listed<CurrencyReport>>()
            .map_err(fail("currency reports"))?
        {
            Listed::List(list) | Listed::Wrapped { value: list } => list,
            // Not "no reports": the contract's answer is a bare array (or `value`).
            Listed::Other(_) => {
                let detail = "expected a list of currency reports (an array, or one under `value`)";
                return Err(fail("currency reports")(
                    response.decode_error(detail.into()),
                ));
            }
        };
        add_currency_reports(builder, &reports);
        let response = session
            .send(&Request::get(self.tenant_capacity_url(session)))
            .await
            .map_err(fail("tenant capacity"))?;
        let capacity: TenantCapacity = response.json_object().map_err(fail("tenant capacity"))?;
        add_tenant_capacity(builder, &capacity);
        Ok(())
    }

    async fn poll_summary(
        &self,
        session: &PollSession<'_>,
        windows: Windows,
        builder: &mut SnapshotBuilder,
    ) -> Result<(), PollError> {
        let url = self.summary_url(session, windows);
        let response = session.send(&Request::get(url)).await?;
        let summaries = match response.status {
            StatusCode::NO_CONTENT => Vec::new(),
            _ => match response.json::<SummaryBody>()? {
                SummaryBody::List(list) | SummaryBody::Wrapped { value: list } => list,
            },
        };
        let users = builder.family(&USERS, vec!["flow_context", "status"], Combine::Sum);
        for summary in &summaries {
            let context = summary.flow_context.as_deref().unwrap_or("");
            for (status, count) in [
                (
                    "exceeding_capacity",
                    summary.count_of_users_exceeding_capacity,
                ),
                ("in_compliance", summary.count_of_users_in_compliance),
                ("without_license", summary.count_of_users_without_a_license),
                (
                    "without_premium_using_premium",
                    summary.count_of_users_without_premium_license_using_premium_features,
                ),
            ] {
                // A null count is no count (Microsoft's client reads null anywhere), not zero.
                if let Some(count) = count {
                    builder.observe(users, &[context, status], count);
                }
            }
        }
        Ok(())
    }
}

/// Folds capacity records into window sums per label set.
struct Folder<'a> {
    labels: &'a [Label],
    sums: WindowSums,
    newest: Option<DateTime<Utc>>,
}

impl<'a> Folder<'a> {
    fn new(labels: &'a [Label], windows: Windows, plan: &PollPlan) -> Self {
        Folder {
            labels,
            sums: WindowSums::new(windows).seeded(plan, &FLOW_CAPACITY_UNITS),
            newest: None,
        }
    }

    fn fold_page(&mut self, page: &RecordsPage<'_>) {
        let mut values: Vec<&str> = Vec::with_capacity(self.labels.len());
        for record in &page.records {
            let Some(at) = record
                .consumption_date
                .as_deref()
                .and_then(parse_day_or_time)
            else {
                continue;
            };
            self.newest = self.newest.max(Some(at));
            values.clear();
            values.extend(self.labels.iter().map(|l| l.value(record)));
            self.sums.add(
                &values,
                at.date_naive(),
                record.consumption_units.unwrap_or(0.0),
            );
        }
    }

    fn finish(self) -> SnapshotBuilder {
        let mut builder = SnapshotBuilder::new();
        let names: Vec<&'static str> = self.labels.iter().map(|l| l.name()).collect();
        self.sums
            .into_family(&mut builder, &FLOW_CAPACITY_UNITS, &names);
        if let Some(newest) = self.newest {
            builder.data_updated(newest.timestamp() as f64);
        }
        builder
    }
}

#[derive(Deserialize)]
struct MicrosoftError {
    error: MicrosoftErrorBody,
}

#[derive(Deserialize)]
struct MicrosoftErrorBody {
    code: Option<String>,
    message: Option<String>,
}

/// `{"error":{"code":"…","message":"…"}}` as `code: message`.
fn describe_microsoft_error(body: &[u8]) -> Option<String> {
    let parsed: MicrosoftError = serde_json::from_slice(body).ok()?;
    let parts: Vec<&str> = [
        parsed.error.code.as_deref(),
        parsed.error.message.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(": "))
}

fn is_burst_throttled(body: &[u8]) -> bool {
    serde_json::from_slice::<MicrosoftError>(body)
        .is_ok_and(|e| e.error.code.as_deref() == Some("BurstRequestsThrottled"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::testing::at;

    #[test]
    fn records_fold_into_window_sums_per_label_set_across_a_year_boundary() {
        let page: RecordsPage = serde_json::from_str(
            r#"{"records":[
              {"consumptionDate":"2027-01-01T02:00:00Z","consumptionUnits":3,"environmentId":"e1","flowContext":"Premium","flowLicenseCategorization":"PerFlow"},
              {"consumptionDate":"2027-01-01","consumptionUnits":1.5,"environmentId":"e1","flowContext":"Premium","flowLicenseCategorization":"PerFlow","userId":"u1"},
              {"consumptionDate":"2026-12-31T23:59:59Z","consumptionUnits":7,"environmentId":"e1","flowContext":"Premium","flowLicenseCategorization":"PerFlow"},
              {"consumptionDate":"2026-12-30T12:00:00Z","consumptionUnits":100,"environmentId":"e2","flowContext":"Process","flowLicenseCategorization":"PerFlow"},
              {"consumptionDate":"garbage","consumptionUnits":1000,"environmentId":"e1"},
              {"consumptionUnits":1000,"environmentId":"e1"}
            ]}"#,
        )
        .unwrap();
        let labels = default_labels();
        // New Year's Day: yesterday is in the old year, month_to_date only the new one.
        let mut folder = Folder::new(
            &labels,
            Windows::at(at("2027-01-01T09:00:00Z")),
            &PollPlan::default(),
        );
        folder.fold_page(&page);
        let snapshot = folder.finish().finish();
        let family = snapshot
            .family("consumption_powerplatform_flow_capacity_units")
            .unwrap();
        let get = |env, context, window| family.get(&[env, context, "PerFlow", window]);
        assert_eq!(get("e1", "Premium", "today"), Some(4.5));
        assert_eq!(get("e1", "Premium", "yesterday"), Some(7.0));
        assert_eq!(get("e1", "Premium", "month_to_date"), Some(4.5));
        // e2's only record is two days old: in no window, so no label set is made for it.
        assert_eq!(get("e2", "Process", "today"), None);
        assert_eq!(family.len(), 3);
        assert_eq!(
            snapshot.data_updated,
            Some(at("2027-01-01T02:00:00Z").timestamp() as f64)
        );
    }

    #[test]
    fn microsoft_errors_and_burst_throttles_are_recognised() {
        let body = br#"{"error":{"code":"BurstRequestsThrottled","message":"Too many requests","defaultUrlType":"x"}}"#;
        assert!(is_burst_throttled(body));
        assert_eq!(
            describe_microsoft_error(body).as_deref(),
            Some("BurstRequestsThrottled: Too many requests")
        );
        assert!(!is_burst_throttled(br#"{"error":{"code":"Forbidden"}}"#));
        assert!(!is_burst_throttled(b"<html>"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::sources::arbitrary_json::body;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "records",
        "currentPage",
        "consumptionDate",
        "consumptionUnits",
        "environmentId",
        "flowContext",
        "flowLicenseCategorization",
        "resourceId",
        "userId",
        "value",
        "countOfUsersExceedingCapacity",
        "error",
        "code",
        "message",
    ];

    proptest! {
        #[test]
        fn any_body_decodes_and_folds_or_errors_without_panicking(bytes in body(KEYS)) {
            let labels = [Label::EnvironmentId, Label::UserId];
            if let Ok(page) = serde_json::from_slice::<RecordsPage>(&bytes) {
                let mut folder = Folder::new(&labels, Windows::at(Utc::now()), &PollPlan::default());
                folder.fold_page(&page);
                folder.finish();
            }
            let _ = serde_json::from_slice::<SummaryBody>(&bytes);
            let _ = describe_microsoft_error(&bytes);
            let _ = is_burst_throttled(&bytes);
        }
    }
}

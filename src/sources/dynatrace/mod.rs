//! Dynatrace Account Management: subscription usage split by monitoring environment,
//! `GET /sub/v3/accounts/{account}/subscriptions/{subscription}/environments/usage` (or the older
//! unpaged v2, which Dynatrace retires on 2027-01-11).
//!
//! Vendor facts (shared/vendor-apis.md §5): SSO tokens need `resource=urn:dtaccount:{account}`
//! and live 300 s, so a long walk renews them (the token cache does, before each request); v3
//! pages with `page-key` ← `nextPageKey`, where `""` and null both end; a deprecated endpoint
//! answers with `Deprecation` and `Sunset` headers; large walks produce 502s (retried by the HTTP
//! layer); there is no error body schema.

use folder::*;
use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::HeaderMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use super::windows::{end_of_last_day, parse_day_or_time, WindowSums, Windows};
use super::{Facts, PollError, PollPlan, Probe, Source, TokenDefaults, Vendor};
use crate::http::{HttpError, PageError, PollSession, Request};
use crate::model::billing::Billing;
use crate::model::clock::Clock;
use crate::model::seats::LicenceEnd;
use crate::model::snapshot::{FamilyDesc, Snapshot, SnapshotBuilder};
use crate::model::usage::{BudgetUnit, ServiceOf, VendorBudget};
use crate::settings::FieldError;
use allocation::RawCosts;

mod allocation;
mod folder;
mod probes;

pub static USAGE: FamilyDesc = FamilyDesc {
    name: "consumption_dynatrace_usage",
    help: "Dynatrace Platform Subscription usage value per environment and capability in the window (UTC days, by each entry's startTime), in the unit label's unit.",
};

/// The `type: dynatrace` entry of the config.
pub struct DynatraceType;

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    account_uuid: String,
    /// Without it, every active subscription of the account, listed at each poll.
    subscription_uuid: Option<String>,
    #[serde(default)]
    environment_ids: Vec<String>,
    #[serde(default)]
    capability_keys: Vec<String>,
    #[serde(default)]
    api_version: ApiVersion,
    page_size: Option<u32>,
    /// Also read the subscription's commitment and Dynatrace's forecast of it.
    #[serde(default)]
    entitlements: bool,
    /// Split the cost (read with entitlements: true) by Dynatrace's cost allocation:
    /// `cost_center` or `product`, then a label of the cost and a showback match key.
    cost_allocation: Option<CostAllocation>,
}

/// A Dynatrace cost-allocation field.
#[derive(Deserialize, Serialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
enum CostAllocation {
    CostCenter,
    Product,
}

impl CostAllocation {
    /// The label the split carries.
    fn label(self) -> &'static str {
        match self {
            CostAllocation::CostCenter => "cost_center",
            CostAllocation::Product => "product",
        }
    }

    /// The `field` query parameter.
    fn field(self) -> &'static str {
        match self {
            CostAllocation::CostCenter => "COSTCENTER",
            CostAllocation::Product => "PRODUCT",
        }
    }
}

#[derive(Deserialize, Serialize, JsonSchema, Default, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum ApiVersion {
    V2,
    #[default]
    V3,
}

impl Vendor for DynatraceType {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "dynatrace"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.dynatrace.com")
    }

    fn default_token_url(&self, _base_url: &Url) -> Option<Url> {
        Url::parse("https://sso.dynatrace.com/sso/oauth2/token").ok()
    }

    fn default_scopes(&self, _base_url: &Url) -> Vec<String> {
        vec!["account-uac-read".to_string()]
    }

    fn source(&self, settings: Settings) -> Result<Arc<dyn Source>, Vec<FieldError>> {
        if settings.page_size == Some(0) {
            return Err(vec![FieldError::new("page_size", "must be at least 1")]);
        }
        if settings.api_version == ApiVersion::V2 && settings.page_size.is_some() {
            return Err(vec![FieldError::new(
                "page_size",
                "v2 is not paged; remove page_size or use api_version: v3",
            )]);
        }
        if settings.cost_allocation.is_some() && !settings.entitlements {
            return Err(vec![FieldError::new(
                "cost_allocation",
                "cost_allocation splits the cost that entitlements: true reads: set entitlements: true",
            )]);
        }
        let facts = Arc::new(facts(&settings));
        Ok(Arc::new(Dynatrace {
            settings: Arc::new(settings),
            facts,
            listed: Default::default(),
            kept_allocations: Default::default(),
        }))
    }
}

/// Dynatrace bills each capability, by day; the token is for the account (`resource`).
fn facts(settings: &Settings) -> Facts {
    let money_labels: Vec<&'static str> = settings
        .cost_allocation
        .map(CostAllocation::label)
        .into_iter()
        .collect();
    let mut label_names = USAGE_LABELS.to_vec();
    label_names.extend(COST_LABELS.iter().filter(|l| !USAGE_LABELS.contains(l)));
    label_names.extend(&money_labels);
    label_names.push("window");
    let resource = format!("urn:dtaccount:{}", settings.account_uuid);
    Facts {
        reads_date_range: true,
        money_labels,
        label_names,
        service: Some(ServiceOf::Label("capability_key")),
        budget_unit: BudgetUnit::Label("unit"),
        token_defaults: TokenDefaults {
            params: vec![("resource".to_string(), resource)],
            scopes: Vec::new(),
        },
        ..Facts::new(probes::ENDPOINTS, &USAGE_LABELS)
    }
}

/// A configured Dynatrace subscription.
#[derive(Clone)]
pub struct Dynatrace {
    settings: Arc<Settings>,
    facts: Arc<Facts>,
    /// The subscriptions last listed (without `subscription_uuid`).
    listed: Arc<super::kept::Kept<Vec<String>>>,
    /// The cost allocation's shares last read, by subscription and days.
    kept_allocations: Arc<std::sync::Mutex<allocation::KeptShares>>,
}

/// `data` is required, as Dynatrace's spec marks it: an object without it (a gateway's or an
/// error's body) read as no records would drop every series.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsagePage<'a> {
    #[serde(borrow, deserialize_with = "crate::sources::strict::objects")]
    data: Vec<EnvironmentUsage<'a>>,
    #[serde(borrow, default)]
    last_modified_time: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    next_page_key: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct EnvironmentUsage<'a> {
    #[serde(borrow)]
    environment_id: Option<Cow<'a, str>>,
    /// `usage` on usage pages, `cost` on cost pages: the entries have the same shape.
    #[serde(
        borrow,
        alias = "cost",
        deserialize_with = "crate::sources::strict::objects"
    )]
    usage: Vec<CapabilityUsage<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CapabilityUsage<'a> {
    #[serde(borrow)]
    capability_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    capability_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    start_time: Option<Cow<'a, str>>,
    value: Option<f64>,
    #[serde(borrow)]
    unit_measure: Option<Cow<'a, str>>,
    /// Cost entries' currency.
    #[serde(borrow)]
    currency_code: Option<Cow<'a, str>>,
}

/// `GET /sub/v2/accounts/{a}/subscriptions/{s}`: what the subscription reports of its
/// commitment (every field required in Dynatrace's spec; read leniently all the same).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SubscriptionBody {
    #[serde(default, deserialize_with = "crate::sources::strict::optional_object")]
    budget: Option<CommitmentBudget>,
    #[serde(default, deserialize_with = "crate::sources::strict::optional_object")]
    current_period: Option<CurrentPeriod>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CommitmentBudget {
    total: Option<f64>,
    used: Option<f64>,
    currency_code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CurrentPeriod {
    start_time: Option<String>,
    end_time: Option<String>,
}

/// `GET /sub/v2/accounts/{a}/subscriptions/forecast`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ForecastBody {
    forecast_median: Option<f64>,
}

/// `GET /sub/v2/accounts/{a}/subscriptions`: the account's subscriptions, unpaged.
/// `data` is required: a list without it is not an account with no subscriptions.
#[derive(Deserialize)]
struct SubscriptionList {
    #[serde(deserialize_with = "crate::sources::strict::objects")]
    data: Vec<SubscriptionSummary>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SubscriptionSummary {
    uuid: Option<String>,
    status: Option<String>,
}

/// What a failed subscription list says it needs.
const LIST_SCOPE: &str = "without subscription_uuid the exporter lists the account's subscriptions, which needs the scope account-uac-read";

/// What a failed entitlement request says it needs.
const ENTITLEMENT_SCOPE: &str =
    "entitlements: true needs the scope account-uac-read and the account-viewer permission";

/// What a failed cost-allocation request says it needs.
const ALLOCATION_NEEDS: &str = "cost_allocation needs the scope account-uac-read, the account-viewer permission, and cost allocation on the subscription (DPS agreements signed after April 2023)";

pub static COST: FamilyDesc = FamilyDesc {
    name: "consumption_dynatrace_cost",
    help: "Dynatrace Platform Subscription cost per environment and capability in the window (UTC days, by each entry's startTime), as Dynatrace computes it, in the currency label's currency.",
};

/// The labels of `consumption_dynatrace_cost` besides `window`.
const COST_LABELS: [&str; 5] = [
    "subscription_uuid",
    "environment_id",
    "capability_key",
    "capability_name",
    "currency",
];

/// The labels of `consumption_dynatrace_usage` besides `window`.
const USAGE_LABELS: [&str; 5] = [
    "subscription_uuid",
    "environment_id",
    "capability_key",
    "capability_name",
    "unit",
];

#[async_trait]
impl Source for Dynatrace {
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
        let subscriptions = match &self.settings.subscription_uuid {
            Some(uuid) => vec![uuid.clone()],
            None => {
                let list = self.active_subscriptions(session);
                self.listed.or_read(plan.reads_inventories(), list).await?
            }
        };
        let mut folder = Folder {
            sums: WindowSums::new(windows).seeded(&plan, &USAGE),
            newest: None,
            sunset: None,
            costs: None,
        };
        for subscription in &subscriptions {
            self.read_usage(session, (subscription, windows, now), &mut folder)
                .await?;
        }
        if self.settings.entitlements {
            let costs = self.read_all_costs(session, &subscriptions, (windows, now), &plan);
            folder.costs = Some((costs.await?, self.cost_labels()));
        }
        let mut snapshot = folder.finish();
        // Commitments and the forecast are an inventory: read every inventory_interval.
        if self.settings.entitlements && plan.reads_inventories() {
            let mut commitments = Snapshot::default();
            self.add_commitments(session, &subscriptions, &mut commitments)
                .await?;
            snapshot.inventory = Some(Box::new(commitments));
        }
        Ok(snapshot)
    }

    fn billing(&self, _base_url: &Url, _token_url: Option<&Url>) -> Option<Billing> {
        Some(Billing {
            provider: "Dynatrace",
            account_id: self.settings.account_uuid.clone(),
            sub_account_label: Some("environment_id"),
            service_category: "Management and Governance",
            service_subcategory: "Observability",
            virtual_currency: false,
        })
    }
}

/// The subscriptions of a listing that are not terminated or expired.
fn active_in(response: &crate::http::Response) -> Result<Vec<String>, HttpError> {
    let list: SubscriptionList = response.json_object()?;
    Ok(list
        .data
        .into_iter()
        .filter(|s| !matches!(s.status.as_deref(), Some("TERMINATED" | "EXPIRED")))
        .filter_map(|s| s.uuid.filter(|uuid| !uuid.is_empty()))
        .collect())
}

impl Dynatrace {
    fn list_url(&self, session: &PollSession<'_>) -> Url {
        let account = &self.settings.account_uuid;
        session.url(&format!("/sub/v2/accounts/{account}/subscriptions"))
    }

    fn commitment_url(&self, session: &PollSession<'_>, subscription: &str) -> Url {
        let account = &self.settings.account_uuid;
        session.url(&format!(
            "/sub/v2/accounts/{account}/subscriptions/{subscription}"
        ))
    }

    fn forecast_url(&self, session: &PollSession<'_>) -> Url {
        let account = &self.settings.account_uuid;
        session.url(&format!(
            "/sub/v2/accounts/{account}/subscriptions/forecast"
        ))
    }

    fn path(&self, subscription: &str) -> String {
        let version = match self.settings.api_version {
            ApiVersion::V2 => "v2",
            ApiVersion::V3 => "v3",
        };
        format!(
            "/sub/{version}/accounts/{}/subscriptions/{subscription}/environments/usage",
            self.settings.account_uuid
        )
    }

    /// `GET /sub/v2/accounts/{a}/subscriptions` (one page): the subscriptions not terminated
    /// or expired, as Dynatrace's own CLI reads the status (its full list of values is not
    /// documented; a subscription without one counts as active). None is an error: an
    /// account polled for nothing would look healthy.
    async fn active_subscriptions(
        &self,
        session: &PollSession<'_>,
    ) -> Result<Vec<String>, PollError> {
        let account = &self.settings.account_uuid;
        let item = || format!("the subscription list of account {account} ({LIST_SCOPE})");
        let fail = |source| PollError::Item {
            item: item(),
            source,
        };
        let response = session
            .send(&Request::get(self.list_url(session)))
            .await
            .map_err(fail)?;
        let active = active_in(&response).map_err(fail)?;
        if active.is_empty() {
            return Err(PollError::Item {
                item: item(),
                source: response.decode_error(
                    "no active subscription in the account: set subscription_uuid, or check account_uuid".into(),
                ),
            });
        }
        Ok(active)
    }

    /// One subscription's usage pages, folded.
    async fn read_usage(
        &self,
        session: &PollSession<'_>,
        (subscription, windows, now): (&str, Windows, DateTime<Utc>),
        folder: &mut Folder,
    ) -> Result<(), PollError> {
        let path = self.path(subscription);
        let first = self.first_url(session, &path, windows, now);
        let paged = self.settings.api_version == ApiVersion::V3;
        self.walk(session, (first, &path, paged), |page, headers| {
            folder.note_sunset(headers, subscription);
            folder.fold_page(subscription, page);
        })
        .await
        .map_err(PollError::Page)
    }

    /// Every subscription's money per day, split by the cost allocation when one is set,
    /// over the same days as usage: a top-level money budget takes Dynatrace's money of its
    /// whole period, not the windows' month.
    async fn read_all_costs(
        &self,
        session: &PollSession<'_>,
        subscriptions: &[String],
        (windows, now): (Windows, DateTime<Utc>),
        plan: &PollPlan,
    ) -> Result<WindowSums, PollError> {
        let mut costs = WindowSums::new(windows).seeded(plan, &COST);
        for subscription in subscriptions {
            let raw = self
                .read_costs(session, (subscription, windows, now))
                .await?;
            match self.settings.cost_allocation {
                Some(field) => {
                    let cadence = (windows, now, plan.reads_inventories());
                    let split = self.allocate(session, (subscription, field), cadence, raw);
                    split.await?.fold_into(&mut costs);
                }
                None => raw.fold_into(&mut costs),
            }
        }
        Ok(costs)
    }

    /// Each subscription's commitment as a vendor budget, and its end as a licence end.
    async fn add_commitments(
        &self,
        session: &PollSession<'_>,
        subscriptions: &[String],
        snapshot: &mut Snapshot,
    ) -> Result<(), PollError> {
        // The forecast is the account's: it belongs to a subscription only if there is one.
        let with_forecast = subscriptions.len() == 1;
        for subscription in subscriptions {
            let budget = self
                .commitment(session, subscription, with_forecast)
                .await?;
            let end = budget.as_ref().and_then(|b| {
                Some(LicenceEnd {
                    licence: b.name.clone(),
                    sub_account: String::new(),
                    at: b.period?.1,
                })
            });
            let seats = snapshot.seats.get_or_insert_with(Default::default);
            seats.ends.extend(end);
            snapshot.vendor_budgets.extend(budget);
        }
        Ok(())
    }

    /// One subscription's cost pages (a v3 listing whatever api_version the usage uses).
    async fn read_costs(
        &self,
        session: &PollSession<'_>,
        (subscription, windows, now): (&str, Windows, DateTime<Utc>),
    ) -> Result<RawCosts, PollError> {
        let path = self.cost_path(subscription);
        let first = self.first_url(session, &path, windows, now);
        let mut costs = RawCosts::default();
        self.walk(session, (first, &path, true), |page, _| {
            costs.fold(subscription, page)
        })
        .await
        .map_err(|PageError { page, source }| PollError::Item {
            item: format!("cost page {page} of subscription {subscription} ({ENTITLEMENT_SCOPE})"),
            source,
        })?;
        Ok(costs)
    }

    /// The labels of `consumption_dynatrace_cost` besides `window`.
    fn cost_labels(&self) -> Vec<&'static str> {
        let mut labels = COST_LABELS.to_vec();
        labels.extend(self.facts.money_labels.iter().copied());
        labels
    }

    /// The commitment of the subscription's current period, with Dynatrace's forecast of it
    /// (absent while Dynatrace has none: its forecast answers 404 on young accounts). A
    /// subscription without a budget total or used has no commitment to serve: absent, not 0.
    async fn commitment(
        &self,
        session: &PollSession<'_>,
        subscription: &str,
        with_forecast: bool,
    ) -> Result<Option<VendorBudget>, PollError> {
        let fail = |what: &str| {
            let item = format!("subscription {subscription} {what} ({ENTITLEMENT_SCOPE})");
            move |source| PollError::Item { item, source }
        };
        let response = session
            .send(&Request::get(self.commitment_url(session, subscription)))
            .await
            .map_err(fail("commitment"))?;
        let body: SubscriptionBody = response.json_object().map_err(fail("commitment"))?;
        let budget = body.budget.unwrap_or_default();
        let (Some(limit), Some(used)) = (budget.total, budget.used) else {
            return Ok(None);
        };
        let forecast = match with_forecast {
            true => self.forecast(session).await.map_err(fail("forecast"))?,
            false => None,
        };
        // currentPeriod's endTime is the period's last day: it ends at the next midnight.
        let period = body.current_period.and_then(|p| {
            let start = parse_day_or_time(p.start_time.as_deref()?)?;
            let end = end_of_last_day(p.end_time.as_deref()?.get(..10)?)?;
            Some((start.timestamp() as f64, end.timestamp() as f64))
        });
        // A subscription found by listing the account is named, so that several are apart.
        let name = match &self.settings.subscription_uuid {
            Some(_) => "commitment".to_string(),
            None => format!("commitment-{subscription}"),
        };
        Ok(Some(VendorBudget {
            name,
            unit: budget.currency_code.unwrap_or_else(|| "units".into()),
            limit,
            used: Some(used),
            forecast,
            period,
        }))
    }

    /// Walks the pages of a listing from `first`, following `nextPageKey` on `path` when it is
    /// `paged` (v3; v2 answers in one page); an error says on which page.
    async fn walk(
        &self,
        session: &PollSession<'_>,
        (first, path, paged): (Url, &str, bool),
        mut fold: impl FnMut(&UsagePage<'_>, &HeaderMap),
    ) -> Result<(), PageError> {
        let mut url = first;
        loop {
            let page = session.get_page(&url).await?;
            let body: UsagePage = page.json_object()?;
            fold(&body, &page.response.headers);
            match body.next_page_key.as_deref().filter(|k| !k.is_empty()) {
                Some(key) if paged => url = next_url(session, path, key),
                _ => return Ok(()),
            }
        }
    }

    /// Dynatrace's forecast of the account's usage at the commitment's end; none while it
    /// has none (404 on young accounts).
    async fn forecast(&self, session: &PollSession<'_>) -> Result<Option<f64>, HttpError> {
        match session
            .send(&Request::get(self.forecast_url(session)))
            .await
        {
            Ok(response) => Ok(response.json_object::<ForecastBody>()?.forecast_median),
            Err(HttpError::Status { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    fn cost_path(&self, subscription: &str) -> String {
        format!(
            "/sub/v3/accounts/{}/subscriptions/{subscription}/environments/cost",
            self.settings.account_uuid
        )
    }

    fn first_url(
        &self,
        session: &PollSession<'_>,
        path: &str,
        windows: Windows,
        now: DateTime<Utc>,
    ) -> Url {
        let mut url = session.url(path);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair(
                "startTime",
                &windows
                    .query_start_time()
                    .to_rfc3339_opts(SecondsFormat::Secs, true),
            );
            query.append_pair("endTime", &now.to_rfc3339_opts(SecondsFormat::Secs, true));
            if !self.settings.environment_ids.is_empty() {
                query.append_pair("environmentIds", &self.settings.environment_ids.join(","));
            }
            if !self.settings.capability_keys.is_empty() {
                query.append_pair("capabilityKeys", &self.settings.capability_keys.join(","));
            }
            if let Some(size) = self.settings.page_size {
                query.append_pair("page-size", &size.to_string());
            }
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::testing::at;

    #[test]
    fn usage_folds_into_windows_per_environment_and_capability_across_a_quarter_boundary() {
        let pages: [UsagePage; 2] = [
            serde_json::from_str(
                r#"{"data":[{"environmentId":"env1","usage":[
                  {"capabilityKey":"LOGS","capabilityName":"Log ingest","startTime":"2026-10-01T00:00:00Z","value":2.5,"unitMeasure":"GiB"},
                  {"capabilityKey":"LOGS","capabilityName":"Log ingest","startTime":"2026-10-01T13:00:00Z","value":0.5,"unitMeasure":"GiB"},
                  {"capabilityKey":"LOGS","capabilityName":"Log ingest","startTime":"2026-09-30T23:00:00Z","value":8,"unitMeasure":"GiB"},
                  {"capabilityKey":"LOGS","capabilityName":"Log ingest","value":99,"unitMeasure":"GiB"}
                ]}],"lastModifiedTime":"2026-10-01T14:00:00Z","nextPageKey":"k"}"#,
            )
            .unwrap(),
            serde_json::from_str(
                r#"{"data":[{"environmentId":"env2","usage":[
                  {"capabilityKey":"HOSTS","capabilityName":"Hosts","startTime":"2026-09-30","value":4,"unitMeasure":"host-hour"}
                ]}],"lastModifiedTime":"2026-10-01T12:00:00Z"}"#,
            )
            .unwrap(),
        ];
        // October 1st, 15:00: the first day of a quarter and of a month.
        let mut folder = Folder {
            sums: WindowSums::new(Windows::at(at("2026-10-01T15:00:00Z"))),
            newest: None,
            sunset: None,
            costs: None,
        };
        for page in &pages {
            folder.fold_page("sub", page);
        }
        let snapshot = folder.finish();
        let family = snapshot.family("consumption_dynatrace_usage").unwrap();
        let logs = |window| family.get(&["sub", "env1", "LOGS", "Log ingest", "GiB", window]);
        assert_eq!(logs("today"), Some(3.0));
        assert_eq!(logs("yesterday"), Some(8.0));
        assert_eq!(logs("month_to_date"), Some(3.0));
        let hosts = |window| family.get(&["sub", "env2", "HOSTS", "Hosts", "host-hour", window]);
        assert_eq!(hosts("yesterday"), Some(4.0));
        assert_eq!(hosts("month_to_date"), Some(0.0));
        assert_eq!(family.len(), 6);
        assert_eq!(
            snapshot.data_updated,
            Some(at("2026-10-01T14:00:00Z").timestamp() as f64),
            "the newest lastModifiedTime of any page"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::sources::arbitrary_json::body;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "data",
        "lastModifiedTime",
        "nextPageKey",
        "environmentId",
        "clusterId",
        "usage",
        "capabilityKey",
        "capabilityName",
        "startTime",
        "endTime",
        "value",
        "unitMeasure",
    ];

    proptest! {
        #[test]
        fn any_body_decodes_and_folds_or_errors_without_panicking(bytes in body(KEYS)) {
            if let Ok(page) = serde_json::from_slice::<UsagePage>(&bytes) {
                let mut folder = Folder { sums: WindowSums::new(Windows::at(Utc::now())), newest: None, sunset: None, costs: None };
                folder.fold_page("s", &page);
                folder.finish();
            }
        }
    }
}

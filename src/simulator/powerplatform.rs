//! A Power Platform tenant: Entra ID's `POST /{tenant}/oauth2/v2.0/token` and the licensing
//! endpoints `GET /licensing/UserPerFlowCapacitySource` (with `api-version` and `startDate`
//! required, `endDate`, the five filters, `pageNumber`/`pageSize`, and 204 past the last page)
//! and `.../TenantContextSummary`. Errors are Microsoft's `{"error":{"code","message"}}`.
//! Written from Microsoft's REST reference, not from the exporter's source.

use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::{apply_fault, form, Faults, Revisions, RunningSimulator, Tokens};
use crate::model::locks::{lock, read};

/// What a request past the last page gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PastTheEnd {
    NoContent,
    EmptyPage,
}

/// The records a tenant serves.
#[derive(Clone, Debug)]
pub enum FlowRecords {
    /// These records, as JSON objects in the vendor's shape.
    Listed(Vec<Value>),
    /// `per_day` records for each of `days` days ending on `today`, made from `seed` one at a time
    /// (no memory per record, so any size can be served).
    Generated {
        seed: u64,
        per_day: u64,
        days: u64,
        environments: u64,
        users: u64,
    },
}

#[derive(Clone, Debug)]
pub struct PowerPlatformTenant {
    pub client_id: String,
    pub client_secret: String,
    pub first_page: u64,
    pub past_the_end: PastTheEnd,
    pub today: NaiveDate,
    pub records: FlowRecords,
    /// What TenantContextSummary answers (an array, as documented).
    pub summary: Value,
    /// What `GET /licensing/tenantCapacity/currencyReports` answers (`CurrencyReportV2[]`).
    pub currency_reports: Value,
    /// What `GET /licensing/tenantCapacity` answers (`TenantCapacityDetailsModel`).
    pub tenant_capacity: Value,
    /// Whether the service principal may not read tenant capacity: both answer 403.
    pub capacity_forbidden: bool,
    /// A server-side cap on `pageSize` (undocumented, so allowed): pages shorter than asked
    /// that are not the last.
    pub max_page_size: Option<u64>,
}

/// The simulated tenant's ID: a UUID, as the contract types it.
pub const SIM_TENANT_ID: &str = "5c0e2b1a-7d3f-4e5a-9b6c-0d1e2f3a4b5c";

impl Default for PowerPlatformTenant {
    fn default() -> Self {
        PowerPlatformTenant {
            client_id: "pp-sim-client".into(),
            client_secret: "pp-sim-secret".into(),
            first_page: 1,
            past_the_end: PastTheEnd::NoContent,
            max_page_size: None,
            today: Utc::now().date_naive(),
            records: FlowRecords::Generated {
                seed: 1,
                per_day: 200,
                days: 40,
                environments: 3,
                users: 50,
            },
            summary: json!([
                {"flowContext": "Premium", "tenantId": SIM_TENANT_ID, "countOfUsersExceedingCapacity": 3, "countOfUsersInCompliance": 41,
                 "countOfUsersWithoutALicense": 2, "countOfUsersWithoutPremiumLicenseUsingPremiumFeatures": 1},
                {"flowContext": "Process", "tenantId": SIM_TENANT_ID, "countOfUsersExceedingCapacity": 0, "countOfUsersInCompliance": 7,
                 "countOfUsersWithoutALicense": 0, "countOfUsersWithoutPremiumLicenseUsingPremiumFeatures": 0}
            ]),
            // Process licences within their purchase, AI Builder credits past theirs, a legacy
            // per-flow plan whose consumption is not reported.
            currency_reports: json!([
                {"currencyType": "PowerAutomatePerProcess", "purchased": 25, "allocated": 20,
                 "consumed": {"unitsConsumed": 18, "lastUpdatedDay": "2026-11-21T00:00:00Z"}},
                {"currencyType": "AI", "purchased": 1000000, "allocated": 600000,
                 "consumed": {"unitsConsumed": 1250000, "lastUpdatedDay": "2026-11-21T00:00:00Z"}},
                {"currencyType": "PerFlowPlan", "purchased": 5, "allocated": 5}
            ]),
            // The shape of the Terraform provider's recorded response, trimmed.
            tenant_capacity: json!({
                "tenantId": SIM_TENANT_ID, "licenseModelType": "StorageDriven",
                "capacitySummary": {"status": "Available", "statusMessageCode": "AllCapacityAvailable"},
                "tenantCapacities": [
                    {"capacityType": "Database", "capacityUnits": "MB", "totalCapacity": 20480.0, "maxCapacity": 20480.0, "status": "Available",
                     "consumption": {"actual": 3150.94, "rated": 2379.9, "actualUpdatedOn": "2026-11-22T08:52:06.33+00:00", "ratedUpdatedOn": "2026-11-22T08:52:06.33+00:00"}},
                    {"capacityType": "File", "capacityUnits": "MB", "totalCapacity": 409600.0, "status": "Available",
                     "consumption": {"actual": 1024.5, "actualUpdatedOn": "2026-11-22T08:52:06.33+00:00"}},
                    {"capacityType": "ApiCallCount", "capacityUnits": null, "totalCapacity": 2500000.0, "maxCapacity": 10000000.0, "status": null,
                     "consumption": {"actual": 0.0, "rated": 0.0, "actualUpdatedOn": "0001-01-01T00:00:00+00:00"}}
                ]
            }),
            capacity_forbidden: false,
        }
    }
}

#[derive(Clone)]
pub struct PowerPlatformSimulator {
    state: Arc<SimState>,
}

struct SimState {
    tenant: RwLock<PowerPlatformTenant>,
    tokens: Tokens,
    faults: Faults,
    queries: Mutex<Vec<String>>,
    /// Late records: each revised day gets one more record of the amount added, served after
    /// the generated ones, as a late-arriving record would be.
    revisions: Revisions,
}

impl PowerPlatformSimulator {
    pub fn new(tenant: PowerPlatformTenant) -> Self {
        PowerPlatformSimulator {
            state: Arc::new(SimState {
                tenant: RwLock::new(tenant),
                tokens: Tokens::default(),
                faults: Faults::default(),
                queries: Mutex::default(),
                revisions: Revisions::default(),
            }),
        }
    }

    pub async fn start(&self, port: u16) -> std::io::Result<RunningSimulator> {
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/licensing/UserPerFlowCapacitySource", get(records))
            .route(
                "/licensing/UserPerFlowCapacitySource/TenantContextSummary",
                get(summary),
            )
            .route(
                "/licensing/tenantCapacity/currencyReports",
                get(currency_reports),
            )
            .route("/licensing/tenantCapacity", get(tenant_capacity))
            .with_state(self.state.clone());
        super::serve(router, port).await
    }

    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Query strings of the data requests received, in order.
    pub fn queries(&self) -> Vec<String> {
        lock(&self.state.queries).clone()
    }

    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens.count() as u64
    }
}

fn ms_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn error_body(status: StatusCode) -> String {
    json!({"error": {"code": status.canonical_reason().unwrap_or("Error").replace(' ', ""), "message": "simulated fault"}}).to_string()
}

async fn token(
    State(state): State<Arc<SimState>>,
    Path(_tenant): Path<String>,
    body: String,
) -> Response {
    if let Some(response) = apply_fault(state.faults.take(None), error_body).await {
        return response;
    }
    let form = form(&body);
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let tenant = read(&state.tenant).clone();
    if field("grant_type") != "client_credentials" || !field("scope").ends_with("/.default") {
        return ms_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_credentials with a /.default scope is required",
        );
    }
    if field("client_id") != tenant.client_id || field("client_secret") != tenant.client_secret {
        return ms_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    let token = state.tokens.issue("pp-sim-token-", None);
    Json(json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})).into_response()
}

fn authorised(state: &SimState, headers: &HeaderMap) -> bool {
    state.tokens.accepts(headers)
}

struct Query {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    page_number: u64,
    page_size: u64,
    filters: Vec<(&'static str, String)>,
}

fn parse_query(raw: &str, first_page: u64) -> Result<Query, String> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    get("api-version").ok_or("The api-version query parameter is required.")?;
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
        get(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| format!("{name} {v:?} is not a date-time"))
            })
            .transpose()
    };
    let start = time("startDate")?.ok_or("startDate is required.")?;
    let end = time("endDate")?.unwrap_or_else(Utc::now);
    let number = |name: &str, default: u64| {
        get(name).map_or(Ok(default), |v| {
            v.parse().map_err(|_| format!("{name} must be an integer"))
        })
    };
    let filters = [
        ("environmentId", "environmentId"),
        ("flowContext", "flowContext"),
        ("flowLicenseCategorization", "flowLicenseCategorization"),
        ("resourceId", "resourceId"),
        ("userId", "userId"),
    ]
    .into_iter()
    .filter_map(|(param, field)| get(param).map(|v| (field, v.to_string())))
    .collect();
    Ok(Query {
        start,
        end,
        page_number: number("pageNumber", first_page)?,
        page_size: number("pageSize", 100)?.max(1),
        filters,
    })
}

async fn records(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    lock(&state.queries).push(raw.clone());
    if !authorised(&state, &headers) {
        return ms_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "The access token is missing or invalid.",
        );
    }
    let tenant = read(&state.tenant).clone();
    let mut query = match parse_query(&raw, tenant.first_page) {
        Ok(query) => query,
        Err(message) => return ms_error(StatusCode::BAD_REQUEST, "BadRequest", &message),
    };
    if let Some(cap) = tenant.max_page_size {
        query.page_size = query.page_size.min(cap.max(1));
    }
    let page = query.page_number.saturating_sub(tenant.first_page) + 1;
    if let Some(response) = apply_fault(state.faults.take(Some(page as u32)), error_body).await {
        return response;
    }
    let Some(offset) = query
        .page_number
        .checked_sub(tenant.first_page)
        .map(|n| n * query.page_size)
    else {
        return ms_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "pageNumber is out of range.",
        );
    };
    let late = late_records(&state.revisions);
    let page_records = select(&tenant, &late, &query, offset);
    if page_records.is_empty() && tenant.past_the_end == PastTheEnd::NoContent {
        return StatusCode::NO_CONTENT.into_response();
    }
    Json(json!({"currentPage": query.page_number, "records": page_records})).into_response()
}

/// The page at `offset` of the records inside the query's time range and filters: the
/// tenant's, then the late ones.
fn select(tenant: &PowerPlatformTenant, late: &[Value], query: &Query, offset: u64) -> Vec<Value> {
    let in_query = |r: &Value| {
        let at = r["consumptionDate"]
            .as_str()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .map(|t| t.with_timezone(&Utc));
        at.is_some_and(|t| t >= query.start && t <= query.end)
            && query
                .filters
                .iter()
                .all(|(field, wanted)| r[*field].as_str() == Some(wanted.as_str()))
    };
    let take = |iter: &mut dyn Iterator<Item = Value>, offset: u64, size: u64| {
        iter.filter(|r| in_query(r))
            .skip(offset as usize)
            .take(size as usize)
            .collect::<Vec<Value>>()
    };
    let late_iter = || late.iter().cloned();
    match &tenant.records {
        FlowRecords::Listed(records) => take(
            &mut records.iter().cloned().chain(late_iter()),
            offset,
            query.page_size,
        ),
        FlowRecords::Generated {
            seed,
            per_day,
            days,
            environments,
            users,
        } if query.filters.is_empty() => {
            // Generated records are in time order, so the time range is a contiguous index range.
            let spec = (
                *seed,
                *per_day,
                *environments,
                *users,
                tenant.today - Days::days(*days as i64 - 1),
            );
            let total = days * per_day;
            let from = first_index(total, |i| record_time(spec, i) >= query.start);
            let to = first_index(total, |i| record_time(spec, i) > query.end);
            let mut page: Vec<Value> = (from + offset..to.min(from + offset + query.page_size))
                .map(|i| generated_record(spec, i))
                .collect();
            let room = query.page_size - page.len() as u64;
            let late_offset = (from + offset).saturating_sub(to);
            page.extend(take(&mut late_iter(), late_offset, room));
            page
        }
        FlowRecords::Generated { days, per_day, .. } => {
            let total = days * per_day;
            let all = (0..total).map(|i| generated(tenant, i)).chain(late_iter());
            take(&mut all.into_iter(), offset, query.page_size)
        }
    }
}

/// One record per revised day, at noon, of the amount added to it.
fn late_records(revisions: &Revisions) -> Vec<Value> {
    revisions
        .all()
        .into_iter()
        .map(|(day, amount)| {
            let noon = day.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc();
            json!({
                "consumptionDate": noon.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "consumptionUnits": amount,
                "environmentId": "00000000-0000-0000-0000-000000000000",
                "flowContext": "Premium",
                "flowLicenseCategorization": "Premium",
                "resourceId": "flow-0000",
                "tenantId": "11111111-1111-1111-1111-111111111111",
                "userId": "user-00000",
            })
        })
        .collect()
}

fn generated(tenant: &PowerPlatformTenant, i: u64) -> Value {
    let FlowRecords::Generated {
        seed,
        per_day,
        days,
        environments,
        users,
    } = &tenant.records
    else {
        return Value::Null;
    };
    let first_day = tenant.today - Days::days(*days as i64 - 1);
    generated_record((*seed, *per_day, *environments, *users, first_day), i)
}

/// The first index in `0..total` for which `past` holds (`past` is false, then true).
fn first_index(total: u64, past: impl Fn(u64) -> bool) -> u64 {
    let (mut low, mut high) = (0, total);
    while low < high {
        let middle = low + (high - low) / 2;
        if past(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    low
}

/// Generated records are spread evenly over each day, in index order.
fn record_time((_, per_day, _, _, first_day): GeneratedSpec, i: u64) -> DateTime<Utc> {
    let midnight = (first_day + Days::days((i / per_day) as i64))
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    midnight + Days::seconds(((i % per_day) * 86_400 / per_day) as i64)
}

/// Seed, records per day, environments, users, and the first day.
pub type GeneratedSpec = (u64, u64, u64, u64, NaiveDate);

/// Record `i` of a generated tenant: same seed and index, same record.
pub fn generated_record(spec: GeneratedSpec, i: u64) -> Value {
    let (seed, _, environments, users, _) = spec;
    let mut rng = StdRng::seed_from_u64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let at = record_time(spec, i);
    let contexts = ["Premium", "Process", "InContext"];
    let categories = ["Premium", "Standard"];
    json!({
        "consumptionDate": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "consumptionUnits": rng.random_range(1..500),
        "environmentId": format!("00000000-0000-0000-0000-{:012}", rng.random_range(0..environments.max(1))),
        "flowContext": contexts[rng.random_range(0..contexts.len())],
        "flowLicenseCategorization": categories[rng.random_range(0..categories.len())],
        "resourceId": format!("flow-{:04}", rng.random_range(0..200)),
        "tenantId": "11111111-1111-1111-1111-111111111111",
        "userId": format!("user-{:05}", rng.random_range(0..users.max(1))),
    })
}

/// The checks of the tenant capacity calls (a token, `api-version`, the permission, faults);
/// the tenant to answer from, or the refusal.
async fn capacity_call(
    state: &SimState,
    headers: &HeaderMap,
    raw: &str,
) -> Result<PowerPlatformTenant, Response> {
    if !authorised(state, headers) {
        let message = "The access token is missing or invalid.";
        return Err(ms_error(StatusCode::UNAUTHORIZED, "Unauthorized", message));
    }
    if let Some(response) = apply_fault(state.faults.take_entitlement(), error_body).await {
        return Err(response);
    }
    if !raw.contains("api-version=") {
        let message = "api-version is required.";
        return Err(ms_error(StatusCode::BAD_REQUEST, "BadRequest", message));
    }
    let tenant = read(&state.tenant).clone();
    if tenant.capacity_forbidden {
        let message = "The caller does not have permission to read tenant capacity.";
        return Err(ms_error(StatusCode::FORBIDDEN, "Forbidden", message));
    }
    Ok(tenant)
}

async fn currency_reports(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let mut reports = match capacity_call(&state, &headers, &raw).await {
        Ok(tenant) => tenant.currency_reports,
        Err(refusal) => return refusal,
    };
    // Allocations and consumptions only when asked for, as the API's two flags say.
    for report in reports.as_array_mut().into_iter().flatten() {
        if let Some(fields) = report.as_object_mut() {
            if !raw.contains("includeAllocations=true") {
                fields.remove("allocated");
            }
            if !raw.contains("includeConsumptions=true") {
                fields.remove("consumed");
            }
        }
    }
    Json(reports).into_response()
}

async fn tenant_capacity(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    match capacity_call(&state, &headers, &raw.unwrap_or_default()).await {
        Ok(tenant) => Json(tenant.tenant_capacity).into_response(),
        Err(refusal) => refusal,
    }
}

async fn summary(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    lock(&state.queries).push(raw.clone().unwrap_or_default());
    if !authorised(&state, &headers) {
        return ms_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "The access token is missing or invalid.",
        );
    }
    let raw = raw.unwrap_or_default();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    if !pairs.iter().any(|(k, _)| k == "startDate")
        || !pairs.iter().any(|(k, _)| k == "api-version")
    {
        return ms_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "api-version and startDate are required.",
        );
    }
    let tenant = read(&state.tenant).clone();
    Json(tenant.summary).into_response()
}

impl super::kit::Simulated for PowerPlatformSimulator {
    fn faults(&self) -> &Faults {
        PowerPlatformSimulator::faults(self)
    }

    fn revisions(&self) -> Option<&Revisions> {
        Some(&self.state.revisions)
    }
}

/// Power Platform in the simulator kit. A benchmark unit is one flow record, all of them on
/// yesterday, which every poll covers (also on the 1st of a month).
pub struct PowerPlatformKit;

impl super::kit::SimulatedVendor for PowerPlatformKit {
    fn type_name(&self) -> &'static str {
        "powerplatform"
    }

    fn start(
        &self,
        spec: super::kit::TenantSpec,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<super::kit::SimulatedTenant>> {
        use super::kit::{EntryParts, Scale, SimulatedTenant};
        Box::pin(async move {
            let generated = |per_day, days, environments, users| FlowRecords::Generated {
                seed: spec.seed,
                per_day,
                days,
                environments,
                users,
            };
            let (today, records, extra_keys) = match spec.scale {
                // Entitlements in the small and demo tenants, so the fault suite and the demo
                // cover the currency report and tenant capacity requests too.
                Scale::Small => (
                    spec.today,
                    generated(200, 40, 3, 50),
                    "    entitlements: true\n",
                ),
                Scale::Demo => (
                    spec.today,
                    generated(500, 40, 3, 60),
                    "    tenant_summary: true\n    entitlements: true\n",
                ),
                Scale::Units(records) => (
                    spec.today - Days::days(1),
                    generated(records, 1, 20, 5000),
                    "    page_size: 1000\n",
                ),
                // A month's records a day at a time, over 100 days ending today (a 90-day
                // backfill has them all).
                Scale::Monthly(records) => (
                    spec.today,
                    generated(records / 30, 100, 20, 5000),
                    "    page_size: 1000\n",
                ),
            };
            let tenant = PowerPlatformTenant {
                today,
                records,
                ..PowerPlatformTenant::default()
            };
            let simulator = PowerPlatformSimulator::new(tenant.clone());
            let running = simulator.start(0).await?;
            let url = running.url();
            let credentials = (tenant.client_id, tenant.client_secret);
            let parts = EntryParts::client_credentials(
                "powerplatform",
                format!("    base_url: {url}\n{extra_keys}"),
                Some(format!("{url}/contoso.onmicrosoft.com/oauth2/v2.0/token")),
                credentials,
            );
            Ok(SimulatedTenant::new(running, Box::new(simulator), parts))
        })
    }

    fn demo_sources(&self) -> Vec<super::kit::DemoSource> {
        vec![super::kit::DemoSource::named("demo-flows")]
    }

    fn demo_budgets(
        &self,
        spec: super::kit::TenantSpec,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        use super::kit::{demo_budgets, DemoUsage};
        use std::collections::HashMap;
        // The demo tenant's records (as `start` makes them at Scale::Demo) up to now, by day.
        let (per_day, days) = (500, 40);
        let generated = (
            spec.seed,
            per_day,
            3,
            60,
            spec.today - Days::days(days as i64 - 1),
        );
        let mut by_day: HashMap<(String, NaiveDate), f64> = HashMap::new();
        for i in 0..per_day * days {
            let record = generated_record(generated, i);
            let at = record["consumptionDate"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            // Records later today are not consumed yet: the API serves up to now.
            let (Some(at), Some(environment)) = (at, record["environmentId"].as_str()) else {
                continue;
            };
            if at > now {
                continue;
            }
            let units = record["consumptionUnits"].as_f64().unwrap_or(0.0);
            *by_day
                .entry((environment.to_string(), at.date_naive()))
                .or_insert(0.0) += units;
        }
        let environment = |i: u64| format!("00000000-0000-0000-0000-{i:012}");
        let usage = [0, 1, 2, 0].map(|i| {
            let env = environment(i);
            let amount = |day| by_day.get(&(env.clone(), day)).copied().unwrap_or(0.0);
            DemoUsage::daily(&env, amount, now)
        });
        demo_budgets("environment_id", usage, now)
    }

    fn secrets(&self) -> &'static [&'static str] {
        &["pp-sim-secret", "pp-sim-token-"]
    }

    fn empty_answer(&self) -> &'static str {
        r#"{"currentPage":1,"records":[]}"#
    }

    /// Hand-made records for every day from March 2026 to February 2027 in two environments;
    /// the budget matches `e1`, whose amount changes by weekday. A record at 06:00 on a day is
    /// after that day's first second.
    fn budget_case(
        &self,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<Option<super::kit::BudgetCase>>>
    {
        Box::pin(async {
            let amount = |day: NaiveDate| {
                f64::from(chrono::Datelike::weekday(&day).number_from_monday()) + 0.25
            };
            let first = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
            let last = NaiveDate::from_ymd_opt(2027, 2, 28).unwrap_or_default();
            let mut records = Vec::new();
            for day in first.iter_days().take_while(|d| *d <= last) {
                for (environment, units) in [("e1", amount(day)), ("e2", 1000.0)] {
                    records.push(json!({
                        "consumptionDate": format!("{day}T06:00:00Z"), "consumptionUnits": units,
                        "environmentId": environment, "flowContext": "Process",
                        "flowLicenseCategorization": "PerFlow", "resourceId": "flow-1", "userId": "u1"
                    }));
                }
            }
            let tenant = PowerPlatformTenant {
                today: last,
                records: FlowRecords::Listed(records),
                ..PowerPlatformTenant::default()
            };
            let running = PowerPlatformSimulator::new(tenant.clone()).start(0).await?;
            let url = running.url();
            let entry = format!(
                "  - name: s\n    type: powerplatform\n    base_url: {url}\n    page_size: 100\n    oauth2:\n      token_url: {url}/t/oauth2/v2.0/token\n      client_id: {}\n      client_secret: {}\n",
                tenant.client_id, tenant.client_secret,
            );
            Ok(Some(super::kit::BudgetCase {
                running,
                entry,
                key: "environment_id",
                value: "e1".into(),
                unit: "units".into(),
                amount: Box::new(amount),
                vendor_money: None,
            }))
        })
    }

    fn demo_price(&self) -> Option<&'static str> {
        Some(r#"{match: {vendor: powerplatform}, price: 0.02}"#)
    }

    fn wrong_shape_answers(&self) -> &'static [&'static str] {
        &[
            "[]",
            "{}",
            r#"{"currentPage":1}"#,
            r#"{"records":{}}"#,
            "null",
            "7",
        ]
    }

    fn odd_answer(&self) -> &'static str {
        r#"{"records":[{"unexpected":true},{"consumptionDate":"2026-11-22T01:00:00Z"}],"extra":1}"#
    }

    fn benchmark_scale(&self) -> u64 {
        1_000_000
    }

    fn scale_unit(&self) -> &'static str {
        "flow records"
    }

    fn history_benchmark_scale(&self) -> Option<u64> {
        Some(1_000_000)
    }

    fn history_scale_unit(&self) -> &'static str {
        "flow records a month"
    }
}

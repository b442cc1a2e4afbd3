//! Dynatrace Account Management and SSO: `POST /sso/oauth2/token` (client credentials with
//! `scope=account-uac-read` and `resource=urn:dtaccount:{account}`, short-lived tokens), v3
//! `.../environments/usage` with `page-key`/`page-size` cursor paging and time-range filtering,
//! and the unpaged v2 with `Deprecation`, `Sunset` and `Link` headers. Written from Dynatrace's
//! API reference, not from the exporter's source.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration as Days, NaiveDate, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{apply_fault, form, Faults, Revisions, RunningSimulator, Tokens};
use crate::model::locks::lock;

/// Capabilities with the units Dynatrace bills them in.
pub const CAPABILITIES: [(&str, &str, &str); 4] = [
    ("FULLSTACK_MONITORING", "Full-Stack Monitoring", "GiB-hour"),
    (
        "INFRASTRUCTURE_MONITORING",
        "Infrastructure Monitoring",
        "host-hour",
    ),
    (
        "FOUNDATION_AND_DISCOVERY",
        "Foundation & Discovery",
        "host-hour",
    ),
    (
        "LOG_MANAGEMENT_INGEST",
        "Log Management & Analytics - Ingest & Process",
        "GiB",
    ),
];

pub const SUNSET: &str = "Mon, 11 Jan 2027 00:00:00 GMT";

#[derive(Clone, Debug)]
pub struct DynatraceAccount {
    pub account_uuid: String,
    pub subscription_uuid: String,
    pub client_id: String,
    pub client_secret: String,
    pub environments: Vec<String>,
    pub token_lifetime: Duration,
    /// Environment entries per v3 page when the request gives no `page-size`.
    pub default_page_size: usize,
    pub seed: u64,
    /// Days of data, ending on `today`.
    pub days: u32,
    pub today: NaiveDate,
    /// The subscription's commitment: total, used, currency, and the current period's first and
    /// last day, as `GET /sub/v2/.../subscriptions/{s}` reports them.
    pub commitment: Commitment,
    /// `forecastMedian` of the account forecast; none: 404, as on accounts with under 15 days
    /// of cost data.
    pub forecast_median: Option<f64>,
    /// Whether the OAuth client lacks the account-viewer permission: the subscription and
    /// forecast calls then answer 403.
    pub subscription_forbidden: bool,
    /// Whether the cost-allocation breakdown answers 403 (no account-viewer permission, or no
    /// cost allocation on the subscription's agreement).
    pub cost_allocation_forbidden: bool,
    /// More subscriptions of the account, with their `status` (`ACTIVE`, `TERMINATED`, ...),
    /// listed after the main one. Each has its own usage (the seed, shifted) and the main
    /// one's commitment.
    pub other_subscriptions: Vec<(String, String)>,
    /// The main subscription's `status` in the account's list.
    pub subscription_status: String,
}

/// A Dynatrace Platform Subscription's commitment.
#[derive(Clone, Debug, PartialEq)]
pub struct Commitment {
    pub total: f64,
    pub used: f64,
    pub currency: String,
    pub period: (NaiveDate, NaiveDate),
}

impl Default for DynatraceAccount {
    fn default() -> Self {
        DynatraceAccount {
            account_uuid: "7f6e5d4c-0000-4000-8000-000000000001".into(),
            subscription_uuid: "dps-0000-4000-8000-000000000002".into(),
            client_id: "dt0s02.SIMCLIENT".into(),
            client_secret: "dt0s02.SIMCLIENT.SECRET".into(),
            environments: ["abc12345", "def67890", "ghi13579", "jkl24680", "mno11223"]
                .map(String::from)
                .to_vec(),
            token_lifetime: Duration::from_secs(300),
            default_page_size: 2,
            seed: 1,
            days: 40,
            today: Utc::now().date_naive(),
            commitment: Commitment {
                total: 250_000.0,
                used: 131_072.5,
                currency: "USD".into(),
                period: (
                    NaiveDate::from_ymd_opt(2026, 4, 1).unwrap_or_default(),
                    NaiveDate::from_ymd_opt(2027, 3, 31).unwrap_or_default(),
                ),
            },
            forecast_median: Some(262_144.0),
            subscription_forbidden: false,
            cost_allocation_forbidden: false,
            other_subscriptions: Vec::new(),
            subscription_status: "ACTIVE".into(),
        }
    }
}

/// The usage of one capability in one environment on one day: the simulator's data.
pub fn daily_usage(seed: u64, environment: &str, capability: &str, day: NaiveDate) -> f64 {
    let mut hash = seed;
    for byte in format!("{environment}/{capability}/{day}").bytes() {
        hash = hash
            .wrapping_mul(0x100_0000_01b3)
            .wrapping_add(u64::from(byte));
    }
    (StdRng::seed_from_u64(hash).random_range(0.0..2000.0_f64) * 8.0).round() / 8.0
}

#[derive(Clone)]
pub struct DynatraceSimulator {
    state: Arc<SimState>,
}

struct SimState {
    account: DynatraceAccount,
    /// The commitment's `used`, changed by tests (f64 bits).
    commitment_used: std::sync::atomic::AtomicU64,
    tokens: Tokens,
    faults: Faults,
    queries: Mutex<Vec<String>>,
    revisions: Revisions,
    /// Usage added to today's value of every capability in every environment (f64 bits).
    surge: std::sync::atomic::AtomicU64,
}

impl DynatraceSimulator {
    pub fn new(account: DynatraceAccount) -> Self {
        let used = account.commitment.used;
        DynatraceSimulator {
            state: Arc::new(SimState {
                commitment_used: std::sync::atomic::AtomicU64::new(used.to_bits()),
                account,
                tokens: Tokens::default(),
                faults: Faults::default(),
                queries: Mutex::default(),
                revisions: Revisions::default(),
                surge: std::sync::atomic::AtomicU64::new(0f64.to_bits()),
            }),
        }
    }

    pub async fn start(&self, port: u16) -> std::io::Result<RunningSimulator> {
        let router = Router::new()
            .route("/sso/oauth2/token", post(token))
            .route(
                "/sub/{version}/accounts/{account}/subscriptions/{subscription}/environments/usage",
                get(usage),
            )
            .route(
                "/sub/v3/accounts/{account}/subscriptions/{subscription}/environments/cost",
                get(cost),
            )
            .route(
                "/sub/v2/accounts/{account}/subscriptions/forecast",
                get(forecast),
            )
            .route(
                "/sub/v2/accounts/{account}/subscriptions/{subscription}",
                get(subscription),
            )
            .route(
                "/sub/v2/accounts/{account}/subscriptions",
                get(subscription_list),
            )
            .route(
                "/v1/subscriptions/{subscription}/cost-allocation",
                get(cost_allocation),
            )
            .with_state(self.state.clone());
        super::serve(router, port).await
    }

    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Sets what the subscription reports as used of its commitment.
    pub fn set_commitment_used(&self, used: f64) {
        use std::sync::atomic::Ordering;
        self.state
            .commitment_used
            .store(used.to_bits(), Ordering::Relaxed);
    }

    /// From now on, every capability of every environment uses `amount` more today: a surge
    /// that pushes budgets over their limits.
    pub fn add_usage_today(&self, amount: f64) {
        use std::sync::atomic::Ordering;
        let surge = f64::from_bits(self.state.surge.load(Ordering::Relaxed)) + amount;
        self.state.surge.store(surge.to_bits(), Ordering::Relaxed);
    }

    pub fn queries(&self) -> Vec<String> {
        lock(&self.state.queries).clone()
    }

    pub fn tokens_issued(&self) -> usize {
        self.state.tokens.count()
    }
}

fn error_body(status: StatusCode) -> String {
    json!({"error": {"code": status.as_u16(), "message": "simulated fault"}}).to_string()
}

fn fail(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": status.as_u16(), "message": message}})),
    )
        .into_response()
}

async fn token(State(state): State<Arc<SimState>>, body: String) -> Response {
    if let Some(response) = apply_fault(state.faults.take(None), error_body).await {
        return response;
    }
    let form = form(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let account = &state.account;
    if field("grant_type") != "client_credentials"
        || !field("scope").split(' ').any(|s| s == "account-uac-read")
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_scope"})),
        )
            .into_response();
    }
    if field("resource") != format!("urn:dtaccount:{}", account.account_uuid) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_request", "error_description": "resource must be urn:dtaccount:<account uuid>"}))).into_response();
    }
    if field("client_id") != account.client_id || field("client_secret") != account.client_secret {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let token = state
        .tokens
        .issue("dt-sim-token-", Some(account.token_lifetime));
    Json(
        json!({"token_type": "Bearer", "resource": field("resource"), "access_token": token,
                "expires_in": account.token_lifetime.as_secs(), "scope": "account-uac-read"}),
    )
    .into_response()
}

/// What a query selects; a v3 cursor encodes it with the offset of the next page.
#[derive(Clone, Debug, PartialEq)]
struct Selection {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    environments: Vec<String>,
    capabilities: Vec<String>,
    page_size: usize,
    offset: usize,
}

fn parse_selection(
    pairs: &HashMap<String, String>,
    default_page_size: usize,
) -> Result<Selection, String> {
    if let Some(key) = pairs.get("page-key") {
        return decode_key(key).ok_or_else(|| "invalid page-key".to_string());
    }
    let time = |name: &str| -> Result<DateTime<Utc>, String> {
        let value = pairs.get(name).ok_or(format!("{name} is required"))?;
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| format!("{name} must look like 2021-05-01T15:11:00Z"))
    };
    let list = |name: &str| {
        pairs
            .get(name)
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    };
    let page_size = match pairs.get("page-size") {
        Some(v) => v
            .parse()
            .map_err(|_| "page-size must be a number".to_string())?,
        None => default_page_size,
    };
    Ok(Selection {
        start: time("startTime")?,
        end: time("endTime")?,
        environments: list("environmentIds"),
        capabilities: list("capabilityKeys"),
        page_size: page_size.max(1),
        offset: 0,
    })
}

fn encode_key(selection: &Selection) -> String {
    let text = json!([
        selection.start.timestamp(),
        selection.end.timestamp(),
        selection.environments,
        selection.capabilities,
        selection.page_size,
        selection.offset
    ])
    .to_string();
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_key(key: &str) -> Option<Selection> {
    let bytes: Option<Vec<u8>> = (0..key.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(key.get(i..i + 2)?, 16).ok())
        .collect();
    let value: Value = serde_json::from_slice(&bytes?).ok()?;
    let strings = |v: &Value| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
    };
    Some(Selection {
        start: DateTime::from_timestamp(value[0].as_i64()?, 0)?,
        end: DateTime::from_timestamp(value[1].as_i64()?, 0)?,
        environments: strings(&value[2])?,
        capabilities: strings(&value[3])?,
        page_size: value[4].as_u64()? as usize,
        offset: value[5].as_u64()? as usize,
    })
}

/// Authorisation, permission and account checks of the subscription calls; faults apply to
/// them as to any data request.
async fn subscription_call(
    state: &SimState,
    account_uuid: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    if !state.tokens.accepts(headers) {
        return Some(fail(
            StatusCode::UNAUTHORIZED,
            "The bearer token is incorrect or expired",
        ));
    }
    if let Some(response) = apply_fault(state.faults.take_entitlement(), error_body).await {
        return Some(response);
    }
    if state.account.subscription_forbidden {
        return Some(fail(StatusCode::FORBIDDEN, "Forbidden: the token lacks the account-uac-read scope or the account-viewer permission"));
    }
    (account_uuid != state.account.account_uuid)
        .then(|| fail(StatusCode::NOT_FOUND, "Account not found"))
}

impl DynatraceAccount {
    /// The account as `subscription` sees it (its usage seed), if the account has it.
    fn with_subscription(&self, subscription: &str) -> Option<std::borrow::Cow<'_, Self>> {
        if subscription == self.subscription_uuid {
            return Some(std::borrow::Cow::Borrowed(self));
        }
        let index = self
            .other_subscriptions
            .iter()
            .position(|(uuid, _)| uuid == subscription)?;
        let mut other = self.clone();
        other.seed = self.seed + 1_000 * (index as u64 + 1);
        other.subscription_uuid = subscription.to_string();
        Some(std::borrow::Cow::Owned(other))
    }
}

/// `GET /sub/v2/accounts/{a}/subscriptions`: `SubscriptionListDto`, unpaged.
async fn subscription_list(
    State(state): State<Arc<SimState>>,
    Path(account_uuid): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = subscription_call(&state, &account_uuid, &headers).await {
        return response;
    }
    let account = &state.account;
    let summary = |uuid: &str, status: &str| {
        json!({"uuid": uuid, "type": "DPS", "subType": "standard", "name": format!("Simulated DPS {uuid}"),
               "status": status, "startTime": "2026-04-01", "endTime": "2029-03-31"})
    };
    let data: Vec<Value> = std::iter::once(summary(
        &account.subscription_uuid,
        &account.subscription_status,
    ))
    .chain(
        account
            .other_subscriptions
            .iter()
            .map(|(uuid, status)| summary(uuid, status)),
    )
    .collect();
    Json(json!({ "data": data })).into_response()
}

async fn subscription(
    State(state): State<Arc<SimState>>,
    Path((account_uuid, subscription)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = subscription_call(&state, &account_uuid, &headers).await {
        return response;
    }
    let Some(account) = state.account.with_subscription(&subscription) else {
        return fail(StatusCode::NOT_FOUND, "Subscription not found");
    };
    let account = account.as_ref();
    let c = &account.commitment;
    let used = f64::from_bits(
        state
            .commitment_used
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    let days_remaining = (c.period.1 - account.today).num_days().max(0);
    Json(json!({
        "uuid": account.subscription_uuid, "type": "DPS", "subType": "standard", "name": "Simulated DPS",
        "status": "ACTIVE", "startTime": "2026-04-01", "endTime": "2029-03-31",
        "account": {"uuid": account.account_uuid},
        "budget": {"total": c.total, "used": used, "currencyCode": c.currency},
        "currentPeriod": {"startTime": c.period.0.to_string(), "endTime": c.period.1.to_string(), "daysRemaining": days_remaining},
        "periods": [{"startTime": format!("{}T00:00:00Z", c.period.0), "endTime": format!("{}T00:00:00Z", c.period.1)}],
        "capabilities": CAPABILITIES.iter().map(|(key, name, _)| json!({"key": key, "name": name})).collect::<Vec<_>>(),
    }))
    .into_response()
}

async fn forecast(
    State(state): State<Arc<SimState>>,
    Path(account_uuid): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = subscription_call(&state, &account_uuid, &headers).await {
        return response;
    }
    let account = &state.account;
    let Some(median) = account.forecast_median else {
        return fail(
            StatusCode::NOT_FOUND,
            "No forecast available: it needs 15 days of cost data",
        );
    };
    let total = account.commitment.total;
    Json(json!({
        "forecastMedian": median, "forecastLower": median * 0.95, "forecastUpper": median * 1.05,
        "budget": total, "forecastBudgetPct": median / total * 100.0,
        // A date-time, as the spec types it.
        "forecastBudgetDate": format!("{}T00:00:00Z", account.commitment.period.1),
        "forecastCreatedAt": format!("{}T00:00:00Z", account.today),
    }))
    .into_response()
}

/// What an environments page lists: usage, or its cost in money.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    Usage,
    Cost,
}

/// Money per unit of each capability: the simulator's rate card (USD).
pub fn rate(capability: &str) -> f64 {
    match capability {
        "FULLSTACK_MONITORING" => 0.01,
        "INFRASTRUCTURE_MONITORING" => 0.04,
        "FOUNDATION_AND_DISCOVERY" => 0.01,
        _ => 0.15,
    }
}

/// `GET /sub/v3/.../environments/cost`: the usage pages' twin, in money (v3 only).
async fn cost(
    State(state): State<Arc<SimState>>,
    Path((account_uuid, subscription)): Path<(String, String)>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Response {
    listing(
        state,
        ("v3".into(), account_uuid, subscription),
        headers,
        raw,
        Listing::Cost,
    )
    .await
}

async fn usage(
    State(state): State<Arc<SimState>>,
    Path(path): Path<(String, String, String)>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Response {
    listing(state, path, headers, raw, Listing::Usage).await
}

async fn listing(
    state: Arc<SimState>,
    (version, account_uuid, subscription): (String, String, String),
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    listing: Listing,
) -> Response {
    let raw = raw.unwrap_or_default();
    lock(&state.queries).push(raw.clone());
    if !state.tokens.accepts(&headers) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "The bearer token is incorrect or expired",
        );
    }
    let account = match state.account.with_subscription(&subscription) {
        Some(account) if account_uuid == account.account_uuid => account,
        _ => return fail(StatusCode::NOT_FOUND, "Subscription not found"),
    };
    let account = account.as_ref();
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let paged = version == "v3";
    if version != "v2" && !paged {
        return fail(StatusCode::NOT_FOUND, "No such API version");
    }
    let selection = match parse_selection(
        &pairs,
        if paged {
            account.default_page_size
        } else {
            usize::MAX
        },
    ) {
        Ok(selection) => selection,
        Err(message) => return fail(StatusCode::BAD_REQUEST, &message),
    };
    let page = (selection.offset / selection.page_size.min(1_000_000)) as u32 + 1;
    if let Some(response) = apply_fault(state.faults.take(Some(page)), error_body).await {
        return response;
    }
    let surge = f64::from_bits(state.surge.load(std::sync::atomic::Ordering::Relaxed));
    let mut response = Json(page_body(
        account,
        &selection,
        paged,
        (surge, &state.revisions, listing),
    ))
    .into_response();
    if !paged {
        announce_the_sunset(response.headers_mut(), account);
    }
    response
}

/// What Dynatrace sends with every v2 answer: when v2 is deprecated and ends, and its successor.
fn announce_the_sunset(headers: &mut HeaderMap, account: &DynatraceAccount) {
    headers.insert(
        "deprecation",
        HeaderValue::from_static("Mon, 15 Jun 2026 00:00:00 GMT"),
    );
    headers.insert("sunset", HeaderValue::from_static(SUNSET));
    let link = format!(
        "</sub/v3/accounts/{}/subscriptions/{}/environment-usage>; rel=\"successor-version\"",
        account.account_uuid, account.subscription_uuid
    );
    if let Ok(value) = HeaderValue::from_str(&link) {
        headers.insert("link", value);
    }
}

fn page_body(
    account: &DynatraceAccount,
    selection: &Selection,
    paged: bool,
    (surge, revisions, listing): (f64, &Revisions, Listing),
) -> Value {
    let environments: Vec<&String> = account
        .environments
        .iter()
        .filter(|e| selection.environments.is_empty() || selection.environments.contains(e))
        .collect();
    let chosen: Vec<&&String> = environments
        .iter()
        .skip(selection.offset)
        .take(selection.page_size)
        .collect();
    let entries = |environment: &str| {
        let usage = usage_entries(account, selection, environment, (surge, revisions));
        match listing {
            Listing::Usage => json!(usage),
            Listing::Cost => json!(usage.into_iter().map(as_cost).collect::<Vec<_>>()),
        }
    };
    let key = match listing {
        Listing::Usage => "usage",
        Listing::Cost => "cost",
    };
    let data: Vec<Value> = chosen
        .iter()
        .map(|e| json!({"environmentId": e, "clusterId": "sim-cluster", key: entries(e)}))
        .collect();
    let next_offset = selection.offset + chosen.len();
    let next_key = (next_offset < environments.len()).then(|| {
        encode_key(&Selection {
            offset: next_offset,
            ..selection.clone()
        })
    });
    let mut body = json!({"data": data, "lastModifiedTime": format!("{}T04:00:00Z", account.today.format("%Y-%m-%d"))});
    if paged {
        body["nextPageKey"] = next_key.map_or(Value::Null, Value::from);
    }
    body
}

/// The simulator's cost allocation: the shares of each day's cost of each capability that go
/// to each cost centre or product; the rest is unallocated, as where Dynatrace cannot tag.
pub fn allocation_shares(field: &str) -> &'static [(&'static str, f64)] {
    match field {
        "COSTCENTER" => &[("CC-1001", 0.5), ("CC-2002", 0.3)],
        "PRODUCT" => &[("checkout", 0.7)],
        _ => &[],
    }
}

/// Records per cost-allocation page when the request gives no `page-size`.
const ALLOCATION_PAGE_SIZE: usize = 25;

/// `GET /v1/subscriptions/{s}/cost-allocation`: `PaginatedEnvironmentBreakdownDto`, one
/// environment's records per request (`field` and `environment-id` required unless `page-key`
/// is given, which must then come alone). Each record is a day's cost of a capability (by its
/// display name: which of key and name Dynatrace sends is undocumented) for one key.
async fn cost_allocation(
    State(state): State<Arc<SimState>>,
    Path(subscription): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    lock(&state.queries).push(raw.clone());
    if !state.tokens.accepts(&headers) {
        return fail(StatusCode::UNAUTHORIZED, "No valid session provided");
    }
    if state.account.cost_allocation_forbidden {
        return fail(StatusCode::FORBIDDEN, "Forbidden");
    }
    let Some(account) = state.account.with_subscription(&subscription) else {
        return fail(StatusCode::BAD_REQUEST, "Subscription not found");
    };
    let mut query = match AllocationQuery::parse(&raw, &account) {
        Ok(query) => query,
        Err(message) => return fail(StatusCode::BAD_REQUEST, message),
    };
    let surge = f64::from_bits(state.surge.load(std::sync::atomic::Ordering::Relaxed));
    let records = allocation_records(
        &account,
        (&query.environment, &query.field),
        query.days,
        (surge, &state.revisions),
    );
    let page: Vec<&Value> = records.iter().skip(query.offset).take(query.size).collect();
    query.offset += query.size;
    let next_key = match query.offset < records.len() {
        true => query.encode(),
        false => String::new(),
    };
    let body = json!({"environmentId": query.environment, "field": query.field, "records": page, "nextPageKey": next_key});
    Json(body).into_response()
}

/// A cost-allocation request: its parameters, or the page-key that carries them.
#[derive(Serialize, Deserialize)]
struct AllocationQuery {
    field: String,
    environment: String,
    days: (NaiveDate, NaiveDate),
    size: usize,
    offset: usize,
}

impl AllocationQuery {
    fn parse(raw: &str, account: &DynatraceAccount) -> Result<Self, &'static str> {
        let pairs: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect();
        if let Some(key) = pairs.get("page-key") {
            if pairs.len() > 1 {
                return Err("page-key must be the only parameter");
            }
            return Self::decode(key).ok_or("invalid page-key");
        }
        let (Some(field), Some(environment)) = (pairs.get("field"), pairs.get("environment-id"))
        else {
            return Err("field and environment-id are required");
        };
        if !["COSTCENTER", "PRODUCT"].contains(&field.as_str()) {
            return Err("field must be COSTCENTER or PRODUCT");
        }
        let day = |name: &str, default: NaiveDate| match pairs.get(name) {
            Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
            None => Some(default),
        };
        let first_day = account.today - Days::days(i64::from(account.days) - 1);
        let (Some(from), Some(to)) = (day("from", first_day), day("to", account.today)) else {
            return Err("from and to look like 2021-05-01");
        };
        let size = pairs.get("page-size").and_then(|s| s.parse().ok());
        Ok(AllocationQuery {
            field: field.clone(),
            environment: environment.clone(),
            days: (from, to),
            size: size.unwrap_or(ALLOCATION_PAGE_SIZE).max(1),
            offset: 0,
        })
    }

    fn encode(&self) -> String {
        use base64::Engine;
        let text = serde_json::to_string(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn decode(key: &str) -> Option<Self> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(key).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

fn allocation_records(
    account: &DynatraceAccount,
    (environment, field): (&str, &str),
    (from, to): (NaiveDate, NaiveDate),
    (surge, revisions): (f64, &Revisions),
) -> Vec<Value> {
    let first_day = account.today - Days::days(i64::from(account.days) - 1);
    let mut records = Vec::new();
    for day in from
        .max(first_day)
        .iter_days()
        .take_while(|d| *d <= to.min(account.today))
    {
        for (key, name, _) in CAPABILITIES {
            let usage = daily_usage(account.seed, environment, key, day)
                + revisions.on(day)
                + if day == account.today { surge } else { 0.0 };
            for (allocated_to, share) in allocation_shares(field) {
                records.push(json!({
                    "date": day.format("%Y-%m-%d").to_string(),
                    "capability": name,
                    "key": allocated_to,
                    "costs": usage * rate(key) * share,
                }));
            }
        }
    }
    records
}

/// A usage entry as its cost entry: the value at the capability's rate, in USD, booked on its day.
fn as_cost(mut entry: Value) -> Value {
    let key = entry["capabilityKey"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let value = entry["value"].as_f64().unwrap_or(0.0) * rate(&key);
    let booked = entry["startTime"]
        .as_str()
        .unwrap_or_default()
        .get(..10)
        .unwrap_or_default()
        .to_string();
    if let Some(fields) = entry.as_object_mut() {
        fields.remove("unitMeasure");
        fields.insert("value".into(), json!(value));
        fields.insert("currencyCode".into(), json!("USD"));
        fields.insert("bookingDate".into(), json!(booked));
    }
    entry
}

fn usage_entries(
    account: &DynatraceAccount,
    selection: &Selection,
    environment: &str,
    (surge, revisions): (f64, &Revisions),
) -> Vec<Value> {
    let first_day = account.today - Days::days(i64::from(account.days) - 1);
    let mut entries = Vec::new();
    for day in first_day.iter_days().take(account.days as usize) {
        let start = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        if start < selection.start || start >= selection.end {
            continue;
        }
        for (key, name, unit) in CAPABILITIES {
            if !selection.capabilities.is_empty()
                && !selection.capabilities.iter().any(|c| c == key)
            {
                continue;
            }
            entries.push(json!({
                "capabilityKey": key, "capabilityName": name, "unitMeasure": unit,
                "startTime": start.to_rfc3339_opts(SecondsFormat::Secs, true),
                "endTime": (start + Days::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true),
                "value": daily_usage(account.seed, environment, key, day)
                    + revisions.on(day)
                    + if day == account.today { surge } else { 0.0 },
            }));
        }
    }
    entries
}

impl super::kit::Simulated for DynatraceSimulator {
    fn faults(&self) -> &Faults {
        DynatraceSimulator::faults(self)
    }

    /// A revised day has the amount more in every capability of every environment.
    fn revisions(&self) -> Option<&Revisions> {
        Some(&self.state.revisions)
    }
}

/// Dynatrace in the simulator kit. A benchmark unit is one environment with 40 days of usage.
pub struct DynatraceKit;

impl super::kit::SimulatedVendor for DynatraceKit {
    fn type_name(&self) -> &'static str {
        "dynatrace"
    }

    fn start(
        &self,
        spec: super::kit::TenantSpec,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<super::kit::SimulatedTenant>> {
        use super::kit::{EntryParts, Scale, SimulatedTenant};
        Box::pin(async move {
            let mut account = DynatraceAccount {
                seed: spec.seed,
                today: spec.today,
                ..DynatraceAccount::default()
            };
            // Entitlements in the small and demo tenants, so the fault suite and the demo cover
            // the subscription, forecast and cost requests too.
            let page_size = match spec.scale {
                Scale::Small => "    page_size: 10\n    entitlements: true\n",
                Scale::Demo => "    entitlements: true\n",
                Scale::Units(environments) | Scale::Monthly(environments) => {
                    account.environments =
                        (0..environments).map(|i| format!("env{i:05}")).collect();
                    if matches!(spec.scale, Scale::Monthly(_)) {
                        // A year and more of history: for a 90-day backfill, and for a year
                        // budget's days.
                        account.days = 400;
                    }
                    "    page_size: 20\n"
                }
            };
            let simulator = DynatraceSimulator::new(account.clone());
            let running = simulator.start(0).await?;
            let url = running.url();
            let keys = format!(
                "    base_url: {url}\n    account_uuid: {}\n    subscription_uuid: {}\n{page_size}",
                account.account_uuid, account.subscription_uuid
            );
            let token_url = Some(format!("{url}/sso/oauth2/token"));
            let credentials = (account.client_id, account.client_secret);
            let parts = EntryParts::client_credentials("dynatrace", keys, token_url, credentials);
            Ok(SimulatedTenant::new(running, Box::new(simulator), parts))
        })
    }

    fn demo_sources(&self) -> Vec<super::kit::DemoSource> {
        vec![super::kit::DemoSource::named("demo-dynatrace")]
    }

    fn demo_budgets(
        &self,
        spec: super::kit::TenantSpec,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        use super::kit::{demo_budgets, DemoUsage};
        let account = DynatraceAccount::default();
        let first = spec.today - Days::days(i64::from(account.days) - 1);
        let usage = CAPABILITIES.map(|(key, _, _)| {
            let amount = |day: NaiveDate| -> f64 {
                if day < first || day > spec.today {
                    return 0.0;
                }
                let amount = |env: &String| daily_usage(spec.seed, env, key, day);
                account.environments.iter().map(amount).sum()
            };
            DemoUsage::daily(key, amount, now)
        });
        demo_budgets("capability_key", usage, now)
    }

    fn secrets(&self) -> &'static [&'static str] {
        &["dt0s02.SIMCLIENT.SECRET", "dt-sim-token-"]
    }

    fn empty_answer(&self) -> &'static str {
        r#"{"data":[],"lastModifiedTime":"2026-11-22T00:00:00Z","nextPageKey":null}"#
    }

    /// An account at seed 3 with 400 days to 2027-02-28, two entries a page; the budget
    /// matches log ingest, whose unit is GiB.
    fn budget_case(
        &self,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<Option<super::kit::BudgetCase>>>
    {
        Box::pin(async {
            let account = DynatraceAccount {
                seed: 3,
                today: NaiveDate::from_ymd_opt(2027, 2, 28).unwrap_or_default(),
                days: 400,
                ..DynatraceAccount::default()
            };
            let running = DynatraceSimulator::new(account.clone()).start(0).await?;
            let url = running.url();
            let entry = format!(
                "  - name: s\n    type: dynatrace\n    base_url: {url}\n    account_uuid: {}\n    subscription_uuid: {}\n    page_size: 2\n    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n",
                account.account_uuid, account.subscription_uuid, account.client_id, account.client_secret,
            );
            let environments = account.environments.clone();
            let ingest = move |day: NaiveDate| -> f64 {
                environments
                    .iter()
                    .map(|env| daily_usage(3, env, "LOG_MANAGEMENT_INGEST", day))
                    .sum()
            };
            let ingest = std::sync::Arc::new(ingest);
            let amount = {
                let ingest = ingest.clone();
                move |day: NaiveDate| ingest(day)
            };
            let money = move |day: NaiveDate| ingest(day) * rate("LOG_MANAGEMENT_INGEST");
            Ok(Some(super::kit::BudgetCase {
                running,
                entry,
                key: "capability_key",
                value: "LOG_MANAGEMENT_INGEST".into(),
                unit: "GiB".into(),
                amount: Box::new(amount),
                vendor_money: Some(Box::new(money)),
            }))
        })
    }

    /// Dynatrace computes its own money (`entitlements: true`): nothing to price.
    fn demo_price(&self) -> Option<&'static str> {
        None
    }

    fn wrong_shape_answers(&self) -> &'static [&'static str] {
        &[
            "[]",
            "{}",
            r#"{"nextPageKey":null}"#,
            r#"{"data":{}}"#,
            "null",
            "true",
        ]
    }

    fn odd_answer(&self) -> &'static str {
        r#"{"data":[{"usage":[{"value":1}]},{"environmentId":"e","usage":[{"startTime":"2026-11-22","surprise":"x"}]}],"nextPageKey":""}"#
    }

    fn benchmark_scale(&self) -> u64 {
        2_000
    }

    fn scale_unit(&self) -> &'static str {
        "environments × 40 days"
    }

    fn history_benchmark_scale(&self) -> Option<u64> {
        Some(2000)
    }

    fn history_scale_unit(&self) -> &'static str {
        "environments × 4 capabilities"
    }
}

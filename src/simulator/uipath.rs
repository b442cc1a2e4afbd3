//! A UiPath Automation Cloud organisation: `POST /identity_/connect/token` (external application
//! client credentials) and `POST /lease_/api/usage/{org}/tenants/daily-consumption-by-service`,
//! which validates its JSON body (tenant, Unix-millisecond range, an active consumable code)
//! and answers `{"items":[{"date","service","consumedAmount"}]}`, one item per day and service.
//! Written from UiPath's API guide, not from the exporter's source.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::{apply_fault, form, Faults, Revisions, RunningSimulator, Tokens};
use crate::model::locks::lock;

/// How the simulator writes `date`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateStyle {
    Day,
    Rfc3339,
    EpochMillis,
}

#[derive(Clone, Debug)]
pub struct UiPathOrganization {
    pub organization_id: String,
    pub tenant_ids: Vec<String>,
    pub client_id: String,
    pub client_secret: String,
    /// The user the password grant signs in as.
    pub username: String,
    pub password: String,
    pub seed: u64,
    pub date_style: DateStyle,
    /// The bundle window the consumption summary reports: its first day and the day after its
    /// last (the window ends at that midnight); its consumption is the daily amounts of its
    /// days up to today.
    pub bundle: (NaiveDate, NaiveDate),
    /// The simulated "today", the last day the summary counts.
    pub today: NaiveDate,
    /// Whether the token may not read the consumption summary: it answers 403.
    pub summary_forbidden: bool,
    /// Whether the token may not read consumption by folder: it answers 403.
    pub folders_forbidden: bool,
    /// Named users per tenant, spread over the named-user licence types.
    pub named_users: usize,
    /// Whether the token may not read licences (OR.License.Read / OR.Settings.Read): 403.
    pub licences_forbidden: bool,
    /// A server-side cap on named users per page, below the `$top` asked for.
    pub named_user_page_cap: Option<usize>,
    /// Whether `@odata.count` is left out even when `$count=true` asks for it.
    pub omits_odata_count: bool,
    /// A day on which every service consumes this many units more than its usual amount: a
    /// runaway automation, for the spend-anomaly alert.
    pub spike: Option<(NaiveDate, f64)>,
}

impl UiPathOrganization {
    /// Units consumed by a tenant's service from a consumable on one day, the spike included.
    pub fn amount(&self, tenant: &str, consumable: &str, service: &str, day: NaiveDate) -> f64 {
        let spike = self
            .spike
            .filter(|(spike_day, _)| *spike_day == day)
            .map_or(0.0, |(_, extra)| extra);
        daily_amount(self.seed, tenant, consumable, service, day) + spike
    }

    /// The demo's organisation: a day that spikes (yesterday), and a bundle that ends in 20
    /// days, for the FinOps alerts to have something to say.
    pub fn demo(seed: u64, today: NaiveDate) -> Self {
        UiPathOrganization {
            seed,
            today,
            spike: Some((today - chrono::Days::new(1), DEMO_SPIKE)),
            bundle: (
                today - chrono::Days::new(345),
                today + chrono::Days::new(20),
            ),
            ..UiPathOrganization::default()
        }
    }
}

/// What each service consumes on top of its usual amount on the demo's spike day.
pub const DEMO_SPIKE: f64 = 2_500.0;

/// The named-user licence types the simulator assigns, and the seats each tenant bought of
/// each; `Unattended` is a runtime licence: bought and used, with no named users.
pub const NAMED_USER_TYPES: [(&str, i64); 3] = [
    ("Attended", 4_000),
    ("Development", 1_500),
    ("StudioX", 1_000),
];

/// Seats of a named-user licence type a tenant bought: [`NAMED_USER_TYPES`]' number in the
/// first tenant, 100 fewer in each one after it, so that tenants differ.
pub fn seats_bought(org: &UiPathOrganization, tenant: &str, licence: &str) -> i64 {
    let base = NAMED_USER_TYPES
        .iter()
        .find(|(name, _)| *name == licence)
        .map_or(0, |(_, bought)| *bought);
    let index = org.tenant_ids.iter().position(|t| t == tenant).unwrap_or(0);
    base - 100 * index as i64
}

/// `robotType`'s enum in Orchestrator's OpenAPI (uipathcli `definitions/orchestrator.yaml`).
pub const ROBOT_TYPES: [&str; 24] = [
    "NonProduction",
    "Attended",
    "Unattended",
    "Development",
    "Studio",
    "RpaDeveloper",
    "StudioX",
    "CitizenDeveloper",
    "Headless",
    "StudioPro",
    "RpaDeveloperPro",
    "TestAutomation",
    "AutomationCloud",
    "Serverless",
    "AutomationKit",
    "ServerlessTestAutomation",
    "AutomationCloudTestAutomation",
    "AttendedStudioWeb",
    "Hosting",
    "AssistantWeb",
    "ProcessOrchestration",
    "AgentService",
    "AppTest",
    "PerformanceTest",
];

/// One named user of a tenant, as `GetLicensesNamedUser` lists it: user name, licence type, and
/// when the robot last acquired a licence (none: never). Drawn from the seed: about a third
/// idle for 30 days or more, some never used.
pub fn named_user(
    org: &UiPathOrganization,
    tenant: &str,
    i: usize,
) -> (String, &'static str, Option<DateTime<chrono::Utc>>) {
    let mut hash = org.seed;
    for byte in format!("{tenant}/{i}").bytes() {
        hash = hash
            .wrapping_mul(0x100_0000_01b3)
            .wrapping_add(u64::from(byte));
    }
    let mut rng = StdRng::seed_from_u64(hash);
    let licence = NAMED_USER_TYPES[i % NAMED_USER_TYPES.len()].0;
    let midnight = org.today.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let last = match rng.random_range(0..10) {
        0 => None,
        _ => Some(midnight - chrono::Duration::seconds(rng.random_range(0..90 * 86_400))),
    };
    (format!("acme\\user{i:05}"), licence, last)
}

/// Every tenant's Orchestrator folders (key, name, parent key) and the share of each
/// consumable's units each consumes itself, whatever the range.
pub const FOLDERS: [(&str, &str, Option<&str>, f64); 3] = [
    ("aaaaaaaa-0000-4000-8000-000000000001", "Shared", None, 0.2),
    (
        "aaaaaaaa-0000-4000-8000-000000000002",
        "Finance",
        Some("aaaaaaaa-0000-4000-8000-000000000001"),
        0.5,
    ),
    (
        "aaaaaaaa-0000-4000-8000-000000000003",
        "Sales",
        Some("aaaaaaaa-0000-4000-8000-000000000001"),
        0.3,
    ),
];

/// Each consumable's allocation to every tenant of the organisation.
pub const ALLOCATED: [(&str, f64); 4] = [
    ("RU", 150_000.0),
    ("PLTU", 200_000.0),
    ("AGU", 40_000.0),
    ("AIU", 60_000.0),
];

impl Default for UiPathOrganization {
    fn default() -> Self {
        UiPathOrganization {
            organization_id: "11111111-1111-1111-1111-111111111111".into(),
            tenant_ids: vec![
                "22222222-2222-2222-2222-222222222222".into(),
                "33333333-3333-3333-3333-333333333333".into(),
            ],
            client_id: "uipath-sim-app".into(),
            client_secret: "uipath-sim-secret".into(),
            username: "robot-admin@acme.example".into(),
            password: "uipath-sim-password".into(),
            seed: 1,
            date_style: DateStyle::Day,
            bundle: (
                NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
                NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default(),
            ),
            today: chrono::Utc::now().date_naive(),
            summary_forbidden: false,
            folders_forbidden: false,
            named_users: 30,
            licences_forbidden: false,
            named_user_page_cap: None,
            omits_odata_count: false,
            spike: None,
        }
    }
}

/// The services that draw on each consumable code this organisation has.
pub const CONSUMABLES: [(&str, &[&str]); 4] = [
    ("RU", &["orchestrator", "studio"]),
    (
        "PLTU",
        &["orchestrator", "dataservice", "integrationservice"],
    ),
    ("AGU", &["agents"]),
    ("AIU", &["aicenter", "documentunderstanding"]),
];

/// Units consumed by a tenant's service from a consumable on one day: the simulator's data.
pub fn daily_amount(
    seed: u64,
    tenant: &str,
    consumable: &str,
    service: &str,
    day: NaiveDate,
) -> f64 {
    let mut hash = seed;
    for byte in format!("{tenant}/{consumable}/{service}/{day}").bytes() {
        hash = hash
            .wrapping_mul(0x100_0000_01b3)
            .wrapping_add(u64::from(byte));
    }
    (StdRng::seed_from_u64(hash).random_range(0.0..500.0_f64) * 4.0).round() / 4.0
}

#[derive(Clone)]
pub struct UiPathSimulator {
    state: Arc<SimState>,
}

struct SimState {
    org: UiPathOrganization,
    tokens: Tokens,
    faults: Faults,
    bodies: Mutex<Vec<Value>>,
    revisions: Revisions,
    /// Units added to the last day of every answer, for every service (f64 bits).
    surge: std::sync::atomic::AtomicU64,
    /// The scopes each token was issued for: Orchestrator refuses a token without its own.
    scopes: Mutex<std::collections::HashMap<String, String>>,
}

impl UiPathSimulator {
    pub fn new(org: UiPathOrganization) -> Self {
        UiPathSimulator {
            state: Arc::new(SimState {
                org,
                tokens: Tokens::default(),
                faults: Faults::default(),
                bodies: Mutex::default(),
                revisions: Revisions::default(),
                surge: std::sync::atomic::AtomicU64::new(0f64.to_bits()),
                scopes: Mutex::new(std::collections::HashMap::new()),
            }),
        }
    }

    pub async fn start(&self, port: u16) -> std::io::Result<RunningSimulator> {
        let router = Router::new()
            .route("/identity_/connect/token", post(token))
            .route(
                "/lease_/api/usage/{org}/tenants/daily-consumption-by-service",
                post(usage),
            )
            .route(
                "/lease_/api/usage/{org}/tenants/{tenant}/consumption-summary",
                post(consumption_summary),
            )
            .route(
                "/lease_/api/usage/{org}/tenants/consumption-by-folder",
                post(consumption_by_folder),
            )
            .route(
                "/{org}/{tenant}/orchestrator_/odata/Settings/UiPath.Server.Configuration.OData.GetLicense",
                axum::routing::get(get_license),
            )
            .route(
                "/{org}/{tenant}/orchestrator_/odata/LicensesNamedUser/{function}",
                axum::routing::get(named_users),
            )
            .with_state(self.state.clone());
        super::serve(router, port).await
    }

    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// From now on, every service consumes `amount` more on the last day asked for (today, as
    /// the exporter asks): a surge that pushes budgets over their limits.
    pub fn add_consumption_today(&self, amount: f64) {
        use std::sync::atomic::Ordering;
        let surge = f64::from_bits(self.state.surge.load(Ordering::Relaxed)) + amount;
        self.state.surge.store(surge.to_bits(), Ordering::Relaxed);
    }

    /// The JSON bodies of the usage requests received, in order.
    pub fn bodies(&self) -> Vec<Value> {
        lock(&self.state.bodies).clone()
    }

    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens.count() as u64
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"message": message, "errorCode": status.as_u16(), "traceId": "00-sim-01"})),
    )
        .into_response()
}

fn error_body(status: StatusCode) -> String {
    json!({"message": "simulated fault", "errorCode": status.as_u16(), "traceId": "00-sim-01"})
        .to_string()
}

async fn token(State(state): State<Arc<SimState>>, body: String) -> Response {
    if let Some(response) = apply_fault(state.faults.take(None), error_body).await {
        return response;
    }
    let form = form(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let refuse = |error: &str, description: &str| {
        let body = json!({"error": error, "error_description": description});
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    };
    let org = &state.org;
    match field("grant_type") {
        "client_credentials" => {
            if field("client_id") != org.client_id || field("client_secret") != org.client_secret {
                return refuse("invalid_client", "");
            }
        }
        // The resource owner password grant: the client may be public (no secret), but a
        // secret that is sent must be the client's.
        "password" => {
            let secret = form.get("client_secret");
            if field("client_id") != org.client_id
                || secret.is_some_and(|s| *s != org.client_secret)
            {
                return refuse("invalid_client", "");
            }
            if field("username") != org.username || field("password") != org.password {
                return refuse("invalid_grant", "invalid_username_or_password");
            }
        }
        _ => return refuse("unsupported_grant_type", ""),
    }
    let token = state.tokens.issue("uipath-sim-token-", None);
    lock(&state.scopes).insert(token.clone(), field("scope").to_string());
    Json(json!({"access_token": token, "expires_in": 3600, "token_type": "Bearer", "scope": field("scope")})).into_response()
}

async fn usage(
    State(state): State<Arc<SimState>>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !state.tokens.accepts(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "The request body is not JSON.");
    };
    lock(&state.bodies).push(request.clone());
    if let Some(response) = apply_fault(state.faults.take(Some(1)), error_body).await {
        return response;
    }
    if org != state.org.organization_id {
        return error(StatusCode::NOT_FOUND, "Organization not found.");
    }
    let surge = f64::from_bits(state.surge.load(std::sync::atomic::Ordering::Relaxed));
    match items(&state.org, &request, (surge, &state.revisions)) {
        Ok(items) => Json(json!({"items": items})).into_response(),
        Err((status, message)) => error(status, &message),
    }
}

/// What a tenant consumed of a consumable in the bundle window up to today, and how that
/// splits between its allocation (the tenant pool) and the organisation's pool beyond it.
pub fn tenant_consumption(org: &UiPathOrganization, tenant: &str, code: &str) -> (f64, f64, f64) {
    let services = CONSUMABLES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(&[][..], |(_, services)| *services);
    let allocated = ALLOCATED
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(0.0, |(_, a)| *a);
    let last = org
        .today
        .min(org.bundle.1.pred_opt().unwrap_or(org.bundle.1));
    let consumed: f64 = org
        .bundle
        .0
        .iter_days()
        .take_while(|d| *d <= last)
        .flat_map(|day| {
            services
                .iter()
                .map(move |s| org.amount(tenant, code, s, day))
        })
        .sum();
    let tenant_pool = consumed.min(allocated);
    (allocated, tenant_pool, consumed - tenant_pool)
}

/// Checks what every Orchestrator licence read checks: the token, the permission, the tenant.
/// Whether the token was asked for with the scopes Orchestrator's spec requires of
/// `GetLicense` and `GetLicensesNamedUser`: `OR.License` or `OR.License.Read`, and
/// `OR.Settings` or `OR.Settings.Read`. A static token (issued elsewhere) is taken as it is.
fn has_orchestrator_scopes(state: &SimState, headers: &HeaderMap) -> bool {
    let Some(token) = super::bearer(headers) else {
        return false;
    };
    let scopes = lock(&state.scopes);
    let Some(granted) = scopes.get(token) else {
        return true;
    };
    let has = |name: &str| {
        granted
            .split(' ')
            .any(|s| s == name || s.strip_suffix(".Read") == Some(name))
    };
    has("OR.License") && has("OR.Settings")
}

async fn orchestrator_refusal(
    state: &SimState,
    headers: &HeaderMap,
    org: &str,
    tenant: &str,
) -> Option<Response> {
    if !state.tokens.accepts(headers) {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "You are not authenticated!",
        ));
    }
    if let Some(response) = apply_fault(state.faults.take_entitlement(), error_body).await {
        return Some(response);
    }
    if !has_orchestrator_scopes(state, headers) {
        return Some(error(StatusCode::FORBIDDEN, "You are not authorized! (#0)"));
    }
    if state.org.licences_forbidden {
        return Some(error(StatusCode::FORBIDDEN, "You are not authorized! (#0)"));
    }
    let known =
        org == state.org.organization_id && state.org.tenant_ids.iter().any(|t| t == tenant);
    (!known).then(|| error(StatusCode::NOT_FOUND, "Tenant not found."))
}

/// `GET …/odata/Settings/UiPath.Server.Configuration.OData.GetLicense`: `LicenseDto`, with
/// `Allowed` and `Used` per licence type (the key names are undocumented: the simulator uses
/// the robot types) and the licence's `ExpireDate` (epoch seconds).
async fn get_license(
    State(state): State<Arc<SimState>>,
    Path((org, tenant)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = orchestrator_refusal(&state, &headers, &org, &tenant).await {
        return refused;
    }
    let mut allowed = serde_json::Map::new();
    let mut used = serde_json::Map::new();
    for (licence, _) in NAMED_USER_TYPES {
        let holders = (0..state.org.named_users)
            .filter(|i| NAMED_USER_TYPES[i % NAMED_USER_TYPES.len()].0 == licence)
            .count();
        allowed.insert(
            licence.into(),
            json!(seats_bought(&state.org, &tenant, licence)),
        );
        used.insert(licence.into(), json!(holders));
    }
    allowed.insert("Unattended".into(), json!(20));
    used.insert("Unattended".into(), json!(12));
    let expires = state
        .org
        .bundle
        .1
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    Json(json!({
        "Id": 1, "ExpireDate": expires.timestamp(), "GracePeriod": 0,
        "Allowed": allowed, "Used": used, "IsExpired": false, "IsRegistered": true,
        "SubscriptionPlan": "Enterprise", "UserLicensingEnabled": true,
    }))
    .into_response()
}

/// `GET …/odata/LicensesNamedUser/UiPath.Server.Configuration.OData.GetLicensesNamedUser(robotType='T')`:
/// the tenant's named users of that type, `$top` at most 1000 (or the configured cap), `$skip`;
/// `@odata.count` when `$count=true` asks for it, as OData does; a type outside the spec's enum
/// answers 400.
async fn named_users(
    State(state): State<Arc<SimState>>,
    Path((org, tenant, function)): Path<(String, String, String)>,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    if let Some(refused) = orchestrator_refusal(&state, &headers, &org, &tenant).await {
        return refused;
    }
    let robot_type = function
        .strip_prefix("UiPath.Server.Configuration.OData.GetLicensesNamedUser(robotType='")
        .and_then(|rest| rest.strip_suffix("')"));
    // Any robot type of the spec's enum is answered (a type without named users: an empty
    // list); another is a bad value, which OData names.
    let Some(robot_type) = robot_type.filter(|t| ROBOT_TYPES.contains(t)) else {
        let shown = robot_type.unwrap_or_default();
        let message = format!("The value '{shown}' is not valid for robotType.");
        return error(StatusCode::BAD_REQUEST, &message);
    };
    let raw = raw.unwrap_or_default();
    let pairs: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect();
    let number = |key: &str, default: usize| {
        pairs
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let cap = state.org.named_user_page_cap.unwrap_or(1000).min(1000);
    let (top, skip) = (number("$top", 1000).min(cap), number("$skip", 0));
    let counted = pairs.get("$count").is_some_and(|v| v == "true") && !state.org.omits_odata_count;
    let users: Vec<Value> = (0..state.org.named_users)
        .map(|i| named_user(&state.org, &tenant, i))
        .filter(|(_, licence, _)| *licence == robot_type)
        .map(|(name, _, last)| {
            let mut user = json!({"UserName": name, "Key": name, "MachinesCount": 1,
                   "IsLicensed": false, "ActiveRobotId": null,
                   "MachineNames": ["SIM-MACHINE"], "ActiveMachineNames": []});
            // The spec's LastLoginDate is a date-time, never null: a user never seen has none.
            if let Some(last) = last {
                user["LastLoginDate"] = json!(last.to_rfc3339());
            }
            user
        })
        .collect();
    let count = users.len();
    let page: Vec<Value> = users.into_iter().skip(skip).take(top).collect();
    let mut answer = json!({"@odata.context": "https://cloud.uipath.com/sim/orchestrator_/odata/$metadata#NamedUserLicenses", "value": page});
    if counted {
        answer["@odata.count"] = json!(count);
    }
    Json(answer).into_response()
}

/// `POST /lease_/api/usage/{org}/tenants/consumption-by-folder`: one row per folder of the
/// tenant with the units it consumed itself in the range (`consumedBySelf`, descendants not
/// included), unpaged, in the fields UiPath's CLI shows (the raw response is not published).
async fn consumption_by_folder(
    State(state): State<Arc<SimState>>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !state.tokens.accepts(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if let Some(response) = apply_fault(state.faults.take_entitlement(), error_body).await {
        return response;
    }
    let org = &state.org;
    if org.folders_forbidden {
        return error(
            StatusCode::FORBIDDEN,
            "The token is not authorized to read license consumption.",
        );
    }
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    lock(&state.bodies).push(request.clone());
    let tenant = request["tenantId"].as_str().unwrap_or_default();
    if org_id != org.organization_id || !org.tenant_ids.iter().any(|t| t == tenant) {
        return error(StatusCode::NOT_FOUND, "Tenant not found.");
    }
    let code = request["consumableCode"].as_str().unwrap_or_default();
    let Some((_, services)) = CONSUMABLES.iter().find(|(c, _)| *c == code) else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Unit '{code}' is not an active consumable in this organization."),
        );
    };
    let day = |name: &str| {
        let millis = request[name].as_i64()?;
        Some(DateTime::from_timestamp_millis(millis)?.date_naive())
    };
    let (Some(first), Some(end)) = (day("startDate"), day("endDate")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "startDate and endDate are Unix milliseconds.",
        );
    };
    let total: f64 = first
        .iter_days()
        .take_while(|d| *d <= end.min(org.today))
        .flat_map(|d| services.iter().map(move |s| org.amount(tenant, code, s, d)))
        .sum();
    let rows: Vec<Value> = FOLDERS
        .iter()
        .map(|(key, name, parent, share)| {
            json!({"code": code, "name": code, "tenantId": tenant, "tenantName": "default",
                   "folderKey": key, "folderName": name, "parentFolderKey": parent,
                   "consumedBySelf": total * share, "processCountSelf": 3})
        })
        .collect();
    Json(rows).into_response()
}

/// `POST /lease_/api/usage/{org}/tenants/{tenant}/consumption-summary`, in the fields UiPath's
/// CLI shows of it (the raw response is not published).
async fn consumption_summary(
    State(state): State<Arc<SimState>>,
    Path((org_id, tenant)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !state.tokens.accepts(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if let Some(response) = apply_fault(state.faults.take_entitlement(), error_body).await {
        return response;
    }
    let org = &state.org;
    if org.summary_forbidden {
        return error(
            StatusCode::FORBIDDEN,
            "The token is not authorized to read license consumption.",
        );
    }
    if org_id != org.organization_id || !org.tenant_ids.contains(&tenant) {
        return error(StatusCode::NOT_FOUND, "Tenant not found.");
    }
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    let Some(code) = request["consumableCode"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "consumableCode is required.");
    };
    if !ALLOCATED.iter().any(|(c, _)| *c == code) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Unit '{code}' is not an active consumable in this organization."),
        );
    }
    let (allocated, tenant_pool, org_pool) = tenant_consumption(org, &tenant, code);
    let time = |day: NaiveDate| format!("{day}T00:00:00.000Z");
    Json(json!({
        "code": code, "name": code, "totalUnitsInAccount": allocated * org.tenant_ids.len() as f64 * 1.5,
        "allocated": allocated, "consumedFromOrgWithoutTenant": 0,
        "startDate": time(org.bundle.0), "endDate": time(org.bundle.1),
        "tenantId": tenant, "tenantName": "default",
        "consumedFromTenantPool": tenant_pool, "consumedFromOrgPool": org_pool,
    }))
    .into_response()
}

fn items(
    org: &UiPathOrganization,
    request: &Value,
    (surge, revisions): (f64, &Revisions),
) -> Result<Vec<Value>, (StatusCode, String)> {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message);
    let tenant = request["tenantId"]
        .as_str()
        .ok_or_else(|| bad("tenantId is required.".into()))?;
    if !org.tenant_ids.iter().any(|t| t == tenant) {
        return Err((
            StatusCode::NOT_FOUND,
            format!("Tenant '{tenant}' was not found in this organization."),
        ));
    }
    let millis = |key: &str| {
        request[key]
            .as_i64()
            .ok_or_else(|| bad(format!("{key} must be Unix milliseconds.")))
    };
    let (start, end) = (millis("startDate")?, millis("endDate")?);
    if start >= end {
        return Err(bad("startDate must be before endDate.".into()));
    }
    let code = request["consumableCode"]
        .as_str()
        .ok_or_else(|| bad("consumableCode is required.".into()))?;
    let Some((_, services)) = CONSUMABLES.iter().find(|(c, _)| *c == code) else {
        return Err(bad(format!(
            "Unit '{code}' is not an active consumable in this organization."
        )));
    };
    if !request["aggregateByOwnership"].is_null() && !request["aggregateByOwnership"].is_boolean() {
        return Err(bad("aggregateByOwnership must be a boolean.".into()));
    }
    let first = DateTime::from_timestamp_millis(start)
        .map(|t| t.date_naive())
        .ok_or_else(|| bad("startDate out of range".into()))?;
    let last = DateTime::from_timestamp_millis(end - 1)
        .map(|t| t.date_naive())
        .ok_or_else(|| bad("endDate out of range".into()))?;
    let mut items = Vec::new();
    for day in first.iter_days().take_while(|d| *d <= last) {
        for (i, service) in services.iter().enumerate() {
            let revised = if i == 0 { revisions.on(day) } else { 0.0 };
            let extra = revised + if day == last { surge } else { 0.0 };
            let amount = org.amount(tenant, code, service, day) + extra;
            items.push(json!({"date": date_value(org.date_style, day), "service": service, "consumedAmount": amount}));
        }
    }
    Ok(items)
}

fn date_value(style: DateStyle, day: NaiveDate) -> Value {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    match style {
        DateStyle::Day => json!(day.format("%Y-%m-%d").to_string()),
        DateStyle::Rfc3339 => json!(midnight.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        DateStyle::EpochMillis => json!(midnight.timestamp_millis()),
    }
}

impl super::kit::Simulated for UiPathSimulator {
    fn faults(&self) -> &Faults {
        UiPathSimulator::faults(self)
    }

    /// A revised day has the amount more in the first service of every consumable of every
    /// tenant.
    fn revisions(&self) -> Option<&Revisions> {
        Some(&self.state.revisions)
    }
}

/// UiPath in the simulator kit. A benchmark unit is one tenant, asked for four consumables.
pub struct UiPathKit;

impl super::kit::SimulatedVendor for UiPathKit {
    fn type_name(&self) -> &'static str {
        "uipath"
    }

    fn start(
        &self,
        spec: super::kit::TenantSpec,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<super::kit::SimulatedTenant>> {
        use super::kit::{EntryParts, Scale, SimulatedTenant};
        Box::pin(async move {
            let mut org = match spec.scale {
                Scale::Demo => UiPathOrganization::demo(spec.seed, spec.today),
                _ => UiPathOrganization {
                    seed: spec.seed,
                    today: spec.today,
                    ..UiPathOrganization::default()
                },
            };
            let (asked, codes) = match spec.scale {
                Scale::Small => (org.tenant_ids[..1].to_vec(), "RU"),
                Scale::Demo => (org.tenant_ids.clone(), "RU, PLTU, AGU, AIU"),
                Scale::Units(tenants) | Scale::Monthly(tenants) => {
                    org.tenant_ids = (0..tenants)
                        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
                        .collect();
                    (org.tenant_ids.clone(), "RU, PLTU, AGU, AIU")
                }
            };
            let simulator = UiPathSimulator::new(org.clone());
            let running = simulator.start(0).await?;
            let keys = format!(
                "    base_url: {}\n    organization_id: {}\n    tenant_ids: [{}]\n    consumable_codes: [{codes}]\n{}",
                running.url(),
                org.organization_id,
                asked.join(", "),
                // Entitlements and seats in the small and demo tenants, so the fault suite and
                // the demo cover the consumption summary and the licence reads too.
                match spec.scale {
                    Scale::Units(_) | Scale::Monthly(_) => "",
                    _ => "    entitlements: true\n    seats: true\n",
                },
            );
            let parts = EntryParts {
                type_name: "uipath",
                keys,
                token_url: None,
                client_id: org.client_id,
                client_secret: org.client_secret,
                static_token: None,
                password: Some((org.username, org.password)),
            };
            Ok(SimulatedTenant::new(running, Box::new(simulator), parts))
        })
    }

    fn demo_sources(&self) -> Vec<super::kit::DemoSource> {
        vec![super::kit::DemoSource::named("demo-robots")]
    }

    fn demo_budgets(
        &self,
        spec: super::kit::TenantSpec,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        use super::kit::{demo_budgets, DemoUsage};
        let org = UiPathOrganization::demo(spec.seed, spec.today);
        let usage = ["RU", "PLTU", "AGU", "AIU"].map(|code| {
            let services = CONSUMABLES
                .iter()
                .find(|(c, _)| *c == code)
                .map_or(&[][..], |(_, services)| *services);
            let amount = |day| -> f64 {
                let per_tenant = |tenant: &String| -> f64 {
                    let amount = |s: &&str| org.amount(tenant, code, s, day);
                    services.iter().map(amount).sum()
                };
                org.tenant_ids.iter().map(per_tenant).sum()
            };
            DemoUsage::daily(code, amount, now)
        });
        // A yearly commitment of Robot Units, more than half gone and on course to end at
        // about half its limit: the under-used commitment the FinOps alert is about.
        let commitment = format!(
            "      - {{name: commitment, match: {{consumable: RU}}, limit: {:.0}, period: year, start: {}, shortfall_ratio: 0.9}}\n",
            8.0 * usage[0].forecast,
            now.date_naive() - chrono::Days::new(200)
        );
        demo_budgets("consumable", usage, now) + &commitment
    }

    fn secrets(&self) -> &'static [&'static str] {
        &[
            "uipath-sim-secret",
            "uipath-sim-password",
            "uipath-sim-token-",
        ]
    }

    /// Usage and Orchestrator lists in one body (`items`, `value`): the fault suite answers
    /// every request of a poll with it, the named-user pages of `seats: true` included.
    fn empty_answer(&self) -> &'static str {
        r#"{"items":[],"value":[]}"#
    }

    /// UiPath's answers come as a bare list or as `{"items": [...]}` (its docs show both), so
    /// `[]` is an empty answer here; an object without `items` is not.
    /// An organisation at seed 7; the budget matches the first tenant's Robot Units.
    fn budget_case(
        &self,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<Option<super::kit::BudgetCase>>>
    {
        Box::pin(async {
            let org = UiPathOrganization {
                seed: 7,
                ..UiPathOrganization::default()
            };
            let tenant = org.tenant_ids[0].clone();
            let running = UiPathSimulator::new(org.clone()).start(0).await?;
            let entry = format!(
                "  - name: s\n    type: uipath\n    base_url: {}\n    organization_id: {}\n    tenant_ids: [{tenant}]\n    consumable_codes: [RU, PLTU]\n    oauth2:\n      client_id: {}\n      client_secret: {}\n",
                running.url(),
                org.organization_id,
                org.client_id,
                org.client_secret,
            );
            let services = CONSUMABLES
                .iter()
                .find(|(code, _)| *code == "RU")
                .map(|(_, services)| *services)
                .unwrap_or_default();
            let amount = move |day: NaiveDate| -> f64 {
                services
                    .iter()
                    .map(|service| daily_amount(7, &tenant, "RU", service, day))
                    .sum()
            };
            Ok(Some(super::kit::BudgetCase {
                running,
                entry,
                key: "consumable",
                value: "RU".into(),
                unit: "RU".into(),
                amount: Box::new(amount),
                vendor_money: None,
            }))
        })
    }

    fn demo_price(&self) -> Option<&'static str> {
        Some(r#"{match: {vendor: uipath, consumable: [RU, PLTU]}, price: 0.12, currency: USD}"#)
    }

    fn demo_seat_price(&self) -> Option<&'static str> {
        Some(
            r#"{match: {vendor: uipath, licence: [Attended, Development, StudioX]}, price: 15, currency: USD}"#,
        )
    }

    fn demo_spend(&self, spec: super::kit::TenantSpec) -> Option<super::kit::DemoSpend> {
        let org = UiPathOrganization::demo(spec.seed, spec.today);
        let units = move |day| -> f64 {
            let mut sum = 0.0;
            for (code, services) in CONSUMABLES
                .iter()
                .filter(|(c, _)| ["RU", "PLTU"].contains(c))
            {
                for tenant in &org.tenant_ids {
                    sum += services
                        .iter()
                        .map(|s| org.amount(tenant, code, s, day))
                        .sum::<f64>();
                }
            }
            sum
        };
        Some(super::kit::DemoSpend {
            vendor: "uipath",
            per_unit: 0.12,
            currency: "USD",
            units: Box::new(units),
        })
    }

    fn wrong_shape_answers(&self) -> &'static [&'static str] {
        &[
            "{}",
            r#"{"value":[]}"#,
            r#"{"items":{}}"#,
            "null",
            "\"items\"",
        ]
    }

    fn odd_answer(&self) -> &'static str {
        r#"{"items":[{"surprise":1},{"date":"2026-11-22"}],"value":[{"surprise":1},{"LastLoginDate":"soon"}],"more":[]}"#
    }

    fn benchmark_scale(&self) -> u64 {
        500
    }

    fn scale_unit(&self) -> &'static str {
        "tenants × 4 consumables"
    }

    fn history_benchmark_scale(&self) -> Option<u64> {
        Some(500)
    }

    fn concurrency(&self) -> usize {
        4
    }
}

//! AvePoint Online Services: the identity server's `POST /connect/token` (client credentials
//! with a secret, or a `client_assertion` JWT whose RS256 signature it checks against the
//! registered certificate), and the Graph API's
//! `GET /smp/powerplatform/connectionusage/cloudflows` with `flowId`, `top` and `tenant`, and
//! `nextLink` in each of its documented forms. Written from AvePoint's API docs, not from the
//! exporter's source.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::{apply_fault, form, Faults, RunningSimulator, Tokens};
use crate::model::locks::lock;

/// How a page names the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextLink {
    Absolute,
    Relative,
}

/// How the last page says there is no next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastPage {
    EmptyString,
    Null,
}

#[derive(Clone, Debug)]
pub struct AvePointTenant {
    pub client_id: String,
    pub client_secret: String,
    /// The PEM certificate registered for the app; assertions must be signed by its key.
    pub certificate_pem: Option<String>,
    pub next_link: NextLink,
    pub last_page: LastPage,
    /// A page whose `nextLink` points at another host.
    pub foreign_link_on_page: Option<u32>,
    /// A page whose `nextLink` points back at the first page.
    pub loop_on_page: Option<u32>,
    /// Rows of (flowId, environmentId, connectionId).
    pub rows: Vec<(String, String, String)>,
    /// Cloud flows and Power Apps the inventory endpoints list, with their activity.
    pub inventory: usize,
    /// The simulated "today": activity is drawn in the 90 days before it.
    pub today: chrono::NaiveDate,
    /// Cloud Backup for Microsoft 365 seats: (purchased, assigned); none: the tenant has no
    /// Cloud Backup, and the endpoint answers 404.
    pub backup_seats: Option<(u32, u32)>,
    /// Whether a connection-usage query without `flowId` is refused (400), as the reference's
    /// "Required: Yes" would have it; by default all flows are returned, as its text says.
    pub flow_id_required: bool,
}

/// One inventory item: (id, environment, last activity as AvePoint writes it, `""` for
/// never; whether an app has a premium connection). Flows and apps share the draw.
pub fn inventory_item(
    seed: u64,
    today: chrono::NaiveDate,
    kind: &str,
    i: usize,
) -> (String, String, String, bool) {
    let mut rng =
        StdRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9e37_79b9) ^ kind.len() as u64);
    let midnight = today.and_hms_opt(0, 0, 0).unwrap_or_default();
    let last = match rng.random_range(0..8) {
        0 => String::new(),
        _ => (midnight - chrono::Duration::seconds(rng.random_range(0..90 * 86_400)))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
    };
    let environment = format!("Default-{:08x}", i % 3);
    (format!("{kind}-{i:05}"), environment, last, i % 4 != 1)
}

impl Default for AvePointTenant {
    fn default() -> Self {
        AvePointTenant {
            client_id: "avepoint-sim-app".into(),
            client_secret: "avepoint-sim-secret".into(),
            certificate_pem: None,
            next_link: NextLink::Absolute,
            last_page: LastPage::EmptyString,
            foreign_link_on_page: None,
            loop_on_page: None,
            rows: generate_rows(1, 30),
            inventory: 30,
            today: chrono::Utc::now().date_naive(),
            backup_seats: Some((100, 47)),
            flow_id_required: false,
        }
    }
}

/// Connection usage rows for `flows` flows: each uses 1–6 connections, some listed twice (a
/// connection used by two actions), across three environments.
pub fn generate_rows(seed: u64, flows: usize) -> Vec<(String, String, String)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rows = Vec::new();
    for flow in 0..flows {
        let environment = format!("Default-{:08x}", flow % 3);
        let flow_id = format!("{:08x}-flow-{flow:04}", seed);
        for _ in 0..rng.random_range(1..=6) {
            let connection = format!(
                "shared-{}-{:03}",
                ["office365", "sharepointonline", "sql", "teams"][rng.random_range(0..4)],
                rng.random_range(0..40)
            );
            let repeats = if rng.random_bool(0.2) { 2 } else { 1 };
            for _ in 0..repeats {
                rows.push((flow_id.clone(), environment.clone(), connection.clone()));
            }
        }
    }
    rows
}

#[derive(Clone)]
pub struct AvePointSimulator {
    state: Arc<SimState>,
}

struct SimState {
    tenant: AvePointTenant,
    /// The token URL as clients see it, the `aud` an assertion must carry.
    token_url: OnceLock<String>,
    tokens: Tokens,
    assertions_accepted: Mutex<u32>,
    faults: Faults,
    queries: Mutex<Vec<String>>,
    /// The tokens asked for with Cloud Backup's permission: its seats refuse any other.
    backup_tokens: Mutex<std::collections::HashSet<String>>,
}

impl AvePointSimulator {
    pub fn new(tenant: AvePointTenant) -> Self {
        AvePointSimulator {
            state: Arc::new(SimState {
                tenant,
                token_url: OnceLock::new(),
                tokens: Tokens::default(),
                assertions_accepted: Mutex::new(0),
                faults: Faults::default(),
                queries: Mutex::default(),
                backup_tokens: Mutex::default(),
            }),
        }
    }

    pub async fn start(&self, port: u16) -> std::io::Result<RunningSimulator> {
        let router = Router::new()
            .route("/connect/token", post(token))
            .route("/smp/powerplatform/connectionusage/cloudflows", get(usage))
            .route(
                "/smp/powerplatform/powerautomate/cloudflows",
                get(cloud_flows),
            )
            .route("/smp/powerplatform/powerapps", get(power_apps))
            .route(
                "/backup/m365/cloudbackuplicenseconsumption",
                get(backup_consumption),
            )
            .with_state(self.state.clone());
        let running = super::serve(router, port).await?;
        let _ = self
            .state
            .token_url
            .set(format!("{}/connect/token", running.url()));
        Ok(running)
    }

    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    pub fn queries(&self) -> Vec<String> {
        lock(&self.state.queries).clone()
    }

    /// Token requests that authenticated with a valid signed assertion.
    pub fn assertions_accepted(&self) -> u32 {
        *lock(&self.state.assertions_accepted)
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(error_json(status, message))).into_response()
}

fn error_json(status: StatusCode, message: &str) -> Value {
    json!({"statusCode": status.as_u16(), "message": message, "requestId": "sim-request-1",
           "timestamp": "2026-11-22T10:00:00.00Z", "traceId": "00-5ce1c5b5d1f0a0b7-01"})
}

async fn token(State(state): State<Arc<SimState>>, body: String) -> Response {
    if let Some(response) = apply_fault(state.faults.take(None), |s| {
        error_json(s, "simulated fault").to_string()
    })
    .await
    {
        return response;
    }
    let form = form(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials"
        || !field("scope")
            .split(' ')
            .any(|s| s == "enpower.data.read.all")
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_scope"})),
        )
            .into_response();
    }
    let tenant = &state.tenant;
    let authenticated = if field("client_assertion_type")
        == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    {
        let valid = assertion_is_valid(&state, field("client_assertion"), field("client_id"));
        if valid {
            *lock(&state.assertions_accepted) += 1;
        }
        valid
    } else {
        field("client_id") == tenant.client_id && field("client_secret") == tenant.client_secret
    };
    if !authenticated {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let token = state.tokens.issue("avepoint-sim-token-", None);
    // A token's scope is the permission it was requested for.
    if field("scope").split(' ').any(|s| s == BACKUP_PERMISSION) {
        lock(&state.backup_tokens).insert(token.clone());
    }
    Json(json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": token})).into_response()
}

/// Checks an assertion as an identity server does: RS256 by the registered certificate's key,
/// issued by and about the client, for this token endpoint, and not expired.
fn assertion_is_valid(state: &SimState, assertion: &str, client_id: &str) -> bool {
    let tenant = &state.tenant;
    let Some(key) = tenant.certificate_pem.as_deref().and_then(decoding_key) else {
        return false;
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[state
        .token_url
        .get()
        .map(String::as_str)
        .unwrap_or_default()]);
    validation.set_issuer(&[tenant.client_id.as_str()]);
    validation.sub = Some(tenant.client_id.clone());
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let decoded = jsonwebtoken::decode::<Value>(assertion, &key, &validation);
    if let Err(e) = &decoded {
        tracing::debug!(error = %e, "client assertion refused");
    }
    (client_id.is_empty() || client_id == tenant.client_id) && decoded.is_ok()
}

fn decoding_key(certificate_pem: &str) -> Option<DecodingKey> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(certificate_pem.as_bytes()).ok()?;
    let (_, certificate) = X509Certificate::from_der(der.as_ref()).ok()?;
    match certificate.public_key().parsed().ok()? {
        // DER integers may carry a leading zero byte; the key wants the bare big-endian number.
        PublicKey::RSA(rsa) => Some(DecodingKey::from_rsa_raw_components(
            strip_zeros(rsa.modulus),
            strip_zeros(rsa.exponent),
        )),
        _ => None,
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

async fn usage(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    lock(&state.queries).push(raw.clone());
    if !state.tokens.accepts(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let top: usize = match pairs.get("top").map(|t| t.parse()) {
        None => 100,
        Some(Ok(top)) if (1..=1000).contains(&top) => top,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "top must be a number from 1 to 1000.",
            )
        }
    };
    let skip: usize = pairs.get("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    let page = (skip / top) as u32 + 1;
    if let Some(response) = apply_fault(state.faults.take(Some(page)), |s| {
        error_json(s, "simulated fault").to_string()
    })
    .await
    {
        return response;
    }
    if state.tenant.flow_id_required && !pairs.contains_key("flowId") {
        return error(StatusCode::BAD_REQUEST, "The flowId field is required.");
    }
    let rows: Vec<&(String, String, String)> = state
        .tenant
        .rows
        .iter()
        .filter(|(flow, _, _)| pairs.get("flowId").is_none_or(|f| f == flow))
        .collect();
    let data: Vec<Value> = rows
        .iter()
        .skip(skip)
        .take(top)
        .map(|(flow, environment, connection)| json!({"flowId": flow, "environmentId": environment, "connectionId": connection}))
        .collect();
    let next_link = next_link(&state, &pairs, page, skip + top, rows.len());
    Json(
        json!({"connectionUsageCloudFlows": data, "totalCount": rows.len(), "nextLink": next_link}),
    )
    .into_response()
}

async fn cloud_flows(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    inventory(&state, &headers, raw, "flow").await
}

async fn power_apps(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    inventory(&state, &headers, raw, "app").await
}

/// The cloud-flow or Power Apps inventory: `top` 1–1000 and `skip`, `nextLink` absolute, the
/// documented fields the exporter reads, timestamps `YYYY-MM-DD HH:MM:SS` without a zone and
/// `""` for never, and counters as integers (as the field table types them).
async fn inventory(
    state: &SimState,
    headers: &HeaderMap,
    raw: Option<String>,
    kind: &str,
) -> Response {
    let raw = raw.unwrap_or_default();
    lock(&state.queries).push(raw.clone());
    if !state.tokens.accepts(headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let top: usize = pairs.get("top").and_then(|t| t.parse().ok()).unwrap_or(100);
    if !(1..=1000).contains(&top) {
        return error(
            StatusCode::BAD_REQUEST,
            "top must be a number from 1 to 1000.",
        );
    }
    let skip: usize = pairs.get("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    if let Some(response) = apply_fault(state.faults.take_entitlement(), |s| {
        error_json(s, "simulated fault").to_string()
    })
    .await
    {
        return response;
    }
    let tenant = &state.tenant;
    let items: Vec<Value> = (skip..tenant.inventory.min(skip + top))
        .map(|i| inventory_json(tenant, kind, i))
        .collect();
    let list = if kind == "flow" {
        "cloudFlows"
    } else {
        "powerApps"
    };
    let path = if kind == "flow" {
        "/smp/powerplatform/powerautomate/cloudflows"
    } else {
        "/smp/powerplatform/powerapps"
    };
    let base = state
        .token_url
        .get()
        .map(|u| u.trim_end_matches("/connect/token").to_string())
        .unwrap_or_default();
    let next = match skip + top < tenant.inventory {
        true => json!(format!("{base}{path}?top={top}&skip={}", skip + top)),
        false => json!(""),
    };
    Json(json!({list: items, "totalCount": tenant.inventory, "nextLink": next})).into_response()
}

/// The permission Cloud Backup's seats need in the token (AvePoint's Cloud Backup API reference).
const BACKUP_PERMISSION: &str = "microsoft365backup.subscriptionInfo.read.all";

/// `GET /backup/m365/cloudbackuplicenseconsumption`: the tenant's Cloud Backup seats in
/// AvePoint's envelope (`statusCode`, `data`, …), as the documented sample has them.
async fn backup_consumption(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    if !state.tokens.accepts(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let permitted = super::bearer(&headers).is_some_and(|t| lock(&state.backup_tokens).contains(t));
    if !permitted {
        return error(
            StatusCode::FORBIDDEN,
            "The token lacks the permission microsoft365backup.subscriptionInfo.read.all.",
        );
    }
    if let Some(response) = apply_fault(state.faults.take_entitlement(), |s| {
        error_json(s, "simulated fault").to_string()
    })
    .await
    {
        return response;
    }
    let Some((purchased, assigned)) = state.tenant.backup_seats else {
        return error(
            StatusCode::NOT_FOUND,
            "The tenant has no Cloud Backup subscription.",
        );
    };
    Json(json!({"statusCode": 200, "message": "Success", "data": {
        "outOfPolicyTime": 0, "purchasedUserSeats": purchased, "assignedUserSeats": assigned,
        "purchasedStorageSize": 1024, "protectedSize": 310},
        "requestId": "sim", "timestamp": 0, "traceId": "sim"}))
    .into_response()
}

/// One flow or app in AvePoint's fields.
fn inventory_json(tenant: &AvePointTenant, kind: &str, i: usize) -> Value {
    let (id, environment, last, premium) = inventory_item(1, tenant.today, kind, i);
    let runs = if last.is_empty() { 0 } else { 3 };
    // Integers, as the reference's field table types them.
    let counter = |n: u32| json!(n);
    match kind {
        "flow" => {
            json!({"flowId": id, "displayName": format!("Flow {i}"), "environmentId": environment,
            "status": "Started", "lastRunTime": last, "lastActivityDate": "", "flowRuns": counter(runs),
            "runsLast30Days": counter(runs), "owner": null})
        }
        _ => {
            json!({"id": id, "appId": id, "displayName": format!("App {i}"), "environment": environment,
            "environmentName": "Default", "lastLaunchedOn": last, "lastActivityDate": "",
            "hasPremiumConnection": premium, "connectorTier": if premium { "Premium" } else { "Standard" },
            "appLaunchesLast30Days": counter(runs), "renewProfileApplied": null, "siteUrl": null})
        }
    }
}

fn next_link(
    state: &SimState,
    pairs: &HashMap<String, String>,
    page: u32,
    next_skip: usize,
    total: usize,
) -> Value {
    let tenant = &state.tenant;
    let base = state
        .token_url
        .get()
        .map(|u| u.trim_end_matches("/connect/token").to_string())
        .unwrap_or_default();
    let mut query: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| *k != "skip")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    query.sort();
    let with_skip = |skip: usize| {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        serializer.extend_pairs(&query);
        serializer.append_pair("skip", &skip.to_string());
        format!(
            "/smp/powerplatform/connectionusage/cloudflows?{}",
            serializer.finish()
        )
    };
    if tenant.foreign_link_on_page == Some(page) {
        return json!(format!(
            "https://graph-elsewhere.example.net{}",
            with_skip(next_skip)
        ));
    }
    if tenant.loop_on_page == Some(page) {
        return json!(format!("{base}{}", with_skip(0)));
    }
    if next_skip >= total {
        return match tenant.last_page {
            LastPage::EmptyString => json!(""),
            LastPage::Null => Value::Null,
        };
    }
    match tenant.next_link {
        NextLink::Absolute => json!(format!("{base}{}", with_skip(next_skip))),
        NextLink::Relative => json!(with_skip(next_skip)),
    }
}

impl super::kit::Simulated for AvePointSimulator {
    fn faults(&self) -> &Faults {
        AvePointSimulator::faults(self)
    }
}

/// AvePoint in the simulator kit. A benchmark unit is one flow (about four connection rows).
pub struct AvePointKit;

impl super::kit::SimulatedVendor for AvePointKit {
    fn type_name(&self) -> &'static str {
        "avepoint"
    }

    fn start(
        &self,
        spec: super::kit::TenantSpec,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<super::kit::SimulatedTenant>> {
        use super::kit::{EntryParts, Scale, SimulatedTenant};
        Box::pin(async move {
            // Seats in the small and demo tenants, so the fault suite, the secret test and the
            // demo cover the inventories too.
            let (flows, keys) = match spec.scale {
                Scale::Small => (30, "    seats: true\n    cloud_backup_seats: true\n"),
                Scale::Demo => (40, "    seats: true\n    cloud_backup_seats: true\n"),
                Scale::Units(flows) | Scale::Monthly(flows) => {
                    (flows as usize, "    page_size: 1000\n")
                }
            };
            let tenant = AvePointTenant {
                rows: generate_rows(spec.seed, flows),
                today: spec.today,
                ..AvePointTenant::default()
            };
            let simulator = AvePointSimulator::new(tenant.clone());
            let running = simulator.start(0).await?;
            let url = running.url();
            let credentials = (tenant.client_id, tenant.client_secret);
            let parts = EntryParts::client_credentials(
                "avepoint",
                format!("    base_url: {url}\n{keys}"),
                Some(format!("{url}/connect/token")),
                credentials,
            );
            Ok(SimulatedTenant::new(running, Box::new(simulator), parts))
        })
    }

    fn demo_sources(&self) -> Vec<super::kit::DemoSource> {
        vec![super::kit::DemoSource::named("demo-avepoint")]
    }

    fn demo_budgets(
        &self,
        spec: super::kit::TenantSpec,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        use super::kit::{demo_budgets, DemoUsage};
        let rows = generate_rows(spec.seed, 40);
        let environment = |i: usize| format!("Default-{i:08x}");
        let usage = [0, 1, 2, 0].map(|i| {
            let env = environment(i);
            let distinct: std::collections::HashSet<&str> = rows
                .iter()
                .filter(|(_, e, _)| *e == env)
                .map(|(_, _, connection)| connection.as_str())
                .collect();
            DemoUsage::level(&env, distinct.len() as f64)
        });
        demo_budgets("environment_id", usage, now)
    }

    fn secrets(&self) -> &'static [&'static str] {
        &["avepoint-sim-secret", "avepoint-sim-token-"]
    }

    /// Usage, the two inventories and Cloud Backup's envelope in one body: the fault suite
    /// answers every request of a poll with it, the seat reads of `seats: true` included.
    fn empty_answer(&self) -> &'static str {
        r#"{"connectionUsageCloudFlows":[],"cloudFlows":[],"powerApps":[],"data":{},"totalCount":0,"nextLink":""}"#
    }

    /// AvePoint reports the connections in use now, a level: no days to sum.
    fn budget_case(
        &self,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<Option<super::kit::BudgetCase>>>
    {
        Box::pin(async { Ok(None) })
    }

    /// Connection counts are not billed.
    fn demo_price(&self) -> Option<&'static str> {
        None
    }

    fn wrong_shape_answers(&self) -> &'static [&'static str] {
        &[
            "[]",
            "{}",
            r#"{"totalCount":0,"nextLink":""}"#,
            r#"{"connectionUsageCloudFlows":{}}"#,
            "null",
        ]
    }

    fn odd_answer(&self) -> &'static str {
        r#"{"connectionUsageCloudFlows":[{"flowId":"f"},{"surprise":1}],"cloudFlows":[{"flowId":"f","lastRunTime":"soon"},{"surprise":1}],"powerApps":[{"hasPremiumConnection":"yes"}],"data":{"assignedUserSeats":null,"surprise":"many"},"nextLink":null,"other":{}}"#
    }

    fn benchmark_scale(&self) -> u64 {
        100_000
    }

    /// AvePoint has no licence API: its budgets are declared in config only.
    fn has_entitlements(&self) -> bool {
        false
    }

    fn scale_unit(&self) -> &'static str {
        "flows (≈4 connection rows each)"
    }
}

//! Microsoft Entra ID and Graph: `POST /{tenant}/oauth2/v2.0/token` (client credentials for a
//! `/.default` scope) and `GET /v1.0/subscribedSkus`, the tenant's SKUs with `prepaidUnits`
//! (enabled, warning, suspended, lockedOut) and `consumedUnits`, in Graph's documented shape.
//! Graph documents no paging for it; the simulator can page with `@odata.nextLink` all the
//! same, to hold the exporter to following one. Written from Microsoft's Graph reference, not
//! from the exporter's source.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::{apply_fault, form, Faults, RunningSimulator, Tokens};

/// One subscribed SKU as the simulator serves it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimSku {
    pub sku_id: String,
    pub part_number: String,
    pub capability_status: &'static str,
    pub enabled: u32,
    pub warning: u32,
    pub suspended: u32,
    pub locked_out: u32,
    pub consumed: u32,
}

#[derive(Clone, Debug)]
pub struct MicrosoftTenant {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub skus: Vec<SimSku>,
    /// SKUs per page; none: one page, as Graph documents it.
    pub page_size: Option<usize>,
    /// Whether the app registration lacks Organization.Read.All: subscribedSkus answers 403.
    pub forbidden: bool,
}

/// SKUs every simulated tenant has (part number, skuId), from Microsoft's service plan table.
pub const POWER_SKUS: [(&str, &str); 5] = [
    (
        "POWERAUTOMATE_ATTENDED_RPA",
        "eda1941c-3c4f-4995-b5eb-e85a42175ab9",
    ),
    (
        "Power_Automate_per_process",
        "253ce8d3-6122-4240-8b04-f434a8fa831f",
    ),
    ("POWERAPPS_PER_USER", "b30411f5-fea1-4a59-9ad9-3db7c7ead579"),
    (
        "FLOW_BUSINESS_PROCESS",
        "b3a42176-0a8c-4c3f-ba4e-f2b37fe5be6b",
    ),
    ("ENTERPRISEPREMIUM", "c7df2760-2c81-4ef7-b578-5b5392b571df"),
];

impl MicrosoftTenant {
    /// The Power SKUs, then `others` more SKUs, numbers drawn from `seed`. The per-flow plan is
    /// suspended (its units all suspended) and the Office SKU has units in their grace period.
    pub fn generated(seed: u64, others: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut skus = Vec::new();
        for (part, id) in POWER_SKUS {
            let enabled = rng.random_range(20..400);
            let mut sku = SimSku {
                sku_id: id.to_string(),
                part_number: part.to_string(),
                capability_status: "Enabled",
                enabled,
                warning: 0,
                suspended: 0,
                locked_out: 0,
                consumed: rng.random_range(0..=enabled),
            };
            if part == "FLOW_BUSINESS_PROCESS" {
                (sku.capability_status, sku.suspended, sku.enabled) = ("Suspended", enabled, 0);
                sku.consumed = 0;
            }
            if part == "ENTERPRISEPREMIUM" {
                (sku.capability_status, sku.warning) = ("Warning", 5);
            }
            skus.push(sku);
        }
        for i in 0..others {
            let enabled = rng.random_range(1..5000);
            skus.push(SimSku {
                sku_id: format!("00000000-0000-4000-8000-{i:012x}"),
                part_number: format!("SIM_SKU_{i}"),
                capability_status: "Enabled",
                enabled,
                warning: 0,
                suspended: 0,
                locked_out: 0,
                consumed: rng.random_range(0..=enabled),
            });
        }
        MicrosoftTenant {
            skus,
            ..MicrosoftTenant::default()
        }
    }
}

impl Default for MicrosoftTenant {
    fn default() -> Self {
        MicrosoftTenant {
            tenant_id: "44444444-4444-4444-4444-444444444444".into(),
            client_id: "graph-sim-app".into(),
            client_secret: "graph-sim-secret".into(),
            skus: Vec::new(),
            page_size: None,
            forbidden: false,
        }
    }
}

#[derive(Clone)]
pub struct MicrosoftSimulator {
    state: Arc<SimState>,
}

struct SimState {
    tenant: MicrosoftTenant,
    tokens: Tokens,
    faults: Faults,
}

impl MicrosoftSimulator {
    pub fn new(tenant: MicrosoftTenant) -> Self {
        MicrosoftSimulator {
            state: Arc::new(SimState {
                tenant,
                tokens: Tokens::default(),
                faults: Faults::default(),
            }),
        }
    }

    pub async fn start(&self, port: u16) -> std::io::Result<RunningSimulator> {
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/v1.0/subscribedSkus", get(subscribed_skus))
            .with_state(self.state.clone());
        super::serve(router, port).await
    }

    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message}});
    (status, Json(body)).into_response()
}

fn error_body(status: StatusCode) -> String {
    json!({"error": {"code": "generalException", "message": format!("simulated {status}")}})
        .to_string()
}

async fn token(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    body: String,
) -> Response {
    if let Some(response) = apply_fault(state.faults.take(None), error_body).await {
        return response;
    }
    let form = form(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let known = &state.tenant;
    if tenant != known.tenant_id {
        let body = json!({"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant not found."});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    if field("grant_type") != "client_credentials" || !field("scope").ends_with("/.default") {
        let body = json!({"error": "invalid_scope", "error_description": "AADSTS1002012: The scope must end in /.default for client credentials."});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    if field("client_id") != known.client_id || field("client_secret") != known.client_secret {
        let body = json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let token = state.tokens.issue("graph-sim-token-", None);
    Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": token})).into_response()
}

/// `GET /v1.0/subscribedSkus`: Graph's `$select` only; `$skiptoken` is the simulator's own
/// page cursor (an offset), used only when the tenant pages.
async fn subscribed_skus(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if !state.tokens.accepts(&headers) {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty or invalid.",
        );
    }
    let raw = raw.unwrap_or_default();
    let pairs: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect();
    let offset: usize = pairs
        .get("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let page = state
        .tenant
        .page_size
        .map_or(1, |size| offset / size.max(1) + 1) as u32;
    if let Some(response) = apply_fault(state.faults.take(Some(page)), error_body).await {
        return response;
    }
    let tenant = &state.tenant;
    if tenant.forbidden {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let size = tenant.page_size.unwrap_or(usize::MAX);
    let value: Vec<Value> = tenant
        .skus
        .iter()
        .skip(offset)
        .take(size)
        .map(sku_json)
        .collect();
    let mut body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus",
        "value": value,
    });
    if offset.saturating_add(size) < tenant.skus.len() {
        body["@odata.nextLink"] =
            json!(format!("/v1.0/subscribedSkus?$skiptoken={}", offset + size));
    }
    Json(body).into_response()
}

fn sku_json(sku: &SimSku) -> Value {
    json!({
        "accountName": "Simulated account", "accountId": "f97aeefc-af85-414d-8ae4-b457f90efc40",
        "appliesTo": "User", "capabilityStatus": sku.capability_status,
        "consumedUnits": sku.consumed,
        "id": format!("44444444-4444-4444-4444-444444444444_{}", sku.sku_id),
        "prepaidUnits": {"enabled": sku.enabled, "lockedOut": sku.locked_out, "suspended": sku.suspended, "warning": sku.warning},
        "servicePlans": [{"servicePlanId": "8c098270-9dd4-4350-9b30-ba4703f3b36b", "servicePlanName": "SIM_PLAN", "provisioningStatus": "Success", "appliesTo": "User"}],
        "skuId": sku.sku_id, "skuPartNumber": sku.part_number,
        "subscriptionIds": ["43d26afe-cb98-48b9-acc4-ae3ef2ac6c51"],
    })
}

impl super::kit::Simulated for MicrosoftSimulator {
    fn faults(&self) -> &Faults {
        MicrosoftSimulator::faults(self)
    }
}

/// Microsoft Graph in the simulator kit. A benchmark unit is one subscribed SKU.
pub struct MicrosoftKit;

impl super::kit::SimulatedVendor for MicrosoftKit {
    fn type_name(&self) -> &'static str {
        "microsoft"
    }

    fn start(
        &self,
        spec: super::kit::TenantSpec,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<super::kit::SimulatedTenant>> {
        use super::kit::{EntryParts, Scale, SimulatedTenant};
        Box::pin(async move {
            let (others, page_size) = match spec.scale {
                Scale::Small => (3, Some(4)),
                Scale::Demo => (6, None),
                Scale::Units(n) | Scale::Monthly(n) => (n as usize, None),
            };
            let tenant = MicrosoftTenant {
                page_size,
                ..MicrosoftTenant::generated(spec.seed, others)
            };
            let simulator = MicrosoftSimulator::new(tenant.clone());
            let running = simulator.start(0).await?;
            let url = running.url();
            let parts = EntryParts::client_credentials(
                "microsoft",
                format!("    base_url: {url}\n"),
                Some(format!("{url}/{}/oauth2/v2.0/token", tenant.tenant_id)),
                (tenant.client_id, tenant.client_secret),
            );
            Ok(SimulatedTenant::new(running, Box::new(simulator), parts))
        })
    }

    fn demo_sources(&self) -> Vec<super::kit::DemoSource> {
        vec![super::kit::DemoSource::named("demo-licences")]
    }

    /// Budgets on the assigned seats of the Power SKUs: a level, so the fourth is comfortable.
    fn demo_budgets(
        &self,
        spec: super::kit::TenantSpec,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        use super::kit::{demo_budgets, DemoUsage};
        let tenant = MicrosoftTenant::generated(spec.seed, 6);
        let usage = [0, 1, 2, 4].map(|i| {
            let sku = &tenant.skus[i];
            DemoUsage::level(&sku.part_number, f64::from(sku.consumed.max(1)))
        });
        demo_budgets("sku_part_number", usage, now)
    }

    fn secrets(&self) -> &'static [&'static str] {
        &["graph-sim-secret", "graph-sim-token-"]
    }

    fn empty_answer(&self) -> &'static str {
        r#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#subscribedSkus","value":[]}"#
    }

    fn odd_answer(&self) -> &'static str {
        r#"{"value":[{"skuPartNumber":"X","prepaidUnits":null,"consumedUnits":null},{"surprise":1}],"extra":{}}"#
    }

    fn wrong_shape_answers(&self) -> &'static [&'static str] {
        &[
            "[]",
            "{}",
            r#"{"value":{}}"#,
            "null",
            r#"{"@odata.context":"x"}"#,
        ]
    }

    fn benchmark_scale(&self) -> u64 {
        1_000
    }

    fn scale_unit(&self) -> &'static str {
        "subscribed SKUs"
    }

    /// Seats are what Graph reports: there is no separate entitlement to read.
    fn has_entitlements(&self) -> bool {
        false
    }

    /// Graph reports the seats assigned now, a level: no days to sum.
    fn budget_case(
        &self,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<Option<super::kit::BudgetCase>>>
    {
        Box::pin(async { Ok(None) })
    }

    /// Seats are bought, not consumed: nothing the exporter reads is billed per unit.
    fn demo_price(&self) -> Option<&'static str> {
        None
    }
}

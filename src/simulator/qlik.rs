//! A Qlik Cloud tenant: `POST /oauth/token` (OAuth M2M) and
//! `GET /api/v1/consumption/executions` with API-key or token auth, `limit` (1–200, default 20),
//! an opaque `page` cursor in `links.next`, `periodsToInclude`, a small SCIM `filter` subset,
//! Qlik's 429 with `Retry-After`, and errors as `{errors:[{code,title,detail}],traceId}`.
//! Written from qlik.dev's consumption reference, not from the exporter's source.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Datelike, Months, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::{apply_fault, bearer, Faults, RunningSimulator, Tokens};
use crate::model::locks::{lock, read, write};

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 200;

/// How `links.next` names the next page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextLinkStyle {
    /// `href` on this host and a `token`, as Qlik documents.
    HrefAndToken,
    /// Only an `href`, relative to the host.
    RelativeHrefOnly,
    /// Only an `href` naming another host (as the spec's own example does: `localhost:8787`).
    ForeignHrefOnly,
}

/// Settings of one simulated tenant.
#[derive(Clone, Debug)]
pub struct QlikTenant {
    pub api_key: String,
    pub client_id: String,
    pub client_secret: String,
    pub token_lifetime: Duration,
    /// At most this many data requests per minute; more get a 429 with `Retry-After`.
    pub requests_per_minute: Option<u32>,
    pub next_link_style: NextLinkStyle,
    /// The simulated "today" (UTC), which decides current and previous periods.
    pub today: NaiveDate,
    /// What `GET /api/v1/licenses/overview` answers.
    pub license: QlikLicense,
    /// Whether the credential's user may not read the licence: the overview answers 403.
    pub license_forbidden: bool,
    /// Licence assignments, served by `GET /api/v1/licenses/assignments`.
    pub assignments: usize,
}

/// The last session of an assigned user, as the audit events record it: none (no session in
/// the 90 days audits keep), or a time in them, under the legacy event name or its successor.
pub fn last_session(today: NaiveDate, i: usize) -> Option<(chrono::DateTime<Utc>, &'static str)> {
    let mut rng = StdRng::seed_from_u64(i as u64 ^ 0x5eed);
    if rng.random_range(0..5) == 0 {
        return None;
    }
    let midnight = today.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let at = midnight - chrono::Duration::seconds(rng.random_range(1..89 * 86_400));
    let name = match i % 2 {
        0 => "com.qlik.user-session.begin",
        _ => "com.qlik.core.user-session.begun",
    };
    Some((at, name))
}

/// One licence assignment the simulator serves: (subject, type, excess, orphan). Every 7th is
/// in excess, every 11th an orphan (a user the tenant no longer has); every 50th is written as
/// qlik.dev's own example writes its second item, with `"type": false` and no `excess`.
pub fn assignment(i: usize) -> (String, Option<&'static str>, bool, bool) {
    let kind = match i % 5 {
        0 | 1 => "professional",
        _ => "analyzer",
    };
    let odd = i % 50 == 49;
    let excess = !odd && i % 7 == 3;
    (
        format!("qlik\\user{i:05}"),
        (!odd).then_some(kind),
        excess,
        i % 11 == 5,
    )
}

/// A tenant's licence overview, in the fields the simulator serves.
#[derive(Clone, Debug)]
pub struct QlikLicense {
    /// (name, units, unitsUsed, overage headroom: -1 unbounded, none: not sent, usageClass)
    pub allotments: Vec<(String, i64, i64, Option<i64>, String)>,
    pub status: String,
    /// The `valid` interval's first and last day.
    pub valid: (NaiveDate, NaiveDate),
    /// The signed licence key: a secret the exporter must never show.
    pub license_key: String,
}

impl Default for QlikLicense {
    fn default() -> Self {
        let allotment = |name: &str, units, used, overage, class: &str| {
            (name.to_string(), units, used, overage, class.to_string())
        };
        QlikLicense {
            allotments: vec![
                allotment("professional", 200, 15, None, "assigned"),
                allotment("analyzer", 500, 480, Some(-1), "assigned"),
                allotment("analyzer_time", 300, 242, Some(100), "time"),
            ],
            status: "Ok".into(),
            // Inclusive days, as a licence's validity is written.
            valid: (
                NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
                NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or_default(),
            ),
            license_key: "eyJhbGciOiJFZERTQSJ9.qlik-sim-license-key.c2lnbmF0dXJl".into(),
        }
    }
}

impl Default for QlikTenant {
    fn default() -> Self {
        QlikTenant {
            api_key: "qlik-sim-api-key".into(),
            client_id: "qlik-sim-client".into(),
            client_secret: "qlik-sim-secret".into(),
            token_lifetime: Duration::from_secs(21600),
            requests_per_minute: None,
            next_link_style: NextLinkStyle::HrefAndToken,
            today: Utc::now().date_naive(),
            license: QlikLicense::default(),
            license_forbidden: false,
            assignments: 40,
        }
    }
}

/// One request the simulator received, for tests to inspect.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
}

/// A running Qlik tenant simulator and its controls.
#[derive(Clone)]
pub struct QlikSimulator {
    state: Arc<QlikState>,
}

struct QlikState {
    tenant: QlikTenant,
    records: RwLock<Vec<Value>>,
    tenant_flags: RwLock<(bool, bool)>,
    tokens: Tokens,
    faults: Faults,
    received: Mutex<Vec<Received>>,
    window: Mutex<(Instant, u32)>,
    /// The records the last query selected (by index), so paging through a large tenant does
    /// not filter every record again for every page.
    selection: Mutex<Option<(SelectionKey, Arc<Vec<usize>>)>>,
}

type SelectionKey = (Vec<String>, Vec<(String, String)>);

impl QlikSimulator {
    /// A tenant serving `records` (Qlik execution records as JSON objects).
    pub fn new(tenant: QlikTenant, records: Vec<Value>) -> Self {
        let flags = tenant_flags(&records);
        QlikSimulator {
            state: Arc::new(QlikState {
                tenant,
                records: RwLock::new(records),
                tenant_flags: RwLock::new(flags),
                tokens: Tokens::default(),
                faults: Faults::default(),
                received: Mutex::default(),
                window: Mutex::new((Instant::now(), 0)),
                selection: Mutex::default(),
            }),
        }
    }

    /// Serves on `127.0.0.1:port` (0: any free port).
    pub async fn start(&self, port: u16) -> std::io::Result<RunningSimulator> {
        let router = Router::new()
            .route("/oauth/token", post(token))
            .route("/api/v1/consumption/executions", get(executions))
            .route("/api/v1/licenses/overview", get(license_overview))
            .route("/api/v1/licenses/assignments", get(license_assignments))
            .route("/api/v1/audits", get(audits))
            .with_state(self.state.clone());
        super::serve(router, port).await
    }

    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Replaces the data, e.g. to push a capacity into overage mid-test.
    pub fn set_records(&self, records: Vec<Value>) {
        *write(&self.state.tenant_flags) = tenant_flags(&records);
        let mut current = write(&self.state.records);
        *current = records;
        *lock(&self.state.selection) = None;
    }

    /// Requests received so far (token requests included).
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state.received).clone()
    }

    /// How many token requests succeeded.
    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens.count() as u64
    }
}

/// Tenant-level flags as Qlik reports them: any current record in overage / close to it.
fn tenant_flags(records: &[Value]) -> (bool, bool) {
    let any = |key: &str| records.iter().any(|r| r[key].as_bool() == Some(true));
    (any("overage"), any("closeToOverage"))
}

fn qlik_error(status: StatusCode, detail: &str) -> String {
    json!({
        "errors": [{"code": format!("HTTP-{}", status.as_u16()), "title": status.canonical_reason().unwrap_or("Error"), "detail": detail}],
        "traceId": "5ce1c5b5d1f0a0b7",
    })
    .to_string()
}

fn error_response(status: StatusCode, detail: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        qlik_error(status, detail),
    )
        .into_response()
}

async fn token(State(state): State<Arc<QlikState>>, headers: HeaderMap, body: String) -> Response {
    record(&state, "/oauth/token", "", &headers);
    if let Some(response) = apply_fault(state.faults.take(None), |s| {
        qlik_error(s, "simulated fault")
    })
    .await
    {
        return response;
    }
    // Qlik accepts the token request as JSON or as a form.
    let fields: Vec<(String, String)> =
        match serde_json::from_str::<serde_json::Map<String, Value>>(&body) {
            Ok(map) => map
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect(),
            Err(_) => url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect(),
        };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return error_response(StatusCode::BAD_REQUEST, "unsupported grant_type");
    }
    let tenant = &state.tenant;
    if field("client_id") != Some(tenant.client_id.as_str())
        || field("client_secret") != Some(tenant.client_secret.as_str())
    {
        return error_response(StatusCode::UNAUTHORIZED, "invalid client credentials");
    }
    let access_token = state
        .tokens
        .issue("qlik-sim-token-", Some(tenant.token_lifetime));
    let lifetime = tenant.token_lifetime.as_secs();
    let expires_at = Utc::now() + chrono::Duration::seconds(lifetime as i64);
    Json(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "scope": "admin_classic",
        "expires_in": lifetime,
        "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }))
    .into_response()
}

fn record(state: &QlikState, path: &str, query: &str, headers: &HeaderMap) {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    lock(&state.received).push(Received {
        path: path.into(),
        query: query.into(),
        authorization,
    });
}

/// The parsed query of an executions request.
struct Query {
    limit: usize,
    offset: usize,
    periods: Vec<String>,
    filter: Vec<(String, String)>,
}

fn parse_query(raw: &str) -> Result<Query, String> {
    let mut query = Query {
        limit: DEFAULT_LIMIT,
        offset: 0,
        periods: Vec::new(),
        filter: Vec::new(),
    };
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        match key.as_ref() {
            "limit" => {
                query.limit = value
                    .parse()
                    .map_err(|_| format!("limit {value:?} is not an integer"))?;
                if !(1..=MAX_LIMIT).contains(&query.limit) {
                    return Err(format!("limit must be between 1 and {MAX_LIMIT}"));
                }
            }
            "page" => query.offset = decode_cursor(&value).ok_or("invalid page cursor")?,
            // Both `periodsToInclude=current&periodsToInclude=previous` and `current,previous`.
            "periodsToInclude" => query.periods.extend(value.split(',').map(str::to_string)),
            "filter" => query.filter = parse_filter(&value)?,
            "sort" | "offset" | "actionToBlock" => {}
            other => return Err(format!("unknown query parameter {other:?}")),
        }
    }
    if let Some(bad) = query
        .periods
        .iter()
        .find(|p| !matches!(p.as_str(), "current" | "previous"))
    {
        return Err(format!(
            "periodsToInclude {bad:?} is not current or previous"
        ));
    }
    Ok(query)
}

/// The SCIM subset the simulator understands: `field eq "value"` clauses joined by `or`.
fn parse_filter(filter: &str) -> Result<Vec<(String, String)>, String> {
    filter
        .split(" or ")
        .map(|clause| {
            let mut parts = clause.trim().splitn(3, ' ');
            let (Some(field), Some("eq"), Some(value)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("unsupported filter clause {clause:?}"));
            };
            let value = value.trim().trim_matches('"');
            Ok((field.to_ascii_lowercase(), value.to_string()))
        })
        .collect()
}

fn matches_filter(record: &Value, filter: &[(String, String)]) -> bool {
    filter.is_empty()
        || filter.iter().any(|(field, wanted)| {
            let key = match field.as_str() {
                "resourcetype" => "resourceType",
                "resourceaction" => "resourceAction",
                "periodtype" => "periodType",
                "userid" => "userId",
                "unit" => "unit",
                _ => return false,
            };
            record[key].as_str() == Some(wanted.as_str())
        })
}

fn encode_cursor(offset: usize) -> String {
    format!("c{:x}", offset * 7 + 3)
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let raw = usize::from_str_radix(cursor.strip_prefix('c')?, 16).ok()?;
    (raw >= 3 && (raw - 3) % 7 == 0).then(|| (raw - 3) / 7)
}

fn period_of(record: &Value, today: NaiveDate) -> &'static str {
    let end = record["periodEnd"]
        .as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    match end {
        Some(end) if end < today => "previous",
        _ => "current",
    }
}

/// Counts a data request against the per-minute limit; returns the seconds to wait if over it.
fn over_rate_limit(state: &QlikState) -> Option<u64> {
    let limit = state.tenant.requests_per_minute?;
    let mut window = lock(&state.window);
    if window.0.elapsed() >= Duration::from_secs(60) {
        *window = (Instant::now(), 0);
    }
    window.1 += 1;
    (window.1 > limit).then(|| 60u64.saturating_sub(window.0.elapsed().as_secs()).max(1))
}

async fn executions(
    State(state): State<Arc<QlikState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    record(&state, "/api/v1/consumption/executions", &raw, &headers);
    if !authorised(&state, &headers) {
        return error_response(StatusCode::UNAUTHORIZED, "Invalid or expired credentials");
    }
    let query = match parse_query(&raw) {
        Ok(query) => query,
        Err(detail) => return error_response(StatusCode::BAD_REQUEST, &detail),
    };
    let page = (query.offset / query.limit) as u32 + 1;
    if let Some(response) = apply_fault(state.faults.take(Some(page)), |s| {
        qlik_error(s, "simulated fault")
    })
    .await
    {
        return response;
    }
    if let Some(wait) = over_rate_limit(&state) {
        let mut response = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("You need to wait {wait} seconds until limit is lifted."),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    Json(page_body(&state, &query, &raw)).into_response()
}

/// What every licence and audit read checks first, after recording the request: the
/// credential, then a queued fault.
async fn licence_read_refusal(
    state: &QlikState,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    record(state, path, query, headers);
    if !authorised(state, headers) {
        return Some(error_response(
            StatusCode::UNAUTHORIZED,
            "Invalid or expired credentials",
        ));
    }
    apply_fault(state.faults.take_entitlement(), |s| {
        qlik_error(s, "simulated fault")
    })
    .await
}

/// `GET /api/v1/licenses/assignments`: `limit` 1–100 (default 20), `orphans=true`, and a `page`
/// cursor; `links.next.href` names the licence service's internal host, as qlik.dev's example
/// does, so a client must take its cursor, not follow it.
async fn license_assignments(
    State(state): State<Arc<QlikState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    if let Some(refused) =
        licence_read_refusal(&state, "/api/v1/licenses/assignments", &raw, &headers).await
    {
        return refused;
    }
    if state.tenant.license_forbidden {
        return error_response(StatusCode::FORBIDDEN, "Insufficient access");
    }
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let limit: usize = pairs
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return error_response(StatusCode::BAD_REQUEST, "Bad request, invalid query");
    }
    let orphans = pairs.get("orphans").is_some_and(|o| o == "true");
    let offset: usize = pairs.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let chosen: Vec<Value> = (0..state.tenant.assignments)
        .map(assignment)
        .filter(|(_, _, _, orphan)| !orphans || *orphan)
        .skip(offset)
        .take(limit)
        .map(|(subject, kind, excess, _)| match kind {
            Some(kind) => json!({"type": kind, "excess": excess, "created": "2020-12-03T09:24:48.114Z", "subject": subject}),
            // As the second item of Qlik's own example: no type, no excess.
            None => json!({"created": "2020-12-03T09:24:48.114Z", "subject": subject}),
        })
        .collect();
    let total = (0..state.tenant.assignments)
        .filter(|i| !orphans || assignment(*i).3)
        .count();
    let mut links = json!({});
    if offset + limit < total {
        let orphans = if orphans { "&orphans=true" } else { "" };
        let href = format!(
            "http://license/v1/licenses/assignments?limit={limit}{orphans}&page={}",
            offset + limit
        );
        links["next"] = json!({"href": href});
    }
    Json(json!({"data": chosen, "links": links})).into_response()
}

/// The link to an audits page: the whole query, with the cursor.
fn audit_page_link(
    event_type: &str,
    (start, end): (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
    limit: usize,
    next: usize,
) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("eventType", event_type)
        .append_pair(
            "eventTime",
            &format!("{}/{}", start.to_rfc3339(), end.to_rfc3339()),
        )
        .append_pair("limit", &limit.to_string())
        .append_pair("next", &next.to_string())
        .finish();
    // As Qlik's audits answer it: an internal host and path; only the cursor is the tenant's.
    format!("https://audits.qlik-internal.example/v1/audits?{query}")
}

/// An audits request: its event type, interval, page size and cursor.
struct AuditQuery {
    event_type: String,
    start: chrono::DateTime<Utc>,
    end: chrono::DateTime<Utc>,
    limit: usize,
    offset: usize,
}

impl AuditQuery {
    fn parse(raw: &str) -> Result<Self, &'static str> {
        let pairs: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect();
        let limit: usize = pairs
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(10);
        if !(1..=100).contains(&limit) {
            return Err("limit must be 1 to 100");
        }
        let event_type = pairs.get("eventType").ok_or("eventType is required here")?;
        let parse = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        let interval = pairs.get("eventTime").and_then(|t| {
            let (start, end) = t.split_once('/')?;
            Some((parse(start)?, parse(end)?))
        });
        let (start, end) = interval.ok_or("eventTime is an ISO 8601 interval")?;
        Ok(AuditQuery {
            event_type: event_type.clone(),
            start,
            end,
            limit,
            offset: pairs.get("next").and_then(|n| n.parse().ok()).unwrap_or(0),
        })
    }
}

/// `GET /api/v1/audits?eventType=…&eventTime=start/end&limit=…&next=…`: the user-session
/// events of the assigned users (one, their last, per user) in the interval, newest first as
/// the default `-eventTime` sort has it; `limit` 1–100 (default 10); `links.next.href` a
/// relative link with the `next` cursor.
async fn audits(
    State(state): State<Arc<QlikState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    if let Some(refused) = licence_read_refusal(&state, "/api/v1/audits", &raw, &headers).await {
        return refused;
    }
    let AuditQuery {
        event_type,
        start,
        end,
        limit,
        offset,
    } = match AuditQuery::parse(&raw) {
        Ok(query) => query,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, message),
    };
    let event_type = event_type.as_str();
    let mut events: Vec<(chrono::DateTime<Utc>, String)> = (0..state.tenant.assignments)
        .filter_map(|i| {
            let (at, name) = last_session(state.tenant.today, i)?;
            (name == event_type && start <= at && at < end).then(|| (at, assignment(i).0))
        })
        .collect();
    events.sort_by_key(|event| std::cmp::Reverse(event.0));
    let data: Vec<Value> = events
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(at, subject)| {
            json!({"id": format!("evt-{}", at.timestamp()), "eventType": event_type,
            "eventTime": at.to_rfc3339(), "tenantId": "sim-tenant", "userId": "u",
            "data": {"subject": subject, "sessionid": "s"}})
        })
        .collect();
    let mut links = json!({});
    if offset + limit < events.len() {
        links["next"] =
            json!({"href": audit_page_link(event_type, (start, end), limit, offset + limit)});
    }
    // `data` is optional in Qlik's contract: an empty result leaves it out, as a real tenant may.
    let mut body = json!({"links": links});
    if !data.is_empty() {
        body["data"] = json!(data);
    }
    Json(body).into_response()
}

/// `GET /api/v1/licenses/overview`, in the shape of qlik.dev's `LicenseOverview`.
async fn license_overview(State(state): State<Arc<QlikState>>, headers: HeaderMap) -> Response {
    if let Some(refused) =
        licence_read_refusal(&state, "/api/v1/licenses/overview", "", &headers).await
    {
        return refused;
    }
    if state.tenant.license_forbidden {
        return error_response(
            StatusCode::FORBIDDEN,
            "Access denied: the user may not read the license",
        );
    }
    let license = &state.tenant.license;
    let allotments: Vec<Value> = license
        .allotments
        .iter()
        .map(|(name, units, used, overage, class)| {
            let mut allotment =
                json!({"name": name, "units": units, "unitsUsed": used, "usageClass": class});
            if let Some(overage) = overage {
                allotment["overage"] = json!(overage);
            }
            allotment
        })
        .collect();
    Json(json!({
        "allotments": allotments, "status": license.status, "trial": false, "product": "Qlik Cloud Business",
        "valid": format!("{}/{}", license.valid.0, license.valid.1), "licenseNumber": "9999000000001234",
        "secondaryNumber": "", "origin": "Internal", "parameters": [], "updated": "2026-01-01T00:00:00.000Z",
        "version": "1", "licenseKey": license.license_key,
    }))
    .into_response()
}

fn authorised(state: &QlikState, headers: &HeaderMap) -> bool {
    bearer(headers)
        .is_some_and(|token| token == state.tenant.api_key || state.tokens.is_live(token))
}

fn page_body(state: &QlikState, query: &Query, raw: &str) -> Value {
    let today = state.tenant.today;
    let records = read(&state.records);
    let key = (query.periods.clone(), query.filter.clone());
    let selected = {
        let mut cached = lock(&state.selection);
        match &*cached {
            Some((cached_key, selected)) if *cached_key == key => selected.clone(),
            _ => {
                let selected: Arc<Vec<usize>> = Arc::new(
                    (0..records.len())
                        .filter(|&i| {
                            query.periods.is_empty()
                                || query
                                    .periods
                                    .iter()
                                    .any(|p| p == period_of(&records[i], today))
                        })
                        .filter(|&i| matches_filter(&records[i], &query.filter))
                        .collect(),
                );
                *cached = Some((key, selected.clone()));
                selected
            }
        }
    };
    let data: Vec<&Value> = selected
        .iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|&i| &records[i])
        .collect();
    let next_offset = query.offset + data.len();
    let base_query: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "page")
        .collect();
    let mut links = json!({"self": {"href": format!("/api/v1/consumption/executions?{raw}")}});
    if next_offset < selected.len() {
        links["next"] = next_link(
            state.tenant.next_link_style,
            &base_query,
            &encode_cursor(next_offset),
        );
    }
    let (overage, close) = *read(&state.tenant_flags);
    let mut page = json!({
        "totalCount": selected.len(),
        "currentPageCount": data.len(),
        "links": links,
        "overage": overage,
        "closeToOverage": close,
        "globalUsageAvailable": true,
    });
    // `data` is optional in Qlik's contract: an empty result leaves it out.
    if !data.is_empty() {
        page["data"] = json!(data);
    }
    page
}

fn next_link(style: NextLinkStyle, base_query: &[(String, String)], cursor: &str) -> Value {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(base_query);
    query.append_pair("page", cursor);
    let path = format!("/api/v1/consumption/executions?{}", query.finish());
    match style {
        NextLinkStyle::HrefAndToken => json!({"href": path, "type": "next", "token": cursor}),
        NextLinkStyle::RelativeHrefOnly => json!({"href": path, "type": "next"}),
        NextLinkStyle::ForeignHrefOnly => {
            json!({"href": format!("http://localhost:8787{path}"), "type": "next"})
        }
    }
}

/// Generated tenant data: per user and for the tenant as a whole, each resource kind in day,
/// month and year periods, current and previous, with some records in overage, blocked or
/// close to overage. The same seed gives the same records.
pub fn generate_records(seed: u64, users: usize, today: NaiveDate) -> Vec<Value> {
    const KINDS: [(&str, &str, &str, f64); 5] = [
        ("app", "reload", "reloads", 400.0),
        ("app", "scheduledReload", "reloads", 300.0),
        ("automations", "executed", "runs", 1000.0),
        ("app", "report.generated", "reports", 150.0),
        ("data.volume.consumption", "aggregation", "GB", 50.0),
    ];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut records = Vec::new();
    for user in 0..=users {
        let user_id = if user == 0 {
            String::new()
        } else {
            format!("user-{user:05}")
        };
        for (resource_type, action, unit, monthly_limit) in KINDS {
            for period_type in ["day", "month", "year"] {
                for previous in [false, true] {
                    let (start, end) = period_bounds(period_type, today, previous);
                    let limit = match period_type {
                        "day" => (monthly_limit / 30.0).ceil(),
                        "month" => monthly_limit,
                        _ => monthly_limit * 12.0,
                    };
                    let updated = end.min(today);
                    let record = generated_record(
                        &mut rng,
                        &user_id,
                        (resource_type, action, unit),
                        period_type,
                        (start, end),
                        limit,
                    );
                    records.push(with_update_time(record, updated));
                }
            }
        }
    }
    records
}

fn generated_record(
    rng: &mut StdRng,
    user_id: &str,
    (resource_type, action, unit): (&str, &str, &str),
    period_type: &str,
    (start, end): (NaiveDate, NaiveDate),
    limit: f64,
) -> Value {
    let local = (rng.random_range(0.0..1.25) * limit).round();
    let overage = local > limit;
    let close = !overage && local >= 0.8 * limit;
    let scope = if user_id.is_empty() {
        json!(["tenant", "resourceType"])
    } else {
        json!(["user", "resourceType"])
    };
    json!({
        "unit": unit,
        "scope": scope,
        "userId": user_id,
        "tenantId": "sim-tenant",
        "resourceType": resource_type,
        "resourceAction": action,
        "resourceId": format!("res-{:08x}", rng.random::<u32>()),
        "periodType": period_type,
        "periodStart": start.format("%Y-%m-%d").to_string(),
        "periodEnd": end.format("%Y-%m-%d").to_string(),
        "localUsage": local,
        "globalUsage": local + (rng.random_range(0.0..0.1) * limit).round(),
        "capacityLimit": limit,
        "guardrailLimit": (limit * 1.5).round(),
        "overage": overage,
        "closeToOverage": close,
        "blocked": overage && rng.random_bool(0.3),
        "customerFacing": true,
        "taskName": format!("{resource_type}_{action}"),
        "consumptionReportId": format!("01sim{:016x}", rng.random::<u64>()),
    })
}

fn with_update_time(mut record: Value, day: NaiveDate) -> Value {
    record["updateTime"] = json!(format!("{}T06:00:00Z", day.format("%Y-%m-%d")));
    record
}

/// First and last day of the day, month or year period that holds `today` (or the one before).
fn period_bounds(period_type: &str, today: NaiveDate, previous: bool) -> (NaiveDate, NaiveDate) {
    match period_type {
        "day" => {
            let day = if previous {
                today.pred_opt().unwrap_or(today)
            } else {
                today
            };
            (day, day)
        }
        "month" => {
            let first = today.with_day(1).unwrap_or(today);
            let start = if previous {
                first.checked_sub_months(Months::new(1)).unwrap_or(first)
            } else {
                first
            };
            let end = start
                .checked_add_months(Months::new(1))
                .and_then(|d| d.pred_opt())
                .unwrap_or(start);
            (start, end)
        }
        _ => {
            let year = if previous {
                today.year() - 1
            } else {
                today.year()
            };
            let start = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today);
            let end = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(today);
            (start, end)
        }
    }
}

impl super::kit::Simulated for QlikSimulator {
    fn faults(&self) -> &Faults {
        QlikSimulator::faults(self)
    }
}

/// Qlik Cloud in the simulator kit: one tenant, `scale` users with 30 records each.
pub struct QlikKit;

fn users_at(scale: super::kit::Scale) -> usize {
    match scale {
        super::kit::Scale::Small => 2,
        super::kit::Scale::Demo => 25,
        super::kit::Scale::Units(users) | super::kit::Scale::Monthly(users) => users as usize,
    }
}

impl super::kit::SimulatedVendor for QlikKit {
    fn type_name(&self) -> &'static str {
        "qlik"
    }

    fn start(
        &self,
        spec: super::kit::TenantSpec,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<super::kit::SimulatedTenant>> {
        use super::kit::{EntryParts, SimulatedTenant};
        Box::pin(async move {
            let users = users_at(spec.scale);
            let tenant = QlikTenant {
                today: spec.today,
                ..QlikTenant::default()
            };
            let simulator = QlikSimulator::new(
                tenant.clone(),
                generate_records(spec.seed, users, spec.today),
            );
            let running = simulator.start(0).await?;
            let parts = EntryParts {
                type_name: "qlik",
                // Entitlements and seats on, so the fault suite, the secret test and the demo
                // cover the licence overview, the assignments and the audit events too.
                keys: format!(
                    "    base_url: {}\n    entitlements: true\n    seats: true\n    seat_activity: true\n",
                    running.url()
                ),
                token_url: None,
                client_id: tenant.client_id,
                client_secret: tenant.client_secret,
                static_token: Some(tenant.api_key),
                password: None,
            };
            Ok(SimulatedTenant::new(running, Box::new(simulator), parts))
        })
    }

    fn demo_sources(&self) -> Vec<super::kit::DemoSource> {
        use super::kit::{Credentials, DemoSource, Scale};
        vec![
            DemoSource {
                name: "demo-qlik-eu",
                scale: Scale::Units(25),
                credentials: Credentials::StaticToken,
            },
            DemoSource {
                name: "demo-qlik-us",
                scale: Scale::Units(10),
                credentials: Credentials::ClientSecret,
            },
        ]
    }

    fn demo_budgets(
        &self,
        spec: super::kit::TenantSpec,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        use super::kit::{demo_budgets, DemoUsage};
        let records = generate_records(spec.seed, users_at(spec.scale), spec.today);
        let today = spec.today.to_string();
        let usage = ["reload", "scheduledReload", "executed", "report.generated"].map(|action| {
            let current = |r: &&Value| {
                r["resourceAction"] == action && r["periodEnd"].as_str() >= Some(today.as_str())
            };
            let level = records
                .iter()
                .filter(current)
                .filter_map(|r| r["localUsage"].as_f64())
                .sum();
            DemoUsage::level(action, level)
        });
        demo_budgets("resource_action", usage, now)
    }

    fn secrets(&self) -> &'static [&'static str] {
        &[
            "qlik-sim-api-key",
            "qlik-sim-secret",
            "qlik-sim-token-",
            "qlik-sim-license-key",
        ]
    }

    fn empty_answer(&self) -> &'static str {
        r#"{"totalCount":0,"currentPageCount":0,"data":[],"links":{}}"#
    }

    /// Qlik reports each period's usage so far, a level: no days to sum.
    fn budget_case(
        &self,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<Option<super::kit::BudgetCase>>>
    {
        Box::pin(async { Ok(None) })
    }

    fn demo_price(&self) -> Option<&'static str> {
        Some(r#"{match: {vendor: qlik}, price: 0.5, currency: USD}"#)
    }

    fn wrong_shape_answers(&self) -> &'static [&'static str] {
        &[
            "[]",
            "{}",
            r#"{"data":[]}"#,
            r#"{"data":{},"totalCount":0,"currentPageCount":0}"#,
            "null",
            "\"data\"",
        ]
    }

    fn odd_answer(&self) -> &'static str {
        r#"{"data":[{"surprise":1},{"resourceType":"app","localUsage":3}],"totalCount":2,"currentPageCount":2,"new":{"x":[1]}}"#
    }

    fn benchmark_scale(&self) -> u64 {
        3_000
    }

    fn scale_unit(&self) -> &'static str {
        "users (30 records each)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        for offset in [0, 200, 123_456] {
            assert_eq!(decode_cursor(&encode_cursor(offset)), Some(offset));
        }
        assert_eq!(decode_cursor("c1"), None);
        assert_eq!(decode_cursor("nope"), None);
    }

    #[test]
    fn generated_data_is_reproducible_and_has_every_state() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let a = generate_records(7, 40, today);
        assert_eq!(a, generate_records(7, 40, today));
        assert_eq!(a.len(), 41 * 5 * 3 * 2);
        for flag in ["overage", "blocked", "closeToOverage"] {
            assert!(a.iter().any(|r| r[flag] == true), "{flag}");
        }
        assert!(a.iter().any(|r| period_of(r, today) == "previous"));
    }
}

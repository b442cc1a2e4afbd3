//! Vendor simulators: real HTTP servers on loopback that behave like the vendors' APIs (auth,
//! paging, throttling, errors in the vendor's shape, faults on request, data from a seed at any
//! size). They serve the tests, the benchmarks and `consumption_exporter demo`.
//!
//! A simulator shares no code with its source (no wire types, no parsing): each is written from
//! the vendor's documentation on its own, so a misreading of the API cannot hide in both.

pub mod avepoint;
pub mod dynatrace;
pub mod kit;
pub mod microsoft;
pub mod powerplatform;
pub mod qlik;
pub mod uipath;
pub mod variants;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::NaiveDate;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::model::locks::lock;

/// A simulator serving on loopback; it stops when dropped.
pub struct RunningSimulator {
    pub addr: SocketAddr,
    stop: CancellationToken,
    log: Arc<RequestLog>,
    variants: Arc<variants::Variants>,
}

impl RunningSimulator {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, answers in the forms the contract allows and the simulator does not
    /// normally send ([`variants`]), or as usual again.
    pub fn send_contract_variants(&self, on: bool) {
        self.variants.set(on);
    }

    /// From now on, every JSON answer rewritten by `rewrite` (a test's own variant), or as
    /// usual again with `None`.
    pub fn rewrite_answers(&self, rewrite: Option<variants::Rewrite>) {
        self.variants.set_rewrite(rewrite);
    }

    /// The requests received, oldest first (at most the last [`RequestLog::CAPACITY`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log.requests).iter().cloned().collect()
    }
}

/// One request as a client sent it, complete enough to send again (the benchmark replays a
/// poll's requests to time a plain download of the same pages).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: axum::http::Method,
    /// The path and query.
    pub uri: String,
    pub headers: axum::http::HeaderMap,
    pub body: bytes::Bytes,
}

/// Every simulator's request log, kept by [`serve`]. Bounded, so a long demo does not grow.
#[derive(Debug, Default)]
pub struct RequestLog {
    requests: Mutex<VecDeque<RecordedRequest>>,
}

impl RequestLog {
    pub const CAPACITY: usize = 100_000;

    fn record(&self, request: RecordedRequest) {
        let mut requests = lock(&self.requests);
        if requests.len() == Self::CAPACITY {
            requests.pop_front();
        }
        requests.push_back(request);
    }
}

/// Request bodies sent to a simulator are small (token forms, UiPath queries).
const MAX_RECORDED_BODY: usize = 1 << 20;

async fn record_request(
    axum::extract::State(log): axum::extract::State<Arc<RequestLog>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_RECORDED_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    log.record(RecordedRequest {
        method: parts.method.clone(),
        uri: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string()),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    next.run(axum::extract::Request::from_parts(parts, body.into()))
        .await
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves `router` on `127.0.0.1:port` (0 picks a free port).
pub async fn serve(router: Router, port: u16) -> std::io::Result<RunningSimulator> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let log = Arc::new(RequestLog::default());
    let variants = Arc::new(variants::Variants::default());
    let router = router
        .layer(axum::middleware::from_fn_with_state(
            variants.clone(),
            variants::rewrite,
        ))
        .layer(axum::middleware::from_fn_with_state(
            log.clone(),
            record_request,
        ));
    tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(stopped.cancelled_owned())
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "simulator stopped");
        }
    });
    Ok(RunningSimulator {
        addr,
        stop,
        log,
        variants,
    })
}

/// Something to go wrong with a response, on request.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// This status, with the vendor's error body.
    Status(u16),
    /// A throttling answer (429) with this `Retry-After` value (seconds or an HTTP date).
    Throttle { retry_after: String },
    /// Wait this long, then answer normally (a hung or slow vendor).
    Delay(Duration),
    /// 200 with a body that is not JSON.
    MalformedJson,
    /// 200 with JSON cut off half-way.
    TruncatedJson,
    /// 200 with an HTML page, as a proxy's login page would be.
    WrongContentType,
    /// 200 with a JSON body of about this many bytes (padding), to trip a size limit.
    Oversized(usize),
    /// 200 whose body stops half-way with the connection dropped.
    ResetMidBody,
    /// Exactly this answer (e.g. a throttling body the vendor sends with another status).
    Custom {
        status: u16,
        body: String,
        retry_after: Option<String>,
    },
}

impl Fault {
    /// A 200 whose body is `body`, sent as JSON (a body of the wrong shape, say).
    pub fn answer(body: &str) -> Fault {
        Fault::Custom {
            status: 200,
            body: body.to_string(),
            retry_after: None,
        }
    }

    /// A token answer whose `expires_in` is `"NaN"`, which parses as a float, with a token the
    /// tenant does not know (so the exporter's next data request is refused and it asks again).
    pub fn token_lifetime_not_a_number() -> Fault {
        Fault::answer(
            r#"{"access_token":"hostile-token","token_type":"Bearer","expires_in":"NaN"}"#,
        )
    }

    /// A 429 whose `Retry-After` is a date already past.
    pub fn throttle_until_the_past() -> Fault {
        Fault::Throttle {
            retry_after: "Thu, 01 Jan 2015 00:00:00 GMT".to_string(),
        }
    }
}

/// Which requests a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// The next data requests, whatever their page.
    Next,
    /// The next requests of the usage endpoint only, whatever their page (not what `Entitlements`
    /// covers): an answer of the usage endpoint's shape.
    Usage,
    /// Requests for this 1-based page number.
    Page(u32),
    /// Token requests.
    Token,
    /// Requests for what the tenant bought (licences, allocations, commitments), which a
    /// source makes with `entitlements: true`, and UiPath's consumption by folder. `Next`
    /// covers them too.
    Entitlements,
}

#[derive(Debug)]
struct Rule {
    when: When,
    fault: Fault,
    remaining: usize,
}

/// Late changes to past days, as vendors make them (a booking corrected, a late record):
/// each revised day serves the amount added to it on top of its generated data.
#[derive(Debug, Default)]
pub struct Revisions {
    days: Mutex<BTreeMap<NaiveDate, f64>>,
}

impl Revisions {
    /// From now on, `day` has `amount` more.
    pub fn add(&self, day: NaiveDate, amount: f64) {
        *self.lock().entry(day).or_insert(0.0) += amount;
    }

    /// What was added to `day`.
    pub fn on(&self, day: NaiveDate) -> f64 {
        self.lock().get(&day).copied().unwrap_or(0.0)
    }

    /// Every revised day and what was added to it, by day.
    pub fn all(&self) -> Vec<(NaiveDate, f64)> {
        self.lock().iter().map(|(d, a)| (*d, *a)).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<NaiveDate, f64>> {
        lock(&self.days)
    }
}

/// Faults queued by a test or the demo, consumed as matching requests arrive.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<VecDeque<Rule>>,
}

impl Faults {
    /// Injects `fault` into the next `times` requests that match `when`.
    pub fn inject(&self, when: When, fault: Fault, times: usize) {
        lock(&self.rules).push_back(Rule {
            when,
            fault,
            remaining: times,
        });
    }

    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// The fault for a request, if one is queued for it.
    pub fn take(&self, page: Option<u32>) -> Option<Fault> {
        self.take_matching(|when| match when {
            When::Next | When::Usage => page.is_some(),
            When::Page(n) => page == Some(n),
            When::Token => page.is_none(),
            When::Entitlements => false,
        })
    }

    /// The fault for an entitlement request, if one is queued for it.
    pub fn take_entitlement(&self) -> Option<Fault> {
        self.take_matching(|when| matches!(when, When::Entitlements | When::Next))
    }

    fn take_matching(&self, matches: impl Fn(When) -> bool) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let position = rules.iter().position(|rule| matches(rule.when))?;
        let rule = &mut rules[position];
        let fault = rule.fault.clone();
        rule.remaining -= 1;
        if rule.remaining == 0 {
            rules.remove(position);
        }
        Some(fault)
    }
}

/// Applies a fault that replaces the response, or returns `None` to answer normally (after a
/// delay, for `Fault::Delay`). `error_body` renders the vendor's error shape for a status.
pub async fn apply_fault(
    fault: Option<Fault>,
    error_body: impl Fn(StatusCode) -> String,
) -> Option<Response> {
    match fault? {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(json(status, error_body(status)))
        }
        Fault::Throttle { retry_after } => {
            let mut response = json(
                StatusCode::TOO_MANY_REQUESTS,
                error_body(StatusCode::TOO_MANY_REQUESTS),
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
            Some(response)
        }
        Fault::Delay(duration) => {
            tokio::time::sleep(duration).await;
            None
        }
        Fault::Custom {
            status,
            body,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = json(status, body);
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
            Some(response)
        }
        Fault::Oversized(bytes) => Some(json(
            StatusCode::OK,
            format!("{{\"padding\": \"{}\"}}", "x".repeat(bytes)),
        )),
        Fault::ResetMidBody => Some(reset_mid_body()),
        Fault::MalformedJson => Some(json(StatusCode::OK, "this is not json".into())),
        Fault::TruncatedJson => Some(json(StatusCode::OK, r#"{"data":[{"unit":"rel"#.into())),
        Fault::WrongContentType => Some(
            (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, "text/html")],
                "<html><body>Sign in</body></html>",
            )
                .into_response(),
        ),
    }
}

/// A JSON answer with this status.
fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// A 200 whose body stops half-way, the connection dropped.
fn reset_mid_body() -> Response {
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
        Ok("{\"data\": ["),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated reset",
        )),
    ];
    let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The access tokens a simulated identity server has issued, each with its expiry.
#[derive(Debug, Default)]
pub struct Tokens {
    issued: Mutex<std::collections::HashMap<String, Option<std::time::Instant>>>,
}

impl Tokens {
    /// A new random token starting with `prefix`, valid for `lifetime` (or for ever).
    pub fn issue(&self, prefix: &str, lifetime: Option<Duration>) -> String {
        use rand::Rng;
        let token = format!("{prefix}{:016x}", rand::rng().random::<u64>());
        let expiry = lifetime.map(|l| std::time::Instant::now() + l);
        lock(&self.issued).insert(token.clone(), expiry);
        token
    }

    pub fn count(&self) -> usize {
        lock(&self.issued).len()
    }

    /// Whether `token` was issued here and has not expired.
    pub fn is_live(&self, token: &str) -> bool {
        lock(&self.issued)
            .get(token)
            .is_some_and(|expiry| expiry.is_none_or(|at| std::time::Instant::now() < at))
    }

    /// Whether the request's `Authorization: Bearer …` names a live token.
    pub fn accepts(&self, headers: &axum::http::HeaderMap) -> bool {
        bearer(headers).is_some_and(|token| self.is_live(token))
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The fields of a form-encoded body (a token request).
pub fn form(body: &str) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

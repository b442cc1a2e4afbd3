//! The one HTTP layer every source uses: authorisation (static or OAuth2 with a token cache),
//! retries with backoff, `Retry-After`, a response size limit, same-host pagination links, and
//! the per-source request counters. Sources never build a `reqwest` request themselves.

mod assertion;
mod auth;
mod credentials;
mod error;
mod no_proxy;
mod retry;
mod tls;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

pub use assertion::{client_assertion, signing_key_is_valid, AssertionError, JWT_BEARER};
pub use auth::TokenFailure;
pub use credentials::{
    AuthConfig, ClientCertificate, ClientCredential, Grant, InvalidCredential, OAuth2Config,
    StaticCredential,
};
pub use error::HttpError;
pub use retry::retry_after;
pub use retry::ThrottleLimit;
use retry::{Outcome, Step};
pub use tls::{ClientIdentity, TlsSettings, TlsVersion};

use crate::model::locks::lock;
use crate::model::poll_slots::PollSlot;
use crate::model::secret::{redacted_url, Secret};
use crate::model::source_stats::SourceStats;
use auth::Authorizer;

/// At most this many throttled answers are waited out within one request.
const MAX_THROTTLE_WAITS: u32 = 10;

/// Turns a vendor's error body into one line for the user (e.g. Qlik's `errors[].title`).
pub type ErrorDetailFn = fn(&[u8]) -> Option<String>;

/// Says whether an error body is the vendor telling us to slow down, whatever its status.
pub type ThrottleSignalFn = fn(&[u8]) -> bool;

/// What one HTTP exchange with a vendor may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    pub request_timeout: Duration,
    pub max_response_bytes: u64,
    pub max_retries: u32,
    pub max_pages: u32,
}

/// What the layer asks of the vendor's code: how its error bodies read, whether a body that is
/// not a 429 is still a throttle, and what each endpoint needs of a credential. Plain functions
/// and static tables, so the layer holds no vendor object.
#[derive(Clone, Copy)]
pub struct VendorHooks {
    pub error_detail: ErrorDetailFn,
    pub throttle_signal: Option<ThrottleSignalFn>,
    pub endpoints: &'static [Endpoint],
}

impl Default for VendorHooks {
    fn default() -> Self {
        VendorHooks {
            error_detail: |_| None,
            throttle_signal: None,
            endpoints: &[],
        }
    }
}

/// One endpoint of a vendor's API as access to it is granted: its name (as `check --online`
/// prints it) and what a credential needs to be answered there (the scope, role, permission or
/// consent, in the vendor's words), which a 401 or 403 from it names. Found by a fragment of the
/// request's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub name: &'static str,
    pub path_contains: &'static str,
    pub needs: &'static str,
}

/// The name every vendor gives its token endpoint in its [`Endpoint`] table.
pub const TOKEN_ENDPOINT: &str = "token";

/// The endpoint of `endpoints` a request path belongs to: the first whose fragment it contains.
pub fn endpoint_of(endpoints: &'static [Endpoint], path: &str) -> Option<&'static Endpoint> {
    endpoints.iter().find(|e| path.contains(e.path_contains))
}

/// Builds a `reqwest::Client`: the one all sources share (`Outbound::default()`), or one for
/// the sources whose `http_config` keys say otherwise.
pub fn build_reqwest_client(outbound: &Outbound) -> Result<reqwest::Client, ClientBuildError> {
    // Several rustls providers may be linked in; choose one explicitly (a second install is a no-op).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let builder = reqwest::Client::builder()
        .user_agent(concat!("consumption_exporter/", env!("CARGO_PKG_VERSION")))
        .redirect(same_host_redirects());
    // A proxy of the config's replaces the environment's (reqwest's rule, and Prometheus's).
    let builder = match (&outbound.proxy_url, outbound.proxy_from_environment) {
        (Some(url), _) => builder.proxy(configured_proxy(url, outbound)?),
        (None, true) => builder,
        (None, false) => builder.no_proxy(),
    };
    let builder = match outbound.tls.is_default() {
        true => builder,
        false => builder.tls_backend_preconfigured(
            tls::client_config(&outbound.tls).map_err(ClientBuildError::Tls)?,
        ),
    };
    builder.build().map_err(ClientBuildError::Client)
}

/// `proxy_url` for every request but those `no_proxy` names, as Go reads the list (a port
/// included), which reqwest's own list cannot.
fn configured_proxy(url: &Url, outbound: &Outbound) -> Result<reqwest::Proxy, ClientBuildError> {
    reqwest::Proxy::all(url.as_str()).map_err(ClientBuildError::Proxy)?;
    let no_proxy = no_proxy::NoProxy::parse(outbound.no_proxy.as_deref().unwrap_or_default());
    let proxy_url = url.clone();
    let proxy = reqwest::Proxy::custom(move |target| {
        (!no_proxy.bypasses(target)).then(|| proxy_url.clone())
    });
    Ok(proxy.headers(outbound.proxy_connect_header.clone()))
}

/// Why a source's HTTP client could not be built from its `http_config` keys.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("{0}")]
    Tls(String),
    #[error("the proxy is not usable: {0}")]
    Proxy(reqwest::Error),
    #[error("cannot build an HTTP client: {0}")]
    Client(reqwest::Error),
}

/// How a source's requests (token requests included) go out: Prometheus's `http_config`
/// proxy and TLS keys.
#[derive(Clone, PartialEq)]
pub struct Outbound {
    /// `proxy_url`: every request through this HTTP(S) proxy.
    pub proxy_url: Option<Url>,
    /// `no_proxy`: hosts, domains, IPs and CIDR ranges that bypass `proxy_url`.
    pub no_proxy: Option<String>,
    /// `proxy_from_environment`: HTTP_PROXY, HTTPS_PROXY and NO_PROXY (without `proxy_url`).
    pub proxy_from_environment: bool,
    /// `proxy_connect_header`: headers for `proxy_url` (its credentials, say), each value
    /// marked sensitive, so that it never prints.
    pub proxy_connect_header: HeaderMap,
    /// `tls_config`.
    pub tls: TlsSettings,
}

/// A proxy URL's password and the proxy headers' values never print.
impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("proxy_url", &self.proxy_url.as_ref().map(redacted_url))
            .field("no_proxy", &self.no_proxy)
            .field("proxy_from_environment", &self.proxy_from_environment)
            .field("proxy_connect_header", &self.proxy_connect_header)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Outbound {
    /// The proxy requests to `target` go through, as it may be printed: `proxy_url` unless
    /// `no_proxy` names the host, or the environment's variable for the scheme.
    fn proxy_for(&self, target: &Url) -> Option<String> {
        match &self.proxy_url {
            Some(url) => (!self.no_proxy_names(target)).then(|| redacted_url(url)),
            None if self.proxy_from_environment => environment_proxy(target),
            None => None,
        }
    }

    fn no_proxy_names(&self, target: &Url) -> bool {
        self.no_proxy
            .as_deref()
            .is_some_and(|list| list_names(list, target))
    }
}

/// Whether a `no_proxy` list names the target.
fn list_names(list: &str, target: &Url) -> bool {
    no_proxy::NoProxy::parse(list).bypasses(target)
}

/// `HTTPS_PROXY` or `HTTP_PROXY` (either case) for the target's scheme, redacted.
fn environment_proxy(target: &Url) -> Option<String> {
    let names: &[&str] = match target.scheme() {
        "https" => &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"],
        _ => &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"],
    };
    let excluded = ["NO_PROXY", "no_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .is_some_and(|list| list_names(&list, target));
    let value = names.iter().find_map(|name| std::env::var(name).ok())?;
    if excluded {
        return None;
    }
    let shown =
        Url::parse(&value).map_or_else(|_| "(unparsable)".to_string(), |u| redacted_url(&u));
    Some(format!("{shown} (from the environment)"))
}

impl Default for Outbound {
    /// Today's behaviour: the proxy the environment names, if any, and the system's CAs.
    fn default() -> Self {
        Outbound {
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: true,
            proxy_connect_header: HeaderMap::new(),
            tls: TlsSettings::default(),
        }
    }
}

/// Redirects are followed only on the host that was asked, so credentials never travel elsewhere.
fn same_host_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(origin_of);
        if attempt.previous().len() > 5 || first.as_ref() != Some(&origin_of(attempt.url())) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A request a source wants sent.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(serde_json::Value),
    /// Form fields; values are secrets because token requests carry the client secret.
    Form(Vec<(String, Secret)>),
}

impl Request {
    pub fn get(url: Url) -> Self {
        Request {
            method: Method::GET,
            url,
            body: Body::Empty,
        }
    }

    pub fn post_json(url: Url, body: serde_json::Value) -> Self {
        Request {
            method: Method::POST,
            url,
            body: Body::Json(body),
        }
    }

    /// The request for an error or a log line, without the secrets its URL may carry.
    fn describe(&self) -> String {
        format!("{} {}", self.method, redacted_url(&self.url))
    }
}

/// A successful (2xx) response with its whole body.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Where the body came from (after same-host redirects): the base of relative links in it.
    pub url: Url,
    request: String,
}

impl Response {
    /// Decodes the body as JSON. Unknown fields are the decoder's business (they are ignored by
    /// default); a body that is not JSON, or not the expected shape, is an error naming where.
    /// `T` may borrow strings from the body, which saves an allocation per field on large pages.
    pub fn json<'a, T: Deserialize<'a>>(&'a self) -> Result<T, HttpError> {
        let content_type = self
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.is_empty() && !content_type.contains("json") {
            return Err(
                self.decode_error(format!("expected JSON, got Content-Type {content_type:?}"))
            );
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| self.decode_error(format!("invalid JSON: {e}")))
    }

    /// Decodes a body that must be a JSON object. Serde reads a struct from an array too (`[]`
    /// is every field at its default), so an array where the vendor documents an object would
    /// pass as an empty answer and drop every series.
    pub fn json_object<'a, T: Deserialize<'a>>(&'a self) -> Result<T, HttpError> {
        let first = self.body.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            let got = match first {
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                Some(b'n') => "null",
                Some(b't' | b'f') => "a boolean",
                Some(b'-' | b'0'..=b'9') => "a number",
                None => "an empty body",
                Some(_) => "something that is not JSON",
            };
            return Err(self.decode_error(format!("expected a JSON object, got {got}")));
        }
        self.json()
    }

    pub fn decode_error(&self, detail: String) -> HttpError {
        HttpError::Decode {
            request: self.request.clone(),
            detail,
        }
    }
}

/// The HTTP client of one source.
pub struct HttpClient {
    http: reqwest::Client,
    base_url: Url,
    limits: RequestLimits,
    auth: Authorizer,
    stats: Arc<SourceStats>,
    error_detail: ErrorDetailFn,
    throttle_signal: Option<ThrottleSignalFn>,
    endpoints: &'static [Endpoint],
    /// The proxy requests go through, as errors may name it (password redacted).
    proxy: Option<String>,
    /// The proxy's password and `proxy_connect_header` values, which a vendor's or gateway's
    /// error text may echo.
    proxy_secrets: Vec<String>,
}

impl HttpClient {
    pub fn new(
        http: reqwest::Client,
        base_url: Url,
        limits: RequestLimits,
        auth: &AuthConfig,
        hooks: VendorHooks,
        stats: Arc<SourceStats>,
    ) -> Self {
        HttpClient {
            http,
            base_url,
            limits,
            auth: Authorizer::new(auth),
            stats,
            error_detail: hooks.error_detail,
            throttle_signal: hooks.throttle_signal,
            endpoints: hooks.endpoints,
            proxy: None,
            proxy_secrets: Vec::new(),
        }
    }

    /// Names the proxy of `outbound`, if it has one for the base URL, in connection errors,
    /// and keeps its secrets out of any error text.
    pub fn going_out(mut self, outbound: &Outbound) -> Self {
        self.proxy = outbound.proxy_for(&self.base_url);
        let password = outbound.proxy_url.as_ref().and_then(Url::password);
        let password =
            password.map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy());
        let headers = outbound.proxy_connect_header.values();
        self.proxy_secrets = password
            .map(|p| p.into_owned())
            .into_iter()
            .chain(headers.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        self
    }

    /// Starts one poll: requests made through the session share its deadline and page count.
    /// A poll that holds one of the process's slots lets go of it while it waits to retry.
    pub fn session<'a>(&'a self, deadline: Instant, slot: Option<&'a PollSlot>) -> PollSession<'a> {
        PollSession {
            client: self,
            slot,
            deadline,
            pages: AtomicU32::new(0),
            seen_links: Mutex::new(LinkSet::default()),
        }
    }

    pub fn stats(&self) -> &Arc<SourceStats> {
        &self.stats
    }

    /// One exchange, without retries: send, count, read the body within the size limit.
    async fn exchange(
        &self,
        request: &Request,
        authorization: Option<&HeaderValue>,
        timeout: Duration,
    ) -> Result<RawResponse, HttpError> {
        let mut builder = self
            .http
            .request(request.method.clone(), request.url.clone())
            .timeout(timeout)
            .header(ACCEPT, "application/json");
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value.clone());
        }
        builder = match &request.body {
            Body::Empty => builder,
            Body::Json(value) => builder.json(value),
            Body::Form(fields) => {
                let fields: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.expose()))
                    .collect();
                builder.form(&fields)
            }
        };
        let response = builder
            .send()
            .await
            .map_err(|e| transport_error(request, e, timeout, self.proxy.as_deref()))?;
        self.stats.count_response(response.status().as_u16());
        let status = response.status();
        let headers = response.headers().clone();
        let url = response.url().clone();
        let body = self.read_limited(request, response, timeout).await?;
        Ok(RawResponse {
            status,
            headers,
            body,
            url,
        })
    }

    async fn read_limited(
        &self,
        request: &Request,
        mut response: reqwest::Response,
        timeout: Duration,
    ) -> Result<Bytes, HttpError> {
        let limit = self.limits.max_response_bytes;
        let too_large = || HttpError::TooLarge {
            request: request.describe(),
            limit,
        };
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(request, e, timeout, self.proxy.as_deref()))?
        {
            // What the vendor sent counts as traffic, whether or not it is kept.
            self.stats.count_response_bytes(chunk.len());
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// What an exchange came to, for the retry decision.
    fn outcome(&self, result: &Result<RawResponse, HttpError>) -> Outcome {
        match result {
            Err(HttpError::Timeout { .. } | HttpError::Connection { .. }) => {
                Outcome::TransportFailure
            }
            Err(_) => Outcome::Unretryable,
            Ok(response) => Outcome::Answer {
                status: response.status.as_u16(),
                retry_after: retry_after(&response.headers, SystemTime::now()),
                throttle_body: !response.status.is_success()
                    && self
                        .throttle_signal
                        .is_some_and(|signal| signal(&response.body)),
            },
        }
    }

    /// The error of an exchange that is not retried.
    fn failure(
        &self,
        request: &Request,
        authorization: Option<&HeaderValue>,
        result: Result<RawResponse, HttpError>,
    ) -> HttpError {
        match result {
            Err(error) => error,
            Ok(response) => self.status_error(request, authorization, &response),
        }
    }

    /// A refused answer, with what the vendor said of it: scrubbed of every secret the
    /// request carried or the source is configured with, which a vendor may echo.
    fn status_error(
        &self,
        request: &Request,
        authorization: Option<&HeaderValue>,
        response: &RawResponse,
    ) -> HttpError {
        let detail = (self.error_detail)(&response.body)
            .or_else(|| body_excerpt(&response.body))
            .map(|d| format!(": {}", self.scrubbed(&d, request, authorization)))
            .unwrap_or_default();
        // A token endpoint answers a refused credential with 400 (`invalid_client`,
        // `invalid_scope`, consent not given), as OAuth 2.0 has it.
        let endpoint = endpoint_of(self.endpoints, request.url.path()).filter(|endpoint| {
            matches!(response.status.as_u16(), 401 | 403)
                || (response.status == StatusCode::BAD_REQUEST && endpoint.name == TOKEN_ENDPOINT)
        });
        HttpError::Status {
            request: request.describe(),
            status: response.status,
            detail,
            endpoint,
        }
    }
}

impl HttpClient {
    /// `text` (an error of any kind, about to be shown) without the secrets the source is
    /// configured with and the token it holds: a second line of defence behind the scrub of
    /// each refused answer, for vendor text that reached an error another way (a decoder's
    /// message quotes the value it could not read).
    pub fn scrub_known(&self, text: &str) -> String {
        self.scrub_with(text, self.auth.cached_token())
    }

    /// `text` without the secrets of this exchange (the credential sent, the secret fields of
    /// a token request) and of the source's configuration (the credential, the proxy's).
    fn scrubbed(
        &self,
        text: &str,
        request: &Request,
        authorization: Option<&HeaderValue>,
    ) -> String {
        let sent = authorization.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let fields = match &request.body {
            Body::Form(fields) => fields.as_slice(),
            _ => &[],
        };
        let secret_fields = fields
            .iter()
            .filter(|(name, _)| SECRET_FORM_FIELDS.contains(&name.as_str()))
            .map(|(_, value)| value.expose().to_string());
        self.scrub_with(text, sent.into_iter().chain(secret_fields))
    }

    /// `text` without the source's configured secrets (its credential, its proxy's) and `more`.
    fn scrub_with(&self, text: &str, more: impl IntoIterator<Item = String>) -> String {
        let mut secrets = self.auth.configured_secrets();
        secrets.extend(self.proxy_secrets.iter().cloned());
        secrets.extend(more);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        crate::model::secret::scrubbed(text, &secrets)
    }
}

/// The fields of a token request that hold a secret (`client_id`, `scope` and the grant type
/// do not).
const SECRET_FORM_FIELDS: [&str; 3] = ["client_secret", "password", "client_assertion"];

struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    url: Url,
}

impl RawResponse {
    fn into_response(self, request: &Request) -> Response {
        Response {
            status: self.status,
            headers: self.headers,
            body: self.body,
            url: self.url,
            request: request.describe(),
        }
    }
}

fn transport_error(
    request: &Request,
    error: reqwest::Error,
    timeout: Duration,
    proxy: Option<&str>,
) -> HttpError {
    if error.is_timeout() {
        return HttpError::Timeout {
            request: request.describe(),
            after: timeout,
        };
    }
    // reqwest's Display names only the outer layer (and the URL, which the request names
    // already); the causes say what really happened.
    let error = error.without_url();
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    let mut tls = None;
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        tls = tls.or_else(|| rustls_error_in(cause));
        source = cause.source();
    }
    let host = request.url.host_str().unwrap_or_default();
    let advice = match (tls, proxy) {
        (Some(tls), _) => tls_advice(host, tls),
        (None, Some(proxy)) => format!("the request went through the proxy {proxy}: check that it is reachable, lets this host through, and takes the credentials proxy_connect_header gives it; or that {host} is right"),
        (None, None) => format!("check that {host} is the right host and region for this tenant (base_url, or token_url for a token) and that this machine can reach it"),
    };
    HttpError::Connection {
        request: request.describe(),
        detail,
        advice,
    }
}

/// The rustls error inside a cause: tokio-rustls hands it over wrapped in `io::Error`s (two
/// deep), whose `source()` skips the error each wraps.
fn rustls_error_in<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = cause.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error_in(inner)
}

/// Whether the chain or the name failed, and what to set for either.
fn tls_advice(host: &str, error: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    match error {
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!("TLS to {host}: the certificate's chain is trusted but it is not issued for the name {host}: fix base_url, or set tls_config.server_name to the name the certificate carries"),
        Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => format!("TLS to {host}: the certificate's chain does not lead to a trusted CA (a TLS-inspecting gateway's own CA?): set tls_config.ca_file to that CA's certificate"),
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. } | CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => format!("TLS to {host}: the certificate is outside its validity dates: check this machine's clock, or have the server's certificate renewed"),
        Error::InvalidCertificate(_) => format!("TLS to {host}: the server's certificate chain was refused"),
        Error::AlertReceived(_) | Error::NoCertificatesPresented => format!("TLS to {host}: the server ended the handshake; if it requires a client certificate, set tls_config.cert_file and key_file to one it trusts"),
        _ => format!("TLS to {host} failed: check tls_config (min_version, the certificates) against what the server accepts"),
    }
}

/// The first line of a non-JSON-described error body, short enough for a log line.
fn body_excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(200).collect())
}

/// The pagination links one poll has followed, as digests: a vendor may send a long link per
/// page (a 60 KB `nextLink` each time), and keeping the links would grow a poll's memory with
/// its page count instead of bounding it by one page.
#[derive(Default)]
struct LinkSet {
    digests: HashSet<[u8; 20]>,
}

impl LinkSet {
    /// Adds the link; false if it was followed before in this poll.
    fn insert(&mut self, link: &Url) -> bool {
        use sha1::Digest;
        self.digests
            .insert(sha1::Sha1::digest(link.as_str().as_bytes()).into())
    }
}

/// At most the first 200 characters of a vendor's link, for an error line.
fn shortened(link: &str) -> String {
    const KEPT: usize = 200;
    match link.char_indices().nth(KEPT) {
        Some((cut, _)) => format!("{}… ({} bytes)", &link[..cut], link.len()),
        None => link.to_string(),
    }
}

/// The requests of one poll of one source.
pub struct PollSession<'a> {
    client: &'a HttpClient,
    slot: Option<&'a PollSlot>,
    deadline: Instant,
    pages: AtomicU32,
    seen_links: Mutex<LinkSet>,
}

impl PollSession<'_> {
    /// The configured base URL with `path` (absolute, e.g. `/api/v1/x`) on it.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.client.base_url.clone();
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{prefix}{path}"));
        url
    }

    /// Gets a token, where the source has OAuth2 credentials (true), before any request needs
    /// one: `check --online` reports the token endpoint on its own line.
    pub async fn token(&self) -> Result<bool, HttpError> {
        match self.client.auth.can_refresh() {
            true => self.client.auth.header(self).await.map(|_| true),
            false => Ok(false),
        }
    }

    /// Sends `request` with the source's credentials, retrying as the vendor and limits allow.
    pub async fn send(&self, request: &Request) -> Result<Response, HttpError> {
        self.send_with(request, true).await
    }

    async fn send_with(&self, request: &Request, authorized: bool) -> Result<Response, HttpError> {
        let policy = retry::Policy {
            max_retries: self.client.limits.max_retries,
            max_throttle_waits: MAX_THROTTLE_WAITS,
            can_refresh: authorized && self.client.auth.can_refresh(),
        };
        let mut attempts = retry::Attempts::default();
        loop {
            let authorization = if authorized {
                self.client.auth.header(self).await?
            } else {
                None
            };
            let result = self
                .client
                .exchange(request, authorization.as_ref(), self.request_timeout())
                .await;
            let outcome = self.client.outcome(&result);
            if outcome.is_throttle() {
                self.client.stats.count_throttled();
            }
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            match retry::decide(outcome, &mut attempts, &policy, remaining, retry::backoff) {
                Step::Deliver => return result.map(|raw| raw.into_response(request)),
                Step::RefreshToken => self.client.auth.invalidate().await,
                Step::Retry { wait } => {
                    tracing::debug!(request = %request.describe(), wait_ms = wait.as_millis() as u64, ?outcome, "retrying");
                    match self.slot {
                        Some(slot) => slot.wait_without_permit(wait).await,
                        None => tokio::time::sleep(wait).await,
                    }
                }
                Step::Fail => {
                    let authorization = authorization.as_ref();
                    return Err(self.client.failure(request, authorization, result));
                }
                Step::FailThrottled { wait, limit } => {
                    return Err(HttpError::Throttled {
                        request: request.describe(),
                        status: result.map_or(StatusCode::TOO_MANY_REQUESTS, |r| r.status),
                        wait,
                        limit,
                    })
                }
            }
        }
    }

    fn request_timeout(&self) -> Duration {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        self.client
            .limits
            .request_timeout
            .min(remaining)
            .max(Duration::from_millis(1))
    }

    /// GETs one page of a paged listing. Pages count against `max_pages` across the poll,
    /// and a URL asked for before in this poll is refused, so a vendor that loops cannot keep
    /// a poll running forever. Every error says which page of the poll it met.
    pub async fn get_page(&self, url: &Url) -> Result<Page, PageError> {
        let number = self.pages.fetch_add(1, Ordering::Relaxed) + 1;
        let on_page = |source| PageError {
            page: number,
            source,
        };
        let max = self.client.limits.max_pages;
        if number > max {
            return Err(on_page(HttpError::TooManyPages { max }));
        }
        let first_time = lock(&self.seen_links).insert(url);
        if !first_time {
            let link = shortened(&redacted_url(url));
            return Err(on_page(HttpError::PaginationLoop { link }));
        }
        let response = self
            .send(&Request::get(url.clone()))
            .await
            .map_err(on_page)?;
        Ok(Page { number, response })
    }

    /// Resolves a pagination link against the URL of the page that carried it (RFC 3986 §5.1:
    /// the base is the retrieval URI, so `name?skip=9` on `/a/b/list` is `/a/b/name?skip=9`) and
    /// refuses it unless it points at the configured host: the credentials must never be sent
    /// anywhere else.
    pub fn same_host_link(&self, page: &Page, link: &str) -> Result<Url, PageError> {
        let base = &self.client.base_url;
        let url = page.response.url.join(link).map_err(|e| {
            page.error(HttpError::Decode {
                request: format!("pagination link {link:?}"),
                detail: format!("not a URL: {e}"),
            })
        })?;
        if origin_of(&url) != origin_of(base) {
            return Err(page.error(HttpError::ForeignLink {
                link: origin_of(&url),
                expected: origin_of(base),
            }));
        }
        Ok(url)
    }
}

/// One page of a paged listing: the answer, and which page of the poll it is (from 1).
pub struct Page {
    pub number: u32,
    pub response: Response,
}

impl Page {
    /// The page's body as a JSON object (see [`Response::json_object`]).
    pub fn json_object<'a, T: Deserialize<'a>>(&'a self) -> Result<T, PageError> {
        self.response.json_object().map_err(|e| self.error(e))
    }

    fn error(&self, source: HttpError) -> PageError {
        PageError {
            page: self.number,
            source,
        }
    }
}

/// What went wrong with a page, and which page of the poll it was.
#[derive(Debug, thiserror::Error)]
#[error("page {page}: {source}")]
pub struct PageError {
    pub page: u32,
    pub source: HttpError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_set_keeps_a_fixed_size_digest_per_link_not_the_link() {
        let mut links = LinkSet::default();
        let long = |i: usize| {
            Url::parse(&format!(
                "https://vendor.example/next?key={i}{}",
                "k".repeat(60_000)
            ))
            .unwrap()
        };
        for i in 0..50 {
            assert!(links.insert(&long(i)), "link {i} is new");
        }
        assert!(!links.insert(&long(7)), "a link seen before is a loop");
        assert_eq!(links.digests.len(), 50);
        // What the set holds per link is the digest, whatever the link's length.
        assert_eq!(
            std::mem::size_of_val(links.digests.iter().next().unwrap()),
            20
        );
        assert!(
            links.digests.capacity() * 21 < 4096,
            "50 links cost well under a page"
        );
    }

    #[test]
    fn a_long_link_is_shortened_in_errors() {
        let link = format!("https://vendor.example/{}", "é".repeat(1000));
        let short = shortened(&link);
        assert!(short.chars().count() < 230, "{short}");
        assert!(short.ends_with(&format!("({} bytes)", link.len())));
        assert_eq!(shortened("https://a.example/x"), "https://a.example/x");
    }

    #[test]
    fn an_error_body_is_cut_to_its_first_line() {
        assert_eq!(
            body_excerpt(b"\n  Bad gateway \nmore"),
            Some("Bad gateway".to_string())
        );
        assert_eq!(body_excerpt(b"  "), None);
    }
}

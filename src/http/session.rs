//! The client every source's requests go through (authorisation, retries with backoff,
//! `Retry-After`, the response size limit, the per-source request counters) and one poll's
//! session of it: its deadline and slot, same-host pagination links with the loop guard, and
//! pages. One file, because a session is the client's and the client lends itself to it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::StatusCode;
use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use super::auth::{Authorizer, TokenSender};
use super::credentials::AuthConfig;
use super::endpoints::{endpoint_name, endpoint_of, Endpoint, TOKEN_ENDPOINT};
use super::error::HttpError;
use super::exchange::{
    Body, ErrorDetailFn, Request, RequestLimits, Response, ThrottleSignalFn, VendorHooks,
};
use super::outbound::{origin_of, Outbound};
use super::retry::{self, retry_after, Outcome, Step};
use super::transport::{body_excerpt, transport_error, RawResponse};
use crate::model::locks::lock;
use crate::model::poll_slots::PollSlot;
use crate::model::secret::redacted_url;
use crate::model::source_stats::SourceStats;

/// At most this many throttled answers are waited out within one request.
const MAX_THROTTLE_WAITS: u32 = 10;

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
        let endpoint = endpoint_name(self.endpoints, request.url.path());
        self.stats
            .count_response(endpoint, response.status().as_u16());
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
        let endpoint = endpoint_name(self.endpoints, request.url.path());
        let mut body = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(request, e, timeout, self.proxy.as_deref()))?
        {
            // What the vendor sent counts as traffic, whether or not it is kept.
            self.stats.count_response_bytes(endpoint, chunk.len());
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

#[async_trait::async_trait]
impl TokenSender for PollSession<'_> {
    async fn send_token_request(&self, request: &Request) -> Result<Response, HttpError> {
        self.send_with(request, false).await
    }
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
}

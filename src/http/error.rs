//! Errors of the HTTP layer. Each one says what failed and what to do, and has a `reason()`
//! that doubles as the `consumption_source_errors_total{reason}` label value.

use std::time::Duration;

use reqwest::StatusCode;

use super::assertion::AssertionError;
use super::endpoints::Endpoint;
use super::retry::ThrottleLimit;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "{request}: no answer within {after:?}; raise request_timeout if the vendor is this slow"
    )]
    Timeout { request: String, after: Duration },
    #[error("{request}: connection failed ({detail}); {advice}")]
    Connection {
        request: String,
        detail: String,
        /// What to check: the host, the proxy, or which half of TLS failed and what to set.
        advice: String,
    },
    #[error("{request}: HTTP {status}{detail}; {hint}", hint = status_hint(*status, *endpoint))]
    Status {
        request: String,
        status: StatusCode,
        detail: String,
        /// For a 401 or 403: the endpoint, which says what the credential lacks.
        endpoint: Option<&'static Endpoint>,
    },
    #[error("{request}: throttled by the vendor (HTTP {status}); {}", throttle_advice(*wait, *limit))]
    Throttled {
        request: String,
        status: StatusCode,
        wait: Duration,
        limit: ThrottleLimit,
    },
    #[error("{request}: the response is larger than max_response_bytes ({limit} bytes); raise it if the vendor really sends this much")]
    TooLarge { request: String, limit: u64 },
    #[error("{request}: unexpected response: {detail}")]
    Decode { request: String, detail: String },
    #[error("refusing to follow a link to {link}: credentials are only sent to {expected}")]
    ForeignLink { link: String, expected: String },
    #[error("pagination loop: the vendor sent the link {link} twice; stopping instead of polling forever")]
    PaginationLoop { link: String },
    #[error(
        "more than max_pages ({max}) pages; raise max_pages if the tenant is really this large"
    )]
    TooManyPages { max: u32 },
    #[error(
        "getting a token from {token_url} failed: {failure}{}",
        token_hint(failure)
    )]
    Token {
        token_url: String,
        failure: Box<TokenFailure>,
    },
}

impl HttpError {
    /// A short, stable label value for `consumption_source_errors_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            HttpError::Timeout { .. } => "timeout",
            HttpError::Connection { .. } => "connection",
            HttpError::Status { status, .. } => match status.as_u16() {
                401 => "unauthorized",
                403 => "forbidden",
                404 => "not_found",
                400..=499 => "client_error",
                _ => "server_error",
            },
            HttpError::Throttled { .. } => "throttled",
            HttpError::TooLarge { .. } => "too_large",
            HttpError::Decode { .. } => "invalid_response",
            HttpError::ForeignLink { .. } => "foreign_link",
            HttpError::PaginationLoop { .. } => "pagination_loop",
            HttpError::TooManyPages { .. } => "too_many_pages",
            HttpError::Token { .. } => "token",
        }
    }
}

/// Why no token was had. The token endpoint's own answer is in `Request`; no variant holds a
/// secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenFailure {
    #[error(transparent)]
    Assertion(AssertionError),
    #[error(transparent)]
    Request(HttpError),
    #[error("the access token is not a valid header value")]
    TokenNotAHeaderValue,
}

/// What to check after a token failure: the credentials, unless the request never got an answer
/// or its endpoint said what it needs (either error says what to check instead).
fn token_hint(failure: &TokenFailure) -> &'static str {
    match failure {
        TokenFailure::Request(HttpError::Connection { .. } | HttpError::Timeout { .. }) => "",
        // The vendor's own words for its token endpoint are said already.
        TokenFailure::Request(HttpError::Status {
            endpoint: Some(_), ..
        }) => "",
        _ => "; check client_id, the client secret and scopes",
    }
}

fn throttle_advice(wait: Duration, limit: ThrottleLimit) -> String {
    match limit {
        ThrottleLimit::PollTimeout => format!(
            "the wait it asks for ({wait:?}) does not fit in the poll timeout; raise poll_timeout or the interval"
        ),
        ThrottleLimit::Waits(times) => format!(
            "throttled {times} times in a row, past the limit of {} throttle waits a request may make; the vendor's quota for these credentials is spent: raise the interval, or give sources that share these credentials their own",
            times - 1
        ),
    }
}

fn status_hint(status: StatusCode, endpoint: Option<&Endpoint>) -> String {
    match (status.as_u16(), endpoint) {
        (401, Some(endpoint)) => format!("the vendor did not accept the credential (an expired or revoked key or secret, a token for another tenant, account or resource?); {} needs {}", endpoint.name, endpoint.needs),
        (403, Some(endpoint)) => format!("the credential is accepted but lacks what {} needs: {}", endpoint.name, endpoint.needs),
        (_, Some(endpoint)) => format!("{} needs {}", endpoint.name, endpoint.needs),
        (status, _) => generic_status_hint(status).to_string(),
    }
}

fn generic_status_hint(status: u16) -> &'static str {
    match status {
        401 => "check the credentials (expired or revoked key or secret?)",
        403 => "the credentials lack a permission or role this API needs",
        404 => "check base_url and the IDs in the config",
        407 => "the proxy wants credentials: give them in proxy_connect_header (Proxy-Authorization) or in proxy_url's user and password",
        400..=499 => "the vendor refused the request; check this source's settings",
        _ => "the vendor failed; it is retried on the next poll",
    }
}

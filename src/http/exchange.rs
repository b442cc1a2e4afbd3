//! What one exchange with a vendor is: the request, the answer, what it may cost, and what
//! the vendor's code tells the layer (error bodies, throttles, endpoints).

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use url::Url;

use crate::model::secret::{redacted_url, Secret};

use super::endpoints::Endpoint;
use super::error::HttpError;

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
    pub(super) fn describe(&self) -> String {
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
    pub(super) request: String,
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

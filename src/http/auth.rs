//! Credentials on requests: a static `Authorization` header, or OAuth2 client-credentials
//! tokens cached until shortly before they expire.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderValue;
use reqwest::Method;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::assertion::{client_assertion, AssertionError, JWT_BEARER};
use super::credentials::{sensitive_header, AuthConfig, ClientCredential, Grant, OAuth2Config};
use super::error::{HttpError, TokenFailure};
use super::exchange::{Body, Request, Response};
use crate::model::secret::{redacted_url, Secret};

/// Where the authorizer sends a token request: a poll's session, which sends it with its
/// retries and without authorization. A trait, so that the session may hold an authorizer and
/// the authorizer send through the session without either naming the other.
#[async_trait::async_trait]
pub(super) trait TokenSender: Sync {
    async fn send_token_request(&self, request: &Request) -> Result<Response, HttpError>;
}

/// Used when a token response says nothing of its lifetime.
const ASSUMED_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(60);

pub(super) enum Authorizer {
    Static(HeaderValue),
    OAuth2(Box<TokenCache>),
}

impl Authorizer {
    pub(super) fn new(config: &AuthConfig) -> Self {
        match config {
            AuthConfig::Static(credential) => Authorizer::Static(credential.header().clone()),
            AuthConfig::OAuth2(config) => Authorizer::OAuth2(Box::new(TokenCache {
                config: config.clone(),
                token: Mutex::new(None),
            })),
        }
    }

    pub(super) async fn header(
        &self,
        session: &dyn TokenSender,
    ) -> Result<Option<HeaderValue>, HttpError> {
        match self {
            Authorizer::Static(value) => Ok(Some(value.clone())),
            Authorizer::OAuth2(cache) => cache.header(session).await.map(Some),
        }
    }

    pub(super) fn can_refresh(&self) -> bool {
        matches!(self, Authorizer::OAuth2(_))
    }

    /// The token now cached, if any and not being refreshed this instant.
    pub(super) fn cached_token(&self) -> Option<String> {
        let Authorizer::OAuth2(cache) = self else {
            return None;
        };
        let token = cache.token.try_lock().ok()?;
        let header = token.as_ref()?.header.as_bytes();
        Some(String::from_utf8_lossy(header).into_owned())
    }

    /// The secrets of the configured credential a vendor might echo in an error: the static
    /// `Authorization` value, or the client secret and the user's password.
    pub(super) fn configured_secrets(&self) -> Vec<String> {
        match self {
            Authorizer::Static(value) => vec![String::from_utf8_lossy(value.as_bytes()).into()],
            Authorizer::OAuth2(cache) => {
                let mut secrets = Vec::new();
                if let ClientCredential::Secret(secret) = &cache.config.credential {
                    secrets.push(secret.expose().to_string());
                }
                if let Grant::Password { password, .. } = &cache.config.grant {
                    secrets.push(password.expose().to_string());
                }
                secrets
            }
        }
    }

    pub(super) async fn invalidate(&self) {
        if let Authorizer::OAuth2(cache) = self {
            *cache.token.lock().await = None;
        }
    }
}

pub(super) struct TokenCache {
    config: OAuth2Config,
    /// A tokio mutex: it is held across the token request, so concurrent requests of one
    /// source wait for one refresh instead of each fetching a token.
    token: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    header: HeaderValue,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Secret,
    /// Seconds; some servers send it as a string.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    /// RFC 3339, as Qlik sends it.
    #[serde(default)]
    expires_at: Option<String>,
}

impl TokenCache {
    async fn header(&self, session: &dyn TokenSender) -> Result<HeaderValue, HttpError> {
        let mut token = self.token.lock().await;
        if let Some(cached) = token.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(cached.header.clone());
        }
        let fresh = self.fetch(session).await?;
        let header = fresh.header.clone();
        *token = Some(fresh);
        Ok(header)
    }

    async fn fetch(&self, session: &dyn TokenSender) -> Result<CachedToken, HttpError> {
        let requested_at = Instant::now();
        let token_error = |failure: TokenFailure| HttpError::Token {
            token_url: redacted_url(&self.config.token_url),
            failure: Box::new(failure),
        };
        let request = self
            .request()
            .map_err(|e| token_error(TokenFailure::Assertion(e)))?;
        // Boxed: the token request goes through the same retrying send, which may ask for a token.
        let response = session
            .send_token_request(&request)
            .await
            .map_err(|e| token_error(TokenFailure::Request(e)))?;
        let parsed: TokenResponse = response
            .json()
            .map_err(|e| token_error(TokenFailure::Request(e)))?;
        let lifetime = lifetime(&parsed, Utc::now());
        let header = sensitive_header("Bearer", &parsed.access_token)
            .ok_or_else(|| token_error(TokenFailure::TokenNotAHeaderValue))?;
        let margin = MAX_REFRESH_MARGIN.min(lifetime / 5);
        tracing::debug!(token_url = %redacted_url(&self.config.token_url), lifetime_s = lifetime.as_secs(), "got an access token");
        Ok(CachedToken {
            header,
            refresh_at: requested_at + lifetime.saturating_sub(margin),
        })
    }

    fn request(&self) -> Result<Request, AssertionError> {
        let grant_type = match &self.config.grant {
            Grant::ClientCredentials => "client_credentials",
            Grant::Password { .. } => "password",
        };
        let mut fields = vec![
            ("grant_type".to_string(), Secret::new(grant_type)),
            (
                "client_id".to_string(),
                Secret::new(self.config.client_id.clone()),
            ),
        ];
        if let Grant::Password { username, password } = &self.config.grant {
            fields.push(("username".to_string(), Secret::new(username.clone())));
            fields.push(("password".to_string(), password.clone()));
        }
        match &self.config.credential {
            ClientCredential::None => {}
            ClientCredential::Secret(secret) => {
                fields.push(("client_secret".to_string(), secret.clone()))
            }
            ClientCredential::Certificate(certificate) => {
                let assertion = client_assertion(
                    &self.config.client_id,
                    &self.config.token_url,
                    certificate,
                    Utc::now(),
                )?;
                fields.push(("client_assertion_type".to_string(), Secret::new(JWT_BEARER)));
                fields.push(("client_assertion".to_string(), assertion));
            }
        }
        if !self.config.scopes.is_empty() {
            fields.push((
                "scope".to_string(),
                Secret::new(self.config.scopes.join(" ")),
            ));
        }
        for (key, value) in &self.config.endpoint_params {
            fields.push((key.clone(), Secret::new(value.clone())));
        }
        Ok(Request {
            method: Method::POST,
            url: self.config.token_url.clone(),
            body: Body::Form(fields),
        })
    }
}

fn lifetime(response: &TokenResponse, now: DateTime<Utc>) -> Duration {
    // `"NaN"` and `"inf"` parse as f64; neither is a lifetime.
    let from_expires_in = response
        .expires_in
        .as_ref()
        .and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .filter(|seconds: &f64| seconds.is_finite());
    let from_expires_at = response
        .expires_at
        .as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|at| (at.with_timezone(&Utc) - now).num_milliseconds() as f64 / 1000.0);
    // When both are given, trust the shorter: a token refreshed early costs one request,
    // one used late fails a poll.
    let seconds = match (from_expires_in, from_expires_at) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(ASSUMED_TOKEN_LIFETIME.as_secs_f64()),
    };
    Duration::from_secs_f64(seconds.clamp(0.0, 366.0 * 86400.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(expires_in: Option<serde_json::Value>, expires_at: Option<&str>) -> TokenResponse {
        TokenResponse {
            access_token: Secret::new("t"),
            expires_in,
            expires_at: expires_at.map(str::to_string),
        }
    }

    #[test]
    fn token_lifetime_comes_from_expires_in_or_expires_at() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            lifetime(&response(Some(3599.into()), None), now),
            Duration::from_secs(3599)
        );
        assert_eq!(
            lifetime(&response(Some("300".into()), None), now),
            Duration::from_secs(300)
        );
        assert_eq!(
            lifetime(&response(None, Some("2026-11-22T16:00:00Z")), now),
            Duration::from_secs(21600)
        );
        assert_eq!(
            lifetime(
                &response(Some(21600.into()), Some("2026-11-22T10:05:00Z")),
                now
            ),
            Duration::from_secs(300)
        );
        assert_eq!(lifetime(&response(None, None), now), ASSUMED_TOKEN_LIFETIME);
    }

    #[test]
    fn a_lifetime_that_is_not_a_finite_number_is_assumed() {
        let now = Utc::now();
        for odd in [
            "NaN",
            "nan",
            "-NaN",
            "inf",
            "-infinity",
            "Infinity",
            "soon",
            "",
        ] {
            assert_eq!(
                lifetime(&response(Some(odd.into()), None), now),
                ASSUMED_TOKEN_LIFETIME,
                "{odd:?}"
            );
        }
        assert_eq!(
            lifetime(&response(Some("-5".into()), None), now),
            Duration::ZERO
        );
        assert_eq!(
            lifetime(&response(Some(" 60 ".into()), None), now),
            Duration::from_secs(60)
        );
    }
}

//! What a source authenticates with, as the HTTP layer needs it. The config loader builds these;
//! a value that exists is one the layer can use (a static credential is a valid header value, a
//! certificate key can sign), so a bad credential fails at load, not at the first request.

use std::collections::BTreeMap;
use std::fmt;

use reqwest::header::HeaderValue;
use url::Url;

use crate::model::secret::Secret;

/// How requests to a vendor are authorised.
#[derive(Clone, Debug)]
pub enum AuthConfig {
    /// `Authorization: <scheme> <credentials>`, e.g. a Qlik API key.
    Static(StaticCredential),
    OAuth2(OAuth2Config),
}

impl AuthConfig {
    /// Where tokens come from, for OAuth 2.
    pub fn token_url(&self) -> Option<&Url> {
        match self {
            AuthConfig::Static(_) => None,
            AuthConfig::OAuth2(oauth) => Some(&oauth.token_url),
        }
    }
}

/// A static `Authorization` value, checked to be a valid header value when it is made.
#[derive(Clone)]
pub struct StaticCredential {
    pub scheme: String,
    pub credentials: Secret,
    header: HeaderValue,
}

/// A static credential that cannot be sent as a header. It never holds the value itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidCredential {
    #[error("the credential contains a character that cannot be sent in an HTTP header (a control character such as a line break); check the key for a stray line break or quote")]
    NotAHeaderValue,
    #[error("the credential is empty")]
    Empty,
}

impl StaticCredential {
    pub fn new(scheme: String, credentials: Secret) -> Result<Self, InvalidCredential> {
        if credentials.expose().trim().is_empty() {
            return Err(InvalidCredential::Empty);
        }
        let header =
            sensitive_header(&scheme, &credentials).ok_or(InvalidCredential::NotAHeaderValue)?;
        Ok(StaticCredential {
            scheme,
            credentials,
            header,
        })
    }

    pub(super) fn header(&self) -> &HeaderValue {
        &self.header
    }
}

impl fmt::Debug for StaticCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredential")
            .field("scheme", &self.scheme)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// `<scheme> <credentials>` as a header value that `Debug` prints as `Sensitive`.
pub(super) fn sensitive_header(scheme: &str, credentials: &Secret) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("{scheme} {}", credentials.expose())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// OAuth2 client credentials, with the same keys as Prometheus's own `oauth2` block.
#[derive(Clone, Debug)]
pub struct OAuth2Config {
    pub token_url: Url,
    pub client_id: String,
    pub grant: Grant,
    pub credential: ClientCredential,
    pub scopes: Vec<String>,
    pub endpoint_params: BTreeMap<String, String>,
}

/// Which OAuth2 grant gets the token.
#[derive(Clone, Debug)]
pub enum Grant {
    ClientCredentials,
    /// The resource owner password grant (RFC 6749 §4.3), which UiPath's guide names for its
    /// usage and licensing endpoints.
    Password {
        username: String,
        password: Secret,
    },
}

/// How an OAuth2 client proves who it is.
#[derive(Clone, Debug)]
pub enum ClientCredential {
    /// A public client (the password grant only): the user's password is the proof.
    None,
    Secret(Secret),
    /// A certificate whose key signs a `client_assertion` JWT (RFC 7523), as AvePoint
    /// recommends and Entra ID and Qlik accept.
    Certificate(ClientCertificate),
}

/// A client certificate and its private key, both read and checked when the config loads.
#[derive(Clone)]
pub struct ClientCertificate {
    /// The certificate, DER-encoded; its SHA-1 thumbprint goes in the assertion's `x5t`.
    pub cert_der: Vec<u8>,
    /// The PEM private key (PKCS#8 or PKCS#1 RSA).
    pub key_pem: Secret,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("cert_der_len", &self.cert_der.len())
            .field("key_pem", &self.key_pem)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_credential_that_is_no_header_value_is_refused_without_showing_it() {
        for bad in ["key\nwith-newline", "key\u{7f}", "\tkey\r"] {
            let error = StaticCredential::new("Bearer".into(), Secret::new(bad)).unwrap_err();
            assert_eq!(error, InvalidCredential::NotAHeaderValue);
            assert!(!error.to_string().contains(bad));
        }
        assert_eq!(
            StaticCredential::new("Bearer".into(), Secret::new(" ")).unwrap_err(),
            InvalidCredential::Empty
        );
        let good = StaticCredential::new("Bearer".into(), Secret::new("k-1")).unwrap();
        assert!(good.header().is_sensitive());
        assert!(!format!("{good:?}").contains("k-1"));
    }
}

//! `client_assertion` JWTs (RFC 7523, "private_key_jwt"): a client proves its identity by
//! signing a short-lived token with its certificate's key instead of sending a secret.
//! AvePoint recommends it; Entra ID and Qlik accept it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::Rng;
use serde::Serialize;
use sha1::{Digest, Sha1};
use url::Url;

use super::credentials::ClientCertificate;
use crate::model::secret::Secret;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid: only for the token request it is made for.
const LIFETIME_SECONDS: i64 = 300;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// Why no assertion could be made. jsonwebtoken's errors name the failure, never the key.
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("the client certificate key cannot sign: {0}")]
    KeyCannotSign(jsonwebtoken::errors::Error),
    #[error("signing the client assertion failed: {0}")]
    Signing(jsonwebtoken::errors::Error),
}

/// Whether `pem` holds an RSA private key this module can sign with.
pub fn signing_key_is_valid(pem: &str) -> bool {
    EncodingKey::from_rsa_pem(pem.as_bytes()).is_ok()
}

/// An RS256-signed assertion for `client_id` at `token_url`. The header's `x5t` is the
/// certificate's SHA-1 thumbprint, which identity servers use to find the registered certificate.
pub fn client_assertion(
    client_id: &str,
    token_url: &Url,
    certificate: &ClientCertificate,
    now: DateTime<Utc>,
) -> Result<Secret, AssertionError> {
    let key = EncodingKey::from_rsa_pem(certificate.key_pem.expose().as_bytes())
        .map_err(AssertionError::KeyCannotSign)?;
    let mut header = Header::new(Algorithm::RS256);
    header.x5t = Some(URL_SAFE_NO_PAD.encode(Sha1::digest(&certificate.cert_der)));
    let issued = now.timestamp();
    let claims = Claims {
        iss: client_id,
        sub: client_id,
        aud: token_url.as_str(),
        jti: format!("{:032x}", rand::rng().random::<u128>()),
        iat: issued,
        nbf: issued,
        exp: issued + LIFETIME_SECONDS,
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map(Secret::new)
        .map_err(AssertionError::Signing)
}

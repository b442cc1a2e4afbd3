//! Credentials in the config: a static token or OAuth2 client credentials (a secret or a
//! certificate), each secret given inline or in a file. Everything is read and checked at load,
//! so a bad credential fails at start, not at the first request.

use std::path::PathBuf;

use url::Url;

use super::context::Context;
use super::raw::{RawAuthorization, RawClientCertificate, RawGrantType, RawOAuth2};
use crate::http::{
    signing_key_is_valid, AuthConfig, ClientCertificate, ClientCredential, Grant, OAuth2Config,
    StaticCredential,
};
use crate::model::secret::Secret;
use crate::sources::SourceType;

impl Context<'_> {
    pub(super) fn auth(
        &mut self,
        prefix: &str,
        source_name: &str,
        source_type: &dyn SourceType,
        base_url: &Url,
        credentials: (Option<RawAuthorization>, Option<RawOAuth2>),
    ) -> Option<AuthConfig> {
        match credentials {
            (Some(_), Some(_)) => {
                self.error(
                    format!("{prefix}.oauth2"),
                    "set either `authorization` or `oauth2`, not both",
                );
                None
            }
            (Some(a), None) => self.static_auth(&format!("{prefix}.authorization"), source_name, a),
            (None, Some(o)) => self.oauth2(&format!("{prefix}.oauth2"), source_type, base_url, o),
            (None, None) => {
                self.error(prefix, "missing credentials: set `authorization` (a static token) or `oauth2` (client credentials)");
                None
            }
        }
    }

    fn static_auth(
        &mut self,
        path: &str,
        source_name: &str,
        raw: RawAuthorization,
    ) -> Option<AuthConfig> {
        let key = if raw.credentials_file.is_some() {
            "credentials_file"
        } else {
            "credentials"
        };
        let credentials =
            self.secret(path, "credentials", raw.credentials, raw.credentials_file)?;
        let scheme = raw.scheme.unwrap_or_else(|| "Bearer".into());
        match StaticCredential::new(scheme, credentials) {
            Ok(credential) => Some(AuthConfig::Static(credential)),
            Err(e) => {
                self.error(
                    format!("{path}.{key}"),
                    format!("source {source_name:?}: {e}"),
                );
                None
            }
        }
    }

    fn oauth2(
        &mut self,
        path: &str,
        source_type: &dyn SourceType,
        base_url: &Url,
        mut raw: RawOAuth2,
    ) -> Option<AuthConfig> {
        let grant = self.grant(path, &mut raw);
        let has_secret = raw.client_secret.is_some() || raw.client_secret_file.is_some();
        let credential = match raw.client_certificate {
            Some(certificate) if !has_secret => {
                self.client_certificate(&format!("{path}.client_certificate"), certificate)
            }
            Some(_) => {
                self.error(
                    format!("{path}.client_certificate"),
                    "set either a client secret or `client_certificate`, not both",
                );
                None
            }
            // A password grant may come from a public client, which proves nothing itself.
            None if !has_secret && raw.grant_type == RawGrantType::Password => {
                Some(ClientCredential::None)
            }
            None => self
                .secret(
                    path,
                    "client_secret",
                    raw.client_secret,
                    raw.client_secret_file,
                )
                .map(ClientCredential::Secret),
        };
        let token_url = raw
            .token_url
            .or_else(|| source_type.default_token_url(base_url));
        let Some(token_url) = token_url else {
            self.error(
                path,
                format!(
                    "missing `token_url`: {} has no default token endpoint",
                    source_type.name()
                ),
            );
            return None;
        };
        Some(AuthConfig::OAuth2(OAuth2Config {
            token_url,
            client_id: raw.client_id,
            grant: grant?,
            credential: credential?,
            scopes: if raw.scopes.is_empty() {
                source_type.default_scopes(base_url)
            } else {
                raw.scopes
            },
            endpoint_params: raw.endpoint_params,
        }))
    }

    /// The grant: client credentials, or a resource owner's password (`grant_type: password`,
    /// which needs `username` and `password` or `password_file`, and refuses them otherwise).
    fn grant(&mut self, path: &str, raw: &mut RawOAuth2) -> Option<Grant> {
        let (username, password, file) = (
            raw.username.take(),
            raw.password.take(),
            raw.password_file.take(),
        );
        match raw.grant_type {
            RawGrantType::ClientCredentials => {
                let given = [
                    ("username", username.is_some()),
                    ("password", password.is_some()),
                    ("password_file", file.is_some()),
                ];
                for (key, _) in given.iter().filter(|(_, set)| *set) {
                    self.error(
                        format!("{path}.{key}"),
                        format!("`{key}` is for the password grant: add `grant_type: password`, or remove it"),
                    );
                }
                Some(Grant::ClientCredentials)
            }
            RawGrantType::Password => {
                let password = self.secret(path, "password", password, file);
                let Some(username) = username.filter(|u| !u.trim().is_empty()) else {
                    self.error(
                        path,
                        "missing `username`: the password grant signs in as a user",
                    );
                    return None;
                };
                Some(Grant::Password {
                    username,
                    password: password?,
                })
            }
        }
    }

    /// Reads a certificate and its key, and checks that the key can sign, so that a bad file
    /// fails at start rather than at the first token request.
    fn client_certificate(
        &mut self,
        path: &str,
        raw: RawClientCertificate,
    ) -> Option<ClientCredential> {
        use rustls_pki_types::pem::PemObject;
        let cert_path = self.base_dir.join(&raw.cert_file);
        let cert = match crate::model::files::read(&cert_path)
            .map_err(rustls_pki_types::pem::Error::Io)
            .and_then(|pem| rustls_pki_types::CertificateDer::from_pem_slice(&pem))
        {
            Ok(cert) => Some(cert.as_ref().to_vec()),
            Err(e) => {
                self.error(
                    format!("{path}.cert_file"),
                    format!(
                        "cannot read a PEM certificate from {}: {e}",
                        cert_path.display()
                    ),
                );
                None
            }
        };
        let key_path = self.base_dir.join(&raw.key_file);
        let key = match crate::model::files::read_to_string(&key_path) {
            Ok(pem) if signing_key_is_valid(&pem) => Some(Secret::new(pem)),
            Ok(_) => {
                self.error(
                    format!("{path}.key_file"),
                    format!(
                        "{} is not a PEM RSA private key (PKCS#8 or PKCS#1)",
                        key_path.display()
                    ),
                );
                None
            }
            Err(e) => {
                self.error(
                    format!("{path}.key_file"),
                    format!("cannot read {}: {e}", key_path.display()),
                );
                None
            }
        };
        Some(ClientCredential::Certificate(ClientCertificate {
            cert_der: cert?,
            key_pem: key?,
        }))
    }

    /// A secret given inline (`key`) or in a file (`key_file`), exactly one of the two.
    fn secret(
        &mut self,
        path: &str,
        key: &str,
        inline: Option<String>,
        file: Option<PathBuf>,
    ) -> Option<Secret> {
        match (inline, file) {
            (Some(_), Some(_)) => {
                self.error(
                    format!("{path}.{key}_file"),
                    format!("set either `{key}` or `{key}_file`, not both"),
                );
                None
            }
            (Some(value), None) => Some(Secret::new(value)),
            (None, Some(file)) => {
                let full = self.base_dir.join(&file);
                match crate::model::files::read_to_string(&full) {
                    Ok(text) => Some(Secret::new(text.trim_end_matches(['\r', '\n']))),
                    Err(e) => {
                        self.error(
                            format!("{path}.{key}_file"),
                            format!("cannot read {}: {e}", full.display()),
                        );
                        None
                    }
                }
            }
            (None, None) => {
                self.error(path, format!("missing `{key}` or `{key}_file`"));
                None
            }
        }
    }
}

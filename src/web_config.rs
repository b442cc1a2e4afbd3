//! `--web.config.file`, in the Prometheus exporter-toolkit format: `tls_server_config` (a
//! certificate and key, optionally client certificates checked against a CA) and
//! `basic_auth_users` (bcrypt hashes). The file and the files it names are re-read when they
//! change, so certificates and users rotate without a restart; a change that does not load is
//! logged and the last good settings stay.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde::Deserialize;

use crate::secret::Secret;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, Secret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: PathBuf,
    key_file: PathBuf,
    #[serde(default)]
    client_auth_type: ClientAuth,
    client_ca_file: Option<PathBuf>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, Debug)]
enum ClientAuth {
    #[default]
    NoClientCert,
    RequireAndVerifyClientCert,
    VerifyClientCertIfGiven,
}

/// Why a web config does not load. Each names the file and the key; none holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("cannot read the web config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Syntax {
        path: PathBuf,
        source: serde_yaml::Error,
    },
    #[error("{}: basic_auth_users.{user} is not a bcrypt hash (make one with `htpasswd -nBC 10 {user}`)", path.display())]
    NotBcrypt { path: PathBuf, user: String },
    #[error("{}: tls_server_config.{key} {}: {source}", path.display(), file.display())]
    Pem {
        path: PathBuf,
        key: &'static str,
        file: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{}: tls_server_config: client_auth_type {mode} needs client_ca_file", path.display())]
    MissingClientCa { path: PathBuf, mode: String },
    #[error("{}: tls_server_config: {source}", path.display())]
    Tls {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("{}: tls_server_config.client_ca_file: {source}", path.display())]
    ClientVerifier {
        path: PathBuf,
        source: rustls::server::VerifierBuilderError,
    },
}

/// The files a web config consists of, with the modification times last seen.
type Watched = Vec<(PathBuf, Option<SystemTime>)>;

/// What one version of the web config file says.
pub struct WebSettings {
    pub tls: Option<Arc<ServerConfig>>,
    /// User → bcrypt hash. Empty: no authentication.
    users: HashMap<String, Secret>,
}

impl WebSettings {
    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }
}

/// The web config file, re-read when it or a file it names changes.
pub struct WebConfig {
    path: PathBuf,
    current: Mutex<(Watched, Arc<WebSettings>)>,
    /// (user, hash of the password that matched) → already verified, so bcrypt's deliberate
    /// slowness is paid once per credential, not per scrape.
    verified: Mutex<HashMap<(String, u64), ()>>,
}

impl WebConfig {
    /// Loads the file; an error here stops the exporter from starting.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let (files, settings) = read(path)?;
        Ok(WebConfig {
            path: path.to_path_buf(),
            current: Mutex::new((files, Arc::new(settings))),
            verified: Mutex::default(),
        })
    }

    /// Whether connections are served over TLS now.
    pub fn serves_tls(&self) -> bool {
        self.current().tls.is_some()
    }

    /// The settings for a new connection, re-read first if any of the files changed.
    pub fn current(&self) -> Arc<WebSettings> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let changed =
            current.0.iter().any(|(file, seen)| modified(file) != *seen) || current.0.is_empty();
        if changed {
            match read(&self.path) {
                Ok((files, settings)) => {
                    tracing::info!(file = %self.path.display(), "web config reloaded");
                    *current = (files, Arc::new(settings));
                    self.verified
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clear();
                }
                Err(e) => {
                    tracing::error!(file = %self.path.display(), error = %e, "web config change refused; the previous settings stay");
                    // Remember the new times so a broken file is not re-read per connection.
                    current.0 = current
                        .0
                        .iter()
                        .map(|(f, _)| (f.clone(), modified(f)))
                        .collect();
                }
            }
        }
        current.1.clone()
    }

    /// Checks an `Authorization` header against the users of `settings`.
    pub async fn authorised(&self, settings: &WebSettings, header: Option<&str>) -> bool {
        let Some((user, password)) = header.and_then(decode_basic) else {
            return false;
        };
        let Some(hash) = settings.users.get(&user).cloned() else {
            return false;
        };
        let key = (user, password_key(&password));
        if self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&key)
        {
            return true;
        }
        let ok = tokio::task::spawn_blocking(move || {
            bcrypt::verify(password, hash.expose()).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if ok {
            self.verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, ());
        }
        ok
    }
}

fn password_key(password: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    password.hash(&mut hasher);
    hasher.finish()
}

fn decode_basic(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads the web config and the files it names; returns those files with their times.
fn read(path: &Path) -> Result<(Watched, WebSettings), WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let raw: RawWebConfig =
        serde_yaml::from_str(&text).map_err(|source| WebConfigError::Syntax {
            path: path.to_path_buf(),
            source,
        })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut files = vec![(path.to_path_buf(), modified(path))];
    for (user, hash) in &raw.basic_auth_users {
        if bcrypt::verify("", hash.expose()).is_err() {
            return Err(WebConfigError::NotBcrypt {
                path: path.to_path_buf(),
                user: user.clone(),
            });
        }
    }
    let tls = match raw.tls_server_config {
        Some(tls) => {
            let names = [
                Some(&tls.cert_file),
                Some(&tls.key_file),
                tls.client_ca_file.as_ref(),
            ];
            files.extend(
                names
                    .into_iter()
                    .flatten()
                    .map(|f| (base.join(f), modified(&base.join(f)))),
            );
            Some(Arc::new(server_config(path, base, &tls)?))
        }
        None => None,
    };
    Ok((
        files,
        WebSettings {
            tls,
            users: raw.basic_auth_users.into_iter().collect(),
        },
    ))
}

fn server_config(path: &Path, base: &Path, tls: &RawTls) -> Result<ServerConfig, WebConfigError> {
    let pem_error = |key: &'static str, file: &Path| {
        let (path, file) = (path.to_path_buf(), file.to_path_buf());
        move |source| WebConfigError::Pem {
            path,
            key,
            file,
            source,
        }
    };
    let tls_error = |source| WebConfigError::Tls {
        path: path.to_path_buf(),
        source,
    };
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(base.join(&tls.cert_file))
            .map_err(pem_error("cert_file", &tls.cert_file))?
            .collect::<Result<_, _>>()
            .map_err(pem_error("cert_file", &tls.cert_file))?;
    let key = PrivateKeyDer::from_pem_file(base.join(&tls.key_file))
        .map_err(pem_error("key_file", &tls.key_file))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?;
    let builder = match (tls.client_auth_type, &tls.client_ca_file) {
        (ClientAuth::NoClientCert, _) => builder.with_no_client_auth(),
        (mode, None) => {
            return Err(WebConfigError::MissingClientCa {
                path: path.to_path_buf(),
                mode: format!("{mode:?}"),
            })
        }
        (mode, Some(ca_file)) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(base.join(ca_file))
                .map_err(pem_error("client_ca_file", ca_file))?
            {
                roots
                    .add(cert.map_err(pem_error("client_ca_file", ca_file))?)
                    .map_err(tls_error)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == ClientAuth::VerifyClientCertIfGiven {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|source| WebConfigError::ClientVerifier {
                    path: path.to_path_buf(),
                    source,
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(tls_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::decode_basic;

    #[test]
    fn basic_credentials_decode_and_garbage_does_not() {
        assert_eq!(
            decode_basic("Basic cHJvbTpzZWNyZXQ="),
            Some(("prom".into(), "secret".into()))
        );
        assert_eq!(decode_basic("Bearer x"), None);
        assert_eq!(decode_basic("Basic !!!"), None);
    }
}

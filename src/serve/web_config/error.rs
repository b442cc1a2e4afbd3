//! Why a web config does not load.

use std::path::PathBuf;

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
        source: crate::settings::YamlError,
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
    #[error("{}: {keys} is missing", path.display())]
    Missing { path: PathBuf, keys: String },
    #[error("{}: {key}: {value:?} is refused: {reason}", path.display())]
    Refused {
        path: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
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

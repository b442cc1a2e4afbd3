//! `exporter.yml` → a typed, validated [`Config`].
//!
//! Owns every call into the YAML library, so that swapping `serde_yaml` (published as deprecated)
//! touches this module only. Decoding goes: raw text → `serde_yaml::Value` with `${ENV}` expanded →
//! global keys and the keys every source shares → the vendor's own keys, decoded by the vendor's
//! [`SourceType`](crate::sources::SourceType). Every error carries its path, and a line and column
//! from [`positions::PositionIndex`]; errors are collected, not stopped at, so `check` prints all.

pub mod positions;
mod secret;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_yaml::Value;
use url::Url;

pub use positions::Position;
pub use secret::Secret;

use crate::sources::{self, Source, SourceType};
use positions::PositionIndex;

/// Default listen address: outside the 9100–9999 range that Prometheus exporters crowd into.
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:10115";

/// The whole, validated configuration.
#[derive(Clone)]
pub struct Config {
    pub sources: Vec<SourceConfig>,
}

/// One configured source: the shared settings, and the vendor's source built from its own keys.
#[derive(Clone)]
pub struct SourceConfig {
    pub name: String,
    pub vendor: &'static str,
    pub base_url: Url,
    pub schedule: Schedule,
    pub limits: RequestLimits,
    pub auth: AuthConfig,
    pub source: Arc<dyn Source>,
    /// Changes whenever anything that shapes this source's polls changes (its entry, the
    /// global keys, the environment it expands, the secrets its files hold), so a reload can
    /// leave unchanged sources polling undisturbed.
    pub fingerprint: u64,
}

/// When and for how long a source is polled, and how long its last good data is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub poll_timeout: Duration,
    pub max_age: Duration,
}

/// What one HTTP exchange with a vendor may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    pub request_timeout: Duration,
    pub max_response_bytes: u64,
    pub max_retries: u32,
    pub max_pages: u32,
}

/// How requests to a vendor are authorised.
#[derive(Clone, Debug)]
pub enum AuthConfig {
    None,
    /// `Authorization: <scheme> <credentials>`, e.g. a Qlik API key.
    Static {
        scheme: String,
        credentials: Secret,
    },
    OAuth2(OAuth2Config),
}

/// OAuth2 client credentials, with the same keys as Prometheus's own `oauth2` block.
#[derive(Clone, Debug)]
pub struct OAuth2Config {
    pub token_url: Url,
    pub client_id: String,
    pub credential: ClientCredential,
    pub scopes: Vec<String>,
    pub endpoint_params: BTreeMap<String, String>,
}

/// How an OAuth2 client proves who it is.
#[derive(Clone, Debug)]
pub enum ClientCredential {
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

/// One problem in the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub position: Option<Position>,
    pub path: String,
    pub message: String,
}

/// Every problem found in one config file.
#[derive(Debug)]
pub struct ConfigErrors {
    pub file: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file)?;
            if let Some(p) = error.position {
                write!(f, ":{}:{}", p.line, p.column)?;
            }
            if error.path.is_empty() {
                write!(f, ": {}", error.message)?;
            } else {
                write!(f, ": {}: {}", error.path, error.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A problem in a vendor's own keys, with a path relative to the source entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Reads and validates the config file at `path`. Relative `*_file` paths are resolved against
/// the config file's directory, as Prometheus does.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        file: file.clone(),
        errors: vec![ConfigError {
            position: None,
            path: String::new(),
            message: format!("cannot read the config file: {e}"),
        }],
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &file, &base_dir)
}

/// Validates config `text`; `file` names it in errors, `base_dir` anchors relative `*_file` paths.
pub fn parse(text: &str, file: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let index = PositionIndex::build(text);
    let mut decoder = Decoder {
        index: &index,
        base_dir,
        errors: Vec::new(),
    };
    let config = decoder.decode(text);
    match config {
        Some(config) if decoder.errors.is_empty() => Ok(config),
        _ => Err(ConfigErrors {
            file: file.to_string(),
            errors: decoder.errors,
        }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    global: Option<Value>,
    #[serde(default)]
    sources: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawGlobal {
    #[serde(with = "humantime_serde")]
    poll_interval: Option<Duration>,
    #[serde(with = "humantime_serde")]
    poll_timeout: Option<Duration>,
    #[serde(with = "humantime_serde")]
    request_timeout: Option<Duration>,
    #[serde(with = "humantime_serde")]
    max_age: Option<Duration>,
    max_response_bytes: Option<u64>,
    max_retries: Option<u32>,
    max_pages: Option<u32>,
}

/// The keys every source accepts; the rest of an entry belongs to its vendor.
const COMMON_KEYS: &[&str] = &[
    "name",
    "type",
    "base_url",
    "interval",
    "poll_timeout",
    "request_timeout",
    "max_age",
    "max_response_bytes",
    "max_retries",
    "max_pages",
    "authorization",
    "oauth2",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommon {
    name: String,
    #[serde(rename = "type")]
    _kind: String,
    base_url: Option<Url>,
    #[serde(default, with = "humantime_serde")]
    interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    poll_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    request_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    max_age: Option<Duration>,
    max_response_bytes: Option<u64>,
    max_retries: Option<u32>,
    max_pages: Option<u32>,
    authorization: Option<RawAuthorization>,
    oauth2: Option<RawOAuth2>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthorization {
    #[serde(rename = "type")]
    scheme: Option<String>,
    credentials: Option<String>,
    credentials_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClientCertificate {
    cert_file: PathBuf,
    key_file: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOAuth2 {
    token_url: Option<Url>,
    client_id: String,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    client_certificate: Option<RawClientCertificate>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    endpoint_params: BTreeMap<String, String>,
}

const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(15 * 60);
const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
const DEFAULT_MAX_RETRIES: u32 = 3;
const DEFAULT_MAX_PAGES: u32 = 10_000;

struct Decoder<'a> {
    index: &'a PositionIndex,
    base_dir: &'a Path,
    errors: Vec<ConfigError>,
}

impl Decoder<'_> {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        let position = self.index.find(&path);
        self.errors.push(ConfigError {
            position,
            path,
            message: message.into(),
        });
    }

    fn decode(&mut self, text: &str) -> Option<Config> {
        let raw: RawFile = match serde_yaml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let position = e.location().map(|l| Position {
                    line: l.line(),
                    column: l.column(),
                });
                let message = strip_serde_yaml_location(&e.to_string());
                self.errors.push(ConfigError {
                    position,
                    path: String::new(),
                    message,
                });
                return None;
            }
        };
        let global_value = raw.global.clone().unwrap_or_default();
        let global = self.decode_global(raw.global);
        if raw.sources.is_empty() {
            self.error(
                "sources",
                "no sources are configured: add at least one entry under `sources`",
            );
        }
        let mut sources = Vec::new();
        for (i, entry) in raw.sources.into_iter().enumerate() {
            let entry_value = entry.clone();
            if let Some(mut source) = self.decode_source(i, entry, &global) {
                source.fingerprint = fingerprint(&[&entry_value, &global_value], &source.auth);
                sources.push(source);
            }
        }
        self.check_unique_names(&sources);
        Some(Config { sources })
    }

    fn decode_global(&mut self, value: Option<Value>) -> RawGlobal {
        let Some(value) = value else {
            return RawGlobal::default();
        };
        self.decode_value("global", value).unwrap_or_default()
    }

    /// Decodes `value` into `T`, recording a positioned error under `prefix` on failure.
    fn decode_value<T: DeserializeOwned>(&mut self, prefix: &str, value: Value) -> Option<T> {
        let value = self.expand_env(prefix, value)?;
        match decode_settings::<T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(join_path(prefix, &e.path), e.message);
                None
            }
        }
    }

    fn expand_env(&mut self, prefix: &str, value: Value) -> Option<Value> {
        let mut failures = Vec::new();
        let value = expand_env_in(value, prefix, &mut failures);
        let ok = failures.is_empty();
        for (path, message) in failures {
            self.error(path, message);
        }
        ok.then_some(value)
    }

    fn decode_source(
        &mut self,
        i: usize,
        entry: Value,
        global: &RawGlobal,
    ) -> Option<SourceConfig> {
        let prefix = format!("sources[{i}]");
        let Value::Mapping(mut mapping) = entry else {
            self.error(
                prefix,
                "a source must be a mapping with at least `name` and `type`",
            );
            return None;
        };
        let Some(kind) = mapping
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            self.error(
                prefix,
                format!(
                    "missing `type`: one of {}",
                    sources::type_names().join(", ")
                ),
            );
            return None;
        };
        let Some(source_type) = sources::find_type(&kind) else {
            let known = sources::type_names().join(", ");
            self.error(
                format!("{prefix}.type"),
                format!("unknown source type {kind:?}: one of {known}"),
            );
            return None;
        };
        let mut common = serde_yaml::Mapping::new();
        for key in COMMON_KEYS {
            if let Some(v) = mapping.remove(*key) {
                common.insert(Value::from(*key), v);
            }
        }
        let common: RawCommon = self.decode_value(&prefix, Value::Mapping(common))?;
        let vendor_settings = self.expand_env(&prefix, Value::Mapping(mapping))?;
        self.build_source(&prefix, source_type, common, vendor_settings, global)
    }

    fn build_source(
        &mut self,
        prefix: &str,
        source_type: &'static dyn SourceType,
        common: RawCommon,
        vendor_settings: Value,
        global: &RawGlobal,
    ) -> Option<SourceConfig> {
        let base_url = self.base_url(prefix, source_type, common.base_url)?;
        let auth = self.auth(
            prefix,
            source_type,
            &base_url,
            common.authorization,
            common.oauth2,
        );
        let source = match source_type.build(vendor_settings, &base_url) {
            Ok(source) => Some(source),
            Err(errors) => {
                for e in errors {
                    self.error(
                        join_path(prefix, &e.path),
                        vendor_message(source_type, e.message),
                    );
                }
                None
            }
        };
        let auth = match (auth, &source) {
            (Some(AuthConfig::OAuth2(mut oauth)), Some(source)) => {
                // Form fields the vendor's token endpoint needs (Dynatrace's `resource`), unless set.
                for (key, value) in source.default_token_params() {
                    oauth.endpoint_params.entry(key).or_insert(value);
                }
                Some(AuthConfig::OAuth2(oauth))
            }
            (auth, _) => auth,
        };
        let interval = common
            .interval
            .or(global.poll_interval)
            .unwrap_or(DEFAULT_POLL_INTERVAL);
        let schedule = Schedule {
            interval,
            poll_timeout: common
                .poll_timeout
                .or(global.poll_timeout)
                .unwrap_or(DEFAULT_POLL_TIMEOUT),
            max_age: common.max_age.or(global.max_age).unwrap_or(interval * 3),
        };
        self.check_schedule(prefix, &schedule);
        let limits = RequestLimits {
            request_timeout: common
                .request_timeout
                .or(global.request_timeout)
                .unwrap_or(DEFAULT_REQUEST_TIMEOUT),
            max_response_bytes: common
                .max_response_bytes
                .or(global.max_response_bytes)
                .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
            max_retries: common
                .max_retries
                .or(global.max_retries)
                .unwrap_or(DEFAULT_MAX_RETRIES),
            max_pages: common
                .max_pages
                .or(global.max_pages)
                .unwrap_or(DEFAULT_MAX_PAGES),
        };
        if common.name.trim().is_empty() {
            self.error(format!("{prefix}.name"), "a source name must not be empty");
        }
        Some(SourceConfig {
            name: common.name,
            vendor: source_type.name(),
            base_url,
            schedule,
            limits,
            auth: auth?,
            source: source?,
            fingerprint: 0,
        })
    }

    fn base_url(
        &mut self,
        prefix: &str,
        source_type: &dyn SourceType,
        configured: Option<Url>,
    ) -> Option<Url> {
        let url = match configured {
            Some(url) => url,
            None => match source_type.default_base_url() {
                Some(default) => Url::parse(default).ok()?,
                None => {
                    self.error(
                        prefix,
                        format!(
                            "missing `base_url`: {} has no default host",
                            source_type.name()
                        ),
                    );
                    return None;
                }
            },
        };
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            self.error(
                format!("{prefix}.base_url"),
                format!("{url} is not an http(s) URL with a host"),
            );
            return None;
        }
        Some(url)
    }

    fn auth(
        &mut self,
        prefix: &str,
        source_type: &dyn SourceType,
        base_url: &Url,
        authorization: Option<RawAuthorization>,
        oauth2: Option<RawOAuth2>,
    ) -> Option<AuthConfig> {
        match (authorization, oauth2) {
            (Some(_), Some(_)) => {
                self.error(
                    format!("{prefix}.oauth2"),
                    "set either `authorization` or `oauth2`, not both",
                );
                None
            }
            (Some(a), None) => self.static_auth(&format!("{prefix}.authorization"), a),
            (None, Some(o)) => self.oauth2(&format!("{prefix}.oauth2"), source_type, base_url, o),
            (None, None) => {
                self.error(prefix, "missing credentials: set `authorization` (a static token) or `oauth2` (client credentials)");
                None
            }
        }
    }

    fn static_auth(&mut self, path: &str, raw: RawAuthorization) -> Option<AuthConfig> {
        let credentials =
            self.secret(path, "credentials", raw.credentials, raw.credentials_file)?;
        Some(AuthConfig::Static {
            scheme: raw.scheme.unwrap_or_else(|| "Bearer".into()),
            credentials,
        })
    }

    fn oauth2(
        &mut self,
        path: &str,
        source_type: &dyn SourceType,
        base_url: &Url,
        raw: RawOAuth2,
    ) -> Option<AuthConfig> {
        let credential = match raw.client_certificate {
            Some(certificate)
                if raw.client_secret.is_none() && raw.client_secret_file.is_none() =>
            {
                self.client_certificate(&format!("{path}.client_certificate"), certificate)
            }
            Some(_) => {
                self.error(
                    format!("{path}.client_certificate"),
                    "set either a client secret or `client_certificate`, not both",
                );
                None
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
            credential: credential?,
            scopes: if raw.scopes.is_empty() {
                source_type.default_scopes(base_url)
            } else {
                raw.scopes
            },
            endpoint_params: raw.endpoint_params,
        }))
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
        let cert = match rustls_pki_types::CertificateDer::from_pem_file(&cert_path) {
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
        let key = match std::fs::read_to_string(&key_path) {
            Ok(pem) if crate::http::signing_key_is_valid(&pem) => Some(Secret::new(pem)),
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
                match std::fs::read_to_string(&full) {
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

    fn check_schedule(&mut self, prefix: &str, schedule: &Schedule) {
        if schedule.interval.is_zero() {
            self.error(
                format!("{prefix}.interval"),
                "the poll interval must be longer than zero",
            );
        }
        if schedule.poll_timeout.is_zero() {
            self.error(
                format!("{prefix}.poll_timeout"),
                "the poll timeout must be longer than zero",
            );
        }
        if schedule.max_age < schedule.interval {
            self.error(
                format!("{prefix}.max_age"),
                "max_age is shorter than the poll interval: data would vanish between two good polls",
            );
        }
    }

    fn check_unique_names(&mut self, sources: &[SourceConfig]) {
        let mut seen = HashSet::new();
        for (i, source) in sources.iter().enumerate() {
            if !seen.insert(source.name.as_str()) {
                let message = format!("duplicate source name {:?}: names must be unique (they are the `source` label)", source.name);
                self.error(format!("sources[{i}].name"), message);
            }
        }
    }
}

/// A hash of the YAML (with `${ENV}` expanded) and of the secrets it resolves to. It stays in
/// memory; SipHash does not let it be turned back into a secret in any practical sense.
fn fingerprint(values: &[&Value], auth: &AuthConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for value in values {
        expand_env_in((*value).clone(), "", &mut Vec::new()).hash(&mut hasher);
    }
    match auth {
        AuthConfig::None => {}
        AuthConfig::Static {
            scheme,
            credentials,
        } => (scheme, credentials.expose()).hash(&mut hasher),
        AuthConfig::OAuth2(oauth) => match &oauth.credential {
            ClientCredential::Secret(secret) => secret.expose().hash(&mut hasher),
            ClientCredential::Certificate(certificate) => {
                (&certificate.cert_der, certificate.key_pem.expose()).hash(&mut hasher)
            }
        },
    }
    hasher.finish()
}

fn vendor_message(source_type: &dyn SourceType, message: String) -> String {
    let also = if message.starts_with("unknown field") {
        format!(", or one that every source has: {}", COMMON_KEYS.join(", "))
    } else {
        String::new()
    };
    format!("{} source: {message}{also}", source_type.name())
}

fn join_path(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (_, true) => prefix.to_string(),
        (true, false) => path.to_string(),
        (false, false) if path.starts_with('[') => format!("{prefix}{path}"),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// Decodes a vendor's settings. Unknown keys must be rejected by `T` (`deny_unknown_fields`);
/// the error's path is relative to the value.
pub fn decode_settings<T: DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = e.path().to_string();
        if path == "." {
            path.clear();
        }
        let message = e.into_inner().to_string();
        // serde names an unknown key only in the message; point the path at the key itself.
        if let Some(key) = unknown_field_name(&message) {
            if !path.ends_with(key) {
                path = join_path(&path, key);
            }
        }
        FieldError {
            path,
            message: strip_serde_yaml_location(&message),
        }
    })
}

fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// serde_yaml appends " at line L column C" (sometimes mid-message); the position is printed
/// apart, so drop it from the text.
fn strip_serde_yaml_location(message: &str) -> String {
    let Some(at) = message.find(" at line ") else {
        return message.to_string();
    };
    let rest = &message[at + " at line ".len()..];
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let line_len = digits(rest);
    let Some(after_column) = rest[line_len..].strip_prefix(" column ") else {
        return message.to_string();
    };
    let column_len = digits(after_column);
    if line_len == 0 || column_len == 0 {
        return message.to_string();
    }
    format!("{}{}", &message[..at], &after_column[column_len..])
}

/// Replaces `${NAME}` in every string with the environment variable `NAME`.
/// An unset variable is an error, not an empty string, so a missing secret cannot go unnoticed.
fn expand_env_in(value: Value, path: &str, failures: &mut Vec<(String, String)>) -> Value {
    match value {
        Value::String(s) => match expand_string(&s) {
            Ok(expanded) => Value::String(expanded),
            Err(name) => {
                failures.push((
                    path.to_string(),
                    format!("environment variable {name} is not set"),
                ));
                Value::String(s)
            }
        },
        Value::Sequence(items) => Value::Sequence(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| expand_env_in(v, &format!("{path}[{i}]"), failures))
                .collect(),
        ),
        Value::Mapping(map) => Value::Mapping(
            map.into_iter()
                .map(|(k, v)| {
                    let child = join_path(path, k.as_str().unwrap_or("?"));
                    (k, expand_env_in(v, &child, failures))
                })
                .collect(),
        ),
        other => other,
    }
}

fn expand_string(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        out.push_str(&std::env::var(name).map_err(|_| name.to_string())?);
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// YAML-shaped text: config keys and values, indentation, list markers, and noise.
    fn yaml_text() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            proptest::sample::select(vec![
                "global:",
                "sources:",
                "  - name: a",
                "    type: qlik",
                "    type: powerplatform",
                "    type: uipath",
                "    type: dynatrace",
                "    type: avepoint",
                "    base_url: http://127.0.0.1:1",
                "    authorization:",
                "      credentials: k",
                "    oauth2:",
                "      client_id: c",
                "      client_secret: s",
                "      client_certificate:",
                "        cert_file: /nonexistent",
                "    interval: 1m",
                "    max_age: 0s",
                "  poll_interval: 10q",
                "    page_size: -1",
                "    labels: [user_id, user_id]",
                "    flow_ids: [",
                "    tenant_ids: []",
                "    consumable_codes: {}",
                "    account_uuid: ${UNSET_VARIABLE_X}",
                "    api_version: v9",
                "&anchor",
                "*anchor",
                "? complex",
                "- - -",
                "\t",
                "'",
                "\"",
                "{",
                "}",
                "[",
                "]",
                ": :",
            ])
            .prop_map(str::to_string),
            "[ -~]{0,20}",
        ];
        proptest::collection::vec(token, 0..24).prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        #[test]
        fn any_text_loads_or_is_refused_without_panicking(text in yaml_text()) {
            let _ = parse(&text, "fuzz.yml", Path::new("."));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_are_expanded_and_plain_dollars_kept() {
        std::env::set_var("CONSUMPTION_EXPORTER_TEST_VAR", "value");
        assert_eq!(
            expand_string("a-${CONSUMPTION_EXPORTER_TEST_VAR}-$b").as_deref(),
            Ok("a-value-$b")
        );
        assert_eq!(
            expand_string("${CONSUMPTION_EXPORTER_UNSET_VAR}"),
            Err("CONSUMPTION_EXPORTER_UNSET_VAR".into())
        );
    }

    #[test]
    fn serde_yaml_positions_are_cut_from_messages() {
        assert_eq!(
            strip_serde_yaml_location(
                "did not find expected node content at line 4 column 1, while parsing a flow node"
            ),
            "did not find expected node content, while parsing a flow node"
        );
        assert_eq!(
            strip_serde_yaml_location("unknown field `x` at line 1"),
            "unknown field `x` at line 1"
        );
    }

    #[test]
    fn paths_join_like_serde_path_to_error() {
        assert_eq!(
            join_path("sources[0]", "oauth2.client_id"),
            "sources[0].oauth2.client_id"
        );
        assert_eq!(join_path("sources[0]", "[1]"), "sources[0][1]");
        assert_eq!(join_path("", "global"), "global");
    }
}

//! `--web.config.file`, in the Prometheus exporter-toolkit format: `tls_server_config` (see
//! `tls`), `http_server_config` (response headers, HTTP/2), `rate_limit` and
//! `basic_auth_users` (bcrypt hashes). The file and the files it names are re-read when they
//! change, so certificates and users rotate without a restart; a change that does not load is
//! logged and the last good settings stay.

mod error;
mod tls;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hyper::header::{HeaderName, HeaderValue};
use rustls::ServerConfig;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::model::locks::lock;
use crate::model::secret::Secret;
pub use error::WebConfigError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: tls::RawTls,
    #[serde(default)]
    http_server_config: RawHttp,
    #[serde(default)]
    rate_limit: RawRateLimit,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, Secret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default = "http2_by_default")]
    http2: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            http2: http2_by_default(),
            headers: BTreeMap::new(),
        }
    }
}

/// The toolkit's default: HTTP/2 is offered over TLS unless the file says `http2: false`.
fn http2_by_default() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    #[serde(default)]
    burst: u32,
    interval: Option<GoDuration>,
}

/// A Go `time.Duration` in YAML: a string such as `1s` or `250ms`, or a bare integer of
/// nanoseconds (how Go's YAML decoder reads `interval: 0`).
#[derive(Deserialize)]
#[serde(untagged)]
enum GoDuration {
    Nanoseconds(u64),
    Text(String),
}

/// The response headers exporter-toolkit lets a web config set, with the values it allows
/// (none listed: any value). Kept to the toolkit's list so configs mean the same everywhere.
const SETTABLE_HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// The files a web config consists of, with the modification times last seen.
type Watched = Vec<(PathBuf, Option<SystemTime>)>;

/// What one version of the web config file says.
pub struct WebSettings {
    pub tls: Option<Arc<ServerConfig>>,
    /// `http_server_config.http2`: offered by ALPN on TLS connections.
    pub http2: bool,
    /// `http_server_config.headers`, added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    rate_limit: Option<RateLimit>,
    /// User → bcrypt hash. Empty: no authentication.
    users: HashMap<String, Secret>,
    /// Checked when the user is unknown, so an unknown user costs what a wrong password does and
    /// response times do not tell which user names exist. Made at the users' highest cost.
    stand_in_hash: Option<String>,
}

impl WebSettings {
    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether `rate_limit` lets one more request through now.
    pub fn admits_request(&self) -> bool {
        self.rate_limit.as_ref().is_none_or(RateLimit::admit)
    }
}

/// `rate_limit`: a token bucket of `burst` requests, refilled one per `interval`, as Go's
/// `rate.NewLimiter(rate.Every(interval), burst)` that exporter-toolkit uses.
struct RateLimit {
    burst: f64,
    interval: Duration,
    /// Tokens left, and when they were counted.
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimit {
    fn admit(&self) -> bool {
        let mut bucket = lock(&self.bucket);
        let now = Instant::now();
        let refilled = now.duration_since(bucket.1).as_secs_f64() / self.interval.as_secs_f64();
        let tokens = (bucket.0 + refilled).min(self.burst);
        let admitted = tokens >= 1.0;
        *bucket = (if admitted { tokens - 1.0 } else { tokens }, now);
        admitted
    }
}

/// The web config file, re-read when it or a file it names changes.
pub struct WebConfig {
    path: PathBuf,
    current: Mutex<(Watched, Arc<WebSettings>)>,
    /// (user, hash of the password that matched) → already verified, so bcrypt's deliberate
    /// slowness is paid once per credential, not per scrape. Failures are not kept, so a wrong
    /// guess can never be answered from here faster than a check.
    verified: Mutex<HashMap<(String, u64), ()>>,
    /// Bounds the bcrypt checks running at once, so a flood of wrong passwords takes some cores,
    /// not every core the poller and the server need.
    bcrypt_slots: Semaphore,
    /// bcrypt checks run so far, for the tests and the benchmark.
    password_checks: AtomicU64,
}

impl WebConfig {
    /// Loads the file; an error here stops the exporter from starting.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let (files, settings) = read(path)?;
        Ok(WebConfig {
            path: path.to_path_buf(),
            current: Mutex::new((files, Arc::new(settings))),
            verified: Mutex::default(),
            bcrypt_slots: Semaphore::new(bcrypt_concurrency()),
            password_checks: AtomicU64::new(0),
        })
    }

    /// Whether connections are served over TLS now.
    pub fn serves_tls(&self) -> bool {
        self.current().tls.is_some()
    }

    /// The settings for a new connection, re-read first if any of the files changed.
    pub fn current(&self) -> Arc<WebSettings> {
        let mut current = lock(&self.current);
        let changed =
            current.0.iter().any(|(file, seen)| modified(file) != *seen) || current.0.is_empty();
        if changed {
            match read(&self.path) {
                Ok((files, settings)) => {
                    tracing::info!(file = %self.path.display(), "web config reloaded");
                    *current = (files, Arc::new(settings));
                    lock(&self.verified).clear();
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
        let (hash, known) = match settings.users.get(&user) {
            Some(hash) => (hash.expose().to_string(), true),
            None => match &settings.stand_in_hash {
                Some(hash) => (hash.clone(), false),
                None => return false,
            },
        };
        let key = (user, password_key(&password));
        if known && self.was_verified(&key) {
            return true;
        }
        let Ok(_slot) = self.bcrypt_slots.acquire().await else {
            return false;
        };
        self.password_checks.fetch_add(1, Ordering::Relaxed);
        let matches =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let ok = known && matches;
        if ok {
            lock(&self.verified).insert(key, ());
        }
        ok
    }

    /// How many bcrypt checks have run: answers from the cache of successes are not counted.
    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::Relaxed)
    }

    fn was_verified(&self, key: &(String, u64)) -> bool {
        lock(&self.verified).contains_key(key)
    }
}

/// Half the cores, at least one: the other half keep polling and serving during a flood.
fn bcrypt_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
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
    let text =
        crate::model::files::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let raw: RawWebConfig =
        crate::settings::from_yaml(&text).map_err(|source| WebConfigError::Syntax {
            path: path.to_path_buf(),
            source,
        })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut files = vec![(path.to_path_buf(), modified(path))];
    let stand_in_hash = stand_in_hash(path, &raw.basic_auth_users)?;
    let http2 = raw.http_server_config.http2;
    let tls = match raw.tls_server_config.enabled() {
        true => {
            let named = raw.tls_server_config.files(base);
            files.extend(named.into_iter().map(|f| {
                let seen = modified(&f);
                (f, seen)
            }));
            Some(Arc::new(tls::server_config(
                path,
                base,
                &raw.tls_server_config,
                http2,
            )?))
        }
        false => None,
    };
    Ok((
        files,
        WebSettings {
            tls,
            http2,
            headers: headers(path, &raw.http_server_config.headers)?,
            rate_limit: rate_limit(path, &raw.rate_limit)?,
            users: raw.basic_auth_users.into_iter().collect(),
            stand_in_hash,
        },
    ))
}

/// Checks every user's hash and makes the stand-in for unknown users at the highest cost.
fn stand_in_hash(
    path: &Path,
    users: &BTreeMap<String, Secret>,
) -> Result<Option<String>, WebConfigError> {
    let mut cost = None;
    for (user, hash) in users {
        let parts: bcrypt::HashParts =
            hash.expose()
                .parse()
                .map_err(|_| WebConfigError::NotBcrypt {
                    path: path.to_path_buf(),
                    user: user.clone(),
                })?;
        cost = cost.max(Some(parts.get_cost()));
    }
    let Some(cost) = cost else { return Ok(None) };
    let password: [u8; 16] = rand::random();
    Ok(bcrypt::hash(password, cost).ok())
}

fn headers(
    path: &Path,
    raw: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, WebConfigError> {
    let refused = |name: &str, value: &str, reason: String| WebConfigError::Refused {
        path: path.to_path_buf(),
        key: format!("http_server_config.headers.{name}"),
        value: value.to_string(),
        reason,
    };
    raw.iter()
        .map(|(name, value)| {
            let Some((_, allowed)) = SETTABLE_HEADERS.iter().find(|(n, _)| n == name) else {
                let settable: Vec<&str> = SETTABLE_HEADERS.iter().map(|(n, _)| *n).collect();
                return Err(refused(
                    name,
                    value,
                    format!(
                        "this header cannot be set; these can: {}",
                        settable.join(", ")
                    ),
                ));
            };
            if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
                return Err(refused(
                    name,
                    value,
                    format!("use one of {}", allowed.join(", ")),
                ));
            }
            let header_value = HeaderValue::from_str(value)
                .map_err(|_| refused(name, value, "not a valid header value".into()))?;
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| refused(name, value, "not a valid header name".into()))?;
            Ok((header_name, header_value))
        })
        .collect()
}

fn rate_limit(path: &Path, raw: &RawRateLimit) -> Result<Option<RateLimit>, WebConfigError> {
    let refused = |key: &str, value: String, reason: &str| WebConfigError::Refused {
        path: path.to_path_buf(),
        key: format!("rate_limit.{key}"),
        value,
        reason: reason.into(),
    };
    let interval = match &raw.interval {
        None => Duration::ZERO,
        Some(GoDuration::Nanoseconds(n)) => Duration::from_nanos(*n),
        Some(GoDuration::Text(text)) => humantime::parse_duration(text).map_err(|_| {
            refused(
                "interval",
                text.clone(),
                "not a duration; write it as 1s, 250ms or 1m",
            )
        })?,
    };
    if interval.is_zero() {
        return Ok(None);
    }
    if raw.burst == 0 {
        return Err(refused(
            "burst",
            "0".into(),
            "with an interval set, a burst of 0 refuses every request; give at least 1",
        ));
    }
    Ok(Some(RateLimit {
        burst: f64::from(raw.burst),
        interval,
        bucket: Mutex::new((f64::from(raw.burst), Instant::now())),
    }))
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

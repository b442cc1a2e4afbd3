//! The config file as written: structs that mirror the YAML and refuse unknown keys, and the
//! defaults of the keys left out. [`super::decode`] turns them into the typed config.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use url::Url;

use crate::budgets::Period;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) global: Option<Value>,
    #[serde(default)]
    pub(super) defaults: Option<Value>,
    #[serde(default)]
    pub(super) sources: Vec<Value>,
    #[serde(default)]
    pub(super) money: Option<Value>,
    #[serde(default)]
    pub(super) allocation: Option<Value>,
    #[serde(default)]
    pub(super) budgets: Option<Value>,
}

/// `global`: defaults for every source.
#[derive(Deserialize, Serialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawGlobal {
    #[serde(with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) poll_interval: Option<Duration>,
    #[serde(with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) poll_timeout: Option<Duration>,
    #[serde(with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) request_timeout: Option<Duration>,
    #[serde(with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) max_age: Option<Duration>,
    pub(super) max_response_bytes: Option<u64>,
    pub(super) max_retries: Option<u32>,
    pub(super) max_pages: Option<u32>,
    #[serde(with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) settled_after: Option<Duration>,
    #[serde(with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) full_refresh_interval: Option<Duration>,
    /// How often the unsettled days before today are re-read; today is read by every poll.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) recent_refresh_interval: Option<Duration>,
    /// How often inventories (seats, licences, allocations) are re-read; usage is read by
    /// every poll.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) inventory_interval: Option<Duration>,
    /// Polls in flight at once in this process, whatever their sources.
    pub(super) max_concurrent_polls: Option<u32>,
    /// The `http_config` keys, read apart ([`OUTBOUND_KEYS`]).
    #[serde(skip)]
    #[schemars(skip)]
    pub(super) outbound: RawOutbound,
}

/// Prometheus's `http_config` proxy and TLS keys, as a source or `global` gives them. They are
/// taken out of the mapping and read on their own: serde cannot flatten a struct into one that
/// refuses unknown keys, and both `global` and every source refuse them.
#[derive(Deserialize, Serialize, JsonSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutbound {
    /// Every request of the source (token requests too) through this HTTP or HTTPS proxy.
    #[schemars(with = "Option<String>", url)]
    #[serde(default)]
    pub(super) proxy_url: Option<Url>,
    /// Comma-separated hosts, domains, IPs and CIDR ranges that bypass `proxy_url`.
    #[serde(default)]
    pub(super) no_proxy: Option<String>,
    /// Use HTTP_PROXY, HTTPS_PROXY and NO_PROXY (default true, without `proxy_url`).
    #[serde(default)]
    pub(super) proxy_from_environment: Option<bool>,
    /// Headers sent to `proxy_url` (its credentials, say): a name and its values.
    #[serde(default)]
    pub(super) proxy_connect_header: Option<BTreeMap<String, Vec<String>>>,
    /// TLS of the requests: the CAs trusted, a client certificate, the name to verify.
    #[serde(default)]
    pub(super) tls_config: Option<RawTlsConfig>,
}

/// The keys of [`RawOutbound`].
pub(super) const OUTBOUND_KEYS: &[&str] = &[
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "tls_config",
];

/// `tls_config`, with Prometheus's keys.
#[derive(Deserialize, Serialize, JsonSchema, Clone, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTlsConfig {
    /// The CA certificates (PEM) trusted instead of the system's.
    pub(super) ca: Option<String>,
    /// A file of CA certificates (PEM) trusted instead of the system's.
    pub(super) ca_file: Option<PathBuf>,
    /// A client certificate (PEM) presented when the server asks for one.
    pub(super) cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub(super) key_file: Option<PathBuf>,
    /// The name the server's certificate is verified against, instead of the URL's host.
    pub(super) server_name: Option<String>,
    /// Accept any server certificate: for a test, never for a vendor.
    pub(super) insecure_skip_verify: Option<bool>,
    /// The lowest TLS version: TLS12 or TLS13.
    pub(super) min_version: Option<String>,
}

/// The keys every source accepts; the rest of an entry belongs to its vendor.
pub(super) const COMMON_KEYS: &[&str] = &[
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
    "settled_after",
    "full_refresh_interval",
    "recent_refresh_interval",
    "inventory_interval",
    "idle_after",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "tls_config",
    "authorization",
    "oauth2",
    "budgets",
];

/// The keys every source has, whatever its vendor.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCommon {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) _kind: String,
    #[schemars(with = "Option<String>", url)]
    pub(super) base_url: Option<Url>,
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) poll_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) request_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) max_age: Option<Duration>,
    pub(super) max_response_bytes: Option<u64>,
    pub(super) max_retries: Option<u32>,
    pub(super) max_pages: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) settled_after: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) full_refresh_interval: Option<Duration>,
    /// How often the unsettled days before today are re-read; today is read by every poll.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) recent_refresh_interval: Option<Duration>,
    /// How often inventories (seats, licences, allocations) are re-read; usage is read by
    /// every poll; default 6h, 0s: every poll.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) inventory_interval: Option<Duration>,
    /// A seat whose holder was not active for this long is idle (sources that report
    /// seat activity); default 30d.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<crate::settings::HumanDuration>")]
    pub(super) idle_after: Option<Duration>,
    /// The `http_config` keys, read apart ([`OUTBOUND_KEYS`]).
    #[serde(skip)]
    #[schemars(skip)]
    pub(super) outbound: RawOutbound,
    pub(super) authorization: Option<RawAuthorization>,
    pub(super) oauth2: Option<RawOAuth2>,
    #[serde(default)]
    #[schemars(with = "Vec<RawBudget>")]
    pub(super) budgets: Vec<Value>,
}

/// One entry of a source's `budgets`.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudget {
    pub(super) name: String,
    #[serde(default, rename = "match")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub(super) matcher: BTreeMap<String, Value>,
    pub(super) limit: f64,
    pub(super) period: Period,
    pub(super) start: Option<String>,
    pub(super) unit: Option<String>,
    pub(super) price: Option<f64>,
    pub(super) currency: Option<String>,
    pub(super) warn_ratio: Option<f64>,
    /// A commitment: the forecast at the period's end below this share of the limit is money
    /// paid and not used.
    pub(super) shortfall_ratio: Option<f64>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthorization {
    #[serde(rename = "type")]
    pub(super) scheme: Option<String>,
    pub(super) credentials: Option<String>,
    pub(super) credentials_file: Option<PathBuf>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClientCertificate {
    pub(super) cert_file: PathBuf,
    pub(super) key_file: PathBuf,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth2 {
    #[schemars(with = "Option<String>", url)]
    pub(super) token_url: Option<Url>,
    #[serde(default)]
    pub(super) grant_type: RawGrantType,
    pub(super) client_id: String,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) client_secret: Option<String>,
    pub(super) client_secret_file: Option<PathBuf>,
    pub(super) client_certificate: Option<RawClientCertificate>,
    #[serde(default)]
    pub(super) scopes: Vec<String>,
    #[serde(default)]
    pub(super) endpoint_params: BTreeMap<String, String>,
}

/// The OAuth2 grants the exporter can use.
#[derive(Deserialize, Serialize, JsonSchema, Default, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawGrantType {
    #[default]
    ClientCredentials,
    Password,
}

pub(super) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(15 * 60);
pub(super) const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub(super) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub(super) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
pub(super) const DEFAULT_MAX_RETRIES: u32 = 3;
pub(super) const DEFAULT_MAX_PAGES: u32 = 10_000;
pub(super) const DEFAULT_MAX_CONCURRENT_POLLS: u32 = 16;
pub(super) const DEFAULT_SETTLED_AFTER: Duration = Duration::from_secs(3 * 86_400);
pub(super) const DEFAULT_FULL_REFRESH_INTERVAL: Duration = Duration::from_secs(86_400);
pub(super) const DEFAULT_RECENT_REFRESH_INTERVAL: Duration = Duration::from_secs(3_600);
/// Seats, licences and allocations change a few times a day: four reads a day.
pub(super) const DEFAULT_INVENTORY_INTERVAL: Duration = Duration::from_secs(6 * 3_600);
/// More retries than this only delay a failure that is not going away: refused at load.
pub(super) const MAX_RETRIES_LIMIT: u32 = 10;

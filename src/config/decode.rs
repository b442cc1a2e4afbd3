//! Raw YAML → typed [`Config`]: the global keys, the keys every source shares, then the vendor's
//! own keys through its [`SourceType`]. Errors are collected, not stopped at, so `check` prints
//! them all, each at the path the user wrote (a value taken from `global` is reported there).

use std::collections::HashSet;
use std::time::Duration;

use serde_yaml::Value;
use url::Url;

use super::context::Context;
use super::decoded::{Config, ConfigError, Schedule, SourceConfig};
use super::env::{expand_env_in, ExpansionLog};
use super::positions::Position;
use super::raw::*;
use crate::http::{AuthConfig, ClientCredential, Grant, OAuth2Config, RequestLimits};
use crate::settings::{decode_settings, join_path, strip_serde_yaml_location, VendorKeys};
use crate::sources::{self, Source, SourceType, TokenDefaults};

/// A value and the path it was read from: the source's own key, the `global` key it fell back
/// to, or the entry itself for a built-in default.
/// The longest a duration key may be (the interval, timeouts, settled and refresh times,
/// `idle_after`; `max_age` three times it): a year, counting a leap day.
const LONGEST_DURATION: Duration = Duration::from_secs(366 * 86_400);
/// The shortest poll interval.
const SHORTEST_INTERVAL: Duration = Duration::from_secs(1);
struct Chosen<T> {
    value: T,
    path: String,
}

fn choose<T>(
    prefix: &str,
    (key, own): (&str, Option<T>),
    (global_key, global): (&str, Option<T>),
    default: impl FnOnce() -> T,
) -> Chosen<T> {
    match (own, global) {
        (Some(value), _) => Chosen {
            value,
            path: format!("{prefix}.{key}"),
        },
        (None, Some(value)) => Chosen {
            value,
            path: format!("global.{global_key}"),
        },
        (None, None) => Chosen {
            value: default(),
            path: prefix.to_string(),
        },
    }
}

/// How often what does not change every poll is re-read: the whole range, the recent days,
/// the inventories.
fn refresh_intervals(
    prefix: &str,
    common: &RawCommon,
    global: &RawGlobal,
) -> [Chosen<Duration>; 3] {
    [
        choose(
            prefix,
            ("full_refresh_interval", common.full_refresh_interval),
            ("full_refresh_interval", global.full_refresh_interval),
            || DEFAULT_FULL_REFRESH_INTERVAL,
        ),
        choose(
            prefix,
            ("recent_refresh_interval", common.recent_refresh_interval),
            ("recent_refresh_interval", global.recent_refresh_interval),
            || DEFAULT_RECENT_REFRESH_INTERVAL,
        ),
        choose(
            prefix,
            ("inventory_interval", common.inventory_interval),
            ("inventory_interval", global.inventory_interval),
            || DEFAULT_INVENTORY_INTERVAL,
        ),
    ]
}

impl Context<'_> {
    pub(super) fn decode(&mut self, text: &str) -> Option<Config> {
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
        self.dimensions = raw
            .allocation
            .as_ref()
            .and_then(Value::as_mapping)
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let global = self.decode_global(raw.global);
        let defaults = self.decode_defaults(raw.defaults);
        let mut sources = self.decode_sources(raw.sources, (&global, &global_value), &defaults);
        let max_concurrent_polls = global
            .max_concurrent_polls
            .unwrap_or(super::raw::DEFAULT_MAX_CONCURRENT_POLLS);
        if max_concurrent_polls == 0 {
            self.error(
                "global.max_concurrent_polls",
                "max_concurrent_polls must be at least 1: no source would ever poll",
            );
        }
        let showback = self.attach_showback(
            super::showback::RawShowback {
                money: raw.money,
                allocation: raw.allocation,
                budgets: raw.budgets,
            },
            &mut sources,
        );
        Some(Config {
            sources,
            max_concurrent_polls: max_concurrent_polls.max(1) as usize,
            showback,
        })
    }

    /// Every entry of `sources`, with `defaults` applied, each with its fingerprint.
    fn decode_sources(
        &mut self,
        entries: Vec<Value>,
        (global, global_value): (&RawGlobal, &Value),
        defaults: &super::defaults::Defaults,
    ) -> Vec<SourceConfig> {
        if entries.is_empty() {
            self.error(
                "sources",
                "no sources are configured: add at least one entry under `sources`",
            );
        }
        let types: HashSet<String> = entries
            .iter()
            .filter_map(|entry| Some(entry.get("type")?.as_str()?.to_string()))
            .collect();
        self.refuse_unused_defaults(defaults, &types);
        let mut sources = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let entry = self.apply_defaults(i, entry, defaults);
            let entry_value = entry.clone();
            if let Some(mut source) = self.decode_source(i, entry, global) {
                source.fingerprint = fingerprint(&[&entry_value, global_value], &source);
                sources.push(source);
            }
        }
        self.from_defaults.clear();
        self.check_unique_names(&sources);
        sources
    }

    fn decode_global(&mut self, value: Option<Value>) -> RawGlobal {
        let Some(mut value) = value else {
            return RawGlobal::default();
        };
        let outbound = self.take_outbound("global", &mut value);
        let global = match self
            .expand_env("global", value)
            .map(decode_settings::<RawGlobal>)
        {
            Some(Ok(global)) => global,
            Some(Err(e)) => {
                // The http_config keys were read apart: name them among the keys expected.
                let message = match e.message.contains("unknown field") {
                    true => format!("{}, or one of {}", e.message, OUTBOUND_KEYS.join(", ")),
                    false => e.message,
                };
                self.error(join_path("global", &e.path), message);
                RawGlobal::default()
            }
            None => RawGlobal::default(),
        };
        RawGlobal { outbound, ..global }
    }

    /// Takes the `http_config` keys ([`OUTBOUND_KEYS`]) out of a mapping and reads them, with
    /// errors at `prefix.<key>`; anything but a mapping is left for its own struct to refuse.
    fn take_outbound(&mut self, prefix: &str, value: &mut Value) -> RawOutbound {
        let Value::Mapping(mapping) = value else {
            return RawOutbound::default();
        };
        let mut keys = serde_yaml::Mapping::new();
        for key in OUTBOUND_KEYS {
            if let Some(v) = mapping.remove(*key) {
                keys.insert(Value::from(*key), v);
            }
        }
        self.decode_value(prefix, Value::Mapping(keys))
            .unwrap_or_default()
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
        let known = || sources::type_names().join(", ");
        let Some(kind) = mapping.get("type").and_then(Value::as_str) else {
            self.error(prefix, format!("missing `type`: one of {}", known()));
            return None;
        };
        let Some(source_type) = sources::find_type(kind) else {
            let message = format!("unknown source type {kind:?}: one of {}", known());
            self.error(format!("{prefix}.type"), message);
            return None;
        };
        let mut common = serde_yaml::Mapping::new();
        for key in COMMON_KEYS {
            if let Some(v) = mapping.remove(*key) {
                common.insert(Value::from(*key), v);
            }
        }
        let mut common = Value::Mapping(common);
        let outbound = self.take_outbound(&prefix, &mut common);
        let common = RawCommon {
            outbound,
            ..self.decode_value(&prefix, common)?
        };
        let vendor_settings = self.expand_env(&prefix, Value::Mapping(mapping))?;
        self.build_source(&prefix, source_type, common, vendor_settings, global)
    }

    fn build_source(
        &mut self,
        prefix: &str,
        source_type: &'static dyn SourceType,
        mut common: RawCommon,
        vendor_settings: Value,
        global: &RawGlobal,
    ) -> Option<SourceConfig> {
        if common.name.trim().is_empty() {
            self.error(format!("{prefix}.name"), "a source name must not be empty");
        }
        let base_url = self.base_url(prefix, source_type, common.base_url.clone())?;
        let schedule = self.schedule(prefix, &common, global);
        let limits = self.limits(prefix, &common, global);
        let credentials = (common.authorization.take(), common.oauth2.take());
        let scopes_written = credentials.1.as_ref().is_some_and(|o| !o.scopes.is_empty());
        let auth = self.auth(prefix, &common.name, source_type, &base_url, credentials);
        let source = match source_type.build(VendorKeys::new(vendor_settings)) {
            Ok(source) => Some(source),
            Err(errors) => {
                for e in errors {
                    let message = vendor_message(source_type, e.message);
                    self.error(join_path(prefix, &e.path), message);
                }
                None
            }
        };
        let (mut auth, source) = (auth?, source?);
        self.refuse_settling_without_dates(prefix, &common, source_type, source.as_ref());
        let idle_after = self.idle_after(prefix, &common, source_type, source.as_ref());
        let own = std::mem::take(&mut common.outbound);
        let decoded = self.outbound(prefix, own, global.outbound.clone());
        let http = self.client_for(&decoded);
        let budgets = self.budgets(prefix, std::mem::take(&mut common.budgets), source.as_ref());
        if let AuthConfig::OAuth2(oauth) = &mut auth {
            add_token_defaults(oauth, source.facts().token_defaults.clone(), scopes_written);
        }
        Some(SourceConfig {
            name: common.name,
            vendor: source_type.name(),
            base_url,
            schedule,
            limits,
            auth,
            source,
            budgets,
            idle_after,
            outbound: decoded.outbound,
            http,
            showback: None,
            fingerprint: 0,
        })
    }

    /// `idle_after` where the source reports seat activity; refused elsewhere, where it would
    /// be accepted and do nothing.
    fn idle_after(
        &mut self,
        prefix: &str,
        common: &RawCommon,
        source_type: &dyn SourceType,
        source: &dyn Source,
    ) -> Duration {
        let default = crate::seats::DEFAULT_IDLE_AFTER;
        let Some(idle_after) = common.idle_after else {
            return default;
        };
        if !source.facts().reports_seat_activity {
            let message = format!("{} as configured reports no seat activity, so no seat can be idle: remove `idle_after`, or read seats where the vendor has them (seats: true)", source_type.name());
            self.error(format!("{prefix}.idle_after"), message);
        } else if idle_after.is_zero() {
            self.error(format!("{prefix}.idle_after"), "idle_after must be above 0");
        } else if idle_after > LONGEST_DURATION {
            let message = "at most 366 days: a longer one is a typo";
            self.error(format!("{prefix}.idle_after"), message);
        }
        idle_after
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
                    let name = source_type.name();
                    let message = format!("missing `base_url`: {name} has no default host");
                    self.error(prefix, message);
                    return None;
                }
            },
        };
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            self.error(
                format!("{prefix}.base_url"),
                format!(
                    "{} is not an http(s) URL with a host",
                    crate::model::secret::redacted_url(&url)
                ),
            );
            return None;
        }
        Some(url)
    }

    fn schedule(&mut self, prefix: &str, common: &RawCommon, global: &RawGlobal) -> Schedule {
        let interval = choose(
            prefix,
            ("interval", common.interval),
            ("poll_interval", global.poll_interval),
            || DEFAULT_POLL_INTERVAL,
        );
        let poll_timeout = choose(
            prefix,
            ("poll_timeout", common.poll_timeout),
            ("poll_timeout", global.poll_timeout),
            || DEFAULT_POLL_TIMEOUT,
        );
        let max_age = choose(
            prefix,
            ("max_age", common.max_age),
            ("max_age", global.max_age),
            || interval.value * 3,
        );
        self.check_poll_timing(&interval, &poll_timeout, &max_age);
        let settled_after = choose(
            prefix,
            ("settled_after", common.settled_after),
            ("settled_after", global.settled_after),
            || DEFAULT_SETTLED_AFTER,
        );
        let [full_refresh_interval, recent_refresh_interval, inventory_interval] =
            refresh_intervals(prefix, common, global);
        let durations = [&interval, &poll_timeout, &settled_after];
        let refreshes = [
            &full_refresh_interval,
            &recent_refresh_interval,
            &inventory_interval,
        ];
        for chosen in durations.into_iter().chain(refreshes) {
            self.require_at_most(chosen, LONGEST_DURATION);
        }
        self.require_at_most(&max_age, LONGEST_DURATION * 3);
        Schedule {
            interval: interval.value,
            poll_timeout: poll_timeout.value,
            max_age: max_age.value,
            settled_after: settled_after.value,
            full_refresh_interval: full_refresh_interval.value,
            recent_refresh_interval: recent_refresh_interval.value,
            inventory_interval: inventory_interval.value,
        }
    }

    fn limits(&mut self, prefix: &str, common: &RawCommon, global: &RawGlobal) -> RequestLimits {
        let request_timeout = choose(
            prefix,
            ("request_timeout", common.request_timeout),
            ("request_timeout", global.request_timeout),
            || DEFAULT_REQUEST_TIMEOUT,
        );
        let max_response_bytes = choose(
            prefix,
            ("max_response_bytes", common.max_response_bytes),
            ("max_response_bytes", global.max_response_bytes),
            || DEFAULT_MAX_RESPONSE_BYTES,
        );
        let max_retries = choose(
            prefix,
            ("max_retries", common.max_retries),
            ("max_retries", global.max_retries),
            || DEFAULT_MAX_RETRIES,
        );
        let max_pages = choose(
            prefix,
            ("max_pages", common.max_pages),
            ("max_pages", global.max_pages),
            || DEFAULT_MAX_PAGES,
        );
        self.require_nonzero(
            &request_timeout,
            "the request timeout must be longer than zero: every request would time out",
        );
        self.require_at_most(&request_timeout, LONGEST_DURATION);
        if max_response_bytes.value == 0 {
            self.error(
                max_response_bytes.path,
                "max_response_bytes must be at least 1: every response would be refused",
            );
        }
        if max_pages.value == 0 {
            self.error(
                max_pages.path,
                "max_pages must be at least 1: every poll would stop before its first page",
            );
        }
        if max_retries.value > MAX_RETRIES_LIMIT {
            let message = format!("max_retries must be at most {MAX_RETRIES_LIMIT}: more only delay a failure that the next poll retries anyway");
            self.error(max_retries.path, message);
        }
        RequestLimits {
            request_timeout: request_timeout.value,
            max_response_bytes: max_response_bytes.value,
            max_retries: max_retries.value,
            max_pages: max_pages.value,
        }
    }

    /// `settled_after` and `full_refresh_interval` on a source whose API takes no date range
    /// would be accepted and do nothing (in `global` they apply to the sources that do).
    fn refuse_settling_without_dates(
        &mut self,
        prefix: &str,
        common: &RawCommon,
        source_type: &dyn SourceType,
        source: &dyn Source,
    ) {
        if source.facts().reads_date_range {
            return;
        }
        for (key, set) in [
            ("settled_after", common.settled_after.is_some()),
            (
                "full_refresh_interval",
                common.full_refresh_interval.is_some(),
            ),
            (
                "recent_refresh_interval",
                common.recent_refresh_interval.is_some(),
            ),
        ] {
            if set {
                let message = format!("{} reads its vendor's current state, not a range of days, so it has no settled days to keep; remove `{key}`", source_type.name());
                self.error(format!("{prefix}.{key}"), message);
            }
        }
    }

    /// The interval at least 1s, the timeout above 0, and `max_age` long enough that data
    /// outlives the wait for the next poll (the interval and its jitter).
    fn check_poll_timing(
        &mut self,
        interval: &Chosen<Duration>,
        poll_timeout: &Chosen<Duration>,
        max_age: &Chosen<Duration>,
    ) {
        self.require_nonzero(poll_timeout, "the poll timeout must be longer than zero");
        if interval.value < SHORTEST_INTERVAL {
            self.error(&interval.path, "the poll interval must be at least 1s: no vendor's usage changes faster, and every poll costs the vendor's rate limit");
        }
        // Polls start up to 10% late (the jitter that keeps sources out of step).
        let floor = interval.value.mul_f64(1.0 + super::decoded::POLL_JITTER);
        if max_age.value < floor {
            let floor = humantime::format_duration(floor);
            let message = format!("max_age is shorter than the poll interval plus its 10% jitter ({floor}): data would vanish between two good polls");
            self.error(&max_age.path, message);
        }
    }

    /// A duration past `longest` is a typo (`1000000y`), and date arithmetic on it overflows.
    fn require_at_most(&mut self, chosen: &Chosen<Duration>, longest: Duration) {
        if chosen.value > longest {
            let days = longest.as_secs() / 86_400;
            let message = format!("at most {days} days: a longer one is a typo");
            self.error(chosen.path.clone(), message);
        }
    }

    fn require_nonzero(&mut self, chosen: &Chosen<Duration>, message: &str) {
        if chosen.value.is_zero() {
            self.error(chosen.path.clone(), message);
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

/// Form fields the vendor's token endpoint needs (Dynatrace's `resource`), unless set, and the
/// scopes the source's options need, unless `scopes` is written.
fn add_token_defaults(oauth: &mut OAuth2Config, defaults: TokenDefaults, scopes_written: bool) {
    for (key, value) in defaults.params {
        oauth.endpoint_params.entry(key).or_insert(value);
    }
    if scopes_written {
        return;
    }
    for scope in defaults.scopes {
        if !oauth.scopes.contains(&scope) {
            oauth.scopes.push(scope);
        }
    }
}

/// A hash of the YAML (with `${ENV}` expanded), of the secrets it resolves to and of the TLS
/// files it names (a CA or a client certificate renewed on disk restarts the source at the
/// next reload, as Prometheus re-reads them). It stays in memory; SipHash does not let it be
/// turned back into a secret in any practical sense.
fn fingerprint(values: &[&Value], source: &SourceConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for value in values {
        expand_env_in((*value).clone(), "", &mut ExpansionLog::default()).hash(&mut hasher);
    }
    let tls = &source.outbound.tls;
    tls.ca_certificates.hash(&mut hasher);
    if let Some(identity) = &tls.client_identity {
        (&identity.chain, identity.key_pem.expose()).hash(&mut hasher);
    }
    let auth = &source.auth;
    if let AuthConfig::OAuth2(OAuth2Config {
        grant: Grant::Password { password, .. },
        ..
    }) = auth
    {
        password.expose().hash(&mut hasher);
    }
    match auth {
        AuthConfig::Static(credential) => {
            (&credential.scheme, credential.credentials.expose()).hash(&mut hasher)
        }
        AuthConfig::OAuth2(oauth) => match &oauth.credential {
            ClientCredential::None => {}
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

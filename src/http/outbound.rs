//! The outbound side of the layer: the `reqwest` client a source's `http_config` keys make,
//! with its proxy (configured, or from the environment with `NO_PROXY`) and redirect rules.

use super::{no_proxy, tls};

use reqwest::header::HeaderMap;
use url::Url;

use crate::model::secret::redacted_url;

use super::tls::TlsSettings;

/// Builds a `reqwest::Client`: the one all sources share (`Outbound::default()`), or one for
/// the sources whose `http_config` keys say otherwise.
pub fn build_reqwest_client(outbound: &Outbound) -> Result<reqwest::Client, ClientBuildError> {
    // Several rustls providers may be linked in; choose one explicitly (a second install is a no-op).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let builder = reqwest::Client::builder()
        .user_agent(concat!("consumption_exporter/", env!("CARGO_PKG_VERSION")))
        .redirect(same_host_redirects());
    // A proxy of the config's replaces the environment's (reqwest's rule, and Prometheus's).
    let builder = match (&outbound.proxy_url, outbound.proxy_from_environment) {
        (Some(url), _) => builder.proxy(configured_proxy(url, outbound)?),
        (None, true) => builder,
        (None, false) => builder.no_proxy(),
    };
    let builder = match outbound.tls.is_default() {
        true => builder,
        false => builder.tls_backend_preconfigured(
            tls::client_config(&outbound.tls).map_err(ClientBuildError::Tls)?,
        ),
    };
    builder.build().map_err(ClientBuildError::Client)
}

/// `proxy_url` for every request but those `no_proxy` names, as Go reads the list (a port
/// included), which reqwest's own list cannot.
fn configured_proxy(url: &Url, outbound: &Outbound) -> Result<reqwest::Proxy, ClientBuildError> {
    reqwest::Proxy::all(url.as_str()).map_err(ClientBuildError::Proxy)?;
    let no_proxy = no_proxy::NoProxy::parse(outbound.no_proxy.as_deref().unwrap_or_default());
    let proxy_url = url.clone();
    let proxy = reqwest::Proxy::custom(move |target| {
        (!no_proxy.bypasses(target)).then(|| proxy_url.clone())
    });
    Ok(proxy.headers(outbound.proxy_connect_header.clone()))
}

/// Why a source's HTTP client could not be built from its `http_config` keys.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("{0}")]
    Tls(String),
    #[error("the proxy is not usable: {0}")]
    Proxy(reqwest::Error),
    #[error("cannot build an HTTP client: {0}")]
    Client(reqwest::Error),
}

/// How a source's requests (token requests included) go out: Prometheus's `http_config`
/// proxy and TLS keys.
#[derive(Clone, PartialEq)]
pub struct Outbound {
    /// `proxy_url`: every request through this HTTP(S) proxy.
    pub proxy_url: Option<Url>,
    /// `no_proxy`: hosts, domains, IPs and CIDR ranges that bypass `proxy_url`.
    pub no_proxy: Option<String>,
    /// `proxy_from_environment`: HTTP_PROXY, HTTPS_PROXY and NO_PROXY (without `proxy_url`).
    pub proxy_from_environment: bool,
    /// `proxy_connect_header`: headers for `proxy_url` (its credentials, say), each value
    /// marked sensitive, so that it never prints.
    pub proxy_connect_header: HeaderMap,
    /// `tls_config`.
    pub tls: TlsSettings,
}

/// A proxy URL's password and the proxy headers' values never print.
impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("proxy_url", &self.proxy_url.as_ref().map(redacted_url))
            .field("no_proxy", &self.no_proxy)
            .field("proxy_from_environment", &self.proxy_from_environment)
            .field("proxy_connect_header", &self.proxy_connect_header)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Outbound {
    /// The proxy requests to `target` go through, as it may be printed: `proxy_url` unless
    /// `no_proxy` names the host, or the environment's variable for the scheme.
    pub(super) fn proxy_for(&self, target: &Url) -> Option<String> {
        match &self.proxy_url {
            Some(url) => (!self.no_proxy_names(target)).then(|| redacted_url(url)),
            None if self.proxy_from_environment => environment_proxy(target),
            None => None,
        }
    }

    fn no_proxy_names(&self, target: &Url) -> bool {
        self.no_proxy
            .as_deref()
            .is_some_and(|list| list_names(list, target))
    }
}

/// Whether a `no_proxy` list names the target.
fn list_names(list: &str, target: &Url) -> bool {
    no_proxy::NoProxy::parse(list).bypasses(target)
}

/// `HTTPS_PROXY` or `HTTP_PROXY` (either case) for the target's scheme, redacted.
fn environment_proxy(target: &Url) -> Option<String> {
    let names: &[&str] = match target.scheme() {
        "https" => &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"],
        _ => &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"],
    };
    let excluded = ["NO_PROXY", "no_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .is_some_and(|list| list_names(&list, target));
    let value = names.iter().find_map(|name| std::env::var(name).ok())?;
    if excluded {
        return None;
    }
    let shown =
        Url::parse(&value).map_or_else(|_| "(unparsable)".to_string(), |u| redacted_url(&u));
    Some(format!("{shown} (from the environment)"))
}

impl Default for Outbound {
    /// Today's behaviour: the proxy the environment names, if any, and the system's CAs.
    fn default() -> Self {
        Outbound {
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: true,
            proxy_connect_header: HeaderMap::new(),
            tls: TlsSettings::default(),
        }
    }
}

/// Redirects are followed only on the host that was asked, so credentials never travel elsewhere.
fn same_host_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(origin_of);
        if attempt.previous().len() > 5 || first.as_ref() != Some(&origin_of(attempt.url())) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

pub(super) fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

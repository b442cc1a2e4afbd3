//! The `http_config` keys of a source or of `global`: the proxy (`proxy_url`, `no_proxy`,
//! `proxy_from_environment`, `proxy_connect_header`) and `tls_config`, read into an
//! [`Outbound`] and the client it needs. Files are read and certificates parsed here, so a bad
//! one fails at its line at start (or on reload), not at the first request.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::context::Context;
use super::raw::{RawOutbound, RawTlsConfig};
use crate::http::{
    build_reqwest_client, ClientBuildError, ClientIdentity, Outbound, TlsSettings, TlsVersion,
};
use crate::model::secret::{redacted_url, Secret};

/// What a source's outbound keys decode to, and where each part was written.
pub(super) struct DecodedOutbound {
    pub(super) outbound: Outbound,
    proxy_at: String,
    tls_at: String,
}

impl Context<'_> {
    /// The source's proxy choice, else the global one, and the source's `tls_config`, else the
    /// global one: each replaces the other whole, never key by key.
    pub(super) fn outbound(
        &mut self,
        prefix: &str,
        source: RawOutbound,
        global: RawOutbound,
    ) -> DecodedOutbound {
        let own_proxy = source.proxy_url.is_some() || source.proxy_from_environment.is_some();
        let (mut outbound, proxy_at) = match own_proxy {
            true => (
                self.proxy((prefix, &source), ("global", &global)),
                prefix.to_string(),
            ),
            false => (
                self.proxy(("global", &global), (prefix, &source)),
                "global".to_string(),
            ),
        };
        let (tls, tls_at) = match (source.tls_config, global.tls_config) {
            (Some(own), _) => (own, format!("{prefix}.tls_config")),
            (None, Some(global)) => (global, "global.tls_config".to_string()),
            (None, None) => (RawTlsConfig::default(), String::new()),
        };
        outbound.tls = self.tls(&tls_at, tls);
        DecodedOutbound {
            outbound,
            proxy_at,
            tls_at,
        }
    }

    /// The proxy keys of `chosen` (written at `at`); `no_proxy` may come from `other` too.
    /// Refused where Prometheus refuses them: `no_proxy` or `proxy_connect_header` without
    /// `proxy_url`, and `proxy_url` with `proxy_from_environment: true`.
    fn proxy(
        &mut self,
        (at, chosen): (&str, &RawOutbound),
        (other_at, other): (&str, &RawOutbound),
    ) -> Outbound {
        let no_proxy = chosen.no_proxy.clone().or_else(|| other.no_proxy.clone());
        let headers = chosen.proxy_connect_header.clone();
        let headers_at = if headers.is_some() { at } else { other_at };
        let headers = headers
            .or_else(|| other.proxy_connect_header.clone())
            .unwrap_or_default();
        match &chosen.proxy_url {
            Some(url) => {
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    let shown = redacted_url(url);
                    let message = format!("proxy_url {shown} is not an http:// or https:// proxy: name it as http://host:port (SOCKS proxies are not supported)");
                    self.error(format!("{at}.proxy_url"), message);
                }
                if chosen.proxy_from_environment == Some(true) {
                    self.error(format!("{at}.proxy_from_environment"), "proxy_from_environment: true and a proxy_url: choose one (the environment's proxy or this one), as Prometheus does");
                }
            }
            None => {
                self.refuse_keys_without_proxy_url(at, chosen);
                // The global keys go with the global proxy_url: a source that goes without it
                // (its own proxy_from_environment) leaves them to the sources that take it.
                if other_at != "global" || other.proxy_url.is_none() {
                    self.refuse_keys_without_proxy_url(other_at, other);
                }
            }
        }
        Outbound {
            proxy_url: chosen.proxy_url.clone(),
            no_proxy: no_proxy.filter(|_| chosen.proxy_url.is_some()),
            proxy_from_environment: chosen.proxy_url.is_none()
                && chosen.proxy_from_environment != Some(false),
            proxy_connect_header: self.proxy_headers(headers_at, headers),
            tls: TlsSettings::default(),
        }
    }

    /// `no_proxy` and `proxy_connect_header` written where no `proxy_url` takes them.
    fn refuse_keys_without_proxy_url(&mut self, at: &str, level: &RawOutbound) {
        if level.no_proxy.is_some() {
            self.error(format!("{at}.no_proxy"), "no_proxy lists what bypasses proxy_url, and this source has no proxy_url: add one, or use NO_PROXY with the environment's proxy");
        }
        if level.proxy_connect_header.is_some() {
            self.error(format!("{at}.proxy_connect_header"), "proxy_connect_header is sent to proxy_url, and this source has no proxy_url: add one (the environment's proxy takes no headers)");
        }
    }

    /// The headers as they are sent, every value marked sensitive (it never prints).
    fn proxy_headers(&mut self, at: &str, headers: BTreeMap<String, Vec<String>>) -> HeaderMap {
        let mut parsed = HeaderMap::new();
        for (name, values) in headers {
            let path = format!("{at}.proxy_connect_header.{name}");
            let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
                self.error(path, format!("{name:?} is not an HTTP header name"));
                continue;
            };
            for value in values {
                match HeaderValue::from_str(&value) {
                    Ok(mut value) => {
                        value.set_sensitive(true);
                        parsed.append(header.clone(), value);
                    }
                    Err(_) => self.error(
                        &path,
                        "a header value must be visible ASCII text, without line breaks",
                    ),
                }
            }
        }
        parsed
    }

    /// `tls_config` as Prometheus reads it; what rustls cannot do (TLS 1.0 and 1.1) is refused.
    fn tls(&mut self, at: &str, raw: RawTlsConfig) -> TlsSettings {
        let ca_certificates = match (raw.ca, raw.ca_file) {
            (Some(_), Some(_)) => {
                self.error(
                    format!("{at}.ca_file"),
                    "set either `ca` or `ca_file`, not both",
                );
                Vec::new()
            }
            (Some(pem), None) => self.certificates(&format!("{at}.ca"), "ca", pem.as_bytes()),
            (None, Some(file)) => self.certificate_file(&format!("{at}.ca_file"), &file),
            (None, None) => Vec::new(),
        };
        let client_identity = self.client_identity(at, raw.cert_file, raw.key_file);
        if let Some(name) = &raw.server_name {
            if rustls_pki_types::ServerName::try_from(name.as_str()).is_err() {
                let message = format!("server_name {name:?} is not a DNS name or an IP address");
                self.error(format!("{at}.server_name"), message);
            }
        }
        TlsSettings {
            ca_certificates,
            client_identity,
            server_name: raw.server_name,
            insecure_skip_verify: raw.insecure_skip_verify.unwrap_or(false),
            min_version: self.min_version(at, raw.min_version.as_deref()),
        }
    }

    fn min_version(&mut self, at: &str, written: Option<&str>) -> Option<TlsVersion> {
        let message = match written? {
            "TLS12" => return Some(TlsVersion::Tls12),
            "TLS13" => return Some(TlsVersion::Tls13),
            "TLS10" | "TLS11" => "the exporter's TLS library (rustls) speaks TLS 1.2 and 1.3 only: use TLS12 or TLS13".to_string(),
            other => format!("unknown TLS version {other:?}: TLS12 or TLS13"),
        };
        self.error(format!("{at}.min_version"), message);
        None
    }

    /// `cert_file` and `key_file`, both or neither.
    fn client_identity(
        &mut self,
        at: &str,
        cert_file: Option<std::path::PathBuf>,
        key_file: Option<std::path::PathBuf>,
    ) -> Option<ClientIdentity> {
        let (cert_file, key_file) = match (cert_file, key_file) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) => return None,
            (Some(_), None) => {
                self.error(
                    format!("{at}.cert_file"),
                    "a client certificate needs its key: add key_file",
                );
                return None;
            }
            (None, Some(_)) => {
                self.error(
                    format!("{at}.key_file"),
                    "key_file without cert_file: add the certificate it belongs to",
                );
                return None;
            }
        };
        let chain = self.certificate_file(&format!("{at}.cert_file"), &cert_file);
        let key_path = self.base_dir.join(&key_file);
        let key = match crate::model::files::read_to_string(&key_path) {
            Ok(pem) if PrivateKeyDer::from_pem_slice(pem.as_bytes()).is_ok() => Some(pem),
            Ok(_) => {
                let message = format!(
                    "{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
                    key_path.display()
                );
                self.error(format!("{at}.key_file"), message);
                None
            }
            Err(e) => {
                let message = format!("cannot read {}: {e}", key_path.display());
                self.error(format!("{at}.key_file"), message);
                None
            }
        };
        (!chain.is_empty()).then_some(())?;
        Some(ClientIdentity {
            chain,
            key_pem: Secret::new(key?),
        })
    }

    fn certificate_file(&mut self, path: &str, file: &Path) -> Vec<Vec<u8>> {
        let full = self.base_dir.join(file);
        match crate::model::files::read(&full) {
            Ok(pem) => self.certificates(path, &full.display().to_string(), &pem),
            Err(e) => {
                self.error(path, format!("cannot read {}: {e}", full.display()));
                Vec::new()
            }
        }
    }

    /// Every PEM certificate in `pem` (from `what`), at least one.
    fn certificates(&mut self, path: &str, what: &str, pem: &[u8]) -> Vec<Vec<u8>> {
        let parsed: Result<Vec<CertificateDer>, _> = CertificateDer::pem_slice_iter(pem).collect();
        match parsed {
            Ok(certificates) if !certificates.is_empty() => {
                certificates.iter().map(|c| c.as_ref().to_vec()).collect()
            }
            Ok(_) => {
                self.error(
                    path,
                    format!("{what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
                );
                Vec::new()
            }
            Err(e) => {
                self.error(
                    path,
                    format!("{what} is not readable as PEM certificates: {e}"),
                );
                Vec::new()
            }
        }
    }

    /// A client of its own for a source whose requests go out other than the default way.
    pub(super) fn client_for(&mut self, decoded: &DecodedOutbound) -> Option<reqwest::Client> {
        if decoded.outbound == Outbound::default() {
            return None;
        }
        match build_reqwest_client(&decoded.outbound) {
            Ok(client) => Some(client),
            Err(error) => {
                let path = match &error {
                    ClientBuildError::Tls(_) => decoded.tls_at.clone(),
                    _ => format!("{}.proxy_url", decoded.proxy_at),
                };
                self.error(path, error.to_string());
                None
            }
        }
    }
}

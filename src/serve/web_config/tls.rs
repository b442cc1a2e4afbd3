//! `tls_server_config` as exporter-toolkit reads it, built on rustls with the aws-lc-rs provider (the one jsonwebtoken signs with).
//! The names are Go's (`TLS12`, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`, `CurveP256`,
//! `RequireAndVerifyClientCert`), so a web config written for a Go exporter works here; what
//! rustls cannot do (TLS 1.0 and 1.1, CBC and static-RSA suites, P-521) is refused with the key,
//! the value and the reason rather than quietly served differently.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, SupportedKxGroup, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::version::{TLS12, TLS13};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
    SupportedCipherSuite, SupportedProtocolVersion,
};
use serde::Deserialize;

use super::error::WebConfigError;
use crate::model::secret::Secret;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert: Option<String>,
    key: Option<Secret>,
    client_ca: Option<String>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    #[serde(default)]
    cipher_suites: Vec<String>,
    #[serde(default)]
    curve_preferences: Vec<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

impl RawTls {
    /// Whether the section turns TLS on: exporter-toolkit's rule, any certificate, key or
    /// client-auth key set.
    pub(super) fn enabled(&self) -> bool {
        self.cert.is_some()
            || self.key.is_some()
            || self.client_ca.is_some()
            || self.cert_file.is_some()
            || self.key_file.is_some()
            || self.client_ca_file.is_some()
            || self.client_auth_type.is_some()
    }

    /// The files the section names, relative to the web config's directory.
    pub(super) fn files(&self, base: &Path) -> Vec<PathBuf> {
        [&self.cert_file, &self.key_file, &self.client_ca_file]
            .into_iter()
            .flatten()
            .map(|file| base.join(file))
            .collect()
    }
}

/// A refusal of `tls_server_config.<key>: <value>`.
fn refused(path: &Path, key: &str, value: &str, reason: impl Into<String>) -> WebConfigError {
    WebConfigError::Refused {
        path: path.to_path_buf(),
        key: format!("tls_server_config.{key}"),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Builds the rustls server config; `http2` offers h2 by ALPN before HTTP/1.1.
pub(super) fn server_config(
    path: &Path,
    base: &Path,
    tls: &RawTls,
    http2: bool,
) -> Result<ServerConfig, WebConfigError> {
    let tls_error = |source| WebConfigError::Tls {
        path: path.to_path_buf(),
        source,
    };
    let (certs, key) = certificate_and_key(path, base, tls)?;
    let provider = Arc::new(provider(path, tls)?);
    let versions = versions(path, tls)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(tls_error)?;
    let verifier = client_verifier(path, base, tls, &provider)?;
    let mut config = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    }
    .with_single_cert(certs, key)
    .map_err(tls_error)?;
    // Go has ignored `prefer_server_cipher_suites` since 1.17 and picks the order itself; rustls
    // can honour it, and the toolkit's default is true.
    config.ignore_client_order = tls.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = match http2 {
        true => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        false => vec![b"http/1.1".to_vec()],
    };
    Ok(config)
}

type CertificateAndKey = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn certificate_and_key(
    path: &Path,
    base: &Path,
    tls: &RawTls,
) -> Result<CertificateAndKey, WebConfigError> {
    let certs = match (&tls.cert_file, &tls.cert) {
        (Some(file), _) => {
            pem_certificates(&base.join(file)).map_err(pem_error(path, "cert_file", file))?
        }
        (None, Some(text)) => CertificateDer::pem_slice_iter(text.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem_error(path, "cert", Path::new("(inline)")))?,
        (None, None) => return Err(missing(path, "cert_file", "cert")),
    };
    let key = match (&tls.key_file, &tls.key) {
        (Some(file), _) => crate::model::files::read(&base.join(file))
            .map_err(rustls_pki_types::pem::Error::Io)
            .and_then(|pem| PrivateKeyDer::from_pem_slice(&pem))
            .map_err(pem_error(path, "key_file", file))?,
        (None, Some(text)) => PrivateKeyDer::from_pem_slice(text.expose().as_bytes())
            .map_err(pem_error(path, "key", Path::new("(inline)")))?,
        (None, None) => return Err(missing(path, "key_file", "key")),
    };
    Ok((certs, key))
}

/// Every PEM certificate in a regular file.
fn pem_certificates(
    file: &Path,
) -> Result<Vec<CertificateDer<'static>>, rustls_pki_types::pem::Error> {
    let pem = crate::model::files::read(file).map_err(rustls_pki_types::pem::Error::Io)?;
    CertificateDer::pem_slice_iter(&pem).collect()
}

fn missing(path: &Path, file_key: &'static str, inline_key: &'static str) -> WebConfigError {
    WebConfigError::Missing {
        path: path.to_path_buf(),
        keys: format!("tls_server_config.{file_key} or tls_server_config.{inline_key}"),
    }
}

fn pem_error<'a>(
    path: &'a Path,
    key: &'static str,
    file: &'a Path,
) -> impl FnOnce(rustls::pki_types::pem::Error) -> WebConfigError + 'a {
    move |source| WebConfigError::Pem {
        path: path.to_path_buf(),
        key,
        file: file.to_path_buf(),
        source,
    }
}

/// `min_version` and `max_version`, TLS 1.2 to 1.3 unless they say otherwise.
fn versions(
    path: &Path,
    tls: &RawTls,
) -> Result<Vec<&'static SupportedProtocolVersion>, WebConfigError> {
    let rank = |key: &str, value: &Option<String>, default: u8| match value.as_deref() {
        None => Ok(default),
        Some("TLS12") => Ok(2),
        Some("TLS13") => Ok(3),
        Some(old @ ("TLS10" | "TLS11")) => Err(refused(
            path,
            key,
            old,
            "rustls implements only TLS 1.2 and 1.3; use TLS12 or TLS13",
        )),
        Some(other) => Err(refused(
            path,
            key,
            other,
            "not a TLS version; use TLS12 or TLS13",
        )),
    };
    let min = rank("min_version", &tls.min_version, 2)?;
    let max = rank("max_version", &tls.max_version, 3)?;
    if min > max {
        let value = tls.min_version.as_deref().unwrap_or("TLS12");
        return Err(refused(
            path,
            "min_version",
            value,
            "it is above max_version, so no version is left",
        ));
    }
    Ok([(2, &TLS12), (3, &TLS13)]
        .into_iter()
        .filter(|(rank, _)| (min..=max).contains(rank))
        .map(|(_, version)| version)
        .collect())
}

/// The aws-lc-rs provider narrowed to `cipher_suites` and `curve_preferences`, in their order.
fn provider(path: &Path, tls: &RawTls) -> Result<CryptoProvider, WebConfigError> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if !tls.cipher_suites.is_empty() {
        let chosen = tls
            .cipher_suites
            .iter()
            .map(|name| cipher_suite(path, name))
            .collect::<Result<Vec<_>, _>>()?;
        // As in Go, the list governs TLS 1.2; TLS 1.3's suites stay unless the list names some.
        let names_tls13 = chosen.iter().any(|s| s.version() == &TLS13);
        provider
            .cipher_suites
            .retain(|s| s.version() == &TLS13 && !names_tls13);
        provider.cipher_suites.splice(0..0, chosen);
    }
    if !tls.curve_preferences.is_empty() {
        provider.kx_groups = tls
            .curve_preferences
            .iter()
            .map(|name| curve(path, name))
            .collect::<Result<_, _>>()?;
    }
    Ok(provider)
}

fn cipher_suite(path: &Path, name: &str) -> Result<SupportedCipherSuite, WebConfigError> {
    use rustls::crypto::aws_lc_rs::cipher_suite::*;
    let suite = match name {
        "TLS_AES_128_GCM_SHA256" => TLS13_AES_128_GCM_SHA256,
        "TLS_AES_256_GCM_SHA384" => TLS13_AES_256_GCM_SHA384,
        "TLS_CHACHA20_POLY1305_SHA256" => TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        cbc if cbc.contains("_CBC_") => {
            return Err(refused(path, "cipher_suites", cbc, "rustls implements no CBC-mode suite; choose an AES-GCM or ChaCha20-Poly1305 one"))
        }
        rsa if rsa.starts_with("TLS_RSA_WITH_") => {
            return Err(refused(path, "cipher_suites", rsa, "rustls implements no suite with static RSA key exchange (it has no forward secrecy); choose a TLS_ECDHE_RSA_WITH_ one"))
        }
        other => {
            return Err(refused(path, "cipher_suites", other, format!("not a cipher suite Go's crypto/tls names; rustls serves {}", SUITE_NAMES.join(", "))))
        }
    };
    Ok(suite)
}

const SUITE_NAMES: [&str; 9] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

fn curve(path: &Path, name: &str) -> Result<&'static dyn SupportedKxGroup, WebConfigError> {
    use rustls::crypto::aws_lc_rs::kx_group::{SECP256R1, SECP384R1, X25519};
    match name {
        "X25519" => Ok(X25519),
        "CurveP256" => Ok(SECP256R1),
        "CurveP384" => Ok(SECP384R1),
        "CurveP521" => Err(refused(
            path,
            "curve_preferences",
            name,
            "rustls has no P-521 key exchange; use X25519, CurveP256 or CurveP384",
        )),
        other => Err(refused(
            path,
            "curve_preferences",
            other,
            "not a curve; use X25519, CurveP256 or CurveP384",
        )),
    }
}

/// exporter-toolkit's `client_auth_type` values, Go's `tls.ClientAuthType`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn parse(path: &Path, value: Option<&str>) -> Result<Self, WebConfigError> {
        Ok(match value {
            None | Some("" | "NoClientCert") => ClientAuth::NoClientCert,
            Some("RequestClientCert") => ClientAuth::RequestClientCert,
            // "RequireClientCert" is the toolkit's older spelling, still accepted there.
            Some("RequireAnyClientCert" | "RequireClientCert") => ClientAuth::RequireAnyClientCert,
            Some("VerifyClientCertIfGiven") => ClientAuth::VerifyClientCertIfGiven,
            Some("RequireAndVerifyClientCert") => ClientAuth::RequireAndVerifyClientCert,
            Some(other) => return Err(refused(path, "client_auth_type", other, "not a client auth type; use NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert")),
        })
    }

    fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }

    fn mandatory(self) -> bool {
        matches!(
            self,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// The client-certificate check `client_auth_type`, the client CA and `client_allowed_sans` ask
/// for; `None` asks for no certificate.
fn client_verifier(
    path: &Path,
    base: &Path,
    tls: &RawTls,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, WebConfigError> {
    let mode = ClientAuth::parse(path, tls.client_auth_type.as_deref())?;
    let roots = client_roots(path, base, tls)?;
    let mode_name = tls.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let verifier: Arc<dyn ClientCertVerifier> = match (mode, roots) {
        (ClientAuth::NoClientCert, Some(_)) => {
            return Err(refused(path, "client_auth_type", mode_name, "a client CA is configured but no client certificate is asked for; choose RequireAndVerifyClientCert or VerifyClientCertIfGiven"))
        }
        (ClientAuth::NoClientCert, None) if tls.client_allowed_sans.is_some() => {
            return Err(refused(path, "client_auth_type", mode_name, "client_allowed_sans needs a client certificate to check; choose RequireAndVerifyClientCert"))
        }
        (ClientAuth::NoClientCert, None) => return Ok(None),
        (mode, None) if mode.verifies() => {
            return Err(refused(path, "client_auth_type", mode_name, "verifying client certificates needs client_ca_file or client_ca"))
        }
        (mode, Some(roots)) if mode.verifies() => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let verifier = match mode.mandatory() {
                true => verifier,
                false => verifier.allow_unauthenticated(),
            };
            verifier
                .build()
                .map_err(|source| WebConfigError::ClientVerifier {
                    path: path.to_path_buf(),
                    source,
                })?
        }
        (mode, _) => Arc::new(AnyCertificate {
            mandatory: mode.mandatory(),
            algorithms: provider.signature_verification_algorithms,
        }),
    };
    Ok(Some(match &tls.client_allowed_sans {
        Some(sans) => Arc::new(AllowedSans {
            inner: verifier,
            allowed: sans.clone(),
        }),
        None => verifier,
    }))
}

fn client_roots(
    path: &Path,
    base: &Path,
    tls: &RawTls,
) -> Result<Option<RootCertStore>, WebConfigError> {
    let certs: Vec<CertificateDer<'static>> = match (&tls.client_ca_file, &tls.client_ca) {
        (Some(file), _) => {
            pem_certificates(&base.join(file)).map_err(pem_error(path, "client_ca_file", file))?
        }
        (None, Some(text)) => CertificateDer::pem_slice_iter(text.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(pem_error(path, "client_ca", Path::new("(inline)")))?,
        (None, None) => return Ok(None),
    };
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|source| WebConfigError::Tls {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(Some(roots))
}

/// `RequestClientCert` and `RequireAnyClientCert`: any certificate is taken without a chain
/// check, but the client must still prove it holds the key, as Go does.
#[derive(Debug)]
struct AnyCertificate {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyCertificate {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `client_allowed_sans`: the certificate must also carry one of these subject alternative
/// names (DNS name, e-mail address, IP address or URI, compared exactly, as the toolkit does).
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let names = subject_alternative_names(end_entity);
        if names.iter().any(|name| self.allowed.contains(name)) {
            return Ok(verified);
        }
        tracing::debug!(presented = ?names, "client certificate carries none of client_allowed_sans");
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The DNS, e-mail, IP and URI names of a certificate, written as Go writes them.
fn subject_alternative_names(der: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let Ok(Some(sans)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    sans.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                Some(s.to_string())
            }
            GeneralName::IPAddress(bytes) => ip_address(bytes).map(|ip| ip.to_string()),
            _ => None,
        })
        .collect()
}

fn ip_address(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

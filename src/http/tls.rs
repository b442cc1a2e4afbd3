//! Prometheus's `tls_config` for a source's outbound requests, as one rustls client config:
//! the CAs trusted (only these, as Go's `RootCAs` means), a client certificate, the name the
//! server's certificate must carry, the lowest version, or no verification at all.
//!
//! reqwest takes the finished config as it is (`tls_backend_preconfigured`), so a source with a
//! `tls_config` builds its own instead of setting reqwest's TLS options one by one: reqwest has
//! no option for `server_name`, and one config keeps every key honoured the same way.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::model::secret::Secret;

/// The lowest TLS version a source accepts (`min_version`); rustls speaks 1.2 and 1.3 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// A decoded `tls_config`: what was read from its files and values, checked at load.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsSettings {
    /// `ca` / `ca_file`: the only CAs trusted; none: the system's trust store.
    pub ca_certificates: Vec<Vec<u8>>,
    /// `cert_file` + `key_file`: presented when the server asks for a client certificate.
    pub client_identity: Option<ClientIdentity>,
    /// `server_name`: the name the server's certificate is verified against.
    pub server_name: Option<String>,
    /// `insecure_skip_verify`: accept any certificate (signatures are still checked).
    pub insecure_skip_verify: bool,
    pub min_version: Option<TlsVersion>,
}

/// A client certificate chain (DER) and its private key (PEM, a secret).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientIdentity {
    pub chain: Vec<Vec<u8>>,
    pub key_pem: Secret,
}

impl TlsSettings {
    pub fn is_default(&self) -> bool {
        *self == TlsSettings::default()
    }
}

/// The rustls config of `settings`; an error says what in it rustls refused (a key that does
/// not match its certificate, a CA that is not a CA certificate).
pub fn client_config(settings: &TlsSettings) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = match settings.min_version {
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        _ => rustls::ALL_VERSIONS,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("rustls refused the TLS versions: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier(settings, provider)?);
    let mut config = match &settings.client_identity {
        Some(identity) => {
            let chain = identity
                .chain
                .iter()
                .map(|der| CertificateDer::from(der.clone()))
                .collect();
            builder
                .with_client_auth_cert(chain, private_key(&identity.key_pem)?)
                .map_err(|e| {
                    format!("the client certificate and key_file do not go together: {e}")
                })?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn private_key(pem: &Secret) -> Result<PrivateKeyDer<'static>, String> {
    use rustls_pki_types::pem::PemObject;
    PrivateKeyDer::from_pem_slice(pem.expose().as_bytes())
        .map_err(|e| format!("key_file holds no PEM private key rustls can use: {e}"))
}

/// Who judges the server's certificate: nobody (`insecure_skip_verify`), the given CAs, or the
/// system's trust store as every other source; checking `server_name` instead of the URL's host
/// where one is set.
fn verifier(
    settings: &TlsSettings,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    if settings.insecure_skip_verify {
        return Ok(Arc::new(AcceptAnyCertificate(provider)));
    }
    let inner: Arc<dyn ServerCertVerifier> = if settings.ca_certificates.is_empty() {
        Arc::new(
            rustls_platform_verifier::Verifier::new(provider)
                .map_err(|e| format!("cannot read the system's trust store: {e}"))?,
        )
    } else {
        let mut roots = RootCertStore::empty();
        for der in &settings.ca_certificates {
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| format!("a CA certificate rustls cannot use: {e}"))?;
        }
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("cannot verify with these CA certificates: {e}"))?
    };
    match &settings.server_name {
        Some(name) => {
            let name = ServerName::try_from(name.clone())
                .map_err(|e| format!("server_name {name:?} is not a DNS name or IP: {e}"))?;
            Ok(Arc::new(VerifyAs { inner, name }))
        }
        None => Ok(inner),
    }
}

/// Verifies the server's certificate for a fixed name instead of the URL's host.
#[derive(Debug)]
struct VerifyAs {
    inner: Arc<dyn ServerCertVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for VerifyAs {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _url_host: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
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

/// `insecure_skip_verify: true`: any certificate for any name, as Go's `InsecureSkipVerify`;
/// the handshake's signatures are still checked, so the peer holds the certificate's key.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

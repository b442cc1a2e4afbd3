//! What a failed exchange tells the user: transport errors with TLS advice, and an error
//! body cut to its first line.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use url::Url;

use super::error::HttpError;
use super::exchange::{Request, Response};

pub(super) struct RawResponse {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
    pub(super) url: Url,
}

impl RawResponse {
    pub(super) fn into_response(self, request: &Request) -> Response {
        Response {
            status: self.status,
            headers: self.headers,
            body: self.body,
            url: self.url,
            request: request.describe(),
        }
    }
}

pub(super) fn transport_error(
    request: &Request,
    error: reqwest::Error,
    timeout: Duration,
    proxy: Option<&str>,
) -> HttpError {
    if error.is_timeout() {
        return HttpError::Timeout {
            request: request.describe(),
            after: timeout,
        };
    }
    // reqwest's Display names only the outer layer (and the URL, which the request names
    // already); the causes say what really happened.
    let error = error.without_url();
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    let mut tls = None;
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        tls = tls.or_else(|| rustls_error_in(cause));
        source = cause.source();
    }
    let host = request.url.host_str().unwrap_or_default();
    let advice = match (tls, proxy) {
        (Some(tls), _) => tls_advice(host, tls),
        (None, Some(proxy)) => format!("the request went through the proxy {proxy}: check that it is reachable, lets this host through, and takes the credentials proxy_connect_header gives it; or that {host} is right"),
        (None, None) => format!("check that {host} is the right host and region for this tenant (base_url, or token_url for a token) and that this machine can reach it"),
    };
    HttpError::Connection {
        request: request.describe(),
        detail,
        advice,
    }
}

/// The rustls error inside a cause: tokio-rustls hands it over wrapped in `io::Error`s (two
/// deep), whose `source()` skips the error each wraps.
pub(super) fn rustls_error_in<'a>(
    cause: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = cause.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error_in(inner)
}

/// Whether the chain or the name failed, and what to set for either.
pub(super) fn tls_advice(host: &str, error: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    match error {
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!("TLS to {host}: the certificate's chain is trusted but it is not issued for the name {host}: fix base_url, or set tls_config.server_name to the name the certificate carries"),
        Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => format!("TLS to {host}: the certificate's chain does not lead to a trusted CA (a TLS-inspecting gateway's own CA?): set tls_config.ca_file to that CA's certificate"),
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. } | CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => format!("TLS to {host}: the certificate is outside its validity dates: check this machine's clock, or have the server's certificate renewed"),
        Error::InvalidCertificate(_) => format!("TLS to {host}: the server's certificate chain was refused"),
        Error::AlertReceived(_) | Error::NoCertificatesPresented => format!("TLS to {host}: the server ended the handshake; if it requires a client certificate, set tls_config.cert_file and key_file to one it trusts"),
        _ => format!("TLS to {host} failed: check tls_config (min_version, the certificates) against what the server accepts"),
    }
}

/// The first line of a non-JSON-described error body, short enough for a log line.
pub(super) fn body_excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_is_cut_to_its_first_line() {
        assert_eq!(
            body_excerpt(b"\n  Bad gateway \nmore"),
            Some("Bad gateway".to_string())
        );
        assert_eq!(body_excerpt(b"  "), None);
    }
}

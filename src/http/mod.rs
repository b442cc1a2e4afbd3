//! The one HTTP layer every source uses: authorisation (static or OAuth2 with a token cache),
//! retries with backoff, `Retry-After`, a response size limit, same-host pagination links, and
//! the per-source request counters. Sources never build a `reqwest` request themselves.
//!
//! Its files, in the order of a request: what an exchange is (`exchange`), the client a
//! source's keys make (`outbound`, `tls`, `no_proxy`), credentials and tokens (`credentials`,
//! `auth`, `assertion`), the client that sends with retries (`client`, `retry`), what a failure
//! says (`error`, `transport`), and a poll's pages (`session`).

mod assertion;
mod auth;
mod credentials;
mod endpoints;
mod error;
mod exchange;
mod no_proxy;
mod outbound;
mod retry;
mod session;
mod tls;
mod transport;

pub use assertion::{client_assertion, signing_key_is_valid, AssertionError, JWT_BEARER};
pub use credentials::{
    AuthConfig, ClientCertificate, ClientCredential, Grant, InvalidCredential, OAuth2Config,
    StaticCredential,
};
pub use endpoints::{endpoint_of, Endpoint, TOKEN_ENDPOINT};
pub use error::{HttpError, TokenFailure};
pub use exchange::*;
pub use outbound::{build_reqwest_client, ClientBuildError, Outbound};
pub use retry::retry_after;
pub use retry::ThrottleLimit;
pub use session::{HttpClient, Page, PageError, PollSession};
pub use tls::{ClientIdentity, TlsSettings, TlsVersion};

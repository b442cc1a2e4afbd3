//! The HTTP server on hyper: `/metrics` (the rendered exposition, gzip when asked), the landing
//! page, `/-/healthy` and `/-/ready`. Handlers only read the store; they never poll or render.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, VARY,
    WWW_AUTHENTICATE,
};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::ConfigErrors;
use crate::engine::store::Store;
use crate::exposition::openmetrics::{self, Format};
use crate::model::locks::lock;
use crate::serve::web_config::{WebConfig, WebSettings};
use tokio_rustls::TlsAcceptor;

/// A client that has not sent its request headers by then is dropped, so slow or idle
/// connections cannot pile up.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where requests go besides the store: config reloads, and the web config (TLS, users).
#[derive(Clone)]
pub struct Options {
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
    pub endpoints: Endpoints,
    /// Answers on the telemetry path so far, by status code.
    pub scrapes: Arc<Mutex<BTreeMap<u16, u64>>>,
}

impl Default for Options {
    fn default() -> Self {
        Options::serving(Endpoints::new(None))
    }
}

impl Options {
    /// Serving `endpoints`, with no reload.
    pub fn serving(endpoints: Endpoints) -> Self {
        Options {
            reload: None,
            endpoints,
            scrapes: Arc::default(),
        }
    }
}

/// How the endpoints are served: behind a web config or not, and the exposition's path.
#[derive(Clone)]
pub struct Endpoints {
    pub web: Option<Arc<WebConfig>>,
    pub telemetry_path: String,
}

/// The exposition's path unless `--web.telemetry-path` says otherwise.
pub const DEFAULT_TELEMETRY_PATH: &str = "/metrics";

impl Endpoints {
    pub fn new(web: Option<Arc<WebConfig>>) -> Self {
        Endpoints {
            web,
            telemetry_path: DEFAULT_TELEMETRY_PATH.to_string(),
        }
    }
}

/// Reads `--web.telemetry-path`: an absolute path that is none of the other endpoints.
pub fn parse_telemetry_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') || path == "/" || path.starts_with("/-/") {
        return Err(format!("{path:?} must be an absolute path other than / and the /-/ endpoints, such as /metrics"));
    }
    Ok(path.to_string())
}

/// Serves on every listener until `shutdown`, then lets open requests finish for a few seconds.
pub async fn serve(
    listeners: Vec<TcpListener>,
    store: Arc<Store>,
    options: Options,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut http2 = http2::Builder::new(TokioExecutor::new());
    http2.timer(TokioTimer::new());
    let serving = Serving {
        store,
        options,
        builder,
        http2,
        graceful: &graceful,
        shutdown: &shutdown,
    };
    futures_util::future::join_all(listeners.iter().map(|l| serving.accept(l))).await;
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("connections still open after the shutdown grace period"),
    }
    Ok(())
}

/// What every listener's accept loop shares.
struct Serving<'a> {
    store: Arc<Store>,
    options: Options,
    builder: http1::Builder,
    /// For TLS connections that chose h2 by ALPN.
    http2: http2::Builder<TokioExecutor>,
    graceful: &'a GracefulShutdown,
    shutdown: &'a CancellationToken,
}

impl Serving<'_> {
    /// Accepts on `listener` until shutdown, each connection on a task of its own.
    async fn accept(&self, listener: &TcpListener) {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = self.shutdown.cancelled() => return,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin or exit.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // A response's last segment must not wait for the client's delayed ACK (Nagle); Go's
            // servers, Prometheus's among them, set this on every connection too.
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "setting TCP_NODELAY failed");
            }
            // Read per connection, so rotated certificates and users apply to the next client.
            let settings = self.options.endpoints.web.as_ref().map(|web| web.current());
            let connection = Connection {
                builder: self.builder.clone(),
                http2: self.http2.clone(),
                watcher: self.graceful.watcher(),
                settings,
            };
            tokio::spawn(connection.serve(stream, self.store.clone(), self.options.clone()));
        }
    }
}

/// One accepted connection and what it is served with.
struct Connection {
    builder: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    watcher: Watcher,
    /// The web config as it was when the connection was accepted.
    settings: Option<Arc<WebSettings>>,
}

impl Connection {
    /// Serves the connection, over TLS when the web config asks for it, until it closes or the
    /// server shuts down.
    async fn serve(self, stream: tokio::net::TcpStream, store: Arc<Store>, options: Options) {
        let Connection {
            builder,
            http2,
            watcher,
            settings,
        } = self;
        let request_settings = settings.clone();
        let service = service_fn(move |request| {
            let (store, options, settings) =
                (store.clone(), options.clone(), request_settings.clone());
            async move {
                Ok::<_, Infallible>(handle(&store, &options, settings.as_deref(), request).await)
            }
        });
        let tls = settings.as_ref().and_then(|s| s.tls.clone());
        let Some(tls) = tls else {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        };
        let handshake = TlsAcceptor::from(tls).accept(stream);
        let stream = match tokio::time::timeout(HEADER_READ_TIMEOUT, handshake).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return tracing::debug!(error = %e, "TLS handshake failed"),
            Err(_) => return tracing::debug!("TLS handshake timed out"),
        };
        // ALPN offers h2 only when `http_server_config.http2` is on.
        let result = match stream.get_ref().1.alpn_protocol() == Some(b"h2") {
            true => {
                watcher
                    .watch(http2.serve_connection(TokioIo::new(stream), service))
                    .await
            }
            false => {
                watcher
                    .watch(builder.serve_connection(TokioIo::new(stream), service))
                    .await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}

async fn handle(
    store: &Store,
    options: &Options,
    settings: Option<&WebSettings>,
    request: Request<Incoming>,
) -> Response<Chunks> {
    let scrape = request.uri().path() == options.endpoints.telemetry_path;
    let response = answer_behind_web_config(store, options, settings, request).await;
    if scrape {
        let mut scrapes = lock(&options.scrapes);
        *scrapes.entry(response.status().as_u16()).or_default() += 1;
    }
    response
}

/// The answer after the web config's rate limit and users, with its headers.
async fn answer_behind_web_config(
    store: &Store,
    options: &Options,
    settings: Option<&WebSettings>,
    request: Request<Incoming>,
) -> Response<Chunks> {
    let Some(settings) = settings else {
        return answer(store, options, request).await;
    };
    let mut response = match (&options.endpoints.web, settings.admits_request()) {
        (_, false) => text(StatusCode::TOO_MANY_REQUESTS, "Too many requests\n".into()),
        (Some(web), true) if settings.requires_auth() => {
            let header = request
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match web.authorised(settings, header).await {
                true => answer(store, options, request).await,
                false => unauthorised(),
            }
        }
        (_, true) => answer(store, options, request).await,
    };
    let headers = response.headers_mut();
    for (name, value) in &settings.headers {
        headers.insert(name.clone(), value.clone());
    }
    response
}

fn unauthorised() -> Response<Chunks> {
    let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized\n".into());
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"consumption_exporter\""),
    );
    response
}

async fn answer(store: &Store, options: &Options, request: Request<Incoming>) -> Response<Chunks> {
    match (request.method(), request.uri().path()) {
        (&Method::POST | &Method::PUT, "/-/reload") => reload_config(options.reload.as_ref()).await,
        (_, "/-/reload") => not_allowed("POST, PUT", "Use POST to reload the config\n"),
        _ => route(store, &request, options),
    }
}

/// A request to re-read the config file, answered with what changed or why it was refused.
pub type ReloadRequest = oneshot::Sender<Result<ReloadSummary, ReloadError>>;

/// What a reload did to the running sources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub unchanged: usize,
    pub changed: usize,
    pub added: usize,
    pub removed: usize,
}

impl std::fmt::Display for ReloadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ReloadSummary {
            unchanged,
            changed,
            added,
            removed,
        } = self;
        write!(
            f,
            "{unchanged} unchanged, {changed} changed, {added} added, {removed} removed"
        )
    }
}

/// Why a reload was refused; the running config stays.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("this exporter was started without a config file (demo): there is nothing to reload")]
    NoConfigFile,
    #[error("{0}")]
    Invalid(ConfigErrors),
}

/// Asks the supervisor to re-read the config; answers with what changed or every error.
async fn reload_config(reload: Option<&mpsc::Sender<ReloadRequest>>) -> Response<Chunks> {
    let Some(reload) = reload else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Reload is not available here\n".into(),
        );
    };
    let (reply, answer) = oneshot::channel();
    if reload.send(reply).await.is_err() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "The exporter is shutting down\n".into(),
        );
    }
    match answer.await {
        Ok(Ok(summary)) => text(StatusCode::OK, format!("Config reloaded: {summary}\n")),
        Ok(Err(errors)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Config reload refused; the previous config keeps running:\n{errors}\n"),
        ),
        Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "The exporter is shutting down\n".into(),
        ),
    }
}

fn route(store: &Store, request: &Request<Incoming>, options: &Options) -> Response<Chunks> {
    let path = request.uri().path();
    let telemetry = options.endpoints.telemetry_path.as_str();
    let read = matches!(request.method(), &Method::GET | &Method::HEAD);
    if path == telemetry {
        return match read {
            true => metrics(store, request, &options.scrapes),
            false => not_allowed("GET, HEAD", "Method not allowed\n"),
        };
    }
    match (request.method(), path) {
        (&Method::GET | &Method::HEAD, "/") => landing_page(store, telemetry),
        (&Method::GET | &Method::HEAD, "/-/healthy") => text(StatusCode::OK, "Healthy\n".into()),
        (&Method::GET | &Method::HEAD, "/-/ready") => ready(store),
        (_, "/" | "/-/healthy" | "/-/ready") => not_allowed("GET, HEAD", "Method not allowed\n"),
        _ => text(StatusCode::NOT_FOUND, "Not found\n".into()),
    }
}

/// 405, with the `Allow` header RFC 9110 requires.
fn not_allowed(allow: &'static str, body: &'static str) -> Response<Chunks> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, body.into());
    response
        .headers_mut()
        .insert(hyper::header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// The rendered exposition in the format asked for, then the per-scrape block (process
/// figures, scrape counts), then `# EOF` for OpenMetrics. Gzipped, the rendered part's deflate
/// blocks are cached and the scrape adds the block's (see [`crate::exposition::gzip`]).
fn metrics(
    store: &Store,
    request: &Request<Incoming>,
    scrapes: &Mutex<BTreeMap<u16, u64>>,
) -> Response<Chunks> {
    let rendered = store.rendered();
    let headers = request.headers();
    let wants_gzip = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(accepts_gzip);
    let format = Format::negotiate(
        headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let counts: Vec<(u16, u64)> = lock(scrapes)
        .iter()
        .map(|(code, count)| (*code, *count))
        .collect();
    let mut block = crate::exposition::families::scrape_block(
        &crate::exposition::process::read(),
        &counts,
        store.polls_in_flight(),
        &store.exchange_rates(),
    );
    if format == Format::OpenMetrics {
        block = openmetrics::from_text(&block);
        block.push_str(openmetrics::EOF);
    }
    let chunks = match wants_gzip {
        true => {
            let prefix = rendered.gzip_prefix_in(format);
            Chunks::from_iter([prefix.bytes().clone(), prefix.finish(block.as_bytes())])
        }
        false => Chunks {
            cached: Some((rendered, format)),
            next: 0,
            rest: VecDeque::from([Bytes::from(block)]),
        },
    };
    let mut response = Response::new(chunks);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    if wants_gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// A response body of chunks sent in order, so the cached exposition is never copied to put
/// the per-scrape block after it (or, in OpenMetrics, its descriptors between its samples):
/// first the rendered exposition's chunks in a format, read from it as they are sent (at
/// 10,000 sources there are about 200,000), then the rest.
pub struct Chunks {
    cached: Option<(Arc<crate::exposition::render::Rendered>, Format)>,
    next: usize,
    rest: VecDeque<Bytes>,
}

impl FromIterator<Bytes> for Chunks {
    fn from_iter<I: IntoIterator<Item = Bytes>>(chunks: I) -> Self {
        Chunks {
            cached: None,
            next: 0,
            rest: chunks.into_iter().collect(),
        }
    }
}

impl From<Bytes> for Chunks {
    fn from(body: Bytes) -> Self {
        Chunks::from_iter([body])
    }
}

impl Chunks {
    fn cached_rest(&self) -> &[Bytes] {
        match &self.cached {
            Some((rendered, format)) => rendered.body_in(*format).get(self.next..).unwrap_or(&[]),
            None => &[],
        }
    }
}

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        let chunks = self.get_mut();
        let cached = chunks.cached_rest().first().cloned();
        let chunk = match cached {
            Some(chunk) => {
                chunks.next += 1;
                Some(chunk)
            }
            None => chunks.rest.pop_front(),
        };
        Poll::Ready(chunk.map(|chunk| Ok(hyper::body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.cached_rest().is_empty() && self.rest.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        let cached = self
            .cached_rest()
            .iter()
            .map(|c| c.len() as u64)
            .sum::<u64>();
        let rest = self.rest.iter().map(|c| c.len() as u64).sum::<u64>();
        hyper::body::SizeHint::with_exact(cached + rest)
    }
}

/// True when an Accept-Encoding value lists gzip with a non-zero quality.
fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        coding.eq_ignore_ascii_case("gzip") && quality > 0.0
    })
}

fn ready(store: &Store) -> Response<Chunks> {
    if store.ready() {
        return text(StatusCode::OK, "Ready\n".into());
    }
    let waiting: Vec<String> = store
        .slots()
        .iter()
        .filter(|s| s.state().up.is_none())
        .map(|s| s.name.clone())
        .collect();
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "Not ready: waiting for the first poll of {}\n",
            waiting.join(", ")
        ),
    )
}

fn text(status: StatusCode, body: String) -> Response<Chunks> {
    let mut response = Response::new(Chunks::from(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn landing_page(store: &Store, telemetry: &str) -> Response<Chunks> {
    let mut rows = String::new();
    for slot in store.slots() {
        let state = slot.state();
        let status = match state.up {
            None => "waiting for first poll",
            Some(true) => "up",
            Some(false) => "down",
        };
        let last_success = state
            .last_success_unix
            .and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0))
            .map_or("never".to_string(), |t| t.to_rfc3339());
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&slot.name),
            slot.vendor,
            status,
            last_success,
            state.snapshot.as_ref().map_or(0, |s| s.series_count()),
            escape(state.last_error.as_deref().unwrap_or("")),
        ));
    }
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>consumption_exporter</title></head><body>\n\
         <h1>consumption_exporter {version}</h1>\n<p><a href=\"{metrics}\">Metrics</a> · <a href=\"-/ready\">Ready</a> · <a href=\"-/healthy\">Healthy</a></p>\n\
         <table border=\"1\" cellpadding=\"4\"><tr><th>source</th><th>vendor</th><th>state</th><th>last success</th><th>series</th><th>last error</th></tr>\n{rows}</table>\n</body></html>\n",
        version = env!("CARGO_PKG_VERSION"),
        // Relative, so the page works under a proxy's path prefix.
        metrics = escape(telemetry.trim_start_matches('/')),
    );
    let mut response = Response::new(Chunks::from(Bytes::from(page)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn gzip_is_served_only_when_accepted() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.8"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }
}

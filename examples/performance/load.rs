//! The load generator: keep-alive HTTP/1.1 clients on loopback, each sending one request after
//! another for a fixed time and reading every body to the end. The same generator drives the
//! exporter and nginx, so the two are compared under the same client costs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{ACCEPT_ENCODING, CONTENT_ENCODING, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What one load run measured.
pub struct LoadResult {
    pub requests: usize,
    pub elapsed: Duration,
    latencies: Vec<Duration>,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Pools another run of the same kind into this one.
    pub fn merge(&mut self, other: LoadResult) {
        self.requests += other.requests;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
        self.latencies.sort_unstable();
    }

    /// The latency below which `quantile` of the requests finished.
    pub fn latency(&self, quantile: f64) -> Duration {
        let rank = ((self.latencies.len() as f64 * quantile).ceil() as usize).max(1) - 1;
        self.latencies
            .get(rank.min(self.latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }
}

/// What to ask for, and the body length every answer must have, give or take
/// [`PER_SCRAPE_SLACK`] (none: bodies that change as sources poll).
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub addr: SocketAddr,
    pub path: &'a str,
    pub gzip: bool,
    pub expected_len: Option<usize>,
}

/// How far an answer's length may stray: the exporter's per-scrape block (process figures,
/// scrape counts) changes by a few digits from one scrape to the next.
const PER_SCRAPE_SLACK: usize = 1024;

/// `clients` connections scrape `target` for `warm_up` (not counted), then for `duration`.
pub async fn run(
    target: Target<'_>,
    clients: usize,
    warm_up: Duration,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let measure_from = Instant::now() + warm_up;
    let until = measure_from + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (addr, path, gzip, expected_len) = (
            target.addr,
            target.path.to_string(),
            target.gzip,
            target.expected_len,
        );
        tasks.spawn(
            async move { client(addr, &path, gzip, expected_len, measure_from, until).await },
        );
    }
    let mut latencies = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined??);
    }
    // Clients stop after the request in flight at `until`, so the run ends with the last one.
    let elapsed = measure_from.elapsed();
    latencies.sort_unstable();
    Ok(LoadResult {
        requests: latencies.len(),
        elapsed,
        latencies,
    })
}

async fn client(
    addr: SocketAddr,
    path: &str,
    gzip: bool,
    expected_len: Option<usize>,
    measure_from: Instant,
    until: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut latencies = Vec::new();
    loop {
        let started = Instant::now();
        if started >= until {
            return Ok(latencies);
        }
        let mut request = Request::get(path).header(HOST, addr.to_string());
        if gzip {
            request = request.header(ACCEPT_ENCODING, "gzip");
        }
        // The connection takes the next request only once it has finished reading the last.
        sender.ready().await?;
        let response = sender
            .send_request(request.body(Empty::<Bytes>::new())?)
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{addr}{path} answered {}",
            response.status()
        );
        anyhow::ensure!(
            response.headers().contains_key(CONTENT_ENCODING) == gzip,
            "{addr}{path}: gzip asked {gzip}, Content-Encoding {:?}",
            response.headers().get(CONTENT_ENCODING)
        );
        let mut body = response.into_body();
        let mut received = 0;
        while let Some(frame) = body.frame().await {
            received += frame?.data_ref().map_or(0, Bytes::len);
        }
        if let Some(expected_len) = expected_len {
            anyhow::ensure!(
                received.abs_diff(expected_len) <= PER_SCRAPE_SLACK,
                "{addr}{path} sent {received} bytes, expected {expected_len}"
            );
        }
        if started >= measure_from {
            latencies.push(started.elapsed());
        }
    }
}

//! `check --online`: the offline checks, then for every source (a few at a time, each within
//! its poll timeout) a token and the smallest request to each endpoint its config will call.
//! One line per call: its result, its time and, for a failure, what failed and what to grant or
//! fix, as the vendor names it. Exit 0 only when every call succeeded. Nothing printed carries
//! a secret: URLs are redacted and errors never hold credentials.

use std::collections::VecDeque;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use tokio::time::Instant;

use crate::app;
use crate::config::{self, Config, SourceConfig};
use crate::http::{build_reqwest_client, endpoint_of, HttpError, TOKEN_ENDPOINT};
use crate::sources::Probe;

/// `check`'s flags.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Also call every source's vendor (token and each endpoint), the poll timeout each.
    #[arg(long)]
    pub online: bool,
    /// How `--online` prints the calls: `table`, or `json` for scripts.
    #[arg(long, value_enum, default_value_t = CheckOutput::Table, requires = "online")]
    pub output: CheckOutput,
}

/// How `check --online` prints its calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckOutput {
    Table,
    Json,
}

/// Sources checked at once: enough to finish a large config quickly, few enough not to look
/// like a burst to a vendor that several sources share.
const CONCURRENT_SOURCES: usize = 4;

/// One call to a vendor and how it went.
#[derive(Debug, Serialize)]
pub struct Call {
    pub source: String,
    pub vendor: &'static str,
    pub endpoint: String,
    pub ok: bool,
    /// The HTTP status of the answer, where one came.
    pub status: Option<u16>,
    pub millis: u64,
    /// For a failure: the request, what failed and what to do.
    pub error: Option<String>,
}

pub async fn command(config_file: &Path, output: CheckOutput) -> anyhow::Result<ExitCode> {
    let config = match config::load(config_file) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let calls = check_online(&config, Utc::now()).await?;
    let all_ok = calls.iter().all(|call| call.ok);
    match output {
        CheckOutput::Table => print!("{}", table(&calls)),
        CheckOutput::Json => {
            let report = serde_json::json!({"ok": all_ok, "calls": calls});
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(match all_ok {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// Every source's calls, in the config's order.
pub async fn check_online(config: &Config, now: DateTime<Utc>) -> anyhow::Result<Vec<Call>> {
    let shared = build_reqwest_client(&Default::default())?;
    let per_source: Vec<Vec<Call>> = stream::iter(&config.sources)
        .map(|source| calls_of(source, &shared, now))
        .buffered(CONCURRENT_SOURCES)
        .collect()
        .await;
    Ok(per_source.into_iter().flatten().collect())
}

/// The token (where the source has OAuth2 credentials), then each probe in turn; a probe's
/// follow-ups (an ID the vendor lists) run after it succeeds. Without a token nothing else can
/// answer, so a token failure ends the source's calls.
async fn calls_of(
    source: &SourceConfig,
    shared: &reqwest::Client,
    now: DateTime<Utc>,
) -> Vec<Call> {
    let client = app::http_client(source, shared, Default::default());
    let session = client.session(Instant::now() + source.schedule.poll_timeout, None);
    let mut calls = Vec::new();
    let started = Instant::now();
    match session.token().await {
        Ok(false) => {}
        Ok(true) => calls.push(call(source, TOKEN_ENDPOINT, Ok(None), started.elapsed())),
        Err(error) => {
            let error = Err(Refused::scrubbed(&client, error));
            calls.push(call(source, TOKEN_ENDPOINT, error, started.elapsed()));
            return calls;
        }
    }
    let mut probes: VecDeque<Probe> = source.source.probes(&session, now).into();
    while let Some(probe) = probes.pop_front() {
        let path = probe.request.url.path().to_string();
        let endpoint = endpoint_of(source.source.facts().endpoints, &path)
            .map_or(path, |e| e.name.to_string());
        let started = Instant::now();
        match session.send(&probe.request).await {
            Ok(response) => {
                let status = Some(response.status.as_u16());
                calls.push(call(source, &endpoint, Ok(status), started.elapsed()));
                if let Some(then) = probe.then {
                    probes.extend(then(&response, &session));
                }
            }
            Err(error) => {
                let error = Err(Refused::scrubbed(&client, error));
                calls.push(call(source, &endpoint, error, started.elapsed()))
            }
        }
    }
    calls
}

/// A refused call as it may be shown: its status, and its error without known secrets.
struct Refused {
    status: Option<u16>,
    error: String,
}

impl Refused {
    fn scrubbed(client: &crate::http::HttpClient, error: HttpError) -> Self {
        Refused {
            status: status_of(&error),
            error: client.scrub_known(&error.to_string()),
        }
    }
}

fn call(
    source: &SourceConfig,
    endpoint: &str,
    result: Result<Option<u16>, Refused>,
    took: Duration,
) -> Call {
    let (status, error) = match result {
        Ok(status) => (status, None),
        Err(refused) => (refused.status, Some(refused.error)),
    };
    Call {
        source: source.name.clone(),
        vendor: source.vendor,
        endpoint: endpoint.to_string(),
        ok: error.is_none(),
        status,
        millis: took.as_millis() as u64,
        error,
    }
}

/// The status a failed call was answered with, a token request's included.
fn status_of(error: &HttpError) -> Option<u16> {
    match error {
        HttpError::Status { status, .. } => Some(status.as_u16()),
        HttpError::Token { failure, .. } => match failure.as_ref() {
            crate::http::TokenFailure::Request(inner) => status_of(inner),
            _ => None,
        },
        _ => None,
    }
}

/// What a call came to in the table: `ok`, the status refused, or why no answer came.
fn result_of(call: &Call) -> String {
    match (call.ok, call.status, &call.error) {
        (true, _, _) => "ok".to_string(),
        (false, Some(status), _) => format!("HTTP {status}"),
        (false, None, Some(error)) if error.contains("TLS to ") => "TLS".to_string(),
        (false, None, Some(error)) if error.contains("no answer within") => "timeout".to_string(),
        (false, None, _) => "no answer".to_string(),
    }
}

/// Aligned columns, a failure's explanation indented under it, and a count at the end.
pub fn table(calls: &[Call]) -> String {
    let rows: Vec<[String; 5]> = calls
        .iter()
        .map(|c| {
            let took = format!("{}ms", c.millis);
            [
                c.source.clone(),
                c.vendor.to_string(),
                c.endpoint.clone(),
                result_of(c),
                took,
            ]
        })
        .collect();
    let header = ["SOURCE", "VENDOR", "ENDPOINT", "RESULT", "TIME"];
    let mut lines = super::columns::aligned(header, &rows).into_iter();
    let mut text = lines.next().unwrap_or_default() + "\n";
    for (line, call) in lines.zip(calls) {
        text.push_str(&format!("{line}\n"));
        if let Some(error) = &call.error {
            text.push_str(&format!("    {error}\n"));
        }
    }
    let good = calls.iter().filter(|c| c.ok).count();
    text.push_str(&format!("{good} of {} calls succeeded\n", calls.len()));
    text
}

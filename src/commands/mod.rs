//! Each command's body, which `main.rs` dispatches to: [`cli`] (the command line), [`demo`]
//! (simulators and an exporter against them), [`backfill`] (past instants as OpenMetrics),
//! [`focus`] (past days' cost and usage as FOCUS), [`seats`] (who holds idle seats), and
//! [`logging`] (log lines in Prometheus's form), [`online`] (`check --online`: every source's
//! vendor called once). [`run`] dispatches a parsed command line;
//! `serve`, `once` and `check` call into [`crate::app`].

pub mod backfill;
pub mod cli;
mod columns;
pub mod demo;
pub mod focus;
pub mod logging;
pub mod online;
pub mod seats;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::app;
use crate::config;
use crate::model::clock::SystemClock;
use crate::serve::server;
use crate::serve::web_config::WebConfig;
use cli::{Cli, Command};

/// Runs the command the command line names; the exit code says whether it succeeded.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.version {
        print!("{}", crate::model::build::version_text());
        return Ok(ExitCode::SUCCESS);
    }
    cli.check_flags()?;
    let config_file = cli.config_file();
    match cli.command() {
        Command::Check(online::Args { online: false, .. }) => Ok(check(&config_file)),
        Command::Check(online::Args { output, .. }) => online::command(&config_file, output).await,
        Command::Schema => {
            let schema = config::schema::schema();
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Once => once(&cli, &config_file).await,
        Command::Serve => serve(&cli, config_file).await,
        Command::Backfill(args) => {
            let config = config::load(&config_file)?.of_shard(cli.shard());
            backfill::command(&config, backfill::Request::of(args)?).await
        }
        Command::Focus(args) => {
            let config = config::load(&config_file)?.of_shard(cli.shard());
            focus::command(&config, &focus::Request::of(args)).await
        }
        Command::Seats(args) => {
            let config = config::load(&config_file)?.of_shard(cli.shard());
            seats::command(&config, &args.sources, args.format).await
        }
        Command::Demo(args) => demo(&cli, args.seed).await,
    }
}

async fn demo(cli: &Cli, seed: u64) -> anyhow::Result<ExitCode> {
    let endpoints = endpoints(cli)?;
    let listeners = cli.listeners().await?;
    demo::run(listeners, seed, endpoints, shutdown_on_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

fn check(config_file: &Path) -> ExitCode {
    match app::check(config_file, chrono::Utc::now()) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

async fn once(cli: &Cli, config_file: &Path) -> anyhow::Result<ExitCode> {
    let config = config::load(config_file)?;
    config
        .check_shard(cli.shard())
        .map_err(anyhow::Error::msg)?;
    let config = config.of_shard(cli.shard());
    let (body, all_succeeded) = app::once(config, Arc::new(SystemClock)).await?;
    print!("{}", String::from_utf8_lossy(&body));
    Ok(match all_succeeded {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

async fn serve(cli: &Cli, config_file: std::path::PathBuf) -> anyhow::Result<ExitCode> {
    let config = config::load(&config_file)?;
    config
        .check_shard(cli.shard())
        .map_err(anyhow::Error::msg)?;
    let endpoints = endpoints(cli)?;
    let listeners = cli.listeners().await?;
    let file = app::ConfigFile {
        path: Some(config_file),
        shard: cli.shard(),
    };
    let clock = Arc::new(SystemClock);
    app::run(
        config,
        listeners,
        clock,
        shutdown_on_signal(),
        file,
        endpoints,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The web config (loaded: a bad one stops the start) and the metrics path.
fn endpoints(cli: &Cli) -> anyhow::Result<server::Endpoints> {
    let web = cli.web_config_file.as_deref().map(WebConfig::load);
    Ok(server::Endpoints {
        web: web.transpose()?.map(Arc::new),
        telemetry_path: cli
            .telemetry_path
            .clone()
            .unwrap_or_else(|| server::DEFAULT_TELEMETRY_PATH.to_string()),
    })
}

/// Cancelled on SIGINT or SIGTERM.
fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match terminate.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}

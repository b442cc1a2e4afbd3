use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use consumption_exporter::cli::{Cli, Command};
use consumption_exporter::clock::SystemClock;
use consumption_exporter::web_config::WebConfig;
use consumption_exporter::{app, backfill, config, demo, server};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    // Before the runtime starts any thread.
    consumption_exporter::memory::tune_allocator();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("consumption_exporter: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async_main())
}

async fn async_main() -> ExitCode {
    let cli = Cli::parse();
    consumption_exporter::logging::init(cli.log_level, cli.log_format);
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("consumption_exporter: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.version {
        print!("{}", consumption_exporter::version_text());
        return Ok(ExitCode::SUCCESS);
    }
    cli.check_flags()?;
    let config_file = cli.config_file();
    match cli.command() {
        Command::Check => Ok(match app::check(&config_file, chrono::Utc::now()) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::FAILURE
            }
        }),
        Command::Schema => {
            let schema = consumption_exporter::config::schema::schema();
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Once => {
            let config = config::load(&config_file)?.of_shard(cli.shard());
            let (body, all_succeeded) = app::once(config, Arc::new(SystemClock)).await?;
            print!("{}", String::from_utf8_lossy(&body));
            Ok(if all_succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Serve => {
            let config = config::load(&config_file)?;
            let endpoints = endpoints(&cli)?;
            let listeners = cli.listeners().await?;
            app::run(
                config,
                listeners,
                Arc::new(SystemClock),
                shutdown_on_signal(),
                app::ConfigFile {
                    path: Some(config_file),
                    shard: cli.shard(),
                },
                endpoints,
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backfill {
            from,
            to,
            step,
            sources,
            labels,
            output,
        } => {
            let range = backfill::Range::parse(&from, &to, step, chrono::Utc::now())
                .map_err(anyhow::Error::msg)?;
            let config = config::load(&config_file)?.of_shard(cli.shard());
            let request = backfill::Request {
                range,
                sources,
                labels,
                output,
            };
            let summary = backfill::run(&config, &request, &mut std::io::stderr()).await?;
            eprintln!(
                "wrote {}: {} steps of {} sources, {} samples, {} bytes; load it with: promtool tsdb create-blocks-from openmetrics {} <data dir>",
                request.output.display(),
                summary.steps,
                summary.sources,
                summary.samples,
                summary.bytes,
                request.output.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { seed } => {
            let endpoints = endpoints(&cli)?;
            let listeners = cli.listeners().await?;
            demo::run(listeners, seed, endpoints, shutdown_on_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
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

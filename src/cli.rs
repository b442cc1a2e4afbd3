//! The command line, with the flag names Prometheus exporters use.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::DEFAULT_LISTEN_ADDRESS;

#[derive(Parser, Debug)]
#[command(
    name = "consumption_exporter",
    version,
    about = "Prometheus exporter for SaaS licensing and consumption APIs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The configuration file.
    #[arg(long = "config.file", default_value = "exporter.yml", global = true)]
    pub config_file: PathBuf,

    /// Address to serve /metrics on.
    #[arg(long = "web.listen-address", default_value = DEFAULT_LISTEN_ADDRESS, global = true)]
    pub listen_address: String,

    /// TLS and basic auth for the endpoints, in the Prometheus exporter-toolkit format.
    #[arg(long = "web.config.file", global = true)]
    pub web_config_file: Option<PathBuf>,

    /// Only log messages at or above this level.
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info, global = true)]
    pub log_level: LogLevel,

    /// Log line format.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt, global = true)]
    pub log_format: LogFormat,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the exporter (the default).
    Serve,
    /// Validate the config file: exit 0, or print every error with its line and column.
    Check,
    /// Poll every source once and print the exposition (exit 1 if any source failed).
    Once,
    /// Start every vendor simulator on loopback and the exporter against them.
    Demo {
        /// Seed of the simulated data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Logfmt,
    Json,
}

/// Sends `tracing` output to stderr in the chosen format.
pub fn init_logging(level: LogLevel, format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = match level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error => tracing::Level::ERROR,
    };
    // Our own crate at the chosen level; the libraries' chatter only from warn up.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::WARN.min(level))
        .with_target("consumption_exporter", level);
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Logfmt => registry
            .with(
                tracing_logfmt::builder()
                    .layer()
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .init(),
    }
}

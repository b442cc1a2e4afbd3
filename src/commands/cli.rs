//! The command line, with the flag names Prometheus exporters use.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub const DEFAULT_CONFIG_FILE: &str = "exporter.yml";

#[derive(Parser, Debug)]
#[command(
    name = "consumption_exporter",
    disable_version_flag = true,
    about = "Prometheus exporter for SaaS licensing and consumption APIs"
)]
pub struct Cli {
    /// Print the version, revision, branch, build user and date, Rust version and platform.
    #[arg(long, global = true)]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// The configuration file [default: exporter.yml].
    #[arg(long = "config.file", global = true)]
    pub config_file: Option<PathBuf>,

    /// Address to listen on; repeat for several. `:PORT` is every interface, IPv4 and IPv6
    /// [default: :10115].
    #[arg(long = "web.listen-address", global = true)]
    pub listen_addresses: Vec<String>,

    /// Poll and serve only shard I of N (0-based) of the config's sources, by a consistent hash
    /// of their names: run N replicas with 0/N … N-1/N [default: 0/1, every source].
    #[arg(long = "sources.shard", global = true, value_parser = crate::model::shard::Shard::parse)]
    pub shard: Option<crate::model::shard::Shard>,

    /// Serve on the sockets systemd passes (socket activation) instead of listening.
    #[arg(long = "web.systemd-socket", global = true)]
    pub systemd_socket: bool,

    /// The path the metrics are served on [default: /metrics].
    #[arg(long = "web.telemetry-path", global = true, value_parser = crate::serve::server::parse_telemetry_path)]
    pub telemetry_path: Option<String>,

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
    /// With `--online`, then get a token and make the smallest request to each endpoint every
    /// source calls, and say what to grant where one is refused.
    Check(super::online::Args),
    /// Poll every source once and print the exposition (exit 1 if any source failed).
    Once,
    /// Print the JSON Schema of the config file (`exporter.schema.json`), for editors and
    /// validators.
    Schema,
    /// Write what the sources would have served over a past range, as OpenMetrics with
    /// timestamps, for `promtool tsdb create-blocks-from openmetrics`.
    Backfill(super::backfill::Args),
    /// Write the daily cost and usage of past days as a FOCUS 1.2 cost-and-usage dataset
    /// (CSV), for FinOps tools: one row per day, source, sub-account, service and allocation.
    Focus(super::focus::Args),
    /// Print who holds an idle seat (user, flow or app, licence, last activity) per source that
    /// reports seat activity: for the licence owner, never in metrics or logs.
    Seats(super::seats::Args),
    /// Start every vendor simulator on loopback and the exporter against them.
    Demo(super::demo::Args),
}

/// A flag given to a command that has no use for it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{command} does not use {flag}: {why}")]
pub struct UnusedFlag {
    pub command: &'static str,
    pub flag: &'static str,
    pub why: &'static str,
}

impl Cli {
    pub fn command(&self) -> Command {
        self.command.clone().unwrap_or(Command::Serve)
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE))
    }

    /// This replica's shard of the sources (every source unless `--sources.shard`).
    pub fn shard(&self) -> crate::model::shard::Shard {
        self.shard.unwrap_or_default()
    }

    /// Where to listen when systemd passes no sockets: the flags, or the default.
    pub fn listen_addresses(&self) -> Vec<String> {
        match self.listen_addresses.is_empty() {
            true => vec![crate::serve::listen::DEFAULT_LISTEN_ADDRESS.to_string()],
            false => self.listen_addresses.clone(),
        }
    }

    /// The sockets to serve on: systemd's, or every listen address bound.
    pub async fn listeners(&self) -> anyhow::Result<Vec<tokio::net::TcpListener>> {
        match self.systemd_socket {
            true => crate::serve::listen::systemd_sockets(),
            false => crate::serve::listen::bind_all(&self.listen_addresses()).await,
        }
    }

    /// Refuses a flag the command would ignore: a flag is never accepted and then ignored.
    pub fn check_flags(&self) -> Result<(), UnusedFlag> {
        let command = self.command();
        let unused = |flag, why| UnusedFlag {
            command: command.name(),
            flag,
            why,
        };
        let web_flags = [
            ("--web.listen-address", !self.listen_addresses.is_empty()),
            ("--web.systemd-socket", self.systemd_socket),
            ("--web.telemetry-path", self.telemetry_path.is_some()),
            ("--web.config.file", self.web_config_file.is_some()),
        ];
        let web_flag = web_flags
            .into_iter()
            .find_map(|(flag, given)| given.then_some(flag));
        if let (false, Some(flag)) = (command.serves(), web_flag) {
            return Err(unused(flag, "it serves nothing; drop the flag"));
        }
        match command {
            Command::Demo(_) if self.config_file.is_some() => Err(unused(
                "--config.file",
                "the demo makes its own config for its simulators; run `consumption_exporter serve --config.file ...` for yours",
            )),
            Command::Check(_) | Command::Schema | Command::Demo(_) if self.shard.is_some() => {
                Err(unused(
                    "--sources.shard",
                    "only serve, once, backfill, focus and seats run a shard of the sources; check validates them all",
                ))
            }
            Command::Schema if self.config_file.is_some() => Err(unused(
                "--config.file",
                "the schema is of every config, not of one file; validate a file with `check`",
            )),
            _ if self.systemd_socket && !self.listen_addresses.is_empty() => Err(unused(
                "--web.listen-address",
                "with --web.systemd-socket the addresses are systemd's (ListenStream= in the .socket unit); drop one of the two flags",
            )),
            _ => Ok(()),
        }
    }
}

impl Command {
    /// Whether the command serves HTTP, so the `--web.*` flags mean something to it.
    fn serves(&self) -> bool {
        matches!(self, Command::Serve | Command::Demo(_))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Command::Serve => "serve",
            Command::Check(_) => "check",
            Command::Schema => "schema",
            Command::Once => "once",
            Command::Backfill(_) => "backfill",
            Command::Focus(_) => "focus",
            Command::Seats(_) => "seats",
            Command::Demo(_) => "demo",
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("consumption_exporter").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn check_output_is_for_online_only() {
        let args = ["consumption_exporter", "check", "--output", "json"];
        let refused = Cli::try_parse_from(args).map(|_| ()).unwrap_err();
        assert!(refused.to_string().contains("--online"), "{refused}");
        let online = parse(&["check", "--online", "--output", "json"]);
        assert_eq!(
            online.command(),
            Command::Check(crate::commands::online::Args {
                online: true,
                output: crate::commands::online::CheckOutput::Json
            })
        );
    }

    #[test]
    fn a_flag_the_command_does_not_use_is_refused() {
        let refused = |args: &[&str]| parse(args).check_flags().map_err(|e| e.flag);
        assert_eq!(
            refused(&["demo", "--config.file", "x.yml"]),
            Err("--config.file")
        );
        assert_eq!(
            refused(&["check", "--web.listen-address", ":1"]),
            Err("--web.listen-address")
        );
        assert_eq!(
            refused(&["once", "--web.config.file", "w.yml"]),
            Err("--web.config.file")
        );
        assert_eq!(refused(&["demo", "--web.config.file", "w.yml"]), Ok(()));
        assert_eq!(
            refused(&["--config.file", "x.yml", "--web.listen-address", ":1"]),
            Ok(())
        );
        assert_eq!(parse(&[]).config_file(), PathBuf::from("exporter.yml"));
        assert_eq!(parse(&["check"]).listen_addresses(), [":10115"]);
        assert_eq!(
            refused(&["--web.systemd-socket", "--web.listen-address", ":1"]),
            Err("--web.listen-address")
        );
        assert_eq!(
            refused(&["check", "--web.systemd-socket"]),
            Err("--web.systemd-socket")
        );
        let repeated = parse(&[
            "--web.listen-address",
            ":1",
            "--web.listen-address",
            "[::1]:2",
        ]);
        assert_eq!(repeated.listen_addresses(), [":1", "[::1]:2"]);
    }
}

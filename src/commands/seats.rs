//! `consumption_exporter seats`: who holds an idle seat, per source that reports seat activity,
//! printed for the licence owner as a table or CSV. Holders are per-user facts: this command is
//! the only place they are shown, never a metric label or a log line.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::app;
use crate::commands::cli::SeatsFormat;
use crate::config::{Config, SourceConfig};
use crate::model::clock::{SharedClock, SystemClock};

/// One idle seat.
#[derive(Debug, Clone, PartialEq)]
pub struct IdleSeat {
    pub source: String,
    pub licence: String,
    pub holder: String,
    pub last_activity: Option<DateTime<Utc>>,
}

pub async fn command(
    config: &Config,
    names: &[String],
    format: SeatsFormat,
) -> anyhow::Result<ExitCode> {
    let seats = idle_seats(config, names, std::sync::Arc::new(SystemClock)).await?;
    let mut out = std::io::stdout().lock();
    match format {
        SeatsFormat::Table => write_table(&mut out, &seats)?,
        SeatsFormat::Csv => write_csv(&mut out, &seats)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Polls each chosen source's seats once, as of `clock`, and lists the idle ones, source by
/// source. A source that fails fails the command: a list that silently lacks one would
/// understate the waste.
pub async fn idle_seats(
    config: &Config,
    names: &[String],
    clock: SharedClock,
) -> anyhow::Result<Vec<IdleSeat>> {
    let chosen = choose(config, names)?;
    let subset = Config {
        sources: chosen,
        ..config.clone()
    };
    let (_store, pollers) = app::pollers(&subset, clock.clone())?;
    let mut idle = Vec::new();
    for poller in &pollers {
        let name = &poller.config.name;
        let seats = poller
            .poll_seats()
            .await
            .map_err(|e| anyhow::anyhow!("source {name} ({}): {e}", poller.config.vendor))?;
        let idle_after =
            chrono::Duration::from_std(poller.config.idle_after).unwrap_or(chrono::Duration::MAX);
        let now = clock.now();
        for (licence, holder) in crate::seats::idle_holders(&seats, idle_after, now) {
            idle.push(IdleSeat {
                source: name.clone(),
                licence: licence.to_string(),
                holder: holder.who.clone(),
                last_activity: holder.last_activity,
            });
        }
    }
    Ok(idle)
}

/// The named sources (all by default) that report seat activity; a named one that does not is
/// an error, as an unknown one is.
fn choose(config: &Config, names: &[String]) -> anyhow::Result<Vec<SourceConfig>> {
    let reports = |s: &SourceConfig| s.source.reports_seat_activity();
    for name in names {
        match config.sources.iter().find(|s| &s.name == name) {
            None => anyhow::bail!("unknown source {name}: the config has {}", list(config, |_| true)),
            Some(source) if !reports(source) => anyhow::bail!(
                "source {name} ({}) reports no seat activity, so none of its seats can be idle; sources that do: {}",
                source.vendor,
                list(config, reports)
            ),
            Some(_) => {}
        }
    }
    let chosen: Vec<SourceConfig> = config
        .sources
        .iter()
        .filter(|s| reports(s) && (names.is_empty() || names.contains(&s.name)))
        .cloned()
        .collect();
    if chosen.is_empty() {
        anyhow::bail!("no source reports seat activity: set seats: true on a source whose vendor reports it (docs/seats.md lists them)");
    }
    Ok(chosen)
}

fn list(config: &Config, keep: impl Fn(&SourceConfig) -> bool) -> String {
    let names: Vec<&str> = config
        .sources
        .iter()
        .filter(|s| keep(s))
        .map(|s| s.name.as_str())
        .collect();
    match names.is_empty() {
        true => "none".to_string(),
        false => names.join(", "),
    }
}

fn last_activity(seat: &IdleSeat) -> String {
    seat.last_activity
        .map_or_else(|| "never".to_string(), |t| t.to_rfc3339())
}

const HEADER: [&str; 4] = ["source", "licence", "holder", "last_activity"];

/// Aligned columns, a header first.
pub fn write_table(out: &mut dyn Write, seats: &[IdleSeat]) -> std::io::Result<()> {
    let rows: Vec<[String; 4]> = seats
        .iter()
        .map(|s| {
            [
                s.source.clone(),
                s.licence.clone(),
                s.holder.clone(),
                last_activity(s),
            ]
        })
        .collect();
    for line in super::columns::aligned(HEADER, &rows) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// RFC 4180 CSV (CRLF line ends) with a header.
pub fn write_csv(out: &mut dyn Write, seats: &[IdleSeat]) -> anyhow::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer.write_record(HEADER)?;
    for seat in seats {
        let last = last_activity(seat);
        writer.write_record([&seat.source, &seat.licence, &seat.holder, &last])?;
    }
    writer.flush()?;
    Ok(())
}

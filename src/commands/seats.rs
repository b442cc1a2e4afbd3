//! `consumption_exporter seats`: who holds an idle seat, per source that reports seat activity,
//! printed for the licence owner as a table or CSV. Holders are per-user facts: this command is
//! the only place they are shown, never a metric label or a log line.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::app;
use crate::config::{Config, SourceConfig};
use crate::model::clock::{SharedClock, SystemClock};

/// `seats`'s flags.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Only this source (repeat for several; default: every source that reports activity).
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// `table` (aligned columns) or `csv` (RFC 4180, with a header).
    #[arg(long, value_enum, default_value_t = SeatsFormat::Table)]
    pub format: SeatsFormat,
}

/// How `seats` prints the holders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SeatsFormat {
    Table,
    Csv,
}

/// One idle seat.
#[derive(Debug, Clone, PartialEq)]
pub struct IdleSeat {
    pub source: String,
    /// The tenant or environment; empty where the vendor has none.
    pub sub_account: String,
    pub licence: String,
    /// The vendor's stable id of the holder.
    pub holder_id: String,
    pub holder_name: Option<String>,
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
        for (licence, holder) in crate::seats::idle_holders(&seats) {
            idle.push(IdleSeat {
                source: name.clone(),
                sub_account: licence.sub_account.clone(),
                licence: licence.licence.clone(),
                holder_id: holder.id.clone(),
                holder_name: holder.name.clone(),
                last_activity: holder.last_activity,
            });
        }
    }
    Ok(idle)
}

/// The named sources (all by default) that report seat activity; a named one that does not is
/// an error, as an unknown one is.
fn choose(config: &Config, names: &[String]) -> anyhow::Result<Vec<SourceConfig>> {
    let reports = |s: &SourceConfig| s.source.facts().reports_seat_activity;
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

const HEADER: [&str; 6] = [
    "source",
    "sub_account",
    "licence",
    "holder_id",
    "holder_name",
    "last_activity",
];

/// One seat's cells as a vendor wrote them; `never` where it has no activity.
fn cells(seat: &IdleSeat, never: &str) -> [String; 6] {
    let last_activity = seat
        .last_activity
        .map_or_else(|| never.to_string(), |t| t.to_rfc3339());
    [
        seat.source.clone(),
        seat.sub_account.clone(),
        seat.licence.clone(),
        seat.holder_id.clone(),
        seat.holder_name.clone().unwrap_or_default(),
        last_activity,
    ]
}

/// Aligned columns, a header first. A vendor's control characters (a terminal's escape
/// sequences among them) are left out: a name must not rewrite the operator's screen.
pub fn write_table(out: &mut dyn Write, seats: &[IdleSeat]) -> std::io::Result<()> {
    let rows: Vec<[String; 6]> = seats
        .iter()
        .map(|s| cells(s, "never").map(|cell| without_control_characters(&cell)))
        .collect();
    for line in super::columns::aligned(HEADER, &rows) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// RFC 4180 CSV (CRLF line ends) with a header; `last_activity` empty for never. A cell a
/// spreadsheet would run as a formula is neutralised as OWASP's CSV-injection rule says.
pub fn write_csv(out: &mut dyn Write, seats: &[IdleSeat]) -> anyhow::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer.write_record(HEADER)?;
    for seat in seats {
        writer.write_record(cells(seat, "").map(|cell| not_a_formula(&cell)))?;
    }
    writer.flush()?;
    Ok(())
}

/// A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return, prefixed with a
/// single quote so that a spreadsheet shows it as text (OWASP, "CSV Injection").
fn not_a_formula(cell: &str) -> String {
    match cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{cell}"),
        false => cell.to_string(),
    }
}

fn without_control_characters(cell: &str) -> String {
    cell.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(holder_id: &str, holder_name: &str) -> IdleSeat {
        IdleSeat {
            source: "s".into(),
            sub_account: "t1".into(),
            licence: "Attended".into(),
            holder_id: holder_id.into(),
            holder_name: Some(holder_name.into()),
            last_activity: None,
        }
    }

    #[test]
    fn a_cell_a_spreadsheet_would_run_is_written_as_text() {
        let seats = [
            seat("=HYPERLINK(\"http://x\")", "+1"),
            seat("-2", "@SUM(A1)"),
            seat("\tx", "\ry"),
            seat("jane@contoso.com", "Jane - Sales"),
        ];
        let mut out = Vec::new();
        write_csv(&mut out, &seats).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<Vec<String>> = csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        let holders: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r[3].as_str(), r[4].as_str()))
            .collect();
        assert_eq!(
            holders,
            [
                ("'=HYPERLINK(\"http://x\")", "'+1"),
                ("'-2", "'@SUM(A1)"),
                ("'\tx", "'\ry"),
                ("jane@contoso.com", "Jane - Sales"),
            ]
        );
        assert_eq!(rows[0][5], "", "never is an empty last_activity");
    }

    #[test]
    fn a_table_leaves_out_a_vendors_terminal_escapes() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            &[seat("\u{1b}[2J\u{1b}]0;owned\u{7}bob", "Bob\r\nEvil")],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains("[2J]0;ownedbob"), "{text}");
        assert!(text.contains("BobEvil"), "{text}");
        assert_eq!(text.lines().count(), 2, "{text}");
    }
}

//! `consumption_exporter backfill`: what the exporter would have served at each step of a past
//! range, as OpenMetrics with timestamps, for `promtool tsdb create-blocks-from openmetrics`.
//!
//! Each step is a poll as of that instant (an injected clock) of every source whose API serves
//! a range of days. Between steps the poller keeps the days before the step's own as settled
//! (`settled_after: 0s`, never a full refresh: the vendor's history is final by now), so a step
//! reads its own day so far and memory holds one step's aggregates, whatever the range. Lines
//! go to one spool file per family as they come, so that the output groups each family once,
//! as OpenMetrics requires; the output appears, by rename, only when every step succeeded.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};

use crate::app;
use crate::config::{Config, SourceConfig};
use crate::engine::poller::Poller;
use crate::exposition::text::write_timestamped;
use crate::model::clock::FixedClock;
use crate::model::snapshot::Snapshot;

/// `backfill`'s flags.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The first instant: YYYY-MM-DD (midnight UTC) or an RFC 3339 time.
    #[arg(long)]
    pub from: String,
    /// The last instant: YYYY-MM-DD, an RFC 3339 time, or `now`.
    #[arg(long, default_value = "now")]
    pub to: String,
    /// Time between two instants written.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub step: std::time::Duration,
    /// Only this source (repeat for several; default: every source with a history).
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// A label NAME=VALUE on every series (repeat for several), e.g. the `job` and
    /// `instance` Prometheus gives the live ones.
    #[arg(long = "label", value_parser = crate::commands::backfill::parse_label)]
    pub labels: Vec<(String, String)>,
    /// The file to write; it appears only when the whole range was read.
    #[arg(long)]
    pub output: PathBuf,
}

/// The instants a backfill writes: `from`, then every `step`, up to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub step: TimeDelta,
}

impl Range {
    /// Reads `--from`, `--to` and `--step`; a range that is empty, in the future or has no
    /// step is refused, before any request is sent.
    pub fn parse(from: &str, to: &str, step: Duration, now: DateTime<Utc>) -> Result<Self, String> {
        let instant = |flag: &str, text: &str| {
            parse_instant(text, now).ok_or_else(|| {
                format!("{flag} {text:?} is not a date (YYYY-MM-DD, midnight UTC), an RFC 3339 time or `now`")
            })
        };
        let (from, to) = (instant("--from", from)?, instant("--to", to)?);
        let step = TimeDelta::from_std(step).map_err(|_| "--step is too long".to_string())?;
        if step < TimeDelta::seconds(1) {
            return Err("--step must be at least 1s".into());
        }
        if to > now {
            return Err(format!("--to {to} is in the future: the vendors have no data for it yet; use `now` or an earlier time"));
        }
        if from >= to {
            return Err(format!(
                "--from {from} is not before --to {to}: nothing to backfill"
            ));
        }
        Ok(Range { from, to, step })
    }

    fn steps(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        std::iter::successors(Some(self.from), |at| Some(*at + self.step))
            .take_while(|at| *at <= self.to)
    }

    fn days(&self) -> i64 {
        (self.to.date_naive() - self.from.date_naive()).num_days() + 1
    }
}

/// `now`, `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
pub fn parse_instant(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if text == "now" {
        return Some(now);
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What to backfill and where.
pub struct Request {
    pub range: Range,
    /// Source names (none: every source).
    pub sources: Vec<String>,
    /// Labels added to every series, as `--label` gives them (`job`, `instance`: what
    /// Prometheus adds when it scrapes, so that backfilled and live series are one).
    pub labels: Vec<(String, String)>,
    pub output: PathBuf,
}

impl Request {
    /// The request `backfill`'s flags make, as of now.
    pub fn of(args: Args) -> anyhow::Result<Self> {
        let range = Range::parse(&args.from, &args.to, args.step, chrono::Utc::now())
            .map_err(anyhow::Error::msg)?;
        Ok(Request {
            range,
            sources: args.sources,
            labels: args.labels,
            output: args.output,
        })
    }
}

/// Reads `--label NAME=VALUE`: a Prometheus label name that the exporter does not set itself.
pub fn parse_label(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("--label {text:?} is not NAME=VALUE"))?;
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || name.starts_with("__") {
        return Err(format!("--label {name:?} is not a label name: letters, digits and _, not starting with a digit or __"));
    }
    if name == "source" {
        return Err("--label source: every series has its source label already".into());
    }
    let mut escaped = String::with_capacity(value.len());
    crate::model::snapshot::escape_into(&mut escaped, value, true);
    Ok((name.to_string(), escaped))
}

/// What a backfill wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub sources: usize,
    pub steps: usize,
    pub samples: u64,
    pub bytes: u64,
}

/// `backfill`: writes the file, with progress on stderr, and says what it wrote and how to
/// load it.
pub async fn command(config: &Config, request: Request) -> anyhow::Result<std::process::ExitCode> {
    let request = &request;
    let summary = run(config, request, &mut std::io::stderr()).await?;
    eprintln!(
        "wrote {}: {} steps of {} sources, {} samples, {} bytes; load it with: promtool tsdb create-blocks-from openmetrics {} <data dir>",
        request.output.display(),
        summary.steps,
        summary.sources,
        summary.samples,
        summary.bytes,
        request.output.display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

/// Writes the backfill `request` asks for, telling `progress` (stderr) which sources are
/// skipped and how far it got.
pub async fn run(
    config: &Config,
    request: &Request,
    progress: &mut (dyn Write + Send),
) -> anyhow::Result<Summary> {
    let chosen = choose_sources(config, &request.sources)?;
    check_labels(&request.labels, &chosen)?;
    let output = Output::prepare(&request.output)?;
    let with_history = with_history(chosen, progress, "backfill")?;
    let range = request.range;
    let clock = FixedClock::new(range.from);
    let (_store, pollers) = app::pollers(
        &Config {
            sources: with_history,
            max_concurrent_polls: config.max_concurrent_polls,
            showback: config.showback.clone(),
        },
        Arc::new(clock.clone()),
    )?;
    let mut spool = Spool::beside(&output);
    let mut summary = Summary {
        sources: pollers.len(),
        ..Summary::default()
    };
    let mut reported_day = None;
    for at in range.steps() {
        clock.set(at);
        for poller in &pollers {
            let snapshot = poller.poll_history().await.map_err(|error| {
                anyhow::anyhow!(
                    "source {} ({}): backfill failed at {}: {error}; {} was not written",
                    poller.config.name,
                    poller.config.vendor,
                    at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    request.output.display()
                )
            })?;
            let source = (poller.config.name.as_str(), request.labels.as_slice());
            summary.samples += spool
                .add(source, &snapshot, at)
                .map_err(|e| anyhow::anyhow!("spooling in {}: {e}", output.directory.display()))?;
        }
        summary.steps += 1;
        if reported_day != Some(at.date_naive()) {
            reported_day = Some(at.date_naive());
            report_progress(progress, &range, at, &pollers)?;
        }
    }
    summary.bytes = spool
        .finish(output)
        .with_context(|| format!("writing {}", request.output.display()))?;
    Ok(summary)
}

/// The chosen sources that have a history, as a backfill polls them; a line on `progress` for
/// each that has none.
pub(super) fn with_history(
    chosen: Vec<&SourceConfig>,
    progress: &mut (dyn Write + Send),
    command: &str,
) -> anyhow::Result<Vec<SourceConfig>> {
    let mut with_history = Vec::new();
    for source in chosen {
        if source.source.facts().reads_date_range {
            with_history.push(for_backfill(source));
        } else {
            writeln!(progress, "source {} ({}): skipped: its vendor's API reports the present state, not past days, so it has no history to {command}", source.name, source.vendor)?;
        }
    }
    anyhow::ensure!(
        !with_history.is_empty(),
        "none of the chosen sources has a history to {command}: only sources whose vendor's API serves a range of days have one (docs/operations.md, \"Backfill\")"
    );
    Ok(with_history)
}

/// Refuses a `--label` whose name another `--label` has, or a backfilled series has already:
/// promtool would refuse the file, after every vendor request.
fn check_labels(labels: &[(String, String)], sources: &[&SourceConfig]) -> anyhow::Result<()> {
    for (i, (name, _)) in labels.iter().enumerate() {
        if labels[..i].iter().any(|(earlier, _)| earlier == name) {
            anyhow::bail!("--label {name} is given twice: give each label once");
        }
        let showback = sources.iter().find_map(|s| s.showback.as_ref());
        let showback_label = showback.is_some_and(|showback| {
            crate::showback::LABEL_NAMES.contains(&name.as_str())
                || showback.dimensions.iter().any(|d| d.name == *name)
        });
        if showback_label {
            anyhow::bail!("--label {name}: the showback series (money:, allocation:) have a {name} label already; choose another name");
        }
        let taken_by = sources.iter().find(|source| {
            // A backfill serves the budgets configured, not the vendor's own (see `Poller`).
            source
                .source
                .facts()
                .label_names
                .clone()
                .contains(&name.as_str())
                || !source.budgets.is_empty()
                    && crate::budgets::LABEL_NAMES.contains(&name.as_str())
        });
        if let Some(source) = taken_by {
            anyhow::bail!(
                "--label {name}: source {} ({}) has series with a {name} label already; choose another name",
                source.name,
                source.vendor
            );
        }
    }
    Ok(())
}

/// Where the backfill goes: checked before the first request, so a path that cannot be
/// written is found before the vendors are asked for weeks of days.
pub(super) struct Output {
    pub(super) path: PathBuf,
    directory: PathBuf,
    /// The file written, beside `path` and renamed to it at the end.
    pub(super) file: tempfile::NamedTempFile,
}

impl Output {
    pub(super) fn prepare(path: &Path) -> anyhow::Result<Self> {
        if let Ok(existing) = std::fs::metadata(path) {
            anyhow::ensure!(
                existing.is_file(),
                "--output {} exists and is not a regular file; refusing to replace it: name a file",
                path.display()
            );
        }
        let directory = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        anyhow::ensure!(
            directory.is_dir(),
            "--output {}: the directory {} does not exist; create it first",
            path.display(),
            directory.display()
        );
        let file = tempfile::NamedTempFile::new_in(&directory).with_context(|| {
            format!(
                "--output {}: cannot create a file in {}",
                path.display(),
                directory.display()
            )
        })?;
        Ok(Output {
            path: path.to_path_buf(),
            directory,
            file,
        })
    }
}

/// The sources named (all when none is), or an error naming the unknown ones.
pub(super) fn choose_sources<'c>(
    config: &'c Config,
    names: &[String],
) -> anyhow::Result<Vec<&'c SourceConfig>> {
    let unknown: Vec<&str> = names
        .iter()
        .filter(|name| !config.sources.iter().any(|s| &s.name == *name))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        anyhow::bail!(
            "unknown source {}: the config has {}",
            unknown.join(", "),
            known.join(", ")
        );
    }
    Ok(config
        .sources
        .iter()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .collect())
}

/// The source as a backfill polls it: every day before the step's own is settled (the vendor's
/// history is final by now), and the whole range is never read again.
pub(super) fn for_backfill(source: &SourceConfig) -> SourceConfig {
    let mut source = source.clone();
    source.schedule.settled_after = Duration::ZERO;
    source.schedule.full_refresh_interval = Duration::MAX;
    source
}

/// One line per day of the range: the day and each source's requests so far.
fn report_progress(
    progress: &mut (dyn Write + Send),
    range: &Range,
    at: DateTime<Utc>,
    pollers: &[Poller],
) -> std::io::Result<()> {
    let day = (at.date_naive() - range.from.date_naive()).num_days() + 1;
    let requests: Vec<String> = pollers
        .iter()
        .map(|p| {
            let sent = p.slot.stats.requests_sent();
            format!("{} {sent} requests", p.config.name)
        })
        .collect();
    writeln!(
        progress,
        "backfill: {} (day {day} of {}): {}",
        at.date_naive(),
        range.days(),
        requests.join(", ")
    )
}

/// The lines of each family so far, in a file of their own (unnamed, gone when dropped),
/// beside the output: the spool is as large as the output, which `$TMPDIR` (often a tmpfs
/// in memory) may not hold.
struct Spool {
    directory: PathBuf,
    families: Vec<SpooledFamily>,
    lines: String,
}

struct SpooledFamily {
    name: &'static str,
    help: &'static str,
    file: BufWriter<File>,
}

impl Spool {
    fn beside(output: &Output) -> Self {
        Spool {
            directory: output.directory.clone(),
            families: Vec::new(),
            lines: String::new(),
        }
    }

    /// Spools the snapshot's samples at `at`; returns how many.
    fn add(
        &mut self,
        source: (&str, &[(String, String)]),
        snapshot: &Snapshot,
        at: DateTime<Utc>,
    ) -> std::io::Result<u64> {
        let timestamp = openmetrics_timestamp(at);
        let mut samples = 0;
        let mut lines = std::mem::take(&mut self.lines);
        for family in &snapshot.families {
            lines.clear();
            write_timestamped(&mut lines, source, family, &timestamp);
            samples += family.len() as u64;
            self.family(family.desc.name, family.desc.help)?
                .write_all(lines.as_bytes())?;
        }
        self.lines = lines;
        Ok(samples)
    }

    fn family(
        &mut self,
        name: &'static str,
        help: &'static str,
    ) -> std::io::Result<&mut BufWriter<File>> {
        let index = match self.families.iter().position(|f| f.name == name) {
            Some(index) => index,
            None => {
                self.families.push(SpooledFamily {
                    name,
                    help,
                    file: BufWriter::new(tempfile::tempfile_in(&self.directory)?),
                });
                self.families.len() - 1
            }
        };
        Ok(&mut self.families[index].file)
    }

    /// Writes every family, once, and `# EOF` to the file beside `output`, then renames it to
    /// `output`: a reader never sees half a file. Returns the bytes written.
    fn finish(self, output: Output) -> std::io::Result<u64> {
        let mut out = BufWriter::new(output.file);
        for family in self.families {
            writeln!(out, "# HELP {} {}", family.name, escape_help(family.help))?;
            writeln!(out, "# TYPE {} gauge", family.name)?;
            let mut file = family.file.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            std::io::copy(&mut file, &mut out)?;
        }
        out.write_all(b"# EOF\n")?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.as_file().sync_all()?;
        let bytes = file.as_file().metadata()?.len();
        file.persist(&output.path).map_err(|e| e.error)?;
        Ok(bytes)
    }
}

/// Seconds since the epoch, with the milliseconds when there are any (the shortest decimal
/// that reads back as the same number).
fn openmetrics_timestamp(at: DateTime<Utc>) -> String {
    (at.timestamp_millis() as f64 / 1000.0).to_string()
}

/// OpenMetrics escapes backslashes, double quotes and line feeds in HELP.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::testing::at;

    #[test]
    fn a_range_is_read_from_dates_times_and_now_and_a_bad_one_is_refused() {
        let now = at("2026-12-01T09:30:00Z");
        let hour = Duration::from_secs(3600);
        let range = Range::parse("2026-11-29", "now", hour, now).unwrap();
        assert_eq!(range.from, at("2026-11-29T00:00:00Z"));
        assert_eq!(range.to, now);
        assert_eq!(range.steps().count(), 24 + 24 + 10);
        assert_eq!(range.days(), 3);
        let range = Range::parse("2026-11-30T23:00:00+01:00", "2026-12-01", hour, now).unwrap();
        assert_eq!(
            range.steps().collect::<Vec<_>>(),
            [
                at("2026-11-30T22:00:00Z"),
                at("2026-11-30T23:00:00Z"),
                at("2026-12-01T00:00:00Z")
            ]
        );

        let refused = |from, to, step| Range::parse(from, to, step, now).unwrap_err();
        assert!(refused("2026-12-01", "2026-11-01", hour).contains("is not before"));
        assert!(refused("2026-11-01", "2026-12-02", hour).contains("in the future"));
        assert!(refused("yesterday", "now", hour).contains("--from \"yesterday\" is not a date"));
        assert!(refused("2026-11-01", "now", Duration::ZERO).contains("at least 1s"));
    }

    #[test]
    fn labels_are_names_and_values_and_the_source_label_is_refused() {
        assert_eq!(
            parse_label("job=consumption_exporter"),
            Ok(("job".into(), "consumption_exporter".into()))
        );
        assert_eq!(
            parse_label("instance=a=\"b\""),
            Ok(("instance".into(), "a=\\\"b\\\"".into()))
        );
        assert!(parse_label("job")
            .unwrap_err()
            .contains("is not NAME=VALUE"));
        assert!(parse_label("9x=1")
            .unwrap_err()
            .contains("is not a label name"));
        assert!(parse_label("__name__=x")
            .unwrap_err()
            .contains("is not a label name"));
        assert!(parse_label("source=x")
            .unwrap_err()
            .contains("has its source label"));
    }

    #[test]
    fn timestamps_are_seconds_with_milliseconds_when_there_are_any() {
        assert_eq!(
            openmetrics_timestamp(at("2026-11-01T00:00:00Z")),
            "1793491200"
        );
        assert_eq!(
            openmetrics_timestamp(at("2026-11-01T00:00:00.250Z")),
            "1793491200.25"
        );
        assert_eq!(
            openmetrics_timestamp(at("2026-11-01T00:00:00.001Z")),
            "1793491200.001"
        );
    }
}

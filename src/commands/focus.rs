//! `consumption_exporter focus`: the daily cost and usage of a range of past days as a FOCUS 1.2
//! cost-and-usage dataset (CSV), for the FinOps tools that import FOCUS.
//!
//! Built on the engine `backfill` uses: each day D is a poll as of midnight after it (an
//! injected clock), in which D is yesterday, with the days before kept as settled, so that a
//! day reads its own day and memory holds a month's aggregates at most, whatever the range.
//! A row is what showback served as `window="yesterday"` on the day after, split by
//! sub-account. The file appears, by rename, only when every day of every source was read.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Seek, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Days, NaiveDate, Utc};

use super::backfill::{choose_sources, with_history, Output};
use crate::app;
use crate::config::{Config, SourceConfig};
use crate::engine::poller::Poller;
use crate::focus::{Account, FocusWriter};
use crate::model::billing::Billing;
use crate::model::clock::FixedClock;

/// `focus`'s flags.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The first charge day: YYYY-MM-DD (a UTC day).
    #[arg(long)]
    pub from: String,
    /// The last charge day, included (default: the last day every source has settled).
    #[arg(long)]
    pub to: Option<String>,
    /// Only this source (repeat for several; default: every billed source with a history).
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// The file to write, or `-` for stdout; written only when every day was read.
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Also export days within a source's `settled_after`, which the vendor may revise.
    #[arg(long)]
    pub include_unsettled: bool,
}

/// The charge days to export, first and last included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl DayRange {
    fn days(&self) -> impl Iterator<Item = NaiveDate> {
        let last = self.last;
        self.first.iter_days().take_while(move |day| *day <= last)
    }

    fn len(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }
}

/// Where the rows go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    File(PathBuf),
    Stdout,
}

impl Target {
    /// `-` is stdout; anything else a file.
    pub fn parse(text: &str) -> Self {
        match text {
            "-" => Target::Stdout,
            path => Target::File(PathBuf::from(path)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::File(path) => path.display().to_string(),
            Target::Stdout => "stdout".to_string(),
        }
    }
}

/// What to export and where.
pub struct Request {
    /// `--from`, as given.
    pub from: String,
    /// `--to`, as given; none: the last day every chosen source has settled.
    pub to: Option<String>,
    /// Source names (none: every source).
    pub sources: Vec<String>,
    pub output: Target,
    /// Also days the vendors may still revise (within a source's `settled_after`).
    pub include_unsettled: bool,
}

impl Request {
    /// The request `focus`'s flags make.
    pub fn of(args: Args) -> Self {
        Request {
            from: args.from,
            to: args.to,
            sources: args.sources,
            output: Target::parse(&args.output),
            include_unsettled: args.include_unsettled,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub sources: usize,
    pub days: usize,
    pub rows: u64,
}

/// `focus`: writes the dataset, with progress on stderr, and says what it wrote.
pub async fn command(config: &Config, request: &Request) -> anyhow::Result<std::process::ExitCode> {
    let summary = run(config, request, Utc::now(), &mut std::io::stderr()).await?;
    eprintln!(
        "wrote {}: {} rows of {} sources over {} days (FOCUS 1.2 cost and usage)",
        request.output.describe(),
        summary.rows,
        summary.sources,
        summary.days
    );
    Ok(std::process::ExitCode::SUCCESS)
}

/// Writes the export `request` asks for as of `now`, telling `progress` (stderr) which
/// sources are skipped, how far it got and which services had no money.
pub async fn run(
    config: &Config,
    request: &Request,
    now: DateTime<Utc>,
    progress: &mut (dyn Write + Send),
) -> anyhow::Result<Summary> {
    let currency = reporting_currency(config)?;
    let billed = billed(choose_sources(config, &request.sources)?, progress)?;
    let settling: Vec<&SourceConfig> = billed
        .iter()
        .copied()
        .filter(|source| source.source.facts().reads_date_range)
        .collect();
    let range = day_range(request, &settling, now)?;
    let chosen = with_history(billed, progress, "export")?;
    let (file, destination) = spool(&request.output)?;
    let clock = FixedClock::new(midnight_after(range.first));
    let sources = billed_pollers(config, chosen, &clock)?;
    let dimensions = config.showback.iter().flat_map(|s| &s.dimensions);
    let dimensions = dimensions.map(|d| d.name.clone()).collect();
    let mut writer = FocusWriter::new(BufWriter::new(file), dimensions, &currency)?;
    let mut summary = Summary {
        sources: sources.len(),
        ..Summary::default()
    };
    let mut unpriced = BTreeMap::new();
    for day in range.days() {
        clock.set(midnight_after(day));
        let rows = export_day(&sources, day, &mut writer, &mut unpriced)
            .await
            .map_err(|e| anyhow::anyhow!("{e}; {} was not written", request.output.describe()))?;
        summary.rows += rows;
        summary.days += 1;
        let done = (day - range.first).num_days() + 1;
        let days = range.len();
        writeln!(progress, "focus: {day} (day {done} of {days}): {rows} rows")?;
    }
    report_unpriced(&sources, &unpriced, progress)?;
    deliver(writer.finish().context("writing the rows")?, destination)?;
    Ok(summary)
}

/// A poller per source, as of `clock`, with who bills the source.
fn billed_pollers(
    config: &Config,
    sources: Vec<SourceConfig>,
    clock: &FixedClock,
) -> anyhow::Result<Vec<(Poller, Billing)>> {
    let history = Config {
        sources,
        max_concurrent_polls: config.max_concurrent_polls,
        showback: config.showback.clone(),
    };
    let (_store, pollers) = app::pollers(&history, Arc::new(clock.clone()))?;
    Ok(pollers
        .into_iter()
        .filter_map(|poller| {
            let billing = billing(&poller.config)?;
            Some((poller, billing))
        })
        .collect())
}

/// Writes every source's charges of `day` (the clock's yesterday); returns the rows written.
async fn export_day<W: Write>(
    sources: &[(Poller, Billing)],
    day: NaiveDate,
    writer: &mut FocusWriter<W>,
    unpriced: &mut BTreeMap<String, BTreeSet<String>>,
) -> anyhow::Result<u64> {
    let mut rows = 0;
    for (poller, billing) in sources {
        let (name, vendor) = (&poller.config.name, poller.config.vendor);
        let charges = poller.poll_charges(day).await.map_err(|error| {
            anyhow::anyhow!("source {name} ({vendor}): the export failed on {day}: {error}")
        })?;
        unpriced
            .entry(name.clone())
            .or_default()
            .extend(charges.unpriced);
        let account = Account {
            source: name,
            vendor,
            billing,
        };
        rows += writer.write_day(&account, day, &charges.charges)?;
    }
    Ok(rows)
}

/// The reporting currency: FOCUS bills every row in one.
fn reporting_currency(config: &Config) -> anyhow::Result<String> {
    let money = config.showback.as_ref().and_then(|s| s.money.as_ref());
    let money = money.ok_or_else(|| {
        anyhow::anyhow!("focus exports money, and the config has no money: section: add money.currency and the prices of your vendors' units (docs/showback.md)")
    })?;
    Ok(money.rates.currency.clone())
}

/// The chosen sources whose vendor bills their usage; a line on `progress` for each that
/// does not.
fn billed<'c>(
    chosen: Vec<&'c SourceConfig>,
    progress: &mut (dyn Write + Send),
) -> anyhow::Result<Vec<&'c SourceConfig>> {
    let mut billed = Vec::new();
    for source in chosen {
        match billing(source) {
            Some(_) => billed.push(source),
            None => writeln!(progress, "source {} ({}): skipped: its vendor does not bill its usage (it reports seats or a level), so it has no cost rows", source.name, source.vendor)?,
        }
    }
    Ok(billed)
}

/// Who bills the source's usage; none: its usage is not billed.
fn billing(source: &SourceConfig) -> Option<Billing> {
    let token_url = source.auth.token_url();
    source.source.billing(&source.base_url, token_url)
}

/// Midnight UTC at the end of `day`: the instant at which it is yesterday.
fn midnight_after(day: NaiveDate) -> DateTime<Utc> {
    (day + Days::new(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

/// The days to export: `--from`, up to `--to` or the last day every source has settled.
fn day_range(
    request: &Request,
    sources: &[&SourceConfig],
    now: DateTime<Utc>,
) -> anyhow::Result<DayRange> {
    let date = |flag: &str, text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .with_context(|| format!("{flag} {text:?} is not a date (YYYY-MM-DD, a UTC day)"))
    };
    let first = date("--from", &request.from)?;
    let yesterday = now.date_naive() - Days::new(1);
    let (settled, unsettled_source) = last_settled_day(sources, now);
    let last = match &request.to {
        Some(to) => date("--to", to)?,
        None if request.include_unsettled => yesterday,
        None => settled,
    };
    anyhow::ensure!(
        last <= yesterday,
        "--to {last} is not over yet: the last whole day is {yesterday}"
    );
    if last > settled && !request.include_unsettled {
        let source = unsettled_source.map_or(String::new(), |s| format!(" for source {s}"));
        anyhow::bail!("--to {last} is not settled{source}: the vendor may still revise it (settled_after); export up to {settled}, or give --include-unsettled");
    }
    anyhow::ensure!(
        first <= last,
        "--from {first} is after the last day to export, {last}: nothing to export"
    );
    Ok(DayRange { first, last })
}

/// The last day whose end is older than every source's `settled_after`, and the source that
/// settles last.
fn last_settled_day(sources: &[&SourceConfig], now: DateTime<Utc>) -> (NaiveDate, Option<String>) {
    let settled_of = |source: &SourceConfig| {
        let after = chrono::Duration::from_std(source.schedule.settled_after)
            .unwrap_or(chrono::Duration::MAX);
        let settled_at = now
            .checked_sub_signed(after)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        settled_at.date_naive() - Days::new(1)
    };
    let latest = sources.iter().min_by_key(|source| settled_of(source));
    let yesterday = now.date_naive() - Days::new(1);
    match latest {
        Some(source) => (settled_of(source), Some(source.name.clone())),
        None => (yesterday, None),
    }
}

/// A line per source whose usage had services without money: their rows are left out.
fn report_unpriced(
    sources: &[(Poller, Billing)],
    unpriced: &BTreeMap<String, BTreeSet<String>>,
    progress: &mut (dyn Write + Send),
) -> std::io::Result<()> {
    for (poller, _) in sources {
        let config = &poller.config;
        let Some(services) = unpriced.get(&config.name).filter(|s| !s.is_empty()) else {
            continue;
        };
        let services: Vec<&str> = services.iter().map(String::as_str).collect();
        writeln!(
            progress,
            "source {} ({}): no rows for services {}: they have no money (no price in money.prices matches them, and the vendor reports none)",
            config.name,
            config.vendor,
            services.join(", ")
        )?;
    }
    Ok(())
}

/// Where the rows are written as they come: a temporary file beside the output file
/// (renamed to it at the end), or one in `$TMPDIR` copied to stdout at the end, so that a
/// failed export writes nothing.
fn spool(target: &Target) -> anyhow::Result<(tempfile::NamedTempFile, Option<PathBuf>)> {
    match target {
        Target::File(path) => {
            let output = Output::prepare(path)?;
            Ok((output.file, Some(output.path)))
        }
        Target::Stdout => Ok((
            tempfile::NamedTempFile::new().context("creating a temporary file for the rows")?,
            None,
        )),
    }
}

/// Puts the finished rows where they belong.
fn deliver(
    written: BufWriter<tempfile::NamedTempFile>,
    destination: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut file = written.into_inner().map_err(|e| e.into_error())?;
    match destination {
        Some(path) => {
            file.as_file().sync_all()?;
            file.persist(&path)
                .with_context(|| format!("renaming the export to {}", path.display()))?;
        }
        None => {
            file.rewind()?;
            let mut stdout = std::io::stdout().lock();
            std::io::copy(&mut file, &mut stdout)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

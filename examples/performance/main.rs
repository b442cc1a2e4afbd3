//! The performance benchmark: every figure of the performance targets, measured on this machine
//! in one run and printed as Markdown tables.
//!
//! `./scripts/bench.sh` installs nginx if needed, builds in release mode and runs this.
//! `./scripts/bench.sh --help` lists the options (scales, run lengths, sections).

mod auth;
mod backfill;
mod fleet;
mod focus;
mod incremental;
mod inventory;
mod links;
mod load;
mod nginx;
mod processes;
mod rates;
mod scrape;
mod seats;
mod startup;
mod vendors;

use std::time::Duration;

use chrono::NaiveDate;

use clap::Parser;
use consumption_exporter::simulator::kit::SimulatedVendor;

#[derive(Parser)]
#[command(
    about = "Measures consumption_exporter's scrape, render, poll, memory and start-up figures"
)]
struct Options {
    /// Served-series scales for the scrape section, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 10_000, 100_000])]
    series: Vec<usize>,
    /// Seconds each load round is measured, after a half-second warm-up.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Alternating rounds per server and load, pooled.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Vendors for the large-poll, budgets and inventory sections, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    vendors: Vec<String>,
    /// Divide every vendor's large tenant by this (for a quick look).
    #[arg(long, default_value_t = 1)]
    vendor_divisor: u64,
    /// Polls of the simulated day in the incremental section (96: a day at 15 minutes).
    #[arg(long, default_value_t = 96)]
    day_polls: usize,
    /// Sections to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = ["scrape".to_string(), "vendors".to_string(), "budgets".to_string(), "incremental".to_string(), "backfill".to_string(), "year".to_string(), "startup".to_string(), "auth".to_string(), "fleet".to_string(), "first-round".to_string(), "links".to_string(), "showback".to_string(), "seats".to_string(), "inventory".to_string(), "focus".to_string(), "rates".to_string()])]
    only: Vec<String>,
    /// Sources in the fleet section (every vendor in turn, small and demo-sized tenants).
    #[arg(long, default_value_t = 1_000)]
    fleet_sources: usize,
    /// Fleet sizes whose first round of polls the first-round section times, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 2_000, 4_000, 10_000])]
    first_round_sources: Vec<usize>,
    /// Flow-run records a day of the scrape section's Power Platform stand-in (8,000: about
    /// 70,000 series, an 18 MB body); 0 leaves it out.
    #[arg(long, default_value_t = 8_000)]
    powerplatform_records: u64,
    /// (Internal) serve a Qlik tenant with this many users, for the scrape section.
    #[arg(long = "serve-qlik-users", hide = true)]
    serve_qlik_users: Option<usize>,
    /// (Internal) serve a Power Platform tenant with this many flow-run records a day, for the
    /// scrape section's Power Platform case.
    #[arg(long = "serve-powerplatform-records", hide = true)]
    serve_powerplatform_records: Option<u64>,
    /// (Internal) serve the fleet section's tenants.
    #[arg(long = "serve-fleet", hide = true)]
    serve_fleet: bool,
}

pub const SERVE_QLIK_FLAG: &str = "--serve-qlik-users";
pub const SERVE_FLEET_FLAG: &str = "--serve-fleet";
pub const SERVE_POWERPLATFORM_FLAG: &str = "--serve-powerplatform-records";

/// The series the base memory is measured at: the tenant's own records, no users.
const BASE_SERIES: usize = 240;

fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    // The renders timed here get the allocator settings the exporter's binary has.
    consumption_exporter::engine::memory::tune_allocator();
    // The load generator and simulators use both cores, as the servers they drive do.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Some(records) = options.serve_powerplatform_records {
        return runtime.block_on(scrape::serve_powerplatform(records));
    }
    match (options.serve_qlik_users, options.serve_fleet) {
        (Some(users), _) => runtime.block_on(scrape::serve_simulator(users)),
        (None, true) => runtime.block_on(fleet::serve_simulators()),
        (None, false) => runtime.block_on(run(options)),
    }
}

async fn run(options: Options) -> anyhow::Result<()> {
    println!(
        "consumption_exporter {} performance benchmark, {} CPUs",
        env!("CARGO_PKG_VERSION"),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if options.only.iter().any(|s| s == "scrape") {
        scrape_section(&options).await?;
    }
    if options.only.iter().any(|s| s == "vendors") {
        vendor_section(&options.vendors, options.vendor_divisor).await?;
    }
    if options.only.iter().any(|s| s == "budgets") {
        budget_section(&options.vendors, options.vendor_divisor, options.rounds).await?;
    }
    if options.only.iter().any(|s| s == "rates") {
        rates_section().await?;
    }
    if options.only.iter().any(|s| s == "inventory") {
        inventory_section(&options.vendors).await?;
    }
    if options.only.iter().any(|s| s == "incremental") {
        incremental_section(&options).await?;
    }
    if options.only.iter().any(|s| s == "backfill") {
        backfill_section(&options).await?;
    }
    if options.only.iter().any(|s| s == "year") {
        year_of_days_section(&options).await?;
    }
    if options.only.iter().any(|s| s == "startup") {
        let figures = startup::measure(20).await?;
        println!("\n## Start-up to listening (6 sources, one of each vendor type)\n");
        println!(
            "median {} ms, max {} ms over {} starts (target < 50 ms)",
            ms(figures.median),
            ms(figures.max),
            figures.runs
        );
    }
    if options.only.iter().any(|s| s == "auth") {
        auth_section().await?;
    }
    if options.only.iter().any(|s| s == "fleet") {
        fleet_section(options.fleet_sources).await?;
    }
    if options.only.iter().any(|s| s == "first-round") {
        first_round_section(&options.first_round_sources).await?;
    }
    if options.only.iter().any(|s| s == "seats") {
        seats_section().await?;
    }
    if options.only.iter().any(|s| s == "links") {
        links_section().await?;
    }
    if options.only.iter().any(|s| s == "showback") {
        showback_section(&options.vendors, options.vendor_divisor, options.rounds).await?;
    }
    if options.only.iter().any(|s| s == "focus") {
        focus_section(&options).await?;
    }
    Ok(())
}

/// The binary's FOCUS export of 10 and of 90 settled days of each history tenant.
async fn focus_section(options: &Options) -> anyhow::Result<()> {
    println!("\n## FOCUS export: 10 and 90 settled days, the binary's time and peak memory\n");
    println!(
        "| vendor | tenant | rows (90 days) | file | time 10 → 90 days | peak RSS 10 → 90 days |"
    );
    println!("|---|---|---:|---:|---|---|");
    for (vendor, scale) in history_vendors(options) {
        let short = focus::measure(vendor, scale, 10).await?;
        let long = focus::measure(vendor, scale, 90).await?;
        println!(
            "| {} | {scale} {} | {} | {} | {:.1} s → {:.1} s | {} → {} |",
            vendor.type_name(),
            vendor.history_scale_unit(),
            long.rows,
            size(long.output_bytes),
            short.elapsed.as_secs_f64(),
            long.elapsed.as_secs_f64(),
            size(short.peak_rss),
            size(long.peak_rss)
        );
    }
    Ok(())
}

async fn first_round_section(sizes: &[usize]) -> anyhow::Result<()> {
    let rounds = fleet::first_rounds(sizes).await?;
    println!("\n## The first round of polls, by fleet size (16 polls in flight at most)\n");
    println!("| sources | to ready | × the smallest | exporter CPU | RSS at ready | scrapes meanwhile | scrape p50 | p99 | max |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let smallest = rounds.first().map_or(1.0, |r| r.to_ready.as_secs_f64());
    for r in &rounds {
        println!(
            "| {} | {:.1} s | {:.1} | {:.1} s | {:.0} MiB | {} | {} ms | {} ms | {} ms |",
            r.sources,
            r.to_ready.as_secs_f64(),
            r.to_ready.as_secs_f64() / smallest,
            r.cpu.as_secs_f64(),
            r.rss as f64 / (1024.0 * 1024.0),
            r.scrapes,
            ms(r.scrape_p50),
            ms(r.scrape_p99),
            ms(r.scrape_max)
        );
    }
    Ok(())
}

/// A `money:` and `allocation:` block that prices and allocates every vendor's usage, and two
/// top-level budgets that sum every source's money at each render. Both are monthly, as
/// showback's own windows are: a quarter's budget reads a quarter of days, which is the
/// budgets section's cost, not showback's.
fn showback_block() -> String {
    let mut prices = String::new();
    for vendor in consumption_exporter::simulator::kit::VENDORS {
        prices.push_str(&format!(
            "    - {{match: {{vendor: {}}}, price: 0.05, currency: USD}}\n",
            vendor.type_name()
        ));
    }
    format!("money:\n  currency: EUR\n  rates: {{USD: 0.93}}\n  prices:\n{prices}allocation:\n  team:\n    default: unallocated\n    rules:\n      - {{match: {{service: [RU, Premium]}}, value: sales}}\nbudgets:\n  - {{name: sales, match: {{team: sales}}, limit: 1000000, period: month}}\n  - {{name: everything, limit: 5000000, period: month}}\n")
}

async fn showback_section(only: &[String], divisor: u64, rounds: usize) -> anyhow::Result<()> {
    let showback = showback_block();
    println!("\n## Showback (money: and allocation: over every vendor)\n");
    println!("| vendor | tenant | poll (median of {rounds}) | with showback | ratio (≤ 1.05) |");
    println!("|---|---|---:|---:|---:|");
    for (vendor, scale) in selected_vendors(only, divisor) {
        let mut runs = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            runs[0].push(
                vendors::measure_configured(vendor, scale, ("", ""))
                    .await?
                    .poll,
            );
            runs[1].push(
                vendors::measure_configured(vendor, scale, (&showback, ""))
                    .await?
                    .poll,
            );
        }
        let [plain, with] = runs.map(median);
        println!(
            "| {} | {scale} {} | {:.2} s | {:.2} s | {:.3} |",
            vendor.type_name(),
            vendor.scale_unit(),
            plain.as_secs_f64(),
            with.as_secs_f64(),
            with.as_secs_f64() / plain.as_secs_f64()
        );
    }
    let (plain, with) = fleet::showback_overhead(1_000, &showback).await?;
    println!("\n| 1,000 sources | without | with showback | ratio (≤ 1.05) |");
    println!("|---|---:|---:|---:|");
    let row = |what: &str, a: Duration, b: Duration| {
        println!(
            "| {what} | {} ms | {} ms | {:.3} |",
            ms(a),
            ms(b),
            b.as_secs_f64() / a.as_secs_f64()
        );
    };
    println!(
        "| samples served | {} | {} | {:.3} |",
        plain.samples,
        with.samples,
        with.samples as f64 / plain.samples as f64
    );
    row("every source polled once", plain.poll_all, with.poll_all);
    row(
        "render after one change (median)",
        plain.render_one.0,
        with.render_one.0,
    );
    row("render of every source", plain.render_all, with.render_all);
    Ok(())
}

async fn seats_section() -> anyhow::Result<()> {
    println!("\n## Seats at the vendors' sizes (folded as they page)\n");
    println!("| vendor | seats read | peak RSS | a 10-seat tenant's | poll |");
    println!("|---|---|---:|---:|---:|");
    for (vendor, items, what) in [
        (
            "qlik",
            20_000,
            "20,000 assignments and their session events",
        ),
        (
            "avepoint",
            10_000,
            "10,000 cloud flows and 10,000 Power Apps",
        ),
    ] {
        let f = seats::measure(vendor, items).await?;
        println!(
            "| {} | {what} ({} items each) | {:.1} MiB | {:.1} MiB | {:.1} s |",
            f.vendor,
            f.items,
            f.peak_rss as f64 / (1024.0 * 1024.0),
            f.baseline_rss as f64 / (1024.0 * 1024.0),
            f.poll.as_secs_f64()
        );
    }
    Ok(())
}

async fn rates_section() -> anyhow::Result<()> {
    let f = rates::measure().await?;
    println!("\n## A rates file: the idle exporter (one small Qlik source, `money:`)\n");
    println!("| rates | resident memory | beside fixed rates (target ≤ 2 MiB) |");
    println!("|---|---:|---:|");
    let beside = |rss: u64| size(rss.saturating_sub(f.fixed_rss));
    println!("| fixed (`rates:`) | {} | |", size(f.fixed_rss));
    println!(
        "| `rates_file`: {} days × {} currencies, {} | {} | {} |",
        f.days,
        f.currencies,
        size(f.file_bytes as u64),
        size(f.file_rss),
        beside(f.file_rss)
    );
    println!(
        "| the same, 0.3 s after a reload reads it again | {} | {} |",
        size(f.reload_rss),
        beside(f.reload_rss)
    );
    println!(
        "| the same, 3 s later | {} | {} |",
        size(f.settled_rss),
        beside(f.settled_rss)
    );
    Ok(())
}

async fn inventory_section(only: &[String]) -> anyhow::Result<()> {
    println!("\n## Inventories at their cadence: a day of 96 polls, 15 minutes apart\n");
    println!("| vendor | tenant | endpoint | every poll (`inventory_interval: 0s`): requests, bytes a day | default (`6h`): requests, bytes a day |");
    println!("|---|---|---|---:|---:|");
    let day = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap_or_default();
    for vendor in [
        "qlik",
        "uipath",
        "avepoint",
        "powerplatform",
        "dynatrace",
        "microsoft",
    ] {
        if !only.is_empty() && !only.iter().any(|v| v == vendor) {
            continue;
        }
        let d = inventory::measure(vendor, day).await?;
        let mut totals = ((0, 0), (0, 0));
        for (endpoint, (requests, bytes)) in &d.every_poll {
            let (after_requests, after_bytes) =
                d.at_default.get(endpoint).copied().unwrap_or_default();
            println!(
                "| {} | {} | {endpoint} | {requests}, {} | {after_requests}, {} |",
                d.vendor,
                d.tenant,
                size(*bytes),
                size(after_bytes)
            );
            totals.0 .0 += requests;
            totals.0 .1 += bytes;
            totals.1 .0 += after_requests;
            totals.1 .1 += after_bytes;
        }
        let ((r0, b0), (r1, b1)) = totals;
        println!(
            "| {} | | **all** | {r0}, {} | {r1}, {} ({:.1}× fewer bytes) |",
            d.vendor,
            size(b0),
            size(b1),
            b0 as f64 / b1.max(1) as f64
        );
    }
    Ok(())
}

async fn links_section() -> anyhow::Result<()> {
    let f = links::measure(2_000, 60_000).await?;
    println!("\n## A vendor sending a unique long link on every page\n");
    println!(
        "{} pages, each with a {} KB next link: peak RSS {:.1} MiB (one-page baseline {:.1} MiB), poll {:.1} s",
        f.pages,
        f.link_bytes / 1000,
        f.peak_rss as f64 / (1024.0 * 1024.0),
        f.baseline_rss as f64 / (1024.0 * 1024.0),
        f.poll.as_secs_f64()
    );
    Ok(())
}

async fn fleet_section(sources: usize) -> anyhow::Result<()> {
    let f = fleet::measure(sources, Duration::from_secs(3)).await?;
    println!(
        "\n## {} sources in one process ({} series; every vendor in turn, small and demo-sized tenants)\n",
        f.sources, f.series
    );
    println!("| vendor | sources | series per source |");
    println!("|---|---:|---:|");
    for (vendor, count, series) in &f.per_vendor {
        println!("| {vendor} | {count} | {series} |");
    }
    let beyond = f.rss.saturating_sub(f.base_rss) as f64;
    let allowed = 400.0 * f.series as f64 + 50.0 * 1024.0 * f.sources as f64;
    println!("\n| figure | value | target |");
    println!("|---|---|---|");
    println!(
        "| resident memory after the first round | {} ({} beyond a {} one-source base: {:.0} bytes/series, or {:.1} KiB/source) | < 400 B/series + 50 KiB/source = {} |",
        size(f.rss),
        size(beyond as u64),
        size(f.base_rss),
        beyond / f.series.max(1) as f64,
        beyond / 1024.0 / f.sources.max(1) as f64,
        size(allowed as u64)
    );
    println!(
        "| first round, {} polls through {} slots | {:.1} s, at most {} in flight | ≤ {} in flight |",
        f.sources,
        f.max_concurrent_polls,
        f.first_round.as_secs_f64(),
        f.most_in_flight,
        f.max_concurrent_polls
    );
    println!(
        "| CPU and wake-ups between polls and scrapes ({} s) | {} ms, {} wake-ups | none |",
        f.idle_window.as_secs(),
        f.idle_cpu.as_millis(),
        f.idle_wakeups
    );
    println!(
        "| render after one source changes (its lines anew, its block merged again) | {} ms median, {} ms max | not a render of every source |",
        ms(f.render_one.0),
        ms(f.render_one.1)
    );
    println!(
        "| render of every source (start, reload) | {} ms median | |",
        ms(f.render_all)
    );
    println!(
        "| body, plain / gzip | {} / {} | |",
        size(f.body_bytes.0 as u64),
        size(f.body_bytes.1 as u64)
    );
    println!(
        "| `check` of the file (process start included) | {} ms median, {} ms max (parse and validate in process: {} ms) | < 1 s |",
        ms(f.check.0),
        ms(f.check.1),
        ms(f.parse)
    );
    print_scrapes_beside_nginx(
        &format!("scrapes at {} series", f.series),
        &f.scrapes,
        &f.nginx_scrapes,
    );
    let churn = format!(
        "scrapes while every source polls once a minute ({} polls ended in {:.0} s)",
        f.churn_polls,
        f.churn_window.as_secs_f64()
    );
    print_scrapes(&churn, &f.churn_scrapes);
    Ok(())
}

fn print_scrapes_beside_nginx(
    title: &str,
    runs: &[(bool, usize, load::LoadResult)],
    nginx: &[(bool, usize, load::LoadResult)],
) {
    println!("\n| {title} | req/s | nginx req/s | p50 (ms) | p99 (ms) | nginx p99 (ms) | p99 ratio (≤ 1.5) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for ((gzip, clients, result), (_, _, baseline)) in runs.iter().zip(nginx) {
        println!(
            "| {}, {clients} client{} | {:.0} | {:.0} | {} | {} | {} | {:.2} |",
            if *gzip { "gzip" } else { "plain" },
            if *clients == 1 { "" } else { "s" },
            result.per_second(),
            baseline.per_second(),
            ms(result.latency(0.5)),
            ms(result.latency(0.99)),
            ms(baseline.latency(0.99)),
            result.latency(0.99).as_secs_f64() / baseline.latency(0.99).as_secs_f64()
        );
    }
}

fn print_scrapes(title: &str, runs: &[(bool, usize, load::LoadResult)]) {
    println!("\n| {title} | req/s | p50 (ms) | p99 (ms) |");
    println!("|---|---:|---:|---:|");
    for (gzip, clients, result) in runs {
        println!(
            "| {}, {clients} client{} | {:.0} | {} | {} |",
            if *gzip { "gzip" } else { "plain" },
            if *clients == 1 { "" } else { "s" },
            result.per_second(),
            ms(result.latency(0.5)),
            ms(result.latency(0.99))
        );
    }
}

async fn auth_section() -> anyhow::Result<()> {
    let figures = auth::measure(20).await?;
    println!("\n## Basic auth (bcrypt cost 10, `/-/healthy` over HTTP, 20 requests each)\n");
    println!("| request | median | max |");
    println!("|---|---:|---:|");
    for (label, median, max) in &figures.rows {
        println!(
            "| {label} | {:.1} ms | {:.1} ms |",
            ms_f(*median),
            ms_f(*max)
        );
    }
    println!(
        "\n16 wrong passwords at once: the last answered after {:.0} ms ({} bcrypt check(s) at a time)",
        ms_f(figures.flood),
        figures.checks_at_once
    );
    Ok(())
}

fn ms_f(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

async fn scrape_section(options: &Options) -> anyhow::Result<()> {
    let settings = scrape::LoadSettings {
        warm_up: Duration::from_millis(500),
        duration: Duration::from_secs_f64(options.seconds),
        rounds: options.rounds,
        idle: Duration::from_secs(3),
    };
    use scrape::Stand;
    let base = scrape::measure(Stand::Qlik(BASE_SERIES), &settings).await?;
    let mut scales = Vec::new();
    for &series in &options.series {
        scales.push(scrape::measure(Stand::Qlik(series), &settings).await?);
    }
    scrape_tables(options, &settings, &base, &scales, "one Qlik source");
    if options.powerplatform_records > 0 {
        let base = scrape::measure(Stand::PowerPlatform(0), &settings).await?;
        let stand = Stand::PowerPlatform(options.powerplatform_records);
        let scales = [scrape::measure(stand, &settings).await?];
        let what = "the Power Platform stand-in: five labels a flow run, three windows";
        scrape_tables(options, &settings, &base, &scales, what);
    }
    Ok(())
}

fn scrape_tables(
    options: &Options,
    settings: &scrape::LoadSettings,
    base: &scrape::ScaleFigures,
    scales: &[scrape::ScaleFigures],
    what: &str,
) {
    println!("\n## Render, body and memory (the exporter binary, {what})\n");
    println!("| series | render median (max) | gzip on first gzip scrape | body | gzip body | RSS after 4 polls | bytes/series beyond base | CPU idle {}s | wake-ups idle |", settings.idle.as_secs());
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for figures in std::iter::once(base).chain(scales) {
        let per_series = if figures.series > base.series {
            format!(
                "{:.0}",
                (figures.rss_bytes as f64 - base.rss_bytes as f64)
                    / (figures.series - base.series) as f64
            )
        } else {
            "(base)".to_string()
        };
        println!(
            "| {} | {} ms ({} ms) | {} ms | {} | {} | {} | {} | {} ms | {} |",
            figures.series,
            ms(figures.render_median),
            ms(figures.render_max),
            ms(figures.gzip_time),
            size(figures.plain_bytes as u64),
            size(figures.gzip_bytes as u64),
            size(figures.rss_bytes),
            per_series,
            figures.idle_cpu.as_millis(),
            figures.idle_wakeups
        );
    }
    println!("\nTargets: render < 50 ms at 100,000 series; RSS < 400 bytes/series beyond a base < 20 MiB; no CPU when idle.");
    println!(
        "\n## Per scrape: the block made for every scrape, and the forms made once per render\n"
    );
    println!("| series | process figures + scrape counts + gzip tail, per scrape (median of 500) | OpenMetrics form, first OpenMetrics scrape after a render |");
    println!("|---:|---:|---:|");
    for figures in std::iter::once(base).chain(scales) {
        println!(
            "| {} | {:.0} µs | {} ms |",
            figures.series,
            figures.per_scrape.as_secs_f64() * 1e6,
            ms(figures.openmetrics_time)
        );
    }
    println!(
        "\n## Scrapes: the exporter against nginx serving the same bytes ({} alternating rounds of {} s each)\n",
        options.rounds, options.seconds
    );
    println!("| series | body | clients | exporter req/s | nginx req/s | throughput ratio (≥ 0.70) | exporter p50 / p99 | nginx p50 / p99 | p99 ratio (≤ 1.5) |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for figures in scales {
        for run in &figures.runs {
            println!(
                "| {} | {} | {} | {:.0} | {:.0} | {:.2} | {} / {} ms | {} / {} ms | {:.2} |",
                figures.series,
                if run.gzip { "gzip" } else { "plain" },
                run.clients,
                run.exporter.per_second(),
                run.nginx.per_second(),
                run.exporter.per_second() / run.nginx.per_second(),
                ms(run.exporter.latency(0.5)),
                ms(run.exporter.latency(0.99)),
                ms(run.nginx.latency(0.5)),
                ms(run.nginx.latency(0.99)),
                run.exporter.latency(0.99).as_secs_f64() / run.nginx.latency(0.99).as_secs_f64()
            );
        }
    }
}

/// The simulated vendors `--vendors` names (all when empty), each at its benchmark scale
/// divided by `divisor`.
fn selected_vendors<'a>(
    only: &'a [String],
    divisor: u64,
) -> impl Iterator<Item = (&'static dyn SimulatedVendor, u64)> + 'a {
    consumption_exporter::simulator::kit::VENDORS
        .iter()
        .copied()
        .filter(move |v| only.is_empty() || only.iter().any(|name| name == v.type_name()))
        .map(move |v| (v, (v.benchmark_scale() / divisor).max(10)))
}

async fn vendor_section(only: &[String], divisor: u64) -> anyhow::Result<()> {
    println!(
        "\n## Large polls: the exporter's poll against a plain download of the same requests\n"
    );
    println!("| vendor | tenant | requests | downloaded | download | poll | poll/download (≤ 1.5) | series | peak RSS at 1/10 | peak RSS |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (vendor, scale) in selected_vendors(only, divisor) {
        let small = vendors::measure(vendor, scale / 10).await?;
        let large = vendors::measure(vendor, scale).await?;
        println!(
            "| {} | {} {} | {} | {} | {:.2} s | {:.2} s | {:.2} | {} | {} | {} |",
            vendor.type_name(),
            scale,
            vendor.scale_unit(),
            large.requests,
            size(large.downloaded_bytes),
            large.download.as_secs_f64(),
            large.poll.as_secs_f64(),
            large.poll.as_secs_f64() / large.download.as_secs_f64(),
            large.series,
            size(small.peak_rss),
            size(large.peak_rss)
        );
    }
    Ok(())
}

/// Twenty budgets over everything a source serves (no match, so no vendor's labels), five of
/// each period kind, the quarters and years on anniversaries, a quarter of them priced.
fn twenty_budgets() -> String {
    let periods = [
        "day",
        "month",
        "quarter, start: 2026-02-15",
        "year, start: 2026-04-01",
    ];
    let mut yaml = String::from("    budgets:\n");
    for i in 0..20 {
        let price = if i % 4 == 0 {
            ", price: 0.1, currency: EUR"
        } else {
            ""
        };
        yaml.push_str(&format!(
            "      - {{name: b{i}, limit: {}, period: {}{price}}}\n",
            1000 * (i + 1),
            periods[i % 4]
        ));
    }
    yaml
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// What twenty budgets add: to the poll and render of the 100,000-series scrape tenant, and
/// to the poll of every vendor's large tenant (the query range then reaches the year's start).
/// Runs without and with budgets alternate, `rounds` each; the medians are compared.
async fn budget_section(only: &[String], divisor: u64, rounds: usize) -> anyhow::Result<()> {
    let budgets = twenty_budgets();
    let series = 100_000 / divisor as usize;
    let (mut polls, mut renders) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    for _ in 0..rounds {
        for (i, extra) in ["", budgets.as_str()].into_iter().enumerate() {
            let (poll, render) = scrape::poll_and_render(series, extra).await?;
            polls[i].push(poll);
            renders[i].push(render);
        }
    }
    let [poll, poll_b] = polls.map(median);
    let [render, render_b] = renders.map(median);
    println!("\n## Twenty budgets\n");
    println!("| tenant | poll | with 20 budgets | ratio (≤ 1.05) | render | with 20 budgets | ratio (≤ 1.05) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| qlik scrape tenant, {series} series | {} ms | {} ms | {:.3} | {} ms | {} ms | {:.3} |",
        ms(poll),
        ms(poll_b),
        poll_b.as_secs_f64() / poll.as_secs_f64(),
        ms(render),
        ms(render_b),
        render_b.as_secs_f64() / render.as_secs_f64()
    );
    println!("\n| vendor | tenant | requests, bytes | poll (median of {rounds}) | with 20 budgets: requests, bytes | poll | poll ratio |");
    println!("|---|---|---|---:|---|---:|---:|");
    for (vendor, scale) in selected_vendors(only, divisor) {
        let mut runs = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            runs[0].push(vendors::measure(vendor, scale).await?);
            runs[1].push(vendors::measure_with(vendor, scale, &budgets).await?);
        }
        let [plain, with] = runs.map(|mut figures| {
            figures.sort_by_key(|f| f.poll);
            figures.swap_remove(figures.len() / 2)
        });
        println!(
            "| {} | {scale} {} | {}, {} | {:.2} s | {}, {} | {:.2} s | {:.3} |",
            vendor.type_name(),
            vendor.scale_unit(),
            plain.requests,
            size(plain.downloaded_bytes),
            plain.poll.as_secs_f64(),
            with.requests,
            size(with.downloaded_bytes),
            with.poll.as_secs_f64(),
            with.poll.as_secs_f64() / plain.poll.as_secs_f64()
        );
    }
    Ok(())
}

fn ms(duration: Duration) -> String {
    let millis = duration.as_secs_f64() * 1000.0;
    if millis < 10.0 {
        format!("{millis:.2}")
    } else {
        format!("{millis:.0}")
    }
}

/// The vendors `--vendors` names (all when empty) that have a history tenant, each at its
/// scale divided by `--vendor-divisor`.
fn history_vendors(
    options: &Options,
) -> impl Iterator<Item = (&'static dyn SimulatedVendor, u64)> + '_ {
    consumption_exporter::simulator::kit::VENDORS
        .iter()
        .copied()
        .filter(|v| {
            options.vendors.is_empty() || options.vendors.iter().any(|n| n == v.type_name())
        })
        .filter_map(|v| {
            let scale = v.history_benchmark_scale()?;
            Some((v, (scale / options.vendor_divisor).max(10)))
        })
}

/// A simulated day of polls of each vendor with daily history, full against incremental at
/// the default `settled_after` (3d), at 12h and at 0s (only today re-read).
async fn incremental_section(options: &Options) -> anyhow::Result<()> {
    let day = NaiveDate::from_ymd_opt(2026, 11, 15).unwrap_or_default();
    let variants = [
        ("defaults: 3d, recent 1h", ""),
        ("3d, recent every poll", "  recent_refresh_interval: 0s\n"),
        ("12h, recent 1h", "  settled_after: 12h\n"),
    ];
    println!(
        "\n## Incremental polling: one day ({day}, mid-month), {} polls 15 minutes apart\n",
        options.day_polls
    );
    println!("| vendor | tenant | full: requests, bytes a day | settled_after, recent_refresh_interval | incremental: requests, bytes a day | fewer bytes | poll time a day: full → incremental | days held | heap per (label set × day) |");
    println!("|---|---|---:|---|---:|---:|---:|---:|---:|");
    for (vendor, scale) in history_vendors(options) {
        let globals: Vec<&str> = variants.iter().map(|(_, g)| *g).collect();
        let c = incremental::compare(vendor, scale, day, options.day_polls, &globals).await?;
        let full = &c.full;
        for ((name, _), inc) in variants.iter().zip(&c.incremental) {
            println!(
                "| {} | {scale} {} | {}, {} | {name} | {}, {} | {:.1}× | {:.1} s → {:.1} s | {} ({}) | {:.0} B |",
                vendor.type_name(),
                vendor.history_scale_unit(),
                full.requests,
                size(full.bytes),
                inc.requests,
                size(inc.bytes),
                full.bytes as f64 / inc.bytes.max(1) as f64,
                full.polling.as_secs_f64(),
                inc.polling.as_secs_f64(),
                inc.settled_days,
                size(inc.settled_bytes as u64),
                inc.settled_bytes as f64 / inc.settled_days.max(1) as f64,
            );
        }
    }
    println!("\nThe expositions of every incremental exporter equalled the full one's after each poll (else the run fails).");
    Ok(())
}

/// What a year of days costs: the peak of a first poll with a year budget against one with a
/// month budget (today's days only), on the tenant with the most label sets.
async fn year_of_days_section(options: &Options) -> anyhow::Result<()> {
    println!("\n## A year of days: peak memory of a first poll (`once`), a year budget against a month budget\n");
    println!("| vendor | tenant | month budget | year budget | difference |");
    println!("|---|---|---:|---:|---:|");
    for (vendor, scale) in history_vendors(options) {
        let month = backfill::once_peak(vendor, scale, "month").await?;
        let year = backfill::once_peak(vendor, scale, "year").await?;
        println!(
            "| {} | {scale} {} | {} | {} | {} |",
            vendor.type_name(),
            vendor.history_scale_unit(),
            size(month),
            size(year),
            size(year.saturating_sub(month))
        );
    }
    Ok(())
}

/// The binary's backfill of 90 days, at 1/10 and at full size of each history tenant.
async fn backfill_section(options: &Options) -> anyhow::Result<()> {
    println!("\n## Backfill: 90 days at one step an hour, the binary's peak memory\n");
    println!("| vendor | tenant | requests | time | file | peak RSS at 1/10 → full size |");
    println!("|---|---|---:|---:|---:|---|");
    for (vendor, scale) in history_vendors(options) {
        let small = backfill::measure(vendor, scale / 10, 90).await?;
        let large = backfill::measure(vendor, scale, 90).await?;
        println!(
            "| {} | {scale} {}, {} days | {} | {:.1} s | {} | {} → {} |",
            vendor.type_name(),
            vendor.history_scale_unit(),
            large.days,
            large.requests,
            large.elapsed.as_secs_f64(),
            size(large.output_bytes),
            size(small.peak_rss),
            size(large.peak_rss)
        );
    }
    Ok(())
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / 1048576.0),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

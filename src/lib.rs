//! consumption_exporter: a Prometheus exporter for SaaS licensing and consumption APIs.
//!
//! # Layout
//! The pipeline, in the order data flows:
//! - [`config`]: `exporter.yml` → a typed, validated `Config`, by job: `raw` (the file as
//!   written), `env` (`${ENV}`), `decode` (global and shared keys, limits, schedules),
//!   `credentials` (secrets, certificates), `positions` (line and column of every error).
//!   [`settings`] decodes a vendor's own keys; it sits below both `config` and `sources`.
//! - [`poller`]: one task per source: interval with jitter, poll timeout, publish or keep.
//! - [`http`]: the one HTTP layer: credentials (a value that exists is usable), the token
//!   cache, the retry decision (`retry::decide`, pure), `Retry-After`, size limit, same-host
//!   pagination links resolved against their page, request counters. It calls no vendor code:
//!   a source hands it two plain functions ([`http::VendorHooks`]).
//! - [`sources`]: one file per vendor behind the `SourceType` and `Source` traits, and
//!   `sources::TYPES`, the one list of vendor types.
//! - [`snapshot`]: what one poll produced, aggregated by label set, immutable once built, and
//!   the text format's label escaping; [`usage`]: what a poll consumed, as budgets read it;
//!   [`settled`]: the per-day amounts of settled days the poller keeps between polls, so that
//!   sources with daily data re-read only the days after them.
//! - [`budgets`]: declared and vendor-reported budgets, evaluated by the poller after each
//!   poll into the same families for every vendor; vendor-blind, a pure function of
//!   (budgets, usage, now).
//! - [`health`]: each source's identity, counters and state; [`store`]: the latest snapshot and
//!   health per source; [`poll_slots`]: the `max_concurrent_polls` permits, let go of while a
//!   poll waits; [`render`]: the exposition, made once per change; [`server`]: hyper
//!   serving `/metrics`, `/`, `/-/healthy`, `/-/ready`, `/-/reload` and the reload reply types.
//! - [`simulator`]: vendor simulators for the tests, the benchmarks and `demo`, one file per
//!   vendor; `simulator::kit::VENDORS` is the one list of them, which the demo, the fault
//!   suite, the secret test, the command-line tests and the benchmark loop over.
//! - [`backfill`]: past steps polled on an injected clock, written as OpenMetrics for
//!   `promtool tsdb create-blocks-from openmetrics`.
//! - [`app`] wires these together; [`cli`] and [`demo`] serve `main.rs`; [`secret`] is the
//!   string that never prints; [`clock`] the injectable time; [`memory`] the allocator tuning.
//!
//! No module imports a module that imports it back (a test reads the `crate::` paths of every
//! file and fails on a circle).
//!
//! # Adding a vendor
//! 1. `src/sources/<vendor>.rs`: a `SourceType` (its keys, defaults) and a `Source` (a poll
//!    that fetches through the `PollSession` and folds pages), with exact fold tests; one line
//!    in `sources::TYPES`.
//! 2. `src/simulator/<vendor>.rs`: a simulator written from the vendor's documentation (no code
//!    shared with the source) and its `SimulatedVendor`; one line in `simulator::kit::VENDORS`.
//! 3. `tests/it/<vendor>.rs`, listed in `tests/it/main.rs`, and a `### type: <vendor>` section in
//!    README.
//!
//! Forgetting any of these fails a test (`simulator::kit` and `layout` tests); the
//! demo, the fault suite, the secret test, the CLI tests, the golden exposition and the
//! benchmark then cover the vendor without further code.

pub mod app;
pub mod backfill;
pub mod budgets;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod gzip;
pub mod health;
pub mod http;
pub mod listen;
pub mod logging;
pub mod memory;
pub mod openmetrics;
pub mod poll_slots;
pub mod poller;
pub mod process;
pub mod render;
pub mod secret;
pub mod server;
pub mod settings;
pub mod settled;
pub mod shard;
pub mod simulator;
pub mod snapshot;
pub mod sources;
pub mod store;
pub mod usage;
pub mod web_config;

/// The source revision the binary was built from (`unknown` outside a git checkout).
pub const REVISION: &str = env!("CONSUMPTION_EXPORTER_REVISION");

/// The git branch the binary was built from.
pub const BRANCH: &str = env!("CONSUMPTION_EXPORTER_BRANCH");

/// The Rust compiler's version (`1.95.0`).
pub const RUST_VERSION: &str = env!("CONSUMPTION_EXPORTER_RUST_VERSION");

/// `--version`, in the form Prometheus and its exporters print.
pub fn version_text() -> String {
    format!(
        "consumption_exporter, version {} (branch: {BRANCH}, revision: {REVISION})\n  build user:       {}\n  build date:       {}\n  rust version:     {RUST_VERSION}\n  platform:         {}/{}\n",
        env!("CARGO_PKG_VERSION"),
        env!("CONSUMPTION_EXPORTER_BUILD_USER"),
        env!("CONSUMPTION_EXPORTER_BUILD_DATE"),
        std::env::consts::OS,
        std::env::consts::ARCH,
    )
}

//! consumption_exporter: a Prometheus exporter for SaaS licensing and consumption APIs.
//!
//! # Layout
//! `src/` reads as the pipeline, in wings; a wing imports only wings listed above it here (a
//! test, `tests/it/layout.rs`, ranks them and fails on an import that runs upwards):
//! - [`model`]: what the wings pass around: snapshots, usage, settled days, each source's
//!   health and request counters, poll slots, the clock, secrets, shards.
//! - [`http`]: the one HTTP layer: credentials, the token cache, the retry decision
//!   (`retry::decide`, pure), `Retry-After`, size limit, same-host pagination links, request
//!   counters. It calls no vendor code: a source hands it two plain functions
//!   ([`http::VendorHooks`]). [`budgets`]: declared and vendor-reported budgets, a pure
//!   function of (budgets, usage, now), vendor-blind. [`exposition`]: the text and OpenMetrics
//!   expositions, rendered once per change. [`settings`]: how a vendor's own keys decode.
//!   [`seats`]: seats bought, assigned and idle, vendor-blind.
//! - [`showback`]: units and money in the reporting currency and whose they are, top-level
//!   money budgets, a day's charges; vendor-blind, like budgets.
//! - [`sources`]: one file per vendor behind the `SourceType` and `Source` traits, and
//!   `sources::TYPES`, the one list of vendor types. [`simulator`]: the vendors' simulators for
//!   tests, benchmarks and `demo`, one file per vendor; `simulator::kit::VENDORS` is their list.
//! - [`focus`]: a day's charges as FOCUS 1.2 cost-and-usage rows, vendor-blind.
//! - [`config`]: `exporter.yml` → a typed, validated `Config`, by job: `raw`, `env` (`${ENV}`),
//!   `decode`, `credentials`, `defaults`, `positions` (line and column of every error).
//! - [`engine`]: one poller task per source and the store of their latest state.
//! - [`serve`]: the HTTP server, its sockets and its web config.
//! - [`app`]: wires config, engine and server together for `serve`, `once` and `check`.
//! - [`commands`]: the other commands' bodies (`demo`, `backfill`, `focus`, `seats`) and the
//!   command line;
//!   `main.rs` only dispatches.
//!
//! # Adding a vendor
//! 1. `src/sources/<vendor>.rs`: a `Vendor` (its `Settings` type, its defaults, `source()`) and
//!    a `Source` (a poll that fetches pages with `PollSession::get_page` and folds them), with
//!    exact fold tests; one line in `sources::TYPES`.
//! 2. `src/simulator/<vendor>.rs`: a simulator written from the vendor's documentation (no code
//!    shared with the source) and its `SimulatedVendor`; one line in `simulator::kit::VENDORS`.
//! 3. `tests/it/<vendor>.rs`, listed in `tests/it/main.rs`, and `docs/vendors/<vendor>.md`,
//!    linked from README.
//!
//! Forgetting any of these fails a test (`simulator::kit` and `layout` tests); the demo, the
//! fault and hostile-vendor suites, the budget test, the secret test, the CLI tests, the golden
//! exposition and the benchmark then cover the vendor without further code. CONTRIBUTING.md
//! says more.

pub mod app;
pub mod budgets;
pub mod commands;
pub mod config;
pub mod engine;
pub mod exposition;
pub mod focus;
pub mod http;
pub mod model;
pub mod seats;
pub mod serve;
pub mod settings;
pub mod showback;
pub mod simulator;
pub mod sources;

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

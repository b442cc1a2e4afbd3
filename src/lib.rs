//! consumption_exporter: a Prometheus exporter for SaaS licensing and consumption APIs.
//!
//! # Layout
//! The pipeline, in the order data flows:
//! - [`config`]: `exporter.yml` → a typed, validated `Config` (errors with line and column).
//! - [`poller`]: one task per source: interval with jitter, poll timeout, publish or keep.
//! - [`http`]: the one HTTP layer: auth and token cache, retries, `Retry-After`, size limit,
//!   same-host pagination links, request counters.
//! - [`sources`]: one file per vendor behind the `Source` trait, and the list of vendor types.
//! - [`snapshot`]: what one poll produced, aggregated by label set, immutable once built.
//! - [`store`]: the latest snapshot and health per source; [`render`]: the exposition, made
//!   once per change; [`server`]: hyper serving `/metrics`, `/`, `/-/healthy`, `/-/ready`.
//! - [`simulator`]: realistic vendor simulators for the tests, the benchmarks and `demo`.
//! - [`app`] wires these together; [`cli`] and [`demo`] serve `main.rs`.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod health;
pub mod http;
pub mod memory;
pub mod poller;
pub mod render;
pub mod secret;
pub mod server;
pub mod settings;
pub mod simulator;
pub mod snapshot;
pub mod sources;
pub mod store;
pub mod web_config;

/// The source revision the binary was built from (`unknown` outside a git checkout).
pub const REVISION: &str = env!("CONSUMPTION_EXPORTER_REVISION");

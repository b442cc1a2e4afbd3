//! consumption_exporter: a Prometheus exporter for SaaS licensing and consumption APIs.
//!
//! `src/` reads as the pipeline, in wings, each importing only wings ranked below it; the one
//! table of wings and ranks, the house rules and how to add a vendor are in CONTRIBUTING.md,
//! which `tests/it/layout.rs` reads and enforces.

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

//! The data every wing above passes around, and the small primitives they share. Imports no
//! other wing.
//!
//! - [`snapshot`]: what one poll produced, aggregated by label set, immutable once built, and
//!   the text format's label escaping; [`usage`]: what a poll consumed, as budgets read it;
//!   [`settled`]: the per-day amounts of settled days kept between polls; [`seats`]: seats
//!   bought, assigned and held; [`billing`]: who bills a source's usage, as a FOCUS export
//!   files it.
//! - [`health`]: each source's identity, counters and state; [`source_stats`]: its request
//!   counters; [`poll_slots`]: the `max_concurrent_polls` permits, let go of while a poll waits.
//! - [`files`]: reading the files a config names, regular files only; [`clock`]: the
//!   injectable time; [`secret`]: the string that never prints, and URLs as they
//!   may be printed; [`shard`]: which sources a replica owns.

pub mod billing;
pub mod build;
pub mod clock;
pub mod files;
pub mod health;
pub mod locks;
pub mod poll_slots;
pub mod seats;
pub mod secret;
pub mod settled;
pub mod shard;
pub mod snapshot;
pub mod source_stats;
pub mod usage;

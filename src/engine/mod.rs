//! Polling and the state it leaves: [`poller`] runs one task per source (interval with jitter,
//! poll timeout, panics caught, publish or keep); [`store`] holds every source's latest
//! snapshot and health and coalesces the renders of their changes; [`memory`] tunes the
//! allocator for large bodies replaced whole.

pub mod inventory;
pub mod memory;
pub mod poller;
pub mod store;

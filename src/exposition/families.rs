//! The exporter's own families: each source's health and request counters, the process's
//! figures and the exporter's, and the block made per scrape.

use super::text::*;
use crate::exposition::process::ProcessFigures;
use crate::model::health::{ReloadStatus, SourceSlot, SourceState};

pub(super) fn add_health(families: &mut Families<'_>, slot: &SourceSlot, state: &SourceState) {
    let ids = || vec![label("source", &slot.name), label("vendor", slot.vendor)];
    if let Some(up) = state.up {
        families.gauge(
            "consumption_source_up",
            "1 if the last poll of the source succeeded, else 0.",
            ids(),
            if up { 1.0 } else { 0.0 },
        );
    }
    if let Some(at) = state.last_success_unix {
        families.gauge(
            "consumption_source_last_success_timestamp_seconds",
            "When the last successful poll of the source ended (Unix seconds).",
            ids(),
            at,
        );
    }
    if let Some(duration) = state.last_duration {
        families.gauge(
            "consumption_source_poll_duration_seconds",
            "How long the last poll of the source took.",
            ids(),
            duration.as_secs_f64(),
        );
    }
    add_served_data(families, ids(), state);
    add_request_counters(families, slot);
}

/// How much data the source serves now, and how old the vendor says it is.
pub(super) fn add_served_data(
    families: &mut Families<'_>,
    ids: Vec<(&'static str, String)>,
    state: &SourceState,
) {
    let series = state.snapshot.as_ref().map_or(0, |s| s.series_count());
    families.gauge(
        "consumption_source_series",
        "Vendor series the source serves now (0 once its data passed max_age).",
        ids.clone(),
        series as f64,
    );
    if let Some(updated) = state.snapshot.as_ref().and_then(|s| s.data_updated) {
        families.gauge(
            "consumption_source_data_updated_timestamp_seconds",
            "The vendor's own as-of time of the served data (Unix seconds), where its API gives one.",
            ids,
            updated,
        );
    }
}

/// The source's requests, failed polls and throttles, counted by the HTTP layer and poller.
pub(super) fn add_request_counters(families: &mut Families<'_>, slot: &SourceSlot) {
    let ids = || vec![label("source", &slot.name), label("vendor", slot.vendor)];
    let with = |name: &'static str, value: &str| {
        let mut labels = ids();
        labels.push(label(name, value));
        labels
    };
    for ((endpoint, code), count) in slot.stats.requests() {
        let mut labels = with("api_endpoint", endpoint);
        labels.push(label("code", &code.to_string()));
        families.counter(
            "consumption_source_requests_total",
            "HTTP requests to the vendor, by endpoint (the vendor's endpoint table's name; `other` for a link elsewhere) and response status code.",
            labels,
            count as f64,
        );
    }
    for (reason, count) in slot.stats.errors() {
        families.counter(
            "consumption_source_errors_total",
            "Failed polls of the source, by reason.",
            with("reason", reason),
            count as f64,
        );
    }
    families.counter(
        "consumption_source_throttled_total",
        "Responses in which the vendor throttled the exporter (429, or 503 with Retry-After).",
        ids(),
        slot.stats.throttled() as f64,
    );
    for (endpoint, bytes) in slot.stats.response_bytes() {
        families.counter(
            "consumption_source_response_bytes_total",
            "Response body bytes read from the vendor by endpoint (token endpoint and failed answers included): the traffic the source costs.",
            with("api_endpoint", endpoint),
            bytes as f64,
        );
    }
}

/// What is made per scrape, in the text format: the process's figures and the scrapes
/// answered so far by status code. Small, so the rendered vendor data need not be touched.
pub fn scrape_block(
    process: &ProcessFigures,
    scrapes: &[(u16, u64)],
    polls_in_flight: usize,
    exchange_rates: &[(String, f64)],
) -> String {
    let mut families = Families::default();
    add_process_families(&mut families, process);
    for (currency, rate) in exchange_rates {
        families.gauge(
            "consumption_exchange_rate",
            "The exchange rate in use, reporting-currency units per unit of the currency.",
            vec![label("currency", currency)],
            *rate,
        );
    }
    families.gauge(
        "consumption_exporter_polls_in_flight",
        "Polls running now, at most global.max_concurrent_polls.",
        vec![],
        polls_in_flight as f64,
    );
    for (code, count) in scrapes {
        families.counter(
            "consumption_exporter_scrapes_total",
            "Requests for the metrics endpoint answered, by HTTP status code (refusals by basic auth and rate_limit included).",
            vec![label("code", &code.to_string())],
            *count as f64,
        );
    }
    let mut out = String::with_capacity(1024);
    families.write(&mut out);
    out
}

/// The process families with client_golang's names and help texts, so dashboards and alerts
/// written for any official exporter read them.
pub(super) fn add_process_families(families: &mut Families<'_>, process: &ProcessFigures) {
    let figures = [
        (
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            Kind::Counter,
            process.cpu_seconds,
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            Kind::Gauge,
            process.open_fds,
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            Kind::Gauge,
            process.max_fds,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            Kind::Gauge,
            process.virtual_memory_bytes,
        ),
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            Kind::Gauge,
            process.resident_memory_bytes,
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            Kind::Gauge,
            process.start_time_seconds,
        ),
    ];
    for (name, help, kind, value) in figures {
        if let Some(value) = value {
            let member = Member::Sample {
                labels: vec![],
                value,
            };
            families.add(name, help, kind, member);
        }
    }
}

pub(super) fn add_exporter_families(families: &mut Families<'_>, reload: ReloadStatus) {
    families.gauge(
        "consumption_exporter_config_last_reload_successful",
        "1 if the last config reload (SIGHUP or POST /-/reload) succeeded, 0 if the new config was refused.",
        vec![],
        if reload.successful { 1.0 } else { 0.0 },
    );
    families.gauge(
        "consumption_exporter_config_last_reload_success_timestamp_seconds",
        "When the config was last loaded successfully (Unix seconds).",
        vec![],
        reload.last_success_unix,
    );
    families.gauge(
        "consumption_exporter_build_info",
        "A constant 1, labelled with the exporter's version, source revision and branch, and the Rust version it was built with.",
        vec![
            label("version", env!("CARGO_PKG_VERSION")),
            label("revision", crate::model::build::REVISION),
            label("branch", crate::model::build::BRANCH),
            label("rustversion", crate::model::build::RUST_VERSION),
        ],
        1.0,
    );
}

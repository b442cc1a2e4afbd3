//! Turns every source's state into one text exposition: vendor families merged across sources
//! (one HELP and TYPE per name), then the health families, then `build_info`. Runs when a
//! state changes, never per scrape.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

use crate::snapshot::Snapshot;
use crate::store::{ReloadStatus, SourceSlot, SourceState};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition as served, and its gzip form, made on first request.
#[derive(Debug, Default)]
pub struct Rendered {
    pub body: Bytes,
    gzip: OnceLock<Bytes>,
}

impl Rendered {
    pub fn new(body: Bytes) -> Self {
        Rendered {
            body,
            gzip: OnceLock::new(),
        }
    }

    pub fn gzipped(&self) -> &Bytes {
        self.gzip.get_or_init(|| gzip(&self.body))
    }
}

fn gzip(body: &[u8]) -> Bytes {
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

/// Families in first-seen order, merged by name.
#[derive(Default)]
struct Families {
    list: Vec<MetricFamily>,
    index: HashMap<&'static str, usize>,
}

impl Families {
    fn family(&mut self, name: &'static str, help: &str, kind: MetricType) -> &mut MetricFamily {
        let i = *self.index.entry(name).or_insert_with(|| {
            let mut family = MetricFamily::default();
            family.set_name(name.to_string());
            family.set_help(help.to_string());
            family.set_field_type(kind);
            self.list.push(family);
            self.list.len() - 1
        });
        &mut self.list[i]
    }

    fn gauge(&mut self, name: &'static str, help: &str, labels: Vec<LabelPair>, value: f64) {
        let mut gauge = Gauge::default();
        gauge.set_value(value);
        let mut metric = Metric::from_label(labels);
        metric.set_gauge(gauge);
        self.family(name, help, MetricType::GAUGE)
            .mut_metric()
            .push(metric);
    }

    fn counter(&mut self, name: &'static str, help: &str, labels: Vec<LabelPair>, value: f64) {
        let mut counter = Counter::default();
        counter.set_value(value);
        let mut metric = Metric::from_label(labels);
        metric.set_counter(counter);
        self.family(name, help, MetricType::COUNTER)
            .mut_metric()
            .push(metric);
    }
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.to_string());
    pair.set_value(value.to_string());
    pair
}

/// Renders the exposition for these sources.
pub fn render(sources: &[(Arc<SourceSlot>, SourceState)], reload: ReloadStatus) -> Rendered {
    let mut families = Families::default();
    for (slot, state) in sources {
        if let Some(snapshot) = &state.snapshot {
            add_vendor_families(&mut families, &slot.name, snapshot);
        }
    }
    for (slot, state) in sources {
        add_health(&mut families, slot, state);
    }
    add_exporter_families(&mut families, reload);
    families.list.retain(|f| !f.get_metric().is_empty());
    let mut body = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&families.list, &mut body) {
        // Only invalid names reach here, and names are constants: a bug, not a vendor's doing.
        tracing::error!(error = %e, "rendering /metrics failed");
    }
    Rendered::new(Bytes::from(body))
}

fn add_vendor_families(families: &mut Families, source: &str, snapshot: &Snapshot) {
    for family in &snapshot.families {
        for (values, value) in &family.samples {
            let mut labels = Vec::with_capacity(values.len() + 1);
            labels.push(label("source", source));
            labels.extend(
                family
                    .label_names
                    .iter()
                    .zip(values)
                    .map(|(n, v)| label(n, v)),
            );
            families.gauge(family.desc.name, family.desc.help, labels, *value);
        }
    }
    if let Some(sunset) = snapshot.api_sunset {
        families.gauge(
            "consumption_source_api_sunset_timestamp_seconds",
            "The Sunset date (Unix seconds) the vendor announced for the API endpoint this source uses.",
            vec![label("source", source)],
            sunset,
        );
    }
}

fn add_health(families: &mut Families, slot: &SourceSlot, state: &SourceState) {
    let ids = || vec![label("source", &slot.name), label("vendor", slot.vendor)];
    let with = |name: &str, value: &str| {
        let mut labels = ids();
        labels.push(label(name, value));
        labels
    };
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
    let series = state.snapshot.as_ref().map_or(0, |s| s.series_count());
    families.gauge(
        "consumption_source_series",
        "Vendor series the source serves now (0 once its data passed max_age).",
        ids(),
        series as f64,
    );
    if let Some(updated) = state.snapshot.as_ref().and_then(|s| s.data_updated) {
        families.gauge(
            "consumption_source_data_updated_timestamp_seconds",
            "The vendor's own as-of time of the served data (Unix seconds), where its API gives one.",
            ids(),
            updated,
        );
    }
    for (code, count) in slot.stats.requests() {
        families.counter(
            "consumption_source_requests_total",
            "HTTP requests to the vendor, by response status code.",
            with("code", &code.to_string()),
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
}

fn add_exporter_families(families: &mut Families, reload: ReloadStatus) {
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
        "A constant 1, labelled with the exporter's version and source revision.",
        vec![
            label("version", env!("CARGO_PKG_VERSION")),
            label("revision", crate::REVISION),
        ],
        1.0,
    );
}

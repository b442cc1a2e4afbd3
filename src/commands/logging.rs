//! Log lines shaped as Prometheus's own (Go's `log/slog`): `time=… level=INFO source=file:line
//! msg=… key=value` in logfmt, or one flat JSON object with the same keys. `source` is the code
//! location, as there; a vendor source's name goes under `source_name`.

use std::fmt;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::commands::cli::{LogFormat, LogLevel};

/// Sends `tracing` output to stderr in the chosen format.
pub fn init(level: LogLevel, format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = match level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error => tracing::Level::ERROR,
    };
    // Our own crate at the chosen level; the libraries' chatter only from warn up.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::WARN.min(level))
        .with_target("consumption_exporter", level);
    let layer = tracing_subscriber::fmt::layer()
        .event_format(PrometheusFormat { format })
        .with_writer(std::io::stderr);
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .init();
}

/// The event formatter: the fixed keys first, then the event's fields in their order.
pub struct PrometheusFormat {
    pub format: LogFormat,
}

impl<S, N> FormatEvent<S, N> for PrometheusFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let file = metadata.file().unwrap_or("?");
        let file = file.rsplit('/').next().unwrap_or(file);
        let fixed = [
            (
                "time",
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
            ("level", level_name(metadata.level()).to_string()),
            ("source", format!("{file}:{}", metadata.line().unwrap_or(0))),
            ("msg", fields.message.take().unwrap_or_default()),
        ];
        let entries = fixed
            .into_iter()
            .map(|(key, value)| (key.to_string(), Value::String(value)))
            .chain(fields.entries);
        match self.format {
            LogFormat::Logfmt => write_logfmt(&mut writer, entries),
            LogFormat::Json => write_json(&mut writer, entries),
        }
    }
}

/// slog's level names.
fn level_name(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::ERROR => "ERROR",
        tracing::Level::WARN => "WARN",
        tracing::Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

fn write_logfmt(
    writer: &mut Writer<'_>,
    entries: impl Iterator<Item = (String, Value)>,
) -> fmt::Result {
    let mut separator = "";
    for (key, value) in entries {
        let text = match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        write!(writer, "{separator}{key}=")?;
        if text.is_empty() || text.contains(|c: char| c <= ' ' || c == '=' || c == '"') {
            // Go's logfmt quoting: a JSON string is a valid quoted logfmt value.
            write!(writer, "{}", Value::String(text))?;
        } else {
            write!(writer, "{text}")?;
        }
        separator = " ";
    }
    writeln!(writer)
}

/// One flat object, keys in the order given (slog's: time, level, source, msg, then the rest).
fn write_json(
    writer: &mut Writer<'_>,
    entries: impl Iterator<Item = (String, Value)>,
) -> fmt::Result {
    let mut separator = "{";
    for (key, value) in entries {
        write!(writer, "{separator}{}:{value}", Value::String(key))?;
        separator = ",";
    }
    writeln!(writer, "}}")
}

/// An event's message and its other fields, numbers and booleans kept as such for JSON.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    entries: Vec<(String, Value)>,
}

impl Fields {
    fn add(&mut self, field: &Field, value: Value) {
        match (field.name(), value) {
            ("message", Value::String(text)) => self.message = Some(text),
            (name, value) => self.entries.push((name.to_string(), value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, Value::String(value.to_string()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.add(field, Value::Bool(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.add(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.add(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.add(field, Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.add(field, Value::String(format!("{value:?}")));
    }
}

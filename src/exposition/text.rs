//! The text writer: families of samples written in the Prometheus text format, byte for byte
//! as `prometheus::TextEncoder` writes them (a property test in `render` checks it), without
//! its per-series allocations.

use std::collections::HashMap;
use std::fmt::Write;
use std::ops::Range;

use crate::model::snapshot::{escape_into, FamilySamples};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    Gauge,
    Counter,
}

/// Part of a family: one source's vendor samples (none: the exporter's own, across sources),
/// or one sample with its own labels.
pub(super) enum Member<'a> {
    Vendor {
        source: Option<&'a str>,
        samples: &'a FamilySamples,
    },
    Sample {
        labels: Vec<(&'static str, String)>,
        value: f64,
    },
}

pub(super) struct Family<'a> {
    pub(super) name: &'static str,
    pub(super) help: &'static str,
    pub(super) kind: Kind,
    pub(super) members: Vec<Member<'a>>,
}

/// Families in first-seen order, merged by name.
#[derive(Default)]
pub(super) struct Families<'a> {
    pub(super) list: Vec<Family<'a>>,
    pub(super) index: HashMap<&'static str, usize>,
}

impl<'a> Families<'a> {
    pub(super) fn add(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        member: Member<'a>,
    ) {
        let i = *self.index.entry(name).or_insert_with(|| {
            self.list.push(Family {
                name,
                help,
                kind,
                members: Vec::new(),
            });
            self.list.len() - 1
        });
        self.list[i].members.push(member);
    }

    pub(super) fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: Vec<(&'static str, String)>,
        value: f64,
    ) {
        self.add(name, help, Kind::Gauge, Member::Sample { labels, value });
    }

    pub(super) fn counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: Vec<(&'static str, String)>,
        value: f64,
    ) {
        self.add(name, help, Kind::Counter, Member::Sample { labels, value });
    }

    pub(super) fn write(&self, out: &mut String) {
        for family in &self.list {
            if family.members.iter().all(Member::is_empty) {
                continue;
            }
            write_head(out, family.head());
            for member in &family.members {
                member.write(family.name, out);
            }
        }
    }

    /// Each family's lines without HELP and TYPE, and where they went in `out`.
    pub(super) fn write_segments(&self, out: &mut String) -> Vec<Segment> {
        self.list
            .iter()
            .map(|family| {
                let start = out.len();
                for member in &family.members {
                    member.write(family.name, out);
                }
                Segment {
                    head: family.head(),
                    lines: start..out.len(),
                }
            })
            .collect()
    }
}

impl Family<'_> {
    pub(super) fn head(&self) -> FamilyHead {
        FamilyHead {
            name: self.name,
            help: self.help,
            kind: self.kind,
        }
    }
}

impl Member<'_> {
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Member::Vendor { samples, .. } => samples.is_empty(),
            Member::Sample { .. } => false,
        }
    }

    pub(super) fn write(&self, name: &str, out: &mut String) {
        let escaped = |text: &str| {
            let mut escaped = String::with_capacity(text.len());
            escape_into(&mut escaped, text, true);
            escaped
        };
        match self {
            Member::Vendor { source, samples } => {
                let source = source.map(escaped);
                // Snapshots hold their label values escaped already.
                samples.for_each_escaped(|values, value| {
                    let labels = source
                        .as_deref()
                        .map(|source| ("source", source))
                        .into_iter()
                        .chain(
                            (samples.label_names.iter().copied())
                                .zip(values.split_terminator('\n')),
                        );
                    write_sample(out, name, labels, value, "");
                });
            }
            Member::Sample { labels, value } => {
                let labels: Vec<(&str, String)> =
                    labels.iter().map(|(n, v)| (*n, escaped(v))).collect();
                let labels = labels.iter().map(|(n, v)| (*n, v.as_str()));
                write_sample(out, name, labels, *value, "");
            }
        }
    }
}

/// One source's samples of a family, each line ending in `timestamp` (OpenMetrics, for a
/// backfill): the lines `/metrics` would have, with the time they are for.
/// `extra` labels (names and escaped values) go first on every line.
pub fn write_timestamped(
    out: &mut String,
    (source, extra): (&str, &[(String, String)]),
    samples: &FamilySamples,
    timestamp: &str,
) {
    let mut escaped_source = String::with_capacity(source.len());
    escape_into(&mut escaped_source, source, true);
    let suffix = format!(" {timestamp}");
    samples.for_each_escaped(|values, value| {
        let labels = extra
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .chain(std::iter::once(("source", escaped_source.as_str())))
            .chain((samples.label_names.iter().copied()).zip(values.split_terminator('\n')));
        write_sample(out, samples.desc.name, labels, value, &suffix);
    });
}

/// One line of the text format, as `prometheus::TextEncoder` writes it, from escaped values;
/// `suffix` follows the value (a timestamp, or nothing).
pub(super) fn write_sample<'v>(
    out: &mut String,
    name: &str,
    labels: impl Iterator<Item = (&'v str, &'v str)>,
    value: f64,
    suffix: &str,
) {
    out.push_str(name);
    let mut separator = '{';
    for (label, escaped_value) in labels {
        out.push(separator);
        out.push_str(label);
        out.push_str("=\"");
        out.push_str(escaped_value);
        out.push('"');
        separator = ',';
    }
    if separator == ',' {
        out.push('}');
    }
    out.push(' ');
    if value.is_infinite() {
        // The text format's spelling; Rust's Display would write `inf`.
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 && !is_negative_zero(value) {
        // Counts, limits, flags and timestamps are whole numbers; itoa writes them several
        // times faster than float formatting does, with the same digits.
        out.push_str(itoa::Buffer::new().format(value as i64));
    } else {
        // Writing into a String cannot fail.
        let _ = write!(out, "{value}");
    }
    out.push_str(suffix);
    out.push('\n');
}

pub(super) fn is_negative_zero(value: f64) -> bool {
    value == 0.0 && value.is_sign_negative()
}

pub(super) fn label(name: &'static str, value: &str) -> (&'static str, String) {
    (name, value.to_string())
}

/// A family's name, help and type: what its HELP and TYPE lines say.
#[derive(Clone, Copy, Debug)]
pub(super) struct FamilyHead {
    pub(super) name: &'static str,
    pub(super) help: &'static str,
    pub(super) kind: Kind,
}

/// One source's lines of one family, and where they sit in a text.
#[derive(Clone, Debug)]
pub(super) struct Segment {
    pub(super) head: FamilyHead,
    pub(super) lines: Range<usize>,
}

pub(super) fn write_head(out: &mut String, head: FamilyHead) {
    out.push_str("# HELP ");
    out.push_str(head.name);
    out.push(' ');
    escape_into(out, head.help, false);
    out.push_str("\n# TYPE ");
    out.push_str(head.name);
    out.push_str(match head.kind {
        Kind::Gauge => " gauge\n",
        Kind::Counter => " counter\n",
    });
}

//! Turns every source's state into one text exposition: vendor families merged across sources
//! (one HELP and TYPE per name), then the health families, then `build_info`. Runs when a
//! state changes, never per scrape.
//!
//! Each source's lines are written once, when its state changes, as a part: its lines of each
//! family and where they sit. Parts are merged family by family into blocks of consecutive
//! sources, which remember where each part's lines went, so a change to one source writes that
//! source's lines and copies its block's others (at 1,000 sources, one poll neither formats nor
//! copies the other 999); the exposition is each family's head and each block's slice of it.
//!
//! The text is written directly, not through `prometheus::TextEncoder`: the encoder needs a
//! `proto::Metric` with owned label pairs per series, which at 100,000 series took 226 ms and
//! left its garbage in the heap. The encoder stays the reference: a property test checks that
//! both write the same bytes.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::exposition::gzip::GzipPrefix;
use crate::exposition::openmetrics::{self, Format};
use crate::model::health::{ReloadStatus, SourceSlot, SourceState};
use crate::model::snapshot::{FamilySamples, Snapshot};

/// The exposition as served: the text, and its OpenMetrics and gzip forms, each made on the
/// first request that wants it and kept until the next render.
///
/// The text is sent as chunks, never copied into one body: each family's HELP and TYPE, then
/// each block's lines of it (see [`super::blocks`]), then the exporter's own families. A render
/// after one source changed writes that source's lines and merges its block again, so its cost
/// follows the block, not the body (a copy of 230 MiB at 10,000 sources).
///
/// OpenMetrics has the same sample lines as the text format; only the HELP, TYPE and UNIT lines
/// differ. Its form is the text's sample chunks (shared, not copied) between OpenMetrics
/// descriptors, so serving both formats does not hold the exposition twice.
#[derive(Debug, Default)]
pub struct Rendered {
    /// The text exposition, in order.
    chunks: Vec<Bytes>,
    /// The sources' lines in blocks of consecutive sources, in the order rendered; the last
    /// holds the families across sources.
    blocks: Vec<Arc<Block>>,
    /// Each family's HELP and TYPE chunk, and the chunks of its samples.
    families: Vec<(usize, Range<usize>)>,
    /// The chunk of the exporter's own families, the last.
    exporter_families: usize,
    /// Each block's chunks, by the block's family: where a block of the same shape goes.
    placed: Arc<Vec<Vec<Option<usize>>>>,
    gzip: OnceLock<GzipPrefix>,
    openmetrics: OnceLock<Vec<Bytes>>,
    openmetrics_gzip: OnceLock<GzipPrefix>,
}

impl Rendered {
    /// Whether every source's first poll had ended in the states this was rendered from.
    pub fn every_source_polled(&self) -> bool {
        self.parts().all(|part| part.polled)
    }

    fn parts(&self) -> impl Iterator<Item = &PartLayout> {
        self.blocks.iter().flat_map(|block| &block.parts)
    }

    /// The text exposition as one buffer (a copy: for `once` and tests, not for serving).
    pub fn text(&self) -> Bytes {
        Bytes::from(self.chunks.concat())
    }

    /// The body in `format`, as parts sent one after the other. OpenMetrics comes without its
    /// `# EOF`, so the per-scrape block can follow.
    pub fn body_in(&self, format: Format) -> &[Bytes] {
        match format {
            Format::Text => &self.chunks,
            Format::OpenMetrics => self.openmetrics.get_or_init(|| self.openmetrics_parts()),
        }
    }

    /// The start of the gzipped body in `format`, which each scrape finishes with its block.
    pub fn gzip_prefix_in(&self, format: Format) -> &GzipPrefix {
        let cell = match format {
            Format::Text => &self.gzip,
            Format::OpenMetrics => &self.openmetrics_gzip,
        };
        cell.get_or_init(|| {
            let parts: Vec<&[u8]> = self.body_in(format).iter().map(|p| &p[..]).collect();
            GzipPrefix::of_parts(&parts)
        })
    }

    fn openmetrics_parts(&self) -> Vec<Bytes> {
        let descriptors = |chunk: usize| {
            Bytes::from(openmetrics::from_text(&String::from_utf8_lossy(
                &self.chunks[chunk],
            )))
        };
        let mut parts = Vec::with_capacity(self.chunks.len());
        for (head, samples) in &self.families {
            parts.push(descriptors(*head));
            parts.extend(self.chunks[samples.clone()].iter().cloned());
        }
        parts.push(descriptors(self.exporter_families));
        parts
    }
}

use super::blocks::{Block, PartLayout, SOURCES_PER_BLOCK};
use super::families::*;
use super::text::*;

/// The id of the part that holds the families across sources (the top-level budgets), after
/// every source's part. Slot ids count up from 0 and never reach it.
const ACROSS_SOURCES: u64 = u64::MAX;

/// Renders the exposition for these sources, every part anew, and `across` (families over
/// many sources, without a `source` label).
pub fn render(
    sources: &[(Arc<SourceSlot>, SourceState)],
    across: &[FamilySamples],
    reload: ReloadStatus,
) -> Rendered {
    let parts: Vec<(Bytes, PartLayout)> = sources
        .iter()
        .map(|(slot, state)| render_part(slot, state))
        .collect();
    let mut blocks: Vec<Arc<Block>> = parts
        .chunks(SOURCES_PER_BLOCK)
        .map(|block| {
            let texts: Vec<(&[u8], &PartLayout)> =
                block.iter().map(|(text, l)| (&text[..], l)).collect();
            Arc::new(Block::merge(&texts))
        })
        .collect();
    blocks.push(across_block(across));
    assemble(blocks, reload)
}

/// The part across sources, as a block: it is small and sums every source, so it is made anew
/// at every render.
fn across_block(across: &[FamilySamples]) -> Arc<Block> {
    let (text, layout) = render_across_sources(across);
    Arc::new(Block::merge(&[(&text, &layout)]))
}

/// The exposition after the states of the slots with ids in `changed` changed: their parts
/// made anew and merged with their blocks' other lines; the other blocks as in `previous`. `None` if `previous` was
/// rendered for other sources than `slots` (a reload came between): render them all then. A
/// changed id no longer among `slots` is a source a reload removed; it has no lines to write.
pub fn rerender_sources(
    previous: &Rendered,
    slots: &[Arc<SourceSlot>],
    changed: &HashSet<u64>,
    across: &[FamilySamples],
    reload: ReloadStatus,
) -> Option<Rendered> {
    let ids = slots.iter().map(|slot| slot.id).chain([ACROSS_SOURCES]);
    if !previous.parts().map(|part| part.slot).eq(ids) {
        return None;
    }
    let (_, blocks) = previous.blocks.split_last()?;
    // Sorted, not hashed: every part of every block is looked up, and few change at once.
    let mut changed: Vec<u64> = changed.iter().copied().collect();
    changed.sort_unstable();
    let changed = |slot: &u64| changed.binary_search(slot).is_ok();
    // The parts are the slots, in order: block `b`'s are the slots from b × SOURCES_PER_BLOCK.
    let mut next: Vec<Arc<Block>> = (blocks.iter().zip(slots.chunks(SOURCES_PER_BLOCK)))
        .map(|(block, slots)| {
            if !block.parts.iter().any(|part| changed(&part.slot)) {
                return block.clone();
            }
            let fresh: Vec<Option<(Bytes, PartLayout)>> = (slots.iter())
                .map(|slot| changed(&slot.id).then(|| render_part(slot, &slot.state())))
                .collect();
            let texts: Vec<(&[u8], &PartLayout)> = (block.parts.iter().zip(&fresh))
                .map(|(kept, fresh)| match fresh {
                    Some((text, layout)) => (&text[..], layout),
                    None => (&block.text[..], kept),
                })
                .collect();
            Arc::new(Block::merge(&texts))
        })
        .collect();
    next.push(across_block(across));
    Some(replace_blocks(previous, next, reload).unwrap_or_else(|next| assemble(next, reload)))
}

/// One source's lines, written without HELP and TYPE lines, and their layout.
fn render_part(slot: &SourceSlot, state: &SourceState) -> (Bytes, PartLayout) {
    let mut vendor = Families::default();
    if let Some(snapshot) = &state.snapshot {
        add_vendor_families(&mut vendor, &slot.name, snapshot);
    }
    let mut health = Families::default();
    add_health(&mut health, slot, state);
    let mut text = String::new();
    let layout = PartLayout {
        slot: slot.id,
        polled: state.up.is_some(),
        vendor: vendor.write_segments(&mut text),
        health: health.write_segments(&mut text),
    };
    (Bytes::from(text), layout)
}

/// The families across sources, as a part with no health families.
fn render_across_sources(across: &[FamilySamples]) -> (Bytes, PartLayout) {
    let mut families = Families::default();
    for samples in across {
        let member = Member::Vendor {
            source: None,
            samples,
        };
        families.add(samples.desc.name, samples.desc.help, Kind::Gauge, member);
    }
    let mut text = String::new();
    let layout = PartLayout {
        slot: ACROSS_SOURCES,
        polled: true,
        vendor: families.write_segments(&mut text),
        health: Vec::new(),
    };
    (Bytes::from(text), layout)
}

/// The exposition of these blocks: each family (by name, in the order first seen, vendor
/// families first) with each block's lines of it, then the exporter's own families.
fn assemble(blocks: Vec<Arc<Block>>, reload: ReloadStatus) -> Rendered {
    let mut order: Vec<FamilyHead> = Vec::new();
    let mut seen: hashbrown::HashSet<&'static str> = hashbrown::HashSet::new();
    for health in [false, true] {
        for block in &blocks {
            for family in block.families.iter().filter(|f| f.health == health) {
                if seen.insert(family.head.name) {
                    order.push(family.head);
                }
            }
        }
    }
    let mut chunks = Vec::new();
    let mut written = Vec::new();
    let mut placed: Vec<Vec<Option<usize>>> = blocks
        .iter()
        .map(|b| vec![None; b.families.len()])
        .collect();
    let mut head = String::new();
    for family in order {
        let lines: Vec<(usize, usize, Bytes)> = [false, true]
            .into_iter()
            .flat_map(|health| {
                (blocks.iter().enumerate()).filter_map(move |(b, block)| {
                    let (at, lines) = block.lines_of(family.name, health)?;
                    Some((b, at, lines))
                })
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        head.clear();
        write_head(&mut head, family);
        chunks.push(Bytes::copy_from_slice(head.as_bytes()));
        let samples = chunks.len()..chunks.len() + lines.len();
        for (b, at, lines) in lines {
            placed[b][at] = Some(chunks.len());
            chunks.push(lines);
        }
        written.push((samples.start - 1, samples));
    }
    chunks.push(exporter_chunk(reload));
    Rendered {
        exporter_families: chunks.len() - 1,
        chunks,
        blocks,
        families: written,
        placed: Arc::new(placed),
        ..Rendered::default()
    }
}

/// The exporter's own families.
fn exporter_chunk(reload: ReloadStatus) -> Bytes {
    let mut exporter = Families::default();
    add_exporter_families(&mut exporter, reload);
    let mut tail = String::new();
    exporter.write(&mut tail);
    Bytes::from(tail)
}

/// `previous` with the blocks that changed put in their places, when each has the shape of the
/// block it replaces (the same families, each with lines or without): the exposition's order
/// is then the same, and a render costs the changed blocks and a copy of the chunk list, not a
/// walk over every family of every block. The blocks back when a shape changed.
fn replace_blocks(
    previous: &Rendered,
    blocks: Vec<Arc<Block>>,
    reload: ReloadStatus,
) -> Result<Rendered, Vec<Arc<Block>>> {
    let same = previous.blocks.len() == blocks.len()
        && (previous.blocks.iter().zip(&blocks))
            .all(|(old, new)| Arc::ptr_eq(old, new) || old.same_shape(new));
    if !same {
        return Err(blocks);
    }
    let mut chunks = previous.chunks.clone();
    for ((old, new), placed) in previous.blocks.iter().zip(&blocks).zip(&*previous.placed) {
        if Arc::ptr_eq(old, new) {
            continue;
        }
        for (family, place) in new.families.iter().zip(placed) {
            if let Some(chunk) = place {
                chunks[*chunk] = new.text.slice(family.lines.clone());
            }
        }
    }
    chunks[previous.exporter_families] = exporter_chunk(reload);
    Ok(Rendered {
        chunks,
        blocks,
        families: previous.families.clone(),
        exporter_families: previous.exporter_families,
        placed: previous.placed.clone(),
        ..Rendered::default()
    })
}

fn add_vendor_families<'a>(families: &mut Families<'a>, source: &'a str, snapshot: &'a Snapshot) {
    for samples in &snapshot.families {
        families.add(
            samples.desc.name,
            samples.desc.help,
            Kind::Gauge,
            Member::Vendor {
                source: Some(source),
                samples,
            },
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::{Combine, FamilyDesc, SnapshotBuilder};
    use prometheus::proto::{self, MetricFamily, MetricType};
    use prometheus::{Encoder, TextEncoder};
    use proptest::prelude::*;

    static USAGE: FamilyDesc = FamilyDesc {
        name: "consumption_test_usage",
        help: "Usage with a \\ backslash and a\nnewline in its help.",
    };
    static LIMIT: FamilyDesc = FamilyDesc {
        name: "consumption_test_limit",
        help: "Limit.",
    };

    /// The same families through `prometheus::TextEncoder`, the reference for the text format.
    fn encode_with_prometheus(families: &Families) -> Vec<u8> {
        let to_pairs = |labels: Vec<(&str, &str)>| -> Vec<proto::LabelPair> {
            labels
                .into_iter()
                .map(|(n, v)| {
                    let mut pair = proto::LabelPair::default();
                    pair.set_name(n.to_string());
                    pair.set_value(v.to_string());
                    pair
                })
                .collect()
        };
        let mut list = Vec::new();
        for family in families.list.iter() {
            let mut encoded = MetricFamily::default();
            encoded.set_name(family.name.to_string());
            encoded.set_help(family.help.to_string());
            encoded.set_field_type(match family.kind {
                Kind::Gauge => MetricType::GAUGE,
                Kind::Counter => MetricType::COUNTER,
            });
            let mut push = |labels: Vec<(&str, &str)>, value: f64| {
                let mut metric = proto::Metric::from_label(to_pairs(labels));
                if family.kind == Kind::Gauge {
                    let mut gauge = proto::Gauge::default();
                    gauge.set_value(value);
                    metric.set_gauge(gauge);
                } else {
                    let mut counter = proto::Counter::default();
                    counter.set_value(value);
                    metric.set_counter(counter);
                }
                encoded.mut_metric().push(metric);
            };
            for member in &family.members {
                match member {
                    Member::Vendor { source, samples } => {
                        for (values, value) in samples.iter() {
                            let values: Vec<_> = values.collect();
                            let mut labels: Vec<(&str, &str)> = source
                                .map(|source| ("source", source))
                                .into_iter()
                                .collect();
                            labels.extend(
                                samples
                                    .label_names
                                    .iter()
                                    .copied()
                                    .zip(values.iter().map(|v| v.as_ref())),
                            );
                            push(labels, value);
                        }
                    }
                    Member::Sample { labels, value } => push(
                        labels.iter().map(|(n, v)| (*n, v.as_str())).collect(),
                        *value,
                    ),
                }
            }
            if !encoded.get_metric().is_empty() {
                list.push(encoded);
            }
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&list, &mut out)
            .expect("the reference encoder accepts the families");
        out
    }

    fn snapshot(rows: &[(String, String, f64)], limit: Option<f64>) -> Snapshot {
        let mut builder = SnapshotBuilder::new();
        let usage = builder.family(&USAGE, vec!["kind", "user_id"], Combine::Sum);
        let capacity = builder.family(&LIMIT, vec![], Combine::Max);
        for (kind, user, value) in rows {
            builder.observe(usage, &[kind, user], *value);
        }
        if let Some(limit) = limit {
            builder.observe(capacity, &[], limit);
        }
        builder.api_sunset(1.8e9);
        builder.finish()
    }

    proptest! {
        /// Any label values (quotes, backslashes, newlines, any Unicode), any finite value,
        /// several sources merging into one family, and a member across sources without a
        /// `source` label: byte for byte what TextEncoder writes.
        #[test]
        fn the_exposition_is_what_the_prometheus_text_encoder_writes(
            across in rows(),
            sources in proptest::collection::vec(
                (
                    ".{0,8}",
                    proptest::collection::vec(
                        (".{0,6}|[\\\\\"\n]{1,3}", ".{0,6}", prop_oneof![
                            proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
                            (-2e15..2e15f64).prop_map(f64::trunc),
                        ]),
                        0..12,
                    ),
                    proptest::option::of(proptest::num::f64::ANY.prop_filter("finite", |v| v.is_finite())),
                ),
                1..4,
            )
        ) {
            let snapshots: Vec<(String, Snapshot)> = sources
                .iter()
                .map(|(name, rows, limit)| (name.clone(), snapshot(rows, *limit)))
                .collect();
            let mut families = Families::default();
            for (name, snapshot) in &snapshots {
                add_vendor_families(&mut families, name, snapshot);
            }
            let across = snapshot(&across, None);
            for samples in &across.families {
                let member = Member::Vendor { source: None, samples };
                families.add(samples.desc.name, samples.desc.help, Kind::Gauge, member);
            }
            add_exporter_families(&mut families, ReloadStatus { successful: true, last_success_unix: 1.7e9 });
            let mut ours = String::new();
            families.write(&mut ours);
            let reference = encode_with_prometheus(&families);
            prop_assert_eq!(ours, String::from_utf8_lossy(&reference));
        }
    }

    fn state(rows: &[(String, String, f64)], limit: Option<f64>, up: Option<bool>) -> SourceState {
        SourceState {
            snapshot: up.map(|_| Arc::new(snapshot(rows, limit))),
            up,
            last_success_unix: up.filter(|up| *up).map(|_| 1.7e9),
            last_duration: up.map(|_| std::time::Duration::from_millis(120)),
            last_error: None,
        }
    }

    fn views(slots: &[Arc<SourceSlot>]) -> Vec<(Arc<SourceSlot>, SourceState)> {
        slots.iter().map(|s| (s.clone(), s.state())).collect()
    }

    fn rows() -> impl Strategy<Value = Vec<(String, String, f64)>> {
        proptest::collection::vec(("[a-c]", "[x-z\"]{0,2}", -1e6..1e6f64), 0..6)
    }

    const RELOAD: ReloadStatus = ReloadStatus {
        successful: true,
        last_success_unix: 1.7e9,
    };

    proptest! {
        /// Whatever changes, in whatever order and batches, the changed sources' lines made
        /// anew and the rest of their blocks copied give the bytes (and the readiness) a render of every
        /// source gives, with families across sources (in the sources' families, or alone)
        /// changing too.
        #[test]
        fn rendering_changed_sources_anew_gives_what_rendering_all_gives(
            initial in proptest::collection::vec(
                (rows(), proptest::option::of(0.0..1e4f64), proptest::option::of(any::<bool>())),
                // Up to three blocks of sources.
                1..3 * SOURCES_PER_BLOCK,
            ),
            batches in proptest::collection::vec(
                (
                    proptest::collection::vec(
                        (0..3 * SOURCES_PER_BLOCK, rows(), proptest::option::of(0.0..1e4f64), proptest::option::of(any::<bool>())),
                        1..4,
                    ),
                    rows(),
                    proptest::option::of(0.0..1e4f64),
                ),
                1..5,
            ),
        ) {
            let slots: Vec<Arc<SourceSlot>> = (0..initial.len())
                .map(|i| Arc::new(SourceSlot::new(format!("source-{i}"), "some-vendor")))
                .collect();
            for (slot, (rows, limit, up)) in slots.iter().zip(&initial) {
                slot.change_state(|s| *s = state(rows, *limit, *up));
            }
            let mut previous = render(&views(&slots), &[], RELOAD);
            for (batch, across_rows, across_limit) in batches {
                let across = snapshot(&across_rows, across_limit).families;
                let mut changed = HashSet::new();
                for (i, rows, limit, up) in batch {
                    let slot = &slots[i % slots.len()];
                    slot.change_state(|s| *s = state(&rows, limit, up));
                    changed.insert(slot.id);
                }
                let anew = rerender_sources(&previous, &slots, &changed, &across, RELOAD)
                    .expect("the sources are the ones rendered before");
                let whole = render(&views(&slots), &across, RELOAD);
                prop_assert_eq!(
                    String::from_utf8_lossy(&anew.text()).into_owned(),
                    String::from_utf8_lossy(&whole.text()).into_owned()
                );
                prop_assert_eq!(anew.every_source_polled(), whole.every_source_polled());
                // The OpenMetrics form shares the text's sample blocks: it is what converting
                // the whole text would give.
                let parts: Vec<u8> = anew.body_in(Format::OpenMetrics).concat();
                prop_assert_eq!(
                    String::from_utf8_lossy(&parts),
                    openmetrics::from_text(&String::from_utf8_lossy(&anew.text()))
                );
                previous = anew;
            }
        }
    }

    #[test]
    fn a_render_for_other_sources_is_not_merged_into() {
        let kept = Arc::new(SourceSlot::new("kept".into(), "some-vendor"));
        let replaced = Arc::new(SourceSlot::new("replaced".into(), "some-vendor"));
        let previous = render(&views(&[kept.clone(), replaced]), &[], RELOAD);
        let added = Arc::new(SourceSlot::new("added".into(), "some-vendor"));
        let now = [kept.clone(), added.clone()];
        for changed in [&added, &kept] {
            let changed = HashSet::from([changed.id]);
            assert!(rerender_sources(&previous, &now, &changed, &[], RELOAD).is_none());
        }
    }

    #[test]
    fn infinities_are_written_as_the_text_format_spells_them() {
        let mut out = String::new();
        write_sample(&mut out, "x", std::iter::empty(), f64::INFINITY, "");
        write_sample(&mut out, "x", std::iter::empty(), f64::NEG_INFINITY, "");
        write_sample(&mut out, "x", std::iter::empty(), f64::NAN, "");
        assert_eq!(out, "x +Inf\nx -Inf\nx NaN\n");
    }
}

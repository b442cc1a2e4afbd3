//! A complete, immutable set of samples from one successful poll of one source.
//!
//! Sources describe their families with [`FamilyDesc`] constants and fill a [`SnapshotBuilder`],
//! which aggregates samples by label set while pages stream in. The result is published whole or
//! not at all ("const metrics", from Prometheus's "Writing exporters").

use std::borrow::Cow;

use hashbrown::HashMap;

use crate::model::settled::SettledFamily;
use crate::model::usage::{BudgetShare, DailyUsage, Usage, VendorBudget};

/// Escapes backslash and newline (and `"` in label values), as the text format requires.
pub(crate) fn escape_into(out: &mut String, text: &str, quote: bool) {
    let needs_escape = |c: char| c == '\\' || c == '\n' || (quote && c == '"');
    if !text.contains(needs_escape) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            c if needs_escape(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

/// A gauge family: its name and HELP text. Label names are chosen per source, since some
/// labels are opt-in.
#[derive(Debug, PartialEq, Eq)]
pub struct FamilyDesc {
    pub name: &'static str,
    pub help: &'static str,
}

/// How samples that land on the same label set combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    Sum,
    Max,
}

/// The label values of one series packed into one allocation while a poll aggregates: each
/// value ended by a 0 byte, with 0 and 1 bytes inside a value escaped as 1 1 and 1 2. Keys then
/// compare byte by byte in the order of their values, so sorting them decodes nothing.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SeriesKey(Box<[u8]>);

const END: u8 = 0;
const ESCAPE: u8 = 1;

impl SeriesKey {
    /// Writes `values` in the key encoding into `buffer` (cleared first).
    fn encode(values: &[&str], buffer: &mut Vec<u8>) {
        buffer.clear();
        for value in values {
            for &byte in value.as_bytes() {
                match byte {
                    END | ESCAPE => buffer.extend_from_slice(&[ESCAPE, byte + 1]),
                    _ => buffer.push(byte),
                }
            }
            buffer.push(END);
        }
    }

    /// The label values, in the family's `label_names` order.
    fn values(&self) -> impl Iterator<Item = Cow<'_, str>> {
        // Every value ends with END; no values at all is an empty key.
        let values = self.0.strip_suffix(&[END]);
        values
            .into_iter()
            .flat_map(|v| v.split(|&b| b == END))
            .map(|encoded| {
                // Splitting UTF-8 at ASCII bytes leaves UTF-8, and escapes are ASCII too.
                let text = || String::from_utf8_lossy(encoded);
                if !encoded.contains(&ESCAPE) {
                    return text();
                }
                let mut bytes = Vec::with_capacity(encoded.len());
                let mut escaped = false;
                for &byte in encoded {
                    match (escaped, byte) {
                        (false, ESCAPE) => escaped = true,
                        (true, _) => {
                            bytes.push(byte - 1);
                            escaped = false;
                        }
                        _ => bytes.push(byte),
                    }
                }
                Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
            })
    }
}

impl std::borrow::Borrow<[u8]> for SeriesKey {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for SeriesKey {
    fn from(encoded: &[u8]) -> Self {
        SeriesKey(encoded.into())
    }
}

impl std::fmt::Debug for SeriesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.values()).finish()
    }
}

/// The samples of one family from one source, sorted by label values.
///
/// Label values are stored escaped for the text format, back to back in one string: rendering
/// copies them and scans memory in order. (One allocation per series, read in sorted rather
/// than allocation order, made the render wait on cache misses.) Sorted series share their
/// first values with the series before them (a Power Platform flow's three windows, a user's
/// forty Qlik series), so each series keeps only the values after those it shares, and how
/// many it shares: at 70,000 series that halves what a snapshot holds.
#[derive(Clone, PartialEq)]
pub struct FamilySamples {
    pub desc: &'static FamilyDesc,
    pub label_names: Vec<&'static str>,
    /// Each series' label values after those it shares with the series before it, each
    /// escaped and followed by `\n`, which escaped text never contains.
    escaped_values: String,
    /// Where each series' own values start in `escaped_values`, and where the last one ends.
    starts: Vec<u32>,
    /// How many of its first label values each series shares with the series before it.
    shared: Vec<u8>,
    values: Vec<f64>,
}

impl FamilySamples {
    fn new(desc: &'static FamilyDesc, label_names: Vec<&'static str>, series: usize) -> Self {
        let mut starts = Vec::with_capacity(series + 1);
        starts.push(0);
        FamilySamples {
            desc,
            label_names,
            escaped_values: String::new(),
            starts,
            shared: Vec::with_capacity(series),
            values: Vec::with_capacity(series),
        }
    }

    /// Adds a series after the last, given its escaped values (each followed by `\n`) and the
    /// last series' (`previous`).
    fn push_escaped(&mut self, escaped: &str, previous: &str, value: f64) {
        let mut shared_values = 0u8;
        let mut shared_bytes = 0;
        for (this, that) in escaped
            .split_inclusive('\n')
            .zip(previous.split_inclusive('\n'))
        {
            if this != that || shared_values == u8::MAX {
                break;
            }
            shared_values += 1;
            shared_bytes += this.len();
        }
        self.escaped_values.push_str(&escaped[shared_bytes..]);
        // A family's text beyond 4 GiB would not be served anyway; saturate rather than wrap.
        let end = u32::try_from(self.escaped_values.len()).unwrap_or(u32::MAX);
        self.starts.push(end);
        self.shared.push(shared_values);
        self.values.push(value);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Calls `f` with each series' label values (in `label_names` order, escaped for the text
    /// format, each followed by `\n`) and its value, sorted by label values.
    pub fn for_each_escaped(&self, mut f: impl FnMut(&str, f64)) {
        let mut current = String::new();
        for i in 0..self.len() {
            self.escaped_into(&mut current, i);
            f(&current, self.values[i]);
        }
    }

    /// Each series' label values (in `label_names` order) and value, sorted by label values.
    pub fn iter(
        &self,
    ) -> impl Iterator<Item = (impl Iterator<Item = Cow<'static, str>>, f64)> + '_ {
        // Each series is made from the one before it, so every series is made in turn, never
        // skipped: `from_fn`, not a `map` over indices that an adapter could jump.
        let (mut current, mut i) = (String::new(), 0);
        std::iter::from_fn(move || {
            let value = *self.values.get(i)?;
            self.escaped_into(&mut current, i);
            i += 1;
            let values: Vec<Cow<'static, str>> = (current.split_terminator('\n'))
                .map(|v| Cow::Owned(unescape(v).into_owned()))
                .collect();
            Some((values.into_iter(), value))
        })
    }

    /// Turns `current`, series `i - 1`'s escaped values (empty for the first), into series `i`'s.
    fn escaped_into(&self, current: &mut String, i: usize) {
        let shared_bytes: usize = (current.split_inclusive('\n'))
            .take(usize::from(self.shared[i]))
            .map(str::len)
            .sum();
        current.truncate(shared_bytes);
        let own = self.starts[i] as usize..self.starts[i + 1] as usize;
        current.push_str(&self.escaped_values[own]);
    }

    /// The value of the series with these label values.
    pub fn get(&self, label_values: &[&str]) -> Option<f64> {
        self.iter().find_map(|(values, value)| {
            values
                .eq(label_values.iter().map(|v| Cow::Borrowed(*v)))
                .then_some(value)
        })
    }

    /// The heap the samples hold, for the memory figures.
    pub fn heap_bytes(&self) -> usize {
        self.escaped_values.capacity()
            + self.starts.capacity() * std::mem::size_of::<u32>()
            + self.shared.capacity()
            + self.values.capacity() * std::mem::size_of::<f64>()
    }
}

impl std::fmt::Debug for FamilySamples {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FamilySamples")
            .field("name", &self.desc.name)
            .field("label_names", &self.label_names)
            .field(
                "series",
                &self
                    .iter()
                    .map(|(values, value)| (values.collect::<Vec<_>>(), value))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Reverses the text format's escaping of a label value.
fn unescape(escaped: &str) -> Cow<'_, str> {
    if !escaped.contains('\\') {
        return Cow::Borrowed(escaped);
    }
    let mut text = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => text.push('\n'),
                Some(other) => text.push(other),
                None => text.push('\\'),
            },
            (c, false) => text.push(c),
        }
    }
    Cow::Owned(text)
}

/// What a successful poll produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub families: Vec<FamilySamples>,
    /// The vendor's own "as of" time (Unix seconds), where its API tells one.
    pub data_updated: Option<f64>,
    /// The `Sunset` date (Unix seconds) the vendor announced for the endpoint in use.
    pub api_sunset: Option<f64>,
    /// What the poll consumed, for budgets; taken when they are evaluated.
    pub usage: Option<Usage>,
    /// Money the vendor computed per day (a `currency` label among the labels), for
    /// showback; taken with the usage.
    pub vendor_costs: Option<DailyUsage>,
    /// Limits the vendor reports itself.
    pub vendor_budgets: Vec<VendorBudget>,
    /// The per-day amounts of the days settled now, which the next poll need not re-read;
    /// taken by the poller.
    pub settled: Vec<SettledFamily>,
    /// This source's money toward each top-level budget, summed across sources at render.
    pub budget_shares: Vec<BudgetShare>,
    /// The seats the vendor reports (`seats: true`, or a vendor of seats); taken by the poller.
    pub seats: Option<crate::model::seats::Seats>,
    /// What the poll read of inventories besides seats (entitlements: their families, vendor
    /// budgets and licence ends), apart, so that the poller can keep it between two reads
    /// (`inventory_interval`) and fold it into every snapshot.
    pub inventory: Option<Box<Snapshot>>,
}

impl Snapshot {
    pub fn series_count(&self) -> usize {
        self.families.iter().map(FamilySamples::len).sum()
    }

    pub fn family(&self, name: &str) -> Option<&FamilySamples> {
        self.families.iter().find(|f| f.desc.name == name)
    }
}

/// One family while a poll fills it: series by packed key, so an observation of a label set
/// already seen allocates nothing.
#[derive(Debug)]
struct FamilyBuilder {
    desc: &'static FamilyDesc,
    label_names: Vec<&'static str>,
    combine: Combine,
    series: HashMap<SeriesKey, f64>,
}

impl FamilyBuilder {
    fn add(&mut self, key: &[u8], value: f64) {
        let combine = self.combine;
        self.series
            .entry_ref(key)
            .and_modify(|current| {
                *current = match combine {
                    Combine::Sum => *current + value,
                    Combine::Max => current.max(value),
                }
            })
            .or_insert(value);
    }
}

/// Collects families for one poll.
#[derive(Debug, Default)]
pub struct SnapshotBuilder {
    families: Vec<FamilyBuilder>,
    data_updated: Option<f64>,
    api_sunset: Option<f64>,
    usage: Option<Usage>,
    vendor_costs: Option<DailyUsage>,
    vendor_budgets: Vec<VendorBudget>,
    settled: Vec<SettledFamily>,
    seats: Option<crate::model::seats::Seats>,
    key: Vec<u8>,
}

/// A handle to one family inside a [`SnapshotBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyId(usize);

impl SnapshotBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a family. Families keep their declaration order in the output.
    pub fn family(
        &mut self,
        desc: &'static FamilyDesc,
        label_names: Vec<&'static str>,
        combine: Combine,
    ) -> FamilyId {
        self.families.push(FamilyBuilder {
            desc,
            label_names,
            combine,
            series: HashMap::new(),
        });
        FamilyId(self.families.len() - 1)
    }

    /// Adds `value` to the series with `label_values`, combining with what is there.
    pub fn observe(&mut self, family: FamilyId, label_values: &[&str], value: f64) {
        let family = &mut self.families[family.0];
        debug_assert_eq!(
            label_values.len(),
            family.label_names.len(),
            "{}",
            family.desc.name
        );
        SeriesKey::encode(label_values, &mut self.key);
        family.add(&self.key, value);
    }

    /// Adds values for one label set to several families (of the same label names), encoding
    /// the key once.
    pub fn observe_all(
        &mut self,
        label_values: &[&str],
        observations: impl IntoIterator<Item = (FamilyId, f64)>,
    ) {
        SeriesKey::encode(label_values, &mut self.key);
        for (family, value) in observations {
            let family = &mut self.families[family.0];
            debug_assert_eq!(label_values.len(), family.label_names.len());
            family.add(&self.key, value);
        }
    }

    /// Keeps the newest vendor "as of" time seen.
    pub fn data_updated(&mut self, unix_seconds: f64) {
        let current = self.data_updated.get_or_insert(unix_seconds);
        *current = current.max(unix_seconds);
    }

    pub fn api_sunset(&mut self, unix_seconds: f64) {
        self.api_sunset = Some(unix_seconds);
    }

    /// What the poll consumed, for budgets to read.
    pub fn usage(&mut self, usage: Usage) {
        self.usage = Some(usage);
    }

    /// Money the vendor computed per day, with a `currency` label.
    pub fn vendor_costs(&mut self, costs: DailyUsage) {
        self.vendor_costs = Some(costs);
    }

    /// The seats the poll found.
    pub fn seats(&mut self, seats: crate::model::seats::Seats) {
        self.seats = Some(seats);
    }

    pub fn vendor_budget(&mut self, budget: VendorBudget) {
        self.vendor_budgets.push(budget);
    }

    /// The settled days of one family, for the next poll.
    pub fn settled(&mut self, family: SettledFamily) {
        self.settled.push(family);
    }

    pub fn finish(self) -> Snapshot {
        let families = self
            .families
            .into_iter()
            .map(|family| {
                let mut series: Vec<(SeriesKey, f64)> = family.series.into_iter().collect();
                series.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
                let mut samples = FamilySamples::new(family.desc, family.label_names, series.len());
                let (mut escaped, mut previous) = (String::new(), String::new());
                for (key, value) in &series {
                    escaped.clear();
                    for label_value in key.values() {
                        escape_into(&mut escaped, &label_value, true);
                        escaped.push('\n');
                    }
                    samples.push_escaped(&escaped, &previous, *value);
                    std::mem::swap(&mut escaped, &mut previous);
                }
                samples.escaped_values.shrink_to_fit();
                samples
            })
            .collect();
        Snapshot {
            families,
            data_updated: self.data_updated,
            api_sunset: self.api_sunset,
            usage: self.usage,
            vendor_costs: self.vendor_costs,
            vendor_budgets: self.vendor_budgets,
            settled: self.settled,
            budget_shares: Vec::new(),
            seats: self.seats,
            inventory: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static USAGE: FamilyDesc = FamilyDesc {
        name: "consumption_test_usage",
        help: "test",
    };

    #[test]
    fn samples_on_one_label_set_sum_or_take_the_maximum() {
        let mut builder = SnapshotBuilder::new();
        let sum = builder.family(&USAGE, vec!["kind"], Combine::Sum);
        let max = builder.family(&USAGE, vec!["kind"], Combine::Max);
        for value in [1.5, 2.0, 0.5] {
            builder.observe(sum, &["a"], value);
            builder.observe(max, &["a"], value);
        }
        builder.observe(sum, &["b"], 7.0);
        let snapshot = builder.finish();
        assert_eq!(snapshot.families[0].get(&["a"]), Some(4.0));
        assert_eq!(snapshot.families[1].get(&["a"]), Some(2.0));
        assert_eq!(snapshot.families[0].get(&["c"]), None);
        assert_eq!(snapshot.series_count(), 3);
    }

    proptest::proptest! {
        /// Keys hold any label values, empty ones, long ones (multi-byte lengths), ones with
        /// characters the text format escapes, and come back sorted as the values would sort.
        #[test]
        fn series_keys_keep_label_values_and_their_order(
            rows in proptest::collection::vec(
                (proptest::collection::vec(".{0,3}|[a-z]{120,300}|[\\x00\\x01\\x02a]{1,4}|[\\\\\"\n]{1,3}", 3), -1e9f64..1e9),
                0..40,
            )
        ) {
            let mut builder = SnapshotBuilder::new();
            let family = builder.family(&USAGE, vec!["a", "b", "c"], Combine::Max);
            let mut expected = std::collections::BTreeMap::new();
            for (values, value) in &rows {
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                builder.observe(family, &values, *value);
                let slot = expected.entry(values.clone()).or_insert(*value);
                *slot = slot.max(*value);
            }
            let snapshot = builder.finish();
            let got: Vec<(Vec<String>, f64)> = snapshot.families[0]
                .iter()
                .map(|(v, x)| (v.map(|v| v.into_owned()).collect(), x))
                .collect();
            let want: Vec<(Vec<String>, f64)> = expected
                .into_iter()
                .map(|(v, x)| (v.into_iter().map(String::from).collect(), x))
                .collect();
            proptest::prop_assert_eq!(&got, &want);
            for (values, value) in &want {
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                proptest::prop_assert_eq!(snapshot.families[0].get(&values), Some(*value));
            }
        }
    }
}

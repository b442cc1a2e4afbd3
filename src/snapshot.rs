//! A complete, immutable set of samples from one successful poll of one source.
//!
//! Sources describe their families with [`FamilyDesc`] constants and fill a [`SnapshotBuilder`],
//! which aggregates samples by label set while pages stream in. The result is published whole or
//! not at all ("const metrics", from Prometheus's "Writing exporters").

use std::collections::BTreeMap;

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

/// The samples of one family from one source, keyed by label values in `label_names` order.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilySamples {
    pub desc: &'static FamilyDesc,
    pub label_names: Vec<&'static str>,
    pub samples: BTreeMap<Vec<String>, f64>,
    combine: Combine,
}

impl FamilySamples {
    /// Adds `value` to the series with `label_values`, combining with what is there.
    pub fn observe(&mut self, label_values: &[&str], value: f64) {
        debug_assert_eq!(
            label_values.len(),
            self.label_names.len(),
            "{}",
            self.desc.name
        );
        let key: Vec<String> = label_values.iter().map(|v| (*v).to_owned()).collect();
        let combine = self.combine;
        self.samples
            .entry(key)
            .and_modify(|current| {
                *current = match combine {
                    Combine::Sum => *current + value,
                    Combine::Max => current.max(value),
                }
            })
            .or_insert(value);
    }
}

/// What a successful poll produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub families: Vec<FamilySamples>,
    /// The vendor's own "as of" time (Unix seconds), where its API tells one.
    pub data_updated: Option<f64>,
    /// The `Sunset` date (Unix seconds) the vendor announced for the endpoint in use.
    pub api_sunset: Option<f64>,
}

impl Snapshot {
    pub fn series_count(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }

    pub fn family(&self, name: &str) -> Option<&FamilySamples> {
        self.families.iter().find(|f| f.desc.name == name)
    }
}

/// Collects families for one poll.
#[derive(Debug, Default)]
pub struct SnapshotBuilder {
    snapshot: Snapshot,
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
        self.snapshot.families.push(FamilySamples {
            desc,
            label_names,
            samples: BTreeMap::new(),
            combine,
        });
        FamilyId(self.snapshot.families.len() - 1)
    }

    pub fn observe(&mut self, family: FamilyId, label_values: &[&str], value: f64) {
        self.snapshot.families[family.0].observe(label_values, value);
    }

    /// Keeps the newest vendor "as of" time seen.
    pub fn data_updated(&mut self, unix_seconds: f64) {
        let current = self.snapshot.data_updated.get_or_insert(unix_seconds);
        *current = current.max(unix_seconds);
    }

    pub fn api_sunset(&mut self, unix_seconds: f64) {
        self.snapshot.api_sunset = Some(unix_seconds);
    }

    pub fn finish(self) -> Snapshot {
        self.snapshot
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
        assert_eq!(snapshot.families[0].samples[&vec!["a".to_string()]], 4.0);
        assert_eq!(snapshot.families[1].samples[&vec!["a".to_string()]], 2.0);
        assert_eq!(snapshot.series_count(), 3);
    }
}

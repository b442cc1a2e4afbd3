//! `defaults`: keys shared by every source of one type, so that 500 tenants of one vendor take
//! 500 short entries. A source's own keys win; mappings (`oauth2`, `authorization`, a vendor's
//! `filters`) merge key by key; lists and plain values are replaced whole. `x` and `x_file` are
//! one setting: a source that sets either hides the other from the defaults.
//!
//! A value taken from the defaults is checked where it lands (in each source), and an error
//! in it is reported at its line in `defaults`, where the user has to fix it.

use std::collections::{BTreeMap, HashSet};

use serde_yaml::{Mapping, Value};

use super::context::Context;
use super::raw::COMMON_KEYS;
use crate::sources::{self, SourceType};

/// The defaults of each source type, as written.
#[derive(Default)]
pub(super) struct Defaults {
    by_type: BTreeMap<String, Mapping>,
}

/// Keys the defaults may not set: they are what makes an entry itself.
const PER_SOURCE_KEYS: &[&str] = &["name", "type"];

impl Context<'_> {
    /// Reads `defaults`, refusing types and keys no source could take.
    pub(super) fn decode_defaults(&mut self, value: Option<Value>) -> Defaults {
        let mut defaults = Defaults::default();
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return defaults;
        };
        let Value::Mapping(by_type) = value else {
            let message = "defaults must map a source type to the keys its sources share, e.g. `defaults: {<type>: {interval: 1h}}`";
            self.error("defaults", message);
            return defaults;
        };
        for (kind, keys) in by_type {
            let kind = kind.as_str().unwrap_or_default().to_string();
            let path = format!("defaults.{kind}");
            let Some(source_type) = sources::find_type(&kind) else {
                let known = sources::type_names().join(", ");
                self.error(
                    path,
                    format!("unknown source type {kind:?}: one of {known}"),
                );
                continue;
            };
            let Value::Mapping(keys) = keys else {
                self.error(
                    path,
                    format!("the defaults of {kind} sources must be a mapping of their keys"),
                );
                continue;
            };
            self.check_default_keys(&path, source_type, &keys);
            defaults.by_type.insert(kind, keys);
        }
        defaults
    }

    fn check_default_keys(&mut self, path: &str, source_type: &dyn SourceType, keys: &Mapping) {
        let schema = source_type.settings_schema();
        let vendor_keys = schema["properties"].as_object();
        for key in keys.keys() {
            let key = key.as_str().unwrap_or_default();
            let at = format!("{path}.{key}");
            if PER_SOURCE_KEYS.contains(&key) {
                self.error(
                    at,
                    format!("`{key}` is set in each source, not in defaults"),
                );
            } else if !COMMON_KEYS.contains(&key)
                && !vendor_keys.is_some_and(|k| k.contains_key(key))
            {
                let name = source_type.name();
                self.error(
                    at,
                    format!("unknown key `{key}`: not a key of {name} sources"),
                );
            }
        }
    }

    /// Defaults no source takes would be read and then ignored: a leftover, or a type
    /// misnamed in its sources. Refused, so their values are never unchecked.
    pub(super) fn refuse_unused_defaults(&mut self, defaults: &Defaults, types: &HashSet<String>) {
        for kind in defaults
            .by_type
            .keys()
            .filter(|kind| !types.contains(*kind))
        {
            let message =
                format!("no source has `type: {kind}`: add one, or remove these defaults");
            self.error(format!("defaults.{kind}"), message);
        }
    }

    /// Entry `i` with the defaults of its type under its own keys. Remembers which paths came
    /// from the defaults, so errors in them point there.
    pub(super) fn apply_defaults(&mut self, i: usize, entry: Value, defaults: &Defaults) -> Value {
        self.from_defaults.clear();
        let Value::Mapping(own) = entry else {
            return entry;
        };
        let kind = own.get("type").and_then(Value::as_str).unwrap_or_default();
        let Some(shared) = defaults.by_type.get(kind) else {
            return Value::Mapping(own);
        };
        let paths = (format!("sources[{i}]"), format!("defaults.{kind}"));
        Value::Mapping(merge(own, shared, &paths, &mut self.from_defaults))
    }

    /// `path` as the user wrote it: in `defaults` if the value there came from them.
    pub(super) fn written_path(&self, path: String) -> String {
        for (in_entry, in_defaults) in &self.from_defaults {
            if let Some(rest) = path.strip_prefix(in_entry.as_str()) {
                if rest.is_empty() || rest.starts_with(['.', '[']) {
                    return format!("{in_defaults}{rest}");
                }
            }
        }
        path
    }
}

/// `own` with every key of `shared` it does not set, mappings merged; records the paths taken.
fn merge(
    mut own: Mapping,
    shared: &Mapping,
    (own_path, shared_path): &(String, String),
    taken: &mut Vec<(String, String)>,
) -> Mapping {
    for (key, shared_value) in shared {
        let name = key.as_str().unwrap_or_default();
        let paths = (
            format!("{own_path}.{name}"),
            format!("{shared_path}.{name}"),
        );
        if !own.contains_key(key) {
            if !set_by_its_twin(&own, name) {
                own.insert(key.clone(), shared_value.clone());
                taken.push(paths);
            }
            continue;
        }
        if let (Some(Value::Mapping(own_value)), Value::Mapping(shared_value)) =
            (own.get_mut(key), shared_value)
        {
            let merged = merge(std::mem::take(own_value), shared_value, &paths, taken);
            *own_value = merged;
        }
    }
    own
}

/// Whether the entry sets `name`'s other spelling: `credentials` for `credentials_file`, or
/// the other way round.
fn set_by_its_twin(own: &Mapping, name: &str) -> bool {
    match name.strip_suffix("_file") {
        Some(inline) => own.contains_key(inline),
        None => own.contains_key(format!("{name}_file").as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(yaml: &str) -> Mapping {
        serde_yaml::from_str(yaml).expect("test YAML")
    }

    fn merged(own: &str, shared: &str) -> (Mapping, Vec<(String, String)>) {
        let mut taken = Vec::new();
        let paths = ("sources[4]".to_string(), "defaults.qlik".to_string());
        let merged = merge(mapping(own), &mapping(shared), &paths, &mut taken);
        (merged, taken)
    }

    #[test]
    fn own_keys_win_mappings_merge_and_lists_are_replaced() {
        let (merged, taken) = merged(
            "{name: a, interval: 5m, oauth2: {client_id: c}, labels: [x]}",
            "{interval: 1h, max_age: 3h, oauth2: {client_id: d, scopes: [s]}, labels: [y, z]}",
        );
        assert_eq!(
            merged,
            mapping("{name: a, interval: 5m, oauth2: {client_id: c, scopes: [s]}, labels: [x], max_age: 3h}")
        );
        assert_eq!(
            taken,
            vec![
                ("sources[4].max_age".into(), "defaults.qlik.max_age".into()),
                (
                    "sources[4].oauth2.scopes".into(),
                    "defaults.qlik.oauth2.scopes".into()
                ),
            ]
        );
    }

    #[test]
    fn an_inline_secret_hides_the_defaults_file_and_the_other_way_round() {
        let (merged, _) = merged(
            "{authorization: {credentials: k}, oauth2: {client_secret_file: /s}}",
            "{authorization: {credentials_file: /k}, oauth2: {client_secret: t, client_id: c}}",
        );
        assert_eq!(
            merged,
            mapping(
                "{authorization: {credentials: k}, oauth2: {client_secret_file: /s, client_id: c}}"
            )
        );
    }
}

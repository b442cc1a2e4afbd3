//! Decoding a vendor's own config keys, shared by [`config`](crate::config) (which calls each
//! vendor) and [`sources`](crate::sources) (whose settings structs define the keys). It sits
//! below both so that neither has to import the other back. With `config`, the only caller of
//! the YAML library ([`from_yaml`] reads the web config's file too).
//!
//! Paths in [`FieldError`] are relative to the source entry; the config loader prefixes them
//! and finds their line and column.

use serde::de::DeserializeOwned;

/// A problem in a vendor's own keys, with a path relative to the source entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Labels the exporter puts on vendor series itself; a configured label of the same name
/// would give a series the same label twice, which Prometheus refuses for the whole scrape.
pub const EXPORTER_LABELS: &[&str] = &["source", "window", "period"];

/// Refuses a label listed more than once (anywhere in the list, not only next to itself) and a
/// label the exporter adds. `key` is the settings key that holds the list.
pub fn check_labels(key: &str, names: &[&str]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let path = format!("{key}[{i}]");
        if EXPORTER_LABELS.contains(name) {
            errors.push(FieldError::new(
                path,
                format!("`{name}` is a label the exporter adds itself; remove it from {key}"),
            ));
        } else if let Some(first) = names[..i].iter().position(|n| n == name) {
            errors.push(FieldError::new(
                path,
                format!("`{name}` is already listed at {key}[{first}]; list each label once"),
            ));
        }
    }
    errors
}

/// A vendor's own keys as a source entry gives them (the entry less the keys every source
/// shares), for its type to decode. `config` makes them; vendors never see the YAML.
pub struct VendorKeys(serde_yaml::Value);

impl VendorKeys {
    pub fn new(keys: serde_yaml::Value) -> Self {
        VendorKeys(keys)
    }

    /// The keys as the vendor's settings type; unknown keys are refused by the type.
    pub fn decode<T: DeserializeOwned>(self) -> Result<T, FieldError> {
        decode_settings(self.0)
    }
}

/// A YAML document that does not read as the type asked for: the library's message, which
/// names the line and column.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(String);

/// Reads a whole YAML document as `T`.
pub fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_yaml::from_str(text).map_err(|e| YamlError(e.to_string()))
}

/// Decodes a vendor's settings. Unknown keys must be rejected by `T` (`deny_unknown_fields`);
/// the error's path is relative to the value.
pub fn decode_settings<T: DeserializeOwned>(value: serde_yaml::Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = e.path().to_string();
        if path == "." {
            path.clear();
        }
        let message = e.into_inner().to_string();
        // serde names an unknown key only in the message; point the path at the key itself.
        if let Some(key) = unknown_field_name(&message) {
            if !path.ends_with(key) {
                path = join_path(&path, key);
            }
        }
        FieldError {
            path,
            message: strip_serde_yaml_location(&message),
        }
    })
}

/// Joins config paths the way `serde_path_to_error` writes them (`a.b`, `a[0]`).
pub fn join_path(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (_, true) => prefix.to_string(),
        (true, false) => path.to_string(),
        (false, false) if path.starts_with('[') => format!("{prefix}{path}"),
        (false, false) => format!("{prefix}.{path}"),
    }
}

fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// serde_yaml appends " at line L column C" (sometimes mid-message); the position is printed
/// apart, so drop it from the text.
pub fn strip_serde_yaml_location(message: &str) -> String {
    let Some(at) = message.find(" at line ") else {
        return message.to_string();
    };
    let rest = &message[at + " at line ".len()..];
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let line_len = digits(rest);
    let Some(after_column) = rest[line_len..].strip_prefix(" column ") else {
        return message.to_string();
    };
    let column_len = digits(after_column);
    if line_len == 0 || column_len == 0 {
        return message.to_string();
    }
    format!("{}{}", &message[..at], &after_column[column_len..])
}

/// A humantime duration in the config's JSON Schema: `90s`, `15m`, `1h 30m`, `3d`.
pub struct HumanDuration;

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration: a number and a unit, e.g. 90s, 15m, 1h 30m, 3d.",
            "pattern": "^\\s*([0-9]+\\s*[a-zA-Zµ]+\\s*)+$"
        })
    }
}

/// The JSON Schema of the keys a type is read from, every part inline (vendors' types share
/// names such as `Label`), for the config's schema.
pub fn schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_yaml_positions_are_cut_from_messages() {
        assert_eq!(
            strip_serde_yaml_location(
                "did not find expected node content at line 4 column 1, while parsing a flow node"
            ),
            "did not find expected node content, while parsing a flow node"
        );
        assert_eq!(
            strip_serde_yaml_location("unknown field `x` at line 1"),
            "unknown field `x` at line 1"
        );
    }

    #[test]
    fn paths_join_like_serde_path_to_error() {
        assert_eq!(
            join_path("sources[0]", "oauth2.client_id"),
            "sources[0].oauth2.client_id"
        );
        assert_eq!(join_path("sources[0]", "[1]"), "sources[0][1]");
        assert_eq!(join_path("", "global"), "global");
    }

    #[test]
    fn a_label_repeated_anywhere_or_added_by_the_exporter_is_refused() {
        let paths = |names: &[&str]| -> Vec<String> {
            check_labels("labels", names)
                .into_iter()
                .map(|e| e.path)
                .collect()
        };
        assert_eq!(
            paths(&["user_id", "resource_type", "user_id"]),
            ["labels[2]"]
        );
        assert_eq!(paths(&["unit", "unit", "unit"]), ["labels[1]", "labels[2]"]);
        assert_eq!(
            paths(&["unit", "window", "source"]),
            ["labels[1]", "labels[2]"]
        );
        assert!(paths(&["unit", "user_id"]).is_empty());
    }
}

//! The JSON Schema of `exporter.yml`, made from the types the file is read into: the global keys,
//! the keys every source shares, and each vendor's own keys (from its [`SourceType`]), so a key
//! the loader refuses is one the schema refuses. `consumption_exporter schema` prints it; editors
//! read it through the `yaml-language-server` comment at the top of `exporter.yml`.

use serde_json::{json, Map, Value};

use super::raw::{RawCommon, RawGlobal};
use crate::settings::schema_of;
use crate::sources::{SourceType, TYPES};

/// The whole file's schema.
pub fn schema() -> Value {
    let mut global = schema_of::<RawGlobal>();
    global["description"] = json!("Defaults for every source.");
    let vendors: Vec<Value> = TYPES.iter().map(|t| source_schema(*t)).collect();
    let names: Vec<&str> = TYPES.iter().map(|t| t.name()).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://consumption-exporter.invalid/exporter.schema.json",
        "title": "consumption_exporter configuration (exporter.yml)",
        "type": "object",
        "additionalProperties": false,
        "required": ["sources"],
        "properties": {
            "global": global,
            "sources": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "type"],
                    "properties": {"type": {"enum": names}},
                    "allOf": vendors,
                },
            },
        },
    })
}

/// `if type is this vendor, then` the shared keys and the vendor's, and nothing else.
fn source_schema(vendor: &dyn SourceType) -> Value {
    let common = schema_of::<RawCommon>();
    let own = vendor.settings_schema();
    let mut properties = Map::new();
    let mut required = Vec::new();
    for part in [&common, &own] {
        if let Some(keys) = part["properties"].as_object() {
            properties.extend(keys.clone());
        }
        if let Some(names) = part["required"].as_array() {
            required.extend(names.iter().cloned());
        }
    }
    properties.insert("type".into(), json!({"const": vendor.name()}));
    json!({
        "if": {"properties": {"type": {"const": vendor.name()}}},
        "then": {
            "description": format!("A `{}` source.", vendor.name()),
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        },
    })
}

//! The JSON Schema of `exporter.yml`, made from the types the file is read into: the global keys,
//! the keys every source shares, and each vendor's own keys (from its [`SourceType`]), so a key
//! the loader refuses is one the schema refuses. `consumption_exporter schema` prints it; editors
//! read it through the `yaml-language-server` comment at the top of `exporter.yml`.

use serde_json::{json, Map, Value};

use super::raw::{RawCommon, RawGlobal, RawOutbound};
use super::showback::{RawDimension, RawMoney, RawMoneyBudget};
use crate::settings::schema_of;
use crate::sources::{SourceType, TYPES};

/// The whole file's schema.
pub fn schema() -> Value {
    let mut global = schema_of::<RawGlobal>();
    global["description"] = json!("Defaults for every source.");
    if let (Some(keys), Some(outbound)) = (
        global["properties"].as_object_mut(),
        schema_of::<RawOutbound>()["properties"].as_object(),
    ) {
        keys.extend(outbound.clone());
    }
    let vendors: Vec<Value> = TYPES.iter().map(|t| source_schema(*t)).collect();
    let names: Vec<&str> = TYPES.iter().map(|t| t.name()).collect();
    let defaults: Map<String, Value> = TYPES
        .iter()
        .map(|t| (t.name().to_string(), defaults_schema(*t)))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://consumption-exporter.invalid/exporter.schema.json",
        "title": "consumption_exporter configuration (exporter.yml)",
        "type": "object",
        "additionalProperties": false,
        "required": ["sources"],
        "properties": {
            "global": global,
            "defaults": {
                "description": "Keys shared by every source of one type; a source's own keys win, mappings merge key by key.",
                "type": "object",
                "additionalProperties": false,
                "properties": defaults,
            },
            "money": money_schema(),
            "allocation": {
                "description": "Dimensions to allocate usage and money by: each is a label on the showback families.",
                "type": "object",
                "additionalProperties": schema_of::<RawDimension>(),
            },
            "budgets": {
                "description": "Top-level budgets: money across sources, in the reporting currency (needs `money:`).",
                "type": "array",
                "items": schema_of::<RawMoneyBudget>(),
            },
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

fn money_schema() -> Value {
    let mut money = schema_of::<RawMoney>();
    money["description"] =
        json!("The reporting currency, the rates into it and the prices of vendor units.");
    money
}

/// `if type is this vendor, then` the shared keys and the vendor's, and nothing else. The keys
/// a vendor needs are not required here: `defaults` may give them, and `check` knows.
fn source_schema(vendor: &dyn SourceType) -> Value {
    let mut properties = keys_of(vendor);
    properties.insert("type".into(), json!({"const": vendor.name()}));
    json!({
        "if": {"properties": {"type": {"const": vendor.name()}}},
        "then": {
            "description": format!("A `{}` source.", vendor.name()),
            "properties": properties,
            "additionalProperties": false,
        },
    })
}

/// `defaults.<vendor>`: any key of its sources but the two that make an entry itself.
fn defaults_schema(vendor: &dyn SourceType) -> Value {
    let mut properties = keys_of(vendor);
    properties.remove("name");
    properties.remove("type");
    json!({
        "description": format!("Keys every `{}` source takes unless it sets them itself.", vendor.name()),
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}

/// The keys every source has (its `http_config` keys among them) and the vendor's own.
fn keys_of(vendor: &dyn SourceType) -> Map<String, Value> {
    let mut properties = Map::new();
    let parts = [
        schema_of::<RawCommon>(),
        schema_of::<RawOutbound>(),
        vendor.settings_schema(),
    ];
    for part in parts {
        if let Some(keys) = part["properties"].as_object() {
            properties.extend(keys.clone());
        }
    }
    properties
}

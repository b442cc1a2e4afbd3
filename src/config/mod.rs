//! `exporter.yml` → a typed, validated [`Config`].
//!
//! Owns every call into the YAML library (with [`crate::settings`], which vendors' keys go
//! through), so that swapping `serde_yaml` (published as deprecated) touches these two only.
//! By job: `raw` mirrors the file, `env` expands `${ENV}`, `context` is the one state every
//! type decodes in (errors, positions, expansions, values from `defaults`), `decode` builds the
//! typed config (`decoded`) from the global keys, the keys every source shares and the
//! vendor's own keys (decoded by its [`SourceType`](crate::sources::SourceType)); `defaults`,
//! `outbound`, `credentials`, `budgets` and `showback` each decode their own keys in that
//! context, and [`positions`] finds the line and column of every error. No file of the wing
//! imports one that imports it back. Errors are collected, not stopped at, so `check` prints
//! all.

mod budgets;
mod context;
mod credentials;
mod decode;
mod decoded;
mod defaults;
mod env;
mod outbound;
pub mod positions;
mod raw;
pub mod schema;
mod showback;

use std::path::Path;

pub use decoded::{Config, ConfigError, ConfigErrors, Schedule, SourceConfig, POLL_JITTER};
pub use positions::Position;

use context::Context;
use positions::PositionIndex;

/// Reads and validates the config file at `path`. Relative `*_file` paths are resolved against
/// the config file's directory, as Prometheus does.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let text = crate::model::files::read_to_string(path).map_err(|e| ConfigErrors {
        file: file.clone(),
        errors: vec![ConfigError {
            position: None,
            path: String::new(),
            message: format!("cannot read the config file: {e}"),
        }],
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &file, &base_dir)
}

/// Validates config `text`; `file` names it in errors, `base_dir` anchors relative `*_file` paths.
pub fn parse(text: &str, file: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let index = PositionIndex::build(text);
    let mut context = Context {
        index: &index,
        base_dir,
        errors: Vec::new(),
        from_defaults: Vec::new(),
        expansions: Vec::new(),
        dimensions: Vec::new(),
    };
    let config = context.decode(text);
    match config {
        Some(config) if context.errors.is_empty() => Ok(config),
        _ => Err(ConfigErrors {
            file: file.to_string(),
            errors: context
                .errors
                .into_iter()
                .map(|error| ConfigError {
                    message: env::without_expanded_values(
                        &error.message,
                        &error.path,
                        &context.expansions,
                    ),
                    ..error
                })
                .collect(),
        }),
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// YAML-shaped text: config keys and values, indentation, list markers, and noise.
    fn yaml_text() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            // Every vendor's `type` line, from the one list of vendors.
            proptest::sample::select(crate::sources::type_names())
                .prop_map(|name| format!("    type: {name}")),
            proptest::sample::select(vec![
                "global:",
                "sources:",
                "  - name: a",
                "    base_url: http://127.0.0.1:1",
                "    authorization:",
                "      credentials: k",
                "    oauth2:",
                "      client_id: c",
                "      client_secret: s",
                "      client_certificate:",
                "        cert_file: /nonexistent",
                "    interval: 1m",
                "    max_age: 0s",
                "  poll_interval: 10q",
                "    page_size: -1",
                "    labels: [user_id, user_id]",
                "    flow_ids: [",
                "    tenant_ids: []",
                "    consumable_codes: {}",
                "    account_uuid: ${UNSET_VARIABLE_X}",
                "    api_version: v9",
                "&anchor",
                "*anchor",
                "? complex",
                "- - -",
                "\t",
                "'",
                "\"",
                "{",
                "}",
                "[",
                "]",
                ": :",
            ])
            .prop_map(str::to_string),
            "[ -~]{0,20}",
        ];
        proptest::collection::vec(token, 0..24).prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        #[test]
        fn any_text_loads_or_is_refused_without_panicking(text in yaml_text()) {
            let _ = parse(&text, "fuzz.yml", Path::new("."));
        }
    }
}

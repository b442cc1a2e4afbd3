//! The one context every config type decodes in: where each path was written (for errors'
//! line and column), the errors so far, which values came from `defaults`, which strings took
//! a value from the environment (left out of errors), and the allocation dimensions a budget
//! may match on. Each type's file adds the methods that decode it.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use super::decoded::ConfigError;
use super::env::{expand_env_in, Expansion, ExpansionLog};
use super::positions::PositionIndex;
use crate::settings::{decode_settings, join_path};

/// The state of one decode of the config file.
pub(super) struct Context<'a> {
    pub(super) index: &'a PositionIndex,
    pub(super) base_dir: &'a Path,
    pub(super) errors: Vec<ConfigError>,
    /// For the entry being decoded: the paths whose values came from `defaults`, and where
    /// in `defaults` they are written.
    pub(super) from_defaults: Vec<(String, String)>,
    /// Every string that took a value from the environment, so errors can leave it out.
    pub(super) expansions: Vec<Expansion>,
    /// The `allocation:` dimensions, which a source's budget may match on too.
    pub(super) dimensions: Vec<String>,
}

impl Context<'_> {
    /// Records an error once: a bad `global` key is found again for every source.
    pub(super) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = self.written_path(path.into());
        let message = message.into();
        if self
            .errors
            .iter()
            .any(|e| e.path == path && e.message == message)
        {
            return;
        }
        let position = self.index.find(&path);
        self.errors.push(ConfigError {
            position,
            path,
            message,
        });
    }

    /// Decodes `value` into `T`, recording a positioned error under `prefix` on failure.
    pub(super) fn decode_value<T: DeserializeOwned>(
        &mut self,
        prefix: &str,
        value: Value,
    ) -> Option<T> {
        let value = self.expand_env(prefix, value)?;
        match decode_settings::<T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(join_path(prefix, &e.path), e.message);
                None
            }
        }
    }

    pub(super) fn expand_env(&mut self, prefix: &str, value: Value) -> Option<Value> {
        let mut log = ExpansionLog::default();
        let value = expand_env_in(value, prefix, &mut log);
        self.expansions.append(&mut log.expansions);
        let ok = log.failures.is_empty();
        for (path, message) in log.failures {
            self.error(path, message);
        }
        ok.then_some(value)
    }
}

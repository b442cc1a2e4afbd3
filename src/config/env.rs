//! `${NAME}` in config strings, replaced by the environment variable `NAME`.

use serde_yaml::Value;

use crate::settings::join_path;

/// A string that took a value from the environment: where, and what it read. Errors about
/// that string must name the variable and never print its value, which may be a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Expansion {
    pub path: String,
    pub variable: String,
    pub value: String,
}

/// What the expansion of a value met: unset variables, and the strings that were expanded.
#[derive(Default)]
pub(super) struct ExpansionLog {
    pub failures: Vec<(String, String)>,
    pub expansions: Vec<Expansion>,
}

/// Replaces `${NAME}` in every string with the environment variable `NAME`.
/// An unset variable is an error, not an empty string, so a missing secret cannot go unnoticed.
pub(super) fn expand_env_in(value: Value, path: &str, log: &mut ExpansionLog) -> Value {
    match value {
        Value::String(s) => match expand_string(&s, path, &mut log.expansions) {
            Ok(expanded) => Value::String(expanded),
            Err(name) => {
                log.failures.push((
                    path.to_string(),
                    format!("environment variable {name} is not set"),
                ));
                Value::String(s)
            }
        },
        Value::Sequence(items) => Value::Sequence(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| expand_env_in(v, &format!("{path}[{i}]"), log))
                .collect(),
        ),
        Value::Mapping(map) => Value::Mapping(
            map.into_iter()
                .map(|(k, v)| {
                    let child = join_path(path, k.as_str().unwrap_or("?"));
                    (k, expand_env_in(v, &child, log))
                })
                .collect(),
        ),
        other => other,
    }
}

fn expand_string(s: &str, path: &str, expansions: &mut Vec<Expansion>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        let value = std::env::var(name).map_err(|_| name.to_string())?;
        out.push_str(&value);
        expansions.push(Expansion {
            path: path.to_string(),
            variable: name.to_string(),
            value,
        });
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `message` with the value of every expansion at, above or below `path` replaced by the
/// variable's name, and any long expanded value replaced wherever it appears: a decoder's
/// error quotes the value it could not read, and that value may be a secret.
pub(super) fn without_expanded_values(
    message: &str,
    path: &str,
    expansions: &[Expansion],
) -> String {
    /// A value this long is replaced wherever it appears; a shorter one only in errors about
    /// its own string, so that `1` from the environment does not rewrite every digit.
    const ALWAYS_REPLACED_FROM: usize = 6;
    let related = |other: &str| {
        let within = |inner: &str, outer: &str| {
            inner.strip_prefix(outer).is_some_and(|rest| {
                outer.is_empty() || rest.is_empty() || rest.starts_with(['.', '['])
            })
        };
        within(other, path) || within(path, other)
    };
    let mut by_length: Vec<&Expansion> = expansions
        .iter()
        .filter(|e| !e.value.is_empty())
        .filter(|e| e.value.len() >= ALWAYS_REPLACED_FROM || related(&e.path))
        .collect();
    // Longest first, so a value inside another is not replaced in part.
    by_length.sort_by_key(|e| std::cmp::Reverse(e.value.len()));
    let mut message = message.to_string();
    for expansion in by_length {
        message = message.replace(
            &expansion.value,
            &format!("<the value of ${{{}}}>", expansion.variable),
        );
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_are_expanded_and_plain_dollars_kept() {
        std::env::set_var("CONSUMPTION_EXPORTER_TEST_VAR", "value");
        let mut expansions = Vec::new();
        assert_eq!(
            expand_string(
                "a-${CONSUMPTION_EXPORTER_TEST_VAR}-$b",
                "p",
                &mut expansions
            )
            .as_deref(),
            Ok("a-value-$b")
        );
        assert_eq!(
            expansions,
            vec![Expansion {
                path: "p".into(),
                variable: "CONSUMPTION_EXPORTER_TEST_VAR".into(),
                value: "value".into()
            }]
        );
        assert_eq!(
            expand_string("${CONSUMPTION_EXPORTER_UNSET_VAR}", "p", &mut expansions),
            Err("CONSUMPTION_EXPORTER_UNSET_VAR".into())
        );
    }

    #[test]
    fn an_error_names_the_variable_instead_of_its_value() {
        let expansion = |path: &str, variable: &str, value: &str| Expansion {
            path: path.into(),
            variable: variable.into(),
            value: value.into(),
        };
        let expansions = [
            expansion("sources[0].max_pages", "PAGES", "7x"),
            expansion("sources[1].authorization.credentials", "KEY", "S3CR3T-KEY"),
        ];
        assert_eq!(
            without_expanded_values("invalid value 7x", "sources[0].max_pages", &expansions),
            "invalid value <the value of ${PAGES}>"
        );
        assert_eq!(
            without_expanded_values("`7x` elsewhere", "sources[0].max_pages_x", &expansions),
            "`7x` elsewhere",
            "a short value is replaced only in errors about its own string"
        );
        assert_eq!(
            without_expanded_values("saw S3CR3T-KEY", "global", &expansions),
            "saw <the value of ${KEY}>"
        );
        assert_eq!(
            without_expanded_values("7x", "sources[0]", &expansions),
            "<the value of ${PAGES}>",
            "an error about the entry holding the string"
        );
    }
}

//! `${NAME}` in config strings, replaced by the environment variable `NAME`.

use serde_yaml::Value;

use crate::settings::join_path;

/// Replaces `${NAME}` in every string with the environment variable `NAME`.
/// An unset variable is an error, not an empty string, so a missing secret cannot go unnoticed.
pub(super) fn expand_env_in(
    value: Value,
    path: &str,
    failures: &mut Vec<(String, String)>,
) -> Value {
    match value {
        Value::String(s) => match expand_string(&s) {
            Ok(expanded) => Value::String(expanded),
            Err(name) => {
                failures.push((
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
                .map(|(i, v)| expand_env_in(v, &format!("{path}[{i}]"), failures))
                .collect(),
        ),
        Value::Mapping(map) => Value::Mapping(
            map.into_iter()
                .map(|(k, v)| {
                    let child = join_path(path, k.as_str().unwrap_or("?"));
                    (k, expand_env_in(v, &child, failures))
                })
                .collect(),
        ),
        other => other,
    }
}

fn expand_string(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        out.push_str(&std::env::var(name).map_err(|_| name.to_string())?);
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_are_expanded_and_plain_dollars_kept() {
        std::env::set_var("CONSUMPTION_EXPORTER_TEST_VAR", "value");
        assert_eq!(
            expand_string("a-${CONSUMPTION_EXPORTER_TEST_VAR}-$b").as_deref(),
            Ok("a-value-$b")
        );
        assert_eq!(
            expand_string("${CONSUMPTION_EXPORTER_UNSET_VAR}"),
            Err("CONSUMPTION_EXPORTER_UNSET_VAR".into())
        );
    }
}

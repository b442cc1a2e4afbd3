//! The monitoring mixin (`mixin/`, jsonnet from Debian's `jsonnet`): formatted as jsonnetfmt
//! wants, generating exactly the rules and dashboard examples/ ships, and with a selector of an
//! operator's own, rules promtool accepts in which every series selector carries it.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn mixin_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(repository().join("mixin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "libsonnet"))
        .collect();
    files.sort();
    files
}

/// What the mixin generates with `selector`: (rules, dashboard).
fn generate(selector: &str) -> (Value, Value) {
    let jsonnet = crate::helpers::program(&["jsonnet"], "jsonnet");
    let mixin = "(import 'mixin/mixin.libsonnet') + { _config+:: { consumptionExporterSelector: std.extVar('selector') } }";
    let run = |expression: String| -> Value {
        let output = crate::helpers::run_ok(
            Command::new(&jsonnet)
                .args([
                    "--ext-str",
                    &format!("selector={selector}"),
                    "-e",
                    &expression,
                ])
                .current_dir(repository()),
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let rules = run(format!(
        "local m = {mixin}; {{ groups: m.prometheusRules.groups + m.prometheusAlerts.groups }}"
    ));
    let dashboard = run(format!(
        "({mixin}).grafanaDashboards['consumption-dashboard.json']"
    ));
    (rules, dashboard)
}

#[ignore = "needs jsonnet: ./scripts/test.sh installs and runs it"]
#[test]
fn the_mixin_is_formatted_as_jsonnetfmt_wants() {
    let jsonnetfmt = crate::helpers::program(&["jsonnetfmt"], "jsonnet");
    let files = mixin_files();
    assert!(files.len() >= 4, "{files:?}");
    let output = Command::new(jsonnetfmt)
        .arg("--test")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "run jsonnetfmt -i mixin/*.libsonnet: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[ignore = "needs jsonnet: ./scripts/test.sh installs and runs it"]
#[test]
fn with_the_default_config_the_mixin_generates_the_shipped_rules_and_dashboard() {
    let (rules, dashboard) = generate("");
    let shipped_rules = crate::helpers::shipped_rules();
    assert_eq!(
        rules, shipped_rules,
        "examples/prometheus/rules differ from the mixin"
    );
    let shipped_dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repository().join("examples/grafana/consumption-dashboard.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        dashboard, shipped_dashboard,
        "examples/grafana differs from the mixin"
    );
}

/// Every `expr` (rules) or `expr`/`query` (dashboard) string in `value`.
fn expressions(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, item) in object {
                match (key.as_str(), item) {
                    ("expr", Value::String(text)) => out.push(text.clone()),
                    _ => expressions(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| expressions(item, out)),
        _ => {}
    }
}

#[ignore = "needs jsonnet: ./scripts/test.sh installs and runs it"]
#[test]
fn a_selector_of_ones_own_reaches_every_series_and_the_rules_stay_valid() {
    let (rules, dashboard) = generate(r#"job="billing""#);
    for (what, generated) in [("rules", &rules), ("dashboard", &dashboard)] {
        let mut found = Vec::new();
        expressions(generated, &mut found);
        assert!(found.len() >= 20, "{what}: {}", found.len());
        for expression in &found {
            // Label names never contain "consumption"; metric names all do (and `up` too gets
            // it). A recording rule's series (`consumption:...`) that aggregates the selector's
            // labels away was made from selected series: it needs no selector of its own.
            let series = expression.matches("consumption").count()
                - expression.matches("consumption:usage_by_service:").count();
            let selected = expression.matches(r#"job="billing""#).count();
            assert!(selected >= series, "{what}: {expression}");
            assert!(
                selected > 0 || expression.contains("consumption:usage_by_service:"),
                "{what}: {expression}"
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        serde_yaml::to_string(&rules).unwrap(),
    )
    .unwrap();
    crate::helpers::run_tool(
        crate::helpers::program(&["promtool"], "prometheus"),
        &["check", "rules", "rules.yml"],
        dir.path(),
    );
}

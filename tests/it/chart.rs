//! The Helm chart (`charts/consumption-exporter`), rendered and linted offline with PyPI's
//! helm-python-sdk; the core kinds validated with PyPI's kubernetes-validate, the operator kinds
//! with npm's @kubernetes-models/prometheus-operator, and the PrometheusRule with promtool.

use std::path::Path;
use std::process::Command;

use crate::helpers::test_tool;
use serde_json::{json, Value};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The rendered manifests (parsed, by kind) and the lint report for these values.
fn render(values: &Value) -> (Vec<Value>, Value) {
    let output = crate::helpers::run_ok(
        Command::new(test_tool("venv/bin/python"))
            .arg(repository().join("tests/it/scripts/render_chart.py"))
            .arg(repository().join("charts/consumption-exporter"))
            .arg(values.to_string()),
    );
    let rendered: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut resources = Vec::new();
    for (template, text) in rendered["manifests"].as_object().unwrap() {
        if !template.ends_with(".yaml") {
            continue;
        }
        for document in serde_yaml::Deserializer::from_str(text.as_str().unwrap()) {
            let resource: Value = serde::Deserialize::deserialize(document)
                .unwrap_or_else(|e| panic!("{template}: {e}"));
            if !resource.is_null() {
                resources.push(resource);
            }
        }
    }
    (resources, rendered["lint"].clone())
}

fn everything_on() -> Value {
    json!({
        "serviceMonitor": {"enabled": true},
        "prometheusRule": {"enabled": true},
        "secrets": {"existingSecret": "consumption-exporter-credentials"},
    })
}

fn of_kind<'a>(resources: &'a [Value], kind: &str) -> &'a Value {
    resources
        .iter()
        .find(|r| r["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

#[ignore = "needs the Helm SDK and kubernetes-validate from PyPI, and @kubernetes-models from npm: ./scripts/test.sh installs and runs it"]
#[test]
fn the_chart_lints_clean_and_its_core_kinds_validate_against_kubernetes() {
    for values in [json!({}), everything_on(), json!({"shards": 3})] {
        let (resources, lint) = render(&values);
        let findings: Vec<&Value> = lint["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["severity"].as_i64() >= Some(2))
            .collect();
        assert!(
            findings.is_empty() && lint["errors"].as_array().unwrap().is_empty(),
            "{lint}"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for resource in resources
            .iter()
            .filter(|r| r["apiVersion"] != "monitoring.coreos.com/v1")
        {
            let file = dir
                .path()
                .join(format!("{}.yaml", resource["kind"].as_str().unwrap()));
            std::fs::write(&file, serde_yaml::to_string(resource).unwrap()).unwrap();
            files.push(file);
        }
        assert!(files.len() >= 4, "{files:?}");
        let output = Command::new(test_tool("venv/bin/kubernetes-validate"))
            .args(["--strict", "--kubernetes-version", "1.30.0"])
            .args(&files)
            .output()
            .unwrap();
        let said = crate::helpers::said(&output);
        assert!(output.status.success() && !said.contains("ERROR"), "{said}");
    }
}

#[ignore = "needs the Helm SDK and kubernetes-validate from PyPI, and @kubernetes-models from npm: ./scripts/test.sh installs and runs it"]
#[test]
fn the_operator_kinds_validate_and_the_rule_is_the_shipped_rules_file() {
    let (resources, _) = render(&everything_on());
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        let file = dir.path().join(format!("{kind}.json"));
        std::fs::write(&file, of_kind(&resources, kind).to_string()).unwrap();
        files.push(file);
    }
    let node = crate::helpers::program(&["node", "nodejs"], "nodejs");
    // Node resolves ESM packages from the script's own directory upwards: put it beside them.
    let tools = test_tool("node/node_modules/@kubernetes-models/prometheus-operator");
    let script = repository().join("target/test-tools/node/validate_operator_kinds.mjs");
    std::fs::copy(
        repository().join("tests/it/scripts/validate_operator_kinds.mjs"),
        &script,
    )
    .unwrap();
    assert!(tools.exists());
    crate::helpers::run_ok(Command::new(node).arg(&script).args(&files));

    let spec = &of_kind(&resources, "PrometheusRule")["spec"];
    let shipped = crate::helpers::shipped_rules();
    assert_eq!(
        spec, &shipped,
        "the PrometheusRule carries the shipped rules, unchanged"
    );
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, serde_yaml::to_string(spec).unwrap()).unwrap();
    crate::helpers::run_tool(
        crate::helpers::program(&["promtool"], "prometheus"),
        &["check", "rules", "rules.yml"],
        dir.path(),
    );
}

#[ignore = "needs the Helm SDK and kubernetes-validate from PyPI, and @kubernetes-models from npm: ./scripts/test.sh installs and runs it"]
#[test]
fn the_deployment_runs_as_non_root_read_only_with_probes_config_and_secrets() {
    let (resources, _) = render(&everything_on());
    let deployment = of_kind(&resources, "Deployment");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/-/healthy");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/-/ready");
    assert!(container["resources"]["requests"]["memory"].is_string());
    let mounts = container["volumeMounts"].as_array().unwrap();
    assert!(mounts
        .iter()
        .any(|m| m["mountPath"] == "/etc/consumption-exporter/secrets" && m["readOnly"] == true));

    // The config's checksum rolls the pod when the config changes.
    let checksum = |values: &Value| {
        let (resources, _) = render(values);
        of_kind(&resources, "Deployment")["spec"]["template"]["metadata"]["annotations"]
            ["checksum/config"]
            .clone()
    };
    let mut changed = everything_on();
    changed["config"] = json!({"global": {"poll_interval": "1h"}, "sources": []});
    assert_ne!(checksum(&everything_on()), checksum(&changed));

    // The ConfigMap's exporter.yml is one `check` accepts.
    let configmap = of_kind(&resources, "ConfigMap");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("exporter.yml");
    std::fs::write(&config, configmap["data"]["exporter.yml"].as_str().unwrap()).unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::write(secrets.join("qlik-api-key"), "test-key").unwrap();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "/etc/consumption-exporter/secrets",
        &secrets.display().to_string(),
    );
    std::fs::write(&config, text).unwrap();
    crate::helpers::run_ok(
        Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
            .args(["check", "--config.file"])
            .arg(&config),
    );
}

#[ignore = "needs the Helm SDK and kubernetes-validate from PyPI, and @kubernetes-models from npm: ./scripts/test.sh installs and runs it"]
#[test]
fn with_shards_the_chart_runs_a_statefulset_whose_pod_n_polls_shard_n() {
    let (resources, _) = render(&json!({"shards": 3}));
    assert!(
        resources.iter().all(|r| r["kind"] != "Deployment"),
        "no Deployment beside it"
    );
    let statefulset = of_kind(&resources, "StatefulSet");
    assert_eq!(statefulset["spec"]["replicas"], 3);
    let container = &statefulset["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(args.contains(&"--sources.shard=$(POD_INDEX)/3"), "{args:?}");
    let index = &container["env"][0];
    assert_eq!(index["name"], "POD_INDEX");
    assert_eq!(
        index["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['apps.kubernetes.io/pod-index']"
    );
    // The rendered flag, as Kubernetes expands it in pod 2, is a shard the binary takes.
    let flag = args
        .iter()
        .find_map(|a| a.strip_prefix("--sources.shard="))
        .unwrap();
    let shard =
        consumption_exporter::model::shard::Shard::parse(&flag.replace("$(POD_INDEX)", "2"));
    assert_eq!(shard.map(|s| (s.index, s.count)), Ok((2, 3)));
}

//! The config's JSON Schema (`exporter.schema.json`, printed by `consumption_exporter schema`),
//! checked with a real validator, PyPI's check-jsonschema: every config the project ships or
//! tests with passes it, and a misspelt key is refused by it as by `check`.

use std::path::Path;
use std::process::Command;

use consumption_exporter::simulator::kit::{self, Scale, TenantSpec};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// check-jsonschema's verdict on `config` (YAML text): Ok, or what it said.
fn validate(config: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.yml");
    std::fs::write(&file, config).unwrap();
    let output = Command::new(crate::helpers::test_tool("venv/bin/check-jsonschema"))
        .arg("--schemafile")
        .arg(repository().join("exporter.schema.json"))
        .arg(&file)
        .output()
        .unwrap();
    match output.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&output.stdout).to_string()),
    }
}

fn small_tenant() -> TenantSpec {
    TenantSpec {
        seed: 1,
        today: crate::helpers::test_today(),
        scale: Scale::Small,
    }
}

#[test]
fn the_committed_schema_is_what_the_binary_prints() {
    let output = crate::helpers::run_ok(
        Command::new(env!("CARGO_BIN_EXE_consumption_exporter")).arg("schema"),
    );
    let committed = std::fs::read_to_string(repository().join("exporter.schema.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        committed,
        "exporter.schema.json is stale: run `cargo run -- schema > exporter.schema.json`"
    );
    let shipped = std::fs::read_to_string(repository().join("exporter.yml")).unwrap();
    assert!(shipped.starts_with("# yaml-language-server: $schema=./exporter.schema.json\n"));
}

#[ignore = "needs check-jsonschema from PyPI: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn every_shipped_and_tested_config_passes_the_schema() {
    let shipped = std::fs::read_to_string(repository().join("exporter.yml")).unwrap();
    validate(&shipped).unwrap();
    let (demo, _simulators) = consumption_exporter::commands::demo::start_simulators(42)
        .await
        .unwrap();
    validate(&demo).unwrap_or_else(|e| panic!("the demo config: {e}"));
    for vendor in kit::VENDORS {
        let tenant = vendor.start(small_tenant()).await.unwrap();
        let config = format!("sources:\n{}", tenant.entry("acme"));
        validate(&config).unwrap_or_else(|e| panic!("{}: {e}\n{config}", vendor.type_name()));
    }
    let values: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repository().join("charts/consumption-exporter/values.yaml"))
            .unwrap(),
    )
    .unwrap();
    validate(&serde_yaml::to_string(&values["config"]).unwrap())
        .unwrap_or_else(|e| panic!("the chart's default config: {e}"));
}

#[ignore = "needs check-jsonschema from PyPI: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn a_misspelt_key_is_refused_by_the_schema_as_by_check() {
    for vendor in kit::VENDORS {
        let tenant = vendor.start(small_tenant()).await.unwrap();
        let misspelt = format!("sources:\n{}    intervall: 1h\n", tenant.entry("acme"));
        let said = validate(&misspelt).expect_err("the schema refuses `intervall`");
        assert!(said.contains("intervall"), "{}: {said}", vendor.type_name());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("exporter.yml");
        std::fs::write(&file, &misspelt).unwrap();
        let check = Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
            .args(["check", "--config.file"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(!check.status.success());
        assert!(String::from_utf8_lossy(&check.stderr).contains("unknown field `intervall`"));
    }
    let global = "global:\n  poll_intervall: 1h\nsources: []\n";
    assert!(validate(global).is_err(), "a misspelt global key");
}

#[ignore = "needs check-jsonschema from PyPI: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn defaults_pass_the_schema_and_a_key_no_source_of_the_type_takes_does_not() {
    for vendor in kit::VENDORS {
        let name = vendor.type_name();
        let tenant = vendor.start(small_tenant()).await.unwrap();
        let good = format!(
            "defaults:\n  {name}:\n    interval: 1h\nsources:\n{}",
            tenant.entry("acme")
        );
        validate(&good).unwrap_or_else(|e| panic!("{name}: {e}\n{good}"));
        let misspelt = format!(
            "defaults:\n  {name}:\n    intervall: 1h\nsources:\n{}",
            tenant.entry("acme")
        );
        let said = validate(&misspelt).expect_err("the schema refuses `intervall`");
        assert!(said.contains("intervall"), "{name}: {said}");
        let errors =
            match consumption_exporter::config::parse(&misspelt, "exporter.yml", Path::new(".")) {
                Ok(_) => panic!("{name}: check accepted defaults.{name}.intervall"),
                Err(errors) => errors.to_string(),
            };
        assert!(
            errors.contains(&format!("defaults.{name}.intervall: unknown key")),
            "{errors}"
        );
    }
}

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

/// The keys a page documents under `heading` (the whole page: `None`), until the next heading
/// of its level: the first cell of every table row, each `key` in it.
fn documented_keys(page: &str, heading: Option<&str>) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(page))
        .unwrap_or_else(|e| panic!("{page}: {e}"));
    let section: Vec<&str> = match heading {
        None => text.lines().collect(),
        Some(heading) => text
            .lines()
            .skip_while(|line| *line != heading)
            .skip(1)
            .take_while(|line| !line.starts_with("## "))
            .collect(),
    };
    assert!(!section.is_empty(), "{page} has no section {heading:?}");
    section
        .into_iter()
        .filter_map(|line| line.strip_prefix('|')?.split('|').next())
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn property_names(schema: &serde_json::Value) -> Vec<String> {
    schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_config_key_is_documented_once_on_its_page() {
    let schema = consumption_exporter::config::schema::schema();
    let global = documented_keys("docs/configuration.md", Some("## `global`"));
    let common = documented_keys("docs/configuration.md", Some("## Keys of every source"));
    let once = |key: &str, documented: &[String], page: &str| {
        let rows = documented.iter().filter(|k| *k == key).count();
        assert_eq!(
            rows, 1,
            "`{key}` is documented in {rows} table rows of {page}; once, please"
        );
    };
    for key in property_names(&schema["properties"]["global"]) {
        once(&key, &global, "docs/configuration.md, `global`");
    }
    let money = documented_keys("docs/showback.md", Some("## `money`"));
    for key in property_names(&schema["properties"]["money"]) {
        once(&key, &money, "docs/showback.md, `money`");
    }
    let allocation = documented_keys("docs/showback.md", Some("## `allocation`"));
    for key in property_names(&schema["properties"]["allocation"]["additionalProperties"]) {
        once(&key, &allocation, "docs/showback.md, `allocation`");
    }
    let top_level = documented_keys("docs/showback.md", Some("## Top-level `budgets`"));
    for key in property_names(&schema["properties"]["budgets"]["items"]) {
        once(&key, &top_level, "docs/showback.md, top-level `budgets`");
    }
    let entries = schema["properties"]["sources"]["items"]["allOf"]
        .as_array()
        .expect("one schema per source type");
    for source_type in consumption_exporter::sources::TYPES {
        let name = source_type.name();
        let own = property_names(&source_type.settings_schema());
        let page = format!("docs/vendors/{name}.md");
        let on_page = documented_keys(&page, None);
        for key in &own {
            once(key, &on_page, &page);
        }
        let entry = entries
            .iter()
            .find(|e| e["if"]["properties"]["type"]["const"] == name)
            .unwrap_or_else(|| panic!("no schema for {name}"));
        for key in property_names(&entry["then"])
            .iter()
            .filter(|k| !own.contains(k))
        {
            once(key, &common, "docs/configuration.md, keys of every source");
        }
    }
}

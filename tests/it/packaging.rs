//! The ways operators deploy the exporter, checked with the real tools: the systemd units
//! (`systemd-analyze`, from Debian's `systemd`) and the container image (Debian's `podman`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn systemd_analyze() -> PathBuf {
    crate::e2e::program(&["systemd-analyze"], "systemd")
}

/// The shipped units in a directory of their own, the binary path pointing at this build (verify
/// checks that the program exists), with the socket-activation drop-in applied to a copy.
fn units_for_verify() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let systemd = repository().join("examples/systemd");
    let binary = env!("CARGO_BIN_EXE_consumption_exporter");
    let localise = |text: String| text.replace("/usr/bin/consumption_exporter", binary);
    for unit in [
        "consumption-exporter.service",
        "consumption-exporter.socket",
    ] {
        let text = std::fs::read_to_string(systemd.join(unit)).unwrap();
        std::fs::write(dir.path().join(unit), localise(text)).unwrap();
    }
    let drop_in = systemd.join("consumption-exporter.service.d/socket-activation.conf");
    let drop_in = std::fs::read_to_string(drop_in).unwrap();
    let activated_start = drop_in
        .lines()
        .rfind(|l| l.starts_with("ExecStart=/"))
        .expect("the drop-in sets ExecStart");
    let service = std::fs::read_to_string(systemd.join("consumption-exporter.service")).unwrap();
    let activated: String = service
        .lines()
        .map(|l| match l.starts_with("ExecStart=") {
            true => activated_start,
            false => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        dir.path().join("consumption-exporter-activated.service"),
        localise(activated),
    )
    .unwrap();
    dir
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify_without_a_word() {
    let dir = units_for_verify();
    let output = Command::new(systemd_analyze())
        .arg("verify")
        .args(
            [
                "consumption-exporter.service",
                "consumption-exporter.socket",
                "consumption-exporter-activated.service",
            ]
            .map(|unit| dir.path().join(unit)),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // verify exits 0 on unknown keys and only says so on stderr.
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "{stderr}"
    );
}

#[test]
fn the_service_is_hardened_to_an_exposure_of_two_or_less() {
    let dir = units_for_verify();
    for unit in [
        "consumption-exporter.service",
        "consumption-exporter-activated.service",
    ] {
        let output = Command::new(systemd_analyze())
            .args(["security", "--offline=true", "--no-pager"])
            .arg(dir.path().join(unit))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout);
        let exposure: f64 = said
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|rest| rest.split(": ").nth(1))
            .and_then(|figure| figure.split(' ').next())
            .and_then(|figure| figure.parse().ok())
            .unwrap_or_else(|| panic!("no exposure figure in:\n{said}"));
        assert!(exposure <= 2.0, "{unit}: exposure {exposure}\n{said}");
    }
}

#[test]
fn the_service_reloads_with_sighup_and_runs_the_installed_config() {
    let service =
        std::fs::read_to_string(repository().join("examples/systemd/consumption-exporter.service"))
            .unwrap();
    assert!(service.contains("\nExecReload=/bin/kill -HUP $MAINPID\n"));
    assert!(service.contains(
        "\nExecStart=/usr/bin/consumption_exporter --config.file=/etc/consumption-exporter/exporter.yml\n"
    ));
    for key in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "DynamicUser=yes",
    ] {
        assert!(service.contains(&format!("\n{key}\n")), "{key}");
    }
}

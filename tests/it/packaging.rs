//! The ways operators deploy the exporter, checked with the real tools: the systemd units
//! (`systemd-analyze`, from Debian's `systemd`) and the container image (Debian's `podman`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn systemd_analyze() -> PathBuf {
    crate::helpers::program(&["systemd-analyze"], "systemd")
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

#[ignore = "needs podman, systemd-analyze, cargo-deb and lintian: ./scripts/test.sh installs and runs it"]
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

#[ignore = "needs podman, systemd-analyze, cargo-deb and lintian: ./scripts/test.sh installs and runs it"]
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

/// A container removed when the test ends, however it ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman().args(["rm", "--force", &self.0]).output();
    }
}

/// The test's image, removed when the test ends (a debug build makes it about 200 MB).
struct Image(&'static str);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = podman().args(["rmi", "--force", self.0]).output();
    }
}

/// podman as it runs here: runc, and explicit limits (the defaults fail in this sandbox).
fn podman() -> Command {
    Command::new(crate::helpers::program(&["podman"], "podman"))
}

const RUN_FLAGS: [&str; 6] = [
    "--runtime",
    "runc",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

#[ignore = "needs podman, systemd-analyze, cargo-deb and lintian: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn the_container_image_builds_from_scratch_gets_ready_and_stops_cleanly_on_sigterm() {
    let tag = "localhost/consumption-exporter:test";
    crate::helpers::run_ok(
        Command::new(repository().join("scripts/image.sh"))
            .arg(tag)
            .env(
                "CONSUMPTION_EXPORTER_BINARY",
                env!("CARGO_BIN_EXE_consumption_exporter"),
            ),
    );
    let _image = Image(tag);
    let inspect = |format: &str| {
        let output = podman()
            .args(["image", "inspect", "--format", format, tag])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    assert_eq!(inspect("{{.Config.User}}"), "65534:65534");
    assert_eq!(
        inspect("{{json .Config.ExposedPorts}}"),
        r#"{"10115/tcp":{}}"#
    );
    assert!(inspect("{{json .Config.Entrypoint}}").contains("/bin/consumption_exporter"));

    // The config is where the image says, and `check` reads it.
    crate::helpers::run_ok(
        podman()
            .args(["run", "--rm"])
            .args(RUN_FLAGS)
            .args([
                "--env",
                "QLIK_API_KEY=k",
                "--env",
                "QLIK_CLIENT_SECRET=s",
                tag,
                "check",
            ])
            .arg("--config.file=/etc/consumption-exporter/exporter.yml"),
    );

    let port = crate::helpers::free_port();
    let name = format!("consumption-exporter-test-{port}");
    crate::helpers::run_ok(
        podman()
            .args(["run", "--detach", "--name", &name, "--network", "host"])
            .args(RUN_FLAGS)
            .args([
                tag,
                "demo",
                &format!("--web.listen-address=127.0.0.1:{port}"),
            ]),
    );
    let container = Container(name);
    let url = format!("http://127.0.0.1:{port}/-/ready");
    crate::e2e::wait_for(
        "the container to be ready",
        std::time::Duration::from_secs(60),
        async || {
            crate::helpers::client()
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
    crate::helpers::run_ok(podman().args(["stop", "--time", "10", &container.0]));
    let exit = podman()
        .args(["inspect", "--format", "{{.State.ExitCode}}", &container.0])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&exit.stdout).trim(),
        "0",
        "SIGTERM ends it with 0"
    );
}

/// The Debian package of this build, made by `cargo deb` (installed by scripts/test.sh under
/// target/test-tools), in `dir`.
fn debian_package(dir: &Path) -> PathBuf {
    let cargo_deb = crate::helpers::test_tool("cargo/bin/cargo-deb");
    let output = crate::helpers::run_ok(
        Command::new(cargo_deb)
            .args([
                "deb",
                "--no-build",
                "--profile",
                "dev",
                "--fast",
                "--output",
            ])
            .arg(dir)
            .current_dir(repository()),
    );
    let package = String::from_utf8_lossy(&output.stdout).trim().to_string();
    PathBuf::from(package.lines().last().unwrap_or_default())
}

#[ignore = "needs podman, systemd-analyze, cargo-deb and lintian: ./scripts/test.sh installs and runs it"]
#[test]
fn the_debian_package_passes_lintian_installs_and_checks_its_config() {
    let dir = tempfile::tempdir().unwrap();
    let package = debian_package(dir.path());
    let lintian = Command::new(crate::helpers::program(&["lintian"], "lintian"))
        .args(["--tag-display-limit", "0"])
        .arg(&package)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&lintian.stdout);
    assert!(
        !said.lines().any(|l| l.starts_with("E:")),
        "lintian errors:\n{said}"
    );

    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "installing the package needs root"
    );
    let dpkg = crate::helpers::program(&["dpkg"], "dpkg");
    crate::helpers::run_ok(Command::new(&dpkg).arg("--install").arg(&package));
    struct Purge(PathBuf);
    impl Drop for Purge {
        fn drop(&mut self) {
            let _ = Command::new(&self.0)
                .args(["--purge", "consumption-exporter"])
                .output();
        }
    }
    let _purge = Purge(dpkg);

    let user = Command::new("getent")
        .args(["passwd", "consumption-exporter"])
        .output()
        .unwrap();
    assert!(
        user.status.success(),
        "the maintainer scripts made the system user"
    );
    let config = Path::new("/etc/consumption-exporter/exporter.yml");
    let owner = Command::new("stat")
        .args(["--format", "%U:%G %a"])
        .arg(config)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&owner.stdout).trim(),
        "root:consumption-exporter 640"
    );
    let conffiles =
        std::fs::read_to_string("/var/lib/dpkg/info/consumption-exporter.conffiles").unwrap();
    assert!(conffiles.contains("/etc/consumption-exporter/exporter.yml"));
    assert!(Path::new("/usr/lib/systemd/system/consumption-exporter.service").is_file());

    crate::helpers::run_ok(
        Command::new("/usr/bin/consumption_exporter")
            .args(["check", "--config.file"])
            .arg(config)
            .env("QLIK_API_KEY", "k")
            .env("QLIK_CLIENT_SECRET", "s"),
    );
}

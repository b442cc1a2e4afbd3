//! Records what `--version` and `consumption_exporter_build_info` tell: the git revision and
//! branch, who built it, when, and with which Rust.
use std::process::Command;

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let unknown = || "unknown".to_string();
    let revision = output_of("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(unknown);
    let branch = output_of("git", &["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_else(unknown);
    let user = std::env::var("USER")
        .ok()
        .or_else(|| output_of("id", &["-un"]))
        .unwrap_or_else(unknown);
    let host = output_of("hostname", &[]).unwrap_or_else(unknown);
    // Prometheus's format; SOURCE_DATE_EPOCH makes it reproducible.
    let date = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => output_of(
            "date",
            &["-u", "-d", &format!("@{epoch}"), "+%Y%m%d-%H:%M:%S"],
        ),
        Err(_) => output_of("date", &["-u", "+%Y%m%d-%H:%M:%S"]),
    }
    .unwrap_or_else(unknown);
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let rust_version = output_of(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(unknown);
    println!("cargo:rustc-env=CONSUMPTION_EXPORTER_REVISION={revision}");
    println!("cargo:rustc-env=CONSUMPTION_EXPORTER_BRANCH={branch}");
    println!("cargo:rustc-env=CONSUMPTION_EXPORTER_BUILD_USER={user}@{host}");
    println!("cargo:rustc-env=CONSUMPTION_EXPORTER_BUILD_DATE={date}");
    println!("cargo:rustc-env=CONSUMPTION_EXPORTER_RUST_VERSION={rust_version}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
}

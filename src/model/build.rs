//! What the binary was built from, as `--version` and `consumption_exporter_build_info` say
//! it (the values come from `build.rs`).

/// The source revision the binary was built from (`unknown` outside a git checkout).
pub const REVISION: &str = env!("CONSUMPTION_EXPORTER_REVISION");

/// The git branch the binary was built from.
pub const BRANCH: &str = env!("CONSUMPTION_EXPORTER_BRANCH");

/// The Rust compiler's version (`1.95.0`).
pub const RUST_VERSION: &str = env!("CONSUMPTION_EXPORTER_RUST_VERSION");

/// `--version`, in the form Prometheus and its exporters print.
pub fn version_text() -> String {
    format!(
        "consumption_exporter, version {} (branch: {BRANCH}, revision: {REVISION})\n  build user:       {}\n  build date:       {}\n  rust version:     {RUST_VERSION}\n  platform:         {}/{}\n",
        env!("CARGO_PKG_VERSION"),
        env!("CONSUMPTION_EXPORTER_BUILD_USER"),
        env!("CONSUMPTION_EXPORTER_BUILD_DATE"),
        std::env::consts::OS,
        std::env::consts::ARCH,
    )
}

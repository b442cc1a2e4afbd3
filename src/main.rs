//! The binary: the async runtime, the command line, logging, and the command's outcome.

use std::process::ExitCode;

use clap::Parser;
use consumption_exporter::commands::{self, cli::Cli};

fn main() -> ExitCode {
    // Before the runtime starts any thread.
    consumption_exporter::engine::memory::tune_allocator();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("consumption_exporter: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let cli = Cli::parse();
        commands::logging::init(cli.log_level, cli.log_format);
        commands::run(cli).await.unwrap_or_else(|e| {
            eprintln!("consumption_exporter: {e:#}");
            ExitCode::FAILURE
        })
    })
}

//! Start-up: from spawning the exporter binary to its port accepting connections, with the
//! demo's six sources (every vendor type) in the config.

use std::time::Duration;

use crate::processes::{self, Process};

pub struct StartupFigures {
    pub median: Duration,
    pub max: Duration,
    pub runs: usize,
}

pub async fn measure(runs: usize) -> anyhow::Result<StartupFigures> {
    let (config, _simulators) = consumption_exporter::commands::demo::start_simulators(11).await?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("exporter.yml");
    std::fs::write(&config_path, config)?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let addr = processes::free_address()?;
        let mut command = processes::serve_command(&config_path, addr)?;
        let time = tokio::task::spawn_blocking(move || {
            // The clock starts before the fork, so exec and loading count too.
            let started = std::time::Instant::now();
            let _exporter = Process::spawn(&mut command)?;
            processes::wait_until_listening(addr, Duration::from_secs(10))?;
            anyhow::Ok(started.elapsed())
        })
        .await??;
        times.push(time);
    }
    times.sort_unstable();
    Ok(StartupFigures {
        median: times[times.len() / 2],
        max: times[times.len() - 1],
        runs,
    })
}

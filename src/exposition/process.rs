//! The exporter process's own figures, as every official exporter serves them
//! (`process_cpu_seconds_total`, memory, file descriptors, start time), read from `/proc` with
//! the `procfs` crate on each scrape: a handful of small files, so the figures are current.

use std::sync::OnceLock;

/// One reading; a figure `/proc` would not give is left out rather than served as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessFigures {
    pub cpu_seconds: Option<f64>,
    pub resident_memory_bytes: Option<f64>,
    pub virtual_memory_bytes: Option<f64>,
    pub open_fds: Option<f64>,
    pub max_fds: Option<f64>,
    pub start_time_seconds: Option<f64>,
}

/// Reads this process's figures now.
pub fn read() -> ProcessFigures {
    let Ok(process) = procfs::process::Process::myself() else {
        return ProcessFigures::default();
    };
    let stat = process.stat().ok();
    let ticks = procfs::ticks_per_second() as f64;
    let max_fds = process
        .limits()
        .ok()
        .and_then(|limits| match limits.max_open_files.soft_limit {
            procfs::process::LimitValue::Value(max) => Some(max as f64),
            procfs::process::LimitValue::Unlimited => None,
        });
    ProcessFigures {
        // Go's collector gives fractions of a second too; whole seconds would make rate() coarse.
        cpu_seconds: stat.as_ref().map(|s| (s.utime + s.stime) as f64 / ticks),
        resident_memory_bytes: stat
            .as_ref()
            .map(|s| s.rss as f64 * procfs::page_size() as f64),
        virtual_memory_bytes: stat.as_ref().map(|s| s.vsize as f64),
        open_fds: process.fd_count().ok().map(|n| n as f64),
        max_fds,
        start_time_seconds: start_time(stat.as_ref()),
    }
}

/// Boot time plus the start tick: fixed for the process, so read once.
fn start_time(stat: Option<&procfs::process::Stat>) -> Option<f64> {
    static START: OnceLock<Option<f64>> = OnceLock::new();
    *START.get_or_init(|| {
        let boot = procfs::boot_time_secs().ok()? as f64;
        Some(boot + stat?.starttime as f64 / procfs::ticks_per_second() as f64)
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    #[test]
    fn the_figures_are_this_process() {
        let before = super::read();
        // Burn a fifth of a second of CPU: the counter must move, by a fraction of a second.
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(200) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let after = super::read();
        let burnt = after.cpu_seconds.unwrap() - before.cpu_seconds.unwrap();
        assert!(burnt > 0.05, "{burnt}");

        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(after.max_fds, Some(limit.rlim_cur as f64));
        let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as f64;
        // read_dir holds one descriptor of its own while it counts.
        assert!((after.open_fds.unwrap() - (open - 1.0)).abs() <= 2.0);

        // Other tests allocate meanwhile: read both sides back to back, and allow a quarter.
        let served = super::read().resident_memory_bytes.unwrap();
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: f64 = statm.split(' ').nth(1).unwrap().parse().unwrap();
        let resident = pages * procfs::page_size() as f64;
        assert!(
            (served - resident).abs() < resident * 0.25,
            "{served} {resident}"
        );
        assert!(after.virtual_memory_bytes.unwrap() >= served);

        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = after.start_time_seconds.unwrap();
        assert!(start <= now + 1.0 && start > now - 3600.0, "{start} {now}");
    }
}

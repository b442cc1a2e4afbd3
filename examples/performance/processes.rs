//! Child processes the benchmark measures from outside: the exporter binary and nginx. Their
//! memory and CPU come from `/proc`, so the figures are theirs alone, not the load generator's.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A child process that is killed when dropped, however the benchmark ends.
pub struct Process {
    child: Child,
}

impl Process {
    pub fn spawn(command: &mut Command) -> anyhow::Result<Self> {
        let child = command
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        Ok(Process { child })
    }

    /// One line the process printed (its stdout must be piped).
    pub fn read_line(&mut self) -> anyhow::Result<String> {
        let stdout = self.child.stdout.as_mut().context("stdout is not piped")?;
        // Byte by byte, so nothing after the line is buffered away from later reads.
        let mut line = Vec::new();
        let mut byte = [0u8];
        while std::io::Read::read(stdout, &mut byte)? == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        Ok(String::from_utf8(line)?.trim().to_string())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, in bytes.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        Ok(status_kib(self.pid(), "VmRSS:")? * 1024)
    }

    /// The most resident memory the process has had (VmHWM), in bytes.
    pub fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        Ok(status_kib(self.pid(), "VmHWM:")? * 1024)
    }

    /// CPU time used so far, all threads, user and system.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        let after_name = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .context("unexpected /proc stat format")?;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        // USER_HZ is 100 on every Linux architecture the benchmark runs on.
        Ok(Duration::from_millis(ticks * 10))
    }

    /// Times any thread of the process was scheduled off the CPU: each wake-up counts once.
    pub fn context_switches(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for task in std::fs::read_dir(format!("/proc/{}/task", self.pid()))? {
            let tid: u32 = task?.file_name().to_string_lossy().parse()?;
            let status = std::fs::read_to_string(format!("/proc/{}/task/{tid}/status", self.pid()))
                .unwrap_or_default();
            total += ["voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"]
                .iter()
                .filter_map(|field| field_value(&status, field))
                .sum::<u64>();
        }
        Ok(total)
    }

    /// Reads the process's stdout to the end and waits for it to exit; returns its exit
    /// status, its peak resident memory in bytes and what it printed.
    ///
    /// The peak is the kernel's high-water mark (VmHWM), read every few milliseconds until the
    /// process exits. (`wait4`'s ru_maxrss would be wrong here: a child inherits the high-water
    /// mark of the benchmark it was forked from.)
    pub fn wait_with_output_and_peak_rss(
        mut self,
    ) -> anyhow::Result<(std::process::ExitStatus, u64, String)> {
        let mut stdout = self.child.stdout.take().context("stdout is not piped")?;
        let reader = std::thread::spawn(move || {
            let mut output = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut output).map(|_| output)
        });
        let mut peak_kib = 0;
        let status = loop {
            // Until the exec, the child is a copy of this process, whose memory is not its own.
            let exec_done = std::fs::read_link(format!("/proc/{}/exe", self.pid()))
                .is_ok_and(|exe| exe != std::env::current_exe().unwrap_or_default());
            if let (true, Ok(hwm)) = (exec_done, status_kib(self.pid(), "VmHWM:")) {
                peak_kib = peak_kib.max(hwm);
            }
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let output = reader
            .join()
            .map_err(|_| anyhow::anyhow!("reading the child's output panicked"))??;
        Ok((status, peak_kib * 1024, output))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    field_value(&status, field).with_context(|| format!("no {field} in /proc/{pid}/status"))
}

fn field_value(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A loopback port nobody listens on now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A loopback address nobody listens on now.
pub fn free_address() -> anyhow::Result<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], free_port()?)))
}

/// `consumption_exporter serve` with this config file on `addr`, quiet but for warnings.
pub fn serve_command(config_path: &std::path::Path, addr: SocketAddr) -> anyhow::Result<Command> {
    let mut command = Command::new(exporter_binary()?);
    command
        .arg("--config.file")
        .arg(config_path)
        .args([
            "--web.listen-address",
            &addr.to_string(),
            "--log.level",
            "warn",
        ])
        .stdout(std::process::Stdio::null());
    Ok(command)
}

/// Polls until something accepts connections on `addr`; returns how long that took.
pub fn wait_until_listening(addr: SocketAddr, limit: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    anyhow::bail!("nothing listened on {addr} within {limit:?}")
}

/// The release exporter binary built beside the benchmark, or the one `BENCH_EXPORTER` names
/// (another build, an earlier commit's say, measured by the same benchmark).
pub fn exporter_binary() -> anyhow::Result<PathBuf> {
    if let Some(binary) = std::env::var_os("BENCH_EXPORTER") {
        return Ok(PathBuf::from(binary));
    }
    let binary = std::env::current_exe()?
        .parent()
        .and_then(|examples| examples.parent())
        .map(|profile| profile.join("consumption_exporter"))
        .context("cannot locate the target directory")?;
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: run ./scripts/bench.sh, which builds it first",
        binary.display()
    );
    Ok(binary)
}

/// nginx from Debian's package, for the static-file baseline.
pub fn nginx_binary() -> anyhow::Result<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .context("nginx is not installed: `apt-get install nginx` (./scripts/bench.sh does it)")
}

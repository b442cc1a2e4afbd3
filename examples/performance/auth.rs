//! Basic auth timing: what a refused request costs for an unknown user, a known user with a
//! wrong password, and a right password (first and cached), over HTTP against the exporter
//! binary with a cost-10 bcrypt hash, as `htpasswd -nBC 10` makes. The first two should match:
//! otherwise response times tell which user names exist.

use std::time::{Duration, Instant};

use crate::processes::{self, Process};

pub struct AuthFigures {
    /// (what was sent, median, max)
    pub rows: Vec<(&'static str, Duration, Duration)>,
    /// 16 wrong passwords at once: how long until the last is answered.
    pub flood: Duration,
    pub checks_at_once: usize,
}

pub async fn measure(requests: usize) -> anyhow::Result<AuthFigures> {
    let (config, _simulators) = consumption_exporter::commands::demo::start_simulators(11).await?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("exporter.yml");
    std::fs::write(&config_path, config)?;
    let web_path = dir.path().join("web.yml");
    let hash = bcrypt::hash("right-password", 10)?;
    std::fs::write(
        &web_path,
        format!("basic_auth_users:\n  prometheus: {hash}\n"),
    )?;
    let addr = processes::free_address()?;
    let mut command = processes::serve_command(&config_path, addr)?;
    command.arg("--web.config.file").arg(&web_path);
    let _exporter = Process::spawn(&mut command)?;
    processes::wait_until_listening(addr, Duration::from_secs(10))?;
    let url = format!("http://{addr}/-/healthy");
    let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
    let timed = |user: &'static str, password: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let started = Instant::now();
            let response = client
                .get(&url)
                .basic_auth(user, Some(password))
                .send()
                .await?;
            anyhow::Ok((response.status().as_u16(), started.elapsed()))
        }
    };
    let mut rows = Vec::new();
    let (_, first) = timed("prometheus", "right-password").await?;
    rows.push(("right password, first time", first, first));
    for (label, user, password, expected) in [
        ("unknown user", "nobody", "right-password", 401),
        ("known user, wrong password", "prometheus", "wrong", 401),
        (
            "right password, cached",
            "prometheus",
            "right-password",
            200,
        ),
    ] {
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            let (status, time) = timed(user, password).await?;
            anyhow::ensure!(status == expected, "{label}: status {status}");
            times.push(time);
        }
        times.sort_unstable();
        rows.push((label, times[times.len() / 2], times[times.len() - 1]));
    }
    let started = Instant::now();
    let flood: Vec<_> = (0..16)
        .map(|_| tokio::spawn(timed("prometheus", "wrong")))
        .collect();
    for request in flood {
        request.await??;
    }
    Ok(AuthFigures {
        rows,
        flood: started.elapsed(),
        checks_at_once: std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
    })
}

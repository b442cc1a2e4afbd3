//! The static baseline: nginx serving the exporter's own exposition bytes (and their gzip form)
//! as files, with `gzip_static`, the way a web server would serve a pre-rendered page.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use crate::processes::{self, Process};

pub struct Nginx {
    pub addr: SocketAddr,
    _process: Process,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Serves `plain` at `/metrics`, and `gzipped` to clients that accept gzip.
    pub fn start(plain: &[u8], gzipped: &[u8]) -> anyhow::Result<Self> {
        let binary = processes::nginx_binary()?;
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("www");
        std::fs::create_dir(&root)?;
        std::fs::write(root.join("metrics"), plain)?;
        std::fs::write(root.join("metrics.gz"), gzipped)?;
        let addr: SocketAddr = format!("127.0.0.1:{}", processes::free_port()?).parse()?;
        let prefix = dir.path().display();
        // Two workers for two cores, as the exporter's runtime has; files from the page cache
        // with sendfile; no access log, as the exporter writes none per scrape.
        let config = format!(
            r#"daemon off;
worker_processes 2;
user root;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ }}
    default_type "text/plain; version=0.0.4; charset=utf-8";
    server {{
        listen {addr};
        root {prefix}/www;
        location = /metrics {{ gzip_static on; }}
    }}
}}
"#
        );
        let config_path = dir.path().join("nginx.conf");
        std::fs::write(&config_path, config)?;
        let process = Process::spawn(
            Command::new(binary)
                .arg("-p")
                .arg(dir.path())
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .arg("-c")
                .arg(&config_path)
                .stdout(Stdio::null()),
        )?;
        processes::wait_until_listening(addr, Duration::from_secs(10)).with_context(|| {
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            format!("nginx did not start: {log}")
        })?;
        Ok(Nginx {
            addr,
            _process: process,
            _dir: dir,
        })
    }
}

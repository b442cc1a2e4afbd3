//! Where the binary listens: repeated `--web.listen-address`, `:PORT` on IPv4 and IPv6, and
//! systemd socket activation (`systemd-socket-activate`, from Debian's `systemd`).

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::helpers::client;
use crate::helpers::free_port;

/// The demo with these flags, its logs piped, killed when dropped.
fn demo(program: &str, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

const EXPORTER: &str = env!("CARGO_BIN_EXE_consumption_exporter");

/// The status of `url`, waiting up to 30 s for something to listen.
async fn status_when_listening(url: &str) -> u16 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client().get(url).send().await {
            return response.status().as_u16();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing answered {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_repeated_listen_address_serves() {
    let (v4, v6) = (free_port(), free_port());
    let _demo = demo(
        EXPORTER,
        &[
            "demo",
            "--web.listen-address",
            &format!("127.0.0.1:{v4}"),
            "--web.listen-address",
            &format!("[::1]:{v6}"),
        ],
    );
    for url in [
        format!("http://127.0.0.1:{v4}/-/healthy"),
        format!("http://[::1]:{v6}/-/healthy"),
    ] {
        assert_eq!(status_when_listening(&url).await, 200, "{url}");
    }
}

#[tokio::test]
async fn a_bare_port_listens_on_ipv4_and_ipv6_and_the_start_up_line_says_so() {
    let port = free_port();
    let mut demo = demo(
        EXPORTER,
        &["demo", "--web.listen-address", &format!(":{port}")],
    );
    for url in [
        format!("http://127.0.0.1:{port}/-/healthy"),
        format!("http://[::1]:{port}/-/healthy"),
    ] {
        assert_eq!(status_when_listening(&url).await, 200, "{url}");
    }
    demo.start_kill().unwrap();
    let output = demo.wait_with_output().await.unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(
        logs.lines()
            .any(|l| l.contains("listening") && l.contains(&format!("[::]:{port}"))),
        "{logs}"
    );
}

#[tokio::test]
async fn a_port_in_use_stops_the_start_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = Command::new(EXPORTER)
        .args(["demo", "--web.listen-address", &address])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
}

#[ignore = "needs systemd-socket-activate: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn systemd_socket_activation_serves_on_every_socket_systemd_passes() {
    let activate = crate::helpers::program(&["systemd-socket-activate"], "systemd");
    let (first, second) = (free_port(), free_port());
    let _activated = demo(
        &activate.display().to_string(),
        &[
            "-l",
            &format!("127.0.0.1:{first}"),
            "-l",
            &format!("127.0.0.1:{second}"),
            EXPORTER,
            "demo",
            "--web.systemd-socket",
        ],
    );
    for port in [first, second] {
        let url = format!("http://127.0.0.1:{port}/metrics");
        assert_eq!(status_when_listening(&url).await, 200, "{url}");
    }
}

#[tokio::test]
async fn the_systemd_socket_flag_without_systemd_fails_and_says_what_to_do() {
    let output = Command::new(EXPORTER)
        .args(["demo", "--web.systemd-socket"])
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("systemd passed no socket"), "{stderr}");
}

//! The sockets the server accepts on: each `--web.listen-address` as Go's `net.Listen` reads it
//! (`:PORT` is every interface, IPv4 and IPv6), or the sockets systemd passed
//! (`--web.systemd-socket`).

use std::net::{Ipv6Addr, SocketAddr};

use anyhow::Context;
use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;

/// Where the exporter listens unless `--web.listen-address` says otherwise: every interface, on
/// a port outside the 9100–9999 range Prometheus exporters crowd into.
pub const DEFAULT_LISTEN_ADDRESS: &str = ":10115";

/// How many connections may wait to be accepted (Go's default is the kernel's somaxconn).
const BACKLOG: i32 = 1024;

/// Binds every address, in order; the first that fails stops the start, naming the address.
pub async fn bind_all(addresses: &[String]) -> anyhow::Result<Vec<TcpListener>> {
    let mut listeners = Vec::with_capacity(addresses.len());
    for address in addresses {
        listeners.push(bind(address).await.with_context(|| {
            format!("cannot listen on {address}: is another process using it? Choose another with --web.listen-address")
        })?);
    }
    Ok(listeners)
}

async fn bind(address: &str) -> anyhow::Result<TcpListener> {
    match address.strip_prefix(':') {
        Some(port) => {
            let port: u16 = port
                .parse()
                .with_context(|| format!("{port:?} is not a port number"))?;
            every_interface(port)
        }
        None => Ok(TcpListener::bind(address).await?),
    }
}

/// `:PORT`: one IPv6 socket that takes IPv4 too, as Go listens; where the host has no IPv6,
/// IPv4 alone.
fn every_interface(port: u16) -> anyhow::Result<TcpListener> {
    let dual_stack = || -> std::io::Result<Socket> {
        let socket = Socket::new(Domain::IPV6, Type::STREAM, None)?;
        socket.set_only_v6(false)?;
        socket.set_reuse_address(true)?;
        socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
        Ok(socket)
    };
    let socket = match dual_stack() {
        Ok(socket) => socket,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(e.into()),
        Err(e) => {
            tracing::debug!(error = %e, "no IPv6 socket; listening on IPv4 only");
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
            socket.set_reuse_address(true)?;
            socket.bind(&SocketAddr::from(([0, 0, 0, 0], port)).into())?;
            socket
        }
    };
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into())?)
}

/// The TCP sockets systemd passed (`LISTEN_FDS`, `LISTEN_PID`), in the order of the socket
/// unit's `ListenStream=` lines.
pub fn systemd_sockets() -> anyhow::Result<Vec<TcpListener>> {
    let mut passed = listenfd::ListenFd::from_env();
    let mut listeners = Vec::with_capacity(passed.len());
    for index in 0..passed.len() {
        let socket = passed
            .take_tcp_listener(index)
            .with_context(|| format!("systemd's socket {index} is not a TCP socket: use ListenStream= with a port or address"))?
            .with_context(|| format!("systemd's socket {index} was already taken"))?;
        socket.set_nonblocking(true)?;
        listeners.push(TcpListener::from_std(socket)?);
    }
    anyhow::ensure!(
        !listeners.is_empty(),
        "--web.systemd-socket: systemd passed no socket (LISTEN_FDS is unset, or for another process); start the exporter from its .socket unit, or drop the flag"
    );
    Ok(listeners)
}

/// The addresses the listeners are bound to, for the start-up log line.
pub fn describe(listeners: &[TcpListener]) -> String {
    listeners
        .iter()
        .map(|l| l.local_addr().map_or("?".to_string(), |a| a.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

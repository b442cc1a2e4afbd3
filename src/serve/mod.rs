//! Serving over HTTP: [`server`] (hyper: `/metrics`, `/`, `/-/healthy`, `/-/ready`,
//! `/-/reload`), [`listen`] (the sockets of `--web.listen-address` and systemd), and
//! [`web_config`] (TLS, basic auth, headers and rate limits from `--web.config.file`).

pub mod listen;
pub mod server;
pub mod web_config;

//! `no_proxy` as Prometheus (Go's `httpproxy`) reads it: a comma-separated list of IP
//! addresses, CIDR ranges and domain names, each with an optional port, or `*`. A domain
//! matches itself and its subdomains; with a leading `.`, its subdomains only. An entry with a
//! port matches that port only. reqwest's own list cannot say "this port only", so the proxy
//! asks this one for every request.

use std::net::IpAddr;

use ipnet::IpNet;
use url::Url;

/// A parsed `no_proxy` list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NoProxy {
    everything: bool,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    host: Host,
    /// Only this port (none: every port).
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
enum Host {
    Network(IpNet),
    Address(IpAddr),
    /// A domain and its subdomains.
    Domain(String),
    /// Subdomains only (written with a leading `.`).
    Subdomains(String),
}

impl NoProxy {
    pub fn parse(list: &str) -> Self {
        let mut no_proxy = NoProxy::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                no_proxy.everything = true;
                continue;
            }
            no_proxy
                .entries
                .push(Entry::parse(&entry.to_ascii_lowercase()));
        }
        no_proxy
    }

    /// Whether a request to `target` goes directly, not through the proxy.
    pub fn bypasses(&self, target: &Url) -> bool {
        if self.everything {
            return true;
        }
        let Some(host) = target.host_str() else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.to_ascii_lowercase();
        let port = target.port_or_known_default();
        self.entries.iter().any(|entry| entry.matches(&host, port))
    }
}

impl Entry {
    fn parse(text: &str) -> Self {
        let (host, port) = split_port(text);
        let host = if let Ok(network) = host.parse::<IpNet>() {
            Host::Network(network)
        } else if let Ok(address) = host.parse::<IpAddr>() {
            Host::Address(address)
        } else if let Some(domain) = host.strip_prefix('.') {
            Host::Subdomains(domain.to_string())
        } else {
            // `*.example.com` is curl's spelling of `.example.com`.
            match host.strip_prefix("*.") {
                Some(domain) => Host::Subdomains(domain.to_string()),
                None => Host::Domain(host.to_string()),
            }
        };
        Entry { host, port }
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        if self.port.is_some() && self.port != port {
            return false;
        }
        let subdomain_of = |domain: &str| {
            host.strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
        };
        match &self.host {
            Host::Network(network) => host.parse::<IpAddr>().is_ok_and(|ip| network.contains(&ip)),
            Host::Address(address) => host.parse::<IpAddr>().is_ok_and(|ip| ip == *address),
            Host::Domain(domain) => host == domain || subdomain_of(domain),
            Host::Subdomains(domain) => subdomain_of(domain),
        }
    }
}

/// `host:port`, `[v6]:port`, or a host (an IPv6 address without brackets has no port).
fn split_port(text: &str) -> (&str, Option<u16>) {
    if let Some(rest) = text.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (host, port);
        }
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (text, None),
        },
        _ => (text, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bypasses(list: &str, target: &str) -> bool {
        NoProxy::parse(list).bypasses(&Url::parse(target).unwrap())
    }

    #[test]
    fn entries_mean_what_gos_httpproxy_says() {
        // A domain and its subdomains; a leading dot: subdomains only.
        assert!(bypasses("foo.com", "https://foo.com/x"));
        assert!(bypasses("foo.com", "https://bar.foo.com/x"));
        assert!(!bypasses("foo.com", "https://barfoo.com/x"));
        assert!(bypasses(".y.com", "https://x.y.com/"));
        assert!(!bypasses(".y.com", "https://y.com/"));
        assert!(bypasses("*.y.com", "https://x.y.com/"));
        // A port: that port only, the scheme's default counted.
        assert!(bypasses("foo.com:443", "https://foo.com/"));
        assert!(!bypasses("foo.com:8443", "https://foo.com/"));
        assert!(bypasses("foo.com:8443", "https://foo.com:8443/"));
        assert!(bypasses("10.1.2.3:80", "http://10.1.2.3/"));
        assert!(!bypasses("10.1.2.3:80", "http://10.1.2.3:8080/"));
        // IPs and ranges, v4 and v6.
        assert!(bypasses("10.0.0.0/8", "http://10.20.0.7/"));
        assert!(!bypasses("10.0.0.0/8", "http://11.0.0.1/"));
        assert!(bypasses("::1", "http://[::1]:9/"));
        assert!(bypasses("[::1]:9", "http://[::1]:9/"));
        assert!(!bypasses("[::1]:9", "http://[::1]:10/"));
        // Everything, case and spaces aside.
        assert!(bypasses("*", "https://anything.example/"));
        assert!(bypasses(" FOO.com , x", "https://foo.COM/"));
        assert!(!bypasses("", "https://foo.com/"));
    }
}

//! How a proxy behaves: what it forwards ([`Protocol`]), how it picks an
//! upstream and connects to it ([`ProxyOptions`]), and how it treats its
//! clients ([`EdgeOptions`]).

use std::time::Duration;

use ipnet::IpNet;

use crate::upstream::Balance;

/// What the proxy forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP/1.1 requests, each to a chosen upstream (keep-alive
    /// connections to clients and upstreams are reused independently).
    #[default]
    Http,
    /// Plain TCP: each client connection is joined to one upstream
    /// connection for its lifetime.
    Tcp,
}

/// How a proxy behaves.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// The service it fronts (metric label, error messages).
    pub service: String,
    /// HTTP or TCP.
    pub protocol: Protocol,
    /// How the next upstream is chosen.
    pub balance: Balance,
    /// How long connecting to an upstream may take before it counts as a
    /// connection failure (and an idempotent request moves on).
    pub connect_timeout: Duration,
    /// How the proxy treats its clients: timeouts, the connection cap,
    /// trusted proxies.
    pub edge: EdgeOptions,
}

impl ProxyOptions {
    /// HTTP, round-robin, 2 s connect timeout, [`EdgeOptions::default`].
    pub fn new(service: impl Into<String>) -> Self {
        ProxyOptions {
            service: service.into(),
            protocol: Protocol::Http,
            balance: Balance::RoundRobin,
            connect_timeout: Duration::from_secs(2),
            edge: EdgeOptions::default(),
        }
    }
}

/// How a proxy treats its clients: how long it waits for them, how many it
/// serves at once, and whose word it takes for the original client's
/// address. The proxy is the edge: clients are whoever connects to it. A
/// timeout of `None` is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeOptions {
    /// HTTP: how long a request head (request line and headers) may take
    /// to arrive, from its first byte, or from the accept for a
    /// connection's first request. A client that trickles its headers
    /// (slowloris) is disconnected when it passes.
    pub header_read_timeout: Option<Duration>,
    /// HTTP: how long a keep-alive connection may wait for its next
    /// request, from the end of a response to the first byte of the next
    /// request, before it is closed.
    pub idle_timeout: Option<Duration>,
    /// HTTP: the longest pause in a request body. A client that stops
    /// sending its body gets 408 and its connection is closed; an upstream
    /// request already under way is aborted.
    pub body_read_timeout: Option<Duration>,
    /// Client connections served at once (HTTP and TCP). At the cap the
    /// proxy stops accepting: further connections wait in the listen
    /// backlog (and beyond it, the kernel refuses them) until one closes.
    /// `0` is no limit, as for the API listener (`[proxy]` in the
    /// configuration asks for at least 1).
    pub max_connections: usize,
    /// TCP: a connection with no bytes in either direction for this long
    /// is closed on both sides.
    pub tcp_idle_timeout: Option<Duration>,
    /// Peers whose forwarding headers (`X-Forwarded-*`, `Forwarded`,
    /// `X-Real-IP`) are believed and extended; those of any other peer
    /// are replaced. Empty: no peer is trusted.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for EdgeOptions {
    /// Headers in 10 s, 60 s between keep-alive requests, 30 s of silence
    /// in a body, 4096 connections, 10 min of silence on a TCP connection,
    /// no trusted proxy.
    fn default() -> Self {
        EdgeOptions {
            header_read_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(60)),
            body_read_timeout: Some(Duration::from_secs(30)),
            max_connections: 4096,
            tcp_idle_timeout: Some(Duration::from_secs(600)),
            trusted_proxies: Vec::new(),
        }
    }
}

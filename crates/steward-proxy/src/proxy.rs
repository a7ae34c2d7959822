//! One service's proxy: its upstreams, its listener, and the operations a
//! deployment performs on it (add, drain, switch, weigh).

use std::{sync::Arc, time::Duration};

use ipnet::IpNet;

use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Result,
    http::HttpForwarder,
    metrics::ProxyMetrics,
    tcp,
    upstream::{Balance, Drained, Pool, Upstream, UpstreamStatus},
};

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

pub(crate) struct Inner {
    pub(crate) options: ProxyOptions,
    pub(crate) pool: Pool,
    pub(crate) metrics: ProxyMetrics,
}

/// Removes drained upstreams from the pool when dropped, so that a drain
/// whose caller stops waiting still ends with the upstream gone.
struct Removal<'p> {
    proxy: &'p Proxy,
    ids: Vec<String>,
}

impl Drop for Removal<'_> {
    fn drop(&mut self) {
        for id in &self.ids {
            if self.proxy.inner.pool.remove(id) {
                self.proxy.inner.metrics.forget(self.proxy.service(), id);
            }
        }
    }
}

/// The proxy of one service. Cloning shares it.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
    http: Arc<HttpForwarder>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("service", &self.inner.options.service)
            .field("upstreams", &self.upstreams())
            .finish()
    }
}

impl Proxy {
    /// A proxy with no upstreams yet (requests get 503 until one is added).
    pub fn new(options: ProxyOptions, metrics: &ProxyMetrics) -> Self {
        let inner = Arc::new(Inner {
            pool: Pool::new(options.balance),
            metrics: metrics.clone(),
            options,
        });
        Proxy {
            http: Arc::new(HttpForwarder::new(Arc::clone(&inner))),
            inner,
        }
    }

    /// The service it fronts.
    pub fn service(&self) -> &str {
        &self.inner.options.service
    }

    /// Accepts connections on `listener` until `shutdown`; connections
    /// already accepted finish their requests. The task ends when the
    /// listener stops.
    pub fn serve(&self, listener: TcpListener, shutdown: CancellationToken) -> JoinHandle<()> {
        match self.inner.options.protocol {
            Protocol::Http => {
                let http = Arc::clone(&self.http);
                tokio::spawn(async move { http.serve(listener, shutdown).await })
            }
            Protocol::Tcp => {
                let inner = Arc::clone(&self.inner);
                tokio::spawn(async move { tcp::serve(inner, listener, shutdown).await })
            }
        }
    }

    /// Adds a replica: it takes new requests from now on.
    pub fn add(&self, upstream: Upstream) -> Result<()> {
        let id = upstream.id.clone();
        if self.inner.pool.add(upstream) {
            tracing::info!(service = %self.service(), upstream = %id, "upstream added");
            Ok(())
        } else {
            Err(Error::DuplicateUpstream {
                service: self.service().to_owned(),
                id,
            })
        }
    }

    /// Changes a replica's share of new requests (0 takes none).
    pub fn set_weight(&self, id: &str, weight: u32) -> Result<()> {
        if self.inner.pool.set_weight(id, weight) {
            Ok(())
        } else {
            Err(self.unknown(id))
        }
    }

    /// Stops sending new requests to a replica, waits up to `timeout` for
    /// those in flight to finish, and removes it.
    pub async fn drain(&self, id: &str, timeout: Duration) -> Result<Drained> {
        let member = self
            .inner
            .pool
            .start_drain(id)
            .ok_or_else(|| self.unknown(id))?;
        tracing::info!(service = %self.service(), upstream = %id, in_flight = member.in_flight(), "draining upstream");
        // Removed when the wait ends, or when the caller stops waiting
        // (a cancelled deployment): never left in the pool as draining.
        let _removal = Removal {
            proxy: self,
            ids: vec![id.to_owned()],
        };
        let drained = member.wait_idle(timeout).await;
        if drained.abandoned > 0 {
            tracing::warn!(service = %self.service(), upstream = %id, abandoned = drained.abandoned, "drain timeout passed with requests in flight");
        }
        Ok(drained)
    }

    /// Replaces every replica with `upstreams` at once (blue-green): new
    /// requests go only to the new set from this call on (replicas of it
    /// already present stay); the old set is drained (up to
    /// `drain_timeout`) and removed.
    pub async fn switch(
        &self,
        upstreams: Vec<Upstream>,
        drain_timeout: Duration,
    ) -> Result<Vec<Drained>> {
        let old = self.inner.pool.switch(upstreams);
        tracing::info!(service = %self.service(), draining = old.len(), "switched upstreams");
        let _removal = Removal {
            proxy: self,
            ids: old
                .iter()
                .map(|member| member.upstream.id.clone())
                .collect(),
        };
        let waits = old.iter().map(|member| member.wait_idle(drain_timeout));
        Ok(futures::future::join_all(waits).await)
    }

    /// Removes a replica at once (requests in flight carry on).
    pub fn remove(&self, id: &str) -> Result<()> {
        if self.inner.pool.remove(id) {
            self.inner.metrics.forget(self.service(), id);
            Ok(())
        } else {
            Err(self.unknown(id))
        }
    }

    /// The replicas now, with their state and requests in flight.
    pub fn upstreams(&self) -> Vec<UpstreamStatus> {
        self.inner.pool.snapshot()
    }

    fn unknown(&self, id: &str) -> Error {
        Error::UnknownUpstream {
            service: self.service().to_owned(),
            id: id.to_owned(),
        }
    }
}

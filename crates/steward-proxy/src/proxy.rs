//! One service's proxy: its upstreams, its listener, and the operations a
//! deployment performs on it (add, drain, switch, weigh).

use std::{sync::Arc, time::Duration};

use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Protocol, ProxyOptions, Result,
    http::HttpForwarder,
    metrics::ProxyMetrics,
    shared::Inner,
    tcp,
    upstream::{Drained, Pool, TrafficGroup, Upstream, UpstreamStatus},
};

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

    /// Splits new requests between groups of replicas by the groups'
    /// weights (a canary and the stable set), whatever their sizes;
    /// requests in flight are not moved. Replicas in no group take
    /// requests only when no group with a weight can. The split stays
    /// until [`Proxy::clear_split`], across adds and drains: a group's
    /// member that is gone is ignored.
    pub fn set_split(&self, groups: Vec<TrafficGroup>) {
        tracing::info!(
            service = %self.service(),
            groups = ?groups.iter().map(|g| (g.name.as_str(), g.weight)).collect::<Vec<_>>(),
            "traffic split"
        );
        self.inner.pool.set_split(Some(groups));
    }

    /// Ends the split: every replica takes requests by its own weight.
    pub fn clear_split(&self) {
        self.inner.pool.set_split(None);
    }

    /// The split now, if any.
    pub fn split(&self) -> Option<Vec<TrafficGroup>> {
        self.inner.pool.split()
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

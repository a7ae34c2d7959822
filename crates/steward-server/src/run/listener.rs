//! The API listener's limits, steward-net's machinery plugged into
//! axum-server 0.7: at most `max_connections` connections served at once
//! (the accept loop waits for a free slot, so further clients wait in the
//! kernel's accept queue and cost steward nothing; `0` is no limit), and a
//! watchdog on every connection that closes it when a client takes longer
//! than `header_read_timeout` from the first byte of a request (or TLS
//! handshake) to its complete headers (slowloris), or sends nothing for
//! `idle_timeout` while no request of it is in flight, including before
//! its first request.
//!
//! The watchdog sits under TLS and HTTP, on the TCP stream
//! ([`WatchAcceptor`]), and a request is in flight from the moment it
//! reaches the application until its response body is finished
//! ([`Tracked`]), so it covers the TLS handshake, both HTTP versions and
//! the protocol detection before them, and never cuts a slow handler or a
//! long event stream. What is the server's own: the `Accept` adapter, the
//! TLS handshake timeout and the connection metrics.

use std::{
    future::{self, Future},
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::Body,
    http::{Request, Response},
};
use axum_server::accept::Accept;
use prometheus::IntGauge;
use steward_config::ServerConfig;
use steward_net::{
    BusyBody, Connection, Error as Expired, FirstHead, Slot, Slots, Watchdog, Watched,
};
use tokio::net::TcpStream;
use tower::Service;

use crate::http_metrics::HttpMetrics;

/// What the listener enforces, from `[server]`.
#[derive(Clone)]
pub(crate) struct Limits {
    watchdog: Watchdog,
    handshake_timeout: Duration,
    max_connections: usize,
    /// `steward_http_connections`.
    open: IntGauge,
}

impl Limits {
    /// The limits configured in `[server]` (a zero turns one off).
    pub(crate) fn new(config: &ServerConfig, metrics: &HttpMetrics) -> Self {
        let positive = |duration: Duration| (!duration.is_zero()).then_some(duration);
        let header_read_timeout = positive(config.header_read_timeout.get());
        let closed = &metrics.connections_closed;
        let header_timeouts = closed.with_label_values(&["header_timeout"]);
        let idle_timeouts = closed.with_label_values(&["idle_timeout"]);
        // Clients may open a connection ahead of their first request (a
        // browser's preconnect): it is idle until its first byte.
        let watchdog = Watchdog::new(
            header_read_timeout,
            positive(config.idle_timeout.get()),
            FirstHead::FromFirstByte,
        )
        .on_expired(move |why| match why {
            Expired::HeaderTimeout(_) => header_timeouts.inc(),
            Expired::IdleTimeout(_) => idle_timeouts.inc(),
            Expired::BodyTimeout(_) => {}
        });
        Limits {
            watchdog,
            handshake_timeout: header_read_timeout.unwrap_or(Duration::from_secs(10)),
            max_connections: config.max_connections as usize,
            open: metrics.connections.clone(),
        }
    }

    /// How long a TLS handshake may take.
    pub(crate) fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// `make_service` (one service per connection), waiting for a free
    /// connection slot before each new connection is served.
    pub(crate) fn make_service<M>(&self, make_service: M) -> Limited<M> {
        Limited {
            inner: make_service,
            slots: Slots::new(self.max_connections),
            slot: None,
            limits: self.clone(),
        }
    }
}

/// A make-service that hands out a connection slot with each service.
pub(crate) struct Limited<M> {
    inner: M,
    slots: Slots,
    /// Taken while waiting to be ready, for the next connection.
    slot: Option<Slot>,
    limits: Limits,
}

impl<M, T> Service<T> for Limited<M>
where
    M: Service<T>,
    M::Future: Send + 'static,
    M::Response: Send + 'static,
    M::Error: Send + 'static,
{
    type Response = Tracked<M::Response>;
    type Error = M::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, M::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), M::Error>> {
        // The accept loop asks for readiness before serving each
        // connection: while every slot is taken it stops accepting.
        if self.slot.is_none() {
            match self.slots.poll_take(cx) {
                Poll::Ready(slot) => self.slot = Some(slot),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: T) -> Self::Future {
        let open = Arc::new(Open::new(self.slot.take(), &self.limits.open));
        let connection = self.limits.watchdog.connection();
        let made = self.inner.call(target);
        Box::pin(async move {
            let service = made.await?;
            Ok(Tracked {
                inner: service,
                connection,
                _open: open,
            })
        })
    }
}

/// An open connection: its slot, and its count in
/// `steward_http_connections`, until its service is dropped.
struct Open {
    gauge: IntGauge,
    _slot: Option<Slot>,
}

impl Open {
    fn new(slot: Option<Slot>, gauge: &IntGauge) -> Self {
        gauge.inc();
        Open {
            gauge: gauge.clone(),
            _slot: slot,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// The service of one connection: marks its requests in flight.
#[derive(Clone)]
pub(crate) struct Tracked<S> {
    inner: S,
    connection: Arc<Connection>,
    _open: Arc<Open>,
}

impl<S, B> Service<Request<B>> for Tracked<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let busy = self.connection.begin();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| Body::new(BusyBody::new(body, busy))))
        })
    }
}

/// Wraps each accepted stream in its connection's watchdog.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WatchAcceptor;

impl<S> Accept<TcpStream, Tracked<S>> for WatchAcceptor {
    type Stream = Watched<TcpStream>;
    type Service = Tracked<S>;
    type Future = future::Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: Tracked<S>) -> Self::Future {
        let watched = service.connection.watch(stream);
        future::ready(Ok((watched, service)))
    }
}

//! The watchdog of a connection: where it is between its requests, and the
//! deadline that applies there.
//!
//! A connection with no request in flight is either idle (nothing sent
//! since its last response, or since the accept) or receiving a request
//! head (bytes arrived: the head, or a TLS handshake before it, must be
//! complete within the header read timeout of the first byte). A request
//! is in flight from the moment it reaches the application ([`Busy`])
//! until its response body is dropped ([`BusyBody`]); while any is, no
//! deadline applies, so a slow handler or a long event stream is never
//! cut. [`Watched`](crate::Watched) enforces the deadline on the
//! connection's reads.
//!
//! hyper's own HTTP/1 header timeout would not do: it runs from the moment
//! a connection waits for its next request (hyperium/hyper#3828), so it
//! cannot tell a slow head from a keep-alive connection between requests,
//! and HTTP/2 and TLS handshakes have none.

use std::{
    io,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
    task::{Context, Poll, Waker},
    time::Duration,
};

use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use crate::Error;

/// When the header read timeout of a connection's first request starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstHead {
    /// From the accept: a connection that sends nothing at all is closed
    /// as soon as one that trickles its head (the service proxies).
    FromAccept,
    /// From its first byte, like any later request's; until then the
    /// connection is idle, which lets clients open connections ahead of
    /// their requests (the API listener).
    FromFirstByte,
}

/// The limits of one listener's connections; [`Watchdog::connection`]
/// starts watching one. A timeout of `None` is off.
#[derive(Clone)]
pub struct Watchdog {
    header_read_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    first_head: FirstHead,
    on_expired: Option<Arc<dyn Fn(Error) + Send + Sync>>,
}

impl Watchdog {
    /// Request heads complete within `header_read_timeout` of their first
    /// byte (or of the accept, see [`FirstHead`]), and at most
    /// `idle_timeout` of silence while no request is in flight.
    pub fn new(
        header_read_timeout: Option<Duration>,
        idle_timeout: Option<Duration>,
        first_head: FirstHead,
    ) -> Self {
        Watchdog {
            header_read_timeout,
            idle_timeout,
            first_head,
            on_expired: None,
        }
    }

    /// Calls `on_expired` with the reason ([`Error::HeaderTimeout`] or
    /// [`Error::IdleTimeout`]) whenever a connection is cut off.
    #[must_use]
    pub fn on_expired(mut self, on_expired: impl Fn(Error) + Send + Sync + 'static) -> Self {
        self.on_expired = Some(Arc::new(on_expired));
        self
    }

    /// A connection accepted now.
    pub fn connection(&self) -> Arc<Connection> {
        let now = Instant::now();
        Arc::new(Connection {
            state: Mutex::new(State {
                in_flight: 0,
                idle_since: now,
                head_since: (self.first_head == FirstHead::FromAccept).then_some(now),
                reader: None,
            }),
            watchdog: self.clone(),
        })
    }
}

/// One connection, shared by its stream ([`Watched`](crate::Watched),
/// which enforces the deadline) and its requests in flight ([`Busy`]).
pub struct Connection {
    state: Mutex<State>,
    watchdog: Watchdog,
}

struct State {
    /// Requests between reaching the application and the end of their
    /// response body (several at once over HTTP/2).
    in_flight: usize,
    /// Since when no request is in flight.
    idle_since: Instant,
    /// When a request head (or TLS handshake) began to arrive; `None`
    /// while idle.
    head_since: Option<Instant>,
    /// The connection's reader, woken when the last request in flight
    /// ends so that it arms the idle deadline even if no byte arrives.
    reader: Option<Waker>,
}

impl Connection {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every change is a few assignments that cannot panic: a poisoned
        // lock holds a consistent state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A request reached the application; it is in flight until the
    /// returned guard is dropped (with its response body, see
    /// [`BusyBody`]).
    pub fn begin(self: &Arc<Self>) -> Busy {
        let mut state = self.state();
        state.in_flight += 1;
        state.head_since = None;
        Busy {
            connection: Arc::clone(self),
        }
    }

    /// Bytes arrived from the client.
    pub(crate) fn received(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.head_since.is_none() {
            state.head_since = Some(Instant::now());
        }
    }

    /// When the connection expires if nothing happens, and why; `None`
    /// while a request is in flight or no limit applies. `waker` is woken
    /// when the connection becomes idle.
    pub(crate) fn deadline(&self, waker: &Waker) -> Option<(Instant, Error)> {
        let mut state = self.state();
        match &state.reader {
            Some(reader) if reader.will_wake(waker) => {}
            _ => state.reader = Some(waker.clone()),
        }
        if state.in_flight > 0 {
            return None;
        }
        match state.head_since {
            Some(since) => self
                .watchdog
                .header_read_timeout
                .map(|timeout| (since + timeout, Error::HeaderTimeout(timeout))),
            None => self
                .watchdog
                .idle_timeout
                .map(|timeout| (state.idle_since + timeout, Error::IdleTimeout(timeout))),
        }
    }

    /// The error to fail a read with once the deadline for `why` passed.
    pub(crate) fn expired(&self, why: Error) -> io::Error {
        if let Some(on_expired) = &self.watchdog.on_expired {
            on_expired(why);
        }
        tracing::debug!(reason = %why, "closing a connection");
        io::Error::new(io::ErrorKind::TimedOut, why)
    }
}

/// A request in flight; dropping it (with the response body) makes the
/// connection idle again once no other request is in flight.
pub struct Busy {
    connection: Arc<Connection>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let reader = {
            let mut state = self.connection.state();
            state.in_flight = state.in_flight.saturating_sub(1);
            if state.in_flight > 0 {
                return;
            }
            state.idle_since = Instant::now();
            state.head_since = None;
            state.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

/// A response body that keeps its request [`Busy`] until it is dropped
/// (hyper drops it once written, or when the connection ends).
pub struct BusyBody<B> {
    inner: B,
    _busy: Busy,
}

impl<B> BusyBody<B> {
    /// `inner`, keeping `busy` until it is dropped.
    pub fn new(inner: B, busy: Busy) -> Self {
        BusyBody { inner, _busy: busy }
    }
}

impl<B: Body + Unpin> Body for BusyBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;

//! The stream of a watched connection: every read that brings bytes is
//! reported, and a read that finds nothing fails once the connection's
//! deadline has passed (which makes the server close it). The `watch`
//! methods of [`Connection`] and [`Activity`] are here, with the stream
//! they make, so that those two know nothing of it.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Sleep,
};

use crate::{Activity, Connection};

/// A stream whose reads are watched: by its [`Connection`] (from
/// [`Connection::watch`]: reads fail once a deadline passes) or by the
/// [`Activity`] of a joined TCP connection (from [`Activity::watch`]:
/// reads count as activity). Writes pass through.
pub struct Watched<S> {
    io: S,
    watcher: Watcher,
}

enum Watcher {
    Deadlines {
        connection: Arc<Connection>,
        /// Reset whenever the connection's deadline moves.
        timer: Pin<Box<Sleep>>,
    },
    Activity(Arc<Activity>),
}

impl Connection {
    /// `io`, the connection's stream, whose reads fail once a deadline of
    /// the connection passes.
    pub fn watch<S>(self: &Arc<Self>, io: S) -> Watched<S> {
        Watched::deadlines(io, Arc::clone(self))
    }
}

impl Activity {
    /// `stream` (one side of the connection), with every read of at least
    /// one byte counted as activity.
    pub fn watch<S>(self: &Arc<Self>, stream: S) -> Watched<S> {
        Watched::activity(stream, Arc::clone(self))
    }
}

impl<S> Watched<S> {
    fn deadlines(io: S, connection: Arc<Connection>) -> Self {
        Watched {
            io,
            watcher: Watcher::Deadlines {
                connection,
                timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            },
        }
    }

    fn activity(io: S, activity: Arc<Activity>) -> Self {
        Watched {
            io,
            watcher: Watcher::Activity(activity),
        }
    }
}

impl Watcher {
    fn received(&self) {
        match self {
            Watcher::Deadlines { connection, .. } => connection.received(),
            Watcher::Activity(activity) => activity.touch(),
        }
    }

    /// `Ready` with the error to fail a read with once the connection's
    /// deadline has passed.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Watcher::Deadlines { connection, timer } = self else {
            return Poll::Pending;
        };
        // Reading the deadline and registering as the reader happen under
        // one lock: a change that moves it wakes this task to re-arm.
        let Some((deadline, why)) = connection.deadline(cx.waker()) else {
            return Poll::Pending;
        };
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx).map(|()| connection.expired(why))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.watcher.received();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.watcher.poll_expired(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

//! The connection cap. A slot is taken before a connection is accepted:
//! at the cap, new clients wait in the kernel's listen backlog (beyond it
//! the kernel refuses them) instead of being accepted and closed, so a
//! burst is served late rather than failed, and a waiting client costs
//! steward nothing.

use std::{
    future::poll_fn,
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tokio_util::sync::{CancellationToken, PollSemaphore};

/// The connection slots of one listener.
pub struct Slots {
    /// `None`: no limit.
    semaphore: Option<PollSemaphore>,
}

impl Slots {
    /// `max_connections` slots; `0` is no limit.
    pub fn new(max_connections: usize) -> Self {
        let semaphore = (max_connections > 0).then(|| {
            let permits = max_connections.min(Semaphore::MAX_PERMITS);
            PollSemaphore::new(Arc::new(Semaphore::new(permits)))
        });
        Slots { semaphore }
    }

    /// A free slot; while there is none, `Pending`, and the task is woken
    /// when one frees. For accept loops that ask a service whether it is
    /// ready before serving a connection.
    pub fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<Slot> {
        let Some(semaphore) = &mut self.semaphore else {
            return Poll::Ready(Slot { _permit: None });
        };
        semaphore.poll_acquire(cx).map(|permit| Slot {
            _permit: Some(permit.expect("the semaphore is never closed")),
        })
    }

    /// Waits for a free slot.
    pub async fn take(&mut self) -> Slot {
        poll_fn(|cx| self.poll_take(cx)).await
    }
}

/// A connection's slot, free again when dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}

/// A TCP listener that serves at most a fixed number of connections at
/// once.
pub struct Acceptor {
    listener: TcpListener,
    slots: Slots,
    /// Names the listener in logs.
    name: String,
}

impl Acceptor {
    /// `listener`, serving at most `max_connections` at once (`0`: no
    /// limit); `name` names it in logs.
    pub fn new(listener: TcpListener, max_connections: usize, name: impl Into<String>) -> Self {
        Acceptor {
            listener,
            slots: Slots::new(max_connections),
            name: name.into(),
        }
    }

    /// The next connection and its slot (to be held while the connection
    /// is served), or `None` once `shutdown` is cancelled.
    pub async fn next(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Option<(TcpStream, SocketAddr, Slot)> {
        loop {
            let slot = tokio::select! {
                biased;
                () = shutdown.cancelled() => return None,
                slot = self.slots.take() => slot,
            };
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => return None,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => return Some((stream, peer, slot)),
                Err(err) => {
                    // Out of file descriptors and the like: the next
                    // accept may work.
                    tracing::warn!(listener = %self.name, error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

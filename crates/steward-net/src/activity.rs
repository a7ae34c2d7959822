//! The idle timeout of a joined TCP connection: it ends once no byte moved
//! either way for a while. Bytes read from one side are the bytes written
//! to the other, so the reads of both sides' streams see all traffic.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use tokio::time::Instant;

/// When anything last moved on a joined TCP connection.
pub struct Activity {
    start: Instant,
    /// Nanoseconds from `start` to the last read of at least one byte.
    last: AtomicU64,
}

impl Activity {
    /// A connection joined now.
    pub fn new() -> Self {
        Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.fetch_max(nanos, Ordering::SeqCst);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_nanos(self.last.load(Ordering::SeqCst))
    }

    /// Completes once nothing moved for `timeout`; never when `None`.
    pub async fn idle(&self, timeout: Option<Duration>) {
        let Some(timeout) = timeout else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep_until(self.last() + timeout).await;
            // Bytes that moved while sleeping pushed the deadline on.
            if self.last() + timeout <= Instant::now() {
                return;
            }
        }
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

#[cfg(test)]
mod tests;

//! Steward's own logs into its log store: the binary adds a tracing layer
//! that writes each event as a JSON line through [`OwnWriter`]; the lines
//! wait in a bounded queue until the log subsystem takes them
//! ([`take_lines`]) and stores them as the stream
//! `{service="steward", stream="stderr"}`.
//!
//! The queue is process-wide because the tracing subscriber is set up
//! before the server (and its store) exists. It holds at most
//! [`CAPACITY`] lines: past that, lines are dropped and counted rather
//! than making logging wait or grow memory (steward's own logs also go to
//! stderr, so nothing is lost for a person watching it).

use std::{
    io::Write,
    sync::{
        Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
        mpsc::{Receiver, SyncSender, sync_channel},
    },
};

/// Lines waiting for the store, at most.
pub const CAPACITY: usize = 4096;

struct Queue {
    sender: SyncSender<(i64, String)>,
    receiver: Mutex<Option<Receiver<(i64, String)>>>,
    dropped: AtomicU64,
}

fn queue() -> &'static Queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (sender, receiver) = sync_channel(CAPACITY);
        Queue {
            sender,
            receiver: Mutex::new(Some(receiver)),
            dropped: AtomicU64::new(0),
        }
    })
}

/// A writer of one formatted event (tracing's fmt layer makes one per
/// event): the bytes are queued as one line when it is dropped.
#[derive(Debug, Default)]
pub struct OwnWriter {
    buf: Vec<u8>,
}

impl OwnWriter {
    /// A writer for one event.
    pub fn new() -> Self {
        OwnWriter::default()
    }
}

impl Write for OwnWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for OwnWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        if queue().sender.try_send((now, text.to_owned())).is_err() {
            queue().dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The receiving end of the queue: the first caller gets it (the log
/// subsystem of the one server in the process), later ones `None`.
pub fn take_lines() -> Option<Receiver<(i64, String)>> {
    queue().receiver.lock().ok()?.take()
}

/// Lines dropped because the queue was full.
pub fn dropped() -> u64 {
    queue().dropped.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests;

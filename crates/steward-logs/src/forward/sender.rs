//! The sending side of one forward destination: follows its queue on disk
//! and POSTs batches as Loki pushes, one at a time, in queue order.
//!
//! A batch is read once `batch_bytes` of push bodies are queued, or the
//! oldest queued line has waited `batch_wait`; its records are decoded,
//! their streams merged (a label set once per push) and encoded again with
//! [`encode_push`]. A 2xx commits the batch. 429, 5xx, a network error or
//! a timeout is retried after `Retry-After` when the answer has one, else
//! after a backoff that doubles from `min_backoff` up to `max_backoff`,
//! each wait drawn between half of it and all of it (jitter, so that
//! steward instances behind one outage do not retry in step). Any other
//! answer drops the batch (counted, logged) and commits it. On shutdown
//! the sender goes on sending what is queued for at most
//! [`FLUSH_DEADLINE`]; what is left stays queued for the next start.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::{self, HeaderValue, StatusCode, header};
use steward_metrics::Labels;
use steward_metrics::remote::queue::{Queue, QueueReader, RawRecord};
use steward_metrics::remote::sender::Transport;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Counters, ForwardConfig, Forwarder};
use crate::PushStream;
use crate::ingest::{Limits, encode_push, loki};

/// How long a stopping sender keeps sending what is queued.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

/// What became of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The destination took it.
    Sent,
    /// The destination refused it for good: dropped.
    Dropped,
    /// Steward stopped before it went through.
    Stopped,
}

/// The wait before retry number `attempt` (0 first): `min_backoff`
/// doubled `attempt` times, at most `max_backoff`, of which a random part
/// up to half is taken off (`unit` in `[0, 1)` draws it).
pub fn backoff(min: Duration, max: Duration, attempt: u32, unit: f64) -> Duration {
    let full = min
        .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max)
        .max(min.min(max));
    full.mul_f64(1.0 - unit.clamp(0.0, 1.0) / 2.0)
}

impl Forwarder {
    /// Sends what is queued until `shutdown`, then flushes for at most
    /// [`FLUSH_DEADLINE`]. Run it as a task of its own: nothing the push
    /// path waits for happens here.
    pub async fn run(self: Arc<Self>, transport: Arc<dyn Transport>, shutdown: CancellationToken) {
        let stop = CancellationToken::new();
        let watcher = {
            let (shutdown, stop) = (shutdown.clone(), stop.clone());
            tokio::spawn(async move {
                shutdown.cancelled().await;
                tokio::time::sleep(FLUSH_DEADLINE).await;
                stop.cancel();
            })
        };
        let _abort = AbortOnDrop(watcher);
        let sender = Sending {
            config: &self.config,
            queue: &self.queue,
            counters: &self.counters,
            transport,
            stop,
        };
        sender.run(&shutdown).await;
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Sending<'a> {
    config: &'a ForwardConfig,
    queue: &'a Arc<Queue>,
    counters: &'a Counters,
    transport: Arc<dyn Transport>,
    stop: CancellationToken,
}

impl Sending<'_> {
    async fn run(&self, shutdown: &CancellationToken) {
        let mut reader = QueueReader::new(self.queue.committed());
        let mut buffered: Vec<RawRecord> = Vec::new();
        let mut buffered_bytes = 0usize;
        let mut first_at: Option<Instant> = None;
        let mut draining = false;
        let batch = self.config.batch_bytes.max(1);
        loop {
            draining |= shutdown.is_cancelled();
            if buffered_bytes < batch {
                match reader.read_raw(self.queue, usize::MAX, batch - buffered_bytes) {
                    Ok(records) => {
                        for r in records {
                            buffered_bytes += r.payload.len();
                            buffered.push(r);
                        }
                    }
                    Err(e) => {
                        tracing::error!(destination = %self.config.name, error = %e, "cannot read the log forward queue");
                    }
                }
            }
            if !buffered.is_empty() && first_at.is_none() {
                first_at = Some(Instant::now());
            }
            let due = first_at.is_some_and(|t| t.elapsed() >= self.config.batch_wait);
            if !buffered.is_empty() && (buffered_bytes >= batch || due || draining) {
                let records = std::mem::take(&mut buffered);
                buffered_bytes = 0;
                first_at = None;
                if !self.batch(records).await {
                    return;
                }
                continue;
            }
            if draining {
                return;
            }
            let deadline = first_at.map(|t| t + self.config.batch_wait);
            tokio::select! {
                () = self.queue.appended() => {}
                () = sleep_until(deadline) => {}
                () = shutdown.cancelled() => draining = true,
            }
        }
    }

    /// Sends one batch and commits it; false when stopped before the end
    /// (nothing committed).
    async fn batch(&self, records: Vec<RawRecord>) -> bool {
        let Some(end) = records.last().map(|r| r.end) else {
            return true;
        };
        let queued: usize = records.iter().map(|r| r.count).sum();
        let streams = merge(&self.config.name, records);
        let lines: usize = streams.iter().map(|s| s.entries.len()).sum();
        if lines < queued {
            // records that did not decode (never expected: they passed a CRC)
            self.counters
                .failed_lines
                .fetch_add((queued - lines) as u64, Ordering::Relaxed);
        }
        if lines > 0 && self.send(&streams, lines).await == Outcome::Stopped {
            return false;
        }
        let queue = Arc::clone(self.queue);
        match tokio::task::spawn_blocking(move || queue.commit(end, queued)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(destination = %self.config.name, error = %e, "cannot commit the log forward queue");
            }
            Err(e) => {
                tracing::error!(destination = %self.config.name, error = %e, "log forward commit task failed");
            }
        }
        true
    }

    fn request(&self, body: Vec<u8>) -> Result<http::Request<Vec<u8>>, String> {
        let mut builder = http::Request::post(&self.config.url);
        if let Some(headers) = builder.headers_mut() {
            headers.clone_from(&self.config.headers);
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            );
            headers.insert(
                header::USER_AGENT,
                HeaderValue::from_static(concat!("steward/", env!("CARGO_PKG_VERSION"))),
            );
        }
        builder.body(body).map_err(|e| e.to_string())
    }

    /// Sends one push until it is accepted, dropped or stopped.
    async fn send(&self, streams: &[PushStream], lines: usize) -> Outcome {
        let body = encode_push(streams);
        let bytes = body.len() as u64;
        let name = &self.config.name;
        let mut attempt = 0u32;
        loop {
            let reply = match self.request(body.clone()) {
                Ok(r) => tokio::time::timeout(self.config.timeout, self.transport.send(r)).await,
                Err(e) => Ok(Err(e)),
            };
            let (retry_after, reason) = match reply {
                Ok(Ok(reply)) if reply.status.is_success() => {
                    self.counters
                        .sent_lines
                        .fetch_add(lines as u64, Ordering::Relaxed);
                    self.counters.sent_bytes.fetch_add(bytes, Ordering::Relaxed);
                    return Outcome::Sent;
                }
                Ok(Ok(reply))
                    if reply.status.is_server_error()
                        || reply.status == StatusCode::TOO_MANY_REQUESTS =>
                {
                    (
                        reply.retry_after,
                        format!("server returned HTTP status {}", reply.status),
                    )
                }
                Ok(Ok(reply)) => {
                    self.counters
                        .failed_lines
                        .fetch_add(lines as u64, Ordering::Relaxed);
                    tracing::error!(
                        destination = %name,
                        url = %self.config.url,
                        status = %reply.status,
                        body = %reply.body,
                        lines,
                        "log forward refused a push: its lines are dropped"
                    );
                    return Outcome::Dropped;
                }
                Ok(Err(e)) => (None, e),
                Err(_) => (None, "request timed out".to_owned()),
            };
            let wait = retry_after.unwrap_or_else(|| {
                backoff(
                    self.config.min_backoff,
                    self.config.max_backoff,
                    attempt,
                    rand::random::<f64>(),
                )
            });
            tracing::warn!(
                destination = %name,
                url = %self.config.url,
                reason = %reason,
                retry_in = ?wait,
                lines,
                "log forward failed, retrying"
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => return Outcome::Stopped,
            }
            self.counters
                .retried_lines
                .fetch_add(lines as u64, Ordering::Relaxed);
            attempt = attempt.saturating_add(1);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// The streams of `records`' push bodies, each label set once, entries in
/// queue order. A record that does not decode is left out with an error.
fn merge(name: &str, records: Vec<RawRecord>) -> Vec<PushStream> {
    let limits = Limits::unbounded();
    let mut out: Vec<PushStream> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for record in records {
        let streams = match loki::decode_protobuf(&record.payload, &limits) {
            Ok(streams) => streams,
            Err(err) => {
                tracing::error!(destination = %name, error = %err, lines = record.count, "undecodable record in the log forward queue: dropped");
                continue;
            }
        };
        for stream in streams {
            match index.get(&stream.labels) {
                Some(&i) => out[i].entries.extend(stream.entries),
                None => {
                    index.insert(stream.labels.clone(), out.len());
                    out.push(stream);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;

//! Forwarding: every line steward stores is also pushed to the
//! Loki-compatible endpoints of `[[logs.forward]]`.
//!
//! One [`Forwarder`] per destination. [`LokiApi::push`](crate::api::LokiApi::push),
//! the one entry point of every push (Loki's API, OTLP, the replicas'
//! collector), stores the streams, then appends them, encoded once as a
//! Loki push body ([`encode_push`]), to each forwarder's queue on disk
//! under `<data_dir>/logstore/forward/<name>/` before the push is
//! acknowledged. The queue is steward-metrics' remote write queue
//! ([`steward_metrics::remote::queue`]), which is generic over bytes:
//! numbered segment files of CRC-checked records, each synced before
//! `append` returns, and a committed read position. A crash therefore
//! loses nothing that was acknowledged; what a crash can cause is
//! duplicates: a batch sent but not yet committed is sent again (Loki
//! drops an entry identical to one it has), and a push whose queue append
//! failed after the store took it is answered 503 and pushed again by its
//! client.
//!
//! The sender ([`sender`]) is a task of its own: it reads a batch (up to
//! `batch_size` bytes of queued push bodies, or whatever is queued once
//! the oldest line has waited `batch_wait`), merges it into one push and
//! POSTs it with `X-Scope-OrgID` and the destination's headers. 2xx
//! commits the batch (fully sent segments are deleted); 429, 5xx, a
//! network error or a timeout is retried after an exponential backoff with
//! jitter between `min_backoff` and `max_backoff`, or after the answer's
//! `Retry-After`; any other answer drops the batch (counted in
//! [`ForwardStats::failed_lines`], logged) and commits it. When the queue
//! outgrows `max_queue_size` on disk its oldest segments are deleted
//! unsent ([`ForwardStats::dropped_lines`], with a warning).

pub mod sender;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use steward_config::LogForward;
use steward_metrics::remote::queue::{DEFAULT_SEGMENT_SIZE, Queue};

use crate::{Error, PushStream, Result};

pub use crate::ingest::encode_push;

/// Where the queues are, under the store's directory.
pub const FORWARD_DIR: &str = "forward";

/// The tenant header of Loki's multi-tenancy.
pub const TENANT_HEADER: &str = "x-scope-orgid";

/// A destination's settings, resolved from `[[logs.forward]]`.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// The destination's name (its queue's directory).
    pub name: String,
    /// The push endpoint.
    pub url: String,
    /// Headers of every request: the tenant, authorization, custom ones.
    pub headers: HeaderMap,
    /// The most bytes of queued push bodies in one request.
    pub batch_bytes: usize,
    /// How long the oldest queued line waits for a batch to fill.
    pub batch_wait: Duration,
    /// The first retry delay.
    pub min_backoff: Duration,
    /// The longest retry delay.
    pub max_backoff: Duration,
    /// How long one request may take.
    pub timeout: Duration,
    /// The queue's size limit on disk.
    pub max_queue_bytes: u64,
    /// Its segments' size.
    pub segment_bytes: u64,
}

impl ForwardConfig {
    /// The settings of `[[logs.forward]]` `forward`, its headers built.
    pub fn from_config(forward: &LogForward) -> Result<ForwardConfig> {
        let invalid = |what: String| Error::InvalidForward(format!("{}: {what}", forward.name));
        let mut headers = HeaderMap::new();
        for (name, value) in &forward.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| invalid(format!("invalid header name {name:?}: {e}")))?;
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|e| invalid(format!("invalid value of header {name}: {e}")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if let Some(tenant) = &forward.tenant_id {
            let value = HeaderValue::from_str(tenant)
                .map_err(|e| invalid(format!("invalid tenant_id: {e}")))?;
            headers.insert(HeaderName::from_static(TENANT_HEADER), value);
        }
        let auth = match (&forward.basic_auth, &forward.bearer_token) {
            (Some(basic), _) => Some(steward_metrics::remote::basic_auth_value(
                &basic.username,
                basic.password.as_ref().map_or("", |p| p.expose().as_str()),
            )),
            (None, Some(token)) => Some(format!("Bearer {}", token.expose())),
            (None, None) => None,
        };
        if let Some(auth) = auth {
            let mut value = HeaderValue::from_str(&auth)
                .map_err(|e| invalid(format!("invalid authorization: {e}")))?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        Ok(ForwardConfig {
            name: forward.name.clone(),
            url: forward.url.clone(),
            headers,
            batch_bytes: usize::try_from(forward.batch_size.0).unwrap_or(usize::MAX),
            batch_wait: forward.batch_wait.0,
            min_backoff: forward.min_backoff.0,
            max_backoff: forward.max_backoff.0,
            timeout: forward.timeout.0,
            max_queue_bytes: forward.max_queue_size.0,
            segment_bytes: DEFAULT_SEGMENT_SIZE
                .min(forward.max_queue_size.0 / 4)
                .max(4096),
        })
    }
}

/// What a forwarder did since steward started, and what it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ForwardStats {
    /// The destination's name.
    pub name: String,
    /// Lines the destination accepted.
    pub sent_lines: u64,
    /// Bytes of push bodies it accepted.
    pub sent_bytes: u64,
    /// Lines it refused (a 4xx other than 429): dropped.
    pub failed_lines: u64,
    /// Lines deleted unsent because the queue outgrew `max_queue_size`.
    pub dropped_lines: u64,
    /// Lines sent again after a failure (once per retry).
    pub retried_lines: u64,
    /// Lines queued and not yet sent (or dropped).
    pub pending_lines: u64,
    /// Bytes of the queue on disk.
    pub queue_bytes: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sent_lines: AtomicU64,
    pub(crate) sent_bytes: AtomicU64,
    pub(crate) failed_lines: AtomicU64,
    pub(crate) retried_lines: AtomicU64,
}

/// One destination: its settings, its queue on disk and its counters.
/// The push path appends to it ([`Forwarder::append`]); its sender
/// ([`Forwarder::run`]) is a task of its own.
#[derive(Debug)]
pub struct Forwarder {
    config: ForwardConfig,
    dir: PathBuf,
    queue: Arc<Queue>,
    counters: Counters,
}

/// Turns the queue's errors into the store's.
pub(crate) fn queue_error(err: steward_metrics::Error) -> Error {
    match err {
        steward_metrics::Error::Io { path, source } => Error::Io { path, source },
        steward_metrics::Error::Corrupt { path, reason } => Error::Corrupt { path, reason },
        other => Error::Corrupt {
            path: PathBuf::new(),
            reason: other.to_string(),
        },
    }
}

impl Forwarder {
    /// Opens (or creates) the destination's queue under `dir`
    /// (`<data_dir>/logstore/forward`), resuming after its last commit.
    pub fn open(config: ForwardConfig, dir: &Path) -> Result<Forwarder> {
        let dir = dir.join(&config.name);
        let queue =
            Queue::open(&dir, config.segment_bytes, config.max_queue_bytes).map_err(queue_error)?;
        let pending = queue.pending();
        if pending > 0 {
            tracing::info!(destination = %config.name, lines = pending, "log forward queue resumed");
        }
        Ok(Forwarder {
            config,
            dir,
            queue: Arc::new(queue),
            counters: Counters::default(),
        })
    }

    /// The destination's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Its settings.
    pub fn config(&self) -> &ForwardConfig {
        &self.config
    }

    /// Its queue's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues a push body ([`encode_push`]) of `lines` lines durably:
    /// synced to disk when this returns. Blocking (call it off the async
    /// threads).
    pub fn append(&self, body: &[u8], lines: usize) -> Result<()> {
        self.queue.append_raw(body, lines).map_err(queue_error)
    }

    /// Queues `streams` (a convenience over [`Forwarder::append`]).
    pub fn append_streams(&self, streams: &[PushStream]) -> Result<()> {
        let lines = streams.iter().map(|s| s.entries.len()).sum();
        if lines == 0 {
            return Ok(());
        }
        self.append(&encode_push(streams), lines)
    }

    /// Its counters and queue.
    pub fn stats(&self) -> ForwardStats {
        let c = &self.counters;
        ForwardStats {
            name: self.config.name.clone(),
            sent_lines: c.sent_lines.load(Ordering::Relaxed),
            sent_bytes: c.sent_bytes.load(Ordering::Relaxed),
            failed_lines: c.failed_lines.load(Ordering::Relaxed),
            dropped_lines: self.queue.dropped(),
            retried_lines: c.retried_lines.load(Ordering::Relaxed),
            pending_lines: self.queue.pending(),
            queue_bytes: self.queue.size(),
        }
    }
}

/// Appends one push to every forwarder's queue (blocking: each append is
/// synced). Every forwarder is tried; the first failure is returned.
pub(crate) fn append_all(forwarders: &[Arc<Forwarder>], body: &[u8], lines: usize) -> Result<()> {
    let mut first = None;
    for forwarder in forwarders {
        if let Err(err) = forwarder.append(body, lines) {
            tracing::error!(destination = %forwarder.name(), error = %err, lines, "cannot queue lines to forward");
            first.get_or_insert(err);
        }
    }
    first.map_or(Ok(()), Err)
}

/// The HTTP client of the senders.
pub fn http_transport() -> Result<Arc<dyn steward_metrics::remote::sender::Transport>> {
    let client = reqwest::Client::builder()
        .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::InvalidForward(format!("cannot build the HTTP client: {e}")))?;
    Ok(Arc::new(steward_metrics::remote::sender::HttpTransport(
        client,
    )))
}

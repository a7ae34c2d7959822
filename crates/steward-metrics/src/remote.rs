//! Prometheus remote write 1.0 and remote read.
//!
//! - [`proto`]: the protobuf messages (prost derives) and snappy.
//! - [`receive`]: `POST /api/v1/write` and `POST /api/v1/read`, routes of
//!   the Prometheus-compatible API ([`crate::api::router`]).
//! - Sending, for each `[[metrics.remote_write]]`: [`tap`] queues what is
//!   appended to the store (after write relabelling) into a [`queue`] on
//!   disk under `<data_dir>/remote-write/<name>`, and a [`sender`] follows
//!   that queue and POSTs it in parallel shards with retries.
//!   [`RemoteWrites::start`] puts the three together; the collector calls
//!   it and stops it on shutdown.
//! - [`stats`]: the self metrics of both sides (names documented there).

pub mod proto;
pub mod queue;
pub mod receive;
pub mod sender;
pub mod stats;
pub mod tap;

use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
pub use base64_free::basic_auth_value;
use parking_lot::Mutex;
use steward_config::RemoteWrite;
use tokio_util::sync::CancellationToken;

use crate::scrape::target::compile;
use crate::storage::Storage;
use crate::{Error, Result};
use queue::{DEFAULT_SEGMENT_SIZE, Queue};
use sender::{HttpTransport, Sender, SenderConfig};
use stats::{RemoteMetrics, RemoteStats};
use tap::{TapOutput, TapStorage};

/// The directory under the data directory holding the queues.
pub const QUEUE_DIR: &str = "remote-write";

/// The running remote write destinations.
pub struct RemoteWrites {
    metrics: Vec<RemoteMetrics>,
    shutdown: CancellationToken,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for RemoteWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWrites")
            .field("remotes", &self.metrics.len())
            .finish_non_exhaustive()
    }
}

/// The headers of a destination's requests: its `headers` and its
/// authorization.
fn request_headers(remote: &RemoteWrite) -> Result<HeaderMap> {
    let invalid = |what: String| Error::RemoteProtocol(what);
    let mut headers = HeaderMap::new();
    for (name, value) in &remote.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| invalid(format!("invalid header name {name:?}: {e}")))?;
        let value = HeaderValue::from_str(value.expose())
            .map_err(|e| invalid(format!("invalid value of header {name}: {e}")))?;
        headers.insert(name, value);
    }
    let auth = match (&remote.basic_auth, &remote.bearer_token) {
        (Some(basic), _) => Some(basic_auth_value(
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
    Ok(headers)
}

/// Base64 for basic authentication, without a dependency for twenty lines
/// (steward-logs' forwarding uses it too).
mod base64_free {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// `Basic base64(user:password)`.
    pub fn basic_auth_value(user: &str, password: &str) -> String {
        let input = format!("{user}:{password}");
        let mut out = String::from("Basic ");
        for chunk in input.as_bytes().chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

impl RemoteWrites {
    /// Opens a queue per destination under `data_dir/remote-write`, wraps
    /// `storage` so appends are queued, and spawns the senders (inside a
    /// tokio runtime). Returns the wrapped store.
    pub fn start(
        remotes: &[RemoteWrite],
        data_dir: &Path,
        storage: Arc<dyn Storage>,
    ) -> Result<(Arc<dyn Storage>, RemoteWrites)> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::RemoteProtocol(format!("cannot build the HTTP client: {e}")))?;
        let transport: Arc<dyn sender::Transport> = Arc::new(HttpTransport(client));
        let shutdown = CancellationToken::new();
        let mut outputs = Vec::new();
        let mut metrics = Vec::new();
        let mut senders = Vec::new();
        for remote in remotes {
            let name = remote.queue_name();
            let q = &remote.queue_config;
            let queue = Arc::new(Queue::open(
                &data_dir.join(QUEUE_DIR).join(&name),
                DEFAULT_SEGMENT_SIZE,
                q.max_disk_size.0,
            )?);
            let stats = Arc::new(RemoteStats::default());
            outputs.push(Arc::new(TapOutput::new(
                Arc::clone(&queue),
                compile(&remote.write_relabel_configs)?,
                Arc::clone(&stats),
            )));
            let config = SenderConfig {
                url: remote.url.clone(),
                headers: request_headers(remote)?,
                remote_timeout: remote.remote_timeout.0,
                capacity: q.capacity as usize,
                max_shards: q.max_shards as usize,
                min_shards: q.min_shards as usize,
                max_samples_per_send: q.max_samples_per_send as usize,
                batch_send_deadline: q.batch_send_deadline.0,
                min_backoff: q.min_backoff.0,
                max_backoff: q.max_backoff.0,
                retry_on_http_429: q.retry_on_http_429,
            };
            metrics.push(RemoteMetrics {
                name,
                url: remote.url.clone(),
                stats: Arc::clone(&stats),
                queue: Arc::clone(&queue),
                min_shards: q.min_shards,
                max_shards: q.max_shards,
            });
            senders.push(Sender::new(config, queue, Arc::clone(&transport), stats));
        }
        let tasks = senders
            .into_iter()
            .map(|s| tokio::spawn(s.run(shutdown.clone())))
            .collect();
        let storage: Arc<dyn Storage> = Arc::new(TapStorage::new(storage, outputs));
        Ok((
            storage,
            RemoteWrites {
                metrics,
                shutdown,
                tasks: Mutex::new(tasks),
            },
        ))
    }

    /// The text exposition of the destinations' metrics.
    pub fn render(&self) -> String {
        stats::render(&self.metrics)
    }

    /// Stops the senders: each flushes what is queued for at most
    /// [`sender::FLUSH_DEADLINE`], the rest stays queued on disk.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock());
        for task in tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "remote write sender failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::base64_free::basic_auth_value;

    #[test]
    fn basic_auth_is_base64_of_user_and_password() {
        assert_eq!(basic_auth_value("u", "p"), "Basic dTpw");
        assert_eq!(basic_auth_value("user", "pass"), "Basic dXNlcjpwYXNz");
        assert_eq!(basic_auth_value("ab", ""), "Basic YWI6");
    }
}

//! The sending side of one remote write destination: follows its queue on
//! disk and POSTs the samples as remote write 1.0 requests.
//!
//! It works in rounds. A round takes what the queue holds (at most
//! `max_shards * capacity` samples) once a request's worth is there or
//! the oldest waiting sample has waited `batch_send_deadline`, splits it
//! into `clamp(ceil(samples / max_samples_per_send), min_shards,
//! max_shards)` shards by a hash of the series' labels (so one series
//! always goes through one shard, in order), and sends the shards in
//! parallel, each as requests of at most `max_samples_per_send` samples,
//! one after another. When every request of the round was accepted or
//! dropped the round's end is committed to the queue; rounds follow each
//! other, so a series' samples arrive in order.
//!
//! A request answered 5xx, or 429 with `retry_on_http_429`, or that fails
//! on the network or its `remote_timeout`, is retried after a backoff that
//! starts at `min_backoff` and doubles up to `max_backoff` (or after the
//! answer's `Retry-After`), until it goes through or steward stops. Any
//! other answer drops the request's samples (counted as failed), as
//! Prometheus does. On shutdown the sender keeps sending what is queued
//! for at most [`FLUSH_DEADLINE`]; what is left stays queued for the next
//! start.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::{self, HeaderMap, HeaderName, HeaderValue, StatusCode};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::proto::{TimeSeries, WriteRequest, encode_snappy, labels_from_proto};
use super::queue::{Queue, QueueReader, Record};
use super::stats::RemoteStats;

/// How long a stopping sender keeps sending what is queued.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

/// The remote write protocol version sent in its header.
pub const REMOTE_WRITE_VERSION: &str = "0.1.0";

/// What a remote end answered: its status and `Retry-After`.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// `Retry-After`, when given.
    pub retry_after: Option<Duration>,
    /// The start of the body, for the log of a refused request.
    pub body: String,
}

/// The future of one request.
pub type ReplyFuture = Pin<Box<dyn Future<Output = Result<Reply, String>> + Send>>;

/// How requests reach the remote end: HTTP for real, a router in process
/// in tests.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and reads the answer.
    fn send(&self, request: http::Request<Vec<u8>>) -> ReplyFuture;
}

/// The HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpTransport(pub reqwest::Client);

impl Transport for HttpTransport {
    fn send(&self, request: http::Request<Vec<u8>>) -> ReplyFuture {
        let client = self.0.clone();
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(|e| e.to_string())?;
            let response = client.execute(request).await.map_err(|e| {
                let mut source: &dyn std::error::Error = &e;
                while let Some(next) = source.source() {
                    source = next;
                }
                source.to_string()
            })?;
            let status = response.status();
            let retry_after = parse_retry_after(response.headers());
            let body = if status.is_success() {
                String::new()
            } else {
                let text = response.text().await.unwrap_or_default();
                text.chars().take(256).collect()
            };
            Ok(Reply {
                status,
                retry_after,
                body,
            })
        })
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The settings of a sender, resolved from `[[metrics.remote_write]]`.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// The endpoint.
    pub url: String,
    /// Headers added to every request (authorization included).
    pub headers: HeaderMap,
    /// The timeout of one request.
    pub remote_timeout: Duration,
    /// Samples per shard read in one round.
    pub capacity: usize,
    /// The most shards.
    pub max_shards: usize,
    /// The fewest shards.
    pub min_shards: usize,
    /// Samples per request.
    pub max_samples_per_send: usize,
    /// How long a sample waits for a request to fill.
    pub batch_send_deadline: Duration,
    /// The first retry delay.
    pub min_backoff: Duration,
    /// The longest retry delay.
    pub max_backoff: Duration,
    /// Whether 429 is retried.
    pub retry_on_http_429: bool,
}

/// A sender: its settings, queue, transport and counters.
pub struct Sender {
    config: Arc<SenderConfig>,
    queue: Arc<Queue>,
    transport: Arc<dyn Transport>,
    stats: Arc<RemoteStats>,
}

enum Outcome {
    Sent,
    Dropped,
    Stopped,
}

impl Sender {
    /// A sender of `queue`'s samples.
    pub fn new(
        config: SenderConfig,
        queue: Arc<Queue>,
        transport: Arc<dyn Transport>,
        stats: Arc<RemoteStats>,
    ) -> Self {
        Sender {
            config: Arc::new(config),
            queue,
            transport,
            stats,
        }
    }

    /// Sends until `shutdown`, then flushes for at most
    /// [`FLUSH_DEADLINE`].
    pub async fn run(self, shutdown: CancellationToken) {
        let stop = CancellationToken::new();
        let mut reader = QueueReader::new(self.queue.committed());
        let mut buffered: Vec<Record> = Vec::new();
        let mut buffered_samples = 0usize;
        let mut first_at: Option<Instant> = None;
        let mut draining = false;
        let round_limit = self.config.max_shards * self.config.capacity.max(1);
        // the flush deadline runs from shutdown, whatever is under way then
        let watcher = {
            let (shutdown, stop) = (shutdown.clone(), stop.clone());
            tokio::spawn(async move {
                shutdown.cancelled().await;
                tokio::time::sleep(FLUSH_DEADLINE).await;
                stop.cancel();
            })
        };
        let _abort = AbortOnDrop(watcher);
        loop {
            draining |= shutdown.is_cancelled();
            if buffered_samples < round_limit {
                match reader.read(&self.queue, round_limit - buffered_samples) {
                    Ok(records) => {
                        for r in records {
                            buffered_samples += r.samples;
                            buffered.push(r);
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, url = %self.config.url, "cannot read the remote write queue");
                    }
                }
            }
            if !buffered.is_empty() && first_at.is_none() {
                first_at = Some(Instant::now());
            }
            let due = first_at.is_some_and(|t| t.elapsed() >= self.config.batch_send_deadline);
            let full = buffered_samples >= self.config.max_samples_per_send;
            if !buffered.is_empty() && (full || due || draining) {
                let records = std::mem::take(&mut buffered);
                let samples = std::mem::replace(&mut buffered_samples, 0);
                first_at = None;
                if !self.round(records, samples, &stop).await {
                    return;
                }
                continue;
            }
            if draining {
                return;
            }
            let deadline = first_at.map(|t| t + self.config.batch_send_deadline);
            tokio::select! {
                () = self.queue.appended() => {}
                () = sleep_until(deadline) => {}
                () = shutdown.cancelled() => draining = true,
            }
        }
    }

    /// Sends one round and commits it; false when stopped before the end
    /// (nothing committed).
    async fn round(&self, records: Vec<Record>, samples: usize, stop: &CancellationToken) -> bool {
        let Some(end) = records.last().map(|r| r.end) else {
            return true;
        };
        let per_send = self.config.max_samples_per_send.max(1);
        let shards = samples
            .div_ceil(per_send)
            .clamp(self.config.min_shards.max(1), self.config.max_shards.max(1));
        self.stats.shards.store(shards as u64, Ordering::Relaxed);
        let mut split: Vec<Vec<TimeSeries>> = vec![Vec::new(); shards];
        for record in records {
            for ts in record.request.timeseries {
                let hash = labels_from_proto(&ts.labels).stable_hash();
                let shard = &mut split[(hash % shards as u64) as usize];
                // a series' consecutive records share one entry
                match shard.last_mut() {
                    Some(last) if last.labels == ts.labels => last.samples.extend(ts.samples),
                    _ => shard.push(ts),
                }
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for series in split.into_iter().filter(|s| !s.is_empty()) {
            let shard = ShardSender {
                config: Arc::clone(&self.config),
                transport: Arc::clone(&self.transport),
                stats: Arc::clone(&self.stats),
                stop: stop.clone(),
            };
            tasks.spawn(async move { shard.send_all(series).await });
        }
        let mut complete = true;
        while let Some(result) = tasks.join_next().await {
            complete &= result.unwrap_or(false);
        }
        if !complete {
            return false;
        }
        let queue = Arc::clone(&self.queue);
        let committed = tokio::task::spawn_blocking(move || queue.commit(end, samples)).await;
        match committed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "cannot commit the remote write queue"),
            Err(e) => tracing::error!(error = %e, "remote write commit task failed"),
        }
        true
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

struct ShardSender {
    config: Arc<SenderConfig>,
    transport: Arc<dyn Transport>,
    stats: Arc<RemoteStats>,
    stop: CancellationToken,
}

impl ShardSender {
    /// Sends `series` in requests of at most `max_samples_per_send`
    /// samples, in order; false when stopped.
    async fn send_all(&self, series: Vec<TimeSeries>) -> bool {
        let per_send = self.config.max_samples_per_send.max(1);
        let mut request = WriteRequest::default();
        let mut count = 0;
        for mut ts in series {
            while !ts.samples.is_empty() {
                let take = (per_send - count).min(ts.samples.len());
                let rest = ts.samples.split_off(take);
                count += take;
                request.timeseries.push(TimeSeries {
                    labels: ts.labels.clone(),
                    samples: std::mem::replace(&mut ts.samples, rest),
                    exemplars: Vec::new(),
                });
                if count == per_send {
                    if let Outcome::Stopped = self.send(&request, count).await {
                        return false;
                    }
                    request = WriteRequest::default();
                    count = 0;
                }
            }
        }
        if count > 0
            && let Outcome::Stopped = self.send(&request, count).await
        {
            return false;
        }
        true
    }

    fn http_request(&self, body: Vec<u8>) -> Result<http::Request<Vec<u8>>, String> {
        let mut builder = http::Request::post(&self.config.url);
        if let Some(headers) = builder.headers_mut() {
            headers.clone_from(&self.config.headers);
            let fixed: [(HeaderName, &str); 4] = [
                (http::header::CONTENT_ENCODING, "snappy"),
                (http::header::CONTENT_TYPE, "application/x-protobuf"),
                (
                    http::header::USER_AGENT,
                    concat!("steward/", env!("CARGO_PKG_VERSION")),
                ),
                (
                    HeaderName::from_static("x-prometheus-remote-write-version"),
                    REMOTE_WRITE_VERSION,
                ),
            ];
            for (name, value) in fixed {
                headers.insert(name, HeaderValue::from_static(value));
            }
        }
        builder.body(body).map_err(|e| e.to_string())
    }

    /// Sends one request until it is accepted, dropped or stopped.
    async fn send(&self, request: &WriteRequest, samples: usize) -> Outcome {
        let body = encode_snappy(request);
        let bytes = body.len() as u64;
        let highest = request
            .timeseries
            .iter()
            .flat_map(|ts| ts.samples.iter().map(|s| s.timestamp))
            .max()
            .unwrap_or(i64::MIN);
        let mut backoff = self.config.min_backoff;
        loop {
            let attempt = match self.http_request(body.clone()) {
                Ok(r) => {
                    tokio::time::timeout(self.config.remote_timeout, self.transport.send(r)).await
                }
                Err(e) => Ok(Err(e)),
            };
            let (retry_after, reason) = match attempt {
                Ok(Ok(reply)) if reply.status.is_success() => {
                    self.stats
                        .samples
                        .fetch_add(samples as u64, Ordering::Relaxed);
                    self.stats.bytes.fetch_add(bytes, Ordering::Relaxed);
                    self.stats
                        .highest_sent_ms
                        .fetch_max(highest, Ordering::Relaxed);
                    return Outcome::Sent;
                }
                Ok(Ok(reply))
                    if reply.status.is_server_error()
                        || (reply.status == StatusCode::TOO_MANY_REQUESTS
                            && self.config.retry_on_http_429) =>
                {
                    (
                        reply.retry_after,
                        format!("server returned HTTP status {}", reply.status),
                    )
                }
                Ok(Ok(reply)) => {
                    self.stats
                        .failed
                        .fetch_add(samples as u64, Ordering::Relaxed);
                    tracing::error!(
                        url = %self.config.url,
                        status = %reply.status,
                        body = %reply.body,
                        samples,
                        "remote write refused a request: its samples are dropped"
                    );
                    return Outcome::Dropped;
                }
                Ok(Err(e)) => (None, e),
                Err(_) => (None, "context deadline exceeded".to_owned()),
            };
            let wait = retry_after.unwrap_or(backoff);
            tracing::warn!(
                url = %self.config.url,
                reason = %reason,
                retry_in = ?wait,
                samples,
                "remote write failed, retrying"
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => return Outcome::Stopped,
            }
            self.stats
                .retried
                .fetch_add(samples as u64, Ordering::Relaxed);
            backoff = (wait * 2).clamp(self.config.min_backoff, self.config.max_backoff);
        }
    }
}

#[cfg(test)]
mod tests;

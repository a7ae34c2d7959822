//! [`AlertmanagerSink`]: the notifier, sending alerts to Alertmanagers as
//! Prometheus 2.42 does.
//!
//! Alerts handed over by the rule engine get the external labels they
//! lack and join a bounded queue (10000 by default); when it overflows the
//! oldest are dropped and counted. One task takes batches of at most 64
//! alerts off the queue and posts each batch as a JSON array to
//! `<url>/api/v2/alerts` of every configured Alertmanager at once, each
//! request bounded by its Alertmanager's timeout. A failed request is
//! logged and counted; a batch no Alertmanager accepted is counted as
//! dropped (there is no retry: the rule engine sends firing alerts again
//! every `resend_delay`). The metrics are Prometheus'
//! `prometheus_notifications_*`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use steward_metrics::Labels;
use steward_metrics::exposition::{FamilySample, MetricFamily, MetricType, write_text};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::sink::{AlertSink, NotifiedAlert};
use crate::{Error, Result};

/// Prometheus' default queue capacity (`--alertmanager.notification-queue-capacity`).
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// The most alerts posted in one request (Prometheus' `maxBatchSize`).
pub const MAX_BATCH_SIZE: usize = 64;

/// Prometheus' default timeout of a request to an Alertmanager.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The path alerts are posted to, after an Alertmanager's base URL.
const ALERTS_PATH: &str = "api/v2/alerts";

/// How requests to an Alertmanager authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum AlertmanagerAuth {
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for AlertmanagerAuth {
    // credentials stay out of logs
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AlertmanagerAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .finish_non_exhaustive(),
            AlertmanagerAuth::Bearer(_) => f.write_str("Bearer(..)"),
        }
    }
}

/// Alertmanagers sharing a timeout and credentials (one of Prometheus'
/// `alertmanager_configs` with static targets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerConfig {
    /// Each Alertmanager's base URL (`http://host:9093`, with its path
    /// prefix if it has one); alerts go to `<url>/api/v2/alerts`.
    pub urls: Vec<String>,
    /// The limit of one request.
    pub timeout: Duration,
    /// Credentials, if the Alertmanagers want them.
    pub auth: Option<AlertmanagerAuth>,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            auth: None,
        }
    }
}

/// What the notifier sends where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierOptions {
    /// The Alertmanagers; every alert goes to all of them.
    pub alertmanagers: Vec<AlertmanagerConfig>,
    /// Labels added to every alert that lacks them (`external_labels`).
    pub external_labels: Labels,
    /// The most alerts waiting to be sent.
    pub queue_capacity: usize,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        Self {
            alertmanagers: Vec::new(),
            external_labels: Labels::empty(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

/// One Alertmanager's endpoint.
#[derive(Debug)]
struct Target {
    /// The full URL posted to, also the `alertmanager` label of metrics.
    url: String,
    timeout: Duration,
    auth: Option<AlertmanagerAuth>,
}

/// The counters of one Alertmanager.
#[derive(Debug, Default, Clone, Copy)]
struct TargetMetrics {
    sent: u64,
    errors: u64,
    latency_sum: f64,
    latency_count: u64,
}

#[derive(Debug, Default)]
struct Metrics {
    dropped: u64,
    per_target: BTreeMap<String, TargetMetrics>,
}

struct Inner {
    targets: Vec<Target>,
    client: reqwest::Client,
    external_labels: Labels,
    capacity: usize,
    queue: Mutex<VecDeque<NotifiedAlert>>,
    more: Notify,
    metrics: Mutex<Metrics>,
}

/// Sends alerts to Alertmanagers (see the module's documentation). Its
/// task runs until [`stop`](Self::stop) or until it is dropped.
pub struct AlertmanagerSink {
    inner: Arc<Inner>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for AlertmanagerSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertmanagerSink")
            .field("targets", &self.inner.targets)
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

/// `<base>/api/v2/alerts`, checked to be an http(s) URL.
fn alerts_url(base: &str) -> Result<String> {
    let invalid = |reason: String| Error::InvalidAlertmanager {
        url: base.to_owned(),
        reason,
    };
    let mut u = url::Url::parse(base).map_err(|e| invalid(e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(invalid(format!("unsupported scheme {:?}", u.scheme())));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    let path = format!("{}/{ALERTS_PATH}", u.path().trim_end_matches('/'));
    u.set_path(&path);
    Ok(u.to_string())
}

impl AlertmanagerSink {
    /// Starts the notifier on the current tokio runtime. Fails on a URL
    /// that is not http(s).
    pub fn start(opts: NotifierOptions) -> Result<Self> {
        let inner = Arc::new(Inner::new(opts)?);
        let cancel = CancellationToken::new();
        tokio::spawn(run(inner.clone(), cancel.clone()));
        Ok(Self { inner, cancel })
    }

    /// Stops sending; alerts still queued are abandoned, as Prometheus
    /// 2.42 abandons them.
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// The number of alerts waiting to be sent.
    pub fn queue_length(&self) -> usize {
        self.inner.queue.lock().len()
    }

    /// The notifier's metrics in the text format 0.0.4.
    pub fn render_metrics(&self) -> String {
        let m = self.inner.metrics.lock();
        let queue_length = self.queue_length();
        let sample = |labels: Labels, value: f64| FamilySample {
            labels,
            value,
            timestamp: None,
        };
        let single = |name: &str, help: &str, kind: MetricType, value: f64| MetricFamily {
            name: name.to_owned(),
            help: Some(help.to_owned()),
            kind,
            samples: vec![sample(Labels::empty(), value)],
        };
        let am = |url: &str| Labels::from_pairs([("alertmanager", url)]);
        let per_target =
            |name: &str, help: &str, kind: MetricType, f: &dyn Fn(&TargetMetrics) -> f64| {
                MetricFamily {
                    name: name.to_owned(),
                    help: Some(help.to_owned()),
                    kind,
                    samples: m
                        .per_target
                        .iter()
                        .map(|(u, t)| sample(am(u), f(t)))
                        .collect(),
                }
            };
        let latency = "prometheus_notifications_latency_seconds";
        let mut latency_samples = Vec::new();
        for (u, t) in &m.per_target {
            let mut with_name = |suffix: &str, v: f64| {
                let mut b = am(u).builder();
                b.set("__name__", format!("{latency}{suffix}"));
                latency_samples.push(sample(b.build(), v));
            };
            with_name("_sum", t.latency_sum);
            with_name("_count", t.latency_count as f64);
        }
        let families = vec![
            single(
                "prometheus_notifications_alertmanagers_discovered",
                "The number of alertmanagers discovered and active.",
                MetricType::Gauge,
                self.inner.targets.len() as f64,
            ),
            single(
                "prometheus_notifications_dropped_total",
                "Total number of alerts dropped due to errors when sending to Alertmanager.",
                MetricType::Counter,
                m.dropped as f64,
            ),
            per_target(
                "prometheus_notifications_errors_total",
                "Total number of errors sending alert notifications.",
                MetricType::Counter,
                &|t| t.errors as f64,
            ),
            MetricFamily {
                name: latency.to_owned(),
                help: Some("Latency quantiles for sending alert notifications.".to_owned()),
                kind: MetricType::Summary,
                samples: latency_samples,
            },
            single(
                "prometheus_notifications_queue_capacity",
                "The capacity of the alert notifications queue.",
                MetricType::Gauge,
                self.inner.capacity as f64,
            ),
            single(
                "prometheus_notifications_queue_length",
                "The number of alert notifications in the queue.",
                MetricType::Gauge,
                queue_length as f64,
            ),
            per_target(
                "prometheus_notifications_sent_total",
                "Total number of alerts sent.",
                MetricType::Counter,
                &|t| t.sent as f64,
            ),
        ];
        let mut out = String::new();
        // names and labels are fixed and valid: encoding cannot fail
        if let Err(e) = write_text(&mut out, &families) {
            tracing::error!(error = %e, "encoding notifier metrics failed");
        }
        out
    }
}

impl Drop for AlertmanagerSink {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[async_trait::async_trait]
impl AlertSink for AlertmanagerSink {
    async fn send(&self, alerts: Vec<NotifiedAlert>) {
        self.inner.enqueue(alerts);
    }
}

impl Inner {
    /// The notifier's state for `opts`, its URLs checked.
    fn new(opts: NotifierOptions) -> Result<Self> {
        let mut targets = Vec::new();
        for am in &opts.alertmanagers {
            for u in &am.urls {
                targets.push(Target {
                    url: alerts_url(u)?,
                    timeout: am.timeout,
                    auth: am.auth.clone(),
                });
            }
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::InvalidAlertmanager {
                url: String::new(),
                reason: format!("http client: {e}"),
            })?;
        let metrics = Metrics {
            dropped: 0,
            // every Alertmanager's counters exist from the start, at 0
            per_target: targets
                .iter()
                .map(|t| (t.url.clone(), TargetMetrics::default()))
                .collect(),
        };
        Ok(Self {
            targets,
            client,
            external_labels: opts.external_labels,
            capacity: opts.queue_capacity.max(1),
            queue: Mutex::new(VecDeque::new()),
            more: Notify::new(),
            metrics: Mutex::new(metrics),
        })
    }

    /// Adds alerts to the queue, dropping the oldest beyond its capacity.
    fn enqueue(&self, mut alerts: Vec<NotifiedAlert>) {
        for a in &mut alerts {
            a.labels = with_external_labels(&a.labels, &self.external_labels);
        }
        let mut dropped = 0;
        // more alerts than fit at all: only the newest are kept
        if alerts.len() > self.capacity {
            let d = alerts.len() - self.capacity;
            alerts.drain(..d);
            dropped += d;
        }
        {
            let mut q = self.queue.lock();
            let over = (q.len() + alerts.len()).saturating_sub(self.capacity);
            q.drain(..over);
            dropped += over;
            q.extend(alerts);
        }
        if dropped > 0 {
            tracing::warn!(
                count = dropped,
                "alert notification queue full, dropping alerts"
            );
            self.metrics.lock().dropped += dropped as u64;
        }
        self.more.notify_one();
    }

    fn next_batch(&self) -> Vec<NotifiedAlert> {
        let mut q = self.queue.lock();
        let n = q.len().min(MAX_BATCH_SIZE);
        q.drain(..n).collect()
    }

    /// Posts a batch to every Alertmanager at once; whether one took it.
    async fn send_all(&self, alerts: &[NotifiedAlert]) -> bool {
        if self.targets.is_empty() {
            return false;
        }
        let body = match serde_json::to_vec(&alerts.iter().map(WireAlert::from).collect::<Vec<_>>())
        {
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => {
                tracing::error!(error = %e, "encoding alerts failed");
                return false;
            }
        };
        let sends = self.targets.iter().map(|t| {
            let body = body.clone();
            async move {
                let begin = Instant::now();
                let res = self.post(t, body).await;
                let mut m = self.metrics.lock();
                let tm = m.per_target.entry(t.url.clone()).or_default();
                tm.latency_sum += begin.elapsed().as_secs_f64();
                tm.latency_count += 1;
                // counted as sent whether or not it arrived, as Prometheus does
                tm.sent += alerts.len() as u64;
                match res {
                    Ok(()) => true,
                    Err(e) => {
                        tm.errors += 1;
                        drop(m);
                        tracing::error!(alertmanager = %t.url, count = alerts.len(), error = %e, "error sending alerts");
                        false
                    }
                }
            }
        });
        let results = futures::future::join_all(sends).await;
        results.into_iter().any(|ok| ok)
    }

    async fn post(&self, t: &Target, body: bytes::Bytes) -> std::result::Result<(), String> {
        let mut req = self
            .client
            .post(&t.url)
            .timeout(t.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        req = match &t.auth {
            Some(AlertmanagerAuth::Basic { username, password }) => {
                req.basic_auth(username, Some(password))
            }
            Some(AlertmanagerAuth::Bearer(token)) => req.bearer_auth(token),
            None => req,
        };
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("bad response status {status}"));
        }
        Ok(())
    }
}

/// The notifier's loop: a batch at a time while the queue has alerts.
async fn run(inner: Arc<Inner>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = inner.more.notified() => {}
        }
        loop {
            let batch = inner.next_batch();
            if batch.is_empty() {
                break;
            }
            let sent = tokio::select! {
                () = cancel.cancelled() => return,
                ok = inner.send_all(&batch) => ok,
            };
            if !sent {
                inner.metrics.lock().dropped += batch.len() as u64;
            }
        }
    }
}

/// The alert's labels with the external labels it lacks.
fn with_external_labels(labels: &Labels, external: &Labels) -> Labels {
    if external.is_empty() {
        return labels.clone();
    }
    let mut b = labels.builder();
    for l in external {
        if labels.get(&l.name).is_none_or(str::is_empty) {
            b.set(l.name.as_str(), l.value.as_str());
        }
    }
    b.build()
}

/// An alert as Alertmanager's API v2 takes it (`PostableAlert`), with its
/// fields in the order Prometheus writes them.
#[derive(Debug, Serialize)]
struct WireAlert<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'a str, &'a str>,
    #[serde(rename = "endsAt")]
    ends_at: String,
    #[serde(rename = "startsAt")]
    starts_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
}

fn label_set(l: &Labels) -> BTreeMap<&str, &str> {
    l.iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect()
}

/// Milliseconds since the epoch as Go's strfmt.DateTime writes them
/// (RFC 3339 with milliseconds, UTC).
fn rfc3339_millis(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl<'a> From<&'a NotifiedAlert> for WireAlert<'a> {
    fn from(a: &'a NotifiedAlert) -> Self {
        Self {
            annotations: label_set(&a.annotations),
            ends_at: rfc3339_millis(a.ends_at_ms),
            starts_at: rfc3339_millis(a.starts_at_ms),
            generator_url: &a.generator_url,
            labels: label_set(&a.labels),
        }
    }
}

#[cfg(test)]
mod tests;

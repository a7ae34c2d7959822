//! Notifications: what one carries ([`Notification`], Alertmanager's
//! template data), the [`Integration`] trait each receiver kind
//! implements (`webhook.rs`, `slack.rs`, `pagerduty.rs`, `msteams.rs`,
//! `opsgenie.rs`, `email.rs`), the HTTP client each HTTP integration is
//! given from its `http_config` (`http.rs`), and delivery ([`deliver`]): retries with exponential
//! backoff and full jitter until a deadline, a per-receiver
//! [`RateLimiter`], and an [`Attempt`] record of each try for the journal.
//!
//! As in Alertmanager, an HTTP answer of 5xx or 429, or no answer, is
//! worth retrying; any other 4xx is not (the payload will not get better).

pub mod email;
pub mod http;
pub mod msteams;
pub mod opsgenie;
pub mod pagerduty;
pub mod receivers;
pub mod slack;
pub mod template;
pub mod webhook;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use crate::LabelSet;

/// Whether an alert (or a whole notification) is firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Active.
    Firing,
    /// No longer active.
    Resolved,
}

impl Status {
    /// `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// An alert as notifications show it.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifiedAlert {
    /// Firing or resolved at the time of the notification.
    pub status: Status,
    /// Its labels.
    pub labels: LabelSet,
    /// Its annotations.
    pub annotations: LabelSet,
    /// When it started.
    pub starts_at: DateTime<Utc>,
    /// When it ended (resolved alerts), if known.
    pub ends_at: Option<DateTime<Utc>>,
    /// The link to what produced it.
    pub generator_url: String,
    /// Its fingerprint, in hexadecimal.
    pub fingerprint: String,
}

/// One notification of one alert group to one receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The receiver's name.
    pub receiver: String,
    /// The group's key (stable across notifications of the group).
    pub group_key: String,
    /// The labels the group is grouped by.
    pub group_labels: LabelSet,
    /// The group's alerts, firing and resolved.
    pub alerts: Vec<NotifiedAlert>,
    /// Where steward is reached (links back to it).
    pub external_url: String,
}

impl Notification {
    /// Firing when any alert fires, resolved when all are.
    pub fn status(&self) -> Status {
        match self.alerts.iter().any(|a| a.status == Status::Firing) {
            true => Status::Firing,
            false => Status::Resolved,
        }
    }

    /// The alerts in `status`.
    pub fn with_status(&self, status: Status) -> impl Iterator<Item = &NotifiedAlert> {
        self.alerts.iter().filter(move |a| a.status == status)
    }

    /// The labels every alert has with the same value.
    pub fn common_labels(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.labels))
    }

    /// The annotations every alert has with the same value.
    pub fn common_annotations(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.annotations))
    }

    /// Alertmanager's template data (and webhook payload) as JSON: with
    /// `max_alerts > 0`, only the first `max_alerts` alerts, the rest
    /// counted in `truncatedAlerts`.
    pub fn data(&self, max_alerts: usize) -> serde_json::Value {
        let shown = match max_alerts {
            0 => self.alerts.len(),
            n => n.min(self.alerts.len()),
        };
        let alerts: Vec<serde_json::Value> = self.alerts[..shown]
            .iter()
            .map(|a| {
                json!({
                    "status": a.status.as_str(),
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": go_time(Some(a.starts_at)),
                    "endsAt": go_time(a.ends_at),
                    "generatorURL": a.generator_url,
                    "fingerprint": a.fingerprint,
                })
            })
            .collect();
        json!({
            "receiver": self.receiver,
            "status": self.status().as_str(),
            "alerts": alerts,
            "groupLabels": self.group_labels,
            "commonLabels": self.common_labels(),
            "commonAnnotations": self.common_annotations(),
            "externalURL": self.external_url,
            "version": "4",
            "groupKey": self.group_key,
            "truncatedAlerts": self.alerts.len() - shown,
        })
    }

    /// A stable key for services that deduplicate by one (PagerDuty's
    /// `dedup_key`, Opsgenie's `alias`): the SHA-256 of the group key, as
    /// Alertmanager derives them.
    pub fn hashed_key(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.group_key.as_bytes()))
    }
}

fn common<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else {
        return LabelSet::new();
    };
    let mut out = first.clone();
    for set in sets {
        out.retain(|k, v| set.get(k) == Some(v));
    }
    out
}

/// A time as Go's JSON writes it (RFC 3339, nanoseconds trimmed), or Go's
/// zero time for none, as Alertmanager's payloads carry `endsAt`.
pub fn go_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "0001-01-01T00:00:00Z".to_owned(),
        |t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    )
}

/// Why one try failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Worth trying again (no answer, 5xx, 429).
    #[error("{0}")]
    Retryable(String),
    /// Trying again cannot help (4xx, a payload the service refuses).
    #[error("{0}")]
    Permanent(String),
}

impl NotifyError {
    /// The error of an HTTP answer, or `None` for 2xx.
    pub fn from_status(status: reqwest::StatusCode, body: &str) -> Option<Self> {
        if status.is_success() {
            return None;
        }
        let body: String = body.chars().take(512).collect();
        let message = format!("unexpected status code {}: {body}", status.as_u16());
        Some(
            match status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                true => NotifyError::Retryable(message),
                false => NotifyError::Permanent(message),
            },
        )
    }

    /// The error of a request that got no answer.
    pub fn from_request(err: &reqwest::Error) -> Self {
        // the URL may carry a secret (Slack's and Teams' do): left out
        NotifyError::Retryable(describe(err))
    }
}

/// `err` and its causes, without the URL reqwest's own message carries.
fn describe(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(err) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        match err.downcast_ref::<reqwest::Error>() {
            Some(e) if e.is_timeout() => text.push_str("request timed out"),
            Some(e) if e.is_connect() => text.push_str("cannot connect"),
            Some(_) => text.push_str("request failed"),
            None => text.push_str(&err.to_string()),
        }
        source = err.source();
    }
    text
}

/// Posts `body` as JSON with `headers` and maps the answer.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(), NotifyError> {
    let mut request = client
        .post(url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, http::USER_AGENT);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| NotifyError::from_request(&e))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    NotifyError::from_status(status, &text).map_or(Ok(()), Err)
}

/// One receiver integration (a `webhook_configs` entry, a Slack channel...).
#[async_trait::async_trait]
pub trait Integration: Send + Sync {
    /// Its kind, as the configuration names it (`webhook`, `slack`, ...).
    fn kind(&self) -> &'static str;
    /// Whether resolved notifications are sent (`send_resolved`).
    fn send_resolved(&self) -> bool;
    /// One try at sending the notification.
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError>;
}

/// How long to keep trying and how to wait in between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The first wait's ceiling.
    pub initial: Duration,
    /// The longest wait's ceiling.
    pub max: Duration,
    /// No try starts after this long (Alertmanager: the group interval).
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(60),
            deadline: Duration::from_secs(300),
        }
    }
}

/// One try, for the journal and the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// Its number, from 1.
    pub number: u32,
    /// How long it took.
    pub latency: Duration,
    /// Why it failed, if it did.
    pub error: Option<NotifyError>,
}

/// Sends `notification` through `integration`, retrying as `policy` says
/// (full jitter: each wait is uniform between zero and the doubled
/// ceiling, as AWS' backoff advice, so that receivers recovering from an
/// outage are not hit by every sender at once); `on_attempt` hears each
/// try. Returns the last try's error, or `Ok` once one succeeded.
pub async fn deliver(
    integration: &dyn Integration,
    notification: &Notification,
    policy: RetryPolicy,
    mut on_attempt: impl FnMut(&Attempt),
) -> Result<u32, NotifyError> {
    let started = Instant::now();
    let mut ceiling = policy.initial;
    let mut number = 0;
    loop {
        number += 1;
        let t = Instant::now();
        let result = integration.notify(notification).await;
        let attempt = Attempt {
            number,
            latency: t.elapsed(),
            error: result.as_ref().err().cloned(),
        };
        on_attempt(&attempt);
        match result {
            Ok(()) => return Ok(number),
            Err(err @ NotifyError::Permanent(_)) => return Err(err),
            Err(err) => {
                let wait = ceiling.mul_f64(rand::rng().random_range(0.0..=1.0));
                if started.elapsed() + wait >= policy.deadline {
                    return Err(err);
                }
                tokio::time::sleep(wait).await;
                ceiling = (ceiling * 2).min(policy.max);
            }
        }
    }
}

/// At most one notification per `interval` to a receiver (a token bucket
/// of one): a burst of groups waits its turn instead of tripping the
/// service's own limit.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl RateLimiter {
    /// A limiter letting one notification through every `interval`.
    pub fn new(interval: Duration) -> Self {
        RateLimiter {
            interval,
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    /// Waits for this notification's turn.
    pub async fn acquire(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests;

//! The receivers: each receiver's integrations (built from the
//! configuration) behind the dispatcher's [`Notifier`] trait. A flush's
//! notification becomes the integration's [`Notification`], waits for
//! the receiver's rate limit, and is delivered with retries until the
//! flush's deadline; every try is told to an [`AttemptListener`] (the
//! server journals them: the notification history).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{
    Attempt, Integration, Notification, NotifiedAlert, NotifyError, RateLimiter, RetryPolicy,
    Status, deliver,
};
use crate::alert::AlertStatusKind;
use crate::dispatch::{self, Notifier};
use crate::enrich::Enricher;
use crate::{Error, Result};

/// Hears every delivery try (and its outcome).
pub trait AttemptListener: Send + Sync + 'static {
    /// One try of `integration` for the group `group_key`.
    fn attempted(&self, integration: &dispatch::Integration, group_key: &str, attempt: &Attempt);
}

/// A listener that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct IgnoreAttempts;

impl AttemptListener for IgnoreAttempts {
    fn attempted(&self, _: &dispatch::Integration, _: &str, _: &Attempt) {}
}

struct Receiver {
    integrations: Vec<(dispatch::Integration, Arc<dyn Integration>)>,
    limiter: Option<RateLimiter>,
}

/// Every receiver's integrations.
pub struct Receivers {
    receivers: BTreeMap<String, Receiver>,
    external_url: String,
    retry: RetryPolicy,
    listener: Arc<dyn AttemptListener>,
    enricher: Option<Arc<dyn Enricher>>,
}

impl std::fmt::Debug for Receivers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receivers")
            .field("receivers", &self.receivers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Receivers {
    /// No receivers yet; links point at `external_url`.
    pub fn new(external_url: impl Into<String>, retry: RetryPolicy) -> Self {
        Receivers {
            receivers: BTreeMap::new(),
            external_url: external_url.into(),
            retry,
            listener: Arc::new(IgnoreAttempts),
            enricher: None,
        }
    }

    /// These receivers with each alert enriched before it is sent (its
    /// context as `steward_*` annotations).
    #[must_use]
    pub fn with_enricher(mut self, enricher: Arc<dyn Enricher>) -> Self {
        self.enricher = Some(enricher);
        self
    }

    /// These receivers with every try told to `listener`.
    #[must_use]
    pub fn with_listener(mut self, listener: Arc<dyn AttemptListener>) -> Self {
        self.listener = listener;
        self
    }

    /// Adds a receiver with its integrations (numbered per kind in
    /// order, as Alertmanager numbers them), sending at most once per
    /// `min_interval` when given.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        integrations: Vec<Arc<dyn Integration>>,
        min_interval: Option<Duration>,
    ) {
        let name = name.into();
        let mut per_kind: BTreeMap<&'static str, u32> = BTreeMap::new();
        let integrations = integrations
            .into_iter()
            .map(|integration| {
                let index = per_kind.entry(integration.kind()).or_default();
                let descriptor = dispatch::Integration {
                    receiver: name.clone(),
                    kind: integration.kind().to_owned(),
                    index: *index,
                    send_resolved: integration.send_resolved(),
                };
                *index += 1;
                (descriptor, integration)
            })
            .collect();
        self.receivers.insert(
            name,
            Receiver {
                integrations,
                limiter: min_interval.map(RateLimiter::new),
            },
        );
    }

    /// The names of the receivers.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.receivers.keys().map(String::as_str)
    }

    /// The integration's view of a flush's notification.
    pub fn notification(&self, n: &dispatch::Notification) -> Notification {
        Notification {
            receiver: n.receiver().to_owned(),
            group_key: n.group_key.clone(),
            group_labels: n.group_labels.clone(),
            alerts: n
                .alerts
                .iter()
                .map(|a| NotifiedAlert {
                    status: match a.status_at(n.now) {
                        AlertStatusKind::Firing => Status::Firing,
                        AlertStatusKind::Resolved => Status::Resolved,
                    },
                    labels: a.labels.clone(),
                    annotations: a.annotations.clone(),
                    starts_at: a.starts_at,
                    ends_at: a.ends_at,
                    generator_url: a.generator_url.clone(),
                    fingerprint: a.fingerprint().to_string(),
                })
                .collect(),
            external_url: self.external_url.clone(),
        }
    }
}

#[async_trait::async_trait]
impl Notifier for Receivers {
    fn integrations(&self, receiver: &str) -> Vec<dispatch::Integration> {
        self.receivers
            .get(receiver)
            .map(|r| r.integrations.iter().map(|(d, _)| d.clone()).collect())
            .unwrap_or_default()
    }

    async fn notify(&self, n: &dispatch::Notification) -> Result<()> {
        let receiver = self
            .receivers
            .get(n.receiver())
            .ok_or_else(|| Error::Notify(format!("unknown receiver {:?}", n.receiver())))?;
        let Some((descriptor, integration)) = receiver
            .integrations
            .iter()
            .find(|(d, _)| d.kind == n.integration.kind && d.index == n.integration.index)
        else {
            return Err(Error::Notify(format!(
                "receiver {:?} has no {} integration {}",
                n.receiver(),
                n.integration.kind,
                n.integration.index
            )));
        };
        if let Some(limiter) = &receiver.limiter {
            limiter.acquire().await;
        }
        let mut notification = self.notification(n);
        if let Some(enricher) = &self.enricher {
            let found = enricher.enrich_all(&notification.alerts, n.now).await;
            for (alert, enrichment) in notification.alerts.iter_mut().zip(found) {
                enrichment.apply(alert);
            }
        }
        let listener = &self.listener;
        deliver(integration.as_ref(), &notification, self.retry, |attempt| {
            listener.attempted(descriptor, &n.group_key, attempt);
        })
        .await
        .map(|_| ())
        .map_err(|err: NotifyError| {
            Error::Notify(format!(
                "{}/{}[{}]: {err}",
                n.receiver(),
                descriptor.kind,
                descriptor.index
            ))
        })
    }
}

//! PagerDuty's Events API v2: a `trigger` event while the group fires and
//! a `resolve` event once it is resolved, both with the group's hashed
//! key as `dedup_key` so PagerDuty keeps one incident per group, as
//! Alertmanager's `pagerduty_configs` (with a `routing_key`) sends them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::{Integration, Notification, NotifyError, Status, post_json, template::Renderer};

/// PagerDuty's events endpoint.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty's limit on `payload.summary`.
const MAX_SUMMARY: usize = 1024;

/// A PagerDuty service integration.
#[derive(Debug, Clone)]
pub struct PagerDuty {
    /// The events endpoint.
    pub url: String,
    /// The integration's routing key (a secret).
    pub routing_key: String,
    /// The summary template.
    pub description: String,
    /// `critical`, `error`, `warning` or `info` (a template).
    pub severity: String,
    /// Who sends it (a template).
    pub client: String,
    /// A link back (a template).
    pub client_url: String,
    /// Extra fields (templates), beside firing/resolved and their counts.
    pub details: BTreeMap<String, String>,
    /// Whether resolve events are sent.
    pub send_resolved: bool,
    /// One request's limit.
    pub timeout: Duration,
    /// The texts' renderer.
    pub renderer: Renderer,
    /// The HTTP client.
    pub client_http: reqwest::Client,
}

impl PagerDuty {
    /// The event `notification` becomes.
    pub fn event(&self, notification: &Notification) -> serde_json::Value {
        let r = |t: &str| self.renderer.render_or_error(t, notification);
        let summary: String = r(&self.description).chars().take(MAX_SUMMARY).collect();
        let list = |status| {
            notification
                .with_status(status)
                .map(|a| {
                    a.labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut details = json!({
            "firing": list(Status::Firing),
            "resolved": list(Status::Resolved),
            "num_firing": notification.with_status(Status::Firing).count().to_string(),
            "num_resolved": notification.with_status(Status::Resolved).count().to_string(),
        });
        for (k, v) in &self.details {
            details[k] = json!(r(v));
        }
        let client = r(&self.client);
        json!({
            "routing_key": self.routing_key,
            "dedup_key": notification.hashed_key(),
            "event_action": match notification.status() {
                Status::Firing => "trigger",
                Status::Resolved => "resolve",
            },
            "payload": {
                "summary": summary,
                "source": client,
                "severity": r(&self.severity),
                "custom_details": details,
            },
            "client": client,
            "client_url": r(&self.client_url),
        })
    }
}

#[async_trait::async_trait]
impl Integration for PagerDuty {
    fn kind(&self) -> &'static str {
        "pagerduty"
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(&self.event(notification))
            .map_err(|e| NotifyError::Permanent(e.to_string()))?;
        post_json(&self.client_http, &self.url, &[], body, self.timeout).await
    }
}

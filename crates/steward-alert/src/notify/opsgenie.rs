//! Opsgenie's Alert API v2: an alert created (or updated: Opsgenie
//! deduplicates by `alias`, the group's hashed key) while the group
//! fires, and closed by alias once it is resolved, as Alertmanager's
//! `opsgenie_configs` does.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::{Integration, Notification, NotifyError, Status, post_json, template::Renderer};

/// Opsgenie's API.
pub const DEFAULT_API_URL: &str = "https://api.opsgenie.com/";

/// Opsgenie's limits on `message` and `description`.
const MAX_MESSAGE: usize = 130;
const MAX_DESCRIPTION: usize = 15_000;

/// An Opsgenie integration.
#[derive(Debug, Clone)]
pub struct Opsgenie {
    /// The API's base URL, ending in `/`.
    pub api_url: String,
    /// The API key (a secret).
    pub api_key: String,
    /// The message template.
    pub message: String,
    /// The description template.
    pub description: String,
    /// The source template.
    pub source: String,
    /// `P1` to `P5` (a template; empty: Opsgenie's default).
    pub priority: String,
    /// Extra details (templates), beside the common labels.
    pub details: BTreeMap<String, String>,
    /// Whether resolved alerts are closed.
    pub send_resolved: bool,
    /// One request's limit.
    pub timeout: Duration,
    /// The texts' renderer.
    pub renderer: Renderer,
    /// The HTTP client.
    pub client: reqwest::Client,
}

impl Opsgenie {
    /// The URL and body of the request `notification` becomes.
    pub fn request(&self, notification: &Notification) -> (String, serde_json::Value) {
        let r = |t: &str| self.renderer.render_or_error(t, notification);
        let alias = notification.hashed_key();
        let base = self.api_url.trim_end_matches('/');
        match notification.status() {
            Status::Resolved => (
                format!("{base}/v2/alerts/{alias}/close?identifierType=alias"),
                json!({ "source": r(&self.source) }),
            ),
            Status::Firing => {
                let mut details: BTreeMap<String, String> = notification.common_labels();
                for (k, v) in &self.details {
                    details.insert(k.clone(), r(v));
                }
                let mut body = json!({
                    "alias": alias,
                    "message": r(&self.message).chars().take(MAX_MESSAGE).collect::<String>(),
                    "description": r(&self.description).chars().take(MAX_DESCRIPTION).collect::<String>(),
                    "details": details,
                    "source": r(&self.source),
                });
                let priority = r(&self.priority);
                if !priority.is_empty() {
                    body["priority"] = json!(priority);
                }
                (format!("{base}/v2/alerts"), body)
            }
        }
    }
}

#[async_trait::async_trait]
impl Integration for Opsgenie {
    fn kind(&self) -> &'static str {
        "opsgenie"
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        let (url, body) = self.request(notification);
        let body = serde_json::to_vec(&body).map_err(|e| NotifyError::Permanent(e.to_string()))?;
        let auth = [("Authorization", format!("GenieKey {}", self.api_key))];
        post_json(&self.client, &url, &auth, body, self.timeout).await
    }
}

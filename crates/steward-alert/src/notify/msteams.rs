//! Microsoft Teams incoming webhooks: a `MessageCard` with a title, a
//! text and a theme colour (red firing, green resolved), as
//! Alertmanager's `msteams_configs` sends it.

use std::time::Duration;

use serde_json::json;

use super::{Integration, Notification, NotifyError, Status, post_json, template::Renderer};

/// A Teams channel's incoming webhook.
#[derive(Debug, Clone)]
pub struct MsTeams {
    /// The webhook URL (a secret).
    pub webhook_url: String,
    /// The title template.
    pub title: String,
    /// The text template.
    pub text: String,
    /// Whether resolved notifications are sent.
    pub send_resolved: bool,
    /// One request's limit.
    pub timeout: Duration,
    /// The texts' renderer.
    pub renderer: Renderer,
    /// The HTTP client.
    pub client: reqwest::Client,
}

impl MsTeams {
    /// The card `notification` becomes.
    pub fn card(&self, notification: &Notification) -> serde_json::Value {
        let r = |t: &str| self.renderer.render_or_error(t, notification);
        let title = r(&self.title);
        json!({
            "@context": "http://schema.org/extensions",
            "type": "MessageCard",
            "title": title,
            "summary": title,
            "text": r(&self.text),
            "themeColor": match notification.status() {
                Status::Firing => "8C1A1A",
                Status::Resolved => "2DC72D",
            },
        })
    }
}

#[async_trait::async_trait]
impl Integration for MsTeams {
    fn kind(&self) -> &'static str {
        "msteams"
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(&self.card(notification))
            .map_err(|e| NotifyError::Permanent(e.to_string()))?;
        post_json(&self.client, &self.webhook_url, &[], body, self.timeout).await
    }
}

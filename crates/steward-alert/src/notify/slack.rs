//! Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat
//! accept the same payload): one message with one attachment whose
//! title, text and colour come from templates, as Alertmanager's
//! `slack_configs` sends it.

use std::time::Duration;

use serde_json::json;

use super::{Integration, Notification, NotifyError, post_json, template::Renderer};

/// The colour of a firing message (`danger`) or a resolved one (`good`).
pub const DEFAULT_COLOR: &str = r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#;

/// A Slack-compatible receiver.
#[derive(Debug, Clone)]
pub struct Slack {
    /// The incoming webhook URL (a secret: never logged).
    pub api_url: String,
    /// The channel, when the webhook lets the sender choose.
    pub channel: Option<String>,
    /// The name shown as the sender.
    pub username: Option<String>,
    /// Title, title link, text, fallback and colour templates.
    pub title: String,
    /// The link of the title.
    pub title_link: String,
    /// The body.
    pub text: String,
    /// The plain-text summary for clients that cannot show attachments.
    pub fallback: String,
    /// The attachment's colour.
    pub color: String,
    /// Whether resolved notifications are sent.
    pub send_resolved: bool,
    /// One request's limit.
    pub timeout: Duration,
    /// The texts' renderer.
    pub renderer: Renderer,
    /// The HTTP client.
    pub client: reqwest::Client,
}

impl Slack {
    /// The message `notification` becomes.
    pub fn payload(&self, notification: &Notification) -> serde_json::Value {
        let r = |t: &str| self.renderer.render_or_error(t, notification);
        let mut message = json!({
            "attachments": [{
                "title": r(&self.title),
                "title_link": r(&self.title_link),
                "text": r(&self.text),
                "fallback": r(&self.fallback),
                "color": r(&self.color),
                "mrkdwn_in": ["fallback", "pretext", "text"],
            }],
        });
        if let Some(channel) = &self.channel {
            message["channel"] = json!(channel);
        }
        if let Some(username) = &self.username {
            message["username"] = json!(username);
        }
        message
    }
}

#[async_trait::async_trait]
impl Integration for Slack {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(&self.payload(notification))
            .map_err(|e| NotifyError::Permanent(e.to_string()))?;
        post_json(&self.client, &self.api_url, &[], body, self.timeout).await
    }
}

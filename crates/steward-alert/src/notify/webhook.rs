//! Alertmanager's webhook: the version-4 JSON payload POSTed to a URL,
//! at most `max_alerts` alerts (the rest counted in `truncatedAlerts`),
//! with an optional HMAC-SHA256 signature of the body so the receiver
//! can check it came from steward: `X-Steward-Signature-256:
//! sha256=<hex>` (GitHub's scheme, which receivers already know how to
//! verify).

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Integration, Notification, NotifyError, post_json};

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Steward-Signature-256";

/// A webhook receiver.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Where the payload is POSTed.
    pub url: String,
    /// At most this many alerts per payload (0: all).
    pub max_alerts: usize,
    /// Whether resolved notifications are sent.
    pub send_resolved: bool,
    /// The HMAC key the body is signed with, if any.
    pub hmac_secret: Option<String>,
    /// One request's limit.
    pub timeout: Duration,
    /// The HTTP client (its `http_config`'s, [`super::http::client`]).
    pub client: reqwest::Client,
}

/// `sha256=<hex>` of `body` keyed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait::async_trait]
impl Integration for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(&notification.data(self.max_alerts))
            .map_err(|e| NotifyError::Permanent(e.to_string()))?;
        let headers: Vec<(&str, String)> = self
            .hmac_secret
            .as_deref()
            .map(|secret| (SIGNATURE_HEADER, signature(secret, &body)))
            .into_iter()
            .collect();
        post_json(&self.client, &self.url, &headers, body, self.timeout).await
    }
}

//! Where alerts go: the notifier (Alertmanager client) implements
//! [`AlertSink`]; the rule engine hands it the alerts due at each
//! evaluation, shaped as Prometheus' notifier receives them. Changes of
//! state (pending, firing, resolved) go to an [`AlertListener`] (the
//! server journals them).

use steward_metrics::Labels;

use crate::rule::{Alert, AlertState};

/// An alert as sent to Alertmanager.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifiedAlert {
    /// The alert's labels (the notifier adds the external labels).
    pub labels: Labels,
    /// Its expanded annotations.
    pub annotations: Labels,
    /// When it started firing (ms since the epoch).
    pub starts_at_ms: i64,
    /// When it was resolved, or until when it holds if still firing (ms).
    pub ends_at_ms: i64,
    /// A link to the rule's expression in the expression browser.
    pub generator_url: String,
    /// Its state: firing, or inactive once resolved.
    pub state: AlertState,
}

impl NotifiedAlert {
    /// The alert of rule expression `expr` as sent; `external_url` is the
    /// base of the generator URL.
    pub fn new(alert: &Alert, expr: &str, external_url: &str) -> Self {
        let escaped: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
        Self {
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at_ms: alert.fired_at.unwrap_or(alert.active_at),
            ends_at_ms: alert.resolved_at.unwrap_or(alert.valid_until),
            generator_url: format!(
                "{}/graph?g0.expr={escaped}&g0.tab=1",
                external_url.trim_end_matches('/')
            ),
            state: alert.state,
        }
    }
}

/// Receives the alerts due at each group evaluation.
#[async_trait::async_trait]
pub trait AlertSink: Send + Sync + 'static {
    /// Takes a batch of alerts (never empty). Delivery and its retries are
    /// the sink's business: the engine does not wait for Alertmanager.
    async fn send(&self, alerts: Vec<NotifiedAlert>);
}

/// A sink that drops every alert (rules without Alertmanager).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardSink;

#[async_trait::async_trait]
impl AlertSink for DiscardSink {
    async fn send(&self, _alerts: Vec<NotifiedAlert>) {}
}

/// One alert's change of state at an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertTransition {
    /// The key of the rule's group (`file;name`).
    pub group: String,
    /// The alerting rule's name (`alertname`).
    pub rule: String,
    /// The alert's labels.
    pub labels: Labels,
    /// Its expanded annotations.
    pub annotations: Labels,
    /// The state before (`Inactive` for a new alert).
    pub from: AlertState,
    /// The state now (`Inactive`: resolved, or a pending alert gone).
    pub to: AlertState,
    /// The expression's value at the evaluation (the last one seen when
    /// the alert is gone).
    pub value: f64,
    /// The evaluation's timestamp (ms).
    pub at_ms: i64,
    /// Since when the alert was active (ms).
    pub active_at_ms: i64,
}

/// Told of every change of an alert's state, after each group
/// evaluation that changed something.
#[async_trait::async_trait]
pub trait AlertListener: Send + Sync + 'static {
    /// Takes the changes of one evaluation (never empty), in rule order.
    async fn transitions(&self, changes: Vec<AlertTransition>);
}

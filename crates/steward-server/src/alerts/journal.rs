//! The AlertManager's journal listeners: delivery tries, alerts starting
//! and stopping (for sources other than steward's rules) and hand-offs to
//! incidents, each as a journal event with bounded strings.

use std::collections::HashMap;

use serde_json::json;
use steward_alert::{
    AlertManagerEvent, LabelSet, dispatch,
    handoff::{GroupHandoff, IncidentSink},
    manager::{Source, StateChange, StateListener},
    notify::{Attempt, receivers::AttemptListener},
};
use steward_core::{Actor, NewEvent, Severity};
use steward_store::Store;

use crate::events::bounded;
use tokio::sync::mpsc;

/// Groups handed to incidents are journaled when a group first reaches
/// the incident severity and whenever its set of firing alerts changes
/// (not at every flush), and then passed to the IncidentManager, once it
/// is set, as the firing alerts of the group (none: it resolved).
pub(super) struct JournalHandoffs {
    pub(super) store: Store,
    pub(super) last: parking_lot::Mutex<HashMap<String, Vec<String>>>,
    pub(super) incidents: std::sync::OnceLock<steward_incident::IncidentManager>,
}

#[async_trait::async_trait]
impl IncidentSink for JournalHandoffs {
    async fn hand_off(&self, group: GroupHandoff) {
        let mut firing: Vec<String> = group
            .alerts
            .iter()
            .filter(|a| a.ends_at.is_none_or(|end| end > group.at))
            .map(|a| a.fingerprint().to_string())
            .collect();
        firing.sort();
        {
            let mut last = self.last.lock();
            if last.get(&group.group_key) == Some(&firing) {
                return;
            }
            if firing.is_empty() {
                last.remove(&group.group_key);
            } else {
                last.insert(group.group_key.clone(), firing.clone());
            }
        }
        let summary = format!(
            "alert group {} ({}) handed to incidents: {} firing of {}",
            bounded(&group.group_key, 512),
            group.severity,
            firing.len(),
            group.alerts.len()
        );
        let event = NewEvent::new(
            AlertManagerEvent::IncidentHandoff.kind(),
            Actor::system(),
            summary,
        )
        .severity(match group.severity.as_str() {
            "critical" => Severity::Critical,
            "error" => Severity::Error,
            _ => Severity::Warning,
        })
        .payload(json!({
            "group_key": bounded(&group.group_key, 1024),
            "receiver": group.receiver,
            "severity": group.severity,
            "group_labels": group.group_labels,
            "firing": firing,
            "alerts": group.alerts.iter().map(|a| json!({
                "fingerprint": a.fingerprint().to_string(),
                "labels": a.labels,
                "starts_at": a.starts_at,
                "ends_at": a.ends_at,
            })).collect::<Vec<_>>(),
        }));
        if let Err(err) = self.store.append(event).await {
            tracing::warn!(error = %err, "cannot journal an incident hand-off");
        }
        let Some(manager) = self.incidents.get() else {
            return;
        };
        let view = steward_incident::policy::AlertGroupView {
            key: group.group_key.clone(),
            alerts: group
                .alerts
                .iter()
                .filter(|a| a.ends_at.is_none_or(|end| end > group.at))
                .map(|a| steward_incident::policy::AlertView {
                    labels: a
                        .labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    starts_at: a.starts_at,
                })
                .collect(),
        };
        if let Err(err) = manager.alert_group(view).await {
            tracing::warn!(group = %group.group_key, error = %err, "the incident manager cannot take an alert group");
        }
    }
}

/// The longest label or annotation name or value journaled (a sender's
/// values are unbounded).
pub(super) const MAX_JOURNALED_VALUE: usize = 1024;

/// The most labels, and annotations, journaled per alert.
pub(super) const MAX_JOURNALED_LABELS: usize = 64;

/// The most events journaled in one transaction.
pub(super) const JOURNAL_BATCH: usize = 256;

pub(super) async fn journal_all(store: &Store, events: Vec<NewEvent>) -> steward_store::Result<()> {
    let mut tx = store.begin().await?;
    for event in events {
        tx.append(event).await?;
    }
    tx.commit().await
}

/// Journals alerts from sources other than steward's rules as they start
/// and stop firing (the rules journal their own alerts' changes).
pub(super) struct JournalStates(pub(super) mpsc::UnboundedSender<NewEvent>);

impl StateListener for JournalStates {
    fn changed(&self, alert: &steward_alert::alert::Alert, change: StateChange, source: Source) {
        if source == Source::Rules {
            return;
        }
        let _ = self.0.send(state_event(alert, change, source));
    }
}

/// The journal event of an alert that started or stopped firing; label
/// and annotation values bounded as every journaled string from a sender.
pub(super) fn state_event(
    alert: &steward_alert::alert::Alert,
    change: StateChange,
    source: Source,
) -> NewEvent {
    let name = alert
        .labels
        .get("alertname")
        .map_or("(unnamed)", String::as_str);
    let name = bounded(name, MAX_JOURNALED_VALUE);
    let (kind, severity, summary) = match change {
        StateChange::Firing => (
            AlertManagerEvent::AlertFiring,
            alert_severity(alert),
            format!("alert {name} firing ({})", source.as_str()),
        ),
        StateChange::Resolved => (
            AlertManagerEvent::AlertResolved,
            Severity::Info,
            format!("alert {name} resolved ({})", source.as_str()),
        ),
    };
    let bound = |set: &LabelSet| -> serde_json::Map<String, serde_json::Value> {
        set.iter()
            .take(MAX_JOURNALED_LABELS)
            .map(|(k, v)| {
                (
                    bounded(k, MAX_JOURNALED_VALUE),
                    bounded(v, MAX_JOURNALED_VALUE).into(),
                )
            })
            .collect()
    };
    let mut event = NewEvent::new(kind.kind(), Actor::system(), summary)
        .severity(severity)
        .payload(json!({
            "fingerprint": alert.fingerprint().to_string(),
            "source": source.as_str(),
            "labels": bound(&alert.labels),
            "annotations": bound(&alert.annotations),
            "starts_at": alert.starts_at,
            "ends_at": alert.ends_at,
            "generator_url": bounded(&alert.generator_url, MAX_JOURNALED_VALUE),
        }));
    if let Some(service) = alert
        .labels
        .get("service")
        .and_then(|s| steward_core::Name::new(s).ok())
    {
        event = event.service(service);
    }
    event
}

/// The severity an alert's `severity` label names (warning otherwise).
pub(super) fn alert_severity(alert: &steward_alert::alert::Alert) -> Severity {
    alert
        .labels
        .get("severity")
        .and_then(|s| s.parse().ok())
        .unwrap_or(Severity::Warning)
}

/// Journals every delivery try.
pub(super) struct JournalAttempts(pub(super) mpsc::UnboundedSender<NewEvent>);

impl AttemptListener for JournalAttempts {
    fn attempted(&self, integration: &dispatch::Integration, group_key: &str, attempt: &Attempt) {
        let _ = self.0.send(attempt_event(integration, group_key, attempt));
    }
}

/// The journal event of one delivery try.
pub(super) fn attempt_event(
    integration: &dispatch::Integration,
    group_key: &str,
    attempt: &Attempt,
) -> NewEvent {
    let latency_ms = u64::try_from(attempt.latency.as_millis()).unwrap_or(u64::MAX);
    let target = format!(
        "{}/{}[{}]",
        integration.receiver, integration.kind, integration.index
    );
    let (kind, severity, summary) = match &attempt.error {
        None => (
            AlertManagerEvent::NotificationSent,
            Severity::Info,
            format!(
                "notified {target} (attempt {}, {latency_ms} ms)",
                attempt.number
            ),
        ),
        Some(err) => (
            AlertManagerEvent::NotificationFailed,
            Severity::Warning,
            format!(
                "notifying {target} failed (attempt {}): {err}",
                attempt.number
            ),
        ),
    };
    NewEvent::new(kind.kind(), Actor::system(), summary)
        .severity(severity)
        .payload(json!({
            "receiver": integration.receiver,
            "integration": integration.kind,
            "index": integration.index,
            "group_key": group_key,
            "attempt": attempt.number,
            "latency_ms": latency_ms,
            "error": attempt.error.as_ref().map(ToString::to_string),
        }))
}

//! PagerDuty's Events API v2 (`POST /v2/enqueue`), as PagerDuty accepts
//! and answers it: a `trigger` event becomes a firing alert labelled with
//! its `dedup_key` (generated when missing, and returned), its severity,
//! source, component, group and class (`alertname`, default
//! `PagerDutyEvent`); `acknowledge` and `resolve` name the alert by
//! `dedup_key` only. Invalid events are refused with PagerDuty's 400
//! body: `{"status": "invalid event", "message": "Event object is
//! invalid", "errors": [...]}`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::LabelSet;
use crate::alert::IncomingAlert;

/// PagerDuty's limit on `payload.summary`, and on `dedup_key`.
const MAX_SUMMARY: usize = 1024;
const MAX_DEDUP_KEY: usize = 255;

/// The label that carries an event's `dedup_key`.
pub const DEDUP_KEY_LABEL: &str = "dedup_key";

/// An event as PagerDuty's API takes it.
#[derive(Debug, Deserialize)]
struct RawEvent {
    #[serde(default)]
    routing_key: Option<String>,
    #[serde(default)]
    event_action: Option<String>,
    #[serde(default)]
    dedup_key: Option<String>,
    #[serde(default)]
    payload: Option<RawPayload>,
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    client_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawPayload {
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    component: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    custom_details: Option<Value>,
}

/// What an accepted event asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open (or refresh) the alert.
    Trigger(IncomingAlert),
    /// Someone is on it: the alert stays firing, acknowledged.
    Acknowledge,
    /// It is over.
    Resolve,
}

/// An accepted event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The integration's routing key (which service it is for).
    pub routing_key: String,
    /// The alert's key across the event's trigger, acknowledge and
    /// resolve.
    pub dedup_key: String,
    /// What to do.
    pub action: Action,
}

/// An event refused: PagerDuty's 400 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<String>);

impl Invalid {
    /// The answer's JSON body.
    pub fn body(&self) -> Value {
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": self.0})
    }
}

/// The answer to an accepted event (202).
pub fn accepted_body(dedup_key: &str) -> Value {
    json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key})
}

/// Reads an event; `new_key` makes a `dedup_key` for a trigger that has
/// none.
pub fn parse(body: &[u8], new_key: impl FnOnce() -> String) -> Result<Event, Invalid> {
    let raw: RawEvent = serde_json::from_slice(body)
        .map_err(|e| Invalid(vec![format!("the body is not a JSON event object: {e}")]))?;
    let mut errors = Vec::new();
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    if blank(&raw.routing_key) {
        errors.push("'routing_key' is missing or blank".to_owned());
    }
    let action = raw.event_action.as_deref().unwrap_or_default();
    if !matches!(action, "trigger" | "acknowledge" | "resolve") {
        errors.push("'event_action' must be one of trigger, acknowledge or resolve".to_owned());
    }
    if let Some(key) = &raw.dedup_key
        && key.chars().count() > MAX_DEDUP_KEY
    {
        errors.push(format!(
            "'dedup_key' is longer than {MAX_DEDUP_KEY} characters"
        ));
    }
    if action != "trigger" && blank(&raw.dedup_key) {
        errors.push(format!("'dedup_key' is required for the {action} action"));
    }
    let mut trigger = None;
    if action == "trigger" {
        match &raw.payload {
            None => errors.push("'payload' is missing".to_owned()),
            Some(p) => {
                for (field, value) in [("summary", &p.summary), ("source", &p.source)] {
                    if blank(value) {
                        errors.push(format!("'payload.{field}' is missing or blank"));
                    }
                }
                let severity = p.severity.as_deref().unwrap_or_default();
                if !matches!(severity, "critical" | "error" | "warning" | "info") {
                    errors.push(
                        "'payload.severity' must be one of critical, error, warning or info"
                            .to_owned(),
                    );
                }
                let starts_at = match p.timestamp.as_deref() {
                    None => None,
                    Some(t) => match DateTime::parse_from_rfc3339(t) {
                        Ok(t) => Some(t.with_timezone(&Utc)),
                        Err(_) => {
                            errors.push("'payload.timestamp' is not an ISO 8601 time".to_owned());
                            None
                        }
                    },
                };
                trigger = Some((p, starts_at));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Invalid(errors));
    }
    let dedup_key = match raw.dedup_key.filter(|k| !k.trim().is_empty()) {
        Some(key) => key,
        None => new_key(),
    };
    let action = match (action, trigger) {
        ("trigger", Some((p, starts_at))) => {
            let mut labels = LabelSet::new();
            let mut set = |name: &str, value: &Option<String>| {
                if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                    labels.insert(name.to_owned(), v.to_owned());
                }
            };
            set(
                "alertname",
                &p.class.clone().or(Some("PagerDutyEvent".to_owned())),
            );
            set("severity", &p.severity);
            set("source", &p.source);
            set("component", &p.component);
            set("group", &p.group);
            labels.insert(DEDUP_KEY_LABEL.to_owned(), dedup_key.clone());
            let mut annotations = BTreeMap::new();
            let summary: String = p
                .summary
                .clone()
                .unwrap_or_default()
                .chars()
                .take(MAX_SUMMARY)
                .collect();
            annotations.insert("summary".to_owned(), summary);
            if let Some(details) = &p.custom_details {
                annotations.insert("custom_details".to_owned(), details.to_string());
            }
            if let Some(client) = &raw.client {
                annotations.insert("client".to_owned(), client.clone());
            }
            Action::Trigger(IncomingAlert {
                labels,
                annotations,
                starts_at,
                ends_at: None,
                generator_url: raw.client_url.unwrap_or_default(),
            })
        }
        ("acknowledge", _) => Action::Acknowledge,
        _ => Action::Resolve,
    };
    Ok(Event {
        routing_key: raw.routing_key.unwrap_or_default(),
        dedup_key,
        action,
    })
}

#[cfg(test)]
mod tests;

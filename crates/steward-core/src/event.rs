//! The journal's unit: an [`Event`] records one action or observation.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::{Error, Name, Result, Severity, Version, name::validated_string};

/// Longest summary kept; longer ones are cut, since a summary is one line
/// for tables and notifications, and details belong in the payload.
pub const MAX_SUMMARY_CHARS: usize = 512;

/// Position of an event in the journal. Ids increase in commit order, so a
/// reader that has seen id `n` has seen every event up to `n`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct EventId(pub i64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

validated_string! {
    /// A dotted lowercase event kind such as `deploy.step.completed`. The
    /// first segment names the domain, so prefix queries (`deploy`) select
    /// a whole domain.
    EventKind, validate = validate_kind, schema = "EventKind", pattern = "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$",
    description = "A dotted lowercase identifier, e.g. `deploy.step.completed`, at most 128 characters",
    max_length = 128
}

fn validate_kind(value: &str) -> Result<()> {
    let err = |reason| {
        Err(Error::InvalidEventKind {
            value: value.to_owned(),
            reason,
        })
    };
    if value.is_empty() || value.len() > 128 {
        return err("must be 1 to 128 characters");
    }
    for segment in value.split('.') {
        if !segment.starts_with(|c: char| c.is_ascii_lowercase()) {
            return err("each dot-separated segment must start with a lowercase letter");
        }
        if !segment
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return err("segments may only contain lowercase letters, digits and `_`");
        }
    }
    Ok(())
}

validated_string! {
    /// Who did something: `system` for steward itself, `token:<name>` for an
    /// API token, or another short printable identifier.
    Actor, validate = validate_actor, schema = "Actor", pattern = "^[^\\p{Cc}]{1,128}$",
    description = "Who did something, e.g. `system` or `token:ci`"
}

fn validate_actor(value: &str) -> Result<()> {
    if value.is_empty() || value.chars().count() > 128 || value.chars().any(char::is_control) {
        return Err(Error::InvalidActor(value.to_owned()));
    }
    Ok(())
}

impl Actor {
    /// Steward itself (startup, background tasks, automatic rollbacks).
    pub fn system() -> Self {
        Actor("system".to_owned())
    }

    /// An API token, by its name.
    pub fn token(name: &Name) -> Self {
        Actor(format!("token:{name}"))
    }
}

/// An event as stored in the journal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Journal position.
    pub id: EventId,
    /// When the event was recorded.
    pub time: DateTime<Utc>,
    /// What happened, as a dotted kind.
    pub kind: EventKind,
    /// The service concerned, if any.
    pub service: Option<Name>,
    /// The release version concerned, if any.
    pub version: Option<Version>,
    /// Who caused it.
    pub actor: Actor,
    /// How serious it is.
    pub severity: Severity,
    /// One line for humans.
    pub summary: String,
    /// Structured details: an object, or `null` when there are none.
    #[schema(value_type = Object, nullable)]
    pub payload: serde_json::Value,
}

/// An event about to be appended; the journal assigns id and time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// The service concerned, if any.
    pub service: Option<Name>,
    /// The release version concerned, if any.
    pub version: Option<Version>,
    /// Who caused it.
    pub actor: Actor,
    /// How serious it is.
    pub severity: Severity,
    /// One line for humans.
    pub summary: String,
    /// Structured details (`null` when there are none).
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// An info event with no service, version or payload. The summary is
    /// reduced to one line of at most [`MAX_SUMMARY_CHARS`] characters.
    pub fn new(kind: EventKind, actor: Actor, summary: impl Into<String>) -> Self {
        NewEvent {
            kind,
            service: None,
            version: None,
            actor,
            severity: Severity::Info,
            summary: one_line(&summary.into()),
            payload: serde_json::Value::Null,
        }
    }

    /// Sets the service concerned.
    pub fn service(mut self, service: Name) -> Self {
        self.service = Some(service);
        self
    }

    /// Sets the version concerned.
    pub fn version(mut self, version: Version) -> Self {
        self.version = Some(version);
        self
    }

    /// Sets the severity.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Sets the structured payload.
    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }
}

/// Collapses whitespace runs (newlines included) into single spaces and cuts
/// the text to [`MAX_SUMMARY_CHARS`] characters.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_SUMMARY_CHARS));
    for (count, word) in text.split_whitespace().enumerate() {
        if count > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    match out.char_indices().nth(MAX_SUMMARY_CHARS) {
        Some((cut, _)) => {
            out.truncate(cut);
            out
        }
        None => out,
    }
}

#[cfg(test)]
mod tests;

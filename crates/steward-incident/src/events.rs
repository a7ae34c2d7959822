//! The journal event kinds of incidents, one catalogue that the incident
//! manager writes from and the API, the CLI and timelines match against,
//! and the event each [`Change`] of an incident is journaled as.

use serde_json::json;
use steward_core::{Actor, Name, NewEvent, Severity as EventSeverity};

use crate::incident::{Change, Incident, Severity, Status};

steward_core::event_catalogue! {
    /// Every kind of event an incident journals.
    pub enum IncidentEvent in "incident" {
        /// An incident was opened (from an alert group, or by hand).
        Opened => "incident.opened",
        /// Someone acknowledged it.
        Acknowledged => "incident.acknowledged",
        /// Nobody is on it any more (an acknowledgement timed out).
        Unacknowledged => "incident.unacknowledged",
        /// Its impact is over.
        Mitigated => "incident.mitigated",
        /// It is over.
        Resolved => "incident.resolved",
        /// It is back.
        Reopened => "incident.reopened",
        /// Its severity changed.
        SeverityChanged => "incident.severity_changed",
        /// Its commander, assignees or alert groups changed.
        Updated => "incident.updated",
        /// Someone on call was paged about it.
        Paged => "incident.paged",
        /// A page could not be delivered.
        PageFailed => "incident.page_failed",
        /// A person wrote a note on it.
        Note => "incident.note",
        /// A step of its response plan started, waits, succeeded, failed,
        /// or was approved, retried, skipped or done by a person.
        Step => "incident.step",
        /// An action item was added or changed.
        ActionItem => "incident.action_item",
    }
}

/// The journal's severity for an incident's events: SEV1 critical, SEV2
/// error, SEV3 warning, SEV4 info.
fn event_severity(severity: Severity) -> EventSeverity {
    match severity {
        Severity::Sev1 => EventSeverity::Critical,
        Severity::Sev2 => EventSeverity::Error,
        Severity::Sev3 => EventSeverity::Warning,
        Severity::Sev4 => EventSeverity::Info,
    }
}

/// An event of `incident` (its state after the change): the service when
/// it names exactly one, the incident's id, status and severity in the
/// payload with `details`.
fn event(
    kind: IncidentEvent,
    incident: &Incident,
    actor: &Actor,
    summary: String,
    details: &serde_json::Value,
) -> NewEvent {
    let mut event = NewEvent::new(kind.kind(), actor.clone(), summary)
        .severity(event_severity(incident.severity))
        .payload(json!({
            "incident": incident.id,
            "status": incident.status.as_str(),
            "severity": incident.severity.as_str(),
            "details": details,
        }));
    if let [service] = incident.services.iter().collect::<Vec<_>>()[..]
        && let Ok(name) = Name::new(service)
    {
        event = event.service(name);
    }
    event
}

/// The event of an opened incident.
pub fn opened(incident: &Incident, actor: &Actor) -> NewEvent {
    event(
        IncidentEvent::Opened,
        incident,
        actor,
        format!(
            "{} {} opened: {}",
            incident.severity, incident.id, incident.title
        ),
        &json!({
            "title": incident.title,
            "services": incident.services,
            "dedup_key": incident.dedup_key,
        }),
    )
}

/// The event of a page to `user` at escalation `level` (0 first) of
/// `round`: what was sent, or why it failed.
pub fn paged(
    incident: &Incident,
    user: &str,
    level: usize,
    round: u32,
    outcome: &std::result::Result<String, String>,
) -> NewEvent {
    let id = &incident.id;
    let (kind, summary) = match outcome {
        Ok(sent) => (
            IncidentEvent::Paged,
            format!("{id}: paged {user} (level {}): {sent}", level + 1),
        ),
        Err(error) => (
            IncidentEvent::PageFailed,
            format!("{id}: paging {user} (level {}) failed: {error}", level + 1),
        ),
    };
    event(
        kind,
        incident,
        &Actor::system(),
        summary,
        &json!({
            "user": user,
            "level": level + 1,
            "round": round + 1,
            "sent": outcome.as_ref().ok(),
            "error": outcome.as_ref().err(),
        }),
    )
}

/// The event of a note by `actor`.
pub fn note(incident: &Incident, actor: &Actor, text: &str) -> NewEvent {
    event(
        IncidentEvent::Note,
        incident,
        actor,
        format!("{}: note by {actor}: {text}", incident.id),
        &json!({"text": text}),
    )
}

/// The event of what happened to step `index` (0 first) of the
/// incident's plan, `line` saying it.
pub fn step(incident: &Incident, actor: &Actor, index: usize, line: &str) -> NewEvent {
    let run = incident.plan.as_ref();
    let state = run
        .and_then(|run| run.steps.get(index))
        .map(|step| serde_json::to_value(&step.state).unwrap_or_default());
    let action = run
        .and_then(|run| run.steps.get(index))
        .map(|step| serde_json::to_value(&step.spec.action).unwrap_or_default());
    event(
        IncidentEvent::Step,
        incident,
        actor,
        format!("{}: {line}", incident.id),
        &json!({
            "plan": run.map(|run| run.plan.as_str()),
            "step": index + 1,
            "action": action,
            "state": state,
        }),
    )
}

/// The event of action item `item` added or changed.
pub fn action_item(
    incident: &Incident,
    actor: &Actor,
    item: &crate::postmortem::ActionItem,
    added: bool,
) -> NewEvent {
    let what = if added { "added" } else { "changed" };
    event(
        IncidentEvent::ActionItem,
        incident,
        actor,
        format!(
            "{}: action item {} {what}: {}",
            incident.id, item.id, item.title
        ),
        &json!({"item": item, "added": added}),
    )
}

/// The event `change` is journaled as; none for no change.
pub fn changed(incident: &Incident, change: &Change, actor: &Actor) -> Option<NewEvent> {
    let id = &incident.id;
    Some(match change {
        Change::None => return None,
        Change::Status { from, to } => {
            let kind = match (from, to) {
                (_, Status::Acknowledged) => IncidentEvent::Acknowledged,
                (Status::Acknowledged, Status::Triggered) => IncidentEvent::Unacknowledged,
                (_, Status::Triggered) => IncidentEvent::Reopened,
                (_, Status::Mitigated) => IncidentEvent::Mitigated,
                (_, Status::Resolved) => IncidentEvent::Resolved,
            };
            event(
                kind,
                incident,
                actor,
                format!("{id} {} by {actor}", to.as_str()),
                &json!({"from": from.as_str(), "to": to.as_str()}),
            )
        }
        Change::Severity { from, to } => event(
            IncidentEvent::SeverityChanged,
            incident,
            actor,
            format!("{id} is {to} (was {from})"),
            &json!({"from": from.as_str(), "to": to.as_str()}),
        ),
        Change::Field(field) => event(
            IncidentEvent::Updated,
            incident,
            actor,
            match *field {
                "firing_groups" => format!(
                    "{id}: an alert group stopped firing ({} of {} still firing)",
                    incident.firing_groups.len(),
                    incident.alert_groups.len()
                ),
                "alert_groups" => format!(
                    "{id}: alert groups firing: {} of {} ({})",
                    incident.firing_groups.len(),
                    incident.alert_groups.len(),
                    incident
                        .services
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => format!("{id}: {field} changed"),
            },
            &json!({
                "field": field,
                "commander": incident.commander,
                "assignees": incident.assignees,
                "alert_groups": incident.alert_groups,
                "firing_groups": incident.firing_groups,
                "services": incident.services,
            }),
        ),
    })
}

#[cfg(test)]
mod tests;

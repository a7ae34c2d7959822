//! Postmortems in the form of Google's SRE book (summary, impact, root
//! causes and trigger, detection, resolution, timeline, action items,
//! lessons learned), written from what the incident recorded: its
//! times, its impact, the ranked root-cause candidates, its timeline and
//! its action items. Sections only people can write are left with a
//! prompt; everything the data says is filled in.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{incident::Incident, rca::Candidate};

/// What a timeline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// An alert fired or resolved.
    Alert,
    /// A notification or page was sent.
    Notification,
    /// The incident changed status or severity.
    Status,
    /// An escalation to another level.
    Escalation,
    /// A response-plan action and its outcome.
    Action,
    /// A change (deployment, migration) on an affected service.
    Change,
    /// A note by a person.
    Note,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// What kind.
    pub kind: EntryKind,
    /// What happened, in a line.
    pub text: String,
}

/// What an action item is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Reduces the impact of the next such incident.
    Mitigate,
    /// Keeps it from happening again.
    Prevent,
    /// Changes how people work.
    Process,
}

/// Where an action item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Nobody started it.
    Open,
    /// Someone works on it.
    InProgress,
    /// Done.
    Done,
}

/// A tracked action item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItem {
    /// Its id.
    pub id: String,
    /// What to do.
    pub title: String,
    /// What for.
    pub kind: ActionKind,
    /// Who does it.
    pub owner: Option<String>,
    /// Where it is.
    pub status: ActionStatus,
}

/// What a postmortem is written from.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// The incident.
    pub incident: &'a Incident,
    /// Its impact, in sentences.
    pub impact: &'a [String],
    /// Root-cause candidates, best first.
    pub candidates: &'a [Candidate],
    /// Its timeline, in time order.
    pub timeline: &'a [TimelineEntry],
    /// Its action items.
    pub action_items: &'a [ActionItem],
}

const TO_FILL: &str = "_(to be written by the responders)_";

/// The postmortem in Markdown.
pub fn postmortem(sources: &Sources<'_>) -> String {
    let incident = sources.incident;
    let durations = incident.durations();
    let mut md = String::new();
    let mut line = |text: &str| {
        md.push_str(text);
        md.push('\n');
    };
    line(&format!(
        "# Postmortem: {} ({})",
        incident.title, incident.id
    ));
    line("");
    line(&format!(
        "**Status:** draft · **Severity:** {} · **Date:** {} · **Incident commander:** {}",
        incident.severity,
        incident.opened_at.format("%Y-%m-%d"),
        incident.commander.as_deref().unwrap_or("none named")
    ));
    line("");
    line("## Summary");
    line("");
    let mut summary = format!("{}.", incident.title);
    if let Some(top) = sources.candidates.first() {
        summary.push_str(&format!(
            " The likeliest cause is the {} {} ({}).",
            kind_noun(top),
            top.change.id,
            top.change.summary
        ));
    }
    summary.push_str(&format!(" Opened {}", time(incident.opened_at)));
    if let Some(d) = durations.detect {
        summary.push_str(&format!(", {} after the first alert", span(d)));
    }
    summary.push('.');
    for (what, d) in [
        ("Acknowledged", durations.acknowledge),
        ("mitigated", durations.mitigate),
        ("resolved", durations.resolve),
    ] {
        if let Some(d) = d {
            summary.push_str(&format!(" {what} {} after opening;", span(d)));
        }
    }
    line(summary.trim_end_matches(';'));
    line("");
    line("## Impact");
    line("");
    if sources.impact.is_empty() {
        line(TO_FILL);
    }
    for sentence in sources.impact {
        line(&format!("- {sentence}"));
    }
    line("");
    line("## Root causes");
    line("");
    match sources.candidates.split_first() {
        None => line(
            "No change (deployment, migration, configuration change or optimization) on the affected services or their dependencies came before the first alert within the window looked at: the cause is outside steward's journal.",
        ),
        Some((top, others)) => {
            line(&format!(
                "Top candidate: **{} {}**, {}.",
                kind_noun(top),
                top.change.id,
                top.change.summary
            ));
            for evidence in &top.evidence {
                line(&format!("- {evidence}"));
            }
            if !others.is_empty() {
                line("");
                line("Other candidates, less likely:");
                for other in others {
                    line(&format!(
                        "- {} {} ({}), {}",
                        kind_noun(other),
                        other.change.id,
                        other.change.summary,
                        other.evidence.first().map_or("", String::as_str)
                    ));
                }
            }
        }
    }
    line("");
    line("## Trigger");
    line("");
    match sources.candidates.first() {
        Some(top) => line(&format!(
            "{} at {}: {}.",
            capitalized(kind_noun(top)),
            time(top.change.at),
            top.change.summary
        )),
        None => line(TO_FILL),
    }
    line("");
    line("## Detection");
    line("");
    let alerts: Vec<&TimelineEntry> = sources
        .timeline
        .iter()
        .filter(|e| e.kind == EntryKind::Alert)
        .collect();
    match alerts.first() {
        Some(first) => line(&format!(
            "First alert at {}: {}.",
            time(first.at),
            first.text
        )),
        None => line("Opened by hand, not from an alert."),
    }
    line("");
    line("## Resolution");
    line("");
    let actions: Vec<&TimelineEntry> = sources
        .timeline
        .iter()
        .filter(|e| e.kind == EntryKind::Action)
        .collect();
    if actions.is_empty() {
        line(TO_FILL);
    }
    for action in actions {
        line(&format!("- {} {}", time(action.at), action.text));
    }
    line("");
    line("## Timeline (UTC)");
    line("");
    line("| time | what | event |");
    line("|---|---|---|");
    for entry in sources.timeline {
        line(&format!(
            "| {} | {} | {} |",
            time(entry.at),
            entry_kind(entry.kind),
            entry.text.replace('|', "\\|")
        ));
    }
    line("");
    line("## Action items");
    line("");
    if sources.action_items.is_empty() {
        line(TO_FILL);
    } else {
        line("| id | action | type | owner | status |");
        line("|---|---|---|---|---|");
        for item in sources.action_items {
            line(&format!(
                "| {} | {} | {} | {} | {} |",
                item.id,
                item.title.replace('|', "\\|"),
                match item.kind {
                    ActionKind::Mitigate => "mitigate",
                    ActionKind::Prevent => "prevent",
                    ActionKind::Process => "process",
                },
                item.owner.as_deref().unwrap_or("unassigned"),
                match item.status {
                    ActionStatus::Open => "open",
                    ActionStatus::InProgress => "in progress",
                    ActionStatus::Done => "done",
                }
            ));
        }
    }
    line("");
    line("## Lessons learned");
    for section in ["What went well", "What went wrong", "Where we got lucky"] {
        line("");
        line(&format!("### {section}"));
        line("");
        line(TO_FILL);
    }
    md
}

fn kind_noun(candidate: &Candidate) -> &'static str {
    candidate.change.kind.noun()
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn entry_kind(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Alert => "alert",
        EntryKind::Notification => "notification",
        EntryKind::Status => "status",
        EntryKind::Escalation => "escalation",
        EntryKind::Action => "action",
        EntryKind::Change => "change",
        EntryKind::Note => "note",
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn span(d: TimeDelta) -> String {
    steward_core::format_duration(d.to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests;

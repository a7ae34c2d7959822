//! The journal event kinds the server writes itself: its own life, the
//! audit trail, API tokens and retention. Each domain of steward has its
//! catalogue (`DeployEvent` in steward-deploy, `MigrationEvent` in
//! steward-migrate); the prefixes of all of them are reserved, so that a
//! client cannot forge them through `POST /api/v1/events`. Also
//! [`bounded`], which every journaled string from a sender goes through.

use steward_deploy::DeployEvent;
use steward_migrate::MigrationEvent;

steward_core::event_catalogue! {
    /// Steward starting and stopping.
    pub enum StewardEvent in "steward" {
        /// The server started.
        Started => "steward.started",
        /// The server stopped.
        Stopped => "steward.stopped",
    }
}

steward_core::event_catalogue! {
    /// The audit trail of the API.
    pub enum AuditEvent in "audit" {
        /// A mutating call of a token, with its outcome.
        Request => "audit.request",
        /// A periodic summary of calls refused for want of a valid token.
        Denied => "audit.denied",
    }
}

steward_core::event_catalogue! {
    /// API tokens.
    pub enum TokenEvent in "token" {
        /// A token was created.
        Created => "token.created",
        /// A token was revoked.
        Revoked => "token.revoked",
    }
}

steward_core::event_catalogue! {
    /// Retention of the journal, logs and backups.
    pub enum RetentionEvent in "retention" {
        /// A retention pass removed or rotated something.
        Pruned => "retention.pruned",
    }
}

/// Prefixes of the domains steward has, or will have, whose events only
/// steward writes.
pub const RESERVED_KIND_PREFIXES: [&str; 15] = [
    StewardEvent::PREFIX,
    AuditEvent::PREFIX,
    TokenEvent::PREFIX,
    RetentionEvent::PREFIX,
    DeployEvent::PREFIX,
    MigrationEvent::PREFIX,
    steward_rules::AlertEvent::PREFIX,
    steward_rules::RulesEvent::PREFIX,
    steward_alert::AlertManagerEvent::PREFIX,
    steward_alert::AlertsConfigEvent::PREFIX,
    steward_incident::events::IncidentEvent::PREFIX,
    // Subsystems to come; reserved now so that no client's events are
    // mistaken for theirs later.
    "upgrade",
    "perf",
    "metrics",
    "api",
];

#[cfg(test)]
mod tests;

/// `text` cut to at most `max` characters, marked (`…`) when cut: what a
/// sender (a rule's labels, an alert's, an error) puts in the journal is
/// bounded.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

//! The journal event kinds of rule evaluation: alerts changing state and
//! rule files (re)loaded. One catalogue the server journals from and the
//! API, the CLI and later subsystems (the AlertManager, incidents) match
//! against, so that a renamed kind is a compile error.

use crate::rule::AlertState;

steward_core::event_catalogue! {
    /// An alert of an alerting rule changed state.
    pub enum AlertEvent in "alert" {
        /// Its expression returned it: active, for less than the rule's `for`.
        Pending => "alert.pending",
        /// Active for the rule's `for`: sent to the Alertmanagers.
        Firing => "alert.firing",
        /// No longer active (after firing), or gone before it fired.
        Resolved => "alert.resolved",
    }
}

steward_core::event_catalogue! {
    /// The rule files.
    pub enum RulesEvent in "rules" {
        /// The rule files were loaded (at start or on reload).
        Reloaded => "rules.reloaded",
        /// A reload found invalid rule files; the previous rules run on.
        ReloadFailed => "rules.reload_failed",
    }
}

impl AlertEvent {
    /// The event of an alert entering `state`.
    pub fn entering(state: AlertState) -> Self {
        match state {
            AlertState::Pending => AlertEvent::Pending,
            AlertState::Firing => AlertEvent::Firing,
            AlertState::Inactive => AlertEvent::Resolved,
        }
    }
}

//! The journal event kinds of the AlertManager: alerts starting and
//! stopping, every try at delivering a notification (the notification
//! history), acknowledgements, hand-offs and reloads of its
//! configuration. Catalogues the server journals from and the API and the
//! CLI match against, so that a renamed kind is a compile error.

steward_core::event_catalogue! {
    /// A notification delivery try.
    pub enum AlertManagerEvent in "alertmanager" {
        /// A receiver's integration took the notification.
        NotificationSent => "alertmanager.notification.sent",
        /// A try failed (it may be retried).
        NotificationFailed => "alertmanager.notification.failed",
        /// An alert from a source other than steward's rules (which
        /// journal their own) started firing.
        AlertFiring => "alertmanager.alert.firing",
        /// Such an alert resolved: sent resolved, or its end passed.
        AlertResolved => "alertmanager.alert.resolved",
        /// A PagerDuty sender acknowledged an alert (by its `dedup_key`).
        AlertAcknowledged => "alertmanager.alert.acknowledged",
        /// An alert group reached the incident severity (or its alerts
        /// changed): handed to incidents.
        IncidentHandoff => "alertmanager.incident.handoff",
    }
}

steward_core::event_catalogue! {
    /// The AlertManager's configuration (`[alerts]` and the Alertmanager
    /// configuration it names) reloaded while steward runs.
    pub enum AlertsConfigEvent in "alerts" {
        /// A reload applied a new configuration.
        Reloaded => "alerts.reloaded",
        /// A reload found the configuration invalid; the previous one runs on.
        ReloadFailed => "alerts.reload_failed",
    }
}

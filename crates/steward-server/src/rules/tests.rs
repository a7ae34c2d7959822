//! The journal events of alert state changes: kinds, severities,
//! summaries and bounded payloads.

use super::*;

fn change(from: AlertState, to: AlertState, labels: &[(&str, &str)]) -> AlertTransition {
    AlertTransition {
        group: "rules/agent.yml;agent".into(),
        rule: "TaskErrorRatioHigh".into(),
        labels: Labels::from_pairs(labels.iter().copied()),
        annotations: Labels::from_pairs([("summary", "tasks fail")]),
        from,
        to,
        value: 0.31,
        at_ms: 1_000,
        active_at_ms: 500,
    }
}

#[test]
fn each_state_change_has_its_kind_and_severity() {
    let labels = [
        ("alertname", "TaskErrorRatioHigh"),
        ("service", "agent-worker"),
        ("severity", "critical"),
    ];
    let firing = alert_event(&change(AlertState::Pending, AlertState::Firing, &labels));
    assert_eq!(firing.kind, AlertEvent::Firing.kind());
    assert_eq!(firing.severity, Severity::Critical);
    assert_eq!(
        firing.service.as_ref().map(Name::as_str),
        Some("agent-worker")
    );
    assert_eq!(
        firing.summary,
        "alert TaskErrorRatioHigh{service=\"agent-worker\", severity=\"critical\"} firing (value 0.31)"
    );
    assert_eq!(firing.payload["labels"]["service"], "agent-worker");
    assert_eq!(firing.payload["annotations"]["summary"], "tasks fail");
    assert_eq!(firing.payload["from"], "pending");
    let pending = alert_event(&change(AlertState::Inactive, AlertState::Pending, &labels));
    assert_eq!(pending.kind, AlertEvent::Pending.kind());
    assert_eq!(pending.severity, Severity::Info);
    let resolved = alert_event(&change(AlertState::Firing, AlertState::Inactive, &labels));
    assert_eq!(resolved.kind, AlertEvent::Resolved.kind());
    assert!(resolved.summary.ends_with("resolved (value 0.31)"));
    let gone = alert_event(&change(AlertState::Pending, AlertState::Inactive, &labels));
    assert!(
        gone.summary.contains("gone before firing"),
        "{}",
        gone.summary
    );
    let warning = alert_event(&change(
        AlertState::Pending,
        AlertState::Firing,
        &[("x", "y")],
    ));
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(warning.service, None);
}

#[test]
fn long_label_values_are_bounded() {
    let long = "x".repeat(10 * MAX_JOURNALED);
    let event = alert_event(&change(
        AlertState::Inactive,
        AlertState::Pending,
        &[("path", long.as_str())],
    ));
    assert!(event.summary.chars().count() <= MAX_JOURNALED + 1);
    let value = event.payload["labels"]["path"].as_str().unwrap();
    assert_eq!(value.chars().count(), MAX_JOURNALED + 1);
    assert!(value.ends_with('…'));
    assert_eq!(bounded("short", 10), "short");
}

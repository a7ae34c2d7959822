//! Rule alerts as the AlertManager takes them, and the journal events of
//! delivery tries.

use std::time::Duration;

use steward_alert::notify::NotifyError;
use steward_rules::rule::AlertState;

use super::journal::attempt_event;
use super::*;
use steward_alert::{dispatch, notify::Attempt};

#[test]
fn rule_alerts_keep_their_times_and_get_the_external_labels() {
    let alert = NotifiedAlert {
        labels: Labels::from_pairs([("alertname", "Down"), ("env", "dev")]),
        annotations: Labels::from_pairs([("summary", "down")]),
        starts_at_ms: 1_700_000_000_000,
        ends_at_ms: 1_700_000_060_000,
        generator_url: "http://steward/graph".to_owned(),
        state: AlertState::Firing,
    };
    let external = Labels::from_pairs([("env", "prod"), ("cluster", "eu")]);
    let incoming = incoming(&alert, &external);
    assert_eq!(incoming.labels["alertname"], "Down");
    // the alert's own label wins over an external one
    assert_eq!(incoming.labels["env"], "dev");
    assert_eq!(incoming.labels["cluster"], "eu");
    assert_eq!(incoming.annotations["summary"], "down");
    assert_eq!(incoming.starts_at.unwrap().timestamp(), 1_700_000_000);
    assert_eq!(incoming.ends_at.unwrap().timestamp(), 1_700_000_060);
    assert_eq!(incoming.generator_url, "http://steward/graph");
}

#[test]
fn delivery_tries_are_journaled_with_their_outcome() {
    let integration = dispatch::Integration {
        receiver: "team".to_owned(),
        kind: "webhook".to_owned(),
        index: 0,
        send_resolved: true,
    };
    let ok = attempt_event(
        &integration,
        "{}:{alertname=\"Down\"}",
        &Attempt {
            number: 1,
            latency: Duration::from_millis(12),
            error: None,
        },
    );
    assert_eq!(ok.kind.as_str(), "alertmanager.notification.sent");
    assert_eq!(ok.payload["receiver"], "team");
    assert_eq!(ok.payload["integration"], "webhook");
    assert_eq!(ok.payload["attempt"], 1);
    assert_eq!(ok.payload["latency_ms"], 12);
    assert_eq!(ok.payload["group_key"], "{}:{alertname=\"Down\"}");
    assert!(ok.payload["error"].is_null());
    let failed = attempt_event(
        &integration,
        "g",
        &Attempt {
            number: 2,
            latency: Duration::from_millis(3),
            error: Some(NotifyError::Retryable("503 unavailable".to_owned())),
        },
    );
    assert_eq!(failed.kind.as_str(), "alertmanager.notification.failed");
    assert_eq!(failed.severity, Severity::Warning);
    assert!(
        failed.payload["error"]
            .as_str()
            .unwrap()
            .contains("503 unavailable")
    );
}

//! PagerDuty events: what each action becomes and PagerDuty's refusals.

use super::*;

#[test]
fn a_trigger_becomes_a_firing_alert_keyed_by_its_dedup_key() {
    let body = br#"{
        "routing_key": "R0UTING", "event_action": "trigger", "dedup_key": "disk-full-db1",
        "client": "monitoring", "client_url": "https://mon.example/disk",
        "payload": {"summary": "disk full on db1", "source": "db1", "severity": "critical",
                    "component": "postgres", "group": "storage", "class": "DiskFull",
                    "timestamp": "2026-12-01T10:00:00Z", "custom_details": {"free": "0%"}}
    }"#;
    let event = parse(body, || unreachable!("the event has a key")).unwrap();
    assert_eq!(event.routing_key, "R0UTING");
    assert_eq!(event.dedup_key, "disk-full-db1");
    let Action::Trigger(alert) = event.action else {
        panic!("not a trigger")
    };
    assert_eq!(alert.labels["alertname"], "DiskFull");
    assert_eq!(alert.labels["severity"], "critical");
    assert_eq!(alert.labels["source"], "db1");
    assert_eq!(alert.labels["component"], "postgres");
    assert_eq!(alert.labels[DEDUP_KEY_LABEL], "disk-full-db1");
    assert_eq!(alert.annotations["summary"], "disk full on db1");
    assert_eq!(alert.annotations["custom_details"], r#"{"free":"0%"}"#);
    assert_eq!(alert.generator_url, "https://mon.example/disk");
    assert_eq!(
        alert.starts_at.unwrap().to_rfc3339(),
        "2026-12-01T10:00:00+00:00"
    );
    assert_eq!(alert.ends_at, None);
}

#[test]
fn a_trigger_without_a_key_gets_one_and_others_need_theirs() {
    let body = br#"{"routing_key": "R", "event_action": "trigger",
                    "payload": {"summary": "s", "source": "h", "severity": "info"}}"#;
    let event = parse(body, || "generated".to_owned()).unwrap();
    assert_eq!(event.dedup_key, "generated");
    let Action::Trigger(alert) = event.action else {
        panic!()
    };
    assert_eq!(alert.labels["alertname"], "PagerDutyEvent");
    for action in ["acknowledge", "resolve"] {
        let body =
            format!(r#"{{"routing_key": "R", "event_action": "{action}", "dedup_key": "k"}}"#);
        let event = parse(body.as_bytes(), || unreachable!()).unwrap();
        assert_eq!(event.dedup_key, "k");
        assert_eq!(
            event.action,
            if action == "resolve" {
                Action::Resolve
            } else {
                Action::Acknowledge
            }
        );
    }
    let missing = parse(
        br#"{"routing_key": "R", "event_action": "resolve"}"#,
        String::new,
    )
    .unwrap_err();
    assert_eq!(
        missing.0,
        ["'dedup_key' is required for the resolve action"]
    );
}

#[test]
fn invalid_events_list_every_problem_as_pagerduty_answers() {
    let bad = parse(
        br#"{"event_action": "page", "payload": {"summary": " ", "severity": "fatal"}}"#,
        String::new,
    )
    .unwrap_err();
    assert_eq!(
        bad.0,
        [
            "'routing_key' is missing or blank",
            "'event_action' must be one of trigger, acknowledge or resolve",
            "'dedup_key' is required for the page action",
        ]
    );
    let bad = parse(
        br#"{"routing_key": "R", "event_action": "trigger", "payload": {"summary": "", "severity": "fatal", "timestamp": "yesterday"}}"#,
        String::new,
    )
    .unwrap_err();
    assert_eq!(
        bad.0,
        [
            "'payload.summary' is missing or blank",
            "'payload.source' is missing or blank",
            "'payload.severity' must be one of critical, error, warning or info",
            "'payload.timestamp' is not an ISO 8601 time",
        ]
    );
    assert_eq!(bad.body()["status"], "invalid event");
    assert_eq!(bad.body()["message"], "Event object is invalid");
    assert!(parse(b"[1,2]", String::new).unwrap_err().0[0].starts_with("the body is not"));
    assert_eq!(accepted_body("k")["dedup_key"], "k");
}

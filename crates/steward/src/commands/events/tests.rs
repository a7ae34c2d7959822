//! Unit tests for the `events` command module.

use super::*;

fn frame(event: Option<&str>, data: &str) -> Frame {
    Frame {
        id: None,
        event: event.map(str::to_owned),
        data: data.to_owned(),
    }
}

#[test]
fn journal_frames_give_events() {
    let data = r#"{"id":42,"time":"2026-01-02T03:04:05Z","kind":"ci.x","service":null,"version":null,"actor":"token:ci","severity":"info","summary":"s","payload":null}"#;
    let event = journal_event(&frame(None, data)).expect("an event");
    assert_eq!(event.id.0, 42);
    assert_eq!(event.kind.as_str(), "ci.x");
}

#[test]
fn errors_and_other_frames_are_not_events() {
    assert_eq!(
        journal_event(&frame(
            Some("error"),
            r#"{"error":{"code":"c","kind":"internal","message":"m"}}"#
        )),
        None
    );
    assert_eq!(
        journal_event(&frame(Some("orphaned"), r#"{"deployment":"d"}"#)),
        None
    );
    assert_eq!(journal_event(&frame(None, r#"{"no":"event"}"#)), None);
}

#[test]
fn filters_become_query_parameters() {
    let filters = EventFilters {
        kind: Some("deploy".into()),
        grep: Some("timeout".into()),
        ..EventFilters::default()
    };
    assert_eq!(
        filter_query(&filters),
        [("kind", "deploy".to_owned()), ("q", "timeout".to_owned())]
    );
}

//! Unit tests for the `events` command module.

use super::*;

#[test]
fn frames_give_id_and_event() {
    let (id, event) =
        parse_frame("id: 42\ndata: {\"kind\":\"ci.x\",\"summary\":\"s\"}\n\n").unwrap();
    assert_eq!(id, 42);
    assert_eq!(event["kind"], "ci.x");
}

#[test]
fn keep_alives_and_errors_are_not_events() {
    assert_eq!(parse_frame(":\n\n"), None);
    assert_eq!(parse_frame("event: error\ndata: {\"error\":{}}\n\n"), None);
    assert_eq!(parse_frame("data: {\"no\":\"id\"}\n\n"), None);
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

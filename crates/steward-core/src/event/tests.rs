//! Unit tests for the `event` module.

use super::*;

#[test]
fn kinds_are_dotted_lowercase_identifiers() {
    for ok in [
        "deploy",
        "deploy.step.completed",
        "api.request",
        "token.created_v2",
    ] {
        EventKind::new(ok).unwrap();
    }
    for bad in [
        "",
        "Deploy",
        "deploy.",
        ".deploy",
        "deploy..x",
        "deploy.1st",
        "deploy-step",
    ] {
        assert!(EventKind::new(bad).is_err(), "{bad}");
    }
}

#[test]
fn summaries_become_one_bounded_line() {
    let kind = EventKind::new("test").unwrap();
    let event = NewEvent::new(kind.clone(), Actor::system(), "  line one\n\tline two  ");
    assert_eq!(event.summary, "line one line two");
    let long = NewEvent::new(kind, Actor::system(), "é".repeat(MAX_SUMMARY_CHARS + 10));
    assert_eq!(long.summary.chars().count(), MAX_SUMMARY_CHARS);
}

#[test]
fn actors_name_their_source() {
    let name = Name::new("ci").unwrap();
    assert_eq!(Actor::token(&name).as_str(), "token:ci");
    assert!(Actor::new("").is_err());
    assert!(Actor::new("a\nb").is_err());
}

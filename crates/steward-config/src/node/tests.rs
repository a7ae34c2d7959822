//! Unit tests for the `node` module.

use super::*;

fn key(name: &str) -> Segment {
    Segment::Key(name.to_owned())
}

#[test]
fn remembers_spans_of_keys_and_values() {
    let source = "[server]\nlisten = \"x\"\n\n[[services]]\nname = \"a\"\nenv = { K = \"v\" }\n";
    let tree = parse("f", source).unwrap();
    let Origin::File(span) = tree.locate(&[key("server"), key("listen")]) else {
        panic!("no span");
    };
    assert_eq!(&source[span.clone()], "\"x\"");
    let Origin::File(span) = tree.locate_key(&[key("services"), Segment::Index(0), key("name")])
    else {
        panic!("no span");
    };
    assert_eq!(&source[span.clone()], "name");
    let Origin::File(span) =
        tree.locate(&[key("services"), Segment::Index(0), key("env"), key("K")])
    else {
        panic!("no span");
    };
    assert_eq!(&source[span.clone()], "\"v\"");
}

#[test]
fn missing_paths_fall_back_to_the_nearest_written_ancestor() {
    let source = "[[services]]\nname = \"a\"\n";
    let tree = parse("f", source).unwrap();
    let Origin::File(span) = tree.locate(&[key("services"), Segment::Index(0), key("replicas")])
    else {
        panic!("no span");
    };
    assert!(
        source[span.clone()].starts_with("[[services]]"),
        "{:?}",
        &source[span.clone()]
    );
}

#[test]
fn syntax_errors_become_located_diagnostics() {
    let err = parse("f.toml", "a = 1\nb = \n").unwrap_err();
    assert!(err.message.starts_with("invalid TOML"), "{}", err.message);
    assert!(
        matches!(err.location, Location::File { line: 2, .. }),
        "{:?}",
        err.location
    );
}

#[test]
fn converts_to_json() {
    let tree = parse("f", "a = 1\nb = [true, 1.5]\n[c]\nd = \"x\"\n").unwrap();
    assert_eq!(
        tree.to_json(),
        serde_json::json!({"a": 1, "b": [true, 1.5], "c": {"d": "x"}})
    );
}

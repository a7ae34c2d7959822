//! Unit tests for the `schema` module.

use super::*;
use crate::node::parse;

fn check(source: &str) -> Vec<crate::Diagnostic> {
    let schema = Schema::new(crate::json_schema());
    let mut tree = parse("f", source).unwrap();
    let mut sink = Sink::new("f", source);
    schema.check(&mut tree, schema.root(), &mut Vec::new(), &mut sink);
    sink.diagnostics
}

#[test]
fn a_valid_tree_has_no_diagnostics() {
    let source = "[server]\nlisten = \"127.0.0.1:1\"\n[[services]]\nname = \"a\"\nreplicas = 2\n[services.health]\nhttp = \"/h\"\ninterval = \"5s\"\n";
    assert_eq!(check(source), vec![]);
}

#[test]
fn reports_every_problem_with_hints() {
    let source = "\
[sever]
x = 1

[[services]]
name = \"Bad Name\"
replcas = 2
port = 70000

[services.health]
interval = \"soon\"
tcp = \"yes\"

[[services]]
replicas = -1
";
    let diagnostics = check(source);
    let found: Vec<(String, &str, Option<&str>)> = diagnostics
        .iter()
        .map(|d| {
            (
                d.location.to_string(),
                d.message.as_str(),
                d.hint.as_deref(),
            )
        })
        .collect();
    let expect = [
        (
            "f:1:2",
            "unknown key `sever` in the top level",
            Some("did you mean `server`?"),
        ),
        (
            "f:5:8",
            "`services[0].name` has invalid value `Bad Name`",
            None,
        ),
        (
            "f:6:1",
            "unknown key `replcas` in services[0]",
            Some("did you mean `replicas`?"),
        ),
        (
            "f:7:8",
            "`services[0].port` is 70000, above the maximum 65535",
            None,
        ),
        (
            "f:10:12",
            "`services[0].health.interval` has invalid value `soon`",
            None,
        ),
        (
            "f:11:7",
            "`services[0].health.tcp` must be a boolean, found a string",
            None,
        ),
        ("f:13:1", "missing required key `name` in services[1]", None),
        (
            "f:14:12",
            "`services[1].replicas` is -1, below the minimum 0",
            None,
        ),
    ];
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    for (at, message, hint) in expect {
        let hit = found.iter().find(|(a, m, _)| *a == at && *m == message);
        let Some((_, _, found_hint)) = hit else {
            panic!("missing {at} {message} in {found:#?}");
        };
        if let Some(hint) = hint {
            assert_eq!(*found_hint, Some(hint), "{at}");
        }
    }
}

#[test]
fn pattern_failures_explain_the_expected_form() {
    let diagnostics =
        check("[[services]]\nname = \"x\"\n[services.health]\ntimeout = \"1 minute\"\n");
    assert_eq!(diagnostics.len(), 1);
    assert!(
        diagnostics[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("duration in Prometheus syntax"),
        "{:?}",
        diagnostics[0]
    );
}

#[test]
fn paths_display_like_toml_keys() {
    let path = [
        Segment::Key("services".into()),
        Segment::Index(2),
        Segment::Key("health".into()),
    ];
    assert_eq!(display_path(&path), "services[2].health");
    assert_eq!(display_path(&[]), "the top level");
}

//! Unit tests for the `diagnostic` module.

use super::*;

#[test]
fn locations_are_one_based_lines_and_character_columns() {
    let source = "a = 1\n# é\nbé = 2\n";
    let at = source.find("= 2").unwrap();
    let Location::File { line, column, .. } = Location::in_file("f.toml", source, at, at + 1)
    else {
        panic!("expected a file location");
    };
    assert_eq!((line, column), (3, 4));
}

#[test]
fn renders_the_source_line_with_a_caret_under_the_span() {
    let source = "[server]\nlisten = 5\n".to_owned();
    let start = source.find('5').unwrap();
    let report = Report::new(
        "steward.toml".into(),
        source.clone(),
        vec![Diagnostic {
            level: Level::Error,
            message: "expected a string".into(),
            location: Location::in_file("steward.toml", &source, start, start + 1),
            hint: Some("write `listen = \"127.0.0.1:7373\"`".into()),
        }],
    );
    let text = report.render();
    assert!(
        text.contains("error: expected a string\n  --> steward.toml:2:10\n"),
        "{text}"
    );
    assert!(text.contains("2 | listen = 5\n  |          ^\n"), "{text}");
    assert!(text.contains("= help: write"), "{text}");
    assert!(
        text.ends_with("\nerror: steward.toml has 1 error and 0 warnings\n"),
        "{text}"
    );
}

#[test]
fn nearest_finds_plausible_typos_only() {
    let keys = ["replicas", "port", "health", "depends_on"];
    assert_eq!(nearest("replcas", keys), Some("replicas"));
    assert_eq!(nearest("dependson", keys), Some("depends_on"));
    assert_eq!(nearest("prot", keys), Some("port"));
    assert_eq!(nearest("completely_different", keys), None);
}

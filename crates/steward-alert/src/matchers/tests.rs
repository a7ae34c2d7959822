//! Matchers: parsing as Alertmanager 0.25 does (quoting, escapes, commas
//! in quotes, errors), printing, and matching with anchored regexes.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn lists_parse_with_or_without_braces_and_quotes() {
    let m = Matchers::parse(r#"{foo="bar", baz=~"a,b|c", qux!=x, zip!~ "y.*" }"#).unwrap();
    let shown: Vec<String> = m.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            r#"foo="bar""#,
            r#"baz=~"a,b|c""#,
            r#"qux!="x""#,
            r#"zip!~"y.*""#
        ]
    );
    assert_eq!(Matchers::parse("a=1,b=2").unwrap().0.len(), 2);
    assert_eq!(Matchers::parse("{}").unwrap().0.len(), 0);
    assert_eq!(Matchers::parse("a=1,").unwrap().0.len(), 1);
}

#[test]
fn escapes_are_read_as_alertmanager_reads_them() {
    let m = parse_matcher(r#"msg="say \"hi\"\nnow \\ \d""#).unwrap();
    assert_eq!(m.value, "say \"hi\"\nnow \\ \\d");
    assert_eq!(m.to_string(), r#"msg="say \"hi\"\nnow \\ \\d""#);
    let unquoted = parse_matcher(r"path=C:\dir\").unwrap();
    assert_eq!(unquoted.value, r"C:\dir\");
}

#[test]
fn malformed_matchers_are_refused_with_alertmanagers_words() {
    let err = |s: &str| Matchers::parse(s).unwrap_err().to_string();
    assert_eq!(err("foo"), "bad matcher format: foo");
    assert_eq!(err("a=1,,b=2"), "bad matcher format: ");
    assert_eq!(err("1a=b"), "bad matcher format: 1a=b");
    assert_eq!(
        err(r#"a="b"c""#),
        r#"matcher value contains unescaped double quote: "b"c""#
    );
    assert_eq!(
        err(r#"a="b"#),
        r#"matcher value contains unescaped double quote: "b"#
    );
    assert!(err("a=~(").starts_with("invalid regular expression"));
}

#[test]
fn matching_is_anchored_and_missing_labels_are_empty() {
    let set = labels(&[("severity", "critical"), ("team", "infra")]);
    let m = |s: &str| Matchers::parse(s).unwrap();
    assert!(m(r#"severity=~"crit.*""#).matches(&set));
    assert!(!m(r#"severity=~"crit""#).matches(&set), "anchored");
    assert!(m(r#"team!~"web|db""#).matches(&set));
    assert!(m(r#"owner="""#).matches(&set), "a missing label is empty");
    assert!(m(r#"owner!="x""#).matches(&set));
    assert!(!m(r#"owner=~".+""#).matches(&set));
    assert!(!m(r#"severity="critical", team="web""#).matches(&set));
    assert!(Matchers::default().matches(&set));
}

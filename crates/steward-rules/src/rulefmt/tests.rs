//! Rule file parsing and validation messages (promtool's wording).

use super::*;
use crate::Verbatim;

fn errors(yaml: &str) -> Vec<String> {
    match parse_str("f.yml", yaml, &Verbatim) {
        Ok(_) => Vec::new(),
        Err(Error::Invalid { errors }) => errors,
        Err(e) => vec![e.to_string()],
    }
}

#[test]
fn valid_files_parse() {
    let g = parse_str(
        "f.yml",
        "groups:\n  - name: a\n    interval: 30s\n    limit: 3\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 0\n        labels: {sev: 1}\n",
        &Verbatim,
    )
    .unwrap();
    assert_eq!(g.groups[0].interval, Some(PromDuration(30_000)));
    assert_eq!(g.groups[0].rules[0].labels["sev"], "1");
    assert!(parse_str("f.yml", "", &Verbatim).unwrap().groups.is_empty());
    assert!(
        parse_str("f.yml", "# only a comment\n", &Verbatim)
            .unwrap()
            .groups
            .is_empty()
    );
}

#[test]
fn problems_are_worded_as_promtool_words_them() {
    let yaml = r#"
groups:
  - name: g
    rules:
      - alert: A
        record: b
        expr: up
      - record: "bad name"
        expr: sum(
        labels: {"0bad": x}
      - expr: up
  - name: g
    rules: []
  - name: ""
    rules: []
"#;
    let e = errors(yaml);
    assert_eq!(
        e[0],
        r#"f.yml: group "g", rule 1, "A": only one of 'record' and 'alert' must be set"#
    );
    assert!(
        e[1].starts_with(r#"f.yml: group "g", rule 2, "bad name": could not parse expression: "#),
        "{}",
        e[1]
    );
    assert_eq!(
        e[2],
        r#"f.yml: group "g", rule 2, "bad name": invalid recording rule name: bad name"#
    );
    assert_eq!(
        e[3],
        r#"f.yml: group "g", rule 2, "bad name": invalid label name: 0bad"#
    );
    assert_eq!(
        e[4],
        r#"f.yml: group "g", rule 3, "": one of 'record' or 'alert' must be set"#
    );
    assert_eq!(
        e[5],
        r#"f.yml: groupname: "g" is repeated in the same file"#
    );
    assert_eq!(e[6], "f.yml: Groupname must not be empty");
    assert_eq!(e.len(), 7);
}

#[test]
fn yaml_errors_name_file_and_position() {
    let e = errors("groups:\n  - name: g\n    rulez: []\n");
    assert!(
        e[0].starts_with("f.yml: ") && e[0].contains("rulez") && e[0].contains("line 3"),
        "{e:?}"
    );
    let e = errors(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5 minutes\n",
    );
    assert!(
        e[0].contains(r#"not a valid duration string: "5 minutes""#),
        "{e:?}"
    );
}

#[test]
fn template_syntax_is_checked_through_the_expander() {
    struct NoBraces;
    impl crate::AnnotationExpander for NoBraces {
        fn expand(
            &self,
            _: &str,
            t: &str,
            _: &steward_metrics::Labels,
            _: f64,
            _: &steward_metrics::Labels,
            _: i64,
        ) -> Result<String, String> {
            Ok(t.into())
        }
        fn check_syntax(&self, t: &str, rule: &str) -> Result<(), String> {
            if t.contains("{{") {
                Err(format!("template: __alert_{rule}: bad"))
            } else {
                Ok(())
            }
        }
    }
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations: {s: '{{ x'}\n";
    let e = match parse_str("f.yml", yaml, &NoBraces) {
        Err(Error::Invalid { errors }) => errors,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        e,
        vec![
            r#"f.yml: group "g", rule 1, "A": annotation "s": template: __alert_A: bad"#
                .to_string()
        ]
    );
}

//! Unit tests of `steward rules check`: what one file's check finds and
//! the JSON document.

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_valid_file_counts_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "ok.yml",
        "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n  - name: b\n    rules:\n      - alert: Down\n        expr: up == 0\n",
    );
    let checked = check_file(&path, None);
    assert_eq!(checked.rules, 2);
    assert!(checked.errors.is_empty(), "{:?}", checked.errors);
    assert_eq!(checked.file, path.display().to_string());
}

#[test]
fn problems_name_file_group_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.yml",
        "groups:\n  - name: g\n    rules:\n      - record: \"bad name\"\n        expr: up\n",
    );
    let checked = check_file(&path, None);
    assert_eq!(
        checked.rules, 0,
        "promtool counts no rules in a failed file"
    );
    assert_eq!(
        checked.errors,
        [format!(
            "{}: group \"g\", rule 1, \"bad name\": invalid recording rule name: bad name",
            path.display()
        )]
    );
}

#[test]
fn an_unreadable_file_is_a_failed_check() {
    let dir = tempfile::tempdir().unwrap();
    let checked = check_file(&dir.path().join("absent.yml"), None);
    assert_eq!(checked.errors.len(), 1);
    assert!(checked.errors[0].contains("absent.yml"), "{checked:?}");
}

#[test]
fn json_lists_files_and_counts_failures() {
    let checked = [
        Checked {
            file: "a.yml".to_owned(),
            rules: 3,
            errors: Vec::new(),
        },
        Checked {
            file: "b.yml".to_owned(),
            rules: 0,
            errors: vec!["b.yml: oops".to_owned()],
        },
    ];
    assert_eq!(
        check_json(&checked),
        json!({
            "files": [
                {"file": "a.yml", "rules": 3, "errors": []},
                {"file": "b.yml", "rules": 0, "errors": ["b.yml: oops"]},
            ],
            "failed": 1,
        })
    );
}

/// `--logql`: the example's log rules are valid LogQL and are not PromQL;
/// a log query (not a metric one) and a parse error name their rule.
#[test]
fn logql_rule_files_are_checked_as_logql() {
    let example = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/agent-system/log-rules/agent.yml"
    ));
    let checked = check_file(example, Some(&LogQlSyntax));
    assert!(checked.errors.is_empty(), "{:?}", checked.errors);
    assert_eq!(checked.rules, 2);
    let as_promql = check_file(example, None);
    assert_eq!(as_promql.errors.len(), 2, "{:?}", as_promql.errors);

    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.yml",
        "groups:\n  - name: g\n    rules:\n      - alert: Lines\n        expr: '{service=\"a\"} |= \"x\"'\n      - alert: Broken\n        expr: 'count_over_time({service=\"a\"} [5m]'\n",
    );
    let checked = check_file(&path, Some(&LogQlSyntax));
    assert_eq!(checked.errors.len(), 2, "{:?}", checked.errors);
    assert!(
        checked.errors[0].contains("rule 1, \"Lines\"")
            && checked.errors[0].contains("not a metric query"),
        "{:?}",
        checked.errors
    );
    assert!(
        checked.errors[1].contains("rule 2, \"Broken\"")
            && checked.errors[1].contains("could not parse expression"),
        "{:?}",
        checked.errors
    );
}

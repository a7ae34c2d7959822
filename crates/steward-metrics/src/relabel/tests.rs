//! Tests of relabelling: the data-driven cases under
//! `tests/cases/relabel/*.toml`, plus deserialization from TOML and from a
//! YAML-shaped tree.

use std::path::Path;

use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<Case>,
}

/// One case: `input` relabelled by `configs` gives `expected`, or is
/// `dropped`, or the configs fail to load with `error`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    input: Labels,
    configs: Vec<serde_json::Value>,
    expected: Option<Labels>,
    #[serde(default)]
    dropped: bool,
    error: Option<String>,
}

fn run(case: &Case) -> std::result::Result<(), String> {
    let configs: std::result::Result<Vec<RelabelConfig>, _> = case
        .configs
        .iter()
        .map(|c| RelabelConfig::deserialize(c.clone()))
        .collect();
    match (&case.error, configs) {
        (Some(want), Err(e)) if e.to_string().contains(want.as_str()) => Ok(()),
        (Some(want), Err(e)) => Err(format!("error {e:?} does not contain {want:?}")),
        (Some(want), Ok(_)) => Err(format!("loaded, expected error {want:?}")),
        (None, Err(e)) => Err(format!("configs do not load: {e}")),
        (None, Ok(configs)) => {
            let got = relabel(&case.input, &configs);
            match (&case.expected, case.dropped) {
                (_, true) if got.is_none() => Ok(()),
                (Some(want), false) if got.as_ref() == Some(want) => Ok(()),
                (None, false) => Err("case has neither expected nor dropped".to_owned()),
                _ => Err(format!(
                    "got {got:?}, expected {:?} dropped={}",
                    case.expected, case.dropped
                )),
            }
        }
    }
}

#[test]
fn data_driven_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/relabel");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("case directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut count = 0;
    let mut failures = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("case file");
        let file: CaseFile =
            toml_edit::de::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for case in &file.case {
            count += 1;
            if let Err(e) = run(case) {
                failures.push(format!("{} / {}: {e}", path.display(), case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(count >= 40, "only {count} cases");
}

#[test]
fn loads_from_toml_with_prometheus_defaults() {
    #[derive(Deserialize)]
    struct Job {
        relabel_configs: Vec<RelabelConfig>,
    }
    let job: Job = toml_edit::de::from_str(
        r#"
        [[relabel_configs]]
        source_labels = ["__meta_x"]
        target_label = "x"

        [[relabel_configs]]
        action = "Keep"
        source_labels = ["job"]
        regex = "api|web"
        "#,
    )
    .expect("valid toml");
    let spec = job.relabel_configs[0].spec();
    assert_eq!(spec.separator, ";");
    assert_eq!(spec.regex, "(.*)");
    assert_eq!(spec.replacement, "$1");
    assert_eq!(spec.action, Action::Replace);
    assert_eq!(job.relabel_configs[1].spec().action, Action::Keep);
    let e = toml_edit::de::from_str::<Job>(
        "[[relabel_configs]]\naction = \"hashmod\"\ntarget_label = \"s\"\n",
    )
    .err()
    .expect("invalid");
    assert!(
        e.to_string()
            .contains("relabel configuration for hashmod requires non-zero modulus"),
        "{e}"
    );
}

#[test]
fn yaml_shaped_trees_use_the_same_names() {
    // what a YAML loader hands serde: the same field names as Prometheus'
    let c: RelabelConfig = serde_json::from_str(
        r#"{"source_labels": ["a", "b"], "separator": "-", "target_label": "ab", "action": "replace", "regex": "(.*)-(.*)", "replacement": "$2$1"}"#,
    )
    .expect("valid");
    let got = relabel(
        &Labels::from_pairs([("a", "1"), ("b", "2")]),
        std::slice::from_ref(&c),
    )
    .expect("kept");
    assert_eq!(got.get("ab"), Some("21"));
    // serializes back to the spec
    let back: RelabelConfig =
        serde_json::from_value(serde_json::to_value(&c).expect("ser")).expect("de");
    assert_eq!(back, c);
}

#[test]
fn go_expand_matches_go_semantics() {
    let re = Regex::new("^(?:(?P<first>a)(b)?(c*))$").expect("regex");
    let caps = re.captures("ac").expect("match");
    let cases = [
        ("$1", "a"),
        ("${1}", "a"),
        ("$first", "a"),
        ("${first}x", "ax"),
        ("$2", ""),
        ("$3", "c"),
        ("$9", ""),
        ("$1x", ""),
        ("$$1", "$1"),
        ("$", "$"),
        ("a$-b", "a$-b"),
        ("${1", "${1"),
        ("${}", "${}"),
        ("$01", ""),
        ("$0", "ac"),
    ];
    for (t, want) in cases {
        assert_eq!(go_expand(&re, &caps, t), want, "{t}");
    }
}

#[test]
fn no_configs_keep_the_set_unchanged() {
    let l = Labels::from_pairs([("a", "b")]);
    assert_eq!(relabel(&l, &[]), Some(l));
}

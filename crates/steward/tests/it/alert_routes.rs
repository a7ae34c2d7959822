//! `steward alerts routes show|test` through the real binary on
//! steward-alert's routing cases: the expected receivers, amtool's exit
//! status for `--verify.receivers`, and, with `STEWARD_TEST_AMTOOL` naming
//! amtool 0.25, byte for byte amtool's output and exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_yaml_ng::Value;

use crate::support::{BIN, stderr, stdout};

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../steward-alert/tests/cases/routing"
);

/// A case: the alert's labels as amtool arguments, and the receivers.
struct Case {
    labels: Vec<String>,
    receivers: String,
}

/// The configuration's text (the lines under `config:`, unindented, so
/// that scalars stay as written) and the cases of a case file.
fn read(path: &Path) -> (String, Vec<Case>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut config = String::new();
    let mut inside = false;
    for line in text.lines() {
        if !line.starts_with([' ', '#']) && !line.is_empty() {
            inside = line == "config:";
            continue;
        }
        if inside {
            config.push_str(line.strip_prefix("  ").unwrap_or(line));
            config.push('\n');
        }
    }
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    let scalar = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_default();
    let cases = doc["cases"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|case| Case {
            labels: case["labels"]
                .as_mapping()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let value = scalar(v).replace('\\', r"\\").replace('"', r#"\""#);
                    format!("{}=\"{value}\"", scalar(k))
                })
                .collect(),
            receivers: case["receivers"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(scalar)
                .collect::<Vec<_>>()
                .join(","),
        })
        .collect();
    (config, cases)
}

fn case_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(CASES)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .collect();
    files.sort();
    files
}

fn run(program: &str, args: &[String]) -> Output {
    Command::new(program)
        .args(args)
        .env("STEWARD_LOG", "warn")
        .output()
        .unwrap()
}

#[allow(clippy::print_stderr)] // the skip line is the point
fn amtool() -> Option<String> {
    let amtool = std::env::var("STEWARD_TEST_AMTOOL")
        .ok()
        .filter(|p| !p.is_empty());
    if amtool.is_none() {
        eprintln!("skipping the comparison with amtool: STEWARD_TEST_AMTOOL is not set");
    }
    amtool
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn routes_test_prints_the_receivers_and_verifies_them_as_amtool() {
    let amtool = amtool();
    let dir = tempfile::tempdir().unwrap();
    for path in case_files() {
        let (config, cases) = read(&path);
        let file = dir.path().join(path.file_name().unwrap());
        std::fs::write(&file, &config).unwrap();
        let flag = format!("--config.file={}", file.display());

        let show = run(
            BIN,
            &[strings(&["alerts", "routes", "show"]), vec![flag.clone()]].concat(),
        );
        assert!(show.status.success(), "{}", stderr(&show));
        assert!(stdout(&show).starts_with("Routing tree:\n.\n└── default-route"));
        if let Some(amtool) = &amtool {
            let theirs = run(
                amtool,
                &[strings(&["config", "routes", "show"]), vec![flag.clone()]].concat(),
            );
            assert_eq!(stdout(&show), stdout(&theirs), "{}", path.display());
        }

        for case in &cases {
            let verify = format!("--verify.receivers={}", case.receivers);
            let args = [
                strings(&["alerts", "routes", "test", "--tree"]),
                vec![flag.clone(), verify.clone()],
                case.labels.clone(),
            ]
            .concat();
            let ours = run(BIN, &args);
            let where_ = format!("{} {:?}", path.display(), case.labels);
            assert!(
                ours.status.success(),
                "{where_}: {}{}",
                stdout(&ours),
                stderr(&ours)
            );
            assert!(
                stdout(&ours).ends_with(&format!("\n\n\n{}\n", case.receivers)),
                "{where_}: {}",
                stdout(&ours)
            );
            let wrong = [
                strings(&["alerts", "routes", "test", "--verify.receivers=nobody"]),
                vec![flag.clone()],
                case.labels.clone(),
            ]
            .concat();
            let refused = run(BIN, &wrong);
            assert_eq!(refused.status.code(), Some(1), "{where_}");
            assert_eq!(
                stdout(&refused),
                format!(
                    "{}\nWARNING: Expected receivers did not match resolved receivers.\n",
                    case.receivers
                ),
                "{where_}"
            );
            if let Some(amtool) = &amtool {
                for args in [&args, &wrong] {
                    let mut theirs = vec!["config".to_owned(), "routes".to_owned()];
                    theirs.extend(args[2..].iter().cloned());
                    let theirs = run(amtool, &theirs);
                    let ours = run(BIN, args);
                    assert_eq!(stdout(&ours), stdout(&theirs), "{where_}");
                    assert_eq!(ours.status.code(), theirs.status.code(), "{where_}");
                }
            }
        }
    }
}

#[test]
fn routes_test_refuses_bad_labels_and_configurations_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("am.yml");
    std::fs::write(
        &file,
        "route:\n  receiver: d\n  routes:\n    - receiver: nope\nreceivers: [{name: d}]\n",
    )
    .unwrap();
    let flag = format!("--config.file={}", file.display());
    let out = run(
        BIN,
        &[
            strings(&["alerts", "routes", "test"]),
            vec![flag, "a=b".into()],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            r#"am.yml: route.routes[0].receiver: undefined receiver "nope" used in route"#
        ),
        "{}",
        stderr(&out)
    );

    std::fs::write(&file, "route: {receiver: d}\nreceivers: [{name: d}]\n").unwrap();
    let flag = format!("--config.file={}", file.display());
    let out = run(
        BIN,
        &[
            strings(&["alerts", "routes", "test"]),
            vec![flag.clone(), "a!=b".into()],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("labels must be specified as key=value pairs"));
    let out = run(
        BIN,
        &[
            strings(&["alerts", "routes", "test"]),
            vec![flag, "a=b".into()],
        ]
        .concat(),
    );
    assert!(out.status.success());
    assert_eq!(stdout(&out), "d\n");
    let out = run(BIN, &strings(&["alerts", "routes", "test", "a=b"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--config.file"));
}

//! `steward promql-test`: Prometheus' `.test` files run in process; exit 0
//! when all pass, 1 when an evaluation fails, 2 for a malformed file.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{BIN, stderr, stdout};

const CONFORMANCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/promql"
);

fn promql_test(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("promql-test")
        .args(args)
        .env("STEWARD_LOG", "warn")
        .output()
        .unwrap()
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or_default()
}

/// One series, one passing and one failing evaluation.
const ONE_WRONG: &str = "\
load 1m
    http_requests{job=\"api\"} 0+10x10

eval instant at 5m http_requests
    http_requests{job=\"api\"} 50

# wrong on purpose: 5m holds 50
eval instant at 5m http_requests * 2
    {job=\"api\"} 99
";

#[test]
fn the_conformance_files_all_pass() {
    let dir = Path::new(CONFORMANCE);
    if !dir.is_dir() {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping: no conformance files at {CONFORMANCE}");
        }
        return;
    }
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "test"))
        .map(|path| path.display().to_string())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {CONFORMANCE}");
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let output = promql_test(&args);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    assert_eq!(last_line(&text), "470 passed, 0 failed", "{text}");
}

#[test]
fn a_wrong_expectation_exits_1_and_shows_expression_expected_and_got() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.test");
    std::fs::write(&file, ONE_WRONG).unwrap();
    let output = promql_test(&[file.to_str().unwrap()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}\n{}", stderr(&output));
    assert!(text.contains("wrong.test:8: http_requests * 2"), "{text}");
    assert!(text.contains("expected: [{job=\"api\"} 99]"), "{text}");
    assert!(text.contains("got:") && text.contains("100"), "{text}");
    assert_eq!(last_line(&text), "1 passed, 1 failed", "{text}");
}

#[test]
fn json_output_lists_files_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.test");
    std::fs::write(&file, ONE_WRONG).unwrap();
    let output = Command::new(BIN)
        .args(["--output", "json", "promql-test", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["passed"], 1);
    assert_eq!(doc["failed"], 1);
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["file"], file.to_str().unwrap());
    assert_eq!(files[0]["passed"], 1);
    let failure = &files[0]["failures"][0];
    assert_eq!(failure["line"], 8);
    assert_eq!(failure["expr"], "http_requests * 2");
    assert_eq!(failure["expected"], "[{job=\"api\"} 99]");
    assert!(failure["got"].as_str().unwrap().contains("100"), "{doc}");
}

#[test]
fn a_syntax_error_names_file_and_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.test");
    std::fs::write(
        &file,
        "load 1m\n    metric 1 2 3\n\nload soon\n    metric 1\n",
    )
    .unwrap();
    let output = promql_test(&[file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    let text = stderr(&output);
    assert!(text.contains("broken.test:4:"), "{text}");
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("absent.test");
    let output = promql_test(&[file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    let text = stderr(&output);
    assert!(
        text.contains("cannot read") && text.contains("absent.test"),
        "{text}"
    );
}

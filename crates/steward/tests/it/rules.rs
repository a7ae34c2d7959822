//! `steward rules check` and `steward rules test` on steward-rules' test
//! data: promtool's exit status per file (0 pass, 1 fail, 2 only for a bad
//! invocation), its output, and with `STEWARD_TEST_PROMTOOL` naming
//! promtool 2.42, the same exit status as promtool's on every file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{BIN, stderr, stdout};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../steward-rules/tests/data");

/// Rule check files whose problems are YAML decoding errors: those are
/// located by the decoder, before any group exists to be named.
const YAML_ERRORS: [&str; 2] = ["bad_duration.yml", "unknown_field.yml"];

fn steward(args: &[&str], files: &[&Path]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(files)
        .env("STEWARD_LOG", "warn")
        .output()
        .unwrap()
}

/// The files of `dir` whose names end with `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_str().is_some_and(|s| s.ends_with(suffix)))
        .collect();
    out.sort();
    out
}

fn name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

/// The test files meant to fail, as promtool 2.42 decides.
fn failing() -> BTreeSet<String> {
    std::fs::read_to_string(Path::new(DATA).join("failing.txt"))
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[allow(clippy::print_stderr)] // the skip line is the point
fn promtool() -> Option<String> {
    let promtool = std::env::var("STEWARD_TEST_PROMTOOL")
        .ok()
        .filter(|p| !p.is_empty());
    if promtool.is_none() {
        eprintln!("skipping the comparison with promtool: STEWARD_TEST_PROMTOOL is not set");
    }
    promtool
}

/// promtool's exit status on one file, run where the file is (as the
/// rule files of a test file are relative to it).
fn promtool_code(promtool: &str, args: &[&str], file: &Path) -> Option<i32> {
    Command::new(promtool)
        .args(args)
        .arg(file.file_name().unwrap())
        .current_dir(file.parent().unwrap())
        .output()
        .expect("promtool runs")
        .status
        .code()
}

/// No line of anyhow's `error: ...` report: a failed check or test says
/// what failed in promtool's words only.
fn assert_no_error_line(output: &Output) {
    let text = stderr(output);
    assert!(
        !text.lines().any(|line| line.starts_with("error: ")),
        "{text}"
    );
}

#[test]
fn test_files_exit_as_promtool_does() {
    let failing = failing();
    let promtool = promtool();
    let tests = files(Path::new(DATA), ".test.yml");
    assert!(tests.len() >= 12, "test files: {tests:?}");
    let mut problems = Vec::new();
    for file in &tests {
        let name = name(file);
        let output = steward(&["rules", "test"], &[file]);
        let (out, err) = (stdout(&output), stderr(&output));
        let code = output.status.code();
        let want = i32::from(failing.contains(name));
        if code != Some(want) {
            problems.push(format!(
                "{name}: steward exits {code:?} (want {want})\n{out}{err}"
            ));
            continue;
        }
        assert!(
            out.starts_with(&format!("Unit Testing:  {}\n", file.display())),
            "{name}: {out}"
        );
        if want == 0 {
            assert!(out.contains("\n  SUCCESS\n"), "{name}: {out}");
        } else {
            assert!(err.contains("  FAILED:\n"), "{name}: {err}");
            assert_no_error_line(&output);
        }
        let Some(promtool) = &promtool else { continue };
        let theirs = promtool_code(promtool, &["test", "rules"], file);
        if theirs != code {
            problems.push(format!(
                "{name}: promtool exits {theirs:?}, steward {code:?}\n{err}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn several_test_files_fail_together_when_one_fails() {
    let failing = failing();
    let tests = files(Path::new(DATA), ".test.yml");
    let pass = tests.iter().find(|f| !failing.contains(name(f))).unwrap();
    let fail = tests.iter().find(|f| failing.contains(name(f))).unwrap();
    let output = steward(&["rules", "test"], &[pass, fail]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    let first = out.find(&format!("Unit Testing:  {}", pass.display()));
    let second = out.find(&format!("Unit Testing:  {}", fail.display()));
    assert!(first.is_some() && second > first, "{out}");
    assert_no_error_line(&output);
}

#[test]
fn check_files_exit_as_promtool_does_and_name_file_and_group() {
    let promtool = promtool();
    let checks = files(&Path::new(DATA).join("check"), ".yml");
    assert!(checks.len() >= 8, "check files: {checks:?}");
    let mut problems = Vec::new();
    for file in &checks {
        let name = name(file);
        let output = steward(&["rules", "check"], &[file]);
        let (out, err) = (stdout(&output), stderr(&output));
        let code = output.status.code();
        let valid = name == "valid.yml";
        if code != Some(if valid { 0 } else { 1 }) {
            problems.push(format!("{name}: steward exits {code:?}\n{out}{err}"));
            continue;
        }
        if valid {
            assert_eq!(
                out,
                format!("Checking {}\n  SUCCESS: 2 rules found\n\n", file.display()),
                "{name}"
            );
            assert_eq!(err, "", "{name}");
        } else {
            assert_eq!(out, format!("Checking {}\n\n", file.display()), "{name}");
            let problems_lines: Vec<&str> = err
                .strip_prefix("  FAILED:\n")
                .unwrap_or_else(|| panic!("{name}: {err}"))
                .lines()
                .collect();
            assert!(!problems_lines.is_empty(), "{name}: {err}");
            assert!(
                err.contains(&format!("{}: ", file.display())),
                "{name} is named: {err}"
            );
            if !YAML_ERRORS.contains(&name) {
                assert!(
                    err.contains("group \"g\"") || err.contains("groupname: \"g\""),
                    "{name}: the group is named: {err}"
                );
            }
            assert_no_error_line(&output);
        }
        let Some(promtool) = &promtool else { continue };
        let theirs = promtool_code(promtool, &["check", "rules"], file);
        if theirs != code {
            problems.push(format!(
                "{name}: promtool exits {theirs:?}, steward {code:?}\n{err}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn a_missing_rule_file_fails_its_check_and_others_are_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent.yml");
    let valid = Path::new(DATA).join("check/valid.yml");
    let output = steward(&["rules", "check"], &[&absent, &valid]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("  SUCCESS: 2 rules found"), "{out}");
    let err = stderr(&output);
    assert!(
        err.starts_with("  FAILED:\n") && err.contains("absent.yml"),
        "{err}"
    );
}

#[test]
fn no_files_is_a_usage_error() {
    for command in ["check", "test"] {
        let output = steward(&["rules", command], &[]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    }
}

#[test]
fn check_json_lists_rules_and_errors_per_file() {
    let valid = Path::new(DATA).join("check/valid.yml");
    let bad = Path::new(DATA).join("check/bad_metric_name.yml");
    let output = steward(&["--output", "json", "rules", "check"], &[&valid, &bad]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "nothing but the document");
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["failed"], 1, "{doc}");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{doc}");
    assert_eq!(files[0]["file"], valid.to_str().unwrap());
    assert_eq!(files[0]["rules"], 2);
    assert_eq!(files[0]["errors"], serde_json::json!([]));
    assert_eq!(files[1]["file"], bad.to_str().unwrap());
    assert_eq!(files[1]["rules"], 0);
    assert_eq!(
        files[1]["errors"],
        serde_json::json!([format!(
            "{}: group \"g\", rule 1, \"bad name\": invalid recording rule name: bad name",
            bad.display()
        )])
    );
}

#[test]
fn test_json_says_per_file_whether_it_passed() {
    let failing = failing();
    let tests = files(Path::new(DATA), ".test.yml");
    let pass = tests.iter().find(|f| !failing.contains(name(f))).unwrap();
    let fail = tests.iter().find(|f| failing.contains(name(f))).unwrap();
    let output = steward(&["rules", "test", "--output", "json"], &[pass, fail]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["failed"], 1, "{doc}");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{doc}");
    assert_eq!(files[0]["file"], pass.to_str().unwrap());
    assert_eq!(files[0]["passed"], true);
    assert_eq!(files[0]["errors"], serde_json::json!([]));
    assert_eq!(files[1]["file"], fail.to_str().unwrap());
    assert_eq!(files[1]["passed"], false);
    let errors = files[1]["errors"].as_array().unwrap();
    assert!(
        !errors.is_empty() && errors.iter().all(|e| e.is_string()),
        "{doc}"
    );
}

#[test]
fn passing_files_exit_0_in_json_too() {
    let valid = Path::new(DATA).join("check/valid.yml");
    let output = steward(&["-o", "json", "rules", "check"], &[&valid]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["failed"], 0, "{doc}");
}

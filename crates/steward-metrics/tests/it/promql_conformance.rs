//! Runs Prometheus 2.42's PromQL test files (the shared conformance data
//! beside the repository) and steward's own `.test` files through the
//! engine's test-file runner.

// the report of each failing evaluation is the point of these tests
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};

use steward_metrics::promql::testfile::{FileReport, run_file};

/// The evaluations the shared Prometheus 2.42 files hold.
const SHARED_EVALS: usize = 470;

fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read test dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    files
}

/// Runs every file of `dir`, printing each failure; returns the totals.
fn run_dir(dir: &Path) -> (usize, usize) {
    let (mut passed, mut failed) = (0, 0);
    for file in test_files(dir) {
        let FileReport {
            passed: p,
            failures,
        } = run_file(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for f in &failures {
            eprintln!("{f}\n");
        }
        eprintln!("{}: {p} passed, {} failed", file.display(), failures.len());
        passed += p;
        failed += failures.len();
    }
    (passed, failed)
}

#[test]
fn prometheus_2_42_test_files_pass() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/promql"
    ));
    if !dir.is_dir() {
        eprintln!("{} is absent: skipped", dir.display());
        return;
    }
    let (passed, failed) = run_dir(dir);
    eprintln!("shared conformance: {passed} passed, {failed} failed");
    assert_eq!(failed, 0, "{failed} evaluations failed");
    assert_eq!(passed, SHARED_EVALS, "evaluation count");
}

/// Further files of the same format, in the directory named by
/// `STEWARD_PROMQL_TEST_DIR` (to check other Prometheus test files
/// without adding them to the repository).
#[test]
fn extra_test_files_pass_when_given() {
    let Some(dir) = std::env::var_os("STEWARD_PROMQL_TEST_DIR") else {
        return;
    };
    let (passed, failed) = run_dir(Path::new(&dir));
    eprintln!("extra test files: {passed} passed, {failed} failed");
    assert_eq!(failed, 0, "{failed} evaluations failed");
}

#[test]
fn steward_test_files_pass() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/promql"));
    let (passed, failed) = run_dir(dir);
    assert_eq!(failed, 0, "{failed} evaluations failed");
    assert!(passed > 0, "no evaluations found");
}

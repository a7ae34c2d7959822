//! `steward promql-test`: runs PromQL test files (the `.test` format of
//! Prometheus' `promql/testdata`) against steward's embedded engine, in
//! process, so rules and queries can be checked without a server.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use steward_metrics::promql::testfile::{self, Failure, FileReport};

use crate::{
    UsageError,
    cli::{Global, OutputFormat},
    output,
};

/// Some evaluations did not give what their file expects: exit 1.
#[derive(Debug, thiserror::Error)]
#[error("{0} of {1} evaluations failed")]
struct Failed(usize, usize);

/// Runs every file in order, prints the failures and a `N passed, M failed`
/// line (or one JSON document), and fails when any evaluation failed.
pub(crate) fn run(global: &Global, files: &[PathBuf]) -> anyhow::Result<()> {
    let json = global.output == OutputFormat::Json;
    let mut reports = Vec::with_capacity(files.len());
    for path in files {
        let report = run_one(path)?;
        if !json {
            // Printed as each file finishes: a long run shows progress, and
            // a later malformed file does not hide earlier failures.
            for failure in &report.failures {
                output::line(&failure.to_string());
            }
        }
        reports.push((path, report));
    }
    let passed: usize = reports.iter().map(|(_, r)| r.passed).sum();
    let failed: usize = reports.iter().map(|(_, r)| r.failures.len()).sum();
    if json {
        let files: Vec<Value> = reports
            .iter()
            .map(|(path, report)| {
                json!({
                    "file": path.display().to_string(),
                    "passed": report.passed,
                    "failures": report.failures.iter().map(failure_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        output::json(&json!({"files": files, "passed": passed, "failed": failed}));
    } else {
        output::line(&format!("{passed} passed, {failed} failed"));
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(Failed(failed, passed + failed).into())
    }
}

/// Runs one file. A file that cannot be read or does not parse is the
/// caller's mistake, not a failed test: it is reported as a usage error.
fn run_one(path: &Path) -> anyhow::Result<FileReport> {
    testfile::run_file(path).map_err(|err| {
        let message = match err {
            // The library words i/o errors for its store; say what happened here.
            steward_metrics::Error::Io { source, .. } => {
                format!("cannot read {}: {source}", path.display())
            }
            // Already `file:line: message`.
            steward_metrics::Error::TestFile { .. } => format!("invalid test file {err}"),
            other => format!("{}: {other}", path.display()),
        };
        UsageError(message).into()
    })
}

fn failure_json(failure: &Failure) -> Value {
    json!({
        "file": failure.file,
        "line": failure.line,
        "expr": failure.expr,
        "expected": failure.expected,
        "got": failure.got,
    })
}

//! `steward rules check` and `steward rules test`: Prometheus rule files
//! validated and unit-tested in process by steward-rules, with the output
//! and exit status of `promtool check rules` and `promtool test rules`
//! (Prometheus 2.42), so that CI can swap one for the other.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use steward_rules::{RuleQuerier, SyntaxChecker, rulefmt, unittest};
use steward_server::rules::LogQlSyntax;

use crate::{
    Reported,
    cli::{Global, OutputFormat, RulesCommand},
    output,
};

/// Runs a `rules` subcommand.
pub(crate) fn run(global: &Global, command: RulesCommand) -> anyhow::Result<()> {
    let json = global.output == OutputFormat::Json;
    match command {
        RulesCommand::Check { logql, files } => {
            let querier: Option<&dyn RuleQuerier> = logql.then_some(&LogQlSyntax);
            check(json, &files, querier)
        }
        RulesCommand::Test { files } => test(json, &files),
    }
}

/// What checking one rule file found.
#[derive(Debug)]
struct Checked {
    /// The file as given.
    file: String,
    /// How many rules it has; 0 when it has problems, as promtool counts.
    rules: usize,
    /// Its problems, each naming the file (and group and rule), as
    /// steward-rules words them.
    errors: Vec<String>,
}

/// Checks the rule file at `path`, its expressions in `querier`'s
/// language (PromQL when `None`).
fn check_file(path: &Path, querier: Option<&dyn RuleQuerier>) -> Checked {
    let file = path.display().to_string();
    match rulefmt::parse_file_with(path, &SyntaxChecker, querier) {
        Ok(groups) => Checked {
            file,
            rules: groups.groups.iter().map(|group| group.rules.len()).sum(),
            errors: Vec::new(),
        },
        Err(steward_rules::Error::Invalid { errors }) => Checked {
            file,
            rules: 0,
            errors,
        },
        // An unreadable file is a failed check, not a usage error: promtool
        // reports it in the file's `FAILED:` block and exits 1.
        Err(other) => Checked {
            file,
            rules: 0,
            errors: vec![other.to_string()],
        },
    }
}

/// `promtool check rules`: per file `Checking <file>` and `SUCCESS: N
/// rules found` on stdout, or `FAILED:` and the problems on stderr; fails
/// (exit 1, nothing more printed) when any file has problems.
fn check(json: bool, files: &[PathBuf], querier: Option<&dyn RuleQuerier>) -> anyhow::Result<()> {
    let mut checked = Vec::with_capacity(files.len());
    for path in files {
        let result = check_file(path, querier);
        if !json {
            print_checked(&result);
        }
        checked.push(result);
    }
    let failed = checked.iter().filter(|c| !c.errors.is_empty()).count();
    if json {
        output::json(&check_json(&checked));
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(Reported(format!(
            "{failed} of {} rule files have problems",
            files.len()
        ))
        .into())
    }
}

/// One file's report, split between stdout and stderr as promtool splits it.
fn print_checked(checked: &Checked) {
    output::line(&format!("Checking {}", checked.file));
    if checked.errors.is_empty() {
        output::line(&format!("  SUCCESS: {} rules found", checked.rules));
    } else {
        output::note("  FAILED:");
        for error in &checked.errors {
            output::note(error);
        }
    }
    output::line("");
}

/// `{"files": [{"file", "rules", "errors"}], "failed": N}`.
fn check_json(checked: &[Checked]) -> Value {
    let files: Vec<Value> = checked
        .iter()
        .map(|c| json!({"file": c.file, "rules": c.rules, "errors": c.errors}))
        .collect();
    let failed = checked.iter().filter(|c| !c.errors.is_empty()).count();
    json!({"files": files, "failed": failed})
}

/// `promtool test rules`: steward-rules prints promtool's output itself
/// (progress on stdout, failures on stderr); with JSON, one document of
/// every file's outcome. Fails (exit 1, nothing more printed) when any
/// test fails or a file is invalid.
fn test(json: bool, files: &[PathBuf]) -> anyhow::Result<()> {
    let failed = if json {
        let outcomes: Vec<unittest::FileOutcome> =
            files.iter().map(|path| unittest::run_file(path)).collect();
        output::json(&test_json(&outcomes));
        outcomes.iter().filter(|o| !o.errors.is_empty()).count()
    } else {
        let status = unittest::run_files(files, &mut output::Stdout, &mut output::Stderr)
            .map_err(|err| anyhow::anyhow!("cannot write the test report: {err}"))?;
        usize::from(status != 0)
    };
    if failed == 0 {
        Ok(())
    } else {
        Err(Reported("rule tests failed".to_owned()).into())
    }
}

/// `{"files": [{"file", "passed", "errors"}], "failed": N}`.
fn test_json(outcomes: &[unittest::FileOutcome]) -> Value {
    let files: Vec<Value> = outcomes
        .iter()
        .map(|o| json!({"file": o.file, "passed": o.errors.is_empty(), "errors": o.errors}))
        .collect();
    let failed = outcomes.iter().filter(|o| !o.errors.is_empty()).count();
    json!({"files": files, "failed": failed})
}

#[cfg(test)]
mod tests;

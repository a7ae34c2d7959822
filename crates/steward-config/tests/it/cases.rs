//! Runs every `tests/cases/*.toml` file through the loader and compares the
//! diagnostics with the file's `# expect:` lines, exactly: same count, and
//! for each expectation a diagnostic of that level at that line:column whose
//! message starts with the expected text. `# env: NAME=value` lines set
//! variables for that case. A file can be passed with
//! `STEWARD_CONFIG_CASE=<path>` to run just that one.

use std::path::{Path, PathBuf};

use steward_config::{Diagnostic, Environment, Level, Location, load};

#[derive(Debug)]
struct Expectation {
    level: Level,
    line: usize,
    column: usize,
    message: String,
}

fn parse_case(text: &str) -> (Vec<Expectation>, Environment) {
    let mut expectations = Vec::new();
    let mut vars = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# expect: ") {
            let (level, rest) = rest.split_once(' ').expect("level");
            let (position, message) = rest.split_once(' ').expect("position");
            let (line, column) = position.split_once(':').expect("line:column");
            expectations.push(Expectation {
                level: match level {
                    "error" => Level::Error,
                    "warning" => Level::Warning,
                    other => panic!("unknown level {other}"),
                },
                line: line.parse().expect("line"),
                column: column.parse().expect("column"),
                message: message.to_owned(),
            });
        } else if let Some(rest) = line.strip_prefix("# env: ") {
            let (name, value) = rest.split_once('=').expect("NAME=value");
            vars.push((name.to_owned(), value.to_owned()));
        }
    }
    (expectations, vars.into_iter().collect())
}

fn matches(expectation: &Expectation, diagnostic: &Diagnostic) -> bool {
    let Location::File { line, column, .. } = diagnostic.location else {
        return false;
    };
    diagnostic.level == expectation.level
        && line == expectation.line
        && column == expectation.column
        && diagnostic.message.starts_with(&expectation.message)
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let (expectations, env) = parse_case(&text);
    let diagnostics = match load(path, &env) {
        Ok(loaded) => loaded.report.diagnostics,
        Err(steward_config::Error::Invalid(report)) => report.diagnostics,
        Err(other) => return Err(format!("unexpected error: {other}")),
    };
    let describe = |d: &Diagnostic| format!("{:?} {} {}", d.level, d.location, d.message);
    for expectation in &expectations {
        if !diagnostics.iter().any(|d| matches(expectation, d)) {
            let got: Vec<String> = diagnostics.iter().map(describe).collect();
            return Err(format!(
                "missing {expectation:?}; got:\n  {}",
                got.join("\n  ")
            ));
        }
    }
    for diagnostic in &diagnostics {
        if !expectations.iter().any(|e| matches(e, diagnostic)) {
            return Err(format!("unexpected diagnostic: {}", describe(diagnostic)));
        }
    }
    Ok(())
}

fn case_files() -> Vec<PathBuf> {
    if let Ok(one) = std::env::var("STEWARD_CONFIG_CASE") {
        return vec![PathBuf::from(one)];
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("cases directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn diagnostics_cases() {
    let files = case_files();
    // One file when STEWARD_CONFIG_CASE names it; else all of them.
    assert!(
        files.len() >= 9 || std::env::var_os("STEWARD_CONFIG_CASE").is_some(),
        "expected the case files, found {files:?}"
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            run_case(path)
                .err()
                .map(|err| format!("{}: {err}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

//! Integration tests of steward-incident: the data-driven cases of
//! `tests/cases/` (on-call schedules, root-cause rankings).

mod rca;
mod schedules;

use std::path::PathBuf;

/// The `.toml` case files of `tests/cases/<kind>/`, by name.
fn case_files(kind: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

//! Root-cause ranking cases: each file of `tests/cases/rca/` is an
//! incident (affected services, the dependency graph, the first alert,
//! earlier fixes) with the journal's changes around it, and the ids the
//! ranking must give, best first (`expect = []`: no change found), and
//! the services seen failing besides the affected ones (`failing`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use steward_incident::rca::{ChangeRecord, Context, PastFix, rank};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    first_alert: DateTime<Utc>,
    affected: BTreeSet<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, BTreeSet<String>>,
    #[serde(default = "two_hours")]
    window: String,
    #[serde(default = "fifteen_minutes")]
    half_life: String,
    #[serde(default)]
    history: Vec<PastFix>,
    #[serde(default)]
    changes: Vec<ChangeRecord>,
    /// Services seen failing besides the affected ones.
    #[serde(default)]
    failing: BTreeSet<String>,
    expect: Vec<String>,
}

fn two_hours() -> String {
    "2h".into()
}

fn fifteen_minutes() -> String {
    "15m".into()
}

fn delta(text: &str) -> TimeDelta {
    TimeDelta::from_std(steward_core::parse_duration(text).expect("duration")).expect("in range")
}

#[test]
fn rca_cases() {
    let files = crate::case_files("rca");
    for path in &files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).expect("read case");
        let case: Case = toml_edit::de::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let context = Context {
            affected: &case.affected,
            dependencies: &case.dependencies,
            first_alert: case.first_alert,
            window: delta(&case.window),
            half_life: delta(&case.half_life),
            history: &case.history,
            failing: &case.failing,
        };
        let ranked = rank(&case.changes, &context);
        let ids: Vec<&str> = ranked.iter().map(|c| c.change.id.as_str()).collect();
        assert_eq!(ids, case.expect, "{name}: {ranked:#?}");
    }
    assert!(files.len() >= 8, "only {} cases", files.len());
}

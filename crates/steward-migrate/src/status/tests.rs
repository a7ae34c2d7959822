//! Unit tests for status computation.

use std::path::PathBuf;

use chrono::Utc;

use super::*;
use crate::source::checksum;

fn source(files: &[(&str, &str)]) -> Source {
    Source::from_files(
        files
            .iter()
            .map(|(name, sql)| (PathBuf::from(name), (*sql).to_owned())),
    )
    .unwrap()
}

fn row(
    rank: i64,
    version: Option<&str>,
    name: &str,
    kind: RowKind,
    sql: &str,
    success: bool,
    error: Option<&str>,
) -> HistoryRow {
    HistoryRow {
        rank,
        version: version.map(str::to_owned),
        name: name.to_owned(),
        kind,
        checksum: checksum(sql),
        applied_at: Utc::now(),
        applied_by: "test".into(),
        execution_ms: 1,
        success,
        statements_applied: 0,
        backup: None,
        schema_fingerprint: None,
        error: error.map(str::to_owned),
    }
}

fn states(status: &Status) -> Vec<(String, State)> {
    status
        .entries
        .iter()
        .map(|e| {
            (
                e.version.clone().unwrap_or_else(|| format!("R {}", e.name)),
                e.state,
            )
        })
        .collect()
}

#[test]
fn a_fresh_database_has_everything_pending() {
    let status = compute(
        &source(&[("V1__a.sql", "A"), ("V2__b.sql", "B"), ("R__v.sql", "V")]),
        &[],
    );
    assert_eq!(
        states(&status),
        [
            ("1".into(), State::Pending),
            ("2".into(), State::Pending),
            ("R v".into(), State::Pending)
        ]
    );
    assert_eq!(status.current, None);
    assert!(status.problems(false).is_empty());
}

#[test]
fn applied_changed_missing_and_out_of_order_are_told_apart() {
    let files = source(&[
        ("V1__a.sql", "A"),
        ("V2__b.sql", "B edited"),
        ("V3__c.sql", "C"),
        ("V5__e.sql", "E"),
    ]);
    let history = [
        row(1, Some("1"), "a", RowKind::Versioned, "A", true, None),
        row(2, Some("2"), "b", RowKind::Versioned, "B", true, None),
        row(3, Some("4"), "d", RowKind::Versioned, "D", true, None),
    ];
    let status = compute(&files, &history);
    assert_eq!(
        states(&status),
        [
            ("1".into(), State::Applied),
            ("2".into(), State::Changed),
            ("3".into(), State::OutOfOrder),
            ("4".into(), State::Missing),
            ("5".into(), State::Pending),
        ]
    );
    assert_eq!(status.current.as_deref(), Some("4"));
    let problems: Vec<State> = status.problems(false).iter().map(|e| e.state).collect();
    assert_eq!(
        problems,
        [State::Changed, State::OutOfOrder, State::Missing]
    );
    assert_eq!(
        status.problems(true).len(),
        2,
        "out of order may be allowed"
    );
}

#[test]
fn crlf_checkouts_are_not_edits() {
    let files = source(&[("V1__a.sql", "CREATE TABLE a (id INT);\r\n")]);
    let history = [row(
        1,
        Some("1"),
        "a",
        RowKind::Versioned,
        "CREATE TABLE a (id INT);\n",
        true,
        None,
    )];
    assert_eq!(compute(&files, &history).entries[0].state, State::Applied);
}

#[test]
fn the_newest_row_decides_failed_interrupted_and_undone() {
    let files = source(&[("V1__a.sql", "A"), ("V2__b.sql", "B"), ("V3__c.sql", "C")]);
    let history = [
        row(1, Some("1"), "a", RowKind::Versioned, "A", true, None),
        row(
            2,
            Some("2"),
            "b",
            RowKind::Versioned,
            "B",
            false,
            Some("syntax error"),
        ),
        row(3, Some("3"), "c", RowKind::Versioned, "C", true, None),
        row(4, Some("3"), "c", RowKind::Down, "C", true, None),
        row(5, Some("3"), "c", RowKind::Versioned, "C", false, None),
    ];
    let status = compute(&files, &history);
    assert_eq!(
        states(&status),
        [
            ("1".into(), State::Applied),
            ("2".into(), State::Failed),
            ("3".into(), State::Interrupted)
        ]
    );
    assert_eq!(status.entries[1].error.as_deref(), Some("syntax error"));
    let undone = compute(&files, &history[..4]);
    assert_eq!(
        undone.entries[2].state,
        State::Pending,
        "a down row makes the version pending again"
    );
}

#[test]
fn a_baseline_adopts_older_versions() {
    let files = source(&[("V1__a.sql", "A"), ("V2__b.sql", "B"), ("V3__c.sql", "C")]);
    let history = [row(
        1,
        Some("2"),
        "baseline",
        RowKind::Baseline,
        "",
        true,
        None,
    )];
    let status = compute(&files, &history);
    assert_eq!(
        states(&status),
        [
            ("1".into(), State::BelowBaseline),
            ("2".into(), State::Baseline),
            ("3".into(), State::Pending)
        ]
    );
    assert_eq!(status.current.as_deref(), Some("2"));
}

#[test]
fn repeatables_rerun_when_their_checksum_changes() {
    let files = source(&[("R__views.sql", "new"), ("R__fresh.sql", "x")]);
    let history = [row(
        1,
        None,
        "views",
        RowKind::Repeatable,
        "old",
        true,
        None,
    )];
    let status = compute(&files, &history);
    assert_eq!(
        states(&status),
        [
            ("R fresh".into(), State::Pending),
            ("R views".into(), State::Outdated)
        ]
    );
    assert!(status.problems(false).is_empty());
}

//! Unit tests for migration sources.

use std::path::PathBuf;

use super::*;

fn files(names: &[&str]) -> Vec<(PathBuf, String)> {
    names
        .iter()
        .map(|name| (PathBuf::from(name), format!("-- {name}\nSELECT 1;\n")))
        .collect()
}

fn versions(source: &Source) -> Vec<(String, String, bool, bool)> {
    source
        .versioned
        .iter()
        .map(|m| {
            (
                m.version.as_ref().unwrap().to_string(),
                m.name.clone(),
                m.down.is_some(),
                m.verify.is_some(),
            )
        })
        .collect()
}

#[test]
fn reads_the_steward_layout_in_version_order() {
    let source = Source::from_files(files(&[
        "V10__add_index.sql",
        "V2__create_runs.sql",
        "V2__create_runs.down.sql",
        "V2__create_runs.verify.sql",
        "V1.1__create_tasks.sql",
        "U1.1__create_tasks.sql",
        "R__refresh_views.sql",
    ]))
    .unwrap();
    assert_eq!(
        versions(&source),
        [
            ("1.1".into(), "create_tasks".into(), true, false),
            ("2".into(), "create_runs".into(), true, true),
            ("10".into(), "add_index".into(), false, false),
        ]
    );
    assert_eq!(source.repeatable.len(), 1);
    assert_eq!(source.repeatable[0].label(), "R refresh_views");
    assert_eq!(source.repeatable[0].kind, MigrationKind::Repeatable);
}

#[test]
fn reads_sqlx_golang_migrate_and_diesel_layouts() {
    let sqlx = Source::from_files(files(&[
        "20240101120000_users.up.sql",
        "20240101120000_users.down.sql",
        "20240102000000_simple.sql",
    ]))
    .unwrap();
    assert_eq!(
        versions(&sqlx),
        [
            ("20240101120000".into(), "users".into(), true, false),
            ("20240102000000".into(), "simple".into(), false, false)
        ]
    );
    let golang = Source::from_files(files(&[
        "1_init.up.sql",
        "1_init.down.sql",
        "2_more.up.sql",
    ]))
    .unwrap();
    assert_eq!(versions(&golang).len(), 2);
    let diesel = Source::from_files(files(&[
        "2019-08-14-123456_create_posts/up.sql",
        "2019-08-14-123456_create_posts/down.sql",
        "00000000000000_diesel_initial_setup/up.sql",
    ]))
    .unwrap();
    assert_eq!(
        versions(&diesel),
        [
            (
                "00000000000000".into(),
                "diesel_initial_setup".into(),
                false,
                false
            ),
            (
                "2019-08-14-123456".into(),
                "create_posts".into(),
                true,
                false
            ),
        ]
    );
}

#[test]
fn malformed_directories_are_errors_naming_the_file() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["V1__a.sql", "V1__b.sql"],
            "also used by a migration named `a`",
        ),
        (&["V1__a.down.sql"], "no up migration"),
        (
            &["create_users.sql"],
            "cannot tell this migration's version",
        ),
        (&["R__x.sql", "R__x.sql"], "duplicate up file"),
        (&["3_a/readme.sql"], "expected up.sql"),
    ];
    for (names, expected) in cases {
        let err = Source::from_files(files(names)).unwrap_err().to_string();
        assert!(err.contains(expected), "{names:?}: {err}");
    }
}

#[test]
fn checksums_ignore_line_endings_and_byte_order_marks_only() {
    let unix = checksum("CREATE TABLE a (id INT);\nSELECT 1;\n");
    assert_eq!(checksum("CREATE TABLE a (id INT);\r\nSELECT 1;\r\n"), unix);
    assert_eq!(
        checksum("\u{feff}CREATE TABLE a (id INT);\rSELECT 1;\r"),
        unix
    );
    assert_ne!(checksum("CREATE TABLE a (id BIGINT);\nSELECT 1;\n"), unix);
    assert_ne!(
        checksum("CREATE TABLE a (id INT);\nSELECT 1; \n"),
        unix,
        "other whitespace is content"
    );
}

#[test]
fn the_no_transaction_directive_is_read_from_leading_comments() {
    let source = Source::from_files(vec![
        (
            PathBuf::from("V1__a.sql"),
            "-- steward:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);".into(),
        ),
        (
            PathBuf::from("V2__b.sql"),
            "-- build the index\n\n-- no-transaction\nSELECT 1;".into(),
        ),
        (
            PathBuf::from("V3__c.sql"),
            "SELECT 1;\n-- steward:no-transaction\n".into(),
        ),
    ])
    .unwrap();
    let flags: Vec<bool> = source.versioned.iter().map(|m| m.no_transaction).collect();
    assert_eq!(flags, [true, true, false]);
}

#[test]
fn reads_a_directory_ignoring_other_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("V1__a.sql"), "SELECT 1;").unwrap();
    std::fs::write(dir.path().join("README.md"), "notes").unwrap();
    std::fs::write(dir.path().join(".hidden.sql"), "nope").unwrap();
    std::fs::create_dir(dir.path().join("2_b")).unwrap();
    std::fs::write(dir.path().join("2_b/up.sql"), "SELECT 2;").unwrap();
    let source = Source::from_dir(dir.path()).unwrap();
    assert_eq!(source.versioned.len(), 2);
    assert_eq!(source.dir.as_deref(), Some(dir.path()));
    assert_eq!(source.versioned[1].up.path, PathBuf::from("2_b/up.sql"));
}

//! Tests of database URLs: engines, SQLite files and memory, resolution of
//! relative files, the driver's spelling, and displays without secrets.

use std::path::{Path, PathBuf};

use super::{DatabaseUrl, Engine, SqliteLocation, normalize_path};

#[test]
fn schemes_name_their_engines() {
    for (url, engine) in [
        ("sqlite://a.db", Engine::Sqlite),
        ("sqlite::memory:", Engine::Sqlite),
        ("postgres://u:p@h/db", Engine::Postgres),
        ("postgresql://h/db", Engine::Postgres),
        ("mysql://h/db", Engine::Mysql),
        ("mariadb://h/db", Engine::Mysql),
    ] {
        assert_eq!(DatabaseUrl::parse(url).unwrap().engine(), engine, "{url}");
    }
    let err = DatabaseUrl::parse("redis://secret@h").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported database URL scheme `redis` (expected sqlite, postgres, postgresql, mysql or mariadb)"
    );
}

#[test]
fn sqlite_urls_give_their_file_or_memory() {
    let file = |url: &str| DatabaseUrl::parse(url).unwrap().sqlite();
    assert_eq!(
        file("sqlite://data/app.db?mode=ro"),
        Some(SqliteLocation::File {
            path: PathBuf::from("data/app.db"),
            query: Some("mode=ro".to_owned())
        })
    );
    assert_eq!(
        DatabaseUrl::parse("sqlite:/abs/app.db")
            .unwrap()
            .sqlite_file(),
        Some(PathBuf::from("/abs/app.db"))
    );
    for memory in [
        "sqlite::memory:",
        "sqlite://",
        "sqlite://:memory:",
        "sqlite://x.db?mode=memory",
    ] {
        assert_eq!(file(memory), Some(SqliteLocation::Memory), "{memory}");
    }
    assert_eq!(file("postgres://h/db"), None);
}

#[test]
fn relative_sqlite_files_resolve_against_a_directory() {
    let base = Path::new("/etc/steward");
    let resolved = |url: &str| {
        DatabaseUrl::parse(url)
            .unwrap()
            .resolved_against(base)
            .expose()
            .to_owned()
    };
    assert_eq!(
        resolved("sqlite://data/../app.db"),
        "sqlite:///etc/steward/app.db"
    );
    assert_eq!(
        resolved("sqlite:app.db?mode=rwc"),
        "sqlite:///etc/steward/app.db?mode=rwc"
    );
    assert_eq!(resolved("sqlite:///abs.db"), "sqlite:///abs.db");
    assert_eq!(resolved("sqlite::memory:"), "sqlite::memory:");
    assert_eq!(resolved("postgres://h/db"), "postgres://h/db");
}

#[test]
fn mariadb_is_spelled_mysql_for_the_driver_and_secrets_never_print() {
    let url = DatabaseUrl::parse("mariadb://root:hunter2@db/app").unwrap();
    assert_eq!(url.for_driver(), "mysql://root:hunter2@db/app");
    assert_eq!(url.to_string(), "mariadb://[redacted]");
    assert!(!format!("{url:?}").contains("hunter2"));
}

#[test]
fn paths_normalize_lexically() {
    let cases = [
        ("a/./b/../c", "a/c"),
        ("/a/b/../c", "/a/c"),
        ("a/./b", "a/b"),
        ("../x", "../x"),
        ("a/../../x", "../x"),
        ("/..", "/"),
        ("/../a", "/a"),
        (".", "."),
        ("./", "."),
        ("a/..", "."),
    ];
    for (input, expected) in cases {
        assert_eq!(
            normalize_path(Path::new(input)),
            PathBuf::from(expected),
            "{input}"
        );
    }
}

//! Backups: taken by policy, listed, pruned by retention, restored.

use steward_migrate::{BackupPolicy, Dialect, backup, testing::TestDatabase};

use crate::support::{Dir, id_column, manager_with, options};

crate::engine_suite!(backups_are_taken_listed_pruned_and_restored);

async fn backups_are_taken_listed_pruned_and_restored(db: TestDatabase) {
    if !backup::tool_available(db.dialect) {
        panic!(
            "the {} dump tools must be installed (scripts/test.sh installs them)",
            db.dialect.as_str()
        );
    }
    let dir = Dir::new(&db, "migrations");
    let id = id_column(db.dialect);
    dir.write(
        "V1__a.sql",
        &format!("CREATE TABLE a ({id}, v INT);\nINSERT INTO a (v) VALUES (1);"),
    )
    .write("V2__b.sql", &format!("CREATE TABLE b ({id});"))
    .write("V3__c.sql", &format!("CREATE TABLE c ({id});"));
    let mut opts = options(&db);
    opts.backup = BackupPolicy::PerMigration;
    opts.keep_backups = 2;
    let manager = manager_with(&db, &dir, opts.clone());
    let empty = manager.schema_dump().await.unwrap();
    let report = manager.apply().await.unwrap();
    assert_eq!(report.backups.len(), 3);
    assert_eq!(report.pruned, 1, "retention keeps two");
    let listed = manager.backups().unwrap();
    let reasons: Vec<&str> = listed.iter().map(|b| b.reason.as_str()).collect();
    assert_eq!(reasons, ["before 3 c", "before 2 b"]);
    assert!(
        listed
            .iter()
            .all(|b| b.bytes > 0 && b.dialect == db.dialect)
    );

    // Restoring "before 2 b" brings back the schema with only `a`, and its
    // rows, and the history of that moment.
    let restored = manager.restore(&listed[1].id[..12]).await;
    let restored = match restored {
        Ok(restored) => restored,
        // Two backups may share a 12-character prefix (same second); use the whole id.
        Err(_) => manager.restore(&listed[1].id).await.unwrap(),
    };
    assert_eq!(restored.reason, "before 2 b");
    let dump = manager.schema_dump().await.unwrap();
    assert!(dump.iter().any(|l| l.contains(" a")), "{dump:#?}");
    assert!(
        !dump.iter().any(|l| l.starts_with("table b")
            || l.starts_with("table c")
            || l.contains("TABLE b")
            || l.contains("TABLE c")),
        "{dump:#?}"
    );
    assert_ne!(dump, empty);
    let states: Vec<_> = manager
        .status()
        .await
        .unwrap()
        .entries
        .iter()
        .map(|e| e.state)
        .collect();
    use steward_migrate::status::State;
    assert_eq!(states, [State::Applied, State::Pending, State::Pending]);
    // And the migrations apply again on top.
    manager_with(&db, &dir, opts).apply().await.unwrap();
    let _ = Dialect::Sqlite;
}

//! Backups: taken by policy, listed, pruned by retention, restored.

use std::time::Duration;

use steward_migrate::{BackupPolicy, Dialect, backup, testing::TestDatabase};

use crate::support::{Dir, id_column, manager_with, options};

crate::engine_suite!(
    backups_are_taken_listed_pruned_and_restored,
    large_backups_restore_without_blocking
);

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

    // Nothing is pruned while a restore is in progress: it may need any.
    let backup_dir = listed[0].path.parent().unwrap().to_owned();
    let marker = backup_dir.join("restore-in-progress.json");
    std::fs::write(&marker, serde_json::to_vec(&listed[1]).unwrap()).unwrap();
    assert!(backup::prune(&backup_dir, 0).unwrap().is_empty());
    assert_eq!(manager.backups().unwrap().len(), 2);
    std::fs::remove_file(&marker).unwrap();

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

/// Rows of about 10 KB that compress poorly, about 10 MB in all: more than
/// any pipe buffer, even in pg_dump's compressed format.
fn large_rows(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "INSERT INTO big (v) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
             SELECT hex(randomblob(5000)) FROM n;"
        }
        Dialect::Postgres => {
            "INSERT INTO big (v) SELECT (SELECT string_agg(md5(random()::text || i::text || j::text), '') \
             FROM generate_series(1, 300) j) FROM generate_series(1, 1000) i;"
        }
        Dialect::Mysql => {
            "INSERT INTO big (v) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
             SELECT REPEAT(MD5(RAND()), 300) FROM n;"
        }
    }
}

async fn large_backups_restore_without_blocking(db: TestDatabase) {
    let dir = Dir::new(&db, "migrations");
    let id = id_column(db.dialect);
    dir.write(
        "V1__big.sql",
        &format!(
            "CREATE TABLE big ({id}, v TEXT);\n{}",
            large_rows(db.dialect)
        ),
    )
    .write("V2__later.sql", &format!("CREATE TABLE later ({id});"));
    let mut opts = options(&db);
    opts.backup = BackupPolicy::PerMigration;
    let manager = manager_with(&db, &dir, opts);
    let report = manager.apply().await.unwrap();
    let before_later = report
        .backups
        .iter()
        .find(|b| b.reason == "before 2 later")
        .expect("a backup before V2");
    assert!(
        before_later.bytes > 4 * 1024 * 1024,
        "the backup holds the rows: {} bytes",
        before_later.bytes
    );
    if db.dialect == Dialect::Mysql {
        // The client answers this with 2 MiB on stdout before it has read
        // the rest of the dump: it blocks for good unless steward drains
        // its output while it reads.
        let dump = std::fs::read(&before_later.path).unwrap();
        let mut chatty = b"SELECT REPEAT('x', 2097152) AS filler;\n".to_vec();
        chatty.extend_from_slice(&dump);
        std::fs::write(&before_later.path, chatty).unwrap();
    }
    tokio::time::timeout(Duration::from_secs(180), manager.restore(&before_later.id))
        .await
        .expect("the restore finishes")
        .unwrap();
    let dump = manager.schema_dump().await.unwrap();
    assert!(
        !dump.iter().any(|l| l.contains("later")),
        "restored to before V2: {dump:#?}"
    );
    let rows = count_big(&db).await;
    assert_eq!(rows, 1000);
}

async fn count_big(db: &TestDatabase) -> i64 {
    use sqlx::Connection;
    let query = "SELECT COUNT(*) FROM big";
    match db.dialect {
        Dialect::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(query).fetch_one(&mut c).await.unwrap()
        }
        Dialect::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(query).fetch_one(&mut c).await.unwrap()
        }
        Dialect::Mysql => {
            let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(query).fetch_one(&mut c).await.unwrap()
        }
    }
}

//! One run at a time: a second run waits for the lock or fails naming the
//! holder.

use std::time::Duration;

use steward_migrate::{Error, testing::TestDatabase};

use crate::support::{Dir, id_column, manager_with, options, slow_statement};

crate::engine_suite!(a_second_run_waits_or_fails_naming_the_holder);

async fn a_second_run_waits_or_fails_naming_the_holder(db: TestDatabase) {
    let dir = Dir::new(&db, "migrations");
    let id = id_column(db.dialect);
    dir.write(
        "V1__slow.sql",
        &format!("CREATE TABLE a ({id});\n{};\n", slow_statement(db.dialect)),
    );
    let mut first_options = options(&db);
    first_options.applied_by = "first@host".into();
    let first = manager_with(&db, &dir, first_options);
    let running = tokio::spawn(async move { first.apply().await });
    holder_appears(&db, "first@host").await;

    let mut impatient = options(&db);
    impatient.lock_timeout = Duration::from_millis(200);
    let err = manager_with(&db, &dir, impatient)
        .apply()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("the database is being migrated by"),
        "{text}"
    );
    if db.dialect != steward_migrate::Dialect::Mysql {
        assert!(text.contains("first@host"), "the holder is named: {text}");
    }

    let mut patient = options(&db);
    patient.lock_timeout = Duration::from_secs(30);
    let waited = manager_with(&db, &dir, patient).apply().await.unwrap();
    assert!(
        waited.migrations.is_empty(),
        "it waited, then found nothing to do"
    );
    let first = running.await.unwrap().unwrap();
    assert_eq!(first.migrations.len(), 1);
}

/// Waits until the first run holds the lock. For SQLite the lock file names
/// its holder once taken, so the test starts its second run only then (a
/// fixed sleep raced with a fast machine finishing the whole migration
/// first); the server engines' slow statement sleeps long enough.
async fn holder_appears(db: &TestDatabase, holder: &str) {
    let Some(file) = steward_migrate::sqlite_file(&db.url) else {
        tokio::time::sleep(Duration::from_millis(400)).await;
        return;
    };
    let mut lock = file.into_os_string();
    lock.push(".steward-lock");
    for _ in 0..500 {
        if std::fs::read_to_string(&lock).is_ok_and(|note| note.contains(holder)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the first run never took the lock");
}

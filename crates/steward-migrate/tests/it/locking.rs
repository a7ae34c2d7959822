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
    tokio::time::sleep(Duration::from_millis(400)).await;

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

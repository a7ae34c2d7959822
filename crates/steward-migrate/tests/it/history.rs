//! Repair, baseline and drift.

use steward_migrate::{status::State, testing::TestDatabase};

use crate::support::{Dir, id_column, manager, manager_with, options, run_sql};

crate::engine_suite!(
    repair_realigns_checksums_and_clears_failures,
    baseline_adopts_an_existing_database,
    drift_is_detected
);

async fn repair_realigns_checksums_and_clears_failures(db: TestDatabase) {
    let dir = Dir::new(&db, "migrations");
    let id = id_column(db.dialect);
    dir.write("V1__a.sql", &format!("CREATE TABLE a ({id});"));
    manager(&db, &dir).apply().await.unwrap();
    dir.write("V2__b.sql", "INSERT INTO missing_table VALUES (1);");
    let _ = manager(&db, &dir).apply().await.unwrap_err();
    dir.write(
        "V1__a.sql",
        &format!("-- documented later\nCREATE TABLE a ({id});"),
    );
    let manager = manager(&db, &dir);
    let states: Vec<State> = manager
        .status()
        .await
        .unwrap()
        .entries
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(states, [State::Changed, State::Failed]);

    let plan = manager.repair_plan().await.unwrap();
    let actions: Vec<String> = plan
        .iter()
        .map(|a| format!("{}: {}", a.migration, a.action))
        .collect();
    assert_eq!(actions.len(), 2, "{actions:#?}");
    assert!(
        actions[0].starts_with("1 a: record checksum"),
        "{actions:#?}"
    );
    assert!(
        actions[1].starts_with("2 b: delete failed row"),
        "{actions:#?}"
    );
    assert_eq!(
        manager.status().await.unwrap().entries[0].state,
        State::Changed,
        "the plan changes nothing"
    );

    manager.repair().await.unwrap();
    let states: Vec<State> = manager
        .status()
        .await
        .unwrap()
        .entries
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(states, [State::Applied, State::Pending]);
}

async fn baseline_adopts_an_existing_database(db: TestDatabase) {
    let dir = Dir::new(&db, "migrations");
    let id = id_column(db.dialect);
    dir.write("V1__a.sql", &format!("CREATE TABLE a ({id});"))
        .write("V2__b.sql", &format!("CREATE TABLE b ({id});"))
        .write("V3__c.sql", &format!("CREATE TABLE c ({id});"));
    // The database already has what V1 and V2 create.
    let existing = Dir::new(&db, "existing");
    existing.write(
        "V1__both.sql",
        &format!("CREATE TABLE a ({id});\nCREATE TABLE b ({id});"),
    );
    manager(&db, &existing).apply().await.unwrap();
    // Forget that history, as if another tool had made the schema.
    run_sql(&db, "DROP TABLE steward_schema_history").await;

    let manager = manager(&db, &dir);
    manager.baseline("2").await.unwrap();
    let states: Vec<State> = manager
        .status()
        .await
        .unwrap()
        .entries
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(
        states,
        [State::BelowBaseline, State::Baseline, State::Pending]
    );
    let report = manager.apply().await.unwrap();
    assert_eq!(
        report
            .migrations
            .iter()
            .map(|m| m.migration.as_str())
            .collect::<Vec<_>>(),
        ["3 c"]
    );
    let err = manager.baseline("1").await.unwrap_err();
    assert!(
        err.to_string().contains("already has migration history"),
        "{err}"
    );
    assert!(matches!(err, steward_migrate::Error::Conflict(_)), "{err}");
}

async fn drift_is_detected(db: TestDatabase) {
    let dir = Dir::new(&db, "migrations");
    let id = id_column(db.dialect);
    dir.write("V1__a.sql", &format!("CREATE TABLE a ({id}, note TEXT);"));
    let manager = manager(&db, &dir);
    let fresh = manager.drift().await.unwrap();
    assert!(!fresh.drifted && fresh.expected.is_none());
    manager.apply().await.unwrap();
    let clean = manager.drift().await.unwrap();
    assert!(!clean.drifted);
    assert_eq!(clean.recorded_by.as_deref(), Some("1 a"));

    // Someone changes the schema by hand.
    run_sql(&db, "CREATE INDEX a_by_hand ON a (id)").await;
    let drift = manager.drift().await.unwrap();
    assert!(drift.drifted, "{drift:?}");
    assert_ne!(drift.expected.as_deref(), Some(drift.actual.as_str()));

    // A run stopped before writing its queued fingerprints: the newest row
    // has none, and an older row must not be compared with instead.
    dir.write("V2__b.sql", &format!("CREATE TABLE b ({id});"));
    manager_with(&db, &dir, options(&db)).apply().await.unwrap();
    run_sql(
        &db,
        "UPDATE steward_schema_history SET schema_fingerprint = NULL WHERE version = '2'",
    )
    .await;
    let unknown = manager_with(&db, &dir, options(&db)).drift().await.unwrap();
    assert!(
        !unknown.drifted && unknown.expected.is_none(),
        "{unknown:?}"
    );
    assert_eq!(unknown.recorded_by.as_deref(), Some("2 b"));
}

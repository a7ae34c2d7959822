//! The realistic migration sets (tests/fixtures/realistic): all the way up
//! and all the way down, back to the empty schema.

use steward_migrate::{Dialect, MigrationManager, Source, testing::TestDatabase};

use crate::support::{fixture, options};

crate::engine_suite!(
    a_realistic_set_goes_up_and_all_the_way_down,
    every_history_row_holds_the_fingerprint_of_its_schema,
);

async fn a_realistic_set_goes_up_and_all_the_way_down(db: TestDatabase) {
    let set = match db.dialect {
        Dialect::Sqlite => "realistic/sqlite",
        Dialect::Postgres => "realistic/postgres",
        Dialect::Mysql => "realistic/mysql",
    };
    let source = Source::from_dir(&fixture(set)).unwrap();
    assert!(
        source.versioned.len() >= 30,
        "{} migrations",
        source.versioned.len()
    );
    assert!(
        source.versioned.iter().all(|m| m.down.is_some()),
        "every migration has a down file"
    );
    let manager = MigrationManager::new(&db.url, source, options(&db)).unwrap();
    let empty = manager.schema_dump().await.unwrap();
    let report = manager.apply().await.unwrap();
    assert!(report.migrations.len() >= 30);
    let full = manager.schema_dump().await.unwrap();
    assert!(
        full.len() > 50,
        "a realistic schema: {} objects",
        full.len()
    );
    assert!(!manager.drift().await.unwrap().drifted);
    let down = manager.down(Some("0")).await.unwrap();
    assert_eq!(down.migrations.len(), report.migrations.len());
    assert_eq!(
        manager.schema_dump().await.unwrap(),
        empty,
        "all the way down is the empty schema"
    );
}

/// A run fingerprints after each migration by reading only what changed
/// where it can (PostgreSQL); applied one migration per run, each row is
/// checked against a full read of the catalogue (drift), and the rows of
/// one long run must hold the same fingerprints.
async fn every_history_row_holds_the_fingerprint_of_its_schema(db: TestDatabase) {
    let set = match db.dialect {
        Dialect::Sqlite => "realistic/sqlite",
        Dialect::Postgres => "realistic/postgres",
        Dialect::Mysql => "realistic/mysql",
    };
    let source = || Source::from_dir(&fixture(set)).unwrap();
    let mut quick = options(&db);
    quick.backup = steward_migrate::BackupPolicy::Off;
    let whole_run = MigrationManager::new(&db.url, source(), quick.clone()).unwrap();
    whole_run.apply().await.unwrap();

    let other = steward_migrate::testing::database(db.dialect)
        .await
        .unwrap();
    let versions: Vec<String> = source()
        .versioned
        .iter()
        .filter_map(|m| m.version.as_ref().map(|v| v.as_str().to_owned()))
        .collect();
    for version in &versions {
        let mut one = quick.clone();
        one.target = Some(version.clone());
        let manager = MigrationManager::new(&other.url, source(), one).unwrap();
        let report = manager.apply().await.unwrap();
        assert_eq!(report.migrations.len(), 1, "one migration up to {version}");
        let drift = manager.drift().await.unwrap();
        assert!(!drift.drifted, "after {version}: {drift:?}");
    }
    let fingerprints =
        |rows: Vec<steward_migrate::history::HistoryRow>| -> Vec<(Option<String>, Option<String>)> {
            rows.into_iter()
                .map(|row| (row.version, row.schema_fingerprint))
                .collect()
        };
    let long = fingerprints(whole_run.history().await.unwrap());
    let single = fingerprints(
        MigrationManager::new(&other.url, source(), quick)
            .unwrap()
            .history()
            .await
            .unwrap(),
    );
    assert_eq!(long.len(), versions.len());
    assert!(long.iter().all(|(_, fingerprint)| fingerprint.is_some()));
    assert_eq!(
        long, single,
        "fingerprints of one run and of one run per migration"
    );
}

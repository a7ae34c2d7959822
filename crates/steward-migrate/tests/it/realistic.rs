//! The realistic migration sets (tests/fixtures/realistic): all the way up
//! and all the way down, back to the empty schema.

use steward_migrate::{Dialect, MigrationManager, Source, testing::TestDatabase};

use crate::support::{fixture, options};

crate::engine_suite!(a_realistic_set_goes_up_and_all_the_way_down);

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

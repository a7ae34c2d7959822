//! Undoing migrations with their down files.

use steward_migrate::{Error, status::State, testing::TestDatabase};

use crate::support::{Dir, id_column, manager};

crate::engine_suite!(
    down_undoes_the_newest_then_down_to_a_version,
    down_refuses_without_down_files
);

fn three(db: &TestDatabase) -> Dir {
    let dir = Dir::new(db, "migrations");
    let id = id_column(db.dialect);
    dir.write("V1__a.sql", &format!("CREATE TABLE a ({id});"))
        .write("V1__a.down.sql", "DROP TABLE a;")
        .write("V2__b.sql", &format!("CREATE TABLE b ({id});"))
        .write("V2__b.down.sql", "DROP TABLE b;")
        .write("V3__c.sql", "CREATE INDEX b_id ON b (id);")
        .write("V3__c.down.sql", "DROP INDEX b_id ON b;");
    dir
}

async fn down_undoes_the_newest_then_down_to_a_version(db: TestDatabase) {
    let dir = three(&db);
    if db.dialect != steward_migrate::Dialect::Mysql {
        dir.write("V3__c.down.sql", "DROP INDEX b_id;");
    }
    let manager = manager(&db, &dir);
    let empty = manager.schema_dump().await.unwrap();
    manager.apply().await.unwrap();
    let report = manager.down(None).await.unwrap();
    assert_eq!(
        report
            .migrations
            .iter()
            .map(|m| m.migration.as_str())
            .collect::<Vec<_>>(),
        ["3 c"]
    );
    let states: Vec<State> = manager
        .status()
        .await
        .unwrap()
        .entries
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(states, [State::Applied, State::Applied, State::Pending]);

    let report = manager.down(Some("0")).await.unwrap();
    assert_eq!(
        report
            .migrations
            .iter()
            .map(|m| m.migration.as_str())
            .collect::<Vec<_>>(),
        ["2 b", "1 a"]
    );
    assert_eq!(
        manager.schema_dump().await.unwrap(),
        empty,
        "all the way down is the empty schema"
    );
    assert!(!manager.drift().await.unwrap().drifted);

    // And up again: undone migrations apply anew.
    assert_eq!(manager.apply().await.unwrap().migrations.len(), 3);
}

async fn down_refuses_without_down_files(db: TestDatabase) {
    let dir = three(&db);
    dir.remove("V2__b.down.sql");
    if db.dialect != steward_migrate::Dialect::Mysql {
        dir.write("V3__c.down.sql", "DROP INDEX b_id;");
    }
    let manager = manager(&db, &dir);
    manager.apply().await.unwrap();
    let before = manager.schema_dump().await.unwrap();
    let err = manager.down(Some("0")).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert_eq!(
        steward_core::ErrorCode::kind(&err),
        steward_core::ErrorKind::Conflict
    );
    assert!(err.to_string().contains("no down file for 2 b"), "{err}");
    assert_eq!(
        manager.schema_dump().await.unwrap(),
        before,
        "nothing was undone"
    );
}

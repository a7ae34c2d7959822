//! Applying migrations: success, failure in the middle, verify queries,
//! integrity checks, edits, CRLF, no-transaction files and resumption.

use steward_migrate::{BackupPolicy, Dialect, Error, status::State, testing::TestDatabase};

use crate::support::{Dir, id_column, manager, manager_with, options};

crate::engine_suite!(
    applies_pending_migrations_once,
    a_failure_in_the_middle_leaves_the_schema_as_before,
    a_failing_verify_query_rolls_back,
    edits_are_reported_but_crlf_checkouts_are_not,
    reads_other_tools_layouts,
);

fn two_tables(db: &TestDatabase) -> Dir {
    let dir = Dir::new(db, "migrations");
    let id = id_column(db.dialect);
    dir.write("V1__create_agents.sql", &format!("CREATE TABLE agents ({id}, name VARCHAR(100) NOT NULL);\nINSERT INTO agents (name) VALUES ('planner');\n"))
        .write("V1__create_agents.down.sql", "DROP TABLE agents;\n")
        .write("V2__create_tasks.sql", &format!("CREATE TABLE tasks ({id}, agent_id BIGINT NOT NULL REFERENCES agents (id), prompt TEXT);\nCREATE INDEX tasks_agent ON tasks (agent_id);\n"))
        .write("V2__create_tasks.down.sql", "DROP TABLE tasks;\n");
    dir
}

async fn applies_pending_migrations_once(db: TestDatabase) {
    let dir = two_tables(&db);
    let manager = manager(&db, &dir);
    let status = manager.status().await.unwrap();
    assert!(status.entries.iter().all(|e| e.state == State::Pending));

    let report = manager.apply().await.unwrap();
    let applied: Vec<&str> = report
        .migrations
        .iter()
        .map(|m| m.migration.as_str())
        .collect();
    assert_eq!(applied, ["1 create_agents", "2 create_tasks"]);
    let status = manager.validate().await.unwrap();
    assert!(
        status.entries.iter().all(|e| e.state == State::Applied),
        "{status:?}"
    );
    assert_eq!(status.current.as_deref(), Some("2"));

    let again = manager.apply().await.unwrap();
    assert!(again.migrations.is_empty(), "nothing left to apply");
    let history = manager.history().await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|row| row.success
        && row.schema_fingerprint.is_some()
        && row.applied_by == "test@localhost"));
    assert!(!manager.drift().await.unwrap().drifted);
    let dump = manager.schema_dump().await.unwrap();
    assert!(dump.iter().any(|line| line.contains("tasks")), "{dump:#?}");
    assert!(
        !dump
            .iter()
            .any(|line| line.contains("steward_schema_history")),
        "the history is not schema"
    );
}

async fn a_failure_in_the_middle_leaves_the_schema_as_before(db: TestDatabase) {
    let dir = two_tables(&db);
    let manager = manager(&db, &dir);
    manager.apply().await.unwrap();
    let before = manager.schema_dump().await.unwrap();
    dir.write(
        "V3__broken.sql",
        "ALTER TABLE tasks ADD COLUMN priority INT DEFAULT 0;\n\nCREATE INDEX tasks_priority ON tasks (priority);\nINSERT INTO no_such_table VALUES (1);\nCREATE TABLE never (x INT);\n",
    );
    let manager = crate::support::manager(&db, &dir);
    let err = manager.apply().await.unwrap_err();
    let Error::MigrationFailed(failed) = &err else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(failed.migration, "3 broken");
    assert_eq!(failed.file.to_str(), Some("V3__broken.sql"));
    assert_eq!(failed.line, 4, "the failing statement's line");
    assert!(
        failed.statement.starts_with("INSERT INTO no_such_table"),
        "{}",
        failed.statement
    );
    let after = manager.schema_dump().await.unwrap();
    assert_eq!(
        after, before,
        "the schema is exactly as before the failed migration: {err}"
    );
    let status = manager.status().await.unwrap();
    let broken = status.entries.iter().find(|e| e.name == "broken").unwrap();
    assert_eq!(broken.state, State::Failed, "{status:#?}");
    assert!(
        broken
            .error
            .as_deref()
            .unwrap()
            .contains("V3__broken.sql:4"),
        "{:?}",
        broken.error
    );

    // Fixed, it applies.
    dir.write("V3__broken.sql", "ALTER TABLE tasks ADD COLUMN priority INT DEFAULT 0;\nCREATE INDEX tasks_priority ON tasks (priority);\n");
    let manager = crate::support::manager(&db, &dir);
    manager.apply().await.unwrap();
    assert_eq!(
        manager.status().await.unwrap().entries[2].state,
        State::Applied
    );
}

async fn a_failing_verify_query_rolls_back(db: TestDatabase) {
    let dir = two_tables(&db);
    dir.write(
        "V3__backfill.sql",
        "UPDATE agents SET name = 'Planner';\nINSERT INTO agents (name) VALUES ('bad name');\n",
    )
    .write(
        "V3__backfill.verify.sql",
        "SELECT id FROM agents WHERE name NOT IN ('Planner', 'planner');\n",
    );
    let manager = manager(&db, &dir);
    let err = manager.apply().await.unwrap_err();
    assert!(
        err.to_string().contains("verify query returned rows"),
        "{err}"
    );
    assert!(
        err.to_string().contains("V3__backfill.verify.sql:1"),
        "{err}"
    );
    let status = manager.status().await.unwrap();
    let states: Vec<State> = status.entries.iter().map(|e| e.state).collect();
    if db.dialect == Dialect::Mysql {
        // MariaDB cannot roll DDL back; the run's backup is restored, which
        // undoes the whole run (1 and 2 were applied in it).
        assert!(err.to_string().contains("restored from backup"), "{err}");
        assert_eq!(states, [State::Pending, State::Pending, State::Failed]);
    } else {
        assert!(err.to_string().contains("rolled back"), "{err}");
        assert_eq!(states, [State::Applied, State::Applied, State::Failed]);
    }
}

async fn edits_are_reported_but_crlf_checkouts_are_not(db: TestDatabase) {
    let dir = two_tables(&db);
    manager(&db, &dir).apply().await.unwrap();
    let original = std::fs::read_to_string(dir.path.join("V2__create_tasks.sql")).unwrap();
    dir.write("V2__create_tasks.sql", &original.replace('\n', "\r\n"));
    let status = manager(&db, &dir).validate().await.unwrap();
    assert!(
        status.entries.iter().all(|e| e.state == State::Applied),
        "CRLF is not an edit"
    );

    dir.write(
        "V2__create_tasks.sql",
        &original.replace("prompt TEXT", "prompt TEXT, extra TEXT"),
    );
    let manager = manager(&db, &dir);
    assert_eq!(
        manager.status().await.unwrap().entries[1].state,
        State::Changed
    );
    let err = manager.validate().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("2 create_tasks: changed since it was applied"),
        "{err}"
    );
    dir.write("V3__more.sql", "CREATE TABLE more_things (x INT);");
    let err = crate::support::manager(&db, &dir)
        .apply()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid { .. }),
        "apply refuses while files diverge: {err}"
    );
}

async fn reads_other_tools_layouts(db: TestDatabase) {
    let id = id_column(db.dialect);
    let sqlx = Dir::new(&db, "sqlx");
    sqlx.write(
        "20240101000000_users.up.sql",
        &format!("CREATE TABLE users ({id});"),
    )
    .write("20240101000000_users.down.sql", "DROP TABLE users;")
    .write(
        "20240102000000_posts.sql",
        &format!("CREATE TABLE posts ({id});"),
    );
    let manager_sqlx = manager(&db, &sqlx);
    assert_eq!(manager_sqlx.apply().await.unwrap().migrations.len(), 2);

    // A second database for the diesel layout (the history is per database).
    let Some(other) = steward_migrate::testing::database(db.dialect).await else {
        return;
    };
    let diesel = Dir::new(&other, "diesel");
    diesel
        .write(
            "2019-08-14-123456_create_posts/up.sql",
            &format!("CREATE TABLE posts ({id});"),
        )
        .write(
            "2019-08-14-123456_create_posts/down.sql",
            "DROP TABLE posts;",
        );
    let manager_diesel = manager(&other, &diesel);
    let empty = manager_diesel.schema_dump().await.unwrap();
    manager_diesel.apply().await.unwrap();
    assert_ne!(manager_diesel.schema_dump().await.unwrap(), empty);
    manager_diesel.down(None).await.unwrap();
    assert_eq!(manager_diesel.schema_dump().await.unwrap(), empty);
}

#[tokio::test]
async fn mariadb_resumes_a_failed_migration_at_the_failing_statement() {
    let Some(db) = steward_migrate::testing::database(Dialect::Mysql).await else {
        return;
    };
    let dir = Dir::new(&db, "migrations");
    dir.write("V1__two_tables.sql", "CREATE TABLE a (x INT);\nCREATE TABLE b (y INT);\nCREATE TABLE a (z INT);\nCREATE TABLE c (w INT);\n");
    // Without a backup, MariaDB cannot undo the DDL that committed; the
    // progress is recorded instead.
    let mut opts = options(&db);
    opts.backup = BackupPolicy::Off;
    let err = manager_with(&db, &dir, opts.clone())
        .apply()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("2 of 4 statements are applied and recorded"),
        "{text}"
    );
    let status = manager_with(&db, &dir, opts.clone())
        .status()
        .await
        .unwrap();
    assert_eq!(status.entries[0].state, State::Failed);
    assert_eq!(status.entries[0].statements_applied, Some(2));

    dir.write("V1__two_tables.sql", "CREATE TABLE a (x INT);\nCREATE TABLE b (y INT);\nCREATE TABLE a2 (z INT);\nCREATE TABLE c (w INT);\n");
    let plan = manager_with(&db, &dir, opts.clone()).plan().await.unwrap();
    assert_eq!(plan.steps[0].resume_from, 2);
    let report = manager_with(&db, &dir, opts.clone()).apply().await.unwrap();
    assert_eq!(
        report.migrations[0].statements, 2,
        "only the remaining statements ran"
    );
    let dump = manager_with(&db, &dir, opts).schema_dump().await.unwrap();
    for table in ["a", "b", "a2", "c"] {
        assert!(
            dump.iter()
                .any(|l| l.starts_with(&format!("table {table} "))),
            "{table}: {dump:#?}"
        );
    }
}

#[tokio::test]
async fn mariadb_restores_its_backup_when_a_migration_fails() {
    let Some(db) = steward_migrate::testing::database(Dialect::Mysql).await else {
        return;
    };
    let dir = Dir::new(&db, "migrations");
    dir.write(
        "V1__base.sql",
        "CREATE TABLE base (x INT);\nINSERT INTO base VALUES (1);\n",
    );
    let manager = manager(&db, &dir);
    manager.apply().await.unwrap();
    let before = manager.schema_dump().await.unwrap();
    dir.write(
        "V2__half.sql",
        "CREATE TABLE half (x INT);\nALTER TABLE base ADD COLUMN y INT;\nSELECT * FROM nowhere;\n",
    );
    let manager = crate::support::manager(&db, &dir);
    let err = manager.apply().await.unwrap_err();
    assert!(err.to_string().contains("restored from backup"), "{err}");
    assert_eq!(
        manager.schema_dump().await.unwrap(),
        before,
        "the backup undid the committed DDL"
    );
    let status = manager.status().await.unwrap();
    assert_eq!(status.entries[1].state, State::Failed);
    assert_eq!(status.entries[0].state, State::Applied);
}

#[tokio::test]
async fn postgres_runs_no_transaction_files_statement_by_statement() {
    let Some(db) = steward_migrate::testing::database(Dialect::Postgres).await else {
        return;
    };
    let dir = Dir::new(&db, "migrations");
    dir.write("V1__table.sql", "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, kind TEXT);")
        .write(
            "V2__index.sql",
            "-- steward:no-transaction\nCREATE INDEX CONCURRENTLY events_kind ON events (kind);\nCREATE INDEX CONCURRENTLY events_id_kind ON events (id, kind);\n",
        );
    let manager = manager(&db, &dir);
    let plan = manager.plan().await.unwrap();
    assert!(plan.steps[0].transactional);
    assert!(!plan.steps[1].transactional);
    manager.apply().await.unwrap();
    let dump = manager.schema_dump().await.unwrap();
    assert!(
        dump.iter().any(|l| l.contains("events_id_kind")),
        "{dump:#?}"
    );
}

#[tokio::test]
async fn sqlite_foreign_key_violations_roll_the_migration_back() {
    let db = steward_migrate::testing::database(Dialect::Sqlite)
        .await
        .unwrap();
    let dir = Dir::new(&db, "migrations");
    dir.write("V1__tables.sql", "CREATE TABLE parent (id INTEGER PRIMARY KEY);\nCREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));\n")
        .write("V2__orphan.sql", "INSERT INTO child (parent_id) VALUES (42);\n");
    let err = manager(&db, &dir).apply().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("foreign key violation: child row"), "{text}");
    assert!(text.contains("rolled back"), "{text}");
}

#[tokio::test]
async fn postgres_flags_invalid_indexes_a_migration_leaves() {
    let Some(db) = steward_migrate::testing::database(Dialect::Postgres).await else {
        return;
    };
    let dir = Dir::new(&db, "migrations");
    dir.write(
        "V1__users.sql",
        "CREATE TABLE users (email TEXT);\nINSERT INTO users VALUES ('a'), ('a');",
    );
    manager(&db, &dir).apply().await.unwrap();
    // Without a backup, a failed CONCURRENTLY build leaves an invalid index.
    dir.write(
        "V2__unique.sql",
        "-- steward:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);",
    );
    let mut no_backup = options(&db);
    no_backup.backup = BackupPolicy::Off;
    let err = manager_with(&db, &dir, no_backup.clone())
        .apply()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("V2__unique.sql:2"), "{err}");
    // It is the failed migration's to clean up, not a reason to block others.
    dir.write(
        "V2__unique.sql",
        "-- steward:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS users_email;",
    )
    .write(
        "V3__constraint.sql",
        "ALTER TABLE users ADD CONSTRAINT email_present CHECK (email IS NOT NULL) NOT VALID;",
    );
    let manager = manager_with(&db, &dir, no_backup);
    manager.repair().await.unwrap();
    manager.apply().await.unwrap();
    // A migration that invalidates an index itself is caught and rolled back.
    dir.write("V4__index.sql", "CREATE INDEX users_email_plain ON users (email);\nUPDATE pg_index SET indisvalid = false WHERE indexrelid = 'users_email_plain'::regclass;");
    let err = crate::support::manager(&db, &dir)
        .apply()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("index public.users_email_plain is invalid"),
        "{text}"
    );
    assert!(text.contains("rolled back"), "{text}");
}

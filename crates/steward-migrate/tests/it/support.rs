//! Helpers: migration directories written per test, managers over them.

use std::path::{Path, PathBuf};

use steward_migrate::{Dialect, MigrationManager, Options, Source, testing::TestDatabase};

/// A migration directory inside the test database's directory.
pub(crate) struct Dir {
    pub(crate) path: PathBuf,
}

impl Dir {
    pub(crate) fn new(db: &TestDatabase, name: &str) -> Self {
        let path = db.dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        Dir { path }
    }

    /// Writes (or overwrites) a file.
    pub(crate) fn write(&self, name: &str, content: &str) -> &Self {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
        self
    }

    pub(crate) fn remove(&self, name: &str) {
        std::fs::remove_file(self.path.join(name)).unwrap();
    }
}

/// Options for tests: backups in the test directory, a short lock wait.
pub(crate) fn options(db: &TestDatabase) -> Options {
    let mut options = Options::new(db.dir.path().join("backups"));
    options.lock_timeout = std::time::Duration::from_secs(5);
    options.applied_by = "test@localhost".into();
    options
}

pub(crate) fn manager(db: &TestDatabase, dir: &Dir) -> MigrationManager {
    manager_with(db, dir, options(db))
}

pub(crate) fn manager_with(db: &TestDatabase, dir: &Dir, options: Options) -> MigrationManager {
    MigrationManager::new(&db.url, Source::from_dir(&dir.path).unwrap(), options).unwrap()
}

/// A type name for an auto-increment primary key on each engine.
pub(crate) fn id_column(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "id INTEGER PRIMARY KEY",
        Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
        Dialect::Mysql => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
    }
}

/// A statement that takes a while (about a second) on each engine.
pub(crate) fn slow_statement(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 12000000) SELECT count(*) FROM c"
        }
        Dialect::Postgres => "SELECT pg_sleep(1.5)",
        Dialect::Mysql => "SELECT SLEEP(1.5)",
    }
}

#[allow(dead_code)]
pub(crate) fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// Runs one statement on the test database outside steward (a change by
/// hand, or the state a crash leaves).
pub(crate) async fn run_sql(db: &TestDatabase, statement: &str) {
    use sqlx::{Connection, Executor};
    match db.dialect {
        Dialect::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            c.execute(statement).await.unwrap();
        }
        Dialect::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            c.execute(statement).await.unwrap();
        }
        Dialect::Mysql => {
            let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
            c.execute(statement).await.unwrap();
        }
    }
}

//! Fresh databases for tests: a SQLite file in a temporary directory, or a
//! new database on the PostgreSQL or MariaDB server named by
//! [`POSTGRES_ENV`] / [`MYSQL_ENV`] (set by `scripts/test.sh`, which starts
//! throwaway servers). Without the variable, the helpers say that the test
//! skips and return `None`.

use rand::RngCore;
use sqlx::{Connection, Executor};

use crate::Dialect;

/// URL of a PostgreSQL server on which tests may create databases.
pub const POSTGRES_ENV: &str = "STEWARD_TEST_POSTGRES_URL";

/// URL (without a database) of a MariaDB server on which tests may create
/// databases.
pub const MYSQL_ENV: &str = "STEWARD_TEST_MYSQL_URL";

/// A database for one test.
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    /// Its engine.
    pub dialect: Dialect,
    /// A directory the test may use (SQLite's file lives here).
    pub dir: tempfile::TempDir,
}

/// A fresh database of `dialect`, or `None` when its server is not
/// available (the reason is printed).
pub async fn database(dialect: Dialect) -> Option<TestDatabase> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = match dialect {
        Dialect::Sqlite => format!("sqlite://{}", dir.path().join("target.db").display()),
        Dialect::Postgres => postgres_database().await?,
        Dialect::Mysql => mysql_database().await?,
    };
    Some(TestDatabase { url, dialect, dir })
}

fn server(variable: &str) -> Option<String> {
    let value = std::env::var(variable).ok().filter(|url| !url.is_empty());
    if value.is_none() {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping: {variable} is not set (scripts/test.sh sets it)");
        }
    }
    value
}

fn random_name() -> String {
    let mut suffix = [0u8; 6];
    rand::rng().fill_bytes(&mut suffix);
    format!("steward_test_{}", hex::encode(suffix))
}

/// Creates an empty database on the PostgreSQL test server and returns its
/// URL.
pub async fn postgres_database() -> Option<String> {
    let server = server(POSTGRES_ENV)?;
    let name = random_name();
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to {POSTGRES_ENV}: {err}"));
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .expect("create test database");
    admin.close().await.ok();
    Some(with_database(&server, &name))
}

/// Creates an empty database on the MariaDB test server and returns its
/// URL.
pub async fn mysql_database() -> Option<String> {
    let server = server(MYSQL_ENV)?;
    let name = random_name();
    let mut admin = sqlx::MySqlConnection::connect(&server)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to {MYSQL_ENV}: {err}"));
    admin
        .execute(format!("CREATE DATABASE `{name}`").as_str())
        .await
        .expect("create test database");
    admin.close().await.ok();
    Some(with_database(&server, &name))
}

/// `url` with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base
        .find("://")
        .map(|at| at + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests;

//! Fresh stores for tests: a SQLite file in a temporary directory, or a new
//! database on the PostgreSQL server named by [`POSTGRES_ENV`] (set by
//! `scripts/test.sh`, which starts a throwaway cluster).

use rand::RngCore;
use sqlx::{Connection, Executor};

use crate::Store;

/// Environment variable with the URL of a PostgreSQL server tests may
/// create databases on.
pub const POSTGRES_ENV: &str = "STEWARD_TEST_POSTGRES_URL";

/// A store for one test, with whatever keeps it alive.
pub struct TestStore {
    /// The store.
    pub store: Store,
    /// The URL it was opened with.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A store on a new SQLite file.
pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("steward.db").display());
    let store = Store::connect(&url).await.expect("open sqlite store");
    TestStore {
        store,
        url,
        _dir: Some(dir),
    }
}

/// A store on a new PostgreSQL database, or `None` (with a note on stderr)
/// when [`POSTGRES_ENV`] is not set.
pub async fn postgres() -> Option<TestStore> {
    let url = postgres_database().await?;
    let store = Store::connect(&url).await.expect("open postgres store");
    Some(TestStore {
        store,
        url,
        _dir: None,
    })
}

/// Creates an empty database on the test server and returns its URL, or
/// `None` (with a note on stderr) when [`POSTGRES_ENV`] is not set. The
/// throwaway cluster is removed as a whole when the test run ends.
pub async fn postgres_database() -> Option<String> {
    let Some(server) = std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|url| !url.is_empty())
    else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping: {POSTGRES_ENV} is not set (scripts/test.sh sets it)");
        }
        return None;
    };
    let mut suffix = [0u8; 6];
    rand::rng().fill_bytes(&mut suffix);
    let name = format!("steward_test_{}", hex::encode(suffix));
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

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
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

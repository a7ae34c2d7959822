//! Fresh stores for tests: a SQLite file in a temporary directory, or a new
//! database on the PostgreSQL server named by [`POSTGRES_ENV`] (set by
//! `scripts/test.sh`, which starts a throwaway cluster).

pub use steward_migrate::testing::{POSTGRES_ENV, postgres_database};

use crate::Store;

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

//! Connecting to the state database, migrating steward's schema, and the
//! transaction type through which every change (and its journal event)
//! is written.

use std::{
    future::Future,
    path::{Path, PathBuf},
    str::FromStr,
    sync::{Arc, Once},
    time::{Duration, Instant},
};

use sqlx::{
    Any, AnyConnection, AnyPool, ConnectOptions, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
};
use steward_core::{DatabaseUrl, Engine, EventId, SqliteLocation};
use steward_migrate::{BackupPolicy, MigrationManager, Options, Source};
use tokio::sync::watch;

use crate::{Error, Result, files, metrics::StoreMetrics};

/// Steward's own schema, per engine, migrated by steward's migration
/// engine like any other database.
const SQLITE_MIGRATIONS: &[(&str, &str)] = &[
    (
        "V1__journal_and_tokens.sql",
        include_str!("../migrations/sqlite/V1__journal_and_tokens.sql"),
    ),
    (
        "V2__deployments.sql",
        include_str!("../migrations/sqlite/V2__deployments.sql"),
    ),
    (
        "V3__alertmanager.sql",
        include_str!("../migrations/sqlite/V3__alertmanager.sql"),
    ),
    (
        "V4__incidents.sql",
        include_str!("../migrations/sqlite/V4__incidents.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(&str, &str)] = &[
    (
        "V1__journal_and_tokens.sql",
        include_str!("../migrations/postgres/V1__journal_and_tokens.sql"),
    ),
    (
        "V2__deployments.sql",
        include_str!("../migrations/postgres/V2__deployments.sql"),
    ),
    (
        "V3__alertmanager.sql",
        include_str!("../migrations/postgres/V3__alertmanager.sql"),
    ),
    (
        "V4__incidents.sql",
        include_str!("../migrations/postgres/V4__incidents.sql"),
    ),
];

/// Which database engine holds the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A SQLite file (the default; one steward process).
    Sqlite,
    /// A PostgreSQL database (several steward replicas may share it).
    Postgres,
}

impl Backend {
    /// The engine named by a URL's scheme.
    pub fn from_url(url: &str) -> Result<Self> {
        let unsupported = || Error::UnsupportedUrl {
            scheme: url.split(':').next().unwrap_or_default().to_owned(),
        };
        match DatabaseUrl::parse(url).map_err(|_| unsupported())?.engine() {
            Engine::Sqlite => Ok(Backend::Sqlite),
            Engine::Postgres => Ok(Backend::Postgres),
            // Steward's own state lives in SQLite or PostgreSQL only.
            Engine::Mysql => Err(unsupported()),
        }
    }

    /// Lowercase name for display.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Handle to the state database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    backend: Backend,
    /// Id of the newest committed event; readers wait on it for news.
    latest: watch::Sender<EventId>,
    metrics: StoreMetrics,
    /// Tokens recently authenticated (by secret hash), so that a client
    /// sending many requests (Prometheus pushing alerts) is looked up
    /// once a second, not once a request.
    pub(crate) token_cache: crate::tokens::TokenCache,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `url` (`sqlite://<path>` or `postgres://...`), creating a
    /// SQLite file and its directory when missing, and migrates steward's
    /// schema to the current version.
    pub async fn connect(url: &str) -> Result<Self> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let backend = Backend::from_url(url)?;
        let (url, in_memory, file) = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => (url.to_owned(), false, None),
        };
        // An in-memory database lives in the pool's one connection, so the
        // engine (its own connection) cannot migrate it; the pool does.
        if !in_memory {
            migrate(&url, backend).await?;
        }
        let options = AnyConnectOptions::from_str(&url)
            .map_err(Error::Connect)?
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = AnyPoolOptions::new()
            // An in-memory SQLite database exists per connection, so it
            // must be a single one.
            .max_connections(if in_memory { 1 } else { 8 })
            .min_connections(if in_memory { 1 } else { 0 })
            .idle_timeout(if in_memory { None } else { Some(Duration::from_secs(600)) })
            .max_lifetime(if in_memory { None } else { Some(Duration::from_secs(1800)) })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // FULL: a commit is on disk before it is
                        // acknowledged, even across power loss.
                        conn.execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(Error::Connect)?;
        if backend == Backend::Sqlite {
            if in_memory {
                for (_, sql) in SQLITE_MIGRATIONS {
                    sqlx::raw_sql(sql).execute(&pool).await?;
                }
            } else {
                // WAL is a property of the file: readers never block the
                // writer, and it survives reconnects.
                pool.execute("PRAGMA journal_mode = WAL").await?;
            }
        }
        if let Some(file) = &file {
            files::tighten_companions(file).map_err(|source| Error::StateFile {
                path: file.display().to_string(),
                source,
            })?;
        }
        let latest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM events")
            .fetch_one(&pool)
            .await?;
        let (latest, _) = watch::channel(EventId(latest));
        tracing::debug!(backend = backend.as_str(), "state database ready");
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                backend,
                latest,
                metrics: StoreMetrics::new(),
                token_cache: crate::tokens::TokenCache::default(),
            }),
        })
    }

    /// Which engine holds the state.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The version of steward's own schema (the newest applied migration).
    pub async fn schema_version(&self) -> Result<String> {
        let version: Option<String> = sqlx::query_scalar(
            "SELECT version FROM steward_schema_history WHERE success = 1 AND kind IN ('versioned', 'baseline') \
             ORDER BY installed_rank DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?
        .flatten();
        Ok(version.unwrap_or_else(|| "0".to_owned()))
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        self.timed("ping", async {
            sqlx::query("SELECT 1").execute(self.pool()).await?;
            Ok(())
        })
        .await
    }

    /// Waits for open transactions to finish and closes every connection.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// Starts a transaction. Changes and the events that describe them are
    /// written in one transaction, so the journal never misses a change nor
    /// records one that did not happen.
    pub async fn begin(&self) -> Result<Tx> {
        let tx = self.timed("begin", self.inner.pool.begin()).await?;
        Ok(Tx {
            tx,
            store: self.clone(),
            appended: None,
            ordered: false,
        })
    }

    /// Watches the id of the newest committed event.
    pub fn subscribe(&self) -> watch::Receiver<EventId> {
        self.inner.latest.subscribe()
    }

    /// Registers the store's metrics.
    pub fn register_metrics(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        self.inner.metrics.register(registry)
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    pub(crate) fn inner_token_cache(&self) -> &crate::tokens::TokenCache {
        &self.inner.token_cache
    }

    pub(crate) fn metrics(&self) -> &StoreMetrics {
        &self.inner.metrics
    }

    /// Runs `future`, recording its latency under `operation`.
    pub(crate) async fn timed<F: Future>(&self, operation: &'static str, future: F) -> F::Output {
        let start = Instant::now();
        let output = future.await;
        self.inner
            .metrics
            .operation_seconds
            .with_label_values(&[operation])
            .observe(start.elapsed().as_secs_f64());
        output
    }

    /// Tells watchers about events committed elsewhere (another replica),
    /// found by polling.
    pub(crate) fn observe_latest(&self, id: EventId) {
        self.inner.latest.send_if_modified(|latest| {
            let newer = id > *latest;
            if newer {
                *latest = id;
            }
            newer
        });
    }
}

/// A transaction on the state database. Dropping it without
/// [`Tx::commit`] rolls it back.
pub struct Tx {
    pub(crate) tx: sqlx::Transaction<'static, Any>,
    store: Store,
    /// Newest event appended in this transaction, announced on commit.
    pub(crate) appended: Option<EventId>,
    /// Whether this transaction holds the journal ordering lock.
    pub(crate) ordered: bool,
}

impl Tx {
    /// Commits, then tells watchers about the events appended.
    pub async fn commit(self) -> Result<()> {
        let Tx {
            tx,
            store,
            appended,
            ..
        } = self;
        store.timed("commit", tx.commit()).await?;
        if let Some(id) = appended {
            store.observe_latest(id);
        }
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }
}

/// Brings steward's own schema up to date with the migration engine:
/// locked against other steward replicas, recorded in
/// `steward_schema_history`, backed up before each change on SQLite (in
/// `backups/state` beside the file). On PostgreSQL every migration of
/// steward's schema is transactional, so a failure leaves nothing to
/// restore and no dump is taken.
async fn migrate(url: &str, backend: Backend) -> Result<()> {
    let files = match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    };
    let source = Source::from_files(
        files
            .iter()
            .map(|(name, sql)| (name.into(), (*sql).to_owned())),
    )?;
    let (backup_dir, policy) = match DatabaseUrl::parse(url)
        .ok()
        .and_then(|url| url.sqlite_file())
    {
        Some(file) => (
            file.parent()
                .map_or_else(|| Path::new(".").to_owned(), Path::to_owned)
                .join("backups/state"),
            BackupPolicy::PerMigration,
        ),
        None => (std::env::temp_dir(), BackupPolicy::Off),
    };
    let mut options = Options::new(backup_dir);
    options.backup = policy;
    options.applied_by = format!("steward {}", env!("CARGO_PKG_VERSION"));
    options.lock_timeout = Duration::from_secs(60);
    MigrationManager::new(url, source, options)?.apply().await?;
    Ok(())
}

/// Makes sure a SQLite URL creates its file (and directory) when missing,
/// readable by the owner only. Returns the URL to connect with, whether it
/// is in memory, and the database file.
fn prepare_sqlite_url(url: &str) -> Result<(String, bool, Option<PathBuf>)> {
    let location = DatabaseUrl::parse(url).ok().and_then(|url| url.sqlite());
    let (path, query) = match location {
        Some(SqliteLocation::File { path, query }) => (path, query.unwrap_or_default()),
        Some(SqliteLocation::Memory) | None => {
            return Ok(("sqlite::memory:".to_owned(), true, None));
        }
    };
    let file = path.to_string_lossy();
    let file = file.as_ref();
    let query = query.as_str();
    let creates = !query.contains("mode=") || query.contains("mode=rwc");
    if creates {
        if let Some(parent) = Path::new(file).parent()
            && !parent.as_os_str().is_empty()
        {
            files::create_private_dir(parent).map_err(|source| Error::CreateDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
        files::prepare_database_file(Path::new(file)).map_err(|source| Error::StateFile {
            path: file.to_owned(),
            source,
        })?;
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok((
        format!("sqlite://{file}?{query}"),
        false,
        Some(PathBuf::from(file)),
    ))
}

//! One migration run at a time per database, with a lock that dies with its
//! holder: a PostgreSQL session advisory lock and a MySQL `GET_LOCK`, each on
//! a dedicated connection (the server drops them when the connection
//! closes, even after kill -9), and for SQLite an OS file lock on
//! `<database>.steward-lock` (released by the kernel when the process
//! exits). A run that cannot get the lock within its timeout fails naming
//! the holder.

use std::{
    fs::{File, OpenOptions, TryLockError},
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use sqlx::{
    ConnectOptions, Connection, MySqlConnection, PgConnection, mysql::MySqlConnectOptions,
    postgres::PgConnectOptions,
};
use tokio::time::Instant;

use crate::{
    Dialect, Error, Result,
    db_url::{mysql_url, sqlite_file},
};

/// How often a waiting run retries.
const RETRY: Duration = Duration::from_millis(200);

/// PostgreSQL advisory locks are keyed (class, object); steward's class.
const PG_LOCK_CLASS: i32 = 0x5354; // "ST"

/// A held migration lock; release it with [`MigrationLock::release`]
/// (dropping it also releases it, without waiting for the server).
pub(crate) struct MigrationLock {
    kind: Kind,
}

enum Kind {
    /// No lock needed (an in-memory SQLite database is private).
    None,
    File(File),
    Postgres(PgConnection),
    Mysql(MySqlConnection, String),
}

impl MigrationLock {
    /// Takes the lock of the database at `url`, waiting up to `timeout`.
    /// `holder` describes this run (user, host, process) for whoever waits.
    pub(crate) async fn acquire(url: &str, timeout: Duration, holder: &str) -> Result<Self> {
        let dialect = Dialect::from_url(url)?;
        let deadline = Instant::now() + timeout;
        match dialect {
            Dialect::Sqlite => match sqlite_lock_path(url) {
                None => Ok(MigrationLock { kind: Kind::None }),
                Some(path) => lock_file(&path, deadline, holder).await,
            },
            Dialect::Postgres => lock_postgres(url, deadline, holder).await,
            Dialect::Mysql => lock_mysql(url, deadline).await,
        }
    }

    /// Releases the lock.
    pub(crate) async fn release(self) {
        match self.kind {
            Kind::None => {}
            Kind::File(file) => {
                let _ = file.set_len(0);
                let _ = file.unlock();
            }
            Kind::Postgres(mut conn) => {
                let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
            Kind::Mysql(mut conn, name) => {
                let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
                    .bind(&name)
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        }
    }
}

/// The lock file of a SQLite database URL, or `None` for an in-memory one.
pub(crate) fn sqlite_lock_path(url: &str) -> Option<PathBuf> {
    let file = sqlite_file(url)?;
    let mut name = file.into_os_string();
    name.push(".steward-lock");
    Some(PathBuf::from(name))
}

async fn lock_file(path: &Path, deadline: Instant, holder: &str) -> Result<MigrationLock> {
    let io_error = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_error)?;
    loop {
        match file.try_lock() {
            Ok(()) => {
                // Say who holds it, for whoever waits next.
                file.set_len(0).map_err(io_error)?;
                file.rewind().map_err(io_error)?;
                let note = format!("{holder} since {}\n", chrono::Utc::now().to_rfc3339());
                file.write_all(note.as_bytes()).map_err(io_error)?;
                file.sync_data().map_err(io_error)?;
                return Ok(MigrationLock {
                    kind: Kind::File(file),
                });
            }
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(RETRY).await;
            }
            Err(TryLockError::WouldBlock) => {
                let mut note = String::new();
                let _ = File::open(path).and_then(|mut f| f.read_to_string(&mut note));
                let holder = note.trim();
                return Err(Error::Locked {
                    holder: if holder.is_empty() {
                        "another process".to_owned()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(TryLockError::Error(source)) => return Err(io_error(source)),
        }
    }
}

async fn lock_postgres(url: &str, deadline: Instant, holder: &str) -> Result<MigrationLock> {
    let connect_error = |err: sqlx::Error| Error::Connect {
        dialect: Dialect::Postgres,
        detail: err.to_string(),
    };
    // The application name is how a waiting run can name this one.
    let options = PgConnectOptions::from_str(url)
        .map_err(connect_error)?
        .application_name(&truncate(holder, 63))
        .disable_statement_logging();
    let mut conn = options.connect().await.map_err(connect_error)?;
    loop {
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_database()))")
                .bind(PG_LOCK_CLASS)
                .fetch_one(&mut conn)
                .await?;
        if locked {
            return Ok(MigrationLock {
                kind: Kind::Postgres(conn),
            });
        }
        if Instant::now() >= deadline {
            let holder: Option<String> = sqlx::query_scalar(
                "SELECT COALESCE(NULLIF(a.application_name, ''), 'a session') || ' (pid ' || a.pid || \
                 COALESCE(', from ' || host(a.client_addr), '') || ', since ' || a.backend_start || ')' \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid \
                 AND l.objid = hashtext(current_database())::oid AND l.pid <> pg_backend_pid() LIMIT 1",
            )
            .bind(PG_LOCK_CLASS)
            .fetch_optional(&mut conn)
            .await?;
            let _ = conn.close().await;
            return Err(Error::Locked {
                holder: holder.unwrap_or_else(|| "another session".to_owned()),
            });
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn lock_mysql(url: &str, deadline: Instant) -> Result<MigrationLock> {
    let connect_error = |err: sqlx::Error| Error::Connect {
        dialect: Dialect::Mysql,
        detail: err.to_string(),
    };
    let options = MySqlConnectOptions::from_str(&mysql_url(url))
        .map_err(connect_error)?
        .disable_statement_logging();
    let mut conn = options.connect().await.map_err(connect_error)?;
    let name: String = sqlx::query_scalar(
        "SELECT CAST(CONCAT('steward-migrate:', IFNULL(DATABASE(), '')) AS CHAR)",
    )
    .fetch_one(&mut conn)
    .await?;
    let name = truncate(&name, 64);
    loop {
        let locked: Option<i64> = sqlx::query_scalar("SELECT CAST(GET_LOCK(?, 0) AS SIGNED)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await?;
        if locked == Some(1) {
            return Ok(MigrationLock {
                kind: Kind::Mysql(conn, name),
            });
        }
        if Instant::now() >= deadline {
            let holder: Option<String> = sqlx::query_scalar(
                "SELECT CAST(CONCAT(p.USER, '@', p.HOST, ' (connection ', p.ID, ', for ', p.TIME, 's)') AS CHAR) \
                 FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(?)",
            )
            .bind(&name)
            .fetch_optional(&mut conn)
            .await?;
            let _ = conn.close().await;
            return Err(Error::Locked {
                holder: holder.unwrap_or_else(|| "another connection".to_owned()),
            });
        }
        tokio::time::sleep(RETRY).await;
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

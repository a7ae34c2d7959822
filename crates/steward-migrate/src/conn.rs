//! One connection to a target database, on the engine's native sqlx
//! driver. `with_conn!` runs the same generic code on whichever driver the
//! connection uses, so the engine has one code path with engine-specific
//! SQL only where the engines differ.

use std::{str::FromStr, time::Duration};

use sqlx::{
    ConnectOptions, Connection, MySqlConnection, PgConnection, SqliteConnection,
    mysql::MySqlConnectOptions, postgres::PgConnectOptions, sqlite::SqliteConnectOptions,
};

use crate::{
    Dialect, Error, Result,
    db_url::{mysql_url, sqlite_file},
};

/// A connection to a target database.
pub(crate) enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    Mysql(MySqlConnection),
}

/// Runs `$body` with `$c` bound to the driver-specific connection.
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::conn::Conn::Sqlite($c) => $body,
            $crate::conn::Conn::Postgres($c) => $body,
            $crate::conn::Conn::Mysql($c) => $body,
        }
    };
}
pub(crate) use with_conn;

/// Rewrites `?` placeholders as `$1, $2, ...` for PostgreSQL. Only for
/// steward's own queries, which never have `?` inside literals.
pub(crate) fn sql(dialect: Dialect, text: &str) -> String {
    if dialect != Dialect::Postgres {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

impl Conn {
    /// Connects to `url`. SQLite files are created when missing; foreign
    /// keys are not enforced during migrations (SQLite's table-rebuild
    /// procedure needs that) but checked after each one.
    pub(crate) async fn connect(url: &str, application: &str) -> Result<Self> {
        let dialect = Dialect::from_url(url)?;
        let connect_error = |err: sqlx::Error| Error::Connect {
            dialect,
            detail: err.to_string(),
        };
        Ok(match dialect {
            Dialect::Sqlite => {
                // The file is created when missing; so is its directory,
                // as for steward's own state file.
                if let Some(parent) = sqlite_file(url)
                    .as_deref()
                    .and_then(std::path::Path::parent)
                    .filter(|parent| !parent.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(parent).map_err(|err| Error::Connect {
                        dialect,
                        detail: format!("cannot create directory {}: {err}", parent.display()),
                    })?;
                }
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(connect_error)?
                    .create_if_missing(true)
                    .foreign_keys(false)
                    .busy_timeout(Duration::from_secs(10))
                    // Checks and fingerprints after each migration read the
                    // schema again; keep it in memory (64 MiB).
                    .pragma("cache_size", "-65536")
                    .disable_statement_logging();
                Conn::Sqlite(options.connect().await.map_err(connect_error)?)
            }
            Dialect::Postgres => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(connect_error)?
                    .application_name(application)
                    .disable_statement_logging();
                Conn::Postgres(options.connect().await.map_err(connect_error)?)
            }
            Dialect::Mysql => {
                let options = MySqlConnectOptions::from_str(&mysql_url(url))
                    .map_err(connect_error)?
                    .disable_statement_logging();
                Conn::Mysql(options.connect().await.map_err(connect_error)?)
            }
        })
    }

    /// The connection's dialect.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
            Conn::Mysql(_) => Dialect::Mysql,
        }
    }

    /// Closes the connection, ignoring errors (the server forgets a
    /// session whose socket closes anyway).
    pub(crate) async fn close(self) {
        let _ = with_conn!(self, c => c.close().await);
    }

    /// Runs one SQL text without parameters (simple query protocol, so any
    /// statement works, including those that cannot be prepared).
    pub(crate) async fn execute(&mut self, text: &str) -> Result<u64, sqlx::Error> {
        use futures::TryStreamExt;
        // A `&str` runs unprepared (simple query protocol). Rows are
        // drained through `fetch_many`: `RawSql::execute`'s future is not
        // `Send` for borrowed text (higher-ranked lifetime limits).
        with_conn!(self, c => {
            let mut stream = sqlx::raw_sql(text).fetch_many(&mut *c);
            let mut affected = 0;
            while let Some(step) = stream.try_next().await? {
                if let sqlx::Either::Left(done) = step {
                    affected += done.rows_affected();
                }
            }
            Ok(affected)
        })
    }

    /// Whether a query returns at least one row (its columns unread).
    pub(crate) async fn returns_rows(&mut self, text: &str) -> Result<bool, sqlx::Error> {
        use futures::TryStreamExt;
        // `RawSql::fetch_optional` errors on no rows in sqlx 0.8; take the
        // first row of the stream instead.
        with_conn!(self, c => sqlx::raw_sql(text).fetch(&mut *c).try_next().await.map(|row| row.is_some()))
    }

    /// Runs a query whose columns are all text, returning the rows.
    pub(crate) async fn text_rows(
        &mut self,
        query: &str,
    ) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
        use sqlx::Row;
        with_conn!(self, c => {
            let rows = sqlx::query(query).fetch_all(&mut *c).await?;
            rows.iter()
                .map(|row| (0..row.len()).map(|i| row.try_get::<Option<String>, _>(i)).collect())
                .collect()
        })
    }

    /// [`Self::text_rows`] with one text parameter. The query text stays
    /// the same from call to call, so the driver prepares it once and the
    /// server can reuse its plan (planning a catalogue query costs more
    /// than running it).
    pub(crate) async fn text_rows_with(
        &mut self,
        query: &str,
        arg: String,
    ) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
        use sqlx::Row;
        with_conn!(self, c => {
            let rows = sqlx::query(query).bind(arg).fetch_all(&mut *c).await?;
            rows.iter()
                .map(|row| (0..row.len()).map(|i| row.try_get::<Option<String>, _>(i)).collect())
                .collect()
        })
    }
}

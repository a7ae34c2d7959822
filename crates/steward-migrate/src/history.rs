//! The history table, `steward_schema_history`, in the target database: a
//! log of every migration applied, failed, undone or baselined, with
//! checksums, backups and schema fingerprints.
//!
//! A version's state is its newest row: a successful `versioned` or
//! `baseline` row means applied, a `down` row means undone, an unsuccessful
//! row with an error means failed, and one without an error means a
//! statement-by-statement run that was interrupted (its
//! `statements_applied` says how far it got).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{
    Dialect,
    conn::{Conn, sql, with_conn},
};

/// Name of the history table.
pub const HISTORY_TABLE: &str = "steward_schema_history";

/// What a history row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    /// A versioned migration run.
    Versioned,
    /// A repeatable migration run.
    Repeatable,
    /// An existing database adopted at this version.
    Baseline,
    /// A versioned migration undone with its down file.
    Down,
}

impl RowKind {
    fn as_str(self) -> &'static str {
        match self {
            RowKind::Versioned => "versioned",
            RowKind::Repeatable => "repeatable",
            RowKind::Baseline => "baseline",
            RowKind::Down => "down",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "versioned" => RowKind::Versioned,
            "repeatable" => RowKind::Repeatable,
            "baseline" => RowKind::Baseline,
            "down" => RowKind::Down,
            _ => return None,
        })
    }
}

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    /// Order of the row (auto-increment).
    pub rank: i64,
    /// Version, or `None` for repeatable migrations.
    pub version: Option<String>,
    /// Migration name.
    pub name: String,
    /// What the row records.
    pub kind: RowKind,
    /// Checksum of the file that ran.
    pub checksum: String,
    /// When it started.
    pub applied_at: DateTime<Utc>,
    /// Who ran it (user and host, or a steward actor).
    pub applied_by: String,
    /// How long it took.
    pub execution_ms: i64,
    /// Whether it completed.
    pub success: bool,
    /// Statements completed (statement-by-statement runs).
    pub statements_applied: i64,
    /// Backup taken before it, if any.
    pub backup: Option<String>,
    /// Fingerprint of the schema after it.
    pub schema_fingerprint: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

impl HistoryRow {
    /// A run that stopped without recording an outcome (the process died
    /// during a statement-by-statement run).
    pub fn interrupted(&self) -> bool {
        !self.success && self.error.is_none()
    }
}

/// A row about to be written.
#[derive(Debug, Clone)]
pub(crate) struct NewRow<'a> {
    pub(crate) version: Option<&'a str>,
    pub(crate) name: &'a str,
    pub(crate) kind: RowKind,
    pub(crate) checksum: &'a str,
    pub(crate) applied_by: &'a str,
    pub(crate) success: bool,
    pub(crate) backup: Option<&'a str>,
}

fn create_table(dialect: Dialect) -> String {
    let (rank, text, int, tail) = match dialect {
        Dialect::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "INTEGER", ""),
        Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "TEXT", "BIGINT", ""),
        Dialect::Mysql => (
            "BIGINT AUTO_INCREMENT PRIMARY KEY",
            "VARCHAR(1024)",
            "BIGINT",
            " ENGINE=InnoDB",
        ),
    };
    let long_text = if dialect == Dialect::Mysql {
        "TEXT"
    } else {
        text
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (\
         installed_rank {rank}, \
         version {text}, \
         name {text} NOT NULL, \
         kind {text} NOT NULL, \
         checksum {text} NOT NULL, \
         applied_at {int} NOT NULL, \
         applied_by {text} NOT NULL, \
         execution_ms {int} NOT NULL, \
         success {int} NOT NULL, \
         statements_applied {int} NOT NULL DEFAULT 0, \
         backup {text}, \
         schema_fingerprint {text}, \
         error {long_text})\
         {tail}"
    )
}

/// A history row as read: rank, version, name, kind, checksum, applied at,
/// applied by, execution ms, success, statements, backup, fingerprint, error.
type RawRow = (
    i64,
    Option<String>,
    String,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

const COLUMNS: &str = "installed_rank, version, name, kind, checksum, applied_at, applied_by, execution_ms, \
                       success, statements_applied, backup, schema_fingerprint, error";

impl Conn {
    /// Creates the history table when it does not exist.
    pub(crate) async fn ensure_history(&mut self) -> Result<(), sqlx::Error> {
        let statement = create_table(self.dialect());
        self.execute(&statement).await.map(drop)
    }

    /// Whether the history table exists.
    pub(crate) async fn has_history(&mut self) -> Result<bool, sqlx::Error> {
        let query = match self.dialect() {
            Dialect::Sqlite => format!(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{HISTORY_TABLE}'"
            ),
            Dialect::Postgres => format!(
                "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = '{HISTORY_TABLE}'"
            ),
            Dialect::Mysql => format!(
                "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{HISTORY_TABLE}'"
            ),
        };
        self.returns_rows(&query).await
    }

    /// Every history row, oldest first (empty when there is no table).
    pub(crate) async fn history(&mut self) -> Result<Vec<HistoryRow>, crate::Error> {
        use sqlx::Row;
        if !self.has_history().await? {
            return Ok(Vec::new());
        }
        let query = format!("SELECT {COLUMNS} FROM {HISTORY_TABLE} ORDER BY installed_rank");
        let rows: Vec<RawRow> = with_conn!(self, c => {
            let rows = sqlx::query(&query).fetch_all(&mut *c).await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?,
                        r.try_get(5)?, r.try_get(6)?, r.try_get(7)?, r.try_get(8)?, r.try_get(9)?,
                        r.try_get(10)?, r.try_get(11)?, r.try_get(12)?,
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        rows.into_iter()
            .map(
                |(
                    rank,
                    version,
                    name,
                    kind,
                    checksum,
                    applied_at,
                    applied_by,
                    execution_ms,
                    success,
                    statements,
                    backup,
                    fingerprint,
                    error,
                )| {
                    Ok(HistoryRow {
                        kind: RowKind::parse(&kind).ok_or_else(|| {
                            crate::Error::CorruptHistory {
                                rank,
                                detail: format!("unknown kind `{kind}`"),
                            }
                        })?,
                        applied_at: DateTime::from_timestamp_millis(applied_at).ok_or_else(
                            || crate::Error::CorruptHistory {
                                rank,
                                detail: format!("applied_at {applied_at}"),
                            },
                        )?,
                        rank,
                        version,
                        name,
                        checksum,
                        applied_by,
                        execution_ms,
                        success: success != 0,
                        statements_applied: statements,
                        backup,
                        schema_fingerprint: fingerprint,
                        error,
                    })
                },
            )
            .collect()
    }

    /// Writes a row and returns its rank. The migration lock is held, so
    /// the newest rank is this row's.
    pub(crate) async fn insert_history(&mut self, row: &NewRow<'_>) -> Result<i64, sqlx::Error> {
        let dialect = self.dialect();
        let insert = sql(
            dialect,
            &format!(
                "INSERT INTO {HISTORY_TABLE} (version, name, kind, checksum, applied_at, applied_by, execution_ms, success, \
                 statements_applied, backup) VALUES (?, ?, ?, ?, ?, ?, 0, ?, 0, ?)"
            ),
        );
        let now = Utc::now().timestamp_millis();
        let newest = format!("SELECT MAX(installed_rank) FROM {HISTORY_TABLE}");
        with_conn!(self, c => {
            // Owned binds: borrowed ones make the future not `Send`
            // (higher-ranked lifetime limits of the compiler).
            sqlx::query(&insert)
                .bind(row.version.map(str::to_owned))
                .bind(row.name.to_owned())
                .bind(row.kind.as_str().to_owned())
                .bind(row.checksum.to_owned())
                .bind(now)
                .bind(row.applied_by.to_owned())
                .bind(i64::from(row.success))
                .bind(row.backup.map(str::to_owned))
                .execute(&mut *c)
                .await?;
            sqlx::query_scalar::<_, i64>(&newest).fetch_one(&mut *c).await
        })
    }

    /// Writes the row of a run that completed inside a transaction: one
    /// statement, where a run recorded while it goes needs three. Returns
    /// the row's rank on PostgreSQL (`RETURNING`), `None` elsewhere.
    pub(crate) async fn insert_finished(
        &mut self,
        row: &NewRow<'_>,
        execution_ms: i64,
        statements: i64,
        fingerprint: Option<&str>,
    ) -> Result<Option<i64>, sqlx::Error> {
        let returning = if self.dialect() == Dialect::Postgres {
            " RETURNING installed_rank"
        } else {
            ""
        };
        let insert = sql(
            self.dialect(),
            &format!(
                "INSERT INTO {HISTORY_TABLE} (version, name, kind, checksum, applied_at, applied_by, execution_ms, success, \
                 statements_applied, backup, schema_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?){returning}"
            ),
        );
        let now = Utc::now().timestamp_millis();
        with_conn!(self, c => sqlx::query_scalar::<_, i64>(&insert)
            .bind(row.version.map(str::to_owned))
            .bind(row.name.to_owned())
            .bind(row.kind.as_str().to_owned())
            .bind(row.checksum.to_owned())
            .bind(now)
            .bind(row.applied_by.to_owned())
            .bind(execution_ms)
            .bind(statements)
            .bind(row.backup.map(str::to_owned))
            .bind(fingerprint.map(str::to_owned))
            .fetch_optional(&mut *c)
            .await)
    }

    /// Fills in the fingerprints of rows written without one (PostgreSQL:
    /// see `CatalogCache`), in one statement.
    pub(crate) async fn set_fingerprints(
        &mut self,
        fingerprints: &[(i64, String)],
    ) -> Result<(), sqlx::Error> {
        if fingerprints.is_empty() {
            return Ok(());
        }
        let items: Vec<String> = fingerprints
            .iter()
            .map(|(rank, fingerprint)| format!("{rank}:{fingerprint}"))
            .collect();
        self.text_rows_with(
            &format!(
                "UPDATE {HISTORY_TABLE} h SET schema_fingerprint = split_part(x, ':', 2) \
                 FROM unnest($1::text[]) AS x WHERE h.installed_rank = split_part(x, ':', 1)::bigint"
            ),
            format!("{{{}}}", items.join(",")),
        )
        .await
        .map(drop)
    }

    /// Records how many statements of a statement-by-statement run are done.
    pub(crate) async fn record_progress(
        &mut self,
        rank: i64,
        statements: i64,
    ) -> Result<(), sqlx::Error> {
        let update = sql(
            self.dialect(),
            &format!("UPDATE {HISTORY_TABLE} SET statements_applied = ? WHERE installed_rank = ?"),
        );
        with_conn!(self, c => sqlx::query(&update).bind(statements).bind(rank).execute(&mut *c).await.map(drop))
    }

    /// Records the outcome of a run.
    pub(crate) async fn finish_history(
        &mut self,
        rank: i64,
        success: bool,
        execution_ms: i64,
        statements: i64,
        fingerprint: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let update = sql(
            self.dialect(),
            &format!(
                "UPDATE {HISTORY_TABLE} SET success = ?, execution_ms = ?, statements_applied = ?, \
                 schema_fingerprint = ?, error = ? WHERE installed_rank = ?"
            ),
        );
        with_conn!(self, c => sqlx::query(&update)
            .bind(i64::from(success))
            .bind(execution_ms)
            .bind(statements)
            .bind(fingerprint.map(str::to_owned))
            .bind(error.map(str::to_owned))
            .bind(rank)
            .execute(&mut *c)
            .await
            .map(drop))
    }

    /// Deletes a row (repair of failed rows).
    pub(crate) async fn delete_history(&mut self, rank: i64) -> Result<(), sqlx::Error> {
        let delete = sql(
            self.dialect(),
            &format!("DELETE FROM {HISTORY_TABLE} WHERE installed_rank = ?"),
        );
        with_conn!(self, c => sqlx::query(&delete).bind(rank).execute(&mut *c).await.map(drop))
    }

    /// Sets a row's checksum (repair of edited files).
    pub(crate) async fn set_checksum(
        &mut self,
        rank: i64,
        checksum: &str,
    ) -> Result<(), sqlx::Error> {
        let update = sql(
            self.dialect(),
            &format!("UPDATE {HISTORY_TABLE} SET checksum = ? WHERE installed_rank = ?"),
        );
        with_conn!(self, c => sqlx::query(&update).bind(checksum.to_owned()).bind(rank).execute(&mut *c).await.map(drop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_definition_fits_each_engine() {
        assert!(create_table(Dialect::Sqlite).contains("INTEGER PRIMARY KEY AUTOINCREMENT"));
        assert!(create_table(Dialect::Postgres).contains("BIGSERIAL"));
        let mysql = create_table(Dialect::Mysql);
        assert!(
            mysql.contains("AUTO_INCREMENT")
                && mysql.ends_with("ENGINE=InnoDB")
                && mysql.contains("error TEXT")
        );
    }

    #[test]
    fn kinds_round_trip() {
        for kind in [
            RowKind::Versioned,
            RowKind::Repeatable,
            RowKind::Baseline,
            RowKind::Down,
        ] {
            assert_eq!(RowKind::parse(kind.as_str()), Some(kind));
        }
    }
}

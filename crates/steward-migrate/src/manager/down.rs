//! Undoing migrations with their down files, newest first, after one
//! backup; each in a transaction where the engine allows it.

use std::time::Instant;

use super::{Applied, BackupPolicy, MigrationManager, RunReport, failure::Failure};
use crate::{
    Dialect, Error, Migration, MigrationVersion, Result, backup,
    conn::Conn,
    history::{NewRow, RowKind},
    progress::ProgressEvent,
    split,
    status::{self, State},
};

impl MigrationManager {
    /// Undoes applied migrations newest first with their down files: the
    /// newest one, or every one above `to`. Refuses, changing nothing, when
    /// any of them has no down file.
    pub async fn down(&self, to: Option<&str>) -> Result<RunReport> {
        let lock = self.lock().await?;
        let result = async {
            let mut conn = self.connect().await?;
            let result = self.down_locked(&mut conn, to).await;
            conn.close().await;
            result
        }
        .await;
        lock.release().await;
        result
    }

    async fn down_locked(&self, conn: &mut Conn, to: Option<&str>) -> Result<RunReport> {
        self.finish_interrupted_restore(conn).await?;
        let status = status::compute(&self.source, &conn.history().await?);
        let applied: Vec<MigrationVersion> = status
            .entries
            .iter()
            .filter(|e| matches!(e.state, State::Applied | State::Changed))
            .filter_map(|e| e.version.as_deref().and_then(MigrationVersion::parse))
            .collect();
        let undo: Vec<MigrationVersion> = match to {
            Some(text) => {
                let to = MigrationVersion::parse(text).ok_or_else(|| {
                    Error::Refused(format!("`{text}` is not a migration version"))
                })?;
                applied.into_iter().filter(|v| v > &to).rev().collect()
            }
            None => applied.into_iter().next_back().into_iter().collect(),
        };
        let migrations: Vec<&Migration> = undo
            .iter()
            .map(|version| {
                self.source
                    .versioned
                    .iter()
                    .find(|m| m.version.as_ref() == Some(version))
                    .ok_or_else(|| {
                        Error::Conflict(format!(
                            "migration {version} is applied but its file is missing"
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        let without_down: Vec<String> = migrations
            .iter()
            .filter(|m| m.down.is_none())
            .map(|m| m.label())
            .collect();
        if !without_down.is_empty() {
            return Err(Error::Conflict(format!(
                "cannot undo: no down file for {}; nothing was changed",
                without_down.join(", ")
            )));
        }
        let mut report = RunReport::default();
        let policy = self.backup_policy();
        if policy != BackupPolicy::Off && !migrations.is_empty() {
            let taken = backup::take(
                conn,
                &self.url,
                &self.options.backup_dir,
                "before down",
                self.options.tool_timeout,
            )
            .await?;
            self.progress.event(&ProgressEvent::BackupTaken {
                backup: taken.clone(),
            });
            report.backups.push(taken);
        }
        for migration in migrations {
            let down = migration.down.as_ref().expect("checked above");
            let statements = split(&down.content, self.dialect);
            let transactional = self.dialect != Dialect::Mysql
                && !crate::source::wants_no_transaction(&down.content);
            let started = Instant::now();
            if transactional {
                let begin = if self.dialect == Dialect::Sqlite {
                    "BEGIN IMMEDIATE"
                } else {
                    "BEGIN"
                };
                conn.execute(begin).await?;
            }
            let work = async {
                for statement in &statements {
                    conn.execute(&statement.sql)
                        .await
                        .map_err(|err| Failure::statement(&down.path, statement, &err))?;
                }
                let fingerprint = conn.fingerprint().await?;
                let rank = conn
                    .insert_history(&NewRow {
                        version: migration.version.as_ref().map(MigrationVersion::as_str),
                        name: &migration.name,
                        kind: RowKind::Down,
                        checksum: &down.checksum,
                        applied_by: &self.options.applied_by,
                        success: true,
                        backup: report.backups.last().map(|b| b.id.as_str()),
                    })
                    .await?;
                conn.finish_history(
                    rank,
                    true,
                    started.elapsed().as_millis() as i64,
                    statements.len() as i64,
                    Some(&fingerprint),
                    None,
                )
                .await?;
                Ok::<(), Failure>(())
            }
            .await;
            match work {
                Ok(()) => {
                    if transactional {
                        conn.execute("COMMIT").await?;
                    }
                    let execution_ms = started.elapsed().as_millis() as i64;
                    self.progress.event(&ProgressEvent::MigrationUndone {
                        migration: migration.label(),
                        execution_ms,
                    });
                    report.migrations.push(Applied {
                        migration: migration.label(),
                        execution_ms,
                        statements: statements.len(),
                    });
                }
                Err(failure) => {
                    let outcome = if transactional {
                        conn.execute("ROLLBACK").await?;
                        "the down migration was rolled back; the migration is still applied"
                            .to_owned()
                    } else if let Some(backup) = report.backups.last() {
                        backup::restore(conn, &self.url, backup, self.options.tool_timeout).await?;
                        format!("the database was restored from backup {}", backup.id)
                    } else {
                        "the down migration stopped part-way and no backup exists; inspect the database".to_owned()
                    };
                    return Err(failure.into_error(migration, &outcome));
                }
            }
        }
        Ok(report)
    }
}

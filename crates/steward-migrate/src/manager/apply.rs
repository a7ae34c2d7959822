//! Applying migrations: the run (validate, refuse denied findings, back
//! up, run each step), the two ways a migration runs (in one transaction,
//! or statement by statement with recorded progress), the checks after
//! it, and how a failure is recorded.

use std::time::Instant;

use serde::Serialize;

use super::{
    BackupPolicy, MigrationManager,
    failure::{Failure, shorten},
    inspect::check,
};
use crate::{
    Dialect, Error, Migration, MigrationVersion, Result,
    backup::{self, BackupInfo},
    catalog::{CatalogCache, Suspects},
    conn::Conn,
    history::{HistoryRow, NewRow, RowKind},
    lint::only_creates,
    progress::ProgressEvent,
    split,
    status::{self, State},
};

/// A migration applied by a run.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// `3 add_index`.
    pub migration: String,
    /// How long it took.
    pub execution_ms: i64,
    /// Statements it ran (in this run).
    pub statements: usize,
}

/// What `apply` (or `down`) did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RunReport {
    /// Migrations applied or undone, in order.
    pub migrations: Vec<Applied>,
    /// Backups taken.
    pub backups: Vec<BackupInfo>,
    /// Old backups deleted by retention.
    pub pruned: usize,
}

impl MigrationManager {
    /// Applies every pending migration (validating first, refusing denied
    /// lint findings), up to the target version if one is set.
    pub async fn apply(&self) -> Result<RunReport> {
        let lock = self.lock().await?;
        let result = async {
            let mut conn = self.connect().await?;
            let result = self.apply_locked(&mut conn).await;
            conn.close().await;
            result
        }
        .await;
        lock.release().await;
        result
    }

    async fn apply_locked(&self, conn: &mut Conn) -> Result<RunReport> {
        self.finish_interrupted_restore(conn).await?;
        conn.ensure_history().await?;
        // A statement-by-statement run that stopped part-way, with a backup
        // from before it, is undone by restoring that backup; the plan is
        // then made afresh and the backup serves as this run's.
        let restored = match self.partial_run_backup(conn).await? {
            Some(backup) => {
                backup::restore(conn, &self.url, &backup, self.options.tool_timeout).await?;
                self.progress.event(&ProgressEvent::RolledBack {
                    migration: "(interrupted run)".to_owned(),
                    backup: Some(backup.id.clone()),
                });
                Some(backup)
            }
            None => None,
        };
        let plan = self.plan_with(conn).await?;
        check(&plan.status, self.options.allow_out_of_order)?;
        if let Some(deny) = self.options.deny {
            let count = plan.findings.iter().filter(|f| f.severity >= deny).count();
            if count > 0 {
                return Err(Error::Denied { count, deny });
            }
        }
        let mut report = RunReport::default();
        let total = plan.steps.len();
        self.progress.event(&ProgressEvent::Started { total });
        if total == 0 {
            return Ok(report);
        }
        let policy = self.backup_policy();
        let mut run_backup: Option<BackupInfo> = None;
        if policy == BackupPolicy::PerRun && restored.is_some() {
            run_backup = restored;
        } else if policy == BackupPolicy::PerRun {
            let taken = backup::take(
                conn,
                &self.url,
                &self.options.backup_dir,
                "before run",
                self.options.tool_timeout,
            )
            .await?;
            self.progress.event(&ProgressEvent::BackupTaken {
                backup: taken.clone(),
            });
            report.backups.push(taken.clone());
            run_backup = Some(taken);
        }
        let migrations: Vec<&Migration> = self.source.all().collect();
        let mut catalog = CatalogCache::default();
        for (position, step) in plan.steps.iter().enumerate() {
            let migration = migrations[step.index];
            let resume_from = step.resume_from;
            // A partial run without a backup continues in the row it left.
            let rank = if resume_from > 0 {
                let history = conn.history().await?;
                history
                    .iter()
                    .rev()
                    .find(|row| same_migration(row, migration))
                    .filter(|row| !row.success)
                    .map_or(0, |row| row.rank)
            } else {
                0
            };
            let mut migration_backup = run_backup.clone();
            if policy == BackupPolicy::PerMigration {
                let reason = format!("before {}", step.migration);
                let taken = backup::take(
                    conn,
                    &self.url,
                    &self.options.backup_dir,
                    &reason,
                    self.options.tool_timeout,
                )
                .await?;
                self.progress.event(&ProgressEvent::BackupTaken {
                    backup: taken.clone(),
                });
                report.backups.push(taken.clone());
                migration_backup = Some(taken);
            }
            self.progress.event(&ProgressEvent::MigrationStarted {
                index: position + 1,
                total,
                migration: step.migration.clone(),
                statements: step.statements.len(),
                resume_from,
            });
            let started = Instant::now();
            let outcome = if step.transactional {
                self.run_transactional(
                    conn,
                    migration,
                    position + 1,
                    migration_backup.as_ref(),
                    &mut catalog,
                )
                .await
            } else {
                // What the catalogue held is read afresh after these
                // statements, which commit one by one.
                conn.flush_fingerprints(&mut catalog).await?;
                catalog = CatalogCache::default();
                self.run_statementwise(
                    conn,
                    migration,
                    position + 1,
                    resume_from,
                    rank,
                    migration_backup.as_ref(),
                )
                .await
            };
            match outcome {
                Ok(statements) => {
                    let execution_ms = started.elapsed().as_millis() as i64;
                    self.progress.event(&ProgressEvent::MigrationApplied {
                        index: position + 1,
                        total,
                        migration: step.migration.clone(),
                        execution_ms,
                    });
                    report.migrations.push(Applied {
                        migration: step.migration.clone(),
                        execution_ms,
                        statements,
                    });
                }
                Err(err) => {
                    self.progress.event(&ProgressEvent::MigrationFailed {
                        migration: step.migration.clone(),
                        error: err.to_string(),
                    });
                    // The failed migration left the catalogue as the
                    // queued ones did (rolled back, or restored from a
                    // backup taken before the queue began).
                    if catalog.has_pending()
                        && let Err(flush) = conn.flush_fingerprints(&mut catalog).await
                    {
                        tracing::warn!(error = %flush, "cannot record the fingerprints of the migrations before the failure");
                    }
                    return Err(err);
                }
            }
        }
        conn.flush_fingerprints(&mut catalog).await?;
        report.pruned = backup::prune(&self.options.backup_dir, self.options.keep_backups)?.len();
        Ok(report)
    }

    /// The backup taken before the oldest statement-by-statement run that
    /// stopped part-way (interrupted, or failed with statements applied and
    /// not restored), when that backup still exists.
    async fn partial_run_backup(&self, conn: &mut Conn) -> Result<Option<BackupInfo>> {
        let history = conn.history().await?;
        let status = status::compute(&self.source, &history);
        // An interrupted run may have committed a statement it did not get
        // to record, so it counts even with nothing recorded.
        let partial = status.entries.iter().filter(|entry| match entry.state {
            State::Interrupted => true,
            State::Failed => entry.statements_applied.unwrap_or(0) > 0,
            _ => false,
        });
        for entry in partial {
            let Some(id) = &entry.backup else { continue };
            if let Ok(backup) = backup::find(&self.options.backup_dir, id) {
                return Ok(Some(backup));
            }
        }
        Ok(None)
    }

    /// Runs `migration` and its checks in one transaction with its history
    /// row. Returns the number of statements run.
    pub(super) async fn run_transactional(
        &self,
        conn: &mut Conn,
        migration: &Migration,
        index: usize,
        backup: Option<&BackupInfo>,
        catalog: &mut CatalogCache,
    ) -> Result<usize> {
        let statements = split(&migration.up.content, self.dialect);
        // Queued fingerprints describe the catalogue as the queued
        // migrations left it: read it before a migration that may change
        // what they created.
        let created = only_creates(&statements, self.dialect);
        if created.is_none() {
            conn.flush_fingerprints(catalog).await?;
        }
        let begin = if self.dialect == Dialect::Sqlite {
            "BEGIN IMMEDIATE"
        } else {
            "BEGIN"
        };
        conn.execute(begin).await?;
        let started = Instant::now();
        let work = async {
            let before = match catalog.suspects.take() {
                Some(known) => known,
                None => conn.suspects().await?,
            };
            for (done, statement) in statements.iter().enumerate() {
                conn.execute(&statement.sql)
                    .await
                    .map_err(|err| Failure::statement(&migration.up.path, statement, &err))?;
                self.progress.event(&ProgressEvent::StatementDone {
                    index,
                    done: done + 1,
                    statements: statements.len(),
                });
            }
            let after = self
                .verify(conn, migration, &before, created.is_some())
                .await?;
            let fingerprint = conn.fingerprint_after(catalog, created.as_deref()).await?;
            // The row commits with the migration, so it is written once,
            // complete (or queued for its fingerprint, see
            // `Conn::fingerprint_after`).
            let rank = conn
                .insert_finished(
                    &NewRow {
                        version: migration.version.as_ref().map(MigrationVersion::as_str),
                        name: &migration.name,
                        kind: row_kind(migration),
                        checksum: &migration.up.checksum,
                        applied_by: &self.options.applied_by,
                        success: true,
                        backup: backup.map(|b| b.id.as_str()),
                    },
                    started.elapsed().as_millis() as i64,
                    statements.len() as i64,
                    fingerprint.as_deref(),
                )
                .await?;
            Ok::<_, Failure>((after, fingerprint.is_none().then_some(rank).flatten()))
        }
        .await;
        match work {
            Ok((after, queued)) => {
                conn.execute("COMMIT").await?;
                catalog.suspects = Some(after);
                if let Some(rank) = queued {
                    catalog.defer(rank, created.unwrap_or_default());
                }
                Ok(statements.len())
            }
            Err(failure) => {
                conn.execute("ROLLBACK").await?;
                self.progress.event(&ProgressEvent::RolledBack {
                    migration: migration.label(),
                    backup: None,
                });
                let outcome = "the transaction was rolled back: the database is as it was before this migration";
                self.record_failure(conn, migration, &failure, 0, backup)
                    .await?;
                Err(failure.into_error(migration, outcome))
            }
        }
    }

    /// Runs `migration` statement by statement from `resume_from`,
    /// recording progress after each. `rank` is the history row of an
    /// earlier partial run to continue (0 for a new row). On failure the
    /// database is restored from `backup` when there is one.
    pub(super) async fn run_statementwise(
        &self,
        conn: &mut Conn,
        migration: &Migration,
        index: usize,
        resume_from: usize,
        rank: i64,
        backup: Option<&BackupInfo>,
    ) -> Result<usize> {
        let statements = split(&migration.up.content, self.dialect);
        let started = Instant::now();
        let rank = if rank > 0 {
            rank
        } else {
            conn.insert_history(&NewRow {
                version: migration.version.as_ref().map(MigrationVersion::as_str),
                name: &migration.name,
                kind: row_kind(migration),
                checksum: &migration.up.checksum,
                applied_by: &self.options.applied_by,
                success: false,
                backup: backup.map(|b| b.id.as_str()),
            })
            .await?
        };
        let mut done = resume_from;
        let work = async {
            let before = conn.suspects().await?;
            for statement in statements.iter().skip(resume_from) {
                conn.execute(&statement.sql)
                    .await
                    .map_err(|err| Failure::statement(&migration.up.path, statement, &err))?;
                done += 1;
                conn.record_progress(rank, done as i64).await?;
                self.progress.event(&ProgressEvent::StatementDone {
                    index,
                    done,
                    statements: statements.len(),
                });
            }
            self.verify(conn, migration, &before, false).await?;
            Ok::<(), Failure>(())
        }
        .await;
        match work {
            Ok(()) => {
                let fingerprint = conn.fingerprint().await?;
                conn.finish_history(
                    rank,
                    true,
                    started.elapsed().as_millis() as i64,
                    statements.len() as i64,
                    Some(&fingerprint),
                    None,
                )
                .await?;
                Ok(statements.len() - resume_from)
            }
            Err(failure) => {
                let message = failure.message();
                conn.finish_history(
                    rank,
                    false,
                    started.elapsed().as_millis() as i64,
                    done as i64,
                    None,
                    Some(&message),
                )
                .await?;
                let outcome = match backup {
                    Some(backup) => {
                        backup::restore(conn, &self.url, backup, self.options.tool_timeout).await?;
                        self.progress.event(&ProgressEvent::RolledBack {
                            migration: migration.label(),
                            backup: Some(backup.id.clone()),
                        });
                        // The restore brought back the history of the
                        // backup's time; record what happened after it.
                        self.record_failure(conn, migration, &failure, 0, Some(backup))
                            .await?;
                        format!(
                            "the database was restored from backup {} (taken {}); the history records the failure",
                            backup.id, backup.reason
                        )
                    }
                    None => format!(
                        "no backup to restore: {done} of {} statements are applied and recorded; fix the migration and \
                         run apply again to resume at statement {}",
                        statements.len(),
                        done + 1
                    ),
                };
                Err(failure.into_error(migration, &outcome))
            }
        }
    }

    /// The migration's verify queries and the engine's integrity checks.
    pub(super) async fn verify(
        &self,
        conn: &mut Conn,
        migration: &Migration,
        before: &Suspects,
        creates_only: bool,
    ) -> Result<Suspects, Failure> {
        if let Some(verify) = &migration.verify {
            for statement in split(&verify.content, self.dialect) {
                let rows = conn
                    .returns_rows(&statement.sql)
                    .await
                    .map_err(|err| Failure::statement(&verify.path, &statement, &err))?;
                if rows {
                    return Err(Failure {
                        file: verify.path.clone(),
                        line: statement.line,
                        statement: shorten(&statement.sql, 160),
                        detail:
                            "verify query returned rows; it must return none after the migration"
                                .to_owned(),
                    });
                }
            }
        }
        let (problems, after) = conn
            .integrity_problems(&migration.up.content, before, creates_only)
            .await?;
        if !problems.is_empty() {
            return Err(Failure {
                file: migration.up.path.clone(),
                line: 1,
                statement: "(integrity check after the migration)".to_owned(),
                detail: problems.join("; "),
            });
        }
        Ok(after)
    }

    pub(super) async fn record_failure(
        &self,
        conn: &mut Conn,
        migration: &Migration,
        failure: &Failure,
        statements: i64,
        backup: Option<&BackupInfo>,
    ) -> Result<()> {
        conn.ensure_history().await?;
        let rank = conn
            .insert_history(&NewRow {
                version: migration.version.as_ref().map(MigrationVersion::as_str),
                name: &migration.name,
                kind: row_kind(migration),
                checksum: &migration.up.checksum,
                applied_by: &self.options.applied_by,
                success: false,
                backup: backup.map(|b| b.id.as_str()),
            })
            .await?;
        conn.finish_history(rank, false, 0, statements, None, Some(&failure.message()))
            .await?;
        Ok(())
    }
}

fn row_kind(migration: &Migration) -> RowKind {
    match migration.kind {
        crate::MigrationKind::Versioned => RowKind::Versioned,
        crate::MigrationKind::Repeatable => RowKind::Repeatable,
    }
}

fn same_migration(row: &HistoryRow, migration: &Migration) -> bool {
    match &migration.version {
        Some(version) => {
            row.kind == RowKind::Versioned
                && row
                    .version
                    .as_deref()
                    .and_then(MigrationVersion::parse)
                    .as_ref()
                    == Some(version)
        }
        None => row.kind == RowKind::Repeatable && row.name == migration.name,
    }
}

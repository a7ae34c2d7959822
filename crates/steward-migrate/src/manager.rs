//! The MigrationManager: status, validate, plan, apply, down, repair,
//! baseline, drift, backups and restore, for one database.
//!
//! Every run that changes the database holds the migration lock. Each
//! migration runs one of two ways:
//!
//! - **in a transaction** (SQLite and PostgreSQL, unless the file says
//!   `-- steward:no-transaction`): its statements, its verify queries, the
//!   integrity checks and its history row commit together, so a failure or
//!   a crash leaves the database exactly as before it;
//! - **statement by statement** (MariaDB/MySQL, where DDL commits
//!   implicitly, and no-transaction files): the history row is written
//!   first and its progress after each statement, so an interrupted or
//!   failed run is restored from its backup or resumed exactly where it
//!   stopped, never left half-done without a record.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use serde::Serialize;
use steward_core::Severity;

use crate::{
    Dialect, Error, Migration, MigrationVersion, Result, Source, Statement,
    backup::{self, BackupInfo},
    catalog::{CatalogCache, Suspects},
    conn::Conn,
    history::{HistoryRow, NewRow, RowKind},
    lint::{self, Finding, only_creates},
    lock::MigrationLock,
    progress::{NoProgress, Progress, ProgressEvent},
    split,
    status::{self, State, Status},
};

/// When backups are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupPolicy {
    /// The engine's default: before each migration on SQLite; once per run
    /// on PostgreSQL and MariaDB/MySQL when their dump tool is installed.
    #[default]
    Auto,
    /// Before each migration.
    PerMigration,
    /// Once, before the first migration of a run.
    PerRun,
    /// Never.
    Off,
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to wait for another run's lock.
    pub lock_timeout: Duration,
    /// When to back up.
    pub backup: BackupPolicy,
    /// Where backups go.
    pub backup_dir: PathBuf,
    /// How many backups to keep after a successful run.
    pub keep_backups: usize,
    /// How long one run of a dump or restore tool (`pg_dump`,
    /// `pg_restore`, `mysqldump`, the `mysql` client) may take before it is
    /// killed and the backup or restore fails: they run under the
    /// migration lock, which a hung tool would otherwise hold forever.
    pub tool_timeout: Duration,
    /// Whether pending migrations older than the newest applied one may run.
    pub allow_out_of_order: bool,
    /// Apply only up to this version.
    pub target: Option<String>,
    /// Refuse plans with lint findings at or above this severity.
    pub deny: Option<Severity>,
    /// Who runs it (recorded in the history).
    pub applied_by: String,
}

/// Default of [`Options::tool_timeout`]: long enough to dump a large
/// database, short enough that a hung tool does not hold the lock all day.
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl Options {
    /// Defaults with backups in `backup_dir`.
    pub fn new(backup_dir: impl Into<PathBuf>) -> Self {
        Options {
            lock_timeout: Duration::from_secs(30),
            backup: BackupPolicy::Auto,
            backup_dir: backup_dir.into(),
            keep_backups: 10,
            tool_timeout: DEFAULT_TOOL_TIMEOUT,
            allow_out_of_order: false,
            target: None,
            deny: None,
            applied_by: default_actor(),
        }
    }
}

/// `user@host`, for the history's `applied_by`.
pub fn default_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

/// One migration a run will apply.
#[derive(Debug, Clone, Serialize)]
pub struct PlanStep {
    /// `3 add_index`.
    pub migration: String,
    /// Its file.
    pub file: PathBuf,
    /// Whether it runs in one transaction.
    pub transactional: bool,
    /// Statements already done by an interrupted or failed earlier run.
    pub resume_from: usize,
    /// Its statements, in order, with their lines.
    pub statements: Vec<PlannedStatement>,
    #[serde(skip)]
    index: usize,
}

/// A statement of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStatement {
    /// 1-based line in the file.
    pub line: usize,
    /// The SQL.
    pub sql: String,
}

/// What `apply` would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The target's engine.
    pub dialect: Dialect,
    /// Migrations to apply, in order.
    pub steps: Vec<PlanStep>,
    /// Lint findings over the steps.
    pub findings: Vec<Finding>,
    /// When backups will be taken, as a sentence.
    pub backups: String,
    /// The status the plan was made from.
    pub status: Status,
}

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

/// A change `repair` makes to the history.
#[derive(Debug, Clone, Serialize)]
pub struct RepairAction {
    /// `3 add_index`.
    pub migration: String,
    /// What is done.
    pub action: String,
}

/// The live schema against the one the history recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    /// Whether they differ.
    pub drifted: bool,
    /// Fingerprint recorded by the newest migration (none before any, or
    /// when its run stopped before writing it).
    pub expected: Option<String>,
    /// Fingerprint of the live schema.
    pub actual: String,
    /// The migration that recorded `expected`.
    pub recorded_by: Option<String>,
}

/// The migration manager of one database.
#[derive(Clone)]
pub struct MigrationManager {
    url: String,
    dialect: Dialect,
    source: Source,
    options: Options,
    progress: Arc<dyn Progress>,
}

impl std::fmt::Debug for MigrationManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationManager")
            .field("dialect", &self.dialect)
            .field("migrations", &self.source.versioned.len())
            .finish_non_exhaustive()
    }
}

/// The first line of a message, cut to a readable length.
fn shorten(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        line
    } else {
        let cut: String = line.chars().take(max).collect();
        format!("{cut}...")
    }
}

impl MigrationManager {
    /// A manager for the database at `url` with the migrations of `source`.
    pub fn new(url: impl Into<String>, source: Source, options: Options) -> Result<Self> {
        let url = url.into();
        Ok(MigrationManager {
            dialect: Dialect::from_url(&url)?,
            url,
            source,
            options,
            progress: Arc::new(NoProgress),
        })
    }

    /// Reports progress to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// The target's engine.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The migrations.
    pub fn source(&self) -> &Source {
        &self.source
    }

    async fn connect(&self) -> Result<Conn> {
        Conn::connect(
            &self.url,
            &format!("steward-migrate {}", self.options.applied_by),
        )
        .await
    }

    async fn lock(&self) -> Result<MigrationLock> {
        let holder = format!(
            "steward-migrate {} pid {}",
            self.options.applied_by,
            std::process::id()
        );
        MigrationLock::acquire(&self.url, self.options.lock_timeout, &holder).await
    }

    /// The history (empty when the table does not exist yet).
    pub async fn history(&self) -> Result<Vec<HistoryRow>> {
        let mut conn = self.connect().await?;
        let history = conn.history().await;
        conn.close().await;
        history
    }

    /// Where every migration stands.
    pub async fn status(&self) -> Result<Status> {
        Ok(status::compute(&self.source, &self.history().await?))
    }

    /// The status, or an error listing every changed, missing, failed,
    /// interrupted or (unless allowed) out-of-order migration.
    pub async fn validate(&self) -> Result<Status> {
        let status = self.status().await?;
        check(&status, self.options.allow_out_of_order)?;
        Ok(status)
    }

    /// What `apply` would run, with lint findings; changes nothing.
    pub async fn plan(&self) -> Result<Plan> {
        let mut conn = self.connect().await?;
        let result = self.plan_with(&mut conn).await;
        conn.close().await;
        result
    }

    async fn plan_with(&self, conn: &mut Conn) -> Result<Plan> {
        let history = conn.history().await?;
        let status = status::compute(&self.source, &history);
        let target =
            match &self.options.target {
                Some(text) => Some(MigrationVersion::parse(text).ok_or_else(|| {
                    Error::Refused(format!("`{text}` is not a migration version"))
                })?),
                None => None,
            };
        let mut steps = Vec::new();
        for (index, migration) in self.source.all().enumerate() {
            let entry = status
                .entries
                .iter()
                .find(|e| e.file.as_deref() == Some(migration.up.path.as_path()))
                .expect("every file has an entry");
            let runnable = match entry.state {
                State::Pending | State::Outdated | State::Failed | State::Interrupted => true,
                State::OutOfOrder => self.options.allow_out_of_order,
                _ => false,
            };
            let beyond_target = matches!((&target, &migration.version), (Some(target), Some(version)) if version > target);
            if !runnable || beyond_target {
                continue;
            }
            let transactional = self.transactional(migration);
            // A statement-by-statement run that stopped part-way resumes.
            let resume_from = if transactional {
                0
            } else {
                entry.statements_applied.unwrap_or(0).max(0) as usize
            };
            steps.push(PlanStep {
                migration: migration.label(),
                file: migration.up.path.clone(),
                transactional,
                resume_from,
                statements: split(&migration.up.content, self.dialect)
                    .into_iter()
                    .map(|s| PlannedStatement {
                        line: s.line,
                        sql: s.sql,
                    })
                    .collect(),
                index,
            });
        }
        let findings = self.lint(conn, &steps).await?;
        Ok(Plan {
            dialect: self.dialect,
            backups: self.backup_sentence(),
            steps,
            findings,
            status,
        })
    }

    async fn lint(&self, conn: &mut Conn, steps: &[PlanStep]) -> Result<Vec<Finding>> {
        let mut context = lint::LintContext::new(self.dialect);
        for (table, column) in conn.columns().await? {
            context.existing_tables.insert(table.clone());
            context
                .existing_columns
                .entry(table)
                .or_default()
                .insert(column);
        }
        context.table_rows.extend(conn.table_sizes().await?);
        let all: Vec<&Migration> = self.source.all().collect();
        let mut findings = Vec::new();
        for step in steps {
            let migration = all[step.index];
            let statements = split(&migration.up.content, self.dialect);
            findings.extend(lint::lint_migration(migration, &statements, &mut context));
        }
        Ok(findings)
    }

    fn transactional(&self, migration: &Migration) -> bool {
        self.dialect != Dialect::Mysql && !migration.no_transaction
    }

    /// The backup policy in effect, with `Auto` resolved.
    fn backup_policy(&self) -> BackupPolicy {
        match self.options.backup {
            BackupPolicy::Auto => match self.dialect {
                Dialect::Sqlite => BackupPolicy::PerMigration,
                _ if backup::tool_available(self.dialect) => BackupPolicy::PerRun,
                _ => BackupPolicy::Off,
            },
            policy => policy,
        }
    }

    fn backup_sentence(&self) -> String {
        let dir = self.options.backup_dir.display();
        match (self.backup_policy(), self.dialect) {
            (BackupPolicy::PerMigration, _) => format!("a backup before each migration, in {dir}"),
            (BackupPolicy::PerRun, _) => format!("one backup before the run, in {dir}"),
            (_, Dialect::Postgres) if !backup::tool_available(Dialect::Postgres) => {
                "no backup: pg_dump is not installed; each migration relies on PostgreSQL's transactional DDL \
                 (no-transaction migrations cannot be rolled back)"
                    .to_owned()
            }
            (_, Dialect::Mysql) if !backup::tool_available(Dialect::Mysql) => {
                "no backup: mysqldump is not installed; a failed migration is resumed from its recorded progress, \
                 not rolled back"
                    .to_owned()
            }
            _ => "no backup (backups are off)".to_owned(),
        }
    }

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

    /// Completes a restore that a crash cut short, before anything else.
    async fn finish_interrupted_restore(&self, conn: &mut Conn) -> Result<()> {
        if let Some(backup) = backup::interrupted_restore(&self.options.backup_dir) {
            tracing::warn!(backup = %backup.id, "finishing a restore that was interrupted");
            backup::restore(conn, &self.url, &backup, self.options.tool_timeout).await?;
            self.progress.event(&ProgressEvent::RolledBack {
                migration: "(interrupted restore)".to_owned(),
                backup: Some(backup.id),
            });
        }
        Ok(())
    }

    /// Runs `migration` and its checks in one transaction with its history
    /// row. Returns the number of statements run.
    async fn run_transactional(
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
    async fn run_statementwise(
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
    async fn verify(
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

    async fn record_failure(
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

    /// The repairs `repair` would make: checksums re-aligned with edited
    /// files, failed and interrupted rows removed.
    pub async fn repair_plan(&self) -> Result<Vec<RepairAction>> {
        let history = self.history().await?;
        Ok(self
            .repairs(&history)
            .into_iter()
            .map(|(action, _)| action)
            .collect())
    }

    fn repairs(&self, history: &[HistoryRow]) -> Vec<(RepairAction, Repair)> {
        let status = status::compute(&self.source, history);
        let mut repairs = Vec::new();
        for entry in &status.entries {
            let label = match &entry.version {
                Some(version) => format!("{version} {}", entry.name),
                None => format!("R {}", entry.name),
            };
            let rows = history
                .iter()
                .filter(|row| row.version == entry.version && row.name == entry.name);
            match entry.state {
                State::Changed => {
                    if let (Some(row), Some(checksum)) =
                        (rows.clone().rev().find(|r| r.success), &entry.checksum)
                    {
                        repairs.push((
                            RepairAction {
                                migration: label.clone(),
                                action: format!(
                                    "record checksum {} (was {})",
                                    &checksum[..12],
                                    &row.checksum[..12.min(row.checksum.len())]
                                ),
                            },
                            Repair::Checksum(row.rank, checksum.clone()),
                        ));
                    }
                }
                State::Failed | State::Interrupted => {
                    for row in rows.filter(|r| !r.success) {
                        repairs.push((
                            RepairAction {
                                migration: label.clone(),
                                action: format!(
                                    "delete {} row {} ({})",
                                    if row.interrupted() {
                                        "interrupted"
                                    } else {
                                        "failed"
                                    },
                                    row.rank,
                                    row.error.as_deref().map_or_else(
                                        || "no outcome recorded".to_owned(),
                                        |e| shorten(e, 80)
                                    )
                                ),
                            },
                            Repair::Delete(row.rank),
                        ));
                    }
                }
                _ => {}
            }
        }
        repairs
    }

    /// Makes the repairs of [`repair_plan`](Self::repair_plan).
    pub async fn repair(&self) -> Result<Vec<RepairAction>> {
        let lock = self.lock().await?;
        let result = async {
            let mut conn = self.connect().await?;
            let history = conn.history().await?;
            let repairs = self.repairs(&history);
            for (_, repair) in &repairs {
                match repair {
                    Repair::Checksum(rank, checksum) => conn.set_checksum(*rank, checksum).await?,
                    Repair::Delete(rank) => conn.delete_history(*rank).await?,
                }
            }
            conn.close().await;
            Ok(repairs.into_iter().map(|(action, _)| action).collect())
        }
        .await;
        lock.release().await;
        result
    }

    /// Adopts an existing database: records `version` as applied, so that
    /// only later migrations run. Refused when migrations were applied.
    pub async fn baseline(&self, version: &str) -> Result<()> {
        let parsed = MigrationVersion::parse(version)
            .ok_or_else(|| Error::Refused(format!("`{version}` is not a migration version")))?;
        let lock = self.lock().await?;
        let result = async {
            let mut conn = self.connect().await?;
            conn.ensure_history().await?;
            let history = conn.history().await?;
            if history.iter().any(|row| row.success) {
                return Err(Error::Conflict(
                    "the database already has migration history; baseline adopts databases that have none".into(),
                ));
            }
            let fingerprint = conn.fingerprint().await?;
            let rank = conn
                .insert_history(&NewRow {
                    version: Some(parsed.as_str()),
                    name: "baseline",
                    kind: RowKind::Baseline,
                    checksum: "",
                    applied_by: &self.options.applied_by,
                    success: true,
                    backup: None,
                })
                .await?;
            conn.finish_history(rank, true, 0, 0, Some(&fingerprint), None).await?;
            conn.close().await;
            Ok(())
        }
        .await;
        lock.release().await;
        result
    }

    /// Compares the live schema with the fingerprint the newest successful
    /// migration recorded.
    pub async fn drift(&self) -> Result<Drift> {
        let mut conn = self.connect().await?;
        let history = conn.history().await?;
        let actual = conn.fingerprint().await?;
        conn.close().await;
        // The newest successful row decides: an older fingerprint would
        // report the newer migrations' changes as drift. Its fingerprint is
        // missing only when a run stopped before writing it (rows queued by
        // `Conn::fingerprint_after`).
        let recorded = history.iter().rev().find(|row| row.success);
        let expected = recorded.and_then(|row| row.schema_fingerprint.clone());
        Ok(Drift {
            drifted: expected
                .as_ref()
                .is_some_and(|expected| expected != &actual),
            recorded_by: recorded.map(|row| match &row.version {
                Some(version) => format!("{version} {}", row.name),
                None => format!("R {}", row.name),
            }),
            expected,
            actual,
        })
    }

    /// The live schema as sorted, normalised lines (for tests and `drift`).
    pub async fn schema_dump(&self) -> Result<Vec<String>> {
        let mut conn = self.connect().await?;
        let dump = conn.schema_dump().await;
        conn.close().await;
        Ok(dump?)
    }

    /// Backups in the backup directory, newest first.
    pub fn backups(&self) -> Result<Vec<BackupInfo>> {
        backup::list(&self.options.backup_dir)
    }

    /// Restores a backup (by id or unique id prefix), holding the lock.
    pub async fn restore(&self, id: &str) -> Result<BackupInfo> {
        let backup = backup::find(&self.options.backup_dir, id)?;
        let lock = self.lock().await?;
        let result = async {
            let mut conn = self.connect().await?;
            let result =
                backup::restore(&mut conn, &self.url, &backup, self.options.tool_timeout).await;
            conn.close().await;
            result
        }
        .await;
        lock.release().await;
        result.map(|()| backup)
    }

    /// The backup directory.
    pub fn backup_dir(&self) -> &Path {
        &self.options.backup_dir
    }
}

enum Repair {
    Checksum(i64, String),
    Delete(i64),
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

/// Rejects a status with problems, one line per problem.
fn check(status: &Status, allow_out_of_order: bool) -> Result<()> {
    let problems: Vec<String> = status
        .problems(allow_out_of_order)
        .iter()
        .filter(|entry| !matches!(entry.state, State::Failed | State::Interrupted))
        .map(|entry| {
            let label = entry.version.as_deref().map_or_else(|| format!("R {}", entry.name), |v| format!("{v} {}", entry.name));
            match entry.state {
                State::Changed => format!(
                    "  {label}: changed since it was applied ({}); restore the file, or run repair to accept it",
                    entry.file.as_ref().map_or_else(String::new, |f| f.display().to_string())
                ),
                State::Missing => format!("  {label}: applied, but its file is missing; restore the file"),
                State::OutOfOrder => format!("  {label}: pending, but a later version is applied; pass --allow-out-of-order to run it"),
                _ => format!("  {label}: {:?}", entry.state),
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid { problems })
    }
}

/// Why a migration failed, before it becomes an [`Error`].
struct Failure {
    file: PathBuf,
    line: usize,
    statement: String,
    detail: String,
}

impl Failure {
    fn statement(file: &Path, statement: &Statement, err: &sqlx::Error) -> Self {
        let detail = match err {
            sqlx::Error::Database(db) => db.message().to_owned(),
            other => other.to_string(),
        };
        Failure {
            file: file.to_owned(),
            line: statement.line,
            statement: shorten(&statement.sql, 160),
            detail,
        }
    }

    fn message(&self) -> String {
        format!("{}:{}: {}", self.file.display(), self.line, self.detail)
    }

    fn into_error(self, migration: &Migration, outcome: &str) -> Error {
        Error::MigrationFailed(Box::new(crate::FailedMigration {
            migration: migration.label(),
            file: self.file,
            line: self.line,
            statement: self.statement,
            detail: self.detail,
            outcome: outcome.to_owned(),
        }))
    }
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        Failure {
            file: PathBuf::new(),
            line: 0,
            statement: String::new(),
            detail: err.to_string(),
        }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure {
            file: PathBuf::new(),
            line: 0,
            statement: String::new(),
            detail: err.to_string(),
        }
    }
}

/// Compile-time checks that the run futures are `Send` (the server spawns
/// them); borrowed sqlx arguments once made them not.
#[cfg(test)]
#[allow(dead_code, clippy::let_underscore_future)]
mod send_checks {
    use super::*;

    fn futures_are_send(m: &MigrationManager, c: &mut Conn, mig: &Migration, f: &Failure) {
        fn send<T: Send>(_: T) {}
        send(m.plan_with(c));
        send(m.run_transactional(c, mig, 0, None, &mut CatalogCache::default()));
        send(m.run_statementwise(c, mig, 0, 0, 0, None));
        send(m.verify(c, mig, &Suspects::default(), false));
        send(c.flush_fingerprints(&mut CatalogCache::default()));
        send(m.record_failure(c, mig, f, 0, None));
        send(c.history());
        send(backup::take(c, "", Path::new(""), "", Duration::ZERO));
    }

    fn conn_futures_are_send(c: &mut Conn, row: &NewRow<'_>) {
        fn send<T: Send>(_: T) {}
        send(c.execute(""));
        send(c.returns_rows(""));
        send(c.text_rows(""));
        send(c.insert_history(row));
        send(c.record_progress(0, 0));
        send(c.finish_history(0, true, 0, 0, None, None));
        send(c.fingerprint());
        send(c.integrity_problems("", &Suspects::default(), false));
        send(c.ensure_history());
    }
}

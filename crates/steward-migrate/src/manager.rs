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
//!
//! This file is the facade (the manager, its options, connecting and
//! locking); each kind of work has its module: [`inspect`] reads (status,
//! validate, plan with lint findings, drift), [`apply`] runs migrations
//! forward, [`down`] undoes them, [`repair`] edits the history (repair,
//! baseline), [`backups`] is the backup policy and restores, and
//! [`failure`] turns a failed statement into an error.

use std::{path::PathBuf, sync::Arc, time::Duration};

use serde::Serialize;
use steward_core::Severity;

use crate::{
    Dialect, Result, Source,
    conn::Conn,
    lock::MigrationLock,
    progress::{NoProgress, Progress},
};

mod apply;
mod backups;
mod down;
mod failure;
mod inspect;
mod repair;
#[cfg(test)]
mod send_checks;

pub use apply::{Applied, RunReport};
pub use inspect::{Drift, Plan, PlanStep, PlannedStatement};
pub use repair::RepairAction;

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
}

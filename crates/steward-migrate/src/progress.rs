//! What a migration run reports while it works: the CLI draws progress bars
//! from these events, the server turns them into journal events.

use serde::Serialize;

use crate::backup::BackupInfo;

/// One step of a run's progress.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// The lock is held and the plan is known.
    Started {
        /// Migrations to run.
        total: usize,
    },
    /// A backup was taken.
    BackupTaken {
        /// The backup.
        backup: BackupInfo,
    },
    /// A migration starts.
    MigrationStarted {
        /// 1-based position in the run.
        index: usize,
        /// Migrations in the run.
        total: usize,
        /// `3 add_index`.
        migration: String,
        /// Statements in it.
        statements: usize,
        /// Statements already done by an earlier, interrupted run.
        resume_from: usize,
    },
    /// A statement finished.
    StatementDone {
        /// 1-based position in the run.
        index: usize,
        /// Statements done in this migration.
        done: usize,
        /// Statements in it.
        statements: usize,
    },
    /// A migration was applied.
    MigrationApplied {
        /// 1-based position in the run.
        index: usize,
        /// Migrations in the run.
        total: usize,
        /// `3 add_index`.
        migration: String,
        /// How long it took.
        execution_ms: i64,
    },
    /// A migration failed.
    MigrationFailed {
        /// `3 add_index`.
        migration: String,
        /// The error, as shown to users.
        error: String,
    },
    /// A failed migration was rolled back: its transaction, or the
    /// database restored from a backup.
    RolledBack {
        /// `3 add_index`.
        migration: String,
        /// The backup restored, when it was not a transaction rollback.
        backup: Option<String>,
    },
    /// A down migration was applied.
    MigrationUndone {
        /// `3 add_index`.
        migration: String,
        /// How long it took.
        execution_ms: i64,
    },
}

/// Receives progress events; must be cheap (it is called per statement).
pub trait Progress: Send + Sync {
    /// Handles one event.
    fn event(&self, event: &ProgressEvent);
}

/// Ignores progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: &ProgressEvent) {}
}

//! Errors of the migration engine.

use std::path::PathBuf;

use steward_core::{ErrorCode, ErrorKind};

/// What went wrong in a migration run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names an engine steward cannot migrate.
    #[error(
        "unsupported database URL scheme `{scheme}` (expected sqlite://, postgres:// or mysql://)"
    )]
    UnsupportedUrl {
        /// The scheme (the rest of the URL may hold a password).
        scheme: String,
    },
    /// A configured database has no migrations directory.
    #[error("database `{database}` has no migrations directory")]
    NoMigrations {
        /// The configured database.
        database: String,
    },
    /// A migration file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The migration directory is malformed (names, duplicates, pairs).
    #[error("{path}: {message}")]
    Source {
        /// The offending file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The target database could not be reached.
    #[error("cannot connect to the {} database: {detail}", dialect.as_str())]
    Connect {
        /// Its engine.
        dialect: crate::Dialect,
        /// The driver's message.
        detail: String,
    },
    /// A query of steward's own (history, catalogue) failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Another run holds the migration lock.
    #[error(
        "the database is being migrated by {holder}; wait for it to finish or raise the lock timeout"
    )]
    Locked {
        /// Who holds the lock.
        holder: String,
    },
    /// A history row cannot be read back.
    #[error("history row {rank} is corrupt: {detail}")]
    CorruptHistory {
        /// The row's rank.
        rank: i64,
        /// What could not be read.
        detail: String,
    },
    /// A backup could not be taken, listed or restored.
    #[error("backup: {detail}")]
    Backup {
        /// What went wrong.
        detail: String,
    },
    /// The files and the history disagree (changed, missing, out of order,
    /// failed migrations).
    #[error("validation failed:\n{}", problems.join("\n"))]
    Invalid {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// Lint findings at or above the denied severity.
    #[error("lint denied the plan: {count} finding(s) at {deny} or above")]
    Denied {
        /// How many findings.
        count: usize,
        /// The denied severity.
        deny: steward_core::Severity,
    },
    /// A migration failed; [`FailedMigration::outcome`] says what state the
    /// database was left in.
    #[error("{0}")]
    MigrationFailed(Box<FailedMigration>),
    /// The request is invalid (e.g. a target that is not a version).
    #[error("{0}")]
    Refused(String),
    /// The request conflicts with the database's or the files' current
    /// state (a baseline of a database that has history, an undo without
    /// a down file); nothing was changed.
    #[error("{0}")]
    Conflict(String),
    /// No backup has this id (or id prefix).
    #[error("no backup `{id}` in {dir}")]
    NoSuchBackup {
        /// The id or prefix asked for.
        id: String,
        /// The backup directory.
        dir: PathBuf,
    },
    /// More than one backup has this id prefix.
    #[error("`{id}` matches {count} backups; give more of the id")]
    AmbiguousBackup {
        /// The prefix asked for.
        id: String,
        /// How many backups it matches.
        count: usize,
    },
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::UnsupportedUrl { .. } => "unsupported_database_url",
            Error::NoMigrations { .. } => "no_migrations",
            Error::Read { .. } => "migrations_unreadable",
            Error::Source { .. } => "migrations_invalid",
            Error::Connect { .. } => "database_unreachable",
            Error::Database(_) => "database_error",
            Error::Locked { .. } => "migration_locked",
            Error::CorruptHistory { .. } => "history_corrupt",
            Error::Backup { .. } => "backup_failed",
            Error::Invalid { .. } => "migrations_diverged",
            Error::Denied { .. } => "lint_denied",
            Error::MigrationFailed(_) => "migration_failed",
            Error::Refused(_) => "migration_refused",
            Error::Conflict(_) => "migration_conflict",
            Error::NoSuchBackup { .. } => "backup_not_found",
            Error::AmbiguousBackup { .. } => "backup_ambiguous",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Error::UnsupportedUrl { .. }
            | Error::Source { .. }
            | Error::Denied { .. }
            | Error::Refused(_) => ErrorKind::InvalidInput,
            Error::Read { .. } | Error::Connect { .. } => ErrorKind::Unavailable,
            Error::Locked { .. }
            | Error::Invalid { .. }
            | Error::Conflict(_)
            | Error::NoMigrations { .. }
            | Error::AmbiguousBackup { .. } => ErrorKind::Conflict,
            Error::NoSuchBackup { .. } => ErrorKind::NotFound,
            // The target database's messages and the dump tools' output are
            // for the operator, not steward internals.
            Error::Database(_)
            | Error::CorruptHistory { .. }
            | Error::Backup { .. }
            | Error::MigrationFailed(_) => ErrorKind::Failed,
        }
    }
}

/// Where and why a migration failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{migration} failed at {}:{line}: {detail}\n  statement: {statement}\n  {outcome}", file.display())]
pub struct FailedMigration {
    /// `3 add_index`.
    pub migration: String,
    /// The file that failed.
    pub file: PathBuf,
    /// Line of the failing statement.
    pub line: usize,
    /// The statement (shortened).
    pub statement: String,
    /// The database's message.
    pub detail: String,
    /// What state the database was left in.
    pub outcome: String,
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

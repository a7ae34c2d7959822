//! Errors of the state store.

use steward_core::{ErrorCode, ErrorKind};

/// What went wrong in the state store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names a database steward cannot keep its state in.
    #[error("unsupported state database URL scheme `{scheme}` (expected sqlite:// or postgres://)")]
    UnsupportedUrl {
        /// The scheme (the rest of the URL may hold a password).
        scheme: String,
    },
    /// The data directory for a SQLite file could not be created.
    #[error("cannot create directory {path} for the state database: {source}")]
    CreateDir {
        /// The directory.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The SQLite state database file could not be created or made
    /// private.
    #[error("cannot secure the state database file {path}: {source}")]
    StateFile {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The database could not be reached.
    #[error("cannot connect to the state database: {0}")]
    Connect(#[source] sqlx::Error),
    /// Steward's schema could not be brought up to date.
    #[error("cannot migrate the state database schema: {0}")]
    Migrate(#[from] steward_migrate::Error),
    /// A query failed.
    #[error("state database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A row holds a value steward cannot read back.
    #[error("corrupt {table} row {id}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's id.
        id: String,
        /// What could not be read.
        detail: String,
    },
    /// The thing asked for does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was asked for, e.g. "token `ci`".
        what: String,
    },
    /// The change conflicts with existing state.
    #[error("{0}")]
    Conflict(String),
    /// A query parameter is invalid.
    #[error("{0}")]
    InvalidQuery(String),
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::UnsupportedUrl { .. } => "unsupported_state_url",
            Error::CreateDir { .. } => "state_dir_unavailable",
            Error::StateFile { .. } => "state_file_unavailable",
            Error::Connect(_) => "store_unavailable",
            Error::Migrate(steward_migrate::Error::Connect { .. }) => "store_unavailable",
            Error::Migrate(_) => "store_migration_failed",
            Error::Database(err) if is_unavailable(err) => "store_unavailable",
            Error::Database(_) => "store_error",
            Error::Corrupt { .. } => "store_corrupt",
            Error::NotFound { .. } => "not_found",
            Error::Conflict(_) => "conflict",
            Error::InvalidQuery(_) => "invalid_query",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Error::UnsupportedUrl { .. } | Error::InvalidQuery(_) => ErrorKind::InvalidInput,
            Error::Connect(_) | Error::CreateDir { .. } | Error::StateFile { .. } => {
                ErrorKind::Unavailable
            }
            Error::Migrate(err) if err.kind() != ErrorKind::Internal => err.kind(),
            Error::Database(err) if is_unavailable(err) => ErrorKind::Unavailable,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Migrate(_) | Error::Database(_) | Error::Corrupt { .. } => ErrorKind::Internal,
        }
    }
}

/// Whether a database error means "not reachable right now" rather than a
/// bad query, so callers can answer 503 and retry.
fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

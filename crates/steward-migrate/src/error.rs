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
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::UnsupportedUrl { .. } => "unsupported_database_url",
            Error::Read { .. } => "migrations_unreadable",
            Error::Source { .. } => "migrations_invalid",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Error::UnsupportedUrl { .. } | Error::Source { .. } => ErrorKind::InvalidInput,
            Error::Read { .. } => ErrorKind::Unavailable,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

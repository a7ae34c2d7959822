//! Errors of configuration loading.

use std::path::PathBuf;

use steward_core::{ErrorCode, ErrorKind};

use crate::Report;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The configuration has errors; the report lists all of them.
    #[error("{0}")]
    Invalid(Box<Report>),
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Read { .. } => "config_unreadable",
            Error::Invalid(_) => "config_invalid",
        }
    }

    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

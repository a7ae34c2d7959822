//! The one error type of steward-rules.

use std::path::PathBuf;

use steward_core::{ErrorCode, ErrorKind};

/// Everything that can go wrong loading or running rules.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule or test file cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Rule files are invalid: every problem found, one per line, each
    /// naming its file (and group and rule), as `promtool check rules`
    /// words them.
    #[error("{}", errors.join("\n"))]
    Invalid {
        /// The problems.
        errors: Vec<String>,
    },
    /// An Alertmanager is misconfigured (its URL is not http(s)).
    #[error("alertmanager {url:?}: {reason}")]
    InvalidAlertmanager {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store refused to answer or take samples.
    #[error("storage: {0}")]
    Storage(#[from] steward_metrics::Error),
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "rules_unreadable",
            Error::Invalid { .. } => "invalid_rules",
            Error::InvalidAlertmanager { .. } => "invalid_alertmanager",
            Error::Storage(_) => "storage_unavailable",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } | Error::Invalid { .. } | Error::InvalidAlertmanager { .. } => {
                ErrorKind::InvalidInput
            }
            Error::Storage(_) => ErrorKind::Unavailable,
        }
    }
}

/// The result type of steward-rules.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The one error type of steward-alert.

use steward_core::{ErrorCode, ErrorKind};

/// Everything that can go wrong in the AlertManager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A matcher (in a route, an inhibition rule, a silence or a filter)
    /// is malformed; the message says how, as Alertmanager words it.
    #[error("{0}")]
    BadMatcher(String),
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::BadMatcher(_) => "bad_matcher",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Error::BadMatcher(_) => ErrorKind::InvalidInput,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

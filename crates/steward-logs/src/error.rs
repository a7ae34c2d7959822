//! The one error type of steward-logs.

use std::path::PathBuf;

use steward_core::{ErrorCode, ErrorKind};

/// Everything that can go wrong collecting, storing or querying logs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the store (or a followed log file) cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A pushed payload is malformed: what is wrong and where.
    #[error("invalid push: {0}")]
    InvalidPush(String),
    /// A push in a content type or content encoding the endpoint does not
    /// take (the HTTP API answers 415 for it, whatever its kind says).
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// A LogQL query cannot be parsed or is not valid.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// A query ran into a limit (too many series, points or bytes).
    #[error("query limit: {0}")]
    Limit(String),
    /// The store takes no more lines for now: its memory or queue is full.
    #[error("too many lines in flight: retry after {retry_after_secs} s")]
    Backpressure {
        /// When the pusher should try again.
        retry_after_secs: u64,
    },
    /// Stored data is damaged (a checksum does not match).
    #[error("{}: corrupt: {reason}", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// The store is closed.
    #[error("log store is closed")]
    Closed,
    /// A `[[logs.forward]]` destination cannot be set up (a header or its
    /// HTTP client).
    #[error("invalid log forward: {0}")]
    InvalidForward(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "logs_io",
            Error::InvalidPush(_) => "invalid_push",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::InvalidQuery(_) => "invalid_query",
            Error::Limit(_) => "query_limit",
            Error::Backpressure { .. } => "too_many_requests",
            Error::Corrupt { .. } => "logs_corrupt",
            Error::Closed => "logs_closed",
            Error::InvalidForward(_) => "invalid_forward",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidPush(_)
            | Error::UnsupportedMediaType(_)
            | Error::InvalidQuery(_)
            | Error::Limit(_)
            | Error::InvalidForward(_) => ErrorKind::InvalidInput,
            // the HTTP API answers 429 with Retry-After for this one itself
            Error::Backpressure { .. }
            | Error::Io { .. }
            | Error::Corrupt { .. }
            | Error::Closed => ErrorKind::Unavailable,
        }
    }
}

/// The result type of steward-logs.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Errors of this crate and the error-code contract shared by all crates.

/// Broad class of an error, which decides how it surfaces to a user: the
/// server maps it onto an HTTP status, the binary onto an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller sent something malformed or invalid (HTTP 400/422, exit 2).
    InvalidInput,
    /// The referenced thing does not exist (HTTP 404).
    NotFound,
    /// The request conflicts with the current state (HTTP 409).
    Conflict,
    /// No valid credentials were presented (HTTP 401).
    Unauthenticated,
    /// The credentials are valid but not allowed to do this (HTTP 403).
    Forbidden,
    /// A dependency is not reachable right now; retrying may help (HTTP 503).
    Unavailable,
    /// The operation ran and failed for a reason the caller should read
    /// (a migration's SQL error, a failed health check) (HTTP 422, exit 1).
    Failed,
    /// A bug or an unexpected failure; details stay in the logs (HTTP 500).
    Internal,
}

/// Implemented by every crate's error enum so that callers can classify an
/// error and give clients a stable, machine-readable code without knowing
/// the crate.
pub trait ErrorCode {
    /// Stable snake_case code, e.g. `invalid_name` or `store_unavailable`.
    fn code(&self) -> &'static str;
    /// Broad class of the error.
    fn kind(&self) -> ErrorKind;
}

/// Errors raised when parsing core values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A name (service, database, token) breaks the naming rules.
    #[error("invalid name `{value}`: {reason}")]
    InvalidName {
        /// The rejected value.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A version string breaks the version rules.
    #[error("invalid version `{value}`: {reason}")]
    InvalidVersion {
        /// The rejected value.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A duration is not in Prometheus duration syntax.
    #[error("invalid duration `{value}`: {reason}")]
    InvalidDuration {
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A byte size is malformed.
    #[error("invalid size `{value}`: {reason}")]
    InvalidByteSize {
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An event kind is not a dotted lowercase identifier.
    #[error("invalid event kind `{value}`: {reason}")]
    InvalidEventKind {
        /// The rejected value.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// An unknown role name.
    #[error("unknown role `{0}` (expected viewer, operator or admin)")]
    UnknownRole(String),
    /// An unknown severity name.
    #[error("unknown severity `{0}` (expected info, warning, error or critical)")]
    UnknownSeverity(String),
    /// An actor string is empty, too long or has control characters.
    #[error("invalid actor `{0}`: must be 1 to 128 printable characters")]
    InvalidActor(String),
    /// A database URL whose scheme steward does not speak.
    #[error(
        "unsupported database URL scheme `{scheme}` (expected sqlite, postgres, postgresql, mysql or mariadb)"
    )]
    UnsupportedDatabaseUrl {
        /// The scheme found (the rest of the URL may hold a password).
        scheme: String,
    },
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::InvalidName { .. } => "invalid_name",
            Error::InvalidVersion { .. } => "invalid_version",
            Error::InvalidDuration { .. } => "invalid_duration",
            Error::InvalidByteSize { .. } => "invalid_byte_size",
            Error::InvalidEventKind { .. } => "invalid_event_kind",
            Error::UnknownRole(_) => "unknown_role",
            Error::UnknownSeverity(_) => "unknown_severity",
            Error::InvalidActor(_) => "invalid_actor",
            Error::UnsupportedDatabaseUrl { .. } => "unsupported_url",
        }
    }

    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The library's single error type.

use std::io;

/// Everything that can go wrong in the demo agent library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A duration flag could not be parsed.
    #[error("invalid duration {input:?}: {reason}")]
    InvalidDuration {
        /// The text that was given.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A count range flag could not be parsed or is empty.
    #[error("invalid range {input:?}: {reason}")]
    InvalidRange {
        /// The text that was given.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A model price specification could not be parsed.
    #[error("invalid model {input:?}: {reason}")]
    InvalidModel {
        /// The text that was given.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A numeric flag is not a number or is out of range.
    #[error("{input:?} is not {expected}")]
    InvalidNumber {
        /// The text that was given.
        input: String,
        /// What was expected instead.
        expected: &'static str,
    },
    /// A configuration value is out of range or inconsistent with another.
    #[error("invalid {field}: {reason}")]
    InvalidConfig {
        /// The flag that holds the bad value.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// Registering or encoding a metric failed.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The host and port that were requested.
        addr: String,
        /// The underlying IO error.
        source: io::Error,
    },
    /// A signal handler could not be installed.
    #[error("cannot install signal handler: {0}")]
    Signal(#[source] io::Error),
    /// Serving HTTP failed.
    #[error("serving http: {0}")]
    Serve(#[source] io::Error),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

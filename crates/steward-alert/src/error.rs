//! The one error type of steward-alert.

use steward_core::{ErrorCode, ErrorKind};

/// Everything that can go wrong in the AlertManager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A matcher (in a route, an inhibition rule, a silence or a filter)
    /// is malformed; the message says how, as Alertmanager words it.
    #[error("{0}")]
    BadMatcher(String),
    /// An incoming alert is invalid; the message is Alertmanager's.
    #[error("{0}")]
    InvalidAlert(String),
    /// No silence has this id.
    #[error("silence not found")]
    SilenceNotFound,
    /// A silence fails Alertmanager's validation (`validateSilence`).
    #[error("silence invalid: {0}")]
    InvalidSilence(String),
    /// A silence's times are refused before anything changes (API v2's
    /// checks: start after end, end in the past).
    #[error("{0}")]
    BadSilence(String),
    /// A store (alerts, silences, notification log) failed.
    #[error("alert state store: {0}")]
    Store(String),
    /// A notification was not delivered.
    #[error("{0}")]
    Notify(String),
    /// The AlertManager has stopped (or the task doing the work failed).
    #[error("the alertmanager has stopped")]
    Stopped,
    /// An Alertmanager configuration is invalid; the error says where.
    #[error("{0}")]
    InvalidConfig(#[from] crate::config::ConfigError),
    /// An Alertmanager configuration file cannot be read or is invalid.
    #[error("{file}: {message}")]
    ConfigFile {
        /// The file as given.
        file: String,
        /// What is wrong (with the place in the YAML).
        message: String,
    },
    /// A route refers to a time interval that the configuration lacks.
    #[error("{0}")]
    UnknownTimeInterval(String),
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::BadMatcher(_) => "bad_matcher",
            Error::InvalidAlert(_) => "invalid_alert",
            Error::SilenceNotFound => "silence_not_found",
            Error::InvalidSilence(_) => "invalid_silence",
            Error::BadSilence(_) => "bad_silence",
            Error::Store(_) => "alert_store_failed",
            Error::Notify(_) => "notify_failed",
            Error::Stopped => "alertmanager_stopped",
            Error::InvalidConfig(_) | Error::ConfigFile { .. } => "invalid_alertmanager_config",
            Error::UnknownTimeInterval(_) => "unknown_time_interval",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Error::BadMatcher(_)
            | Error::InvalidAlert(_)
            | Error::InvalidSilence(_)
            | Error::BadSilence(_) => ErrorKind::InvalidInput,
            Error::SilenceNotFound => ErrorKind::NotFound,
            Error::Store(_) | Error::Notify(_) | Error::Stopped => ErrorKind::Unavailable,
            Error::InvalidConfig(_) | Error::ConfigFile { .. } => ErrorKind::InvalidInput,
            // A checked configuration names only intervals it defines.
            Error::UnknownTimeInterval(_) => ErrorKind::Internal,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

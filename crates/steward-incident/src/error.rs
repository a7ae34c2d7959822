//! The crate's error type.

/// What can go wrong in the IncidentManager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An on-call schedule that cannot be used, and where.
    #[error("schedule {schedule:?}: {field}: {reason}")]
    InvalidSchedule {
        /// The schedule's name.
        schedule: String,
        /// The field at fault (`layers[0].rotation`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An escalation policy that cannot be used, and where.
    #[error("escalation policy {policy:?}: {field}: {reason}")]
    InvalidPolicy {
        /// The policy's name.
        policy: String,
        /// The field at fault (`levels[1].schedules[0]`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An incident action its status does not allow, and why.
    #[error("{0}")]
    InvalidTransition(String),
    /// A value from a user that means nothing here.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The store failed (its message).
    #[error("incident store: {0}")]
    Store(String),
    /// No such incident, action item or step.
    #[error("{0}")]
    NotFound(String),
    /// The manager is stopping.
    #[error("the incident manager is stopping")]
    Stopped,
    /// A time range a computation refuses (empty, reversed or too long).
    #[error("time range: {0}")]
    InvalidRange(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl steward_core::ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::InvalidSchedule { .. } => "invalid_schedule",
            Error::InvalidPolicy { .. } => "invalid_escalation_policy",
            Error::InvalidTransition(_) => "invalid_transition",
            Error::InvalidInput(_) => "invalid_input",
            Error::NotFound(_) => "not_found",
            Error::Stopped => "incidents_stopping",
            Error::Store(_) => "incident_store_failed",
            Error::InvalidRange(_) => "invalid_range",
        }
    }

    fn kind(&self) -> steward_core::ErrorKind {
        use steward_core::ErrorKind;
        match self {
            Error::InvalidSchedule { .. }
            | Error::InvalidPolicy { .. }
            | Error::InvalidInput(_)
            | Error::InvalidRange(_) => ErrorKind::InvalidInput,
            Error::InvalidTransition(_) => ErrorKind::Conflict,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Stopped => ErrorKind::Unavailable,
            Error::Store(_) => ErrorKind::Internal,
        }
    }
}

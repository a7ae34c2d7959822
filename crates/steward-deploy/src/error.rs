//! The one error type of steward-deploy.

/// What can go wrong planning or running a deployment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The state database failed (from the [`crate::DeployStore`] implementation).
    #[error("state database: {0}")]
    Store(String),
    /// A backend operation failed.
    #[error("{backend} backend: {message}")]
    Backend {
        /// `process` or `docker`.
        backend: &'static str,
        /// What failed, naming the replica or image.
        message: String,
    },
    /// A backend cannot be reached (the Docker engine is down): retrying
    /// later may succeed.
    #[error("{backend} backend unavailable: {message}")]
    Unavailable {
        /// `process` or `docker`.
        backend: &'static str,
        /// What could not be reached.
        message: String,
    },
    /// A replica did not become healthy.
    #[error("replica {replica} of {service} is unhealthy: {reason}")]
    Unhealthy {
        /// The service.
        service: String,
        /// The replica id.
        replica: String,
        /// The last probe's failure.
        reason: String,
    },
    /// A service update took longer than its progress deadline.
    #[error("updating {service} passed its progress deadline of {deadline}")]
    ProgressDeadline {
        /// The service.
        service: String,
        /// The deadline, as configured.
        deadline: String,
    },
    /// A smoke check failed.
    #[error("smoke check of {service} failed: {reason}")]
    Smoke {
        /// The service.
        service: String,
        /// What was expected and what came.
        reason: String,
    },
    /// A metric gate failed.
    #[error("metric gate {gate} of {service} failed: {reason}")]
    Gate {
        /// The service.
        service: String,
        /// The gate's name.
        gate: String,
        /// What the metrics showed.
        reason: String,
    },
    /// A canary's analysis failed.
    #[error("canary of {service} failed: {reason}")]
    Canary {
        /// The service.
        service: String,
        /// The failing metric, its p-value and effect.
        reason: String,
    },
    /// A hook failed.
    #[error("hook {hook} failed: {reason}")]
    Hook {
        /// `pre_deploy`, `post_deploy` or `on_rollback`.
        hook: &'static str,
        /// Exit status or spawn error, with the end of its output.
        reason: String,
    },
    /// Another deployment holds the deploy lock.
    #[error(
        "deployment {deployment_id} is in progress (lock held by pid {pid} on {host} since {since})"
    )]
    Locked {
        /// The deployment holding the lock.
        deployment_id: String,
        /// Its steward process.
        pid: u32,
        /// Its host.
        host: String,
        /// Since when.
        since: String,
    },
    /// Pre-deployment checks failed and `--force` was not given.
    #[error("pre-deployment checks failed: {0}")]
    ChecksFailed(String),
    /// The request names something that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
    /// A database migration failed.
    #[error(transparent)]
    Migrate(#[from] steward_migrate::Error),
    /// The proxy refused an operation.
    #[error(transparent)]
    Proxy(#[from] steward_proxy::Error),
    /// The deployment was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// No steward process runs this unfinished deployment any more.
    #[error(
        "deployment {id} is not running: {detail}; steward rolls it back (or resumes it, deploy.on_crash) when it starts again"
    )]
    Orphaned {
        /// The deployment.
        id: String,
        /// Which process ran it.
        detail: String,
    },
    /// A bug: something that cannot happen did (a panic in a step).
    #[error("internal error: {0}")]
    Internal(String),
    /// Reading or writing a local file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// An error of a backend.
    pub fn backend(backend: &'static str, message: impl Into<String>) -> Self {
        Error::Backend {
            backend,
            message: message.into(),
        }
    }

    /// A backend that cannot be reached right now.
    pub fn unavailable(backend: &'static str, message: impl Into<String>) -> Self {
        Error::Unavailable {
            backend,
            message: message.into(),
        }
    }

    /// An error of a local file.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl steward_core::ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Store(_) => "store_error",
            Error::Backend { .. } => "backend_error",
            Error::Unavailable { .. } => "backend_unavailable",
            Error::Unhealthy { .. } => "replica_unhealthy",
            Error::ProgressDeadline { .. } => "progress_deadline",
            Error::Smoke { .. } => "smoke_check_failed",
            Error::Gate { .. } => "metric_gate_failed",
            Error::Canary { .. } => "canary_failed",
            Error::Hook { .. } => "hook_failed",
            Error::Locked { .. } => "deployment_in_progress",
            Error::ChecksFailed(_) => "pre_checks_failed",
            Error::NotFound(_) => "not_found",
            Error::Invalid(_) => "invalid_deployment",
            Error::Migrate(err) => err.code(),
            Error::Proxy(_) => "proxy_error",
            Error::Cancelled => "cancelled",
            Error::Orphaned { .. } => "deployment_orphaned",
            Error::Internal(_) => "internal_error",
            Error::Io { .. } => "io_error",
        }
    }

    fn kind(&self) -> steward_core::ErrorKind {
        use steward_core::ErrorKind;
        match self {
            Error::Store(_) | Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Backend { .. }
            | Error::Unhealthy { .. }
            | Error::ProgressDeadline { .. }
            | Error::Smoke { .. }
            | Error::Gate { .. }
            | Error::Canary { .. }
            | Error::Hook { .. }
            | Error::Cancelled
            | Error::Orphaned { .. } => ErrorKind::Failed,
            Error::Locked { .. } => ErrorKind::Conflict,
            Error::ChecksFailed(_) | Error::Invalid(_) => ErrorKind::InvalidInput,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Migrate(err) => err.kind(),
            Error::Proxy(_) | Error::Io { .. } | Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

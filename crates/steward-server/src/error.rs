//! Errors: [`ApiError`], the one error type of every handler, which turns
//! into a JSON response without leaking internals; and [`Error`], what can
//! stop the server from starting.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use steward_core::{ErrorCode, ErrorKind};
use utoipa::ToSchema;

/// What can keep the server from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] steward_store::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The IO error.
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded.
    #[error("cannot load TLS {what} from {path}: {detail}")]
    Tls {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The admin token file could not be written.
    #[error("cannot write the admin token to {path}: {source}")]
    AdminToken {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The data directory could not be created or made private.
    #[error("cannot secure the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The server failed while serving.
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    /// The deployment machinery could not start.
    #[error(transparent)]
    Deploy(#[from] steward_deploy::Error),
    /// The metrics subsystem could not start (its store under
    /// `<data_dir>/metrics` could not be opened).
    #[error("metrics: {0}")]
    Metrics(#[from] steward_metrics::Error),
    /// The rules could not start: a rule file is invalid, or `[rules]`
    /// cannot run as configured.
    #[error("rules: {0}")]
    Rules(String),
    /// The AlertManager could not start: its Alertmanager configuration
    /// is invalid, or its state cannot be read.
    #[error("alerts: {0}")]
    Alerts(String),
    /// The IncidentManager could not start: `[incidents]` or `[oncall]`
    /// cannot run as configured, or its open incidents cannot be read.
    #[error("incidents: {0}")]
    Incidents(String),
    /// The IncidentManager refused or failed an operation.
    #[error(transparent)]
    Incident(#[from] steward_incident::Error),
    /// The log subsystem could not start (its store under
    /// `<data_dir>/logstore` could not be opened).
    #[error("logs: {0}")]
    Logs(#[from] steward_logs::Error),
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Store(err) => err.code(),
            Error::Deploy(err) => err.code(),
            Error::Metrics(_) => "metrics_unavailable",
            Error::Logs(_) => "logs_unavailable",
            Error::Rules(_) => "rules_invalid",
            Error::Alerts(_) => "alerts_invalid",
            Error::Incidents(_) => "incidents_invalid",
            Error::Incident(err) => err.code(),
            Error::Bind { .. } => "bind_failed",
            Error::Tls { .. } => "tls_invalid",
            Error::AdminToken { .. } => "admin_token_unwritable",
            Error::DataDir { .. } => "data_dir_unusable",
            Error::Serve(_) => "serve_failed",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Error::Store(err) => err.kind(),
            Error::Deploy(err) => err.kind(),
            Error::Incident(err) => err.kind(),
            Error::Tls { .. } | Error::Rules(_) | Error::Alerts(_) | Error::Incidents(_) => {
                ErrorKind::InvalidInput
            }
            Error::Bind { .. }
            | Error::AdminToken { .. }
            | Error::DataDir { .. }
            | Error::Metrics(_)
            | Error::Logs(_)
            | Error::Serve(_) => ErrorKind::Unavailable,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error answered to an API client: an HTTP status and a JSON body
/// `{"error": {"code": ..., "kind": ..., "message": ...}}`. Internal errors
/// are logged in full and answered with a generic message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    kind: &'static str,
    message: String,
    retry_after: Option<u64>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code, kind and message of an error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `unauthenticated`.
    pub code: String,
    /// The broad class of the error, which tells a client what to do about
    /// it: `invalid_input` (fix the request), `not_found`, `conflict`,
    /// `unauthenticated`, `forbidden`, `rate_limited` (retry after
    /// `Retry-After`), `unavailable` (a dependency is down; retry later),
    /// `failed` (the operation ran and failed; read the message) or
    /// `internal`. Empty from servers older than this field.
    #[serde(default)]
    pub kind: String,
    /// What went wrong, for humans.
    pub message: String,
}

/// The `kind` of an error body for an [`ErrorKind`].
pub(crate) fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "invalid_input",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Conflict => "conflict",
        ErrorKind::Unauthenticated => "unauthenticated",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::Failed => "failed",
        ErrorKind::Internal => "internal",
    }
}

/// The `kind` of an error made from a status alone (rejections of the
/// request itself, by the framework or a handler).
fn kind_of_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::CONFLICT => "conflict",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => {
            "unavailable"
        }
        status if status.is_client_error() => "invalid_input",
        _ => "internal",
    }
}

impl ApiError {
    /// An error with an explicit status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            kind: kind_of_status(status),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429: the client should slow down and retry after `seconds`.
    pub fn rate_limited(code: &'static str, message: impl Into<String>, seconds: u64) -> Self {
        ApiError {
            retry_after: Some(seconds),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: the request is well-formed but its content is invalid.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 401: no valid token.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 404: nothing here.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error's kind, as in the body (`unavailable`, ...).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The error's code, as in the body.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Maps any crate's error by its [`ErrorKind`]; internal details are
    /// logged here and replaced by a generic message.
    pub fn from_error<E: ErrorCode + std::fmt::Display>(err: &E) -> Self {
        let status = match err.kind() {
            ErrorKind::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Failed => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match err.kind() {
            ErrorKind::Internal => {
                tracing::error!(code = err.code(), error = %err, "internal error while handling a request");
                "internal error; the server log has the details".to_owned()
            }
            ErrorKind::Unavailable => {
                tracing::warn!(code = err.code(), error = %err, "dependency unavailable while handling a request");
                "a dependency of steward is unavailable; retry later".to_owned()
            }
            _ => err.to_string(),
        };
        ApiError {
            status,
            code: err.code(),
            kind: kind_name(err.kind()),
            message,
            retry_after: None,
        }
    }
}

impl From<steward_store::Error> for ApiError {
    fn from(err: steward_store::Error) -> Self {
        ApiError::from_error(&err)
    }
}

impl From<steward_migrate::Error> for ApiError {
    fn from(err: steward_migrate::Error) -> Self {
        ApiError::from_error(&err)
    }
}

impl From<steward_core::Error> for ApiError {
    fn from(err: steward_core::Error) -> Self {
        ApiError::from_error(&err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                kind: self.kind.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests;

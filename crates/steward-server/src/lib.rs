//! Steward's server: the HTTP API under `/api/v1`, health and metrics
//! endpoints, token authentication with roles, the audit trail of every
//! mutating call, and the wiring that runs it all until shutdown.
//!
//! [`router`] builds the whole application from an [`AppState`] and is
//! what tests drive with `oneshot`; [`run`] connects the store, bootstraps
//! the first admin token and serves until cancelled.

mod api;
mod auth;
mod bootstrap;
mod error;
mod extract;
mod http_metrics;
mod retention;
mod routes;
mod run;
mod state;

pub use api::{ApiDoc, openapi, router};
pub use auth::Principal;
pub use bootstrap::{ADMIN_TOKEN_FILE, ensure_admin_token, secure_data_dir};
pub use error::{ApiError, Error, ErrorBody, ErrorDetail, Result};
pub use run::{Running, StartOptions, run, start, start_with};
pub use state::AppState;

//! Steward's server: the HTTP API under `/api/v1`, health and metrics
//! endpoints, token authentication with roles, the audit trail of every
//! mutating call, and the wiring that runs it all until shutdown.
//!
//! [`router`] builds the application from an [`AppState`] (the routes of
//! the subsystems the state holds) and is what tests drive with
//! `oneshot`; [`start_with`] is the composition: it builds the store and
//! every subsystem in dependency order, serves until cancelled, and stops
//! them in reverse order.

pub mod alerts;
mod api;
pub mod api_types;
mod auth;
mod bootstrap;
mod error;
mod evaluate;
pub mod events;
mod extract;
mod http_metrics;
pub mod incidents;
pub mod logs;
pub mod reload;
mod retention;
mod routes;
pub mod rules;
mod run;
mod state;

pub use api::{ApiDoc, OTLP_METRICS_PATH, PROMETHEUS_PREFIX, openapi, router};
pub use auth::{DenialSummaries, Principal};
pub use bootstrap::{ADMIN_TOKEN_FILE, ensure_admin_token, secure_data_dir};
pub use error::{ApiError, Error, ErrorBody, ErrorDetail, Result};
pub use run::{Running, StartOptions, run, start, start_with};
pub use state::AppState;

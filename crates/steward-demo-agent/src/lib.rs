//! The steward demo agent: a small, realistic AI-agent HTTP service.
//!
//! Steward's examples, tests and benchmarks deploy this service and watch it.
//! It simulates agent tasks (LLM calls and tool calls with log-normal
//! latencies, token usage and cost), exposes health and Prometheus metrics,
//! and has "bad version" knobs (failing health, slow start, extra latency,
//! memory growth, crashes) so that deployments, alerts and rollbacks can be
//! exercised against a real process.
//!
//! The binary is a thin wrapper: it parses [`config::Args`], binds a
//! [`server::Server`] and serves [`http::router`] until a signal arrives.

pub mod config;
pub mod deps;
pub mod error;
pub mod http;
pub mod metrics;
pub mod server;
pub mod sim;

pub use config::{Args, Config};
pub use error::{Error, Result};
pub use http::{AppState, router};
pub use server::Server;

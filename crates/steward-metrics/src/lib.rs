//! steward-metrics: the MetricsCollector of steward.
//!
//! - [`labels`] and [`sample`]: the data model shared by every part (a
//!   series is a sorted label set, a sample a millisecond timestamp and a
//!   float, staleness a special NaN as in Prometheus).
//! - [`storage`]: the [`Storage`](storage::Storage) trait the scrape loop
//!   appends to and the PromQL engine reads from, with an in-memory
//!   implementation for tests and the conformance runner.
//!
//! Later modules (scraping, the exposition parsers, relabelling, the
//! embedded TSDB, the PromQL engine, the Prometheus HTTP API and the
//! OpenTelemetry receiver, [`otlp`]) build on these types only, so each
//! can be tested alone.

pub mod api;
pub mod collector;
pub mod error;
pub mod exposition;
pub mod labels;
pub mod matcher;
pub mod otlp;
pub mod promql;
pub mod relabel;
pub mod remote;
pub mod resources;
pub mod sample;
pub mod scrape;
pub mod storage;
pub mod tsdb;

pub use collector::{MetricsCollector, ReplicaTarget};
pub use error::{Error, Result};
pub use labels::{Label, Labels};
pub use matcher::{MatchOp, Matcher};
pub use sample::{STALE_NAN, Sample, is_stale_nan};

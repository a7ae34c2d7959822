//! steward-logs: the LogManager of steward.
//!
//! - [`model`]: the data every part shares: a log [`Entry`] (a nanosecond
//!   timestamp, the line, its structured metadata) and a [`PushStream`]
//!   (a label set and its entries), as Loki's push API carries them.
//! - [`source`]: the [`LogSource`] trait the LogQL engine reads through,
//!   which the embedded store implements (and [`MemorySource`] for tests).
//! - [`ingest`]: pushes decoded into streams: Loki's push API (JSON and
//!   snappy protobuf) and OpenTelemetry logs (OTLP/HTTP, protobuf and
//!   JSON), validated against [`ingest::Limits`].
//! - [`store`]: the embedded store ([`LogStore`]): a WAL fsync'd before a
//!   push is acknowledged, compressed segments per stream with bloom
//!   filters, retention, backpressure.
//! - [`collect`]: the replicas' output followed (files across rotation,
//!   Docker), lines parsed (level, trace ids) and joined (stack traces),
//!   and the [`collect::ReplicaCollector`] that stores them.
//! - [`logql`]: LogQL's parser and engine (log and metric queries).
//! - [`own`]: steward's own logs, queued by a tracing layer for the store.
//! - [`forward`]: every stored line pushed on to Loki-compatible
//!   endpoints (`[[logs.forward]]`) through a queue on disk, with
//!   batching and retries.
//! - [`api`]: Loki's HTTP API (push, query, labels, series, tail) and
//!   `POST /v1/logs`, as axum routers ([`api::LokiApi`]).
//!
//! Each part builds on the model only, so each is tested alone.

pub mod api;
pub mod collect;
pub mod error;
pub mod forward;
pub mod ingest;
pub mod logql;
pub mod metrics;
pub mod model;
pub mod own;
pub mod source;
pub mod store;

pub use error::{Error, Result};
pub use model::{Entry, PushStream};
pub use source::{Early, LogSource, MemorySource, Selection};
pub use store::{LogStore, StoreOptions, StoreStats};

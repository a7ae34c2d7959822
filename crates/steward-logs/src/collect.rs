//! Collection: replicas' log output turned into [`Entry`](crate::Entry)s.
//!
//! - [`parse`]: a line's level, trace id and span id (JSON, logfmt, or a
//!   plain-text level word), kept as structured metadata.
//! - [`multiline`]: physical lines joined into entries (panics,
//!   tracebacks, exceptions), flushed by the next entry, a wait or a size.
//! - [`follow`]: a log file followed across copytruncate and rename
//!   rotation, with positions a caller saves once lines are stored.
//! - [`pipeline`]: a replica stream's lines joined, annotated and labelled
//!   (`service`, `version`, `replica`, `stream`) into
//!   [`PushStream`](crate::PushStream)s, and [`collect_file`] that runs it
//!   over a followed file.
//! - [`docker`]: a container's stdout and stderr streamed from the Docker
//!   engine into the same pipelines.
//! - [`replicas`]: the [`ReplicaCollector`]: a task per output of every
//!   replica steward runs, entries stored, positions saved after them.

pub mod docker;
pub mod follow;
pub mod multiline;
pub mod parse;
pub mod pipeline;
pub mod replicas;

pub use pipeline::{Collected, Origin, Pipeline, StreamName, collect_file};
pub use replicas::{ReplicaCollector, ReplicaOutput, ReplicaTarget};

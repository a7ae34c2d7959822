//! steward-logs: the LogManager of steward.
//!
//! - [`model`]: the data every part shares: a log [`Entry`] (a nanosecond
//!   timestamp, the line, its structured metadata) and a [`PushStream`]
//!   (a label set and its entries), as Loki's push API carries them.
//! - [`source`]: the [`LogSource`] trait the LogQL engine reads through,
//!   which the embedded store implements (and an in-memory one for tests).
//! - [`logql`]: LogQL's parser and engine over a [`LogSource`].
//!
//! Every other part (ingest decoders, collection, storage, LogQL, the HTTP
//! API) builds on these types only, so each is tested alone.

pub mod collect;
pub mod error;
pub mod ingest;
pub mod logql;
pub mod model;
pub mod source;
pub mod store;

pub use error::{Error, Result};
pub use model::{Entry, PushStream};
pub use source::{LogSource, MemorySource, Selection};
pub use store::{LogStore, StoreOptions, StoreStats};

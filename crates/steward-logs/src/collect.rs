//! Collection: replicas' log output turned into [`Entry`](crate::Entry)s.
//!
//! - [`parse`]: a line's level, trace id and span id (JSON, logfmt, or a
//!   plain-text level word), kept as structured metadata.
//! - [`multiline`]: physical lines joined into entries (panics,
//!   tracebacks, exceptions), flushed by the next entry, a wait or a size.

pub mod multiline;
pub mod parse;

//! Collection: replicas' log output turned into [`Entry`](crate::Entry)s.
//!
//! - [`parse`]: a line's level, trace id and span id (JSON, logfmt, or a
//!   plain-text level word), kept as structured metadata.

pub mod parse;

//! Shared vocabulary of steward.
//!
//! Every other crate speaks in these types: validated names and versions,
//! severities, Prometheus-style durations, journal events, API roles,
//! secrets that never print, and the [`ErrorCode`] trait that lets the
//! server and the binary map any crate's error onto an HTTP status or an
//! exit code in one place. This crate does no IO.

mod bytesize;
mod catalogue;
mod database_url;
mod duration;
mod error;
mod event;
mod name;
mod role;
mod secret;
mod severity;
mod text_form;
mod version;

pub use bytesize::ByteSize;
pub use catalogue::check_catalogue;
pub use database_url::{DATABASE_SCHEMES, DatabaseUrl, Engine, SqliteLocation, normalize_path};
pub use duration::{HumanDuration, format_duration, parse_duration, parse_duration_saturating};
pub use error::{Error, ErrorCode, ErrorKind, Result};
pub use event::{Actor, Event, EventId, EventKind, MAX_SUMMARY_CHARS, NewEvent};
pub use name::Name;
pub use role::Role;
pub use secret::{REDACTED, Secret};
pub use severity::Severity;
pub use version::Version;

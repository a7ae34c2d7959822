//! Steward's configuration: the `steward.toml` schema and its loading.
//!
//! Loading goes through one pipeline so that every problem is reported at
//! once, each with where it comes from:
//!
//! 1. parse TOML into a tree that remembers the span of every key and value
//!    ([`node`]);
//! 2. apply `STEWARD_<SECTION>__<KEY>` environment overrides and resolve
//!    `${ENV_VAR}` references ([`env`]);
//! 3. check the tree against the JSON Schema derived from the types in
//!    [`model`], collecting unknown keys (with the nearest valid one), type
//!    errors and missing keys ([`schema`]);
//! 4. deserialize into [`Config`] and run the semantic checks that need the
//!    whole file: duplicate names and ports, unknown dependencies, cycles,
//!    placeholders, files that must exist ([`validate`]).

mod diagnostic;
mod env;
mod error;
mod load;
mod model;
mod node;
mod schema;
mod validate;

pub use diagnostic::{Diagnostic, Level, Location, Report};
pub use error::{Error, Result};
pub use load::{Environment, LoadedConfig, Source, json_schema, load, load_str};
pub use model::*;
pub use validate::{placeholder_names, render_placeholders};

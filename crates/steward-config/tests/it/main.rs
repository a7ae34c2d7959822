//! Integration tests of configuration loading: data-driven diagnostics
//! cases from `tests/cases/*.toml`, loading of real files, and property
//! tests of the loader.

mod cases;
mod files;
mod props;
mod retention;

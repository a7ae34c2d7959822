//! Integration tests of configuration loading: data-driven diagnostics
//! cases from `tests/cases/*.toml`, and loading of real files.

mod cases;
mod files;

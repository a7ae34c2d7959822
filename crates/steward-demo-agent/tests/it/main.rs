//! Integration tests: the real `steward-demo-agent` binary, started as a
//! process on an ephemeral port and driven over HTTP.

mod api;
mod lifecycle;
mod promtool;
mod support;

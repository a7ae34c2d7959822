//! Integration tests of steward-rules: the promtool test files of
//! `tests/data` through steward's runner and through promtool, and alerts
//! sent to a real Alertmanager.

mod alertmanager;
mod promtool;

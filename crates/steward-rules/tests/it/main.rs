//! Integration tests of steward-rules: the promtool test files of
//! `tests/data` through steward's runner and through promtool.

mod promtool;

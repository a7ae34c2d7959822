//! The integration tests of steward-metrics, in one binary.

mod collector;
mod promql_conformance;
mod tsdb_conformance;
mod tsdb_crash;

//! The integration tests of steward-metrics, in one binary.

mod collector;
mod otlp;
mod promql_conformance;
mod remote_prometheus;
mod tsdb_conformance;
mod tsdb_crash;

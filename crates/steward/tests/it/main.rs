//! End-to-end tests of the `steward` binary: real `steward up` processes
//! on loopback, driven by the real CLI.

mod alert_routes;
mod alerts;
mod alerts_crash;
mod canary;
mod check_config;
mod cli;
mod container;
mod deploy;
mod incidents;
mod logs;
mod metrics;
mod migrate;
mod oncall;
mod prometheus_alerts;
mod promql_test;
mod query;
mod rules;
mod signals;
mod support;

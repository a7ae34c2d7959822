//! Integration tests of steward-deploy: real demo-agent processes behind
//! real proxies, state in a real SQLite store.

mod deploy;
mod docker;
mod engine;
mod recovery;
mod steps;
mod support;

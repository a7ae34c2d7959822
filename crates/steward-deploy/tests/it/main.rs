//! Integration tests of steward-deploy: real demo-agent processes behind
//! real proxies, state in a real SQLite store (and Docker containers,
//! `docker`); `paused`: the engine on the in-memory backend and store in
//! paused time.

mod deploy;
mod docker;
mod engine;
mod paused;
mod recovery;
mod steps;
mod support;

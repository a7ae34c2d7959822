//! Integration tests of the server: the router driven with `oneshot`, and
//! real servers on loopback for streaming, TLS and shutdown.

mod audit;
mod auth;
mod deployments;
mod errors;
mod events;
mod migrations;
mod openapi;
mod serve;
mod support;
mod tokens;

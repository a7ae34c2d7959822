//! Integration tests of the server: the router driven with `oneshot`, and
//! real servers on loopback for streaming, TLS and shutdown.

mod alerts;
mod api_types;
mod audit;
mod auth;
mod authz;
mod bootstrap;
mod conformance;
mod deployments;
mod edge;
mod errors;
mod event_queries;
mod events;
mod incidents;
mod listener;
mod migrations;
mod openapi;
mod reload;
mod rules;
mod serve;
mod support;
mod tokens;

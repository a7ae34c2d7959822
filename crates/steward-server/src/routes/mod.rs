//! Handlers, one module per resource, each with the `router()` of its
//! routes that `api.rs` mounts.

pub(crate) mod databases;
pub(crate) mod deployments;
pub(crate) mod events;
pub(crate) mod frames;
pub(crate) mod health;
pub(crate) mod incidents;
pub(crate) mod reload;
pub(crate) mod status;
pub(crate) mod tokens;

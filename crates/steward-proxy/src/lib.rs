//! steward-proxy: the listener on each service's public port that forwards
//! to that service's healthy replicas, so that deployments can move
//! traffic between replicas without failing a request.
//!
//! A [`Proxy`] holds the service's upstreams (the replicas the deployment
//! manager has found healthy) and forwards HTTP (hyper) or plain TCP to
//! them, round-robin by weight or to the least busy one. Deployments add a
//! replica once it is healthy, [`Proxy::drain`] an old one (no new
//! requests; in-flight ones finish, up to a timeout) before stopping it,
//! and [`Proxy::switch`] a whole set atomically for blue-green. Idempotent
//! requests are retried once on another replica when the connection
//! fails. [`Proxy::set_split`] shares requests between groups of replicas
//! by weight (a canary and the stable version). Per-upstream requests, errors, latency and in-flight counts are
//! exported through [`ProxyMetrics`].
//!
//! The proxy is the edge ([`EdgeOptions`]): it sets the forwarding headers
//! (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`) itself unless the peer is a
//! trusted proxy (`headers.rs`), and bounds its clients with header, idle
//! and body timeouts, a connection cap and a TCP idle timeout (the
//! machinery is steward-net's, shared with the API listener).

mod error;
mod headers;
mod http;
mod metrics;
mod options;
mod proxy;
mod shared;
mod tcp;
mod upstream;

pub use error::{Error, Result};
pub use ipnet::IpNet;
pub use metrics::ProxyMetrics;
pub use options::{EdgeOptions, Protocol, ProxyOptions};
pub use proxy::Proxy;
pub use upstream::{Balance, Drained, TrafficGroup, Upstream, UpstreamState, UpstreamStatus};

//! steward-net: connection limits shared by steward's listeners (the API
//! listener of steward-server and the service proxies of steward-proxy).
//!
//! - [`Slots`] and [`Acceptor`] cap the connections served at once. A slot
//!   is taken before a connection is accepted, so at the cap new clients
//!   wait in the kernel's listen backlog instead of being accepted and
//!   closed.
//! - A [`Watchdog`] gives each connection a [`Connection`] whose
//!   [`Watched`] stream fails its reads once the client is too slow: a
//!   request head (or TLS handshake) must be complete within the header
//!   read timeout of its first byte, and a connection with no request in
//!   flight may stay silent for the idle timeout. A request is in flight
//!   from the moment it reaches the application until its response body
//!   ends ([`Busy`], [`BusyBody`]), so a slow handler or a long event
//!   stream is never cut. The watchdog sits on the raw stream, under TLS
//!   and HTTP, so it covers the handshake and both HTTP versions.
//! - [`TimedBody`] bounds the pauses inside a request body.
//! - [`Activity`] closes a joined TCP connection on which nothing moved
//!   either way for a while.
//!
//! What a listener counts or logs about these (metrics, error responses)
//! stays with the listener.

mod accept;
mod activity;
mod body;
mod connection;
mod error;
mod io;

pub use accept::{Acceptor, Slot, Slots};
pub use activity::Activity;
pub use body::TimedBody;
pub use connection::{Busy, BusyBody, Connection, FirstHead, Watchdog};
pub use error::Error;
pub use io::Watched;

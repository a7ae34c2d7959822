//! Why a limit cut a client off.

use std::time::Duration;

/// A client that was too slow. A [`Watched`](crate::Watched) stream's
/// read fails with an [`std::io::Error`] of kind `TimedOut` that carries
/// [`Error::HeaderTimeout`] or [`Error::IdleTimeout`]; a
/// [`TimedBody`](crate::TimedBody) fails with [`Error::BodyTimeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A request's head (or the TLS handshake before it) was not complete
    /// within the header read timeout.
    #[error("the client did not send a request's headers within {0:?}")]
    HeaderTimeout(Duration),
    /// No request was in flight and the client sent nothing for the idle
    /// timeout.
    #[error("the connection was idle for {0:?}")]
    IdleTimeout(Duration),
    /// The client paused inside a request body for longer than the body
    /// read timeout.
    #[error("the client sent no request body bytes for {0:?}")]
    BodyTimeout(Duration),
}

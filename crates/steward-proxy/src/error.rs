//! The proxy's error type.

/// What can go wrong when managing a proxy's upstreams.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An upstream with this id is already in the proxy.
    #[error("upstream `{id}` is already in the proxy of {service}")]
    DuplicateUpstream {
        /// The service.
        service: String,
        /// The upstream id.
        id: String,
    },
    /// No upstream has this id.
    #[error("the proxy of {service} has no upstream `{id}`")]
    UnknownUpstream {
        /// The service.
        service: String,
        /// The upstream id.
        id: String,
    },
    /// The metrics could not be registered (a name clash in the registry).
    #[error("cannot register the proxy metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The proxy's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

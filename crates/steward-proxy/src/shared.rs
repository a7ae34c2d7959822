//! What a proxy shares with its listeners (the HTTP forwarder and the TCP
//! acceptor): its options, its pool of upstreams and its metrics. Its own
//! module so that the listeners need nothing of the [`Proxy`](crate::Proxy)
//! that starts them.

use crate::{ProxyOptions, metrics::ProxyMetrics, upstream::Pool};

/// The state of one proxy, shared by the proxy and its listener.
pub(crate) struct Inner {
    pub(crate) options: ProxyOptions,
    pub(crate) pool: Pool,
    pub(crate) metrics: ProxyMetrics,
}

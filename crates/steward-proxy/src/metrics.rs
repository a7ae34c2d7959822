//! Per-upstream metrics of every proxy, in one Prometheus registry.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// The proxies' metric families, registered once and shared by every
/// [`crate::Proxy`] (labels tell services and upstreams apart).
#[derive(Clone, Debug)]
pub struct ProxyMetrics {
    pub(crate) requests: IntCounterVec,
    pub(crate) errors: IntCounterVec,
    pub(crate) duration: HistogramVec,
    pub(crate) in_flight: IntGaugeVec,
    pub(crate) retries: IntCounterVec,
}

impl ProxyMetrics {
    /// Registers the families in `registry`.
    pub fn register(registry: &Registry) -> crate::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new(
                "steward_proxy_requests_total",
                "Requests (HTTP) or connections (TCP) forwarded, by upstream and response status class",
            ),
            &["service", "upstream", "code"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "steward_proxy_upstream_errors_total",
                "Failed attempts to reach an upstream, by kind (connect, response)",
            ),
            &["service", "upstream", "kind"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "steward_proxy_request_duration_seconds",
                "Time from receiving a request to the upstream's response headers",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["service", "upstream"],
        )?;
        let in_flight = IntGaugeVec::new(
            Opts::new(
                "steward_proxy_in_flight",
                "Requests or connections in flight to an upstream",
            ),
            &["service", "upstream"],
        )?;
        let retries = IntCounterVec::new(
            Opts::new(
                "steward_proxy_retries_total",
                "Idempotent requests retried on another upstream after a connection failure",
            ),
            &["service"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(retries.clone()))?;
        Ok(ProxyMetrics {
            requests,
            errors,
            duration,
            in_flight,
            retries,
        })
    }

    /// Drops the series of an upstream that left the proxy, so that
    /// replicas that come and go do not grow the exposition forever.
    pub(crate) fn forget(&self, service: &str, upstream: &str) {
        let _ = self.in_flight.remove_label_values(&[service, upstream]);
        let _ = self.duration.remove_label_values(&[service, upstream]);
    }
}

/// The status class label of a response (`2xx`...).
pub(crate) fn code_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

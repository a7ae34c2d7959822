//! Steward's own Prometheus metrics: HTTP requests by route and status,
//! their latency, and whatever the store registers; served on `/metrics`
//! in the text exposition format 0.0.4.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::AppState;

/// The HTTP metrics and the registry that holds every steward metric.
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl HttpMetrics {
    pub(crate) fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "steward_http_requests_total",
                "HTTP requests answered, by method, route and status.",
            ),
            &["method", "route", "status"],
        )
        .expect("valid counter definition");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "steward_http_request_duration_seconds",
                "Time to answer HTTP requests, by method and route.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )
        .expect("valid histogram definition");
        let build_info = IntGauge::with_opts(
            Opts::new("steward_build_info", "Steward's version; always 1.")
                .const_label("version", env!("CARGO_PKG_VERSION")),
        )
        .expect("valid gauge definition");
        build_info.set(1);
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(build_info),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        HttpMetrics {
            registry,
            requests,
            duration,
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// Middleware recording every request. The route label is the matched
/// route template (`/api/v1/tokens/{id}`), never the raw path, so that
/// label values stay few.
pub(crate) async fn record(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let metrics = state.metrics();
    metrics
        .requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .inc();
    metrics
        .duration
        .with_label_values(&[&method, &route])
        .observe(start.elapsed().as_secs_f64());
    response
}

/// Steward's metrics in Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses((status = 200, description = "Steward's own metrics in Prometheus text format 0.0.4", body = String, content_type = "text/plain"))
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let families = state.metrics().registry.gather();
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(err) = encoder.encode(&families, &mut body) {
        tracing::error!(error = %err, "cannot encode metrics");
    }
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

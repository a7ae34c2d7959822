//! Steward's own Prometheus metrics: HTTP requests by method, route and
//! status, their latency, what the edge refused (unauthenticated and
//! rate-limited requests), open connections and event streams, and
//! whatever the store registers, then the subsystems' text sources (the
//! rule engine's, the remote write queues'); served on `/metrics` in the text
//! exposition format 0.0.4. Every label takes its values from a small
//! fixed set, so no client can create series.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::AppState;

/// Renders metrics kept outside the registry (the rule engine's, in the
/// text format).
pub(crate) type TextSource = Arc<dyn Fn() -> String + Send + Sync>;

/// The HTTP metrics and the registry that holds every steward metric.
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    registry: Registry,
    /// Subsystems' metrics rendered as text after the registry's.
    sources: Arc<parking_lot::Mutex<Vec<TextSource>>>,
    requests: IntCounterVec,
    duration: HistogramVec,
    /// Requests answered 401, by [`crate::auth::DenialReason`].
    pub(crate) unauthenticated: IntCounterVec,
    /// Requests answered 429 by the per-client rate limit.
    pub(crate) rate_limited: IntCounter,
    /// Event streams open now.
    pub(crate) streams: IntGauge,
    /// Event streams refused because their token had too many open.
    pub(crate) streams_refused: IntCounter,
    /// Connections open now on the API listener.
    pub(crate) connections: IntGauge,
    /// Connections the listener closed, by `header_timeout` or
    /// `idle_timeout`.
    pub(crate) connections_closed: IntCounterVec,
}

impl HttpMetrics {
    /// The HTTP metrics, registered in `registry` (every steward metric's,
    /// served on `/metrics`).
    pub(crate) fn new(registry: Registry) -> Self {
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
        let unauthenticated = IntCounterVec::new(
            Opts::new(
                "steward_http_unauthenticated_requests_total",
                "Requests refused for want of a valid token (401), by reason: missing_token, malformed_token, invalid_token.",
            ),
            &["reason"],
        )
        .expect("valid counter definition");
        let rate_limited = IntCounter::new(
            "steward_http_rate_limited_requests_total",
            "Requests refused (429) because their client exceeded the rate limit.",
        )
        .expect("valid counter definition");
        let streams = IntGauge::new(
            "steward_http_event_streams",
            "Event streams (server-sent events) open now.",
        )
        .expect("valid gauge definition");
        let streams_refused = IntCounter::new(
            "steward_http_event_streams_refused_total",
            "Event streams refused (429) because their token had too many open.",
        )
        .expect("valid counter definition");
        let connections = IntGauge::new(
            "steward_http_connections",
            "Connections open now on the API listener.",
        )
        .expect("valid gauge definition");
        let connections_closed = IntCounterVec::new(
            Opts::new(
                "steward_http_connections_closed_total",
                "Connections the API listener closed, by reason: header_timeout, idle_timeout.",
            ),
            &["reason"],
        )
        .expect("valid counter definition");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(build_info),
            Box::new(unauthenticated.clone()),
            Box::new(rate_limited.clone()),
            Box::new(streams.clone()),
            Box::new(streams_refused.clone()),
            Box::new(connections.clone()),
            Box::new(connections_closed.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        HttpMetrics {
            registry,
            sources: Arc::default(),
            requests,
            duration,
            unauthenticated,
            rate_limited,
            streams,
            streams_refused,
            connections,
            connections_closed,
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Adds a subsystem's metrics to what [`render`](Self::render) gives.
    pub(crate) fn add_text_source(&self, source: TextSource) {
        self.sources.lock().push(source);
    }

    /// Every steward metric in the text format 0.0.4: the registry's,
    /// then the text sources'.
    pub(crate) fn render(&self) -> String {
        let mut body = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut body) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        let mut text = String::from_utf8(body).unwrap_or_default();
        let sources = self.sources.lock().clone();
        for source in sources {
            text.push_str(&source());
        }
        text
    }
}

/// The `method` label of a request: one of the methods HTTP defines, or
/// `other` for any extension method a client makes up.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Middleware recording every request. The method label comes from a
/// fixed set ([`method_label`]) and the route label is the matched route
/// template (`/api/v1/tokens/{id}`, or `unmatched`), never the raw path,
/// so that label values stay few whatever clients send.
pub(crate) async fn record(
    State(metrics): State<HttpMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics
        .requests
        .with_label_values(&[method, &route, response.status().as_str()])
        .inc();
    metrics
        .duration
        .with_label_values(&[method, &route])
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
    let mut body = state.metrics().render();
    // the metrics subsystem adds these to its own scrapes of steward itself
    if let Some(collector) = state.metrics_collector() {
        body.push_str(&collector.remote_metrics());
    }
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

//! HTTP forwarding: each request goes to the upstream the pool picks, with
//! hop-by-hop headers removed and the forwarding headers set by the proxy
//! (`headers.rs`). An idempotent request (with a body of at most 1 MiB,
//! kept to be sent again) whose connection to the upstream fails is
//! retried once on another upstream; a connection failure means the
//! upstream never saw the request. The request counts as in flight until
//! its response body has been sent, so a drain waits for streaming
//! responses too. Client connections are capped and timed (steward-net).

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited, combinators::BoxBody};
use hyper::{
    Method, Request, Response, StatusCode, Uri,
    body::{Frame, Incoming, SizeHint},
    header::{self, HeaderValue},
    service::service_fn,
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use prometheus::IntGauge;
use steward_net::{Acceptor, BusyBody, FirstHead, TimedBody, Watchdog};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    headers::{remove_hop_by_hop, rewrite_request},
    metrics::code_class,
    shared::Inner,
    upstream::InFlight,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of forwarded requests and responses.
pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;

/// Bodies up to this size are kept so that an idempotent request can be
/// sent again.
const REPLAY_LIMIT: usize = 1 << 20;

/// How long shutting down waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

pub(crate) struct HttpForwarder {
    inner: Arc<Inner>,
    client: Client<HttpConnector, ProxyBody>,
}

impl HttpForwarder {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(inner.options.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        HttpForwarder { inner, client }
    }

    /// Accepts connections (at most `max_connections` at once) until
    /// `shutdown`, then waits (up to 30 s) for the requests in flight;
    /// idle keep-alive connections are closed.
    pub(crate) async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: CancellationToken) {
        let edge = &self.inner.options.edge;
        let mut acceptor =
            Acceptor::new(listener, edge.max_connections, &self.inner.options.service);
        let watchdog = Watchdog::new(
            edge.header_read_timeout,
            edge.idle_timeout,
            FirstHead::FromAccept,
        );
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.keep_alive(true).timer(TokioTimer::new());
        // The watchdog enforces the header and idle timeouts phase by phase;
        // hyper's header timer, which runs from the moment a connection
        // waits for a request, bounds their sum as a backstop. With either
        // off it must be off too, or it would cut the other one short.
        builder.header_read_timeout(match (edge.header_read_timeout, edge.idle_timeout) {
            (Some(header), Some(idle)) => Some(header + idle),
            _ => None,
        });
        let graceful = GracefulShutdown::new();
        while let Some((stream, peer, slot)) = acceptor.next(&shutdown).await {
            let _ = stream.set_nodelay(true);
            let connection = watchdog.connection();
            let io = TokioIo::new(connection.watch(stream));
            let this = Arc::clone(&self);
            let service = service_fn(move |request| {
                let this = Arc::clone(&this);
                let busy = connection.begin();
                async move {
                    let response = this.forward(request, peer).await;
                    Ok::<_, Infallible>(response.map(|body| BusyBody::new(body, busy).boxed()))
                }
            });
            let serving = graceful.watch(builder.serve_connection(io, service));
            tokio::spawn(async move {
                if let Err(err) = serving.await {
                    tracing::debug!(error = %err, "client connection ended with an error");
                }
                drop(slot);
            });
        }
        drop(acceptor);
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(service = %self.inner.options.service, "requests still in flight after the shutdown grace period");
        }
    }

    async fn forward(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<ProxyBody> {
        let service = self.inner.options.service.as_str();
        let started = Instant::now();
        let (mut parts, body) = request.into_parts();
        rewrite_request(
            &mut parts.headers,
            peer.ip(),
            &self.inner.options.edge.trusted_proxies,
        );
        let timed_out = Arc::new(AtomicBool::new(false));
        let body = TimedBody::new(
            body,
            self.inner.options.edge.body_read_timeout,
            Arc::clone(&timed_out),
        );
        let idempotent = matches!(
            parts.method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        );
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
        let (replay, mut stream) = if idempotent && declared.is_none_or(|len| len <= REPLAY_LIMIT) {
            match Limited::new(body, REPLAY_LIMIT).collect().await {
                Ok(collected) => (Some(collected.to_bytes()), None),
                Err(_) if timed_out.load(Ordering::SeqCst) => return body_timeout(),
                Err(err) if err.is::<LengthLimitError>() => {
                    return error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "request_too_large",
                        "the request body is over 1 MiB without a content-length",
                    );
                }
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "the request body could not be read in full",
                    );
                }
            }
        } else {
            (None, Some(body))
        };
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |path| path.as_str())
            .to_owned();
        let mut failed: Option<String> = None;
        loop {
            let Some(flight) = self.inner.pool.pick(failed.as_deref()) else {
                let message = match &failed {
                    Some(id) => format!(
                        "{service}: replica {id} did not accept the connection and no other replica is available"
                    ),
                    None => format!("{service} has no healthy replica to take the request"),
                };
                return error(StatusCode::SERVICE_UNAVAILABLE, "no_upstream", &message);
            };
            let id = flight.member.upstream.id.clone();
            let addr = flight.member.upstream.addr;
            let Ok(uri) = format!("http://{addr}{path}").parse::<Uri>() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the request target is not a valid path",
                );
            };
            let body: ProxyBody = match (&replay, stream.take()) {
                (Some(bytes), _) => Full::new(bytes.clone())
                    .map_err(|never| match never {})
                    .boxed(),
                (None, Some(incoming)) => incoming.boxed(),
                (None, None) => Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed(),
            };
            let mut upstream_request = Request::new(body);
            *upstream_request.method_mut() = parts.method.clone();
            *upstream_request.uri_mut() = uri;
            *upstream_request.headers_mut() = parts.headers.clone();
            let gauge = self
                .inner
                .metrics
                .in_flight
                .with_label_values(&[service, &id]);
            gauge.inc();
            match self.client.request(upstream_request).await {
                Ok(response) => {
                    let status = response.status();
                    self.inner
                        .metrics
                        .requests
                        .with_label_values(&[service, &id, code_class(status.as_u16())])
                        .inc();
                    self.inner
                        .metrics
                        .duration
                        .with_label_values(&[service, &id])
                        .observe(started.elapsed().as_secs_f64());
                    let (mut response_parts, incoming) = response.into_parts();
                    remove_hop_by_hop(&mut response_parts.headers);
                    let body = Tracked {
                        inner: incoming,
                        _flight: flight,
                        gauge,
                    };
                    return Response::from_parts(
                        response_parts,
                        body.map_err(BoxError::from).boxed(),
                    );
                }
                Err(_) if timed_out.load(Ordering::SeqCst) => {
                    // The client stopped sending the body; sending it to
                    // the upstream failed with it, which aborted that
                    // request. Not the upstream's fault.
                    gauge.dec();
                    self.inner
                        .metrics
                        .requests
                        .with_label_values(&[service, &id, "4xx"])
                        .inc();
                    tracing::debug!(service, upstream = %id, "request body timed out; upstream request aborted");
                    return body_timeout();
                }
                Err(err) => {
                    gauge.dec();
                    let kind = if err.is_connect() {
                        "connect"
                    } else {
                        "response"
                    };
                    self.inner
                        .metrics
                        .errors
                        .with_label_values(&[service, &id, kind])
                        .inc();
                    if err.is_connect() && replay.is_some() && failed.is_none() {
                        tracing::debug!(service, upstream = %id, error = %err, "connection failed; retrying on another replica");
                        self.inner
                            .metrics
                            .retries
                            .with_label_values(&[service])
                            .inc();
                        failed = Some(id);
                        continue;
                    }
                    self.inner
                        .metrics
                        .requests
                        .with_label_values(&[service, &id, "5xx"])
                        .inc();
                    tracing::warn!(service, upstream = %id, error = %err, "upstream request failed");
                    let message = if err.is_connect() {
                        format!("{service}: replica {id} did not accept the connection")
                    } else {
                        format!("{service}: replica {id} failed before completing its response")
                    };
                    return error(StatusCode::BAD_GATEWAY, "upstream_failed", &message);
                }
            }
        }
    }
}

/// A response body that keeps its request in flight until it ends.
struct Tracked {
    inner: Incoming,
    _flight: InFlight,
    gauge: IntGauge,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// 408 for a client that stopped sending its request body; the connection
/// is closed, since the rest of the body would be read as the next
/// request.
fn body_timeout() -> Response<ProxyBody> {
    let mut response = error(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "the client stopped sending the request body",
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A JSON error response in steward's API shape.
fn error(status: StatusCode, code: &str, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

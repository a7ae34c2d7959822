//! HTTP forwarding: each request goes to the upstream the pool picks, with
//! hop-by-hop headers removed and `X-Forwarded-*` added. An idempotent
//! request (with a body of at most 1 MiB, kept to be sent again) whose
//! connection to the upstream fails is retried once on another upstream;
//! a connection failure means the upstream never saw the request. The
//! request counts as in flight until its response body has been sent, so
//! a drain waits for streaming responses too.

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::{
    HeaderMap, Method, Request, Response, StatusCode, Uri,
    body::{Frame, Incoming, SizeHint},
    header::{self, HeaderName, HeaderValue},
    service::service_fn,
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
    server::graceful::GracefulShutdown,
};
use prometheus::IntGauge;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{metrics::code_class, proxy::Inner, upstream::InFlight};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of forwarded requests and responses.
pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;

/// Bodies up to this size are kept so that an idempotent request can be
/// sent again.
const REPLAY_LIMIT: usize = 1 << 20;

/// How long shutting down waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Headers that describe one connection, not the request (RFC 9110 7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

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

    /// Accepts connections until `shutdown`, then waits (up to 30 s) for
    /// the requests in flight; idle keep-alive connections are closed.
    pub(crate) async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: CancellationToken) {
        let graceful = GracefulShutdown::new();
        loop {
            let (stream, peer) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: the next
                        // accept may work.
                        tracing::warn!(service = %self.inner.options.service, error = %err, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let this = Arc::clone(&self);
            let service = service_fn(move |request| {
                let this = Arc::clone(&this);
                async move { Ok::<_, Infallible>(this.forward(request, peer).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "client connection ended with an error");
                }
            });
        }
        drop(listener);
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
        remove_hop_by_hop(&mut parts.headers);
        add_forwarded(&mut parts.headers, peer);
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
                Err(_) => {
                    return error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "request_too_large",
                        "the request body could not be read in full (over 1 MiB without a content-length, or the client went away)",
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
                (None, Some(incoming)) => incoming.map_err(BoxError::from).boxed(),
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

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named by `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn add_forwarded(headers: &mut HeaderMap, peer: SocketAddr) {
    let ip = peer.ip().to_string();
    let chain = match headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok())
    {
        Some(earlier) => format!("{earlier}, {ip}"),
        None => ip,
    };
    if let Ok(value) = HeaderValue::from_str(&chain) {
        headers.insert("x-forwarded-for", value);
    }
    if !headers.contains_key("x-forwarded-proto") {
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    if let Some(host) = headers.get(header::HOST).cloned() {
        headers.entry("x-forwarded-host").or_insert(host);
    }
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

#[cfg(test)]
mod tests;

//! Loki's HTTP API as an axum router, so that Loki clients push to steward
//! and Grafana uses it as a Loki data source; and OpenTelemetry's
//! `POST /v1/logs`.
//!
//! [`LokiApi::router`] has the routes under `/loki/api/v1` (push, query,
//! query_range, labels, label values, series, tail over WebSocket),
//! [`LokiApi::otlp_router`] the OTLP endpoint. Parameters and answers
//! follow Loki: success is `{"status":"success","data":...}` (the query
//! endpoints' `data` is `{"resultType":...,"result":...}`), a failure
//! `{"status":"error","errorType":...,"error":...}` with 400 for a bad
//! request, 415 for a body in a type the endpoint does not take, 429 with
//! `Retry-After` when the store is full, 503 when it cannot write. A
//! push answers 204 once its lines are durable.
//!
//! Queries read the store synchronously and may be long, so they run on
//! tokio's blocking pool; a push's write goes on in the store's writer if
//! the client goes away, so a client cannot leave half a push behind.
//! With forwarders ([`LokiApi::with_forwarders`]) a push is stored, then
//! queued for each destination, in a task of its own that a client going
//! away does not stop.

mod params;
mod tail;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use steward_metrics::{Labels, Matcher};

use crate::{
    Error, LogSource, LogStore, PushStream,
    forward::{self, Forwarder},
    ingest::{self, Limits, OtlpEncoding},
    logql::{self, Direction, Engine, RangeParams},
};
use params::{LokiParams, Params, invalid_param};

/// Where Loki's API is mounted: a Grafana data source or a client's URL
/// is steward's base URL.
pub const LOKI_PREFIX: &str = "/loki/api/v1";
/// Loki's push endpoint.
pub const LOKI_PUSH_PATH: &str = "/loki/api/v1/push";
/// Where OpenTelemetry logs are pushed (OTLP/HTTP's default path).
pub const OTLP_LOGS_PATH: &str = "/v1/logs";

/// Bytes of a line [`LokiApi::lines`] shows, at most.
pub const SHOWN_LINE_BYTES: usize = 300;
/// Loki's default `limit` of a log query.
const DEFAULT_LIMIT: u64 = 100;
/// The most entries one log query may return.
const MAX_LIMIT: u64 = 10_000;
/// How far back a range query and the label endpoints look without
/// `start` (Loki: an hour for queries, six for labels).
const DEFAULT_SINCE_NS: i64 = 3_600_000_000_000;
const LABELS_SINCE_NS: i64 = 6 * DEFAULT_SINCE_NS;

/// What the API serves from.
#[derive(Clone)]
pub struct LokiApi {
    store: LogStore,
    engine: Arc<Engine>,
    limits: Arc<Limits>,
    tail: tail::Hub,
    forwarders: Arc<[Arc<Forwarder>]>,
}

impl LokiApi {
    /// An API over `store`, with the engine's and the pushes' limits.
    pub fn new(store: LogStore, engine: Engine, limits: Limits) -> Self {
        LokiApi {
            store,
            engine: Arc::new(engine),
            limits: Arc::new(limits),
            tail: tail::Hub::default(),
            forwarders: Arc::new([]),
        }
    }

    /// The same API, every push of which is also queued for `forwarders`
    /// (`[[logs.forward]]`); their senders run apart
    /// ([`Forwarder::run`]).
    #[must_use]
    pub fn with_forwarders(mut self, forwarders: Vec<Arc<Forwarder>>) -> Self {
        self.forwarders = forwarders.into();
        self
    }

    /// The forward destinations.
    pub fn forwarders(&self) -> &[Arc<Forwarder>] {
        &self.forwarders
    }

    /// The store.
    pub fn store(&self) -> &LogStore {
        &self.store
    }

    /// Stores streams (every push goes through here: Loki's API, OTLP,
    /// collection, steward's own logs), queues them durably for each
    /// forward destination, and shows them to live tails. With forwarders
    /// the work runs in a task of its own: if the caller stops waiting it
    /// still completes, so the store and the queues never disagree.
    pub async fn push(&self, streams: Vec<PushStream>) -> crate::Result<()> {
        self.push_as(streams, None).await
    }

    /// [`push`](Self::push) of what a Loki push `body` (a snappy-compressed
    /// protobuf) decoded into; the store's WAL keeps the body.
    async fn push_as(
        &self,
        streams: Vec<PushStream>,
        loki_body: Option<Bytes>,
    ) -> crate::Result<()> {
        let shown = self.tail.wants().then(|| streams.clone());
        let lines: usize = streams.iter().map(|s| s.entries.len()).sum();
        let store_push = |store: LogStore, streams| async move {
            match loki_body {
                Some(body) => store.push_loki_protobuf(streams, body).await,
                None => store.push(streams).await,
            }
        };
        if self.forwarders.is_empty() || lines == 0 {
            store_push(self.store.clone(), streams).await?;
        } else {
            let body = forward::encode_push(&streams);
            let (store, forwarders) = (self.store.clone(), Arc::clone(&self.forwarders));
            let work = tokio::spawn(async move {
                store_push(store, streams).await?;
                tokio::task::spawn_blocking(move || forward::append_all(&forwarders, &body, lines))
                    .await
                    .unwrap_or(Err(Error::Closed))
            });
            work.await.unwrap_or(Err(Error::Closed))?;
        }
        if let Some(streams) = shown {
            self.tail.publish(streams);
        }
        Ok(())
    }

    /// The last `limit` lines a log query selects within `[start, end)`,
    /// oldest first, each rendered as `time replica stream line` (a line
    /// cut at [`SHOWN_LINE_BYTES`]): what an alert's details show.
    /// Synchronous: it reads the store.
    pub fn lines(
        &self,
        query: &str,
        start: i64,
        end: i64,
        limit: usize,
    ) -> crate::Result<Vec<String>> {
        let logql::Expr::Log(log) = logql::parse(query)? else {
            return Err(Error::InvalidQuery(format!("{query:?} is not a log query")));
        };
        let streams = self.engine.query_logs(
            &self.store,
            &log,
            &RangeParams {
                start,
                end,
                step: 1,
                limit,
                direction: Direction::Backward,
            },
        )?;
        let mut lines: Vec<(i64, String)> = streams
            .iter()
            .flat_map(|stream| {
                let source = [stream.labels.get("replica"), stream.labels.get("stream")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                stream.entries.iter().map(move |entry| {
                    let time = chrono::DateTime::from_timestamp_nanos(entry.ts)
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    let mut line = entry.line.as_str();
                    if line.len() > SHOWN_LINE_BYTES {
                        let mut cut = SHOWN_LINE_BYTES;
                        while !line.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        line = &line[..cut];
                    }
                    (entry.ts, format!("{time} {source} {line}"))
                })
            })
            .collect();
        lines.sort_by_key(|(ts, _)| *ts);
        Ok(lines.into_iter().map(|(_, line)| line).collect())
    }

    /// Loki's routes, with their full paths (`/loki/api/v1/...`).
    pub fn router(&self) -> Router {
        let body_limit = DefaultBodyLimit::max(self.limits.max_body_bytes);
        Router::new()
            .route(LOKI_PUSH_PATH, post(push).layer(body_limit))
            .route(&format!("{LOKI_PREFIX}/query"), get(query).post(query))
            .route(
                &format!("{LOKI_PREFIX}/query_range"),
                get(query_range).post(query_range),
            )
            .route(&format!("{LOKI_PREFIX}/labels"), get(labels).post(labels))
            .route(&format!("{LOKI_PREFIX}/label"), get(labels))
            .route(
                &format!("{LOKI_PREFIX}/label/{{name}}/values"),
                get(label_values),
            )
            .route(&format!("{LOKI_PREFIX}/series"), get(series).post(series))
            .route(&format!("{LOKI_PREFIX}/tail"), get(tail::tail))
            .with_state(self.clone())
    }

    /// `POST /v1/logs`.
    pub fn otlp_router(&self) -> Router {
        Router::new()
            .route(
                OTLP_LOGS_PATH,
                post(otlp_logs).layer(DefaultBodyLimit::max(self.limits.max_body_bytes)),
            )
            .with_state(self.clone())
    }
}

/// A failure, in Loki's (and Prometheus') error shape.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    error_type: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn bad_data(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error_type: "bad_data",
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let (status, error_type) = match &err {
            Error::InvalidPush(_) | Error::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "bad_data"),
            Error::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_data"),
            Error::Limit(_) => (StatusCode::UNPROCESSABLE_ENTITY, "execution"),
            Error::Backpressure { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Error::Io { .. } | Error::Corrupt { .. } | Error::Closed => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            Error::InvalidForward(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let retry_after = match &err {
            Error::Backpressure { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let message = match &err {
            // the store's paths are no business of a client's
            Error::Io { .. } | Error::Corrupt { .. } => {
                tracing::error!(error = %err, "log store failure");
                "the log store cannot serve this now".to_owned()
            }
            _ => err.to_string(),
        };
        ApiError {
            status,
            error_type,
            message,
            retry_after,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": "error",
            "errorType": self.error_type,
            "error": self.message,
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

fn success(data: &impl serde::Serialize) -> Response {
    #[derive(serde::Serialize)]
    struct Success<'a, T> {
        status: &'static str,
        data: &'a T,
    }
    Json(Success {
        status: "success",
        data,
    })
    .into_response()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

async fn push(State(api): State<LokiApi>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = header_str(&headers, header::CONTENT_TYPE);
    let content_encoding = header_str(&headers, header::CONTENT_ENCODING);
    let streams = match ingest::decode_loki_push(content_type, content_encoding, &body, &api.limits)
    {
        Ok(streams) => streams,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let plain = ingest::is_plain_loki_protobuf(content_type, content_encoding);
    match api.push_as(streams, plain.then_some(body)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

async fn otlp_logs(State(api): State<LokiApi>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = header_str(&headers, header::CONTENT_TYPE);
    let encoding = OtlpEncoding::from_content_type(content_type).unwrap_or(OtlpEncoding::Json);
    let answer = |status: StatusCode, bytes: Vec<u8>| {
        let mut response = (status, bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(encoding.content_type()),
        );
        response
    };
    let logs = match ingest::decode_otlp_logs(
        content_type,
        header_str(&headers, header::CONTENT_ENCODING),
        &body,
        &api.limits,
        now_ns(),
    ) {
        Ok(logs) => logs,
        Err(err) => {
            let status = ApiError::from(Error::InvalidPush(String::new())).status;
            let status = match err {
                Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                _ => status,
            };
            return answer(status, encoding.encode_status(&err.to_string()));
        }
    };
    match api.push(logs.streams).await {
        Ok(()) => answer(
            StatusCode::OK,
            encoding.encode_response(logs.rejected, &logs.message),
        ),
        Err(err) => {
            let error = ApiError::from(err);
            let mut response = answer(error.status, encoding.encode_status(&error.message));
            if let Some(secs) = error.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
    }
}

/// Runs `f` on the blocking pool (store reads are synchronous).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(err) => {
            tracing::error!(error = %err, "a log query stopped");
            Err(ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error_type: "internal",
                message: "the query stopped unexpectedly".to_owned(),
                retry_after: None,
            })
        }
    }
}

fn parse_query(params: &Params) -> Result<logql::Expr, ApiError> {
    let Some(text) = params.get("query") else {
        return Err(invalid_param("query", "missing"));
    };
    logql::parse(text).map_err(ApiError::from)
}

fn direction(params: &Params) -> Result<Direction, ApiError> {
    match params
        .get("direction")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("backward") => Ok(Direction::Backward),
        Some("forward") => Ok(Direction::Forward),
        Some(other) => Err(invalid_param(
            "direction",
            &format!("{other:?} is neither forward nor backward"),
        )),
    }
}

fn limit(params: &Params) -> Result<usize, ApiError> {
    let limit = params.uint("limit", DEFAULT_LIMIT)?;
    if limit > MAX_LIMIT {
        return Err(invalid_param(
            "limit",
            &format!("{limit} is above the maximum of {MAX_LIMIT}"),
        ));
    }
    Ok(limit as usize)
}

async fn query(State(api): State<LokiApi>, params: Params) -> Result<Response, ApiError> {
    let expr = parse_query(&params)?;
    let time = params.time_ns("time", now_ns())?;
    let limit = limit(&params)?;
    let direction = direction(&params)?;
    let engine = api.engine.clone();
    let store = api.store.clone();
    let result = blocking(move || match &expr {
        // An instant log query reads the hour up to `time`, as a range query
        // would.
        logql::Expr::Log(_) => engine.query_range(
            &store,
            &expr,
            &RangeParams {
                start: time.saturating_sub(DEFAULT_SINCE_NS),
                end: time.saturating_add(1),
                step: 1,
                limit,
                direction,
            },
        ),
        logql::Expr::Metric(_) => engine.query_instant(&store, &expr, time),
    })
    .await?;
    Ok(success(&result))
}

async fn query_range(State(api): State<LokiApi>, params: Params) -> Result<Response, ApiError> {
    let expr = parse_query(&params)?;
    let end = params.time_ns("end", now_ns())?;
    let since = params.duration_ns("since")?.unwrap_or(DEFAULT_SINCE_NS);
    let start = params.time_ns("start", end.saturating_sub(since))?;
    if end < start {
        return Err(invalid_param(
            "end",
            "the end of the range is before its start",
        ));
    }
    let step = match params.duration_ns("step")? {
        Some(0) => {
            return Err(invalid_param(
                "step",
                "zero or negative query resolution step widths are not accepted",
            ));
        }
        Some(step) => step,
        // Loki's default: about 250 points over the range, at least a second
        None => ((end - start) / 250 / 1_000_000_000).max(1) * 1_000_000_000,
    };
    let limit = limit(&params)?;
    let direction = direction(&params)?;
    let engine = api.engine.clone();
    let store = api.store.clone();
    let result = blocking(move || {
        engine.query_range(
            &store,
            &expr,
            &RangeParams {
                start,
                end,
                step,
                limit,
                direction,
            },
        )
    })
    .await?;
    Ok(success(&result))
}

/// The `[start, end)` of the label and series endpoints.
fn label_range(params: &Params) -> Result<(i64, i64), ApiError> {
    let end = params.time_ns("end", now_ns())?;
    let since = params.duration_ns("since")?.unwrap_or(LABELS_SINCE_NS);
    let start = params.time_ns("start", end.saturating_sub(since))?;
    Ok((start, end.saturating_add(1)))
}

/// The matchers of a selector parameter (`query`, `match[]`): a log query
/// whose only part is a stream selector.
fn selector(key: &str, text: &str) -> Result<Vec<Matcher>, ApiError> {
    let expr = logql::parse(text).map_err(|err| invalid_param(key, &err.to_string()))?;
    match expr.selectors().as_slice() {
        [one] if !expr.is_metric() => Ok(one.to_vec()),
        _ => Err(invalid_param(
            key,
            "expected a stream selector such as {service=\"api\"}",
        )),
    }
}

async fn matching_series(
    api: &LokiApi,
    selectors: Vec<Vec<Matcher>>,
    start: i64,
    end: i64,
) -> Result<Vec<Labels>, ApiError> {
    let store = api.store.clone();
    blocking(move || {
        let mut all = std::collections::BTreeSet::new();
        if selectors.is_empty() {
            all.extend(store.series(&[], start, end)?);
        }
        for matchers in &selectors {
            all.extend(store.series(matchers, start, end)?);
        }
        Ok(all.into_iter().collect())
    })
    .await
}

async fn labels(State(api): State<LokiApi>, params: Params) -> Result<Response, ApiError> {
    let (start, end) = label_range(&params)?;
    let selectors = match params.get("query") {
        Some(text) => vec![selector("query", text)?],
        None => Vec::new(),
    };
    let series = matching_series(&api, selectors, start, end).await?;
    let names: std::collections::BTreeSet<&str> = series
        .iter()
        .flat_map(|labels| labels.iter().map(|l| l.name.as_str()))
        .collect();
    Ok(success(&json!(names)))
}

async fn label_values(
    State(api): State<LokiApi>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let (start, end) = label_range(&params)?;
    let selectors = match params.get("query") {
        Some(text) => vec![selector("query", text)?],
        None => Vec::new(),
    };
    let series = matching_series(&api, selectors, start, end).await?;
    let values: std::collections::BTreeSet<&str> = series
        .iter()
        .filter_map(|labels| labels.get(&name))
        .collect();
    Ok(success(&json!(values)))
}

async fn series(State(api): State<LokiApi>, params: Params) -> Result<Response, ApiError> {
    let (start, end) = label_range(&params)?;
    let texts = params.all("match[]");
    let texts = if texts.is_empty() {
        params.all("match")
    } else {
        texts
    };
    if texts.is_empty() {
        return Err(invalid_param(
            "match[]",
            "at least one stream selector is required",
        ));
    }
    let selectors = texts
        .into_iter()
        .map(|t| selector("match[]", t))
        .collect::<Result<Vec<_>, _>>()?;
    let series = matching_series(&api, selectors, start, end).await?;
    let data: Vec<Value> = series
        .iter()
        .map(|labels| {
            Value::Object(
                labels
                    .iter()
                    .map(|l| (l.name.clone(), Value::String(l.value.clone())))
                    .collect(),
            )
        })
        .collect();
    Ok(success(&Value::Array(data)))
}

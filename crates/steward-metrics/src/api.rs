//! The Prometheus-compatible HTTP API (`/api/v1/...`) as an axum router, so
//! Grafana and other Prometheus clients can query steward's store.
//!
//! [`router`] builds routes relative to the mount point: steward nests it
//! under `/prometheus`, so a Grafana data source points at
//! `http://host:port/prometheus`. Parameters, defaults, error types, status
//! codes and messages follow Prometheus 2.42:
//!
//! - parameters come from the URL query and, for POST, from an
//!   `application/x-www-form-urlencoded` body (which wins), with repeated
//!   `match[]` kept;
//! - times are RFC 3339 or unix seconds, durations Prometheus durations or
//!   float seconds, a missing `time` is now;
//! - success is `{"status":"success","data":...}` (plus `warnings` when
//!   there are some), failure `{"status":"error","errorType":...,"error":...}`
//!   with 400 for `bad_data`, 422 for `execution`, 503 for `timeout` and
//!   `canceled`, 500 for `internal`.
//!
//! `POST /api/v1/write` and `POST /api/v1/read` are Prometheus' remote
//! write receiver and remote read endpoint ([`crate::remote::receive`]):
//! Prometheus points at `http://host:port/prometheus/api/v1/write`.
//!
//! Queries and store reads are synchronous and may be long, so they run on
//! tokio's blocking pool.

pub mod params;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;

use crate::exposition::Metadata;
use crate::promql::{Engine, EngineOptions};
use crate::remote::{self, stats::ReceiveStats};
use crate::scrape::{DroppedTarget, ScrapeManager, TargetStatus};
use crate::storage::Storage;
use crate::{Error, Labels, Matcher};
use params::{MAX_TIME_MS, MIN_TIME_MS, Params, invalid_param, is_label_name, parse_time};

/// Prometheus' limit on the points of one series a range query may return.
const MAX_POINTS: i64 = 11_000;

/// The version reported by `/api/v1/status/buildinfo`: the Prometheus
/// release whose API and PromQL dialect steward implements, so clients
/// that gate features on the version (Grafana) enable the right ones.
pub const PROMETHEUS_COMPAT_VERSION: &str = "2.42.0";

/// Where `/api/v1/metadata` finds the `# HELP` / `# TYPE` / `# UNIT` of the
/// scraped families.
pub type MetadataSource = Arc<dyn Fn() -> Vec<Metadata> + Send + Sync>;

/// What the API reads from.
#[derive(Clone)]
pub struct ApiState {
    /// The store queries and series/label lookups read.
    pub storage: Arc<dyn Storage>,
    /// The PromQL engine (its options set the default and maximum timeout).
    pub engine: Arc<Engine>,
    /// The scrape manager `/api/v1/targets` lists; without one the lists
    /// are empty.
    pub scrape: Option<Arc<ScrapeManager>>,
    /// Metric metadata for `/api/v1/metadata`; without it the endpoint
    /// answers an empty object.
    pub metadata: Option<MetadataSource>,
    /// The counters of `/api/v1/write`.
    pub remote_receive: Arc<ReceiveStats>,
}

impl ApiState {
    /// A state over `storage` and `engine`, without targets or metadata.
    pub fn new(storage: Arc<dyn Storage>, engine: Arc<Engine>) -> Self {
        Self {
            storage,
            engine,
            scrape: None,
            metadata: None,
            remote_receive: Arc::default(),
        }
    }
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("engine", &self.engine)
            .field("scrape", &self.scrape.is_some())
            .field("metadata", &self.metadata.is_some())
            .finish_non_exhaustive()
    }
}

/// The API's routes, relative to where the router is mounted.
///
/// `/api/v1/metadata` answers `{}` as data when the state has no
/// [`MetadataSource`]; `/api/v1/targets` answers empty lists without a
/// scrape manager.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/metadata", get(metadata))
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/status/tsdb", get(tsdb_status))
        .route("/api/v1/format_query", get(format_query).post(format_query))
        .route("/api/v1/write", post(remote::receive::write))
        .route("/api/v1/read", post(remote::receive::read))
        .with_state(state)
}

/// An API failure: Prometheus' `errorType` and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `bad_data`, `execution`, `timeout`, `canceled` or `internal`.
    pub error_type: &'static str,
    /// The message.
    pub message: String,
}

impl ApiError {
    fn bad_data(message: impl Into<String>) -> Self {
        Self {
            error_type: "bad_data",
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        Self {
            error_type: "internal",
            message: message.into(),
        }
    }

    /// The HTTP status Prometheus answers this error with.
    pub fn status(&self) -> StatusCode {
        match self.error_type {
            "bad_data" => StatusCode::BAD_REQUEST,
            "execution" => StatusCode::UNPROCESSABLE_ENTITY,
            "timeout" | "canceled" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self {
            error_type: e.prometheus_error_type(),
            message: e.to_string(),
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
        (self.status(), Json(body)).into_response()
    }
}

#[derive(Serialize)]
struct Success<T> {
    status: &'static str,
    data: T,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

fn success<T: Serialize>(data: T, warnings: Vec<String>) -> Response {
    Json(Success {
        status: "success",
        data,
        warnings,
    })
    .into_response()
}

type ApiResult = Result<Response, ApiError>;

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> Result<crate::Result<T>, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))
}

/// Errors of the engine: what it refuses before evaluating is a bad
/// `query` parameter, as Prometheus reports it.
fn query_error(e: Error) -> ApiError {
    let e = ApiError::from(e);
    if e.error_type == "bad_data" {
        invalid_param("query", &e.message)
    } else {
        e
    }
}

fn now_ms() -> i64 {
    match SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// The state's engine, with its timeout shortened to the request's
/// `timeout` parameter if that is shorter.
fn engine_for(state: &ApiState, timeout: Option<Duration>) -> Arc<Engine> {
    match timeout {
        Some(t) if t < state.engine.options().timeout => Arc::new(Engine::new(EngineOptions {
            timeout: t,
            ..state.engine.options().clone()
        })),
        _ => Arc::clone(&state.engine),
    }
}

async fn query(State(state): State<ApiState>, params: Params) -> ApiResult {
    let time = params.time("time", now_ms())?;
    let engine = engine_for(&state, params.duration("timeout")?);
    let q = params.get("query").unwrap_or_default().to_owned();
    let storage = Arc::clone(&state.storage);
    let res = blocking(move || engine.instant_query(storage.as_ref(), &q, time))
        .await?
        .map_err(query_error)?;
    Ok(success(res.value, res.warnings))
}

async fn query_range(State(state): State<ApiState>, params: Params) -> ApiResult {
    let time = |key: &str| {
        parse_time(params.get(key).unwrap_or_default()).map_err(|e| invalid_param(key, &e))
    };
    let start = time("start")?;
    let end = time("end")?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start time",
        ));
    }
    let step = crate::promql::parse_duration(params.get("step").unwrap_or_default())
        .map_err(|e| invalid_param("step", &e.to_string()))?;
    let step = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
    if step <= 0 {
        return Err(ApiError::bad_data(
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if end.saturating_sub(start) / step > MAX_POINTS {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let engine = engine_for(&state, params.duration("timeout")?);
    let q = params.get("query").unwrap_or_default().to_owned();
    let storage = Arc::clone(&state.storage);
    let res = blocking(move || engine.range_query(storage.as_ref(), &q, start, end, step))
        .await?
        .map_err(query_error)?;
    Ok(success(res.value, res.warnings))
}

async fn series(State(state): State<ApiState>, params: Params) -> ApiResult {
    if params.all("match[]").is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = params.time("start", MIN_TIME_MS)?;
    let end = params.time("end", MAX_TIME_MS)?;
    let sets = params.matchers()?;
    let storage = Arc::clone(&state.storage);
    let found = blocking(move || {
        let mut found = BTreeSet::<Labels>::new();
        for m in &sets {
            found.extend(storage.select(m, start, end)?.into_iter().map(|s| s.labels));
        }
        Ok(found)
    })
    .await??;
    Ok(success(found, Vec::new()))
}

/// The union of `read` over every matcher set, or `read(&[])` without any.
async fn label_union(
    state: &ApiState,
    sets: Vec<Vec<Matcher>>,
    read: impl Fn(&dyn Storage, &[Matcher]) -> crate::Result<Vec<String>> + Send + 'static,
) -> Result<Vec<String>, ApiError> {
    let storage = Arc::clone(&state.storage);
    Ok(blocking(move || {
        if sets.is_empty() {
            return read(storage.as_ref(), &[]);
        }
        let mut all = BTreeSet::new();
        for m in &sets {
            all.extend(read(storage.as_ref(), m)?);
        }
        Ok(all.into_iter().collect())
    })
    .await??)
}

async fn labels(State(state): State<ApiState>, params: Params) -> ApiResult {
    let start = params.time("start", MIN_TIME_MS)?;
    let end = params.time("end", MAX_TIME_MS)?;
    let sets = params.matchers()?;
    let names = label_union(&state, sets, move |s, m| s.label_names(m, start, end)).await?;
    Ok(success(names, Vec::new()))
}

async fn label_values(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    params: Params,
) -> ApiResult {
    if !is_label_name(&name) {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let start = params.time("start", MIN_TIME_MS)?;
    let end = params.time("end", MAX_TIME_MS)?;
    let sets = params.matchers()?;
    let values = label_union(&state, sets, move |s, m| {
        s.label_values(&name, m, start, end)
    })
    .await?;
    Ok(success(values, Vec::new()))
}

#[derive(Serialize, PartialEq)]
struct MetadataEntry {
    #[serde(rename = "type")]
    kind: &'static str,
    help: String,
    unit: String,
}

async fn metadata(State(state): State<ApiState>, params: Params) -> ApiResult {
    let limit = match params.get("limit") {
        None => None,
        Some(s) => {
            let n: i64 = s
                .parse()
                .map_err(|_| ApiError::bad_data("limit must be a number"))?;
            usize::try_from(n).ok()
        }
    };
    let metric = params.get("metric");
    let mut out: BTreeMap<String, Vec<MetadataEntry>> = BTreeMap::new();
    let all = state.metadata.as_ref().map(|f| f()).unwrap_or_default();
    for m in all {
        if metric.is_some_and(|name| name != m.family) {
            continue;
        }
        let entry = MetadataEntry {
            kind: m.kind.map_or("unknown", |k| k.as_str()),
            help: m.help.unwrap_or_default(),
            unit: m.unit.unwrap_or_default(),
        };
        let known = out.contains_key(&m.family);
        if !known && limit.is_some_and(|l| out.len() >= l) {
            continue;
        }
        let entries = out.entry(m.family).or_default();
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    Ok(success(out, Vec::new()))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetDiscovery {
    active_targets: Vec<TargetStatus>,
    dropped_targets: Vec<DroppedTarget>,
}

async fn targets(State(state): State<ApiState>, params: Params) -> ApiResult {
    let filter = params.get("state").unwrap_or("any").to_ascii_lowercase();
    let (active, dropped) = state
        .scrape
        .as_ref()
        .map(|s| s.targets())
        .unwrap_or_default();
    let show_active = filter == "any" || filter == "active";
    let show_dropped = filter == "any" || filter == "dropped";
    Ok(success(
        TargetDiscovery {
            active_targets: if show_active { active } else { Vec::new() },
            dropped_targets: if show_dropped { dropped } else { Vec::new() },
        },
        Vec::new(),
    ))
}

async fn buildinfo() -> Response {
    success(
        json!({
            "version": PROMETHEUS_COMPAT_VERSION,
            "revision": concat!("steward-", env!("CARGO_PKG_VERSION")),
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        }),
        Vec::new(),
    )
}

async fn tsdb_status(State(state): State<ApiState>, params: Params) -> ApiResult {
    let limit = match params.get("limit") {
        None => 10,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::bad_data("limit must be a positive number"))?,
    };
    let storage = Arc::clone(&state.storage);
    let stats = blocking(move || storage.stats(limit)).await??;
    Ok(success(stats, Vec::new()))
}

async fn format_query(params: Params) -> ApiResult {
    let q = params.get("query").unwrap_or_default();
    let pretty = crate::promql::format_query(q).map_err(query_error)?;
    Ok(success(pretty, Vec::new()))
}

#[cfg(test)]
mod tests;

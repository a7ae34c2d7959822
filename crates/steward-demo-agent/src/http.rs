//! The agent's HTTP API: tasks, health, metrics, and JSON errors for
//! everything else.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::config::Config;
use crate::error::Result;
use crate::metrics::{self, Metrics};
use crate::sim::{self, StepReport, Totals};

/// Longest prompt accepted, in characters; the simulation ignores the text,
/// but an unbounded field invites accidental multi-megabyte requests.
pub const MAX_PROMPT_CHARS: usize = 100_000;

/// Largest `max_steps` accepted.
pub const MAX_STEPS_LIMIT: u64 = 1000;

/// Shared state of the HTTP handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    metrics: Metrics,
    rng: Mutex<StdRng>,
    started: Instant,
    ready_at: Instant,
    // Memory kept on purpose by the memory-growth knob; never read.
    retained: Mutex<Vec<Box<[u8]>>>,
    dependencies: crate::deps::Dependencies,
}

impl AppState {
    /// Creates the state; the startup delay starts counting now.
    pub fn new(config: Config) -> Result<Self> {
        let metrics = Metrics::new(&config.version)?;
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let started = Instant::now();
        let ready_at = started + config.startup_delay;
        let dependencies =
            crate::deps::Dependencies::new(config.upstream.as_deref(), config.database.as_deref())?;
        let state = Self(Arc::new(Inner {
            config,
            metrics,
            rng: Mutex::new(rng),
            started,
            ready_at,
            retained: Mutex::new(Vec::new()),
            dependencies,
        }));
        state.metrics().set_ready(state.is_healthy());
        Ok(state)
    }

    /// The configuration the agent runs with.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The agent's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// When the agent becomes ready to run tasks.
    pub fn ready_at(&self) -> Instant {
        self.0.ready_at
    }

    /// Whether the startup delay has passed, so tasks are accepted.
    pub fn is_started(&self) -> bool {
        Instant::now() >= self.0.ready_at
    }

    /// Whether health checks pass: started and not configured to fail.
    pub fn is_healthy(&self) -> bool {
        self.is_started() && !self.0.config.fail_health
    }

    /// Bytes currently kept by the memory-growth knob.
    pub fn retained_bytes(&self) -> u64 {
        let retained = self
            .0
            .retained
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        retained.iter().map(|b| b.len() as u64).sum()
    }

    fn grow_memory(&self) {
        let bytes = self.0.config.memory_growth_bytes;
        if bytes == 0 {
            return;
        }
        let Ok(len) = usize::try_from(bytes) else {
            return;
        };
        // A non-zero fill writes every page; zeroed memory would come from
        // calloc and stay virtual, leaving resident memory unchanged.
        let block = vec![0xA5u8; len].into_boxed_slice();
        let total = {
            let mut retained = self
                .0
                .retained
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            retained.push(block);
            retained.iter().map(|b| b.len() as u64).sum()
        };
        self.metrics().set_retained_memory(total);
    }
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("version", &self.0.config.version)
            .field("started", &self.is_started())
            .field("healthy", &self.is_healthy())
            .finish_non_exhaustive()
    }
}

/// Builds the agent's router.
///
/// Routes: `POST /v1/tasks`, `GET /healthz`, `GET /metrics`; anything else
/// answers a JSON 404 (or 405 for a known path with the wrong method).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/tasks", post(create_task))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_handler))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), track_http))
        .with_state(state)
}

/// The body of every error response: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBody {
    /// A stable, machine-readable code such as `invalid_field`.
    pub code: &'static str,
    /// A human-readable explanation.
    pub message: String,
    /// The request field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                field: None,
            },
        }
    }

    fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: ErrorBody {
                code: "invalid_field",
                message: message.into(),
                field: Some(field),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Envelope {
            error: ErrorBody,
        }
        (self.status, Json(Envelope { error: self.body })).into_response()
    }
}

/// A validated `POST /v1/tasks` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRequest {
    /// The task's prompt; the simulation does not read it.
    pub prompt: String,
    /// The model to use; the first configured model when absent.
    pub model: Option<String>,
    /// Upper bound on the number of steps.
    pub max_steps: Option<u32>,
}

/// Parses and validates a task request body.
///
/// Malformed JSON is a 400; a well-formed body with a missing, mistyped,
/// out-of-range or unknown field is a 422 that names the field. The body is
/// read as JSON whatever its content type, which keeps `curl -d` usable.
pub fn parse_task_request(body: &[u8]) -> Result<TaskRequest, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("request body is not valid json: {e}"),
        )
    })?;
    let Value::Object(mut object) = value else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "request body must be a json object",
        ));
    };
    let prompt = match object.remove("prompt") {
        None | Some(Value::Null) => {
            return Err(ApiError::field("prompt", "field `prompt` is required"));
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(ApiError::field(
                "prompt",
                "field `prompt` must not be empty",
            ));
        }
        Some(Value::String(s)) if s.chars().count() > MAX_PROMPT_CHARS => {
            return Err(ApiError::field(
                "prompt",
                format!("field `prompt` must be at most {MAX_PROMPT_CHARS} characters"),
            ));
        }
        Some(Value::String(s)) => s,
        Some(_) => return Err(ApiError::field("prompt", "field `prompt` must be a string")),
    };
    let model = match object.remove("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(ApiError::field("model", "field `model` must be a string")),
    };
    let max_steps = match object.remove("max_steps") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_STEPS_LIMIT).contains(&n) => u32::try_from(n).ok(),
            _ => {
                return Err(ApiError::field(
                    "max_steps",
                    format!("field `max_steps` must be an integer between 1 and {MAX_STEPS_LIMIT}"),
                ));
            }
        },
    };
    reject_unknown_fields(&object)?;
    Ok(TaskRequest {
        prompt,
        model,
        max_steps,
    })
}

fn reject_unknown_fields(rest: &Map<String, Value>) -> Result<(), ApiError> {
    // Strict on purpose: a typo such as `max_step` would otherwise be
    // silently ignored and the task would run unbounded.
    match rest.keys().next() {
        None => Ok(()),
        Some(name) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
            format!("unknown field `{name}`, expected one of `prompt`, `model`, `max_steps`"),
        )),
    }
}

#[derive(Serialize)]
struct TaskResponse<'a> {
    task_id: &'a str,
    version: &'a str,
    model: &'a str,
    outcome: &'static str,
    truncated: bool,
    steps: &'a [StepReport],
    totals: &'a Totals,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody>,
}

/// Counts a task as cancelled if its handler is dropped before it finishes,
/// which is what axum does when the client disconnects.
struct CancelGuard<'a> {
    metrics: &'a Metrics,
    finished: bool,
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.metrics.task_cancelled();
        }
    }
}

async fn create_task(State(state): State<AppState>, body: Bytes) -> Response {
    let metrics = state.metrics();
    if !state.is_started() {
        metrics.task_rejected("not_ready");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the agent is starting and does not accept tasks yet",
        )
        .into_response();
    }
    let request = match parse_task_request(&body) {
        Ok(r) => r,
        Err(e) => {
            metrics.task_rejected("invalid_request");
            return e.into_response();
        }
    };
    let sim = &state.config().sim;
    let model = match &request.model {
        None => sim.default_model().clone(),
        Some(name) => match sim.model(name) {
            Some(m) => m.clone(),
            None => {
                metrics.task_rejected("invalid_request");
                let known: Vec<&str> = sim.models.iter().map(|m| m.name.as_str()).collect();
                return ApiError::field(
                    "model",
                    format!("field `model`: unknown model {name:?}, expected one of {known:?}"),
                )
                .into_response();
            }
        },
    };
    let plan = {
        let mut rng = state.0.rng.lock().unwrap_or_else(PoisonError::into_inner);
        sim::plan_task(sim, &mut *rng, model, request.max_steps)
    };

    let _in_flight = metrics.task_in_flight();
    let mut cancel = CancelGuard {
        metrics,
        finished: false,
    };
    if let Err(why) = state.0.dependencies.call_upstream(&body).await {
        cancel.finished = true;
        metrics.task_finished("error", Some("upstream_failed"), 0.0);
        tracing::warn!(reason = "upstream_failed", error = %why, "task failed");
        return ApiError::new(StatusCode::BAD_GATEWAY, "upstream_failed", why).into_response();
    }
    let report = sim::execute(plan, metrics).await;
    let recorded = state
        .0
        .dependencies
        .record(&report.id, &report.model, report.failure.is_none())
        .await;
    cancel.finished = true;
    let seconds = report.totals.duration_ms / 1000.0;
    state.grow_memory();
    if let Err(why) = recorded {
        metrics.task_finished("error", Some("database_failed"), seconds);
        tracing::warn!(task_id = %report.id, reason = "database_failed", error = %why, "task failed");
        return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "database_failed", why)
            .into_response();
    }

    let (status, outcome, error) = match report.failure {
        None => {
            metrics.task_finished("success", None, seconds);
            tracing::debug!(
                task_id = %report.id,
                model = %report.model,
                steps = report.steps.len(),
                tokens = report.totals.tokens,
                duration_ms = report.totals.duration_ms,
                "task finished"
            );
            (StatusCode::OK, "success", None)
        }
        Some(reason) => {
            metrics.task_finished("error", Some(reason.code()), seconds);
            let step = report.steps.last();
            let message = match step {
                Some(s) => format!("{} call {} failed: {}", kind_name(s), s.name, reason.code()),
                None => format!("task failed: {}", reason.code()),
            };
            tracing::warn!(
                task_id = %report.id,
                reason = reason.code(),
                duration_ms = report.totals.duration_ms,
                "task failed"
            );
            let status =
                StatusCode::from_u16(reason.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let error = ErrorBody {
                code: reason.code(),
                message,
                field: None,
            };
            (status, "error", Some(error))
        }
    };
    let body = TaskResponse {
        task_id: &report.id,
        version: &state.config().version,
        model: &report.model,
        outcome,
        truncated: report.truncated,
        steps: &report.steps,
        totals: &report.totals,
        error,
    };
    (status, Json(body)).into_response()
}

fn kind_name(step: &StepReport) -> &'static str {
    match step.kind {
        sim::StepKind::Llm => "llm",
        sim::StepKind::Tool => "tool",
    }
}

/// The `GET /healthz` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// `ok`, `starting` or `failing`.
    pub status: &'static str,
    /// The reported agent version.
    pub version: String,
    /// Whether the agent passes health checks.
    pub ready: bool,
    /// Seconds since the agent started.
    pub uptime_seconds: f64,
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let status = if state.config().fail_health {
        "failing"
    } else if !state.is_started() {
        "starting"
    } else {
        "ok"
    };
    let ready = state.is_healthy();
    let health = Health {
        status,
        version: state.config().version.clone(),
        ready,
        uptime_seconds: state.0.started.elapsed().as_secs_f64(),
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(health))
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    state.metrics().set_ready(state.is_healthy());
    match state.metrics().render() {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render metrics");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "metrics_failed",
                format!("cannot render metrics: {e}"),
            )
            .into_response()
        }
    }
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("method {method} is not allowed on {}", uri.path()),
    )
}

async fn track_http(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Unmatched paths share one label so that scanners probing random URLs
    // cannot blow up the number of series.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = match *request.method() {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::DELETE
        | Method::PATCH
        | Method::HEAD
        | Method::OPTIONS => request.method().as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let _in_flight = state.metrics().http_in_flight();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics().observe_http(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests;

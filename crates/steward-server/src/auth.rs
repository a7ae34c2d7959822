//! Token authentication, role checks, the audit trail, and the limits of
//! what one client may use.
//!
//! Every route under `/api/v1` passes through [`authenticate`], so a new
//! endpoint is protected without doing anything; handlers then state the
//! role they need by taking a [`Viewer`], [`Operator`] or [`Admin`]
//! argument (first among their arguments, so that the role is checked
//! before the request is read). The same middleware journals every
//! mutating call of a token with its actor and outcome, refused ones
//! included: that is the audit log. Requests without a valid token are not
//! journaled one by one (anyone can send them): they are counted and
//! summarised ([`denied`]). Before any of this, [`limit_rate`] holds each
//! client address to a token bucket ([`limits`]), and an event stream
//! counts against its token's maximum of open streams.

mod denied;
mod limits;

use std::{
    borrow::Cow,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    body::Body,
    extract::{ConnectInfo, FromRequestParts, MatchedPath, OriginalUri, Request, State},
    http::{Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use serde::Serialize;
use serde_json::json;
use steward_config::ServerConfig;
use steward_core::{Actor, Name, NewEvent, Role, Severity};
use steward_store::{Store, TokenInfo};
use tokio::time::Instant;
use utoipa::ToSchema;

pub(crate) use denied::DenialReason;
pub use denied::DenialSummaries;
use limits::{MAX_CLIENTS, RateLimiter, StreamSlots, client_key};

use crate::{ApiError, http_metrics::HttpMetrics};

/// Longest string from a request (path, request id, user agent, route)
/// that goes into the journal; longer ones are cut.
pub(crate) const JOURNAL_STRING_MAX: usize = 256;

/// `text` cut to at most `max` bytes on a character boundary, with a
/// marker saying how long it was.
pub(crate) fn cap(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…[truncated, {} bytes]", &text[..cut], text.len())
}

/// The edge's state: the rate limiter, the open streams per token and the
/// refusals to summarise. One per application.
pub(crate) struct Edge {
    limiter: Option<RateLimiter>,
    streams: StreamSlots,
    denied: denied::DeniedLog,
    metrics: HttpMetrics,
}

impl Edge {
    /// The edge configured by `[server]`.
    pub(crate) fn new(config: &ServerConfig, metrics: HttpMetrics) -> Self {
        for reason in DenialReason::ALL {
            metrics.unauthenticated.with_label_values(&[reason.label()]);
        }
        Edge {
            limiter: (config.rate_limit_per_second > 0).then(|| {
                RateLimiter::new(
                    config.rate_limit_per_second,
                    config.rate_limit_burst,
                    MAX_CLIENTS,
                )
            }),
            streams: StreamSlots::new(
                config.max_streams_per_token as usize,
                metrics.streams.clone(),
            ),
            denied: denied::DeniedLog::new(),
            metrics,
        }
    }

    /// Counts a request refused for want of a valid token.
    fn deny(&self, reason: DenialReason, route: &str, client: Option<IpAddr>) -> Response {
        self.metrics
            .unauthenticated
            .with_label_values(&[reason.label()])
            .inc();
        self.denied.record(reason, route, client);
        ApiError::unauthenticated(reason.message()).into_response()
    }

    /// Lets an event stream of `principal` go out while it holds a slot,
    /// or answers 429 when the token holds the most allowed. Any other
    /// response goes out as it is.
    fn hold_stream(&self, response: Response, principal: &Principal) -> Response {
        let is_stream = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if !is_stream {
            return response;
        }
        let Some(slot) = self.streams.acquire(&principal.token_id) else {
            self.metrics.streams_refused.inc();
            // Dropping the refused stream's body ends its producer.
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                format!(
                    "token `{}` already has {} event streams open, the most allowed (server.max_streams_per_token); close one first",
                    principal.name,
                    self.streams.max()
                ),
            )
            .into_response();
        };
        response.map(|body| {
            Body::from_stream(body.into_data_stream().map(move |chunk| {
                slot.keep();
                chunk
            }))
        })
    }
}

/// The address a request came from, when the listener recorded it.
fn client_addr(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// Answers 429 (with `Retry-After`) to a client over its rate; runs
/// before authentication, so that floods of bad tokens are limited too.
/// Requests of unknown origin (a router driven without a listener) are
/// not limited.
pub(crate) async fn limit_rate(
    State(edge): State<Arc<Edge>>,
    request: Request,
    next: Next,
) -> Response {
    if let (Some(limiter), Some(addr)) = (&edge.limiter, client_addr(&request))
        && let Err(wait) = limiter.check(client_key(addr), Instant::now())
    {
        edge.metrics.rate_limited.inc();
        let seconds = (wait.as_secs_f64().ceil() as u64).max(1);
        tracing::debug!(client = %addr, retry_after = seconds, "rate limited a request");
        return ApiError::rate_limited(
            "rate_limited",
            format!("too many requests from {addr}; retry in {seconds} s"),
            seconds,
        )
        .into_response();
    }
    next.run(request).await
}

/// Who is calling: the token that authenticated the request.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Principal {
    /// The token's public id.
    pub token_id: String,
    /// The token's name.
    pub name: Name,
    /// The token's role.
    pub role: Role,
    /// How the caller appears in the journal (`token:<name>`).
    #[schema(value_type = String)]
    pub actor: Actor,
}

impl From<TokenInfo> for Principal {
    fn from(info: TokenInfo) -> Self {
        Principal {
            actor: Actor::token(&info.name),
            token_id: info.id,
            name: info.name,
            role: info.role,
        }
    }
}

/// The bearer token of a request: `Ok(None)` without an `Authorization`
/// header, `Err` when the header is not `Bearer <token>`.
fn bearer(request: &Request) -> Result<Option<Cow<'_, str>>, DenialReason> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| DenialReason::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(DenialReason::Malformed)?;
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        return basic_password(token).map(Some);
    }
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(DenialReason::Malformed);
    }
    Ok(Some(Cow::Borrowed(token)))
}

/// The password of HTTP basic credentials, which steward takes as a
/// token (the user name is not read): what Loki clients and Grafana's
/// data sources send when configured with basic auth.
fn basic_password(credentials: &str) -> Result<Cow<'static, str>, DenialReason> {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .map_err(|_| DenialReason::Malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| DenialReason::Malformed)?;
    match decoded.split_once(':') {
        Some((_, password)) if !password.is_empty() => Ok(Cow::Owned(password.to_owned())),
        _ => Err(DenialReason::Malformed),
    }
}

/// A request header as journaled: text, capped.
fn header_text(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|value| cap(value, JOURNAL_STRING_MAX))
}

/// The refusal of a request below the operator role (`None`: it may go
/// on); `doing` completes "... needs the operator role".
fn refuse_below_operator(request: &Request, doing: &str) -> Option<Response> {
    let Some(principal) = request.extensions().get::<Principal>() else {
        return Some(
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                format!("a token is needed for {doing}"),
            )
            .into_response(),
        );
    };
    (!principal.role.allows(Role::Operator)).then(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{doing} needs the operator role; token `{}` has the {} role",
                principal.name, principal.role
            ),
        )
        .into_response()
    })
}

/// Refuses, below the operator role, a request that changes something
/// (any method but GET and HEAD): the AlertManager's routes, where
/// reading alerts and silences is a viewer's and posting alerts, setting
/// or expiring silences, sending events and reloading the configuration
/// an operator's.
pub(crate) async fn require_operator_to_change(request: Request, next: Next) -> Response {
    if request.method() != Method::GET
        && request.method() != Method::HEAD
        && let Some(refusal) =
            refuse_below_operator(&request, "changing alerts, silences or the configuration")
    {
        return refusal;
    }
    next.run(request).await
}

/// Refuses pushed samples (remote write, OTLP) from a caller below the
/// operator role: they change what the store holds. Runs inside
/// [`authenticate`], which put the [`Principal`] there.
pub(crate) async fn require_operator_to_push(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let pushes = request.method() == Method::POST
        && (path.ends_with("/api/v1/write")
            || path.ends_with(crate::api::OTLP_METRICS_PATH)
            || path == steward_logs::api::LOKI_PUSH_PATH
            || path == steward_logs::api::OTLP_LOGS_PATH);
    if pushes && let Some(refusal) = refuse_below_operator(&request, "pushing samples or logs") {
        return refusal;
    }
    next.run(request).await
}

/// Authenticates the request (401 without a valid token, counted but not
/// journaled), makes the [`Principal`] available to handlers, holds event
/// streams to their token's maximum, and journals mutating calls.
pub(crate) async fn authenticate(
    State((store, edge)): State<(Store, Arc<Edge>)>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |matched| matched.as_str())
        .to_owned();
    let secret = match bearer(&request) {
        Ok(Some(secret)) => secret,
        Ok(None) => return edge.deny(DenialReason::Missing, &route, client_addr(&request)),
        Err(reason) => return edge.deny(reason, &route, client_addr(&request)),
    };
    let principal = match store.authenticate(&secret).await {
        Ok(Some(info)) => Principal::from(info),
        Ok(None) => return edge.deny(DenialReason::Invalid, &route, client_addr(&request)),
        Err(err) => return ApiError::from(err).into_response(),
    };
    let method = request.method().clone();
    // A router nested under a prefix (the AlertManager's `/alertmanager`)
    // sees its request's path without it: the path as the client sent it
    // is both what is journaled and what decides whether to journal.
    let path = match request.extensions().get::<OriginalUri>() {
        Some(OriginalUri(uri)) => cap(uri.path(), JOURNAL_STRING_MAX),
        None => cap(request.uri().path(), JOURNAL_STRING_MAX),
    };
    let request_id = header_text(&request, "x-request-id");
    let user_agent = header_text(&request, header::USER_AGENT.as_str());
    request.extensions_mut().insert(principal.clone());
    let response = edge.hold_stream(next.run(request).await, &principal);
    // Prometheus' API takes queries as POST forms (Grafana sends every
    // panel's query so): they read, so they are not journaled as changes.
    // Pushed samples (remote write, OTLP) arrive every few seconds: they
    // are data, not changes to the operated system, and would bury the
    // journal. So would pushed alerts (Prometheus re-sends every firing
    // alert each minute): the AlertManager journals what they change
    // (alerts starting and stopping), silences are journaled here.
    // A push refused to the token (403) is still journaled: it is about
    // who may do what, not data.
    let status = response.status();
    let reads = path.starts_with(crate::api::PROMETHEUS_PREFIX)
        || path == crate::api::OTLP_METRICS_PATH
        || path.starts_with(steward_logs::api::LOKI_PREFIX)
        || path == steward_logs::api::OTLP_LOGS_PATH
        || (crate::alerts::is_alert_push(&path) && status != StatusCode::FORBIDDEN);
    if !reads && !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let severity = match status {
            s if s.is_server_error() => Severity::Error,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Severity::Warning,
            _ => Severity::Info,
        };
        let method = cap(method.as_str(), JOURNAL_STRING_MAX);
        let event = NewEvent::new(
            crate::events::AuditEvent::Request.kind(),
            principal.actor,
            format!("{method} {path} -> {}", status.as_u16()),
        )
        .severity(severity)
        .payload(json!({
            "method": method,
            "path": path,
            "route": cap(&route, JOURNAL_STRING_MAX),
            "status": status.as_u16(),
            "request_id": request_id,
            "user_agent": user_agent,
        }));
        if let Err(err) = store.append(event).await {
            tracing::error!(error = %err, %method, %path, "cannot journal an API call");
        }
    }
    response
}

/// Declares an extractor that yields the [`Principal`] when its role
/// allows `$role`, and answers 403 otherwise.
macro_rules! role_extractor {
    ($(#[$meta:meta])* $name:ident, $role:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub(crate) struct $name(pub(crate) Principal);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
                let principal = parts
                    .extensions
                    .get::<Principal>()
                    .cloned()
                    .ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?;
                if !principal.role.allows($role) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "forbidden",
                        format!(
                            "this needs the {} role; token `{}` has the {} role",
                            $role, principal.name, principal.role
                        ),
                    ));
                }
                Ok($name(principal))
            }
        }
    };
}

role_extractor!(
    /// A caller with at least the viewer role.
    Viewer,
    Role::Viewer
);
role_extractor!(
    /// A caller with at least the operator role.
    Operator,
    Role::Operator
);
role_extractor!(
    /// A caller with the admin role.
    Admin,
    Role::Admin
);

#[cfg(test)]
mod tests;

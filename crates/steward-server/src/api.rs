//! The application: the routes of the subsystems a server runs, their
//! OpenAPI description, and the layers around them. Each `routes/<x>.rs`
//! builds its `router()` only through `routes!`, which takes the path and
//! method from each handler's `#[utoipa::path]`, so the OpenAPI document
//! and the router cannot drift apart; this module mounts them, those of
//! an optional subsystem only when the server runs it.

use std::sync::Arc;

use axum::{
    Extension, Json, Router,
    extract::Request,
    http::{HeaderValue, StatusCode},
    middleware,
};
use steward_core::Role;
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi as OpenApiDocument, Ref, Response,
        ResponseBuilder, Type,
        path::Operation,
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    ApiError, AppState, auth,
    auth::DenialSummaries,
    http_metrics,
    routes::{databases, deployments, events, health, incidents, reload, status, tokens},
};

/// The OpenAPI description of steward's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "steward",
        description = "The operations plane of an AI agent system. Every endpoint except `/healthz`, `/readyz` and `/metrics` needs `Authorization: Bearer <token>` of a token whose role is at least the one its security requirement names (roles are ordered: `viewer` < `operator` < `admin`); errors are `{\"error\": {\"code\", \"kind\", \"message\"}}`. Each client address is rate limited (429 with `Retry-After`)."
    ),
    modifiers(&BearerToken),
    components(schemas(steward_store::Order)),
    tags(
        (name = "events", description = "The journal of every change and observation"),
        (name = "tokens", description = "API tokens and roles"),
        (name = "status", description = "What steward knows"),
        (name = "migrations", description = "Database migrations of the operated system"),
        (name = "deployments", description = "Deployments: plan, start, watch, cancel, roll back"),
        (name = "operations", description = "Probes and metrics of steward itself"),
        (name = "rules", description = "Recording and alerting rules, and the AlertManager's configuration: reloads"),
    )
)]
pub struct ApiDoc;

/// The name of the bearer-token security scheme. An operation's security
/// requirement names, as its one scope, the least role a token needs to
/// call it (`viewer`, `operator` or `admin`).
const TOKEN_SCHEME: &str = "token";

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            TOKEN_SCHEME,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of this server.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    security(("token" = ["viewer"])),
    responses((status = 200, description = "This API's OpenAPI 3 document", content_type = "application/json", body = Object))
)]
async fn openapi_json(
    Extension(document): Extension<Arc<OpenApiDocument>>,
) -> Json<OpenApiDocument> {
    Json(document.as_ref().clone())
}

/// The routes a server serves, without layers.
struct Routes {
    /// Routes that need a token.
    protected: OpenApiRouter<AppState>,
    /// Routes open to everyone.
    open: OpenApiRouter<AppState>,
    /// Path templates of the subsystems this server does not run, with
    /// what it does not do (for the 404 that answers them).
    unserved: Vec<(String, &'static str)>,
}

/// The routes of the subsystems a server runs or not: what each does
/// (completing "this steward server does not ..."), whether `state` has
/// it (every one, for `None`: the document of everything), and its
/// router. A subsystem that is not running has no routes: its paths
/// answer 404 and are not in the server's OpenAPI document.
fn optional_routes(state: Option<&AppState>) -> [(&'static str, bool, OpenApiRouter<AppState>); 3] {
    [
        (
            "run deployments",
            state.is_none_or(|state| state.deployments().is_some()),
            deployments::router(),
        ),
        (
            "evaluate rules or run an AlertManager",
            state.is_none_or(|state| state.rules().is_some() || state.alerts().is_some()),
            reload::router(),
        ),
        (
            "run the IncidentManager",
            state.is_none_or(|state| state.incidents().is_some()),
            incidents::router(),
        ),
    ]
}

/// The routes of `state`'s subsystems (of all of them for `None`).
fn routes(state: Option<&AppState>) -> Routes {
    let mut protected = OpenApiRouter::new()
        .merge(events::router())
        .merge(tokens::router())
        .merge(status::router())
        .routes(routes!(openapi_json))
        .merge(databases::router());
    let mut unserved = Vec::new();
    for (does, mounted, router) in optional_routes(state) {
        if mounted {
            protected = protected.merge(router);
        } else {
            unserved.extend(
                router
                    .get_openapi()
                    .paths
                    .paths
                    .keys()
                    .map(|template| (template.clone(), does)),
            );
        }
    }
    let open = health::router().routes(routes!(http_metrics::metrics));
    Routes {
        protected,
        open,
        unserved,
    }
}

/// Where the Prometheus-compatible query API is mounted.
pub const PROMETHEUS_PREFIX: &str = "/prometheus";

/// Where OpenTelemetry metrics are pushed (OTLP/HTTP's default path, so an
/// exporter's endpoint is steward's base URL).
pub const OTLP_METRICS_PATH: &str = "/v1/metrics";

/// Builds the application over `state`: the routes of the subsystems it
/// runs, authenticated, limited, measured and traced. Returned with it,
/// the periodic summary of the requests it refused for want of a token,
/// which the caller runs beside it.
pub fn router(state: AppState) -> (Router, DenialSummaries) {
    let edge = Arc::new(auth::Edge::new(
        &state.config().config.server,
        state.metrics().clone(),
    ));
    let summaries = DenialSummaries::new(&edge, state.store().clone());
    let Routes {
        protected,
        open,
        unserved,
    } = routes(Some(&state));
    let protected = protected.route_layer(middleware::from_fn_with_state(
        (state.store().clone(), edge.clone()),
        auth::authenticate,
    ));
    let (mut router, document) = assemble(protected, open);
    if let Some(collector) = state.metrics_collector() {
        // Prometheus' own API (not steward's, so outside the OpenAPI
        // document), behind the same tokens: Grafana's data source URL is
        // `<steward>/prometheus` with an Authorization header.
        // Remote write and OTLP pushes need the operator role.
        let mut prometheus = collector.api_router();
        if let Some(rules) = state.rules() {
            prometheus = prometheus.merge(steward_rules::api::router(rules.manager().clone()));
        }
        router = router.nest(
            PROMETHEUS_PREFIX,
            prometheus
                .route_layer(middleware::from_fn(auth::require_operator_to_push))
                .route_layer(middleware::from_fn_with_state(
                    (state.store().clone(), edge.clone()),
                    auth::authenticate,
                ))
                .with_state(()),
        );
        router = router.merge(
            collector
                .otlp_router()
                .route_layer(middleware::from_fn(auth::require_operator_to_push))
                .route_layer(middleware::from_fn_with_state(
                    (state.store().clone(), edge.clone()),
                    auth::authenticate,
                ))
                .with_state(()),
        );
    }
    if let Some(logs) = state.logs() {
        // Loki's API and OpenTelemetry logs (not steward's own API, so
        // outside the OpenAPI document), behind the same tokens: Grafana's
        // Loki data source and Loki clients use steward's base URL with a
        // bearer token or basic auth (the token as the password). Pushes
        // need the operator role.
        router = router.merge(
            logs.api()
                .router()
                .merge(logs.api().otlp_router())
                .route_layer(middleware::from_fn(auth::require_operator_to_push))
                .route_layer(middleware::from_fn_with_state(
                    (state.store().clone(), edge.clone()),
                    auth::authenticate,
                ))
                .with_state(()),
        );
    }
    if let Some(alerts) = state.alerts() {
        // Alertmanager's API v2 (not steward's, so outside the OpenAPI
        // document) and the alert sources, behind the same tokens:
        // Prometheus' `alertmanagers` config uses `path_prefix:
        // /alertmanager` with an `authorization` bearer token.
        let authenticated = |routes: Router| {
            routes
                .route_layer(middleware::from_fn(auth::require_operator_to_change))
                .route_layer(middleware::from_fn_with_state(
                    (state.store().clone(), edge.clone()),
                    auth::authenticate,
                ))
                .with_state(())
        };
        router = router
            .nest(
                crate::alerts::ALERTMANAGER_PREFIX,
                authenticated(alerts.api_router()),
            )
            .merge(authenticated(alerts.sources_router()));
    }
    let unserved = Arc::new(unserved);
    let router = router
        .fallback(|request: Request| async move {
            let path = request.uri().path();
            let why = unserved
                .iter()
                .find(|(template, _)| matches_template(template, path))
                .map(|(_, does)| format!(": this steward server does not {does}"))
                .unwrap_or_default();
            ApiError::not_found(format!("no route for {} {path}{why}", request.method()))
        })
        .method_not_allowed_fallback(|request: Request| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!(
                    "{} is not allowed on {}",
                    request.method(),
                    request.uri().path()
                ),
            )
        })
        .layer(Extension(Arc::new(document)))
        // Inside the metrics layer, so that refused requests are counted.
        .layer(middleware::from_fn_with_state(edge, auth::limit_rate))
        .layer(middleware::from_fn_with_state(
            state.metrics().clone(),
            http_metrics::record,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
        .with_state(state);
    (router, summaries)
}

/// Whether `path` is one of the paths of `template` (whose `{param}`
/// segments match any segment).
fn matches_template(template: &str, path: &str) -> bool {
    let mut templates = template.split('/');
    let mut segments = path.split('/');
    loop {
        match (templates.next(), segments.next()) {
            (None, None) => return true,
            (Some(expected), Some(segment)) => {
                let param = expected.starts_with('{') && expected.ends_with('}');
                if !(param && !segment.is_empty() || expected == segment) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The OpenAPI document of every route of every subsystem, for tools
/// and tests (a server's own, at `/api/v1/openapi.json`, lists only
/// the routes it serves).
pub fn openapi() -> OpenApiDocument {
    let Routes {
        protected, open, ..
    } = routes(None);
    assemble(protected, open).1
}

/// Merges the routes into one router and the document that describes
/// them, with the answers every operation shares added and only the tags
/// its operations use.
fn assemble(
    protected: OpenApiRouter<AppState>,
    open: OpenApiRouter<AppState>,
) -> (Router<AppState>, OpenApiDocument) {
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(protected)
        .merge(open)
        .split_for_parts();
    document_shared_responses(&mut document);
    drop_unused_tags(&mut document);
    (router, document)
}

/// Removes the tags no operation of `document` uses (those of the
/// subsystems a server does not run).
fn drop_unused_tags(document: &mut OpenApiDocument) {
    let used: Vec<String> = document
        .paths
        .paths
        .values()
        .flat_map(|item| [&item.get, &item.put, &item.post, &item.delete, &item.patch])
        .flatten()
        .flat_map(|operation| operation.tags.iter().flatten().cloned())
        .collect();
    if let Some(tags) = &mut document.tags {
        tags.retain(|tag| used.contains(&tag.name));
    }
}

/// The role an operation's security requirement names (see
/// [`ApiDoc`]); `None` for an open operation or one that names none.
fn required_role(operation: &Operation) -> Option<Role> {
    let requirements = operation.security.as_ref()?;
    Role::ALL.into_iter().find(|role| {
        requirements.contains(&SecurityRequirement::new(TOKEN_SCHEME, [role.as_str()]))
    })
}

/// An error answer with the [`ErrorBody`](crate::ErrorBody) schema.
fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

/// Adds to every operation of `document` the answers it shares with the
/// others, so that each handler documents only its own (404, 409, its
/// 422s): 429 everywhere (the per-client rate limit applies to every
/// route); for operations that need a token, 401, 403 when they need more
/// than the viewer role, 500 and 503 (authentication reads the state
/// database); 400 for a malformed parameter or body; 415 and 422 for a
/// body that is not JSON or not a valid request. A handler's own
/// description of one of these statuses is kept.
fn document_shared_responses(document: &mut OpenApiDocument) {
    let rate_limited = error_response(
        "Too many requests from this client address (retry after `Retry-After` seconds), or too many event streams open for this token",
    )
    .header(
        "Retry-After",
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::Integer))
            .description(Some("Seconds to wait before retrying"))
            .build(),
    )
    .build();
    let malformed = error_response(
        "A malformed parameter or body (not JSON, an unknown query parameter, a value of the wrong type)",
    )
    .build();
    let unauthenticated =
        error_response("No valid token: send `Authorization: Bearer <token>`").build();
    let unsupported =
        error_response("The body is not sent as `content-type: application/json`").build();
    let invalid = error_response(
        "The body is JSON but not a valid request (a missing or unknown field, a value out of range)",
    )
    .build();
    let internal = error_response("Steward failed; its log has the details").build();
    let unavailable = error_response(
        "A dependency of steward (the state database, a target database, the deployment engine) is unavailable; retry later",
    )
    .build();
    for item in document.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let protected = operation.security.is_some();
            let role = required_role(operation);
            let has_body = operation.request_body.is_some();
            let has_parameters = operation
                .parameters
                .as_ref()
                .is_some_and(|parameters| !parameters.is_empty());
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, response: &Response| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| response.clone().into());
            };
            add("429", &rate_limited);
            if !protected {
                continue;
            }
            if has_parameters || has_body {
                add("400", &malformed);
            }
            add("401", &unauthenticated);
            if let Some(role) = role.filter(|role| *role > Role::Viewer) {
                add(
                    "403",
                    &error_response(&format!("The token's role is below {role}")).build(),
                );
            }
            if has_body {
                add("415", &unsupported);
                add("422", &invalid);
            }
            add("500", &internal);
            add("503", &unavailable);
        }
    }
}

/// Gives each request a random id (kept when the client sends one), which
/// is echoed in `x-request-id` and recorded with audit events.
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = hex::encode(rand::random::<[u8; 8]>());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

//! The application: every route, its OpenAPI description, and the layers
//! around them. Routes are only ever added through `routes!`, which takes
//! the path and method from each handler's `#[utoipa::path]`, so the
//! OpenAPI document and the router cannot drift apart.

use std::sync::Arc;

use axum::{
    Extension, Json, Router,
    extract::Request,
    http::{HeaderValue, StatusCode},
    middleware,
};
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        OpenApi as OpenApiDocument,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    ApiError, AppState, auth, http_metrics,
    routes::{databases, deployments, events, health, status, tokens},
};

/// The OpenAPI description of steward's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "steward",
        description = "The operations plane of an AI agent system. Every endpoint except `/healthz`, `/readyz` and `/metrics` needs `Authorization: Bearer <token>`; errors are `{\"error\": {\"code\", \"message\"}}`."
    ),
    modifiers(&BearerToken),
    tags(
        (name = "events", description = "The journal of every change and observation"),
        (name = "tokens", description = "API tokens and roles"),
        (name = "status", description = "What steward knows"),
        (name = "migrations", description = "Database migrations of the operated system"),
        (name = "deployments", description = "Deployments: plan, start, watch, cancel, roll back"),
        (name = "operations", description = "Probes and metrics of steward itself"),
    )
)]
pub struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
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
    security(("token" = [])),
    responses((status = 200, description = "This API's OpenAPI 3 document", content_type = "application/json"))
)]
async fn openapi_json(
    Extension(document): Extension<Arc<OpenApiDocument>>,
) -> Json<OpenApiDocument> {
    Json(document.as_ref().clone())
}

/// Every route, without layers: `(protected, open)`.
fn routes() -> (OpenApiRouter<AppState>, OpenApiRouter<AppState>) {
    let protected = OpenApiRouter::new()
        .routes(routes!(events::list, events::append))
        .routes(routes!(events::get))
        .routes(routes!(events::stream))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(status::status))
        .routes(routes!(status::whoami))
        .routes(routes!(openapi_json))
        .routes(routes!(databases::list))
        .routes(routes!(databases::status))
        .routes(routes!(databases::plan))
        .routes(routes!(databases::apply))
        .routes(routes!(databases::down))
        .routes(routes!(databases::repair))
        .routes(routes!(databases::baseline))
        .routes(routes!(databases::drift))
        .routes(routes!(databases::backups))
        .routes(routes!(databases::restore))
        .routes(routes!(deployments::deploy, deployments::list))
        .routes(routes!(deployments::get))
        .routes(routes!(deployments::cancel))
        .routes(routes!(deployments::watch))
        .routes(routes!(deployments::rollback));
    let open = OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(http_metrics::metrics));
    (protected, open)
}

/// Builds the whole application over `state`.
pub fn router(state: AppState) -> Router {
    let (protected, open) = routes();
    let protected = protected.route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate,
    ));
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(protected)
        .merge(open)
        .split_for_parts();
    router
        .fallback(|request: Request| async move {
            ApiError::not_found(format!(
                "no route for {} {}",
                request.method(),
                request.uri().path()
            ))
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
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http_metrics::record,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
        .with_state(state)
}

/// The OpenAPI document of every route, for tools and tests.
pub fn openapi() -> OpenApiDocument {
    let (protected, open) = routes();
    let (_, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(protected)
        .merge(open)
        .split_for_parts();
    document
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

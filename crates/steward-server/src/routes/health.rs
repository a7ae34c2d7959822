//! Liveness and readiness probes; open to everyone, like `/metrics`.

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use steward_store::Store;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

/// The probes (open: mounted outside authentication).
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Health of steward itself.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` with a reason.
    pub status: String,
    /// Steward's version.
    pub version: String,
    /// Why steward is not ready, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, description = "Steward is alive", body = Health))
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        reason: None,
    })
}

/// Readiness: the state database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Steward can serve requests", body = Health),
        (status = 503, description = "The state database does not answer", body = Health),
    )
)]
pub(crate) async fn readyz(State(store): State<Store>) -> (StatusCode, Json<Health>) {
    let version = env!("CARGO_PKG_VERSION").to_owned();
    match store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok".to_owned(),
                version,
                reason: None,
            }),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable".to_owned(),
                    version,
                    reason: Some("the state database does not answer".to_owned()),
                }),
            )
        }
    }
}

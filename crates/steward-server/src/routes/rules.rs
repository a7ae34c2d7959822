//! Rules: `POST /api/v1/reload` reads the rule files again (operator
//! role). The rules and alerts themselves are served in Prometheus'
//! shapes under `/prometheus/api/v1/rules` and `/alerts`, outside this
//! document, as the rest of the Prometheus-compatible API.

use axum::{Json, extract::State};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    ApiError, AppState,
    auth::Operator,
    error::ErrorBody,
    rules::{ReloadError, ReloadOutcome, Rules},
};

/// The rules routes.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(reload))
}

/// Reads `[rules] files` from the configuration file again and loads the
/// rule files they match. When a file is invalid nothing changes: the
/// previous rules run on and the answer lists every problem.
#[utoipa::path(
    post,
    path = "/api/v1/reload",
    operation_id = "reload_rules",
    tag = "rules",
    security(("token" = ["operator"])),
    responses(
        (status = 200, description = "The rules now running", body = ReloadOutcome),
        (status = 422, description = "A rule file or the configuration is invalid; the previous rules run on", body = ErrorBody),
    )
)]
pub(crate) async fn reload(
    State(rules): State<Rules>,
    Operator(principal): Operator,
) -> Result<Json<ReloadOutcome>, ApiError> {
    match rules.reload(principal.actor).await {
        Ok(outcome) => Ok(Json(outcome)),
        Err(ReloadError::Invalid(problems)) => Err(ApiError::invalid(
            "rules_invalid",
            format!("the rules were not reloaded; the previous rules run on:\n{problems}"),
        )),
        Err(err @ ReloadError::Stopped(_)) => {
            tracing::error!(error = %err, "rules reload failed");
            Err(ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the reload failed; see steward's log",
            ))
        }
    }
}

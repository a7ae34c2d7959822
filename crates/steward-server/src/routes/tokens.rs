//! API token management (admin role): list, create, revoke.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_core::{Name, NewEvent, Role};
use steward_store::{Store, TokenInfo};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    ApiError, AppState, Principal,
    auth::Admin,
    error::ErrorBody,
    events::TokenEvent,
    extract::{JsonBody, PathParams, QueryParams},
};

/// The token routes.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

/// Listing options.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Include revoked tokens.
    #[serde(default)]
    include_revoked: bool,
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// Name, unique among live tokens (a lowercase DNS label).
    name: Name,
    /// What the token may do.
    role: Role,
}

/// A created token; `secret` is shown this once and never again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token's record.
    pub token: TokenInfo,
    /// The bearer token to hand to its user.
    pub secret: String,
}

/// The journal event of a change to a token, by `principal`.
fn token_event(kind: TokenEvent, verb: &str, principal: &Principal, token: &TokenInfo) -> NewEvent {
    NewEvent::new(
        kind.kind(),
        principal.actor.clone(),
        format!("{verb} {} token `{}`", token.role, token.name),
    )
    .payload(json!({"id": token.id, "name": token.name, "role": token.role}))
}

/// Lists tokens (never their secrets).
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    operation_id = "list_tokens",
    tag = "tokens",
    params(ListParams),
    security(("token" = ["admin"])),
    responses(
        (status = 200, description = "Tokens, newest first", body = Vec<TokenInfo>),
    )
)]
pub(crate) async fn list(
    State(store): State<Store>,
    _admin: Admin,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(store.tokens(params.include_revoked).await?))
}

/// Creates a token and journals it.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    operation_id = "create_token",
    tag = "tokens",
    request_body = CreateToken,
    security(("token" = ["admin"])),
    responses(
        (status = 201, description = "The token and its secret", body = CreatedToken),
        (status = 409, description = "A live token has this name", body = ErrorBody),
        (status = 422, description = "Invalid name or role", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(store): State<Store>,
    Admin(principal): Admin,
    JsonBody(body): JsonBody<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let mut tx = store.begin().await?;
    let created = tx
        .create_token(&body.name, body.role, &principal.actor)
        .await?;
    tx.append(
        NewEvent::new(
            TokenEvent::Created.kind(),
            principal.actor.clone(),
            format!(
                "created {} token `{}`",
                created.info.role, created.info.name
            ),
        )
        .payload(
            json!({"id": created.info.id, "name": created.info.name, "role": created.info.role}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: created.info,
            secret: created.secret.into_exposed(),
        }),
    ))
}

/// Revokes a live token by id or name. The last live admin token cannot be
/// revoked, so that steward is never left without an administrator.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    operation_id = "revoke_token",
    tag = "tokens",
    params(("id" = String, Path, min_length = 1, description = "Token id (`tok_...`) or name")),
    security(("token" = ["admin"])),
    responses(
        (status = 200, description = "The revoked token", body = TokenInfo),
        (status = 404, description = "No live token with this id or name", body = ErrorBody),
        (status = 409, description = "It is the last admin token", body = ErrorBody),
    )
)]
pub(crate) async fn revoke(
    State(store): State<Store>,
    Admin(principal): Admin,
    PathParams(id): PathParams<String>,
) -> Result<Json<TokenInfo>, ApiError> {
    let mut tx = store.begin().await?;
    let revoked = tx.revoke_token(&id).await?;
    if revoked.role == Role::Admin && tx.live_admin_tokens().await? == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "last_admin_token",
            format!(
                "`{}` is the last admin token; create another admin token first",
                revoked.name
            ),
        ));
    }
    tx.append(token_event(
        TokenEvent::Revoked,
        "revoked",
        &principal,
        &revoked,
    ))
    .await?;
    tx.commit().await?;
    Ok(Json(revoked))
}

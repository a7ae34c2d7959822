//! Token authentication, role checks and the audit trail.
//!
//! Every route under `/api/v1` passes through [`authenticate`], so a new
//! endpoint is protected without doing anything; handlers then state the
//! role they need by taking a [`Viewer`], [`Operator`] or [`Admin`]
//! argument. The same middleware journals every mutating call with its
//! actor and outcome, denied ones included: that is the audit log.

use axum::{
    extract::{FromRequestParts, MatchedPath, Request, State},
    http::{Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::json;
use steward_core::{Actor, EventKind, Name, NewEvent, Role, Severity};
use steward_store::TokenInfo;
use utoipa::ToSchema;

use crate::{ApiError, AppState};

/// Who is calling: the token that authenticated the request.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

/// The bearer token of a request, if it has one.
fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Authenticates the request (401 without a valid token), makes the
/// [`Principal`] available to handlers, and journals mutating calls.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let principal = match bearer(&request) {
        None => Err(ApiError::unauthenticated(
            "missing bearer token; send `Authorization: Bearer <token>`",
        )),
        Some(secret) => match state.store().authenticate(secret).await {
            Ok(Some(info)) => Ok(Principal::from(info)),
            Ok(None) => Err(ApiError::unauthenticated("invalid or revoked token")),
            Err(err) => Err(ApiError::from(err)),
        },
    };
    let (response, actor) = match principal {
        Ok(principal) => {
            let actor = principal.actor.clone();
            request.extensions_mut().insert(principal);
            (next.run(request).await, actor)
        }
        Err(err) => (
            err.into_response(),
            Actor::new("anonymous").expect("valid actor"),
        ),
    };
    if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let status = response.status();
        let severity = match status {
            s if s.is_server_error() => Severity::Error,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Severity::Warning,
            _ => Severity::Info,
        };
        let event = NewEvent::new(
            EventKind::new("audit.request").expect("valid kind"),
            actor,
            format!("{method} {path} -> {}", status.as_u16()),
        )
        .severity(severity)
        .payload(json!({
            "method": method.as_str(),
            "path": path,
            "route": route,
            "status": status.as_u16(),
            "request_id": request_id,
        }));
        if let Err(err) = state.store().append(event).await {
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

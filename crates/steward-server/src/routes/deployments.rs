//! Deployments over HTTP: plan (dry run), start, list, show, watch as
//! server-sent events, cancel, and roll back.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use futures::Stream;
use serde::{Deserialize, Serialize};
use steward_config::{Config, LoadedConfig, Source};
use steward_core::{Event, EventId, Name, Version};
use steward_deploy::{
    DeployEvent, DeployRequest, Deployment, DeploymentManager, DeploymentSummary, DeploymentView,
    release_from_config,
};
use steward_store::{EventQuery, Order};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    ApiError, AppState,
    auth::{Operator, Viewer},
    error::ErrorBody,
    extract::{JsonBody, PathParams, QueryParams, whole_number},
    routes::{
        events::{Flow, follow},
        frames::{DeploymentFrames, orphaned_frame},
    },
    state::EventFeed,
};

/// The deployment routes, mounted only on a server that runs deployments
/// (their handlers extract its [`DeploymentManager`]).
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(deploy, list))
        .routes(routes!(get))
        .routes(routes!(cancel))
        .routes(routes!(watch))
        .routes(routes!(rollback))
}

mod schema;

/// The longest `wait_lock_seconds` accepted (a day: the engine waits, not
/// the request, so the wait may outlast any HTTP timeout).
const MAX_WAIT_LOCK: u64 = 86_400;

/// How often a deployment's event stream checks that some steward
/// process still runs the deployment.
const ORPHAN_CHECK: Duration = Duration::from_secs(2);

/// A deployment request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeployBody {
    /// Release version to deploy.
    #[schema(example = "1.4.2")]
    version: Version,
    /// Only these services (default: all).
    #[serde(default)]
    services: Option<Vec<Name>>,
    /// Why, for the journal.
    #[serde(default)]
    reason: Option<String>,
    /// Go on even if pre-deployment checks fail (journaled).
    #[serde(default)]
    force: bool,
    /// Only plan: return the plan and the checks, change nothing.
    #[serde(default)]
    dry_run: bool,
    /// Wait this long for another deployment to finish (default 0, at
    /// most a day).
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(maximum = 86400)]
    wait_lock_seconds: u64,
}

/// A rollback request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RollbackBody {
    /// Only this service (default: the whole previous release).
    #[serde(default)]
    service: Option<Name>,
    /// This version instead of the previous one.
    #[serde(default)]
    to: Option<Version>,
    /// Why, for the journal.
    #[serde(default)]
    reason: Option<String>,
}

/// Filters for listing deployments.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only deployments touching this service.
    service: Option<String>,
    /// At most this many, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The answer to a cancel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cancelling {
    /// The deployment's id.
    pub deployment: String,
    /// Always `cancelling`: it stops its current step and rolls back.
    pub status: String,
}

/// The configuration as it is on disk now (a deployment takes the
/// services' specs from the file at the time it starts, like a `git pull`
/// before `kamal deploy`), or the one steward started with.
fn current_config(loaded: &LoadedConfig) -> Result<Config, ApiError> {
    match &loaded.source {
        Source::File(path) => {
            match steward_config::load(path, &steward_config::Environment::from_process()) {
                Ok(reloaded) => Ok(reloaded.config),
                Err(steward_config::Error::Invalid(report)) => {
                    Err(ApiError::invalid("invalid_config", report.render()))
                }
                Err(err) => Err(ApiError::invalid("invalid_config", err.to_string())),
            }
        }
        Source::Text(_) => Ok(loaded.config.clone()),
    }
}

impl From<steward_deploy::Error> for ApiError {
    fn from(err: steward_deploy::Error) -> Self {
        ApiError::from_error(&err)
    }
}

/// Hands a deployment to the engine and answers 202 with its record as
/// soon as it is recorded: the engine owns it from then on, so a client
/// that gives up cannot leave it half done or its lock held.
async fn start(
    manager: &DeploymentManager,
    config: &Config,
    request: DeployRequest,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    let deployment = manager.deploy(config, request).await?;
    Ok((StatusCode::ACCEPTED, Json(deployment.redacted())))
}

/// Plans a deployment (`dry_run`) or starts one. A started deployment is
/// answered at once (202) with its id; its gates (waiting for the deploy
/// lock, the pre-deployment checks, the `pre_deploy` hook) and steps run
/// in steward, journaled as they go: follow them with
/// `/api/v1/deployments/{id}/events`. A deployment refused by a gate ends
/// with status `aborted` and the reason.
#[utoipa::path(
    post,
    path = "/api/v1/deployments",
    operation_id = "deploy",
    tag = "deployments",
    security(("token" = ["operator"])),
    request_body = DeployBody,
    responses(
        (status = 200, description = "The plan (dry run)", body = schema::Deployment),
        (status = 202, description = "The deployment, recorded and started", body = schema::Deployment),
        (status = 404, description = "A named service is neither configured nor running", body = ErrorBody),
        (status = 409, description = "(Dry run) a database's migrations diverge from its history, or another run holds its migration lock", body = ErrorBody),
        (status = 422, description = "Invalid request or configuration", body = ErrorBody),
    )
)]
pub(crate) async fn deploy(
    State(manager): State<DeploymentManager>,
    State(loaded): State<Arc<LoadedConfig>>,
    Operator(principal): Operator,
    JsonBody(body): JsonBody<DeployBody>,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    if body.wait_lock_seconds > MAX_WAIT_LOCK {
        return Err(ApiError::invalid(
            "invalid_field",
            format!(
                "`wait_lock_seconds` is {}, above the maximum {MAX_WAIT_LOCK}",
                body.wait_lock_seconds
            ),
        ));
    }
    let config = current_config(&loaded)?;
    let release = release_from_config(&config, &body.version)?;
    let request = DeployRequest {
        release,
        services: body.services,
        actor: principal.actor,
        reason: body.reason,
        force: body.force,
        wait_lock: Duration::from_secs(body.wait_lock_seconds),
        create_only: false,
    };
    if body.dry_run {
        let plan = manager.plan(&config, &request).await?;
        return Ok((StatusCode::OK, Json(plan.redacted())));
    }
    start(&manager, &config, request).await
}

/// Redeploys the previous successful release (of one service, or of the
/// whole system), or the given version, through the same engine.
#[utoipa::path(
    post,
    path = "/api/v1/rollback",
    operation_id = "rollback",
    tag = "deployments",
    security(("token" = ["operator"])),
    request_body = RollbackBody,
    responses(
        (status = 202, description = "The rollback deployment, started", body = schema::Deployment),
        (status = 404, description = "No earlier release to roll back to", body = ErrorBody),
        (status = 422, description = "The configuration is invalid, or a service of the release cannot run on the configured backend", body = ErrorBody),
    )
)]
pub(crate) async fn rollback(
    State(manager): State<DeploymentManager>,
    State(loaded): State<Arc<LoadedConfig>>,
    Operator(principal): Operator,
    JsonBody(body): JsonBody<RollbackBody>,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    let config = current_config(&loaded)?;
    let (release, services) = manager
        .rollback_release(body.service.as_ref(), body.to.as_ref())
        .await?;
    let reason = body
        .reason
        .unwrap_or_else(|| format!("rollback to {}", release.version));
    let request = DeployRequest {
        release,
        services: Some(services),
        actor: principal.actor,
        reason: Some(reason),
        force: false,
        wait_lock: Duration::ZERO,
        create_only: false,
    };
    start(&manager, &config, request).await
}

/// Deployments, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/deployments",
    operation_id = "list_deployments",
    tag = "deployments",
    security(("token" = ["viewer"])),
    params(ListParams),
    responses((status = 200, description = "Deployments, newest first", body = Vec<schema::DeploymentSummary>))
)]
pub(crate) async fn list(
    State(manager): State<DeploymentManager>,
    _viewer: Viewer,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<Vec<DeploymentSummary>>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("invalid query parameter: limit: must be between 1 and 1000, got {limit}"),
        ));
    }
    let deployments = manager.list(params.service.as_deref(), limit).await?;
    Ok(Json(deployments))
}

/// One deployment with its plan, checks and step statuses, and whether it
/// is orphaned (unfinished while no steward process runs it any more).
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}",
    operation_id = "get_deployment",
    tag = "deployments",
    security(("token" = ["viewer"])),
    params(("id" = String, Path, min_length = 1, description = "Deployment id")),
    responses(
        (status = 200, description = "The deployment", body = schema::DeploymentView),
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(manager): State<DeploymentManager>,
    _viewer: Viewer,
    PathParams(id): PathParams<String>,
) -> Result<Json<DeploymentView>, ApiError> {
    manager
        .view(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no deployment {id}")))
}

/// Cancels a running deployment: it stops its current step and rolls back.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{id}/cancel",
    operation_id = "cancel_deployment",
    tag = "deployments",
    security(("token" = ["operator"])),
    params(("id" = String, Path, min_length = 1, description = "Deployment id")),
    responses(
        (status = 202, description = "Cancelling; the deployment rolls back", body = Cancelling),
        (status = 404, description = "Not running here", body = ErrorBody),
    )
)]
pub(crate) async fn cancel(
    State(manager): State<DeploymentManager>,
    _operator: Operator,
    PathParams(id): PathParams<String>,
) -> Result<(StatusCode, Json<Cancelling>), ApiError> {
    manager.cancel(&id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Cancelling {
            deployment: id,
            status: "cancelling".to_owned(),
        }),
    ))
}

/// The deployment's journal events from its start, live, as server-sent
/// events; the stream ends after the event that ends the deployment, or
/// with an `orphaned` event when no steward process runs it any more.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}/events",
    operation_id = "watch_deployment",
    tag = "deployments",
    security(("token" = ["viewer"])),
    params(("id" = String, Path, min_length = 1, description = "Deployment id")),
    responses(
        (status = 200, description = "A stream of the deployment's events, one frame each, until its last one", content_type = "text/event-stream", body = DeploymentFrames),
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub(crate) async fn watch(
    State(manager): State<DeploymentManager>,
    State(feed): State<EventFeed>,
    _viewer: Viewer,
    PathParams(id): PathParams<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let deployment = manager
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no deployment {id}")))?;
    let filters = EventQuery {
        kind: Some(DeployEvent::PREFIX.to_owned()),
        since: Some(deployment.created_at - chrono::Duration::seconds(1)),
        order: Order::Asc,
        limit: Some(500),
        ..EventQuery::default()
    };
    let (sender, receiver) = mpsc::channel(64);
    let deployment_id = id.clone();
    let flow = move |event: &Event| {
        if event.payload["deployment"] != deployment_id.as_str() {
            return Flow::Skip;
        }
        if DeployEvent::is_terminal_kind(event.kind.as_str()) {
            Flow::SendAndEnd
        } else {
            Flow::Send
        }
    };
    let mut follower = tokio::spawn(follow(feed, filters, EventId(0), sender.clone(), flow));
    tokio::spawn(async move {
        // Without an engine the deployment never ends: say so and close
        // the stream instead of keeping the client waiting forever. This
        // task holds a sender too, so it ends as soon as the follower
        // does: the stream ends with the deployment's last event.
        loop {
            tokio::select! {
                () = sender.closed() => return,
                _ = &mut follower => return,
                () = tokio::time::sleep(ORPHAN_CHECK) => {}
            }
            if let Ok(true) = manager.is_orphaned(&id).await {
                // Let the follower send what was journaled before.
                tokio::time::sleep(Duration::from_millis(200)).await;
                follower.abort();
                let _ = sender.send(Ok(orphaned_frame(&id))).await;
                return;
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(receiver))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

//! Incidents over HTTP: list, open by hand, show (with its durations and
//! impact), act on (acknowledge, mitigate, resolve, reopen, severity,
//! commander, assignees), notes, plan steps (approve, retry, skip, done),
//! action items, the timeline, root-cause candidates, the postmortem and
//! mean times. Reads need the viewer role, changes the operator role.
//! Every change is handed to the IncidentManager, which owns it (a client
//! that hangs up does not cut it short) and journals it.
//!
//! One module over 800 lines: a dozen small handlers, each with the
//! OpenAPI annotation and request body it needs (and one schema written
//! out by hand); splitting them would scatter one resource's contract.

use std::collections::BTreeSet;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use steward_core::Name;
use steward_incident::{
    incident::{Action, Incident, Severity, mean_times},
    manager::{ActionItemChange, MAX_TEXT, OpenRequest, StepCommand},
    postmortem::{ActionItem, ActionKind, ActionStatus, TimelineEntry},
};
use utoipa::{
    IntoParams, ToSchema,
    openapi::{ObjectBuilder, OneOfBuilder, RefOr, Schema, Type, schema::AdditionalProperties},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    ApiError, AppState,
    auth::{Operator, Viewer},
    error::ErrorBody,
    extract::{JsonBody, PathParams, QueryParams},
    incidents::{Incidents, timeline::CandidateView},
};

/// The incident routes.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, open))
        .routes(routes!(stats))
        .routes(routes!(get))
        .routes(routes!(act))
        .routes(routes!(note))
        .routes(routes!(step))
        .routes(routes!(add_action_item))
        .routes(routes!(change_action_item))
        .routes(routes!(timeline))
        .routes(routes!(candidates))
        .routes(routes!(postmortem))
}

impl From<steward_incident::Error> for ApiError {
    fn from(err: steward_incident::Error) -> Self {
        ApiError::from_error(&err)
    }
}

impl From<crate::Error> for ApiError {
    fn from(err: crate::Error) -> Self {
        ApiError::from_error(&err)
    }
}

/// Filters for listing incidents.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only open ones (not resolved).
    #[serde(default)]
    open: bool,
    /// At most this many, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// An incident opened by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenBody {
    /// What is happening, in a line.
    #[schema(min_length = 1, max_length = 4096, pattern = "\\S")]
    title: String,
    /// `SEV1` (worst) to `SEV4`.
    #[schema(example = "SEV2", pattern = "^([Ss][Ee][Vv])?[1-4]$", max_length = 4)]
    severity: String,
    /// The services affected.
    #[serde(default)]
    services: Vec<Name>,
    /// Who leads the response.
    #[serde(default)]
    #[schema(max_length = 128)]
    commander: Option<String>,
}

/// An action on an incident, named by `action` (its schema is written
/// out below: the derived one would let other fields through, which the
/// handler refuses).
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum ActionBody {
    /// Someone is on it: paging stops.
    Acknowledge {},
    /// Nobody is on it any more: paging starts again.
    Unacknowledge {},
    /// The impact is over.
    Mitigate {},
    /// It is over.
    Resolve {},
    /// It is back.
    Reopen {},
    /// A new severity.
    SetSeverity {
        /// `SEV1` (worst) to `SEV4`.
        severity: String,
    },
    /// A new commander.
    SetCommander {
        /// The user.
        user: String,
    },
    /// Someone else works on it.
    Assign {
        /// The user.
        user: String,
    },
}

/// The pattern of a severity a request names.
const SEVERITY_PATTERN: &str = "^([Ss][Ee][Vv])?[1-4]$";

impl utoipa::PartialSchema for ActionBody {
    fn schema() -> RefOr<Schema> {
        let text = |pattern: &str, max: usize, what: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(max))
                .pattern(Some(pattern))
                .description(Some(what))
        };
        let variant = |action: &str, what: &str, field: Option<(&str, ObjectBuilder)>| {
            let mut object = ObjectBuilder::new()
                .description(Some(what))
                .property(
                    "action",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([action])),
                )
                .required("action")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            if let Some((name, schema)) = field {
                object = object.property(name, schema).required(name);
            }
            object
        };
        Schema::OneOf(
            OneOfBuilder::new()
                .description(Some("An action on an incident, named by `action`."))
                .item(variant(
                    "acknowledge",
                    "Someone is on it: paging stops.",
                    None,
                ))
                .item(variant(
                    "unacknowledge",
                    "Nobody is on it any more: paging starts again.",
                    None,
                ))
                .item(variant("mitigate", "The impact is over.", None))
                .item(variant("resolve", "It is over.", None))
                .item(variant("reopen", "It is back.", None))
                .item(variant(
                    "set_severity",
                    "A new severity.",
                    Some((
                        "severity",
                        text(SEVERITY_PATTERN, 4, "`SEV1` (worst) to `SEV4`."),
                    )),
                ))
                .item(variant(
                    "set_commander",
                    "A new commander.",
                    Some(("user", text("\\S", 128, "The user."))),
                ))
                .item(variant(
                    "assign",
                    "Someone else works on it.",
                    Some(("user", text("\\S", 128, "The user."))),
                ))
                .build(),
        )
        .into()
    }
}

impl ToSchema for ActionBody {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("ActionBody")
    }
}

/// A note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    /// The text.
    #[schema(min_length = 1, max_length = 4096, pattern = "\\S")]
    text: String,
}

/// What a person does to a plan step.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StepCommandName {
    /// Approve the step waiting for approval.
    Approve,
    /// Run the failed step again.
    Retry,
    /// Leave it out.
    Skip,
    /// Tick the checklist item.
    Done,
}

/// A command on a plan step.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepBody {
    /// The command.
    command: StepCommandName,
}

/// A new action item.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewActionItemBody {
    /// What to do.
    #[schema(min_length = 1, max_length = 4096, pattern = "\\S")]
    title: String,
    /// What for (default `prevent`).
    #[serde(default)]
    kind: Option<ItemKind>,
    /// Who does it.
    #[serde(default)]
    #[schema(max_length = 128)]
    owner: Option<String>,
    /// Where it is (default `open`).
    #[serde(default)]
    status: Option<ItemStatus>,
}

/// An action item's fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionItemBody {
    /// What to do (required for a new item).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 4096, pattern = "\\S")]
    title: Option<String>,
    /// What for (a new item: `prevent`).
    #[serde(default)]
    kind: Option<ItemKind>,
    /// Who does it.
    #[serde(default)]
    #[schema(max_length = 128)]
    owner: Option<String>,
    /// Where it is (a new item: `open`).
    #[serde(default)]
    status: Option<ItemStatus>,
}

/// What an action item is for.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ItemKind {
    /// Reduces the impact of the next such incident.
    Mitigate,
    /// Keeps it from happening again.
    Prevent,
    /// Changes how people work.
    Process,
}

/// Where an action item is.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ItemStatus {
    /// Nobody started it.
    Open,
    /// Someone works on it.
    InProgress,
    /// Done.
    Done,
}

impl From<ItemKind> for ActionKind {
    fn from(kind: ItemKind) -> Self {
        match kind {
            ItemKind::Mitigate => ActionKind::Mitigate,
            ItemKind::Prevent => ActionKind::Prevent,
            ItemKind::Process => ActionKind::Process,
        }
    }
}

impl From<ItemStatus> for ActionStatus {
    fn from(status: ItemStatus) -> Self {
        match status {
            ItemStatus::Open => ActionStatus::Open,
            ItemStatus::InProgress => ActionStatus::InProgress,
            ItemStatus::Done => ActionStatus::Done,
        }
    }
}

/// An incident with what is computed from it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncidentView {
    /// The record: id, title, severity, status, services, people, alert
    /// groups, times, its plan's run, its action items.
    #[schema(value_type = Object)]
    pub incident: Incident,
    /// Seconds from the first alert to the opening, and from the opening
    /// to acknowledgement, mitigation and resolution, as far as it got.
    pub durations: DurationsView,
    /// Its impact now, in sentences.
    pub impact: Vec<String>,
    /// The severity its impact calls for.
    pub impact_severity: String,
}

/// Response times in seconds.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct DurationsView {
    /// Time to detect.
    pub detect_seconds: Option<i64>,
    /// Time to acknowledge.
    pub acknowledge_seconds: Option<i64>,
    /// Time to mitigate.
    pub mitigate_seconds: Option<i64>,
    /// Time to resolve.
    pub resolve_seconds: Option<i64>,
}

/// Mean response times across incidents.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatsView {
    /// How many incidents the means are over (the newest, at most 1000).
    pub incidents: usize,
    /// How many are open.
    pub open: usize,
    /// Mean time to detect, seconds.
    pub mttd_seconds: Option<i64>,
    /// Mean time to acknowledge (MTTA), seconds.
    pub mtta_seconds: Option<i64>,
    /// Mean time to mitigate, seconds.
    pub mttm_seconds: Option<i64>,
    /// Mean time to resolve (MTTR), seconds.
    pub mttr_seconds: Option<i64>,
}

/// One line of a timeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntryView {
    /// When.
    pub at: DateTime<Utc>,
    /// `alert`, `notification`, `status`, `escalation`, `action`,
    /// `change` or `note`.
    pub kind: String,
    /// What happened.
    pub text: String,
}

impl From<&TimelineEntry> for TimelineEntryView {
    fn from(e: &TimelineEntry) -> Self {
        TimelineEntryView {
            at: e.at,
            kind: serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            text: e.text.clone(),
        }
    }
}

fn seconds(d: Option<chrono::TimeDelta>) -> Option<i64> {
    d.map(|d| d.num_seconds())
}

async fn view(incidents: &Incidents, incident: Incident) -> Result<IncidentView, ApiError> {
    let d = incident.durations();
    let impact = incidents.impact(&incident, false).await?;
    Ok(IncidentView {
        durations: DurationsView {
            detect_seconds: seconds(d.detect),
            acknowledge_seconds: seconds(d.acknowledge),
            mitigate_seconds: seconds(d.mitigate),
            resolve_seconds: seconds(d.resolve),
        },
        impact: impact.summary(),
        impact_severity: impact.severity().as_str().to_owned(),
        incident,
    })
}

async fn load(incidents: &Incidents, id: &str) -> Result<Incident, ApiError> {
    incidents
        .manager()
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))
}

fn bounded(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            "invalid_field",
            format!("`{field}` is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// `SEV1` to `SEV4` (any case, or the digit alone), exactly as the
/// schema's pattern says: nothing around it.
fn severity(field: &str, text: &str) -> Result<Severity, ApiError> {
    if text.trim() != text {
        return Err(ApiError::invalid(
            "invalid_field",
            format!("`{field}`: {text:?} has spaces around it"),
        ));
    }
    text.parse().map_err(|e: steward_incident::Error| {
        ApiError::invalid("invalid_field", format!("`{field}`: {e}"))
    })
}

/// Incidents, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    operation_id = "list_incidents",
    tag = "incidents",
    security(("token" = ["viewer"])),
    params(ListParams),
    responses((status = 200, description = "Incidents, newest first", body = Vec<Object>))
)]
pub(crate) async fn list(
    State(incidents): State<Incidents>,
    _viewer: Viewer,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<Vec<Incident>>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("invalid query parameter: limit: must be between 1 and 1000, got {limit}"),
        ));
    }
    Ok(Json(incidents.manager().list(params.open, limit).await?))
}

/// Opens an incident by hand; escalation and its response plan start.
#[utoipa::path(
    post,
    path = "/api/v1/incidents",
    operation_id = "open_incident",
    tag = "incidents",
    security(("token" = ["operator"])),
    request_body = OpenBody,
    responses(
        (status = 201, description = "The incident, opened", body = Object),
        (status = 422, description = "Invalid request", body = ErrorBody),
    )
)]
pub(crate) async fn open(
    State(incidents): State<Incidents>,
    Operator(principal): Operator,
    JsonBody(body): JsonBody<OpenBody>,
) -> Result<(StatusCode, Json<Incident>), ApiError> {
    let severity = severity("severity", &body.severity)?;
    if let Some(commander) = &body.commander {
        bounded("commander", commander, 128)?;
    }
    let incident = incidents
        .manager()
        .open(
            OpenRequest {
                title: body.title,
                severity,
                services: body
                    .services
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect::<BTreeSet<_>>(),
                commander: body.commander,
            },
            principal.actor,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(incident)))
}

/// Mean times to detect, acknowledge, mitigate and resolve.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/stats",
    operation_id = "incident_stats",
    tag = "incidents",
    security(("token" = ["viewer"])),
    responses((status = 200, description = "Mean times over the newest 1000 incidents", body = StatsView))
)]
pub(crate) async fn stats(
    State(incidents): State<Incidents>,
    _viewer: Viewer,
) -> Result<Json<StatsView>, ApiError> {
    let all = incidents.manager().list(false, 1000).await?;
    let means = mean_times(&all);
    let mean = |m: Option<(chrono::TimeDelta, usize)>| m.map(|(d, _)| d.num_seconds());
    Ok(Json(StatsView {
        incidents: all.len(),
        open: all.iter().filter(|i| i.is_open()).count(),
        mttd_seconds: mean(means.detect),
        mtta_seconds: mean(means.acknowledge),
        mttm_seconds: mean(means.mitigate),
        mttr_seconds: mean(means.resolve),
    }))
}

/// One incident with its durations and impact.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    operation_id = "get_incident",
    tag = "incidents",
    security(("token" = ["viewer"])),
    params(("id" = String, Path, min_length = 1, description = "Incident id")),
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(incidents): State<Incidents>,
    _viewer: Viewer,
    PathParams(id): PathParams<String>,
) -> Result<Json<IncidentView>, ApiError> {
    let incident = load(&incidents, &id).await?;
    Ok(Json(view(&incidents, incident).await?))
}

/// Acknowledges, unacknowledges, mitigates, resolves or reopens an
/// incident, or sets its severity, commander or assignees.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/actions",
    operation_id = "act_on_incident",
    tag = "incidents",
    security(("token" = ["operator"])),
    params(("id" = String, Path, min_length = 1, description = "Incident id")),
    request_body = ActionBody,
    responses(
        (status = 200, description = "The incident after the action", body = Object),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "Its status does not allow the action", body = ErrorBody),
        (status = 422, description = "Invalid request", body = ErrorBody),
    )
)]
pub(crate) async fn act(
    State(incidents): State<Incidents>,
    Operator(principal): Operator,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<ActionBody>,
) -> Result<Json<Incident>, ApiError> {
    let user = |user: String| {
        if user.trim().is_empty() {
            return Err(ApiError::invalid("invalid_field", "`user` is empty"));
        }
        bounded("user", &user, 128)?;
        Ok::<_, ApiError>(user)
    };
    let action = match body {
        ActionBody::Acknowledge {} => Action::Acknowledge,
        ActionBody::Unacknowledge {} => Action::Unacknowledge,
        ActionBody::Mitigate {} => Action::Mitigate,
        ActionBody::Resolve {} => Action::Resolve,
        ActionBody::Reopen {} => Action::Reopen,
        ActionBody::SetSeverity { severity: text } => {
            Action::SetSeverity(severity("severity", &text)?)
        }
        ActionBody::SetCommander { user: name } => Action::SetCommander(user(name)?),
        ActionBody::Assign { user: name } => Action::Assign(user(name)?),
    };
    Ok(Json(
        incidents
            .manager()
            .act(&id, action, principal.actor)
            .await?,
    ))
}

/// A note on the incident's timeline.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/notes",
    operation_id = "note_incident",
    tag = "incidents",
    security(("token" = ["operator"])),
    params(("id" = String, Path, min_length = 1, description = "Incident id")),
    request_body = NoteBody,
    responses(
        (status = 204, description = "Noted"),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "Invalid request", body = ErrorBody),
    )
)]
pub(crate) async fn note(
    State(incidents): State<Incidents>,
    Operator(principal): Operator,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<NoteBody>,
) -> Result<StatusCode, ApiError> {
    bounded("text", &body.text, MAX_TEXT)?;
    incidents
        .manager()
        .note(&id, &body.text, principal.actor)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Approves, retries, skips or ticks step `step` (from 1) of the
/// incident's response plan.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/steps/{step}",
    operation_id = "incident_step",
    tag = "incidents",
    security(("token" = ["operator"])),
    params(
        ("id" = String, Path, min_length = 1, description = "Incident id"),
        ("step" = u32, Path, minimum = 1, description = "Step number, from 1"),
    ),
    request_body = StepBody,
    responses(
        (status = 200, description = "The incident after the command", body = Object),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The step is not where the command applies", body = ErrorBody),
        (status = 422, description = "Invalid request, or no such step", body = ErrorBody),
    )
)]
pub(crate) async fn step(
    State(incidents): State<Incidents>,
    Operator(principal): Operator,
    PathParams((id, step)): PathParams<(String, u32)>,
    JsonBody(body): JsonBody<StepBody>,
) -> Result<Json<Incident>, ApiError> {
    let command = match body.command {
        StepCommandName::Approve => StepCommand::Approve,
        StepCommandName::Retry => StepCommand::Retry,
        StepCommandName::Skip => StepCommand::Skip,
        StepCommandName::Done => StepCommand::Done,
    };
    Ok(Json(
        incidents
            .manager()
            .step(&id, step as usize, command, principal.actor)
            .await?,
    ))
}

fn item_change(body: ActionItemBody, id: Option<String>) -> Result<ActionItemChange, ApiError> {
    if let Some(title) = &body.title {
        bounded("title", title, MAX_TEXT)?;
    }
    if let Some(owner) = &body.owner {
        bounded("owner", owner, 128)?;
    }
    Ok(ActionItemChange {
        id,
        title: body.title,
        kind: body.kind.map(ActionKind::from),
        owner: body.owner,
        status: body.status.map(ActionStatus::from),
    })
}

/// Adds an action item.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/action_items",
    operation_id = "add_action_item",
    tag = "incidents",
    security(("token" = ["operator"])),
    params(("id" = String, Path, min_length = 1, description = "Incident id")),
    request_body = NewActionItemBody,
    responses(
        (status = 201, description = "The action item", body = Object),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "Invalid request", body = ErrorBody),
    )
)]
pub(crate) async fn add_action_item(
    State(incidents): State<Incidents>,
    Operator(principal): Operator,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<NewActionItemBody>,
) -> Result<(StatusCode, Json<ActionItem>), ApiError> {
    let change = item_change(
        ActionItemBody {
            title: Some(body.title),
            kind: body.kind,
            owner: body.owner,
            status: body.status,
        },
        None,
    )?;
    let item = incidents
        .manager()
        .action_item(&id, change, principal.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// Changes an action item (its title, kind, owner or status).
#[utoipa::path(
    patch,
    path = "/api/v1/incidents/{id}/action_items/{item}",
    operation_id = "change_action_item",
    tag = "incidents",
    security(("token" = ["operator"])),
    params(
        ("id" = String, Path, min_length = 1, description = "Incident id"),
        ("item" = String, Path, min_length = 1, description = "Action item id"),
    ),
    request_body = ActionItemBody,
    responses(
        (status = 200, description = "The action item", body = Object),
        (status = 404, description = "No such incident or item", body = ErrorBody),
        (status = 422, description = "Invalid request", body = ErrorBody),
    )
)]
pub(crate) async fn change_action_item(
    State(incidents): State<Incidents>,
    Operator(principal): Operator,
    PathParams((id, item)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<ActionItemBody>,
) -> Result<Json<ActionItem>, ApiError> {
    let change = item_change(body, Some(item))?;
    Ok(Json(
        incidents
            .manager()
            .action_item(&id, change, principal.actor)
            .await?,
    ))
}

/// The incident's timeline from the journal, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/timeline",
    operation_id = "incident_timeline",
    tag = "incidents",
    security(("token" = ["viewer"])),
    params(("id" = String, Path, min_length = 1, description = "Incident id")),
    responses(
        (status = 200, description = "The timeline", body = Vec<TimelineEntryView>),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
pub(crate) async fn timeline(
    State(incidents): State<Incidents>,
    _viewer: Viewer,
    PathParams(id): PathParams<String>,
) -> Result<Json<Vec<TimelineEntryView>>, ApiError> {
    let incident = load(&incidents, &id).await?;
    let entries = incidents.timeline(&incident).await?;
    Ok(Json(entries.iter().map(TimelineEntryView::from).collect()))
}

/// The incident's root-cause candidates, likeliest first (empty: no
/// change found).
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/candidates",
    operation_id = "incident_candidates",
    tag = "incidents",
    security(("token" = ["viewer"])),
    params(("id" = String, Path, min_length = 1, description = "Incident id")),
    responses(
        (status = 200, description = "The candidates", body = Vec<CandidateView>),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
pub(crate) async fn candidates(
    State(incidents): State<Incidents>,
    _viewer: Viewer,
    PathParams(id): PathParams<String>,
) -> Result<Json<Vec<CandidateView>>, ApiError> {
    let incident = load(&incidents, &id).await?;
    let candidates = incidents.candidates(&incident).await?;
    Ok(Json(candidates.iter().map(CandidateView::from).collect()))
}

/// The incident's postmortem draft in Markdown.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/postmortem",
    operation_id = "incident_postmortem",
    tag = "incidents",
    security(("token" = ["viewer"])),
    params(("id" = String, Path, min_length = 1, description = "Incident id")),
    responses(
        (status = 200, description = "The postmortem", body = String, content_type = "text/markdown"),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
pub(crate) async fn postmortem(
    State(incidents): State<Incidents>,
    _viewer: Viewer,
    PathParams(id): PathParams<String>,
) -> Result<impl IntoResponse, ApiError> {
    let incident = load(&incidents, &id).await?;
    let markdown = incidents.postmortem(&incident).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        markdown,
    ))
}

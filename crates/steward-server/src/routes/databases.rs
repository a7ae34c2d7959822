//! The configured databases and their migrations over the API: status,
//! plan, apply, down, repair, baseline, drift, backups and restore. Runs
//! are journaled as they go (`migration.started`, `migration.applied`,
//! `migration.failed`, `migration.rolled_back`, ...), with the caller as
//! actor.

use std::sync::Arc;

use axum::{
    Json,
    extract::{FromRef, State},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_config::LoadedConfig;
use steward_core::{Actor, ErrorCode, NewEvent, Severity};
use steward_migrate::{
    Drift, MigrationEvent, MigrationManager, Options, Plan, RepairAction, RunReport,
    backup::BackupInfo,
    progress::{Progress, ProgressEvent},
    status::Status,
};
use steward_store::Store;
use tokio::sync::mpsc;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    ApiError, AppState,
    auth::{Admin, Operator, Viewer},
    error::ErrorBody,
    extract::{JsonBody, PathParams},
};

/// The migration routes.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(status))
        .routes(routes!(plan))
        .routes(routes!(apply))
        .routes(routes!(down))
        .routes(routes!(repair))
        .routes(routes!(baseline))
        .routes(routes!(drift))
        .routes(routes!(backups))
        .routes(routes!(restore))
}

/// What the migration routes work with: the configured databases (and
/// the data directory their backups go to) and the journal.
#[derive(Clone)]
pub(crate) struct Migrations {
    config: Arc<LoadedConfig>,
    store: Store,
}

impl Migrations {
    fn config(&self) -> &LoadedConfig {
        &self.config
    }

    fn store(&self) -> &Store {
        &self.store
    }
}

impl FromRef<AppState> for Migrations {
    fn from_ref(state: &AppState) -> Self {
        Migrations {
            config: FromRef::from_ref(state),
            store: FromRef::from_ref(state),
        }
    }
}

/// A configured database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DatabaseSummary {
    /// Its name.
    pub name: String,
    /// `sqlite`, `postgres` or `mysql`.
    pub engine: String,
    /// Its migrations directory.
    pub migrations: Option<String>,
    /// The newest applied version, when the database answered.
    pub current: Option<String>,
    /// Migrations not applied yet.
    pub pending: usize,
    /// Migrations that need attention (changed, missing, failed...).
    pub problems: usize,
    /// Why the status could not be read, if it could not (the details
    /// are in the server's log, not here: viewers read this).
    pub error: Option<String>,
    /// The code of that error, e.g. `database_unreachable`.
    pub error_code: Option<String>,
}

/// Options of an apply.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplyRequest {
    /// Apply only up to this version.
    #[serde(default)]
    #[schema(pattern = "^[0-9]+([._-][0-9]+)*$")]
    target: Option<String>,
    /// Run pending migrations older than the newest applied one.
    #[serde(default)]
    allow_out_of_order: bool,
    /// Refuse when a lint finding is at least this severe.
    #[serde(default)]
    deny: Option<Severity>,
}

/// Options of a down.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DownRequest {
    /// Undo every migration newer than this version; without it, the newest.
    #[serde(default)]
    #[schema(pattern = "^[0-9]+([._-][0-9]+)*$")]
    to: Option<String>,
}

/// Options of a repair.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RepairRequest {
    /// Only report what would change.
    #[serde(default)]
    dry_run: bool,
}

/// A baseline to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BaselineRequest {
    /// The version the database already has.
    #[schema(pattern = "^[0-9]+([._-][0-9]+)*$")]
    version: String,
}

/// A backup to restore.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestoreRequest {
    /// Backup id (or unique id prefix).
    #[schema(min_length = 1)]
    backup: String,
}

/// The manager of a configured database, acting for `actor`.
fn migration_manager(
    state: &Migrations,
    name: &str,
    actor: &str,
    configure: impl FnOnce(&mut Options),
) -> Result<MigrationManager, ApiError> {
    let loaded = state.config();
    let database = loaded
        .config
        .databases
        .iter()
        .find(|d| d.name.as_str() == name)
        .ok_or_else(|| ApiError::not_found(format!("no database `{name}` is configured")))?;
    steward_migrate::configured::manager(
        &loaded.config,
        loaded.data_dir(),
        database,
        actor,
        configure,
    )
    .map_err(ApiError::from)
}

/// Lists configured databases with a summary of their migrations.
#[utoipa::path(
    get,
    path = "/api/v1/databases",
    operation_id = "list_databases",
    tag = "migrations",
    security(("token" = ["viewer"])),
    responses((status = 200, description = "Configured databases", body = Vec<DatabaseSummary>))
)]
pub(crate) async fn list(
    State(state): State<Migrations>,
    Viewer(principal): Viewer,
) -> Result<Json<Vec<DatabaseSummary>>, ApiError> {
    let mut summaries = Vec::new();
    for database in &state.config().config.databases {
        let name = database.name.as_str();
        // A driver's error can name hosts, users and paths: it goes to the
        // log, and the caller gets its code and a generic message.
        let status = match migration_manager(&state, name, principal.actor.as_str(), |_| {}) {
            Ok(manager) => manager.status().await.map_err(|err| {
                tracing::warn!(database = name, code = err.code(), error = %err, "cannot read the migration status of a database");
                (err.code(), crate::error::kind_name(err.kind()))
            }),
            Err(err) => {
                tracing::warn!(database = name, code = err.code(), error = ?err, "cannot open the migrations of a database");
                Err((err.code(), err.kind()))
            }
        };
        let (current, pending, problems, error) = match status {
            Ok(status) => (
                status.current.clone(),
                status
                    .entries
                    .iter()
                    .filter(|e| {
                        matches!(
                            e.state,
                            steward_migrate::status::State::Pending
                                | steward_migrate::status::State::Outdated
                        )
                    })
                    .count(),
                status.problems(false).len(),
                None,
            ),
            Err(error) => (None, 0, 0, Some(error)),
        };
        let (error, error_code) = match error {
            Some((code, kind)) => (
                Some(
                    if kind == "unavailable" {
                        "the database does not answer; the server log has the details"
                    } else {
                        "cannot read the migration status; the server log has the details"
                    }
                    .to_owned(),
                ),
                Some(code.to_owned()),
            ),
            None => (None, None),
        };
        summaries.push(DatabaseSummary {
            name: database.name.to_string(),
            engine: database.engine().to_owned(),
            migrations: database
                .migrations
                .as_ref()
                .map(|p| p.display().to_string()),
            current,
            pending,
            problems,
            error,
            error_code,
        });
    }
    Ok(Json(summaries))
}

/// Where every migration of a database stands.
#[utoipa::path(
    get,
    path = "/api/v1/databases/{name}/migrations",
    operation_id = "migration_status",
    tag = "migrations",
    params(("name" = String, Path, min_length = 1, description = "Database name")),
    security(("token" = ["viewer"])),
    responses(
        (status = 200, description = "The status", body = Object),
        (status = 404, description = "No such database", body = ErrorBody),
        (status = 409, description = "The database has no migrations directory", body = ErrorBody),
        (status = 422, description = "The database or its history cannot be read (the message says why)", body = ErrorBody),
    )
)]
pub(crate) async fn status(
    State(state): State<Migrations>,
    Viewer(principal): Viewer,
    PathParams(name): PathParams<String>,
) -> Result<Json<Status>, ApiError> {
    let manager = migration_manager(&state, &name, principal.actor.as_str(), |_| {})?;
    Ok(Json(manager.status().await?))
}

/// The SQL an apply would run, with lint findings; changes nothing.
#[utoipa::path(
    get,
    path = "/api/v1/databases/{name}/plan",
    operation_id = "migration_plan",
    tag = "migrations",
    params(("name" = String, Path, min_length = 1, description = "Database name")),
    security(("token" = ["viewer"])),
    responses(
        (status = 200, description = "The plan", body = Object),
        (status = 404, description = "No such database", body = ErrorBody),
        (status = 409, description = "The database has no migrations directory", body = ErrorBody),
        (status = 422, description = "The database or its history cannot be read (the message says why)", body = ErrorBody),
    )
)]
pub(crate) async fn plan(
    State(state): State<Migrations>,
    Viewer(principal): Viewer,
    PathParams(name): PathParams<String>,
) -> Result<Json<Plan>, ApiError> {
    let manager = migration_manager(&state, &name, principal.actor.as_str(), |_| {})?;
    Ok(Json(manager.plan().await?))
}

/// Applies pending migrations (operator role), journaling each step.
#[utoipa::path(
    post,
    path = "/api/v1/databases/{name}/apply",
    operation_id = "migration_apply",
    tag = "migrations",
    params(("name" = String, Path, min_length = 1, description = "Database name")),
    request_body = ApplyRequest,
    security(("token" = ["operator"])),
    responses(
        (status = 200, description = "What was applied", body = Object),
        (status = 404, description = "No such database", body = ErrorBody),
        (status = 409, description = "Locked by another run, files that diverge from the history, or no migrations directory", body = ErrorBody),
        (status = 422, description = "`target` is not a version, lint denied the plan, or a migration failed (the message says how the database was left)", body = ErrorBody),
    )
)]
pub(crate) async fn apply(
    State(state): State<Migrations>,
    Operator(principal): Operator,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<ApplyRequest>,
) -> Result<Json<RunReport>, ApiError> {
    let manager = migration_manager(&state, &name, principal.actor.as_str(), |options| {
        options.target = request.target;
        options.allow_out_of_order = request.allow_out_of_order;
        options.deny = request.deny;
    })?;
    let journal = JournalProgress::start(&state, &name, principal.actor.clone());
    let result = manager
        .with_progress(Arc::new(journal.clone()))
        .apply()
        .await;
    journal.finish().await;
    Ok(Json(result?))
}

/// Undoes the newest migration, or every one above `to` (admin role: it
/// destroys data).
#[utoipa::path(
    post,
    path = "/api/v1/databases/{name}/down",
    operation_id = "migration_down",
    tag = "migrations",
    params(("name" = String, Path, min_length = 1, description = "Database name")),
    request_body = DownRequest,
    security(("token" = ["admin"])),
    responses(
        (status = 200, description = "What was undone", body = Object),
        (status = 404, description = "No such database", body = ErrorBody),
        (status = 409, description = "Locked by another run, an applied migration without a down file (or without its file), or no migrations directory", body = ErrorBody),
        (status = 422, description = "A down migration failed (the message says how the database was left)", body = ErrorBody),
    )
)]
pub(crate) async fn down(
    State(state): State<Migrations>,
    Admin(principal): Admin,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<DownRequest>,
) -> Result<Json<RunReport>, ApiError> {
    let manager = migration_manager(&state, &name, principal.actor.as_str(), |_| {})?;
    let journal = JournalProgress::start(&state, &name, principal.actor.clone());
    let result = manager
        .with_progress(Arc::new(journal.clone()))
        .down(request.to.as_deref())
        .await;
    journal.finish().await;
    Ok(Json(result?))
}

/// Re-aligns checksums and clears failed rows (admin role: it rewrites the
/// history that guards the database).
#[utoipa::path(
    post,
    path = "/api/v1/databases/{name}/repair",
    operation_id = "migration_repair",
    tag = "migrations",
    params(("name" = String, Path, min_length = 1, description = "Database name")),
    request_body = RepairRequest,
    security(("token" = ["admin"])),
    responses(
        (status = 200, description = "The repairs made (or that would be made)", body = Vec<Object>),
        (status = 404, description = "No such database", body = ErrorBody),
        (status = 409, description = "Locked by another run, or no migrations directory", body = ErrorBody),
        (status = 422, description = "The repair failed", body = ErrorBody),
    )
)]
pub(crate) async fn repair(
    State(state): State<Migrations>,
    Admin(principal): Admin,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<RepairRequest>,
) -> Result<Json<Vec<RepairAction>>, ApiError> {
    let manager = migration_manager(&state, &name, principal.actor.as_str(), |_| {})?;
    if request.dry_run {
        return Ok(Json(manager.repair_plan().await?));
    }
    let actions = manager.repair().await?;
    if !actions.is_empty() {
        append(
            &state,
            MigrationEvent::Repaired,
            principal.actor,
            Severity::Warning,
            format!("repaired {} history row(s) of {name}", actions.len()),
            json!({"database": name, "actions": actions}),
        )
        .await?;
    }
    Ok(Json(actions))
}

/// Adopts an existing database at a version (operator role).
#[utoipa::path(
    post,
    path = "/api/v1/databases/{name}/baseline",
    operation_id = "migration_baseline",
    tag = "migrations",
    params(("name" = String, Path, min_length = 1, description = "Database name")),
    request_body = BaselineRequest,
    security(("token" = ["operator"])),
    responses(
        (status = 200, description = "The new status", body = Object),
        (status = 404, description = "No such database", body = ErrorBody),
        (status = 409, description = "The database already has migration history, is locked by another run, or has no migrations directory", body = ErrorBody),
        (status = 422, description = "The database cannot be read or written (the message says why)", body = ErrorBody),
    )
)]
pub(crate) async fn baseline(
    State(state): State<Migrations>,
    Operator(principal): Operator,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<BaselineRequest>,
) -> Result<Json<Status>, ApiError> {
    let manager = migration_manager(&state, &name, principal.actor.as_str(), |_| {})?;
    manager.baseline(&request.version).await?;
    append(
        &state,
        MigrationEvent::Baseline,
        principal.actor,
        Severity::Info,
        format!("adopted {name} at version {}", request.version),
        json!({"database": name, "version": request.version}),
    )
    .await?;
    Ok(Json(manager.status().await?))
}

/// Compares the live schema with what the migrations produced.
#[utoipa::path(
    get,
    path = "/api/v1/databases/{name}/drift",
    operation_id = "migration_drift",
    tag = "migrations",
    params(("name" = String, Path, min_length = 1, description = "Database name")),
    security(("token" = ["viewer"])),
    responses(
        (status = 200, description = "The drift report", body = Object),
        (status = 404, description = "No such database", body = ErrorBody),
        (status = 409, description = "The database has no migrations directory", body = ErrorBody),
        (status = 422, description = "The database or its history cannot be read (the message says why)", body = ErrorBody),
    )
)]
pub(crate) async fn drift(
    State(state): State<Migrations>,
    Viewer(principal): Viewer,
    PathParams(name): PathParams<String>,
) -> Result<Json<Drift>, ApiError> {
    let manager = migration_manager(&state, &name, principal.actor.as_str(), |_| {})?;
    Ok(Json(manager.drift().await?))
}

/// Lists the backups of a database, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/databases/{name}/backups",
    operation_id = "migration_backups",
    tag = "migrations",
    params(("name" = String, Path, min_length = 1, description = "Database name")),
    security(("token" = ["viewer"])),
    responses(
        (status = 200, description = "Backups", body = Vec<Object>),
        (status = 404, description = "No such database", body = ErrorBody),
        (status = 409, description = "The database has no migrations directory", body = ErrorBody),
        (status = 422, description = "The backup directory cannot be read", body = ErrorBody),
    )
)]
pub(crate) async fn backups(
    State(state): State<Migrations>,
    Viewer(principal): Viewer,
    PathParams(name): PathParams<String>,
) -> Result<Json<Vec<BackupInfo>>, ApiError> {
    let manager = migration_manager(&state, &name, principal.actor.as_str(), |_| {})?;
    Ok(Json(manager.backups()?))
}

/// Restores a backup over the live database (admin role: it replaces
/// everything written since).
#[utoipa::path(
    post,
    path = "/api/v1/databases/{name}/restore",
    operation_id = "migration_restore",
    tag = "migrations",
    params(("name" = String, Path, min_length = 1, description = "Database name")),
    request_body = RestoreRequest,
    security(("token" = ["admin"])),
    responses(
        (status = 200, description = "The backup restored", body = Object),
        (status = 404, description = "No such database, or no backup with this id", body = ErrorBody),
        (status = 409, description = "The id prefix matches several backups, the database is locked by another run, or it has no migrations directory", body = ErrorBody),
        (status = 422, description = "The restore failed (the message says how the database was left)", body = ErrorBody),
    )
)]
pub(crate) async fn restore(
    State(state): State<Migrations>,
    Admin(principal): Admin,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<RestoreRequest>,
) -> Result<Json<BackupInfo>, ApiError> {
    // An empty prefix would pick whichever backup is alone.
    if request.backup.is_empty() {
        return Err(ApiError::invalid(
            "invalid_body",
            "backup: must not be empty",
        ));
    }
    let manager = migration_manager(&state, &name, principal.actor.as_str(), |_| {})?;
    let backup = manager.restore(&request.backup).await?;
    append(
        &state,
        MigrationEvent::Restored,
        principal.actor,
        Severity::Warning,
        format!(
            "restored {name} from backup {} ({})",
            backup.id, backup.reason
        ),
        json!({"database": name, "backup": backup.id}),
    )
    .await?;
    Ok(Json(backup))
}

async fn append(
    state: &Migrations,
    kind: MigrationEvent,
    actor: Actor,
    severity: Severity,
    summary: String,
    payload: serde_json::Value,
) -> Result<(), ApiError> {
    let event = NewEvent::new(kind.kind(), actor, summary)
        .severity(severity)
        .payload(payload);
    state.store().append(event).await?;
    Ok(())
}

/// Journals a run's progress in order: the engine reports synchronously,
/// a task appends the events one by one.
#[derive(Clone)]
struct JournalProgress {
    sender: mpsc::UnboundedSender<ProgressEvent>,
    writer: Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl JournalProgress {
    fn start(state: &Migrations, database: &str, actor: Actor) -> Self {
        let (sender, mut receiver) = mpsc::unbounded_channel::<ProgressEvent>();
        let state = state.clone();
        let database = database.to_owned();
        let writer = tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                let Some((kind, severity, summary)) = describe(&event, &database) else {
                    continue;
                };
                let payload = json!({"database": database, "progress": event});
                if let Err(err) =
                    append(&state, kind, actor.clone(), severity, summary, payload).await
                {
                    tracing::warn!(?err, database = %database, "cannot journal migration progress");
                }
            }
        });
        JournalProgress {
            sender,
            writer: Arc::new(tokio::sync::Mutex::new(Some(writer))),
        }
    }

    /// Waits until every event sent so far is journaled.
    async fn finish(self) {
        let writer = self.writer.lock().await.take();
        drop(self.sender);
        if let Some(writer) = writer {
            let _ = writer.await;
        }
    }
}

impl Progress for JournalProgress {
    fn event(&self, event: &ProgressEvent) {
        let _ = self.sender.send(event.clone());
    }
}

/// The journal kind, severity and summary of a progress event (statement
/// progress is not journaled).
fn describe(event: &ProgressEvent, database: &str) -> Option<(MigrationEvent, Severity, String)> {
    Some(match event {
        ProgressEvent::Started { total } if *total > 0 => (
            MigrationEvent::Started,
            Severity::Info,
            format!("applying {total} migration(s) to {database}"),
        ),
        ProgressEvent::BackupTaken { backup } => (
            MigrationEvent::Backup,
            Severity::Info,
            format!("backed up {database} ({}): {}", backup.reason, backup.id),
        ),
        ProgressEvent::MigrationApplied {
            migration,
            execution_ms,
            ..
        } => (
            MigrationEvent::Applied,
            Severity::Info,
            format!("applied {migration} to {database} in {execution_ms} ms"),
        ),
        ProgressEvent::MigrationFailed { migration, error } => (
            MigrationEvent::Failed,
            Severity::Error,
            format!(
                "{migration} failed on {database}: {}",
                error.lines().next().unwrap_or_default()
            ),
        ),
        ProgressEvent::RolledBack { migration, backup } => (
            MigrationEvent::RolledBack,
            Severity::Warning,
            match backup {
                Some(backup) => {
                    format!("restored {database} from backup {backup} after {migration} failed")
                }
                None => {
                    format!("rolled back {migration} on {database}: its transaction was undone")
                }
            },
        ),
        ProgressEvent::MigrationUndone {
            migration,
            execution_ms,
        } => (
            MigrationEvent::Undone,
            Severity::Warning,
            format!("undid {migration} on {database} in {execution_ms} ms"),
        ),
        _ => return None,
    })
}

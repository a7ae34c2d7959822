//! What steward knows: itself, the configured services and databases, and
//! the caller's identity.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use steward_config::{Probe, ServiceConfig};
use steward_core::Event;
use steward_deploy::ReplicaStatus;
use steward_store::EventQuery;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{ApiError, AppState, Principal, auth::Viewer};

/// What steward knows, and who is calling.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(whoami))
}

/// Steward itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StewardStatus {
    /// Steward's version.
    pub version: String,
    /// When this server started.
    pub started_at: DateTime<Utc>,
    /// Seconds since start.
    pub uptime_seconds: i64,
    /// `sqlite` or `postgres`.
    pub store: String,
    /// Version of steward's own schema.
    pub schema_version: String,
    /// Where the configuration came from.
    pub config: String,
    /// Id of the newest journal event.
    pub latest_event_id: i64,
}

/// One configured service and what steward knows of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceStatus {
    /// Service name.
    pub name: String,
    /// Desired replicas.
    pub replicas: u32,
    /// Public port, if any.
    pub port: Option<u16>,
    /// Backends it can run on (`process`, `docker`).
    pub backends: Vec<String>,
    /// Services it depends on.
    pub depends_on: Vec<String>,
    /// The health check, e.g. `http /healthz every 2s`.
    pub health: Option<String>,
    /// `not_deployed` until a deployment has run it; then `running`
    /// (every desired replica runs), `degraded` (fewer) or `stopped`.
    pub state: String,
    /// The release version it settled on.
    pub version: Option<String>,
    /// Replicas running now (and restarting after a crash).
    pub running: u32,
    /// Replicas its proxy sends traffic to (all running ones when it has
    /// no proxy); the others are a blue-green set kept for a rollback, or
    /// taken out by the health watcher.
    pub serving: u32,
    /// Where its proxy listens.
    pub proxy: Option<String>,
    /// Its replicas: id, version, address, state, whether in the proxy.
    #[schema(value_type = Vec<Object>)]
    pub instances: Vec<ReplicaStatus>,
    /// The newest journal event about it.
    pub last_event: Option<Event>,
}

/// One configured database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DatabaseStatus {
    /// Database name.
    pub name: String,
    /// Engine, from the URL scheme.
    pub engine: String,
    /// Migrations directory, if configured.
    pub migrations: Option<String>,
}

/// Everything `steward status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// Steward itself.
    pub steward: StewardStatus,
    /// Configured services, in configuration order.
    pub services: Vec<ServiceStatus>,
    /// Configured databases.
    pub databases: Vec<DatabaseStatus>,
}

fn describe_health(service: &ServiceConfig) -> Option<String> {
    let health = service.health.as_ref()?;
    let probe = match health.probe() {
        Probe::Http(path) => format!("http {path}"),
        Probe::Tcp => "tcp".to_owned(),
        Probe::Command(argv) => format!("command {}", argv.join(" ")),
    };
    Some(format!("{probe} every {}", health.interval))
}

/// Steward's state, the configured services and databases.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    operation_id = "status",
    tag = "status",
    security(("token" = ["viewer"])),
    responses(
        (status = 200, description = "What steward knows", body = Status),
    )
)]
pub(crate) async fn status(
    State(state): State<AppState>,
    _viewer: Viewer,
) -> Result<Json<Status>, ApiError> {
    // The one view across subsystems: it takes the whole state, and shows
    // deployments only when this server runs them.
    let store = state.store();
    let loaded = state.config();
    let mut services = Vec::with_capacity(loaded.config.services.len());
    let running = match state.deployments() {
        Some(manager) => manager
            .status(&loaded.config)
            .await
            .map_err(|err| ApiError::from_error(&err))?,
        None => Vec::new(),
    };
    for service in &loaded.config.services {
        let live = running.iter().find(|status| status.service == service.name);
        let last = store
            .events(&EventQuery {
                service: Some(service.name.to_string()),
                limit: Some(1),
                ..EventQuery::default()
            })
            .await?;
        let mut backends = Vec::new();
        if service.process.is_some() {
            backends.push("process".to_owned());
        }
        if service.docker.is_some() {
            backends.push("docker".to_owned());
        }
        services.push(ServiceStatus {
            name: service.name.to_string(),
            replicas: service.replicas,
            port: service.port,
            backends,
            depends_on: service.depends_on.iter().map(ToString::to_string).collect(),
            health: describe_health(service),
            state: match live {
                Some(live) if live.version.is_some() => {
                    let up = live
                        .replicas
                        .iter()
                        .filter(|r| r.in_proxy || live.proxy.is_none())
                        .count() as u32;
                    if up >= live.desired && up > 0 {
                        "running"
                    } else if up == 0 {
                        "stopped"
                    } else {
                        "degraded"
                    }
                }
                _ => "not_deployed",
            }
            .to_owned(),
            version: live.and_then(|live| live.version.as_ref().map(ToString::to_string)),
            running: live.map_or(0, |live| live.replicas.len() as u32),
            serving: live.map_or(0, |live| {
                live.replicas
                    .iter()
                    .filter(|replica| replica.in_proxy || live.proxy.is_none())
                    .count() as u32
            }),
            proxy: live.and_then(|live| live.proxy.map(|addr| addr.to_string())),
            instances: live.map(|live| live.replicas.clone()).unwrap_or_default(),
            last_event: last.events.into_iter().next(),
        });
    }
    let databases = loaded
        .config
        .databases
        .iter()
        .map(|database| DatabaseStatus {
            name: database.name.to_string(),
            engine: database.engine().to_owned(),
            migrations: database
                .migrations
                .as_ref()
                .map(|path| path.display().to_string()),
        })
        .collect();
    let started_at = state.started_at();
    Ok(Json(Status {
        steward: StewardStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at,
            uptime_seconds: (Utc::now() - started_at).num_seconds(),
            store: store.backend().as_str().to_owned(),
            schema_version: store.schema_version().await?,
            config: loaded.display_name(),
            latest_event_id: store.subscribe().borrow().0,
        },
        services,
        databases,
    }))
}

/// The calling token.
#[utoipa::path(
    get,
    path = "/api/v1/whoami",
    operation_id = "whoami",
    tag = "status",
    security(("token" = ["viewer"])),
    responses(
        (status = 200, description = "The token that made this request", body = Principal),
    )
)]
pub(crate) async fn whoami(Viewer(principal): Viewer) -> Json<Principal> {
    Json(principal)
}

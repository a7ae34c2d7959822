//! The OpenAPI description of steward-deploy's records as the API shows
//! them (`Deployment`, `DeploymentView`, `DeploymentSummary` and their
//! parts). steward-deploy knows nothing of HTTP or OpenAPI, so these
//! schema-only types mirror the JSON its types serialize to; they are
//! never built. The OpenAPI tests check real answers against them, so a
//! field added there and not here fails a test. Parts that are
//! configuration (health check, rollout, resources) are described as the
//! objects of `steward.toml` they come from.

#![allow(
    dead_code,
    reason = "schema-only types: only their derived schemas are used"
)]

use std::{borrow::Cow, collections::BTreeMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use steward_core::{Actor, Name, Version};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{ObjectBuilder, OneOfBuilder, Ref, RefOr, Schema, Type},
};

/// Where a deployment is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DeploymentStatus {
    /// Its steps are running.
    Running,
    /// A step failed or it was cancelled; completed steps are being undone.
    RollingBack,
    /// Every step succeeded.
    Succeeded,
    /// A step failed and every completed step was undone.
    RolledBack,
    /// A rollback failed: what runs is described in `error`.
    Failed,
    /// Refused before anything changed (a pre-check or `pre_deploy` hook).
    Aborted,
}

/// A deployment in a listing.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeploymentSummary {
    /// Its id, `dep_<hex>`.
    id: String,
    /// The release version.
    version: Version,
    /// The services it touches.
    services: Vec<Name>,
    /// Where it is.
    status: DeploymentStatus,
    /// Who started it.
    actor: Actor,
    /// Why.
    reason: Option<String>,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// When it ended.
    finished_at: Option<DateTime<Utc>>,
}

/// How a service's replicas run.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunSpec {
    /// A local process.
    Process {
        /// The argv template, `{port}`, `{replica}`... still in place.
        command: Vec<String>,
        /// Working directory.
        workdir: Option<String>,
    },
    /// A container.
    Docker {
        /// Image reference, `{version}` replaced.
        image: String,
        /// Port inside the container.
        port: u16,
        /// Command override.
        command: Option<Vec<String>>,
    },
}

/// What a service's proxy forwards.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ServiceProtocol {
    /// HTTP/1.1 requests.
    Http,
    /// Plain TCP connections.
    Tcp,
}

/// One service as a release wants it.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServiceSpec {
    /// The service.
    name: Name,
    /// The release version it runs.
    version: Version,
    /// How replicas run.
    run: RunSpec,
    /// Desired number of replicas.
    replicas: u32,
    /// Public port of its proxy.
    port: Option<u16>,
    /// HTTP or TCP through the proxy.
    protocol: ServiceProtocol,
    /// Health check: the service's `health` table of `steward.toml`.
    #[schema(value_type = Option<Object>)]
    health: Option<serde_json::Value>,
    /// Environment of every replica, values shown as `[redacted]`.
    env: BTreeMap<String, String>,
    /// Services that must be healthy first.
    depends_on: Vec<Name>,
    /// Limits per replica: the service's `resources` table.
    #[schema(value_type = Option<Object>)]
    resources: Option<serde_json::Value>,
    /// How updates replace replicas: the service's `rollout` table.
    #[schema(value_type = Object)]
    rollout: serde_json::Value,
}

/// What a service ran before a deployment: its spec, or `null` when it
/// did not run. (utoipa cannot describe a map of `Option`s itself.)
#[derive(Serialize)]
pub(crate) struct PreviousSpec;

impl PartialSchema for PreviousSpec {
    fn schema() -> RefOr<Schema> {
        Schema::OneOf(
            OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .item(Ref::from_schema_name("ServiceSpec"))
                .build(),
        )
        .into()
    }
}

impl ToSchema for PreviousSpec {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PreviousSpec")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ServiceSpec::name().into_owned(), ServiceSpec::schema()));
        ServiceSpec::schemas(schemas);
    }
}

/// A version and the desired spec of each service.
#[derive(Serialize, ToSchema)]
pub(crate) struct Release {
    /// The release version.
    version: Version,
    /// Desired services, in dependency order.
    services: Vec<ServiceSpec>,
}

/// What a deployment does to one service.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ChangeKind {
    /// Not running yet.
    Create,
    /// Replicas are replaced by ones of the new spec.
    Update,
    /// Same spec, different replica count.
    Scale,
    /// No longer in the release.
    Remove,
    /// Already as desired.
    Unchanged,
}

/// The planned change of one service.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServiceChange {
    /// The service.
    service: Name,
    /// What happens to it.
    kind: ChangeKind,
    /// Version running now.
    from_version: Option<Version>,
    /// Version after the deployment.
    to_version: Option<Version>,
    /// Replicas now.
    from_replicas: u32,
    /// Replicas after.
    to_replicas: u32,
}

/// What a step does.
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum StepKind {
    /// Take the deploy lock, waiting for the deployment that holds it.
    DeployLock,
    /// Plan against what runs now and run the pre-deployment checks.
    PreChecks,
    /// Run a configured hook.
    Hook {
        /// Which hook (`pre_deploy`).
        hook: String,
    },
    /// Apply a database's pending migrations.
    DatabaseMigration {
        /// The configured database.
        database: Name,
        /// Versions to apply, in order.
        pending: Vec<String>,
        /// Newest applied version before the step.
        before: Option<String>,
        /// Backup taken by the step.
        backup: Option<String>,
    },
    /// Bring one service to its new spec (or remove it).
    UpdateServices {
        /// The service.
        service: Name,
    },
    /// Check that every changed service stays healthy, then run smoke checks.
    VerifyHealth,
}

/// Where a step is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StepStatus {
    /// Not started.
    Pending,
    /// Its action is running.
    Running,
    /// Its action finished.
    Succeeded,
    /// Its action failed.
    Failed,
    /// Its rollback is running.
    RollingBack,
    /// Its rollback finished.
    RolledBack,
    /// Its rollback failed.
    RollbackFailed,
    /// Never started, because an earlier step failed.
    Skipped,
}

/// One step: its kind (with the kind's fields) and where it is.
#[derive(Serialize, ToSchema)]
pub(crate) struct Step {
    /// What it does.
    #[serde(flatten)]
    kind: StepKind,
    /// Where it is.
    status: StepStatus,
    /// When its action started.
    started_at: Option<DateTime<Utc>>,
    /// When it (or its rollback) finished.
    finished_at: Option<DateTime<Utc>>,
    /// What it did, for humans.
    detail: Option<String>,
    /// Why it failed.
    error: Option<String>,
}

/// What a pre-deployment check is about, in the order plans list checks.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CheckKind {
    /// The configuration is valid.
    Configuration,
    /// A configured database is reachable and its migrations are valid
    /// (one check per database).
    Database,
    /// The backend answers.
    Backend,
    /// What the changed services run (program, image) is there.
    Artifact,
    /// No other deployment holds the deploy lock.
    DeployLock,
    /// The data directory has `deploy.min_free_disk` free.
    Disk,
    /// No change freeze window is open.
    Freeze,
}

/// One pre-deployment check.
#[derive(Serialize, ToSchema)]
pub(crate) struct CheckResult {
    /// What is checked, for humans.
    name: String,
    /// What the check is about (how clients tell checks apart).
    kind: CheckKind,
    /// Whether it passed.
    passed: bool,
    /// What was found.
    detail: String,
}

/// The plan: changes per service and the steps that make them.
#[derive(Serialize, ToSchema)]
pub(crate) struct Plan {
    /// Per service, in dependency order.
    changes: Vec<ServiceChange>,
    /// In execution order.
    steps: Vec<Step>,
    /// Pre-deployment checks and their outcomes.
    checks: Vec<CheckResult>,
}

/// The steward process that runs a deployment.
#[derive(Serialize, ToSchema)]
pub(crate) struct Engine {
    /// Host name.
    host: String,
    /// Process id.
    pid: u32,
    /// Start time in clock ticks since boot.
    pid_start: u64,
}

/// A deployment: what it deploys, its plan with each step's status, and
/// where it is.
#[derive(Serialize, ToSchema)]
pub(crate) struct Deployment {
    /// `dep_<hex>`.
    id: String,
    /// What is deployed.
    release: Release,
    /// The services it touches.
    services: Vec<Name>,
    /// The services the request named (`null`: the whole release).
    requested_services: Option<Vec<Name>>,
    /// What each touched service ran before (`null`: nothing).
    previous: BTreeMap<String, PreviousSpec>,
    /// The plan, with step statuses kept up to date.
    plan: Plan,
    /// Where it is.
    status: DeploymentStatus,
    /// Who started it.
    actor: Actor,
    /// Why.
    reason: Option<String>,
    /// Whether failed pre-checks were overridden.
    forced: bool,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// When it ended.
    finished_at: Option<DateTime<Utc>>,
    /// Why it did not succeed.
    error: Option<String>,
    /// The steward process that runs it.
    engine: Option<Engine>,
}

/// A deployment and whether it is orphaned.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeploymentView {
    /// The record.
    #[serde(flatten)]
    deployment: Deployment,
    /// Unfinished, and run by no live steward process (it is finished
    /// when steward starts again).
    orphaned: bool,
}

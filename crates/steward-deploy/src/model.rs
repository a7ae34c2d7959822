//! The data a deployment is made of: releases (a version and each
//! service's desired spec), plans, steps and their statuses, and the
//! persisted deployment record. Plain data, serialized as JSON into the
//! state database by the [`crate::DeployStore`] implementation.

use std::{collections::BTreeMap, fmt, path::PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use steward_config::{
    BackendKind, HealthCheck, Resources, Rollout, ServiceConfig, ServiceProtocol,
    render_placeholders,
};
use steward_core::{Actor, Name, Version};

/// How a service's replicas are run, as the configuration says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunSpec {
    /// A local process: argv with `{port}`, `{replica}`... still in place.
    Process {
        /// The argv template.
        command: Vec<String>,
        /// Working directory (absolute once the configuration is loaded).
        workdir: Option<PathBuf>,
    },
    /// A container.
    Docker {
        /// Image reference, `{version}` already replaced.
        image: String,
        /// Port inside the container.
        port: u16,
        /// Command override.
        command: Option<Vec<String>>,
    },
}

/// One service as a release wants it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// The service.
    pub name: Name,
    /// The release version it runs.
    pub version: Version,
    /// How replicas run.
    pub run: RunSpec,
    /// Desired number of replicas.
    pub replicas: u32,
    /// Public port of its proxy.
    pub port: Option<u16>,
    /// HTTP or TCP through the proxy.
    pub protocol: ServiceProtocol,
    /// Health check (a TCP connect when none is configured).
    pub health: Option<HealthCheck>,
    /// Environment of every replica. Persisted in the state database so
    /// that a rollback can restore it; never shown by the API.
    pub env: BTreeMap<String, String>,
    /// Services that must be healthy first.
    pub depends_on: Vec<Name>,
    /// Limits per replica.
    pub resources: Option<Resources>,
    /// How updates replace replicas.
    pub rollout: Rollout,
}

impl ServiceSpec {
    /// The spec of `service` at `version` on `backend`; `None` when the
    /// service has no way to run on that backend.
    pub fn from_config(
        service: &ServiceConfig,
        version: &Version,
        backend: BackendKind,
    ) -> Option<Self> {
        let run = match backend {
            BackendKind::Process => {
                let process = service.process.as_ref()?;
                RunSpec::Process {
                    command: process.command.clone(),
                    workdir: process.workdir.clone(),
                }
            }
            BackendKind::Docker => {
                let docker = service.docker.as_ref()?;
                RunSpec::Docker {
                    image: render_placeholders(&docker.image, |name| {
                        (name == "version").then(|| version.to_string())
                    }),
                    port: docker.port,
                    command: docker.command.clone(),
                }
            }
        };
        Some(ServiceSpec {
            name: service.name.clone(),
            version: version.clone(),
            run,
            replicas: service.replicas,
            port: service.port,
            protocol: service.protocol,
            health: service.health.clone(),
            env: service
                .env
                .iter()
                .map(|(key, value)| (key.clone(), value.expose().clone()))
                .collect(),
            depends_on: service.depends_on.clone(),
            resources: service.resources.clone(),
            rollout: service.rollout.clone(),
        })
    }

    /// Identity of what a replica runs: version, run spec, environment
    /// and limits. Two specs with the same hash have interchangeable
    /// replicas; the replica count, rollout settings and health check are
    /// not part of it (changing them needs no new replica).
    pub fn hash(&self) -> String {
        let identity = serde_json::json!({
            "version": self.version,
            "run": self.run,
            "env": self.env,
            "resources": self.resources.as_ref().map(|r| (r.cpus, r.memory.map(|m| m.bytes()))),
        });
        let digest = Sha256::digest(identity.to_string().as_bytes());
        hex::encode(&digest[..6])
    }

    /// The spec with environment values hidden, for API answers and logs.
    pub fn redacted(&self) -> Self {
        let mut spec = self.clone();
        for value in spec.env.values_mut() {
            *value = steward_core::REDACTED.to_owned();
        }
        spec
    }
}

/// A version and the desired spec of each service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// The release version.
    pub version: Version,
    /// Desired services, in dependency order.
    pub services: Vec<ServiceSpec>,
}

impl Release {
    /// The spec of one service.
    pub fn service(&self, name: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|spec| spec.name.as_str() == name)
    }
}

/// What a deployment does to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
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

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Scale => "scale",
            ChangeKind::Remove => "remove",
            ChangeKind::Unchanged => "unchanged",
        })
    }
}

/// The planned change of one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceChange {
    /// The service.
    pub service: Name,
    /// What happens to it.
    pub kind: ChangeKind,
    /// Version running now (`None` when not running).
    pub from_version: Option<Version>,
    /// Version after the deployment (`None` when removed).
    pub to_version: Option<Version>,
    /// Replicas now (of any spec).
    pub from_replicas: u32,
    /// Replicas after.
    pub to_replicas: u32,
}

/// What a step does. The first steps of every deployment are gates
/// (`deploy_lock`, `pre_checks`, `hook`): they decide whether it goes on,
/// change nothing, and are not rolled back; a deployment that stops at a
/// gate ends `aborted`. The others act and are undone on failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// Take the deploy lock, waiting for the deployment that holds it.
    DeployLock,
    /// Plan against what runs now and run the pre-deployment checks.
    PreChecks,
    /// Run a configured hook before the deployment acts.
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
        /// Newest applied version before the step (the rollback target).
        before: Option<String>,
        /// Backup taken by the step, restored when down files cannot undo it.
        #[serde(default)]
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

impl StepKind {
    /// A short name for tables and events, e.g. `update_services:gateway`.
    pub fn label(&self) -> String {
        match self {
            StepKind::DeployLock => "deploy_lock".to_owned(),
            StepKind::PreChecks => "pre_checks".to_owned(),
            StepKind::Hook { hook } => format!("hook:{hook}"),
            StepKind::DatabaseMigration { database, .. } => {
                format!("database_migration:{database}")
            }
            StepKind::UpdateServices { service } => format!("update_services:{service}"),
            StepKind::VerifyHealth => "verify_health".to_owned(),
        }
    }

    /// Whether the step only decides if the deployment goes on (it
    /// changes nothing and has nothing to roll back).
    pub fn is_gate(&self) -> bool {
        matches!(
            self,
            StepKind::DeployLock | StepKind::PreChecks | StepKind::Hook { .. }
        )
    }
}

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started.
    Pending,
    /// Its action is running.
    Running,
    /// Its action finished.
    Succeeded,
    /// Its action failed (it is rolled back next).
    Failed,
    /// Its rollback is running.
    RollingBack,
    /// Its rollback finished.
    RolledBack,
    /// Its rollback failed: the deployment is Failed.
    RollbackFailed,
    /// Never started, because an earlier step failed.
    Skipped,
}

impl StepStatus {
    /// Lowercase name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::RollingBack => "rolling_back",
            StepStatus::RolledBack => "rolled_back",
            StepStatus::RollbackFailed => "rollback_failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step, as persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// What it does.
    #[serde(flatten)]
    pub kind: StepKind,
    /// Where it is.
    pub status: StepStatus,
    /// When its action started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it (or its rollback) finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// What it did, for humans.
    pub detail: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

impl Step {
    /// A pending step.
    pub fn new(kind: StepKind) -> Self {
        Step {
            kind,
            status: StepStatus::Pending,
            started_at: None,
            finished_at: None,
            detail: None,
            error: None,
        }
    }
}

/// What a pre-deployment check is about, declared in the order plans list
/// the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
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

impl CheckKind {
    /// The kind of a check recorded before checks had one, by the name it
    /// was recorded with (the names were fixed; database checks named
    /// their database).
    fn of_legacy_name(name: &str) -> Option<Self> {
        Some(match name {
            "configuration valid" => CheckKind::Configuration,
            "backend reachable" => CheckKind::Backend,
            "artifact present" => CheckKind::Artifact,
            "no other deployment in progress" => CheckKind::DeployLock,
            "enough disk" => CheckKind::Disk,
            "outside change freeze" => CheckKind::Freeze,
            _ if name.starts_with("database ") => CheckKind::Database,
            _ => return None,
        })
    }
}

/// One pre-deployment check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredCheckResult")]
pub struct CheckResult {
    /// What is checked, for humans, e.g. `artifact present`.
    pub name: String,
    /// What the check is about: how code tells checks apart.
    pub kind: CheckKind,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// A [`CheckResult`] as stored, possibly before checks had a kind.
#[derive(Deserialize)]
struct StoredCheckResult {
    name: String,
    kind: Option<CheckKind>,
    passed: bool,
    detail: String,
}

impl TryFrom<StoredCheckResult> for CheckResult {
    type Error = String;

    fn try_from(stored: StoredCheckResult) -> Result<Self, Self::Error> {
        let kind = match stored.kind {
            Some(kind) => kind,
            None => CheckKind::of_legacy_name(&stored.name)
                .ok_or_else(|| format!("check `{}` has no kind", stored.name))?,
        };
        Ok(CheckResult {
            name: stored.name,
            kind,
            passed: stored.passed,
            detail: stored.detail,
        })
    }
}

/// The plan: changes per service and the steps that make them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Per service, in dependency order.
    pub changes: Vec<ServiceChange>,
    /// In execution order.
    pub steps: Vec<Step>,
    /// Pre-deployment checks and their outcomes.
    pub checks: Vec<CheckResult>,
}

impl Plan {
    /// Whether every pre-deployment check passed.
    pub fn checks_passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    /// Whether the plan changes anything.
    pub fn is_noop(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Where a deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
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

impl DeploymentStatus {
    /// Whether the deployment has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeploymentStatus::Succeeded
                | DeploymentStatus::RolledBack
                | DeploymentStatus::Failed
                | DeploymentStatus::Aborted
        )
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Running => "running",
            DeploymentStatus::RollingBack => "rolling_back",
            DeploymentStatus::Succeeded => "succeeded",
            DeploymentStatus::RolledBack => "rolled_back",
            DeploymentStatus::Failed => "failed",
            DeploymentStatus::Aborted => "aborted",
        }
    }
}

impl fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A deployment, as persisted before and after every step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// `dep_<hex>`.
    pub id: String,
    /// What is deployed.
    pub release: Release,
    /// The services it touches (all of the release, or `--services`).
    pub services: Vec<Name>,
    /// The services the request named (`None`: the whole release, and
    /// the removal of running services it no longer has).
    #[serde(default)]
    pub requested_services: Option<Vec<Name>>,
    /// Only services never deployed are created; others are left as they
    /// run ([`crate::DeployRequest::create_only`]).
    #[serde(default)]
    pub create_only: bool,
    /// What each touched service ran before (`None`: nothing), for rollback.
    pub previous: BTreeMap<Name, Option<ServiceSpec>>,
    /// The plan, with step statuses kept up to date.
    pub plan: Plan,
    /// Where it is.
    pub status: DeploymentStatus,
    /// Who started it.
    pub actor: Actor,
    /// Why (free text from the user, or `rollback of dep_...`).
    pub reason: Option<String>,
    /// Whether failed pre-checks were overridden.
    pub forced: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it did not succeed, and for Failed what runs and what to do.
    pub error: Option<String>,
    /// The steward process that runs it (absent in records written
    /// before steward recorded it).
    #[serde(default)]
    pub engine: Option<Engine>,
}

/// The steward process that runs a deployment: enough to tell whether it
/// still lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engine {
    /// Host name of the steward process.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Its start time in clock ticks since boot (from `/proc`), so that a
    /// reused pid is not mistaken for it.
    pub pid_start: u64,
}

impl Deployment {
    /// The touched services' specs once the deployment ends: the new spec
    /// on success, the previous one otherwise. `None` means not running.
    pub fn outcome(&self) -> Vec<(Name, Option<ServiceSpec>)> {
        self.services
            .iter()
            .map(|name| {
                let spec = if self.status == DeploymentStatus::Succeeded {
                    self.release.service(name).cloned()
                } else {
                    self.previous.get(name).cloned().flatten()
                };
                (name.clone(), spec)
            })
            .collect()
    }

    /// A copy safe to show: environment values hidden.
    pub fn redacted(&self) -> Self {
        let mut deployment = self.clone();
        for spec in &mut deployment.release.services {
            *spec = spec.redacted();
        }
        for spec in deployment.previous.values_mut().flatten() {
            *spec = spec.redacted();
        }
        deployment
    }
}

/// A deployment in a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentSummary {
    /// Its id.
    pub id: String,
    /// The release version.
    pub version: Version,
    /// Touched services.
    pub services: Vec<Name>,
    /// Where it is.
    pub status: DeploymentStatus,
    /// Who started it.
    pub actor: Actor,
    /// Why.
    pub reason: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&Deployment> for DeploymentSummary {
    fn from(deployment: &Deployment) -> Self {
        DeploymentSummary {
            id: deployment.id.clone(),
            version: deployment.release.version.clone(),
            services: deployment.services.clone(),
            status: deployment.status,
            actor: deployment.actor.clone(),
            reason: deployment.reason.clone(),
            created_at: deployment.created_at,
            finished_at: deployment.finished_at,
        }
    }
}

/// Who holds the deploy lock: enough to tell whether it is still alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The deployment it runs.
    pub deployment_id: String,
    /// Host name of the steward process.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Its start time in clock ticks since boot (from `/proc`), so that a
    /// reused pid is not mistaken for the holder.
    pub pid_start: u64,
    /// When the lock was taken.
    pub since: DateTime<Utc>,
}

/// A fresh deployment id.
pub fn new_deployment_id() -> String {
    format!("dep_{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests;

//! The [`DeploymentManager`]: plans a release against what runs, runs the
//! pre-deployment checks, takes the deploy lock, and executes the plan's
//! steps, persisting the deployment before and after each one. When a step
//! fails (or the deployment is cancelled) the steps that ran are undone in
//! reverse order. After a crash, [`DeploymentManager::recover`] resumes or
//! rolls back what was in progress.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use serde_json::json;
use steward_config::{Config, DatabaseConfig, RecoveryPolicy, Strategy};
use steward_core::{Actor, EventKind, Name, NewEvent, Severity, Version};
use steward_migrate::{MigrationManager, Options, Source};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Result,
    backend::{Backend, ReplicaEvent},
    checks,
    gates::MetricGate,
    hooks::{self, HookContext},
    model::{
        ChangeKind, CheckResult, Deployment, DeploymentStatus, DeploymentSummary, LockHolder, Plan,
        Release, ServiceChange, ServiceSpec, Step, StepKind, StepStatus, new_deployment_id,
    },
    process::{own_start_time, process_alive},
    rollout::{EventSink, ProxySet, RolloutEvent, Runtime},
    smoke,
    store::DeployStore,
};

/// What to deploy, and how.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// The release (from the configuration, or a stored one for a rollback).
    pub release: Release,
    /// Only these services (default: every service of the release).
    pub services: Option<Vec<Name>>,
    /// Who asks.
    pub actor: Actor,
    /// Why.
    pub reason: Option<String>,
    /// Go on when pre-deployment checks fail (journaled).
    pub force: bool,
    /// How long to wait for another deployment's lock (0: fail at once).
    pub wait_lock: Duration,
}

/// Settings of the manager.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Steward's data directory (disk check, migration backups).
    pub data_dir: PathBuf,
    /// This host's name (deploy lock holder).
    pub host: String,
}

/// A deployment's progress, for live displays.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Update {
    /// The deployment.
    pub deployment_id: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: UpdateKind,
}

/// What happened in a deployment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UpdateKind {
    /// A step changed status.
    Step {
        /// Its label.
        step: String,
        /// Its new status.
        status: StepStatus,
        /// Detail or error.
        message: Option<String>,
    },
    /// Something happened to a replica.
    Replica(RolloutEvent),
    /// The deployment ended.
    Finished {
        /// How.
        status: DeploymentStatus,
        /// Why, when it did not succeed.
        error: Option<String>,
    },
}

/// Orders a deployment's rollout events before its next step event.
enum JournalMsg {
    Event(NewEvent),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Waits until the rollout events emitted so far are journaled.
struct Journaler {
    tx: tokio::sync::mpsc::UnboundedSender<JournalMsg>,
}

impl Journaler {
    async fn flush(&self) {
        let (done, flushed) = tokio::sync::oneshot::channel();
        if self.tx.send(JournalMsg::Flush(done)).is_ok() {
            let _ = flushed.await;
        }
    }
}

/// What runs for one service now.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceStatus {
    /// The service.
    pub service: Name,
    /// The version it settled on.
    pub version: Option<Version>,
    /// Desired replicas.
    pub desired: u32,
    /// Its proxy's address.
    pub proxy: Option<SocketAddr>,
    /// Its replicas.
    pub replicas: Vec<ReplicaStatus>,
}

/// One replica in a status listing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReplicaStatus {
    /// Replica id.
    pub id: String,
    /// Version it runs.
    pub version: Version,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `running` or `restarting`.
    pub state: crate::backend::ReplicaState,
    /// Whether the proxy sends it traffic.
    pub in_proxy: bool,
    /// Restarts after crashes.
    pub restarts: u32,
}

struct Inner {
    store: Arc<dyn DeployStore>,
    runtime: Runtime,
    options: ManagerOptions,
    running: Mutex<HashMap<String, CancellationToken>>,
    finished: watch::Sender<u64>,
    updates: broadcast::Sender<Update>,
    gates: Mutex<Vec<Arc<dyn MetricGate>>>,
}

/// Plans and runs deployments. Cloning shares it.
#[derive(Clone)]
pub struct DeploymentManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DeploymentManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentManager")
            .field("backend", &self.inner.runtime.backend.kind())
            .finish_non_exhaustive()
    }
}

/// The release `config` describes at `version` for its backend, services
/// in dependency order.
pub fn release_from_config(config: &Config, version: &Version) -> Result<Release> {
    let backend = config.deploy.backend;
    let mut services = Vec::new();
    for service in ordered(config) {
        let spec = ServiceSpec::from_config(service, version, backend).ok_or_else(|| {
            let kind = match backend {
                steward_config::BackendKind::Process => "process",
                steward_config::BackendKind::Docker => "docker",
            };
            Error::Invalid(format!(
                "service {} has no [services.{kind}] section for the {kind} backend",
                service.name
            ))
        })?;
        services.push(spec);
    }
    Ok(Release {
        version: version.clone(),
        services,
    })
}

/// Services with their dependencies first (validation rejects cycles).
fn ordered(config: &Config) -> Vec<&steward_config::ServiceConfig> {
    let mut done: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    while out.len() < config.services.len() {
        let before = out.len();
        for service in &config.services {
            if done.contains(&service.name.as_str()) {
                continue;
            }
            if service
                .depends_on
                .iter()
                .all(|dep| done.contains(&dep.as_str()) || config.service(dep).is_none())
            {
                done.push(service.name.as_str());
                out.push(service);
            }
        }
        if out.len() == before {
            // A cycle (rejected by validation): keep file order for the rest.
            out.extend(
                config
                    .services
                    .iter()
                    .filter(|s| !done.contains(&s.name.as_str())),
            );
            break;
        }
    }
    out
}

impl DeploymentManager {
    /// A manager over `store` running replicas on `backend` behind `proxies`.
    pub fn new(
        store: Arc<dyn DeployStore>,
        backend: Arc<dyn Backend>,
        proxies: ProxySet,
        options: ManagerOptions,
    ) -> Self {
        let (updates, _) = broadcast::channel(1024);
        let (finished, _) = watch::channel(0);
        let runtime = Runtime {
            backend,
            proxies,
            prober: crate::health::Prober::new(),
            events: Arc::new(|_| {}),
        };
        let manager = DeploymentManager {
            inner: Arc::new(Inner {
                store,
                runtime,
                options,
                running: Mutex::new(HashMap::new()),
                finished,
                updates,
                gates: Mutex::new(Vec::new()),
            }),
        };
        manager.journal_replica_events();
        manager
    }

    /// Adds a metric gate that every later `verify_health` step checks.
    pub fn add_gate(&self, gate: Arc<dyn MetricGate>) {
        self.inner.gates.lock().expect("gate list lock").push(gate);
    }

    /// Live progress of every deployment.
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.inner.updates.subscribe()
    }

    /// The proxies of the services.
    pub fn proxies(&self) -> &ProxySet {
        &self.inner.runtime.proxies
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.runtime.backend
    }

    /// Steward's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.inner.options.data_dir
    }

    pub(crate) fn prober(&self) -> &crate::health::Prober {
        &self.inner.runtime.prober
    }

    pub(crate) fn store(&self) -> &Arc<dyn DeployStore> {
        &self.inner.store
    }

    /// How many deployments have ended in this process (changes when a
    /// service may have settled on another spec).
    pub(crate) fn finished_count(&self) -> u64 {
        *self.inner.finished.borrow()
    }

    /// Whether a deployment runs in this process.
    pub(crate) fn deployments_running(&self) -> bool {
        !self
            .inner
            .running
            .lock()
            .expect("running table lock")
            .is_empty()
    }

    /// Runs `action` unless a deployment runs, holding the lock under
    /// which deployments register, so none can start meanwhile. Returns
    /// what `action` returned, or false when it did not run.
    pub(crate) fn while_no_deployment(&self, action: impl FnOnce() -> bool) -> bool {
        let running = self.inner.running.lock().expect("running table lock");
        running.is_empty() && action()
    }

    /// Journals what the backend reports about replicas on its own
    /// (crashes, restarts, adoptions).
    fn journal_replica_events(&self) {
        let mut events = self.inner.runtime.backend.subscribe();
        let store = Arc::clone(&self.inner.store);
        tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let (kind, service, severity, summary, payload) = match &event {
                    ReplicaEvent::Exited {
                        id,
                        service,
                        code,
                        restart_in,
                    } => (
                        "deploy.replica.exited",
                        service,
                        Severity::Warning,
                        format!(
                            "replica {id} of {service} exited ({}); restarting in {}",
                            code.map_or("killed".to_owned(), |c| format!("code {c}")),
                            steward_core::format_duration(*restart_in)
                        ),
                        json!({"replica": id, "code": code, "restart_in_ms": restart_in.as_millis() as u64}),
                    ),
                    ReplicaEvent::Restarted {
                        id,
                        service,
                        restarts,
                    } => (
                        "deploy.replica.restarted",
                        service,
                        Severity::Info,
                        format!("replica {id} of {service} restarted (restart {restarts})"),
                        json!({"replica": id, "restarts": restarts}),
                    ),
                    ReplicaEvent::Adopted { id, service } => (
                        "deploy.replica.adopted",
                        service,
                        Severity::Info,
                        format!(
                            "replica {id} of {service} adopted from an earlier steward process"
                        ),
                        json!({"replica": id}),
                    ),
                };
                let event = NewEvent::new(
                    EventKind::new(kind).expect("valid kind"),
                    Actor::system(),
                    summary,
                )
                .service(service.clone())
                .severity(severity)
                .payload(payload);
                if let Err(err) = store.journal(vec![event]).await {
                    tracing::warn!(error = %err, "cannot journal a replica event");
                }
            }
        });
    }

    /// Plans `request` without changing anything: the changes, the steps
    /// and the outcome of every pre-deployment check.
    pub async fn plan(&self, config: &Config, request: &DeployRequest) -> Result<Deployment> {
        let release = &request.release;
        let selected: Vec<Name> = match &request.services {
            Some(names) => {
                for name in names {
                    if release.service(name).is_none()
                        && !self.current_specs().await?.contains_key(name)
                    {
                        return Err(Error::NotFound(format!(
                            "service `{name}` is neither in the release nor running"
                        )));
                    }
                }
                names.clone()
            }
            None => {
                let mut names: Vec<Name> = release
                    .services
                    .iter()
                    .map(|spec| spec.name.clone())
                    .collect();
                for name in self.current_specs().await?.into_keys() {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                names
            }
        };
        let current = self.current_specs().await?;
        let replicas = self.inner.runtime.backend.list().await?;
        let mut changes = Vec::new();
        let mut previous = BTreeMap::new();
        // Release order (dependencies first), then removals.
        let order: Vec<&Name> = release
            .services
            .iter()
            .map(|spec| &spec.name)
            .filter(|name| selected.contains(name))
            .chain(
                selected
                    .iter()
                    .filter(|name| release.service(name).is_none()),
            )
            .collect();
        for name in order {
            let desired = release.service(name);
            let now = current.get(name);
            let running = replicas.iter().filter(|r| &r.service == name).count() as u32;
            let kind = match (now, desired) {
                (None, Some(_)) => ChangeKind::Create,
                (Some(_), None) => ChangeKind::Remove,
                (None, None) => continue,
                (Some(now), Some(desired)) if now.hash() != desired.hash() => ChangeKind::Update,
                (Some(now), Some(desired))
                    if now.replicas != desired.replicas || running != desired.replicas =>
                {
                    ChangeKind::Scale
                }
                (Some(_), Some(_)) => ChangeKind::Unchanged,
            };
            previous.insert(name.clone(), now.cloned());
            changes.push(ServiceChange {
                service: name.clone(),
                kind,
                from_version: now.map(|spec| spec.version.clone()),
                to_version: desired.map(|spec| spec.version.clone()),
                from_replicas: running,
                to_replicas: desired.map_or(0, |spec| spec.replicas),
            });
        }
        let mut steps = Vec::new();
        let mut check_results = Vec::new();
        for database in &config.databases {
            match pending_migrations(database, &self.inner.options.data_dir, &request.actor).await {
                Ok(Some((pending, before))) if !pending.is_empty() => {
                    steps.push(Step::new(StepKind::DatabaseMigration {
                        database: database.name.clone(),
                        pending,
                        before,
                        backup: None,
                    }));
                    check_results.push(CheckResult {
                        name: format!("database {} reachable, migrations valid", database.name),
                        passed: true,
                        detail: "pending migrations planned".to_owned(),
                    });
                }
                Ok(_) => check_results.push(CheckResult {
                    name: format!("database {} reachable, migrations valid", database.name),
                    passed: true,
                    detail: "no pending migrations".to_owned(),
                }),
                Err(err) => check_results.push(CheckResult {
                    name: format!("database {} reachable, migrations valid", database.name),
                    passed: false,
                    detail: err.to_string(),
                }),
            }
        }
        for change in &changes {
            if change.kind != ChangeKind::Unchanged {
                steps.push(Step::new(StepKind::UpdateServices {
                    service: change.service.clone(),
                }));
            }
        }
        if changes.iter().any(|change| {
            matches!(
                change.kind,
                ChangeKind::Create | ChangeKind::Update | ChangeKind::Scale
            )
        }) {
            steps.push(Step::new(StepKind::VerifyHealth));
        }
        let mut checks = checks::run(self, config, release, &changes).await;
        checks.splice(1..1, check_results);
        Ok(Deployment {
            id: new_deployment_id(),
            release: release.clone(),
            services: changes
                .iter()
                .map(|change| change.service.clone())
                .collect(),
            previous,
            plan: Plan {
                changes,
                steps,
                checks,
            },
            status: DeploymentStatus::Running,
            actor: request.actor.clone(),
            reason: request.reason.clone(),
            forced: request.force,
            created_at: Utc::now(),
            finished_at: None,
            error: None,
        })
    }

    pub(crate) async fn lock_holder_alive(&self) -> Result<Option<LockHolder>> {
        let Some(holder) = self.inner.store.lock_holder().await? else {
            return Ok(None);
        };
        Ok(self.holder_alive(&holder).then_some(holder))
    }

    fn holder_alive(&self, holder: &LockHolder) -> bool {
        holder.host != self.inner.options.host || process_alive(holder.pid, holder.pid_start)
    }

    fn own_holder(&self, deployment_id: &str) -> LockHolder {
        LockHolder {
            deployment_id: deployment_id.to_owned(),
            host: self.inner.options.host.clone(),
            pid: std::process::id(),
            pid_start: own_start_time(),
            since: Utc::now(),
        }
    }

    /// Takes the deploy lock, waiting up to `wait`, taking it over from a
    /// holder that is provably dead (same host, process gone).
    async fn lock(&self, deployment_id: &str, wait: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let holder = self.own_holder(deployment_id);
            let Some(current) = self.inner.store.try_lock(&holder).await? else {
                return Ok(());
            };
            if current.deployment_id == deployment_id && current.pid == holder.pid {
                return Ok(());
            }
            if !self.holder_alive(&current) {
                tracing::warn!(deployment = %current.deployment_id, pid = current.pid, "taking over the deploy lock of a dead steward process");
                if self.inner.store.take_over_lock(&current, &holder).await? {
                    return Ok(());
                }
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Locked {
                    deployment_id: current.deployment_id,
                    pid: current.pid,
                    host: current.host,
                    since: current.since.to_rfc3339(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Plans and starts a deployment; returns once it is persisted and
    /// running (or refused: status Aborted). Use [`Self::wait`] for its end.
    pub async fn deploy(&self, config: &Config, request: DeployRequest) -> Result<Deployment> {
        let mut deployment = self.plan(config, &request).await?;
        let failed: Vec<&CheckResult> = deployment
            .plan
            .checks
            .iter()
            .filter(|check| !check.passed)
            .collect();
        let lock_failed = failed.iter().any(|check| check.name == checks::LOCK_CHECK);
        if !failed.is_empty() && !request.force {
            let reasons: Vec<String> = failed
                .iter()
                .map(|check| format!("{}: {}", check.name, check.detail))
                .collect();
            // A deployment refused only because another runs can wait for it.
            if !(lock_failed && failed.len() == 1 && !request.wait_lock.is_zero()) {
                deployment.status = DeploymentStatus::Aborted;
                deployment.finished_at = Some(Utc::now());
                deployment.error = Some(format!(
                    "pre-deployment checks failed: {}",
                    reasons.join("; ")
                ));
                let event = self.event(
                    &deployment,
                    "deploy.aborted",
                    Severity::Warning,
                    format!(
                        "deployment {} of {} refused: {}",
                        deployment.id,
                        deployment.release.version,
                        reasons.join("; ")
                    ),
                );
                self.inner.store.save(&deployment, vec![event]).await?;
                return Ok(deployment);
            }
        }
        self.lock(&deployment.id, request.wait_lock).await?;
        let hook_context = HookContext::of(&deployment);
        if let Some(argv) = &config.deploy.hooks.pre_deploy
            && let Err(err) = hooks::run(
                "pre_deploy",
                argv,
                &hook_context,
                config.deploy.hooks.timeout.get(),
            )
            .await
        {
            deployment.status = DeploymentStatus::Aborted;
            deployment.finished_at = Some(Utc::now());
            deployment.error = Some(err.to_string());
            let event = self.event(
                &deployment,
                "deploy.aborted",
                Severity::Warning,
                format!(
                    "deployment {} of {} aborted: {err}",
                    deployment.id, deployment.release.version
                ),
            );
            let saved = self.inner.store.save(&deployment, vec![event]).await;
            self.inner.store.unlock(&deployment.id).await?;
            saved?;
            return Ok(deployment);
        }
        let forced: Vec<&CheckResult> = deployment
            .plan
            .checks
            .iter()
            .filter(|check| !check.passed)
            .collect();
        let summary = format!(
            "deployment {} of {} started by {}: {}",
            deployment.id,
            deployment.release.version,
            deployment.actor,
            describe_changes(&deployment.plan.changes)
        );
        let mut started = self.event(&deployment, "deploy.started", Severity::Info, summary).payload(json!({
            "deployment": deployment.id,
            "version": deployment.release.version,
            "changes": deployment.plan.changes,
            "steps": deployment.plan.steps.iter().map(|step| step.kind.label()).collect::<Vec<_>>(),
            "forced_checks": forced.iter().map(|check| json!({"name": check.name, "detail": check.detail})).collect::<Vec<_>>(),
            "reason": deployment.reason,
        }));
        if !forced.is_empty() {
            started = started.severity(Severity::Warning);
        }
        if let Err(err) = self.inner.store.save(&deployment, vec![started]).await {
            self.inner.store.unlock(&deployment.id).await?;
            return Err(err);
        }
        self.spawn_execution(deployment.clone(), Arc::new(config.clone()));
        Ok(deployment)
    }

    fn spawn_execution(&self, deployment: Deployment, config: Arc<Config>) {
        let cancel = CancellationToken::new();
        self.inner
            .running
            .lock()
            .expect("running table lock")
            .insert(deployment.id.clone(), cancel.clone());
        let manager = self.clone();
        tokio::spawn(async move {
            let id = deployment.id.clone();
            if let Err(err) = manager.execute(deployment, config, cancel).await {
                tracing::error!(deployment = %id, error = %err, "deployment stopped: cannot persist its state");
            }
            manager
                .inner
                .running
                .lock()
                .expect("running table lock")
                .remove(&id);
            manager.inner.finished.send_modify(|count| *count += 1);
        });
    }

    /// Waits until deployment `id` has ended and returns it.
    pub async fn wait(&self, id: &str) -> Result<Deployment> {
        let mut finished = self.inner.finished.subscribe();
        loop {
            let deployment = self
                .inner
                .store
                .get(id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no deployment {id}")))?;
            let running = self
                .inner
                .running
                .lock()
                .expect("running table lock")
                .contains_key(id);
            if deployment.status.is_final() && !running {
                return Ok(deployment);
            }
            if !running && !deployment.status.is_final() {
                // Run by another steward process: poll.
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let _ = finished.changed().await;
        }
    }

    /// Cancels a running deployment: its current step stops and the
    /// deployment rolls back.
    pub fn cancel(&self, id: &str) -> Result<()> {
        match self
            .inner
            .running
            .lock()
            .expect("running table lock")
            .get(id)
        {
            Some(token) => {
                token.cancel();
                Ok(())
            }
            None => Err(Error::NotFound(format!(
                "deployment {id} is not running here"
            ))),
        }
    }

    /// One deployment (environment values hidden).
    pub async fn get(&self, id: &str) -> Result<Option<Deployment>> {
        Ok(self
            .inner
            .store
            .get(id)
            .await?
            .map(|deployment| deployment.redacted()))
    }

    /// Deployments, newest first.
    pub async fn list(&self, service: Option<&str>, limit: u32) -> Result<Vec<DeploymentSummary>> {
        self.inner.store.list(service, limit).await
    }

    /// The spec each service settled on, by name.
    pub(crate) async fn current_specs(&self) -> Result<BTreeMap<Name, ServiceSpec>> {
        Ok(self
            .inner
            .store
            .current()
            .await?
            .into_iter()
            .map(|spec| (spec.name.clone(), spec))
            .collect())
    }

    /// What runs now, per service.
    pub async fn status(&self, config: &Config) -> Result<Vec<ServiceStatus>> {
        let current = self.current_specs().await?;
        let replicas = self.inner.runtime.backend.list().await?;
        let mut names: Vec<Name> = config.services.iter().map(|s| s.name.clone()).collect();
        names.extend(
            current
                .keys()
                .filter(|name| config.service(name).is_none())
                .cloned(),
        );
        Ok(names
            .into_iter()
            .map(|name| {
                let spec = current.get(&name);
                let proxy = self.inner.runtime.proxies.get(&name);
                let in_proxy = self.inner.runtime.proxies.members(&name);
                ServiceStatus {
                    version: spec.map(|spec| spec.version.clone()),
                    desired: spec.map_or(0, |spec| spec.replicas),
                    proxy: proxy.map(|(_, addr)| addr),
                    replicas: replicas
                        .iter()
                        .filter(|replica| replica.service == name)
                        .map(|replica| ReplicaStatus {
                            id: replica.id.clone(),
                            version: replica.version.clone(),
                            addr: replica.addr,
                            state: replica.state,
                            in_proxy: in_proxy.contains(&replica.id),
                            restarts: replica.restarts,
                        })
                        .collect(),
                    service: name,
                }
            })
            .collect())
    }

    /// The release to roll back to: the one given by version, or the
    /// previous successful release of `service` (or of the whole system).
    pub async fn rollback_release(
        &self,
        service: Option<&Name>,
        to: Option<&Version>,
    ) -> Result<(Release, Vec<Name>)> {
        let succeeded = self.inner.store.succeeded(service, 200).await?;
        let current = self.current_specs().await?;
        let touches = |deployment: &Deployment| match service {
            Some(service) => vec![service.clone()],
            None => deployment.services.clone(),
        };
        let target = match to {
            Some(version) => succeeded
                .iter()
                .find(|deployment| &deployment.release.version == version)
                .ok_or_else(|| {
                    Error::NotFound(format!("no successful deployment of version {version}"))
                })?,
            None => {
                let running_version = match service {
                    Some(service) => current.get(service).map(|spec| spec.version.clone()),
                    None => succeeded
                        .first()
                        .map(|deployment| deployment.release.version.clone()),
                };
                succeeded
                    .iter()
                    .find(|deployment| {
                        Some(&deployment.release.version) != running_version.as_ref()
                    })
                    .ok_or_else(|| {
                        Error::NotFound("no earlier successful release to roll back to".to_owned())
                    })?
            }
        };
        let services = touches(target)
            .into_iter()
            .filter(|name| target.release.service(name).is_some())
            .collect();
        Ok((target.release.clone(), services))
    }

    /// Finds deployments a crash interrupted and resumes or rolls them
    /// back, as `config.deploy.on_crash` says. Returns their ids.
    pub async fn recover(&self, config: &Config) -> Result<Vec<String>> {
        let mut recovered = Vec::new();
        for mut deployment in self.inner.store.unfinished().await? {
            if self
                .inner
                .running
                .lock()
                .expect("running table lock")
                .contains_key(&deployment.id)
            {
                continue;
            }
            match self.inner.store.lock_holder().await? {
                Some(holder)
                    if holder.deployment_id == deployment.id
                        && self.holder_alive(&holder)
                        && holder.pid != std::process::id() =>
                {
                    // Another live steward process runs it.
                    continue;
                }
                Some(holder)
                    if holder.deployment_id != deployment.id && self.holder_alive(&holder) =>
                {
                    continue;
                }
                _ => {}
            }
            self.lock(&deployment.id, Duration::ZERO).await?;
            let policy = if deployment.status == DeploymentStatus::RollingBack {
                RecoveryPolicy::Rollback
            } else {
                config.deploy.on_crash
            };
            let interrupted: Vec<String> = deployment
                .plan
                .steps
                .iter()
                .filter(|step| matches!(step.status, StepStatus::Running | StepStatus::RollingBack))
                .map(|step| step.kind.label())
                .collect();
            match policy {
                RecoveryPolicy::Rollback => {
                    deployment.status = DeploymentStatus::RollingBack;
                    deployment
                        .error
                        .get_or_insert_with(|| "interrupted by a steward crash".to_owned());
                    for step in &mut deployment.plan.steps {
                        if step.status == StepStatus::Running {
                            step.status = StepStatus::Failed;
                            step.error = Some("interrupted by a steward crash".to_owned());
                        }
                    }
                }
                RecoveryPolicy::Resume => {
                    for step in &mut deployment.plan.steps {
                        if step.status == StepStatus::Running {
                            step.status = StepStatus::Pending;
                        }
                    }
                }
            }
            let action = match policy {
                RecoveryPolicy::Rollback => "rolling it back",
                RecoveryPolicy::Resume => "resuming it",
            };
            let event = self
                .event(&deployment, "deploy.recovered", Severity::Warning, format!(
                    "deployment {} of {} was interrupted by a crash{}; {action}",
                    deployment.id,
                    deployment.release.version,
                    if interrupted.is_empty() { String::new() } else { format!(" during {}", interrupted.join(", ")) }
                ))
                .payload(json!({"deployment": deployment.id, "policy": match policy { RecoveryPolicy::Rollback => "rollback", RecoveryPolicy::Resume => "resume" }, "interrupted_steps": interrupted}));
            self.inner.store.save(&deployment, vec![event]).await?;
            recovered.push(deployment.id.clone());
            self.spawn_execution(deployment, Arc::new(config.clone()));
        }
        Ok(recovered)
    }

    /// Brings every service to the spec it settled on (after a restart:
    /// adopted replicas rejoin their proxies, missing ones are started,
    /// strays stopped). Deployments in progress are left alone.
    pub async fn reconcile(&self) -> Result<()> {
        if !self
            .inner
            .running
            .lock()
            .expect("running table lock")
            .is_empty()
        {
            return Ok(());
        }
        let current = self.current_specs().await?;
        let (runtime, _) = self.runtime_for("reconcile");
        for spec in current.values() {
            if let Err(err) = runtime.converge(&spec.name, Some(spec), "reconcile").await {
                tracing::error!(service = %spec.name, error = %err, "cannot bring the service to its last release");
            }
            runtime.stop_idle(spec).await?;
        }
        for replica in runtime.backend.list().await? {
            if !current.contains_key(&replica.service) {
                tracing::warn!(replica = %replica.id, service = %replica.service, "stopping a replica of a service no release runs");
                runtime
                    .backend
                    .stop(&replica.id, Duration::from_secs(10))
                    .await?;
            }
        }
        Ok(())
    }

    /// Stops every replica (steward is shutting down).
    pub async fn stop_all(&self) -> Result<()> {
        let backend = &self.inner.runtime.backend;
        let replicas = backend.list().await?;
        let stops = replicas
            .iter()
            .map(|replica| backend.stop(&replica.id, Duration::from_secs(10)));
        for result in futures::future::join_all(stops).await {
            result?;
        }
        Ok(())
    }

    /// A runtime whose rollout events are journaled (tagged with the
    /// deployment) and broadcast, with the handle that flushes the journal.
    fn runtime_for(&self, deployment_id: &str) -> (Runtime, Journaler) {
        let updates = self.inner.updates.clone();
        let store = Arc::clone(&self.inner.store);
        let id = deployment_id.to_owned();
        let (journal_tx, mut journal_rx) = tokio::sync::mpsc::unbounded_channel::<JournalMsg>();
        tokio::spawn(async move {
            while let Some(message) = journal_rx.recv().await {
                match message {
                    JournalMsg::Event(event) => {
                        if let Err(err) = store.journal(vec![event]).await {
                            tracing::warn!(error = %err, "cannot journal a rollout event");
                        }
                    }
                    JournalMsg::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        let journaler = Journaler {
            tx: journal_tx.clone(),
        };
        let sink: EventSink = Arc::new(move |event: RolloutEvent| {
            let (kind, service, summary) = describe_rollout(&event);
            let payload = {
                let mut payload = serde_json::to_value(&event).unwrap_or_default();
                payload["deployment"] = json!(id);
                payload
            };
            let _ = journal_tx.send(JournalMsg::Event(
                NewEvent::new(
                    EventKind::new(kind).expect("valid kind"),
                    Actor::system(),
                    summary,
                )
                .service(service)
                .payload(payload),
            ));
            let _ = updates.send(Update {
                deployment_id: id.clone(),
                kind: UpdateKind::Replica(event),
            });
        });
        let runtime = Runtime {
            events: sink,
            ..self.inner.runtime.clone()
        };
        (runtime, journaler)
    }

    fn event(
        &self,
        deployment: &Deployment,
        kind: &str,
        severity: Severity,
        summary: String,
    ) -> NewEvent {
        NewEvent::new(
            EventKind::new(kind).expect("valid kind"),
            deployment.actor.clone(),
            summary,
        )
        .version(deployment.release.version.clone())
        .severity(severity)
        .payload(json!({"deployment": deployment.id}))
    }

    fn step_event(&self, deployment: &Deployment, index: usize) -> NewEvent {
        let step = &deployment.plan.steps[index];
        let status = match step.status {
            StepStatus::Running => "started",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::RollingBack => "rolling_back",
            StepStatus::RolledBack => "rolled_back",
            StepStatus::RollbackFailed => "rollback_failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Pending => "pending",
        };
        let severity = match step.status {
            StepStatus::Failed | StepStatus::RollbackFailed => Severity::Error,
            StepStatus::RollingBack | StepStatus::RolledBack => Severity::Warning,
            _ => Severity::Info,
        };
        let label = step.kind.label();
        let message = step.error.clone().or_else(|| step.detail.clone());
        let _ = self.inner.updates.send(Update {
            deployment_id: deployment.id.clone(),
            kind: UpdateKind::Step {
                step: label.clone(),
                status: step.status,
                message: message.clone(),
            },
        });
        let mut event = NewEvent::new(
            EventKind::new(format!("deploy.step.{status}")).expect("valid kind"),
            deployment.actor.clone(),
            format!(
                "{} {label} {status}{}",
                deployment.id,
                message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
            ),
        )
        .version(deployment.release.version.clone())
        .severity(severity)
        .payload(json!({"deployment": deployment.id, "step": label, "index": index, "status": step.status, "detail": step.detail, "error": step.error}));
        if let StepKind::UpdateServices { service } = &step.kind {
            event = event.service(service.clone());
        }
        event
    }

    async fn save_step(&self, deployment: &Deployment, index: usize) -> Result<()> {
        let event = self.step_event(deployment, index);
        self.inner.store.save(deployment, vec![event]).await
    }

    /// Runs the steps (or the rollback) of a persisted deployment to its end.
    async fn execute(
        &self,
        mut deployment: Deployment,
        config: Arc<Config>,
        cancel: CancellationToken,
    ) -> Result<()> {
        let (runtime, journaler) = self.runtime_for(&deployment.id);
        if deployment.status == DeploymentStatus::Running {
            for index in 0..deployment.plan.steps.len() {
                if deployment.plan.steps[index].status == StepStatus::Succeeded {
                    continue;
                }
                {
                    let step = &mut deployment.plan.steps[index];
                    step.status = StepStatus::Running;
                    step.started_at = Some(Utc::now());
                    step.error = None;
                }
                journaler.flush().await;
                self.save_step(&deployment, index).await?;
                let outcome = tokio::select! {
                    outcome = self.run_step(&runtime, &mut deployment, index, &config) => outcome,
                    _ = cancel.cancelled() => Err(Error::Cancelled),
                };
                let step = &mut deployment.plan.steps[index];
                step.finished_at = Some(Utc::now());
                match outcome {
                    Ok(detail) => {
                        step.status = StepStatus::Succeeded;
                        step.detail = Some(detail);
                        journaler.flush().await;
                        self.save_step(&deployment, index).await?;
                    }
                    Err(err) => {
                        step.status = StepStatus::Failed;
                        step.error = Some(err.to_string());
                        deployment.status = DeploymentStatus::RollingBack;
                        deployment.error = Some(format!("{} failed: {err}", step.kind.label()));
                        journaler.flush().await;
                        self.save_step(&deployment, index).await?;
                        break;
                    }
                }
            }
            if deployment.status == DeploymentStatus::Running {
                deployment.status = DeploymentStatus::Succeeded;
                deployment.finished_at = Some(Utc::now());
                let event = self.event(
                    &deployment,
                    "deploy.succeeded",
                    Severity::Info,
                    format!(
                        "deployment {} of {} succeeded: {}",
                        deployment.id,
                        deployment.release.version,
                        describe_changes(&deployment.plan.changes)
                    ),
                );
                journaler.flush().await;
                self.finish(&deployment, event).await?;
                if let Some(argv) = &config.deploy.hooks.post_deploy
                    && let Err(err) = hooks::run(
                        "post_deploy",
                        argv,
                        &HookContext::of(&deployment),
                        config.deploy.hooks.timeout.get(),
                    )
                    .await
                {
                    self.journal_hook_failure(&deployment, &err).await;
                }
                self.schedule_idle_stop(&deployment, &runtime);
                return Ok(());
            }
        }
        // Roll back every step that ran, newest first.
        for index in (0..deployment.plan.steps.len()).rev() {
            match deployment.plan.steps[index].status {
                StepStatus::Pending => {
                    deployment.plan.steps[index].status = StepStatus::Skipped;
                    continue;
                }
                StepStatus::Skipped | StepStatus::RolledBack | StepStatus::RollbackFailed => {
                    continue;
                }
                StepStatus::Running
                | StepStatus::Succeeded
                | StepStatus::Failed
                | StepStatus::RollingBack => {}
            }
            deployment.plan.steps[index].status = StepStatus::RollingBack;
            journaler.flush().await;
            self.save_step(&deployment, index).await?;
            let outcome = self
                .rollback_step(&runtime, &deployment, index, &config)
                .await;
            let step = &mut deployment.plan.steps[index];
            step.finished_at = Some(Utc::now());
            match outcome {
                Ok(detail) => {
                    step.status = StepStatus::RolledBack;
                    step.detail = Some(detail);
                }
                Err(err) => {
                    step.status = StepStatus::RollbackFailed;
                    step.error = Some(format!("rollback failed: {err}"));
                }
            }
            journaler.flush().await;
            self.save_step(&deployment, index).await?;
        }
        deployment.finished_at = Some(Utc::now());
        let failed: Vec<String> = deployment
            .plan
            .steps
            .iter()
            .filter(|step| step.status == StepStatus::RollbackFailed)
            .map(|step| {
                format!(
                    "{} ({})",
                    step.kind.label(),
                    step.error.as_deref().unwrap_or("")
                )
            })
            .collect();
        let cause = deployment
            .error
            .clone()
            .unwrap_or_else(|| "cancelled".to_owned());
        let event = if failed.is_empty() {
            deployment.status = DeploymentStatus::RolledBack;
            self.event(
                &deployment,
                "deploy.rolled_back",
                Severity::Warning,
                format!(
                    "deployment {} of {} rolled back: {cause}",
                    deployment.id, deployment.release.version
                ),
            )
        } else {
            deployment.status = DeploymentStatus::Failed;
            let running = self.describe_running(&deployment).await;
            deployment.error = Some(format!(
                "{cause}; then the rollback of {} failed. Running now: {running}. Fix the cause and deploy again, or run `steward rollback`",
                failed.join(", ")
            ));
            self.event(
                &deployment,
                "deploy.failed",
                Severity::Critical,
                format!(
                    "deployment {} of {} failed and could not be fully rolled back",
                    deployment.id, deployment.release.version
                ),
            )
        };
        journaler.flush().await;
        self.finish(&deployment, event).await?;
        if let Some(argv) = &config.deploy.hooks.on_rollback
            && let Err(err) = hooks::run(
                "on_rollback",
                argv,
                &HookContext::of(&deployment),
                config.deploy.hooks.timeout.get(),
            )
            .await
        {
            self.journal_hook_failure(&deployment, &err).await;
        }
        Ok(())
    }

    async fn finish(&self, deployment: &Deployment, event: NewEvent) -> Result<()> {
        let event = event.payload(json!({
            "deployment": deployment.id,
            "status": deployment.status,
            "error": deployment.error,
            "services": deployment.services,
        }));
        self.inner.store.save(deployment, vec![event]).await?;
        let _ = self.inner.updates.send(Update {
            deployment_id: deployment.id.clone(),
            kind: UpdateKind::Finished {
                status: deployment.status,
                error: deployment.error.clone(),
            },
        });
        self.inner.store.unlock(&deployment.id).await
    }

    async fn journal_hook_failure(&self, deployment: &Deployment, err: &Error) {
        let event = self.event(
            deployment,
            "deploy.hook.failed",
            Severity::Warning,
            format!("{}: {err}", deployment.id),
        );
        if let Err(err) = self.inner.store.journal(vec![event]).await {
            tracing::warn!(error = %err, "cannot journal a hook failure");
        }
    }

    /// After a blue-green switch, the old set runs on for `keep_old_for`.
    fn schedule_idle_stop(&self, deployment: &Deployment, runtime: &Runtime) {
        for name in &deployment.services {
            let Some(spec) = deployment.release.service(name) else {
                continue;
            };
            if spec.rollout.strategy != Strategy::BlueGreen {
                continue;
            }
            let spec = spec.clone();
            let runtime = runtime.clone();
            let manager = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(spec.rollout.keep_old_for.get()).await;
                // A later deployment of the service owns it from then on.
                let current = manager
                    .current_specs()
                    .await
                    .ok()
                    .and_then(|mut specs| specs.remove(&spec.name));
                if current.is_some_and(|current| current.hash() == spec.hash())
                    && let Err(err) = runtime.stop_idle(&spec).await
                {
                    tracing::warn!(service = %spec.name, error = %err, "cannot stop the old blue-green set");
                }
            });
        }
    }

    async fn describe_running(&self, deployment: &Deployment) -> String {
        let Ok(replicas) = self.inner.runtime.backend.list().await else {
            return "unknown (the backend does not answer)".to_owned();
        };
        let parts: Vec<String> = deployment
            .services
            .iter()
            .map(|name| {
                let versions: Vec<String> = replicas
                    .iter()
                    .filter(|replica| &replica.service == name)
                    .map(|replica| format!("{}@{}", replica.id, replica.version))
                    .collect();
                if versions.is_empty() {
                    format!("{name}: no replica")
                } else {
                    format!("{name}: {}", versions.join(" "))
                }
            })
            .collect();
        parts.join("; ")
    }

    async fn run_step(
        &self,
        runtime: &Runtime,
        deployment: &mut Deployment,
        index: usize,
        config: &Config,
    ) -> Result<String> {
        let kind = deployment.plan.steps[index].kind.clone();
        match kind {
            StepKind::DatabaseMigration { database, .. } => {
                let config_db = config
                    .databases
                    .iter()
                    .find(|db| db.name == database)
                    .ok_or_else(|| {
                        Error::NotFound(format!("database {database} is no longer configured"))
                    })?;
                let manager =
                    migration_manager(config_db, &self.inner.options.data_dir, &deployment.actor)?;
                let report = manager.apply().await?;
                if let StepKind::DatabaseMigration { backup, .. } =
                    &mut deployment.plan.steps[index].kind
                {
                    *backup = report.backups.first().map(|info| info.id.clone());
                }
                Ok(format!(
                    "applied {} migrations to {database}",
                    report.migrations.len()
                ))
            }
            StepKind::UpdateServices { service } => {
                let target = deployment.release.service(&service).filter(|_| {
                    deployment.plan.changes.iter().any(|change| {
                        change.service == service && change.kind != ChangeKind::Remove
                    })
                });
                runtime.converge(&service, target, &deployment.id).await?;
                Ok(match target {
                    Some(spec) => format!(
                        "{service} runs {} replicas of {}",
                        spec.replicas, spec.version
                    ),
                    None => format!("{service} removed"),
                })
            }
            StepKind::VerifyHealth => {
                let specs: Vec<&ServiceSpec> = deployment
                    .plan
                    .changes
                    .iter()
                    .filter(|change| {
                        matches!(
                            change.kind,
                            ChangeKind::Create | ChangeKind::Update | ChangeKind::Scale
                        )
                    })
                    .filter_map(|change| deployment.release.service(&change.service))
                    .collect();
                let checks = specs
                    .iter()
                    .map(|spec| runtime.verify(spec, spec.rollout.verify_window.get()));
                futures::future::join_all(checks)
                    .await
                    .into_iter()
                    .collect::<Result<Vec<()>>>()?;
                let mut smoke_count = 0;
                for spec in &specs {
                    let addr = match runtime.proxies.get(&spec.name) {
                        Some((_, addr)) => Some(addr),
                        None => runtime
                            .replicas(&spec.name)
                            .await?
                            .first()
                            .map(|replica| replica.addr),
                    };
                    for check in &spec.rollout.smoke {
                        smoke::run(&spec.name, check, addr).await?;
                        smoke_count += 1;
                    }
                }
                let gates: Vec<Arc<dyn MetricGate>> =
                    self.inner.gates.lock().expect("gate list lock").clone();
                let since = deployment.plan.steps[0]
                    .started_at
                    .unwrap_or(deployment.created_at);
                for spec in &specs {
                    for gate in &gates {
                        gate.check(spec, since)
                            .await
                            .map_err(|reason| Error::Gate {
                                service: spec.name.to_string(),
                                gate: gate.name(),
                                reason,
                            })?;
                    }
                }
                Ok(format!(
                    "{} services healthy through their verify windows; {smoke_count} smoke checks and {} metric gates passed",
                    specs.len(),
                    gates.len() * specs.len()
                ))
            }
        }
    }

    async fn rollback_step(
        &self,
        runtime: &Runtime,
        deployment: &Deployment,
        index: usize,
        config: &Config,
    ) -> Result<String> {
        match &deployment.plan.steps[index].kind {
            StepKind::DatabaseMigration {
                database,
                before,
                backup,
                ..
            } => {
                let config_db = config
                    .databases
                    .iter()
                    .find(|db| &db.name == database)
                    .ok_or_else(|| {
                        Error::NotFound(format!("database {database} is no longer configured"))
                    })?;
                let manager =
                    migration_manager(config_db, &self.inner.options.data_dir, &deployment.actor)?;
                // Down files first; the backup taken before the step when
                // a down file is missing or a down migration fails.
                match manager.down(Some(before.as_deref().unwrap_or("0"))).await {
                    Ok(report) => Ok(format!(
                        "undid {} migrations of {database}",
                        report.migrations.len()
                    )),
                    Err(down) => match backup {
                        Some(id) => {
                            manager.restore(id).await?;
                            Ok(format!("restored {database} from backup {id} ({down})"))
                        }
                        None => Err(down.into()),
                    },
                }
            }
            StepKind::UpdateServices { service } => {
                let previous = deployment.previous.get(service).cloned().flatten();
                runtime
                    .converge(service, previous.as_ref(), &deployment.id)
                    .await?;
                Ok(match previous {
                    Some(spec) => format!(
                        "{service} back on {} ({} replicas)",
                        spec.version, spec.replicas
                    ),
                    None => format!("{service} stopped (it did not run before)"),
                })
            }
            StepKind::VerifyHealth => Ok("nothing to undo".to_owned()),
        }
    }
}

fn describe_changes(changes: &[ServiceChange]) -> String {
    let parts: Vec<String> = changes
        .iter()
        .filter(|change| change.kind != ChangeKind::Unchanged)
        .map(|change| match change.kind {
            ChangeKind::Create => format!(
                "create {} ({}x {})",
                change.service,
                change.to_replicas,
                change
                    .to_version
                    .as_ref()
                    .map(Version::as_str)
                    .unwrap_or("")
            ),
            ChangeKind::Update => format!(
                "update {} {} -> {}",
                change.service,
                change
                    .from_version
                    .as_ref()
                    .map(Version::as_str)
                    .unwrap_or("?"),
                change
                    .to_version
                    .as_ref()
                    .map(Version::as_str)
                    .unwrap_or("?")
            ),
            ChangeKind::Scale => format!(
                "scale {} {} -> {}",
                change.service, change.from_replicas, change.to_replicas
            ),
            ChangeKind::Remove => format!("remove {}", change.service),
            ChangeKind::Unchanged => unreachable!("filtered"),
        })
        .collect();
    if parts.is_empty() {
        "no changes".to_owned()
    } else {
        parts.join(", ")
    }
}

fn describe_rollout(event: &RolloutEvent) -> (&'static str, Name, String) {
    match event {
        RolloutEvent::Started {
            service,
            replica,
            version,
        } => (
            "deploy.replica.started",
            service.clone(),
            format!("replica {replica} of {service} started ({version})"),
        ),
        RolloutEvent::Healthy {
            service,
            replica,
            after_ms,
        } => (
            "deploy.replica.healthy",
            service.clone(),
            format!("replica {replica} of {service} healthy after {after_ms} ms"),
        ),
        RolloutEvent::Unhealthy {
            service,
            replica,
            reason,
        } => (
            "deploy.replica.unhealthy",
            service.clone(),
            format!("replica {replica} of {service} unhealthy: {reason}"),
        ),
        RolloutEvent::Added { service, replica } => (
            "deploy.replica.added",
            service.clone(),
            format!("replica {replica} of {service} takes traffic"),
        ),
        RolloutEvent::Switched { service, replicas } => (
            "deploy.traffic.switched",
            service.clone(),
            format!("{service} traffic switched to {}", replicas.join(", ")),
        ),
        RolloutEvent::Drained {
            service,
            replica,
            abandoned,
        } => (
            "deploy.replica.drained",
            service.clone(),
            format!("replica {replica} of {service} drained ({abandoned} requests abandoned)"),
        ),
        RolloutEvent::Stopped { service, replica } => (
            "deploy.replica.stopped",
            service.clone(),
            format!("replica {replica} of {service} stopped"),
        ),
    }
}

/// The migration manager of a configured database.
pub(crate) fn migration_manager(
    database: &DatabaseConfig,
    data_dir: &std::path::Path,
    actor: &Actor,
) -> Result<MigrationManager> {
    let dir = database.migrations.as_ref().ok_or_else(|| {
        Error::Invalid(format!(
            "database {} has no migrations directory",
            database.name
        ))
    })?;
    let source = Source::from_dir(dir)?;
    let mut options = Options::new(data_dir.join("backups").join(database.name.as_str()));
    options.applied_by = actor.to_string();
    Ok(MigrationManager::new(
        database.url.expose(),
        source,
        options,
    )?)
}

/// Pending versions of a database and its newest applied version; `None`
/// when it has no migrations directory. Fails when the database cannot be
/// reached, its history does not validate, or its plan has lint errors.
async fn pending_migrations(
    database: &DatabaseConfig,
    data_dir: &std::path::Path,
    actor: &Actor,
) -> Result<Option<(Vec<String>, Option<String>)>> {
    if database.migrations.is_none() {
        return Ok(None);
    }
    let manager = migration_manager(database, data_dir, actor)?;
    let status = manager.validate().await?;
    let plan = manager.plan().await?;
    if steward_migrate::denied(&plan.findings, Severity::Error) {
        let errors: Vec<String> = plan
            .findings
            .iter()
            .filter(|finding| finding.severity >= Severity::Error)
            .map(|finding| {
                format!(
                    "{}:{} {}",
                    finding.file.display(),
                    finding.line,
                    finding.code
                )
            })
            .collect();
        return Err(Error::Invalid(format!(
            "migration lint errors: {}",
            errors.join(", ")
        )));
    }
    let pending = plan
        .steps
        .iter()
        .map(|step| step.migration.clone())
        .collect();
    Ok(Some((pending, status.current)))
}

//! The [`DeploymentManager`] facade: what it is built from, and the
//! questions asked of it (a deployment, the list, what runs, what to roll
//! back to, whether a deployment is still run by some steward process).
//! Planning is in `plan.rs`, the deploy lock in `lock.rs`, the step
//! engine in `engine.rs`, crash recovery and reconciliation in
//! `recover.rs`, and what is journaled in `journal.rs`.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use serde::Serialize;
use steward_config::Config;
use steward_core::{Actor, Name, Version};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Result,
    backend::Backend,
    background::{Background, IdleStop},
    gates::MetricGate,
    metrics::MetricSource,
    model::{Deployment, DeploymentSummary, Release, ServiceSpec},
    rollout::{Converger, EventSink, ProxySet},
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
    /// Only create services that were never deployed: one that another
    /// deployment created meanwhile is left as it runs (what `steward
    /// up`'s first deployment asks, so that it never undoes a deployment
    /// that got the lock before it).
    pub create_only: bool,
}

/// Settings of the manager.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Steward's data directory (disk check, migration backups).
    pub data_dir: PathBuf,
    /// This host's name (deploy lock holder).
    pub host: String,
    /// How long a deployment keeps retrying a save that the state store
    /// refuses before it stops going forward (and rolls back). The final
    /// save and the release of the deploy lock are retried until the
    /// store is back, however long that takes.
    pub store_patience: Duration,
}

impl ManagerOptions {
    /// Options with a store patience of 30 s.
    pub fn new(data_dir: impl Into<PathBuf>, host: impl Into<String>) -> Self {
        ManagerOptions {
            data_dir: data_dir.into(),
            host: host.into(),
            store_patience: Duration::from_secs(30),
        }
    }
}

/// What runs for one service now.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
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

/// A deployment as the API shows it: the record, environment values
/// hidden, and whether it is orphaned (unfinished, and no steward process
/// runs it any more: it is finished at the next start).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct DeploymentView {
    /// The record.
    #[serde(flatten)]
    pub deployment: Deployment,
    /// Unfinished and run by no live steward process.
    pub orphaned: bool,
}

struct Inner {
    store: Arc<dyn DeployStore>,
    converger: Converger,
    options: ManagerOptions,
    /// Deployments this process runs, with their cancel switches.
    running: Mutex<HashMap<String, CancellationToken>>,
    /// Counts deployments ended in this process (a service may have
    /// settled on another spec).
    finished: watch::Sender<u64>,
    gates: Mutex<Vec<Arc<dyn MetricGate>>>,
    /// Where PromQL gates and canary analyses read metrics.
    metrics: Mutex<Option<Arc<dyn MetricSource>>>,
    /// Old blue-green sets to stop later, for the [`Background`].
    idle_stops: mpsc::UnboundedSender<IdleStop>,
}

/// Plans and runs deployments. Cloning shares it.
#[derive(Clone)]
pub struct DeploymentManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DeploymentManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentManager")
            .field("backend", &self.inner.converger.backend.kind())
            .finish_non_exhaustive()
    }
}

/// Locks `mutex` even if a thread panicked while holding it: every value
/// guarded here is changed by single inserts and removals, never left
/// half-changed.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DeploymentManager {
    /// A manager over `store` running replicas on `backend` behind
    /// `proxies`, and its background work (journaling what the backend
    /// reports, stopping old blue-green sets), which the caller runs
    /// (see [`Background::run`]). Nothing is spawned here.
    pub fn new(
        store: Arc<dyn DeployStore>,
        backend: Arc<dyn Backend>,
        proxies: ProxySet,
        options: ManagerOptions,
    ) -> (Self, Background) {
        let (finished, _) = watch::channel(0);
        // Subscribed now, so that what the backend reports from here on
        // reaches the journal however late the background starts.
        let (idle_stops, idle_queue) = mpsc::unbounded_channel();
        let background = Background::new(backend.subscribe(), idle_queue, Arc::clone(&store));
        let converger = Converger {
            prober: backend
                .health_probe()
                .unwrap_or_else(|| Arc::new(crate::health::Prober::new())),
            backend,
            proxies,
            events: Arc::new(|_| {}),
            metrics: None,
        };
        let manager = DeploymentManager {
            inner: Arc::new(Inner {
                store,
                converger,
                options,
                running: Mutex::new(HashMap::new()),
                finished,
                gates: Mutex::new(Vec::new()),
                metrics: Mutex::new(None),
                idle_stops,
            }),
        };
        (manager, background)
    }

    /// Hands an old blue-green set to the [`Background`], which stops it
    /// at `stop.at`.
    pub(crate) fn schedule(&self, stop: IdleStop) {
        if self.inner.idle_stops.send(stop).is_err() {
            // The background has stopped (steward is shutting down): the
            // next start's reconciliation stops the old set.
            tracing::debug!("the old blue-green set is left to the next start");
        }
    }

    /// Adds a metric gate that every later `verify_health` step checks.
    pub fn add_gate(&self, gate: Arc<dyn MetricGate>) {
        locked(&self.inner.gates).push(gate);
    }

    pub(crate) fn gates(&self) -> Vec<Arc<dyn MetricGate>> {
        locked(&self.inner.gates).clone()
    }

    /// Sets where the services' PromQL gates and canary analyses read
    /// metrics (the server's metrics collector; without one, a service
    /// that has them fails its deployment).
    pub fn set_metric_source(&self, source: Arc<dyn MetricSource>) {
        *locked(&self.inner.metrics) = Some(source);
    }

    pub(crate) fn metric_source(&self) -> Option<Arc<dyn MetricSource>> {
        locked(&self.inner.metrics).clone()
    }

    /// The proxies of the services.
    pub fn proxies(&self) -> &ProxySet {
        &self.inner.converger.proxies
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.converger.backend
    }

    /// Steward's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.inner.options.data_dir
    }

    pub(crate) fn options(&self) -> &ManagerOptions {
        &self.inner.options
    }

    pub(crate) fn prober(&self) -> &dyn crate::backend::HealthProbe {
        self.inner.converger.prober.as_ref()
    }

    pub(crate) fn store(&self) -> &Arc<dyn DeployStore> {
        &self.inner.store
    }

    /// The converger with rollout events going to `events`.
    pub(crate) fn converger_with(&self, events: EventSink) -> Converger {
        Converger {
            events,
            metrics: self.metric_source(),
            ..self.inner.converger.clone()
        }
    }

    /// How many deployments have ended in this process (changes when a
    /// service may have settled on another spec).
    pub(crate) fn finished_count(&self) -> u64 {
        *self.inner.finished.borrow()
    }

    /// Whether a deployment runs in this process.
    pub(crate) fn deployments_running(&self) -> bool {
        !locked(&self.inner.running).is_empty()
    }

    /// Whether deployment `id` runs in this process.
    pub(crate) fn runs_here(&self, id: &str) -> bool {
        locked(&self.inner.running).contains_key(id)
    }

    /// Runs `action` unless a deployment runs, holding the lock under
    /// which deployments register, so none can start meanwhile. Returns
    /// what `action` returned, or false when it did not run.
    pub(crate) fn while_no_deployment(&self, action: impl FnOnce() -> bool) -> bool {
        let running = locked(&self.inner.running);
        running.is_empty() && action()
    }

    /// Registers deployment `id` as run by this process; returns its
    /// cancel switch.
    pub(crate) fn register(&self, id: &str) -> CancellationToken {
        let cancel = CancellationToken::new();
        locked(&self.inner.running).insert(id.to_owned(), cancel.clone());
        cancel
    }

    /// Deployment `id` has ended (or its engine gave it up).
    pub(crate) fn unregister(&self, id: &str) {
        locked(&self.inner.running).remove(id);
        self.inner.finished.send_modify(|count| *count += 1);
    }

    /// Waits until deployment `id` has ended and returns it. Fails with
    /// [`Error::Orphaned`] when no steward process runs it any more.
    pub async fn wait(&self, id: &str) -> Result<Deployment> {
        let mut finished = self.inner.finished.subscribe();
        loop {
            let deployment = self
                .inner
                .store
                .get(id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no deployment {id}")))?;
            let here = self.runs_here(id);
            if deployment.status.is_final() && !here {
                return Ok(deployment);
            }
            if here {
                let _ = finished.changed().await;
                continue;
            }
            if let Some(detail) = self.orphaned(&deployment).await? {
                return Err(Error::Orphaned {
                    id: id.to_owned(),
                    detail,
                });
            }
            // Run by another steward process: poll.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Why an unfinished deployment is run by no live steward process
    /// (`None` when one runs it, or it has ended).
    async fn orphaned(&self, deployment: &Deployment) -> Result<Option<String>> {
        if deployment.status.is_final() || self.runs_here(&deployment.id) {
            return Ok(None);
        }
        if let Some(engine) = &deployment.engine {
            let own = self.own_engine();
            if engine.host == own.host && engine.pid == own.pid && engine.pid_start == own.pid_start
            {
                return Ok(Some(
                    "this steward process stopped running it before it ended".to_owned(),
                ));
            }
            return Ok(
                (!self.process_alive(&engine.host, engine.pid, engine.pid_start)).then(|| {
                    format!(
                        "the steward process that ran it (pid {} on {}) is gone",
                        engine.pid, engine.host
                    )
                }),
            );
        }
        // Recorded before deployments named their process: its lock tells.
        match self.lock_holder_alive().await? {
            Some(holder) if holder.deployment_id == deployment.id => Ok(None),
            _ => Ok(Some(
                "no live steward process holds its deploy lock".to_owned(),
            )),
        }
    }

    /// Cancels a running deployment: its current step stops and the
    /// deployment rolls back (or ends `aborted` when it had not acted).
    pub fn cancel(&self, id: &str) -> Result<()> {
        match locked(&self.inner.running).get(id) {
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

    /// One deployment as the API shows it.
    pub async fn view(&self, id: &str) -> Result<Option<DeploymentView>> {
        let Some(deployment) = self.get(id).await? else {
            return Ok(None);
        };
        let orphaned = self.orphaned(&deployment).await?.is_some();
        Ok(Some(DeploymentView {
            deployment,
            orphaned,
        }))
    }

    /// Whether deployment `id` is unfinished and run by no live steward
    /// process.
    pub async fn is_orphaned(&self, id: &str) -> Result<bool> {
        match self.inner.store.get(id).await? {
            Some(deployment) => Ok(self.orphaned(&deployment).await?.is_some()),
            None => Ok(false),
        }
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

    /// The spec `service` settled on (what its replicas run), if it was
    /// ever deployed.
    pub async fn current_spec(&self, service: &str) -> Result<Option<ServiceSpec>> {
        Ok(self
            .inner
            .store
            .current()
            .await?
            .into_iter()
            .find(|spec| spec.name.as_str() == service))
    }

    /// What runs now, per service.
    pub async fn status(&self, config: &Config) -> Result<Vec<ServiceStatus>> {
        let current = self.current_specs().await?;
        let replicas = self.inner.converger.backend.list().await?;
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
                let proxy = self.inner.converger.proxies.get(&name);
                let in_proxy = self.inner.converger.proxies.members(&name);
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

    /// Stops every replica (steward is shutting down).
    pub async fn stop_all(&self) -> Result<()> {
        let backend = &self.inner.converger.backend;
        let replicas = backend.list().await?;
        let stops = replicas
            .iter()
            .map(|replica| backend.stop(&replica.id, Duration::from_secs(10)));
        for result in futures::future::join_all(stops).await {
            result?;
        }
        Ok(())
    }
}

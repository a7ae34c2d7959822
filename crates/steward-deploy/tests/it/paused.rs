//! The engine in tokio's paused time, on the in-memory backend and store
//! of `steward_deploy::testing`: rollouts within their surge and
//! availability limits, rollback at a progress deadline or a failing
//! check, cancels at every gate and step, a store outage, a panicking
//! step, the deploy lock, crash recovery and the health watcher. Minutes
//! of deployment time take milliseconds; the real-process and Docker
//! modules are the end-to-end layer of the same behaviour.

mod canary;
mod engine;
mod recovery;
mod rollout;
mod watch;

use std::{path::Path, sync::Arc, time::Duration};

use steward_config::Config;
use steward_core::{Actor, Version};
use steward_deploy::{
    DeployRequest, Deployment, DeploymentManager, ManagerOptions, ProxySet, StepStatus,
    release_from_config,
    testing::{MemoryBackend, MemoryStore},
};
use steward_test_support::{free_port, wait_until};
use tokio_util::sync::CancellationToken;

/// How long a test waits for something that takes seconds of deployment
/// time (paused: this costs no wall time).
pub(crate) const PATIENCE: Duration = Duration::from_secs(3600);

/// The service `agent`, as a test configures it.
pub(crate) struct Agent {
    pub(crate) replicas: u32,
    /// The port of its proxy (`None`: no proxy).
    pub(crate) port: Option<u16>,
    pub(crate) strategy: &'static str,
    pub(crate) max_surge: u32,
    pub(crate) max_unavailable: u32,
    pub(crate) interval: &'static str,
    pub(crate) healthy_threshold: u32,
    pub(crate) unhealthy_threshold: u32,
    pub(crate) start_period: &'static str,
    pub(crate) verify_window: &'static str,
    pub(crate) progress_deadline: &'static str,
    pub(crate) stop_grace: &'static str,
    pub(crate) keep_old_for: &'static str,
    /// Extra top-level TOML (`[deploy]`, hooks).
    pub(crate) extra: String,
    /// More of `[services.rollout]` (canary keys), then its sub-tables
    /// (`[[services.rollout.gate]]`, `[[services.rollout.analysis]]`).
    pub(crate) rollout: String,
}

impl Agent {
    pub(crate) fn new(replicas: u32) -> Self {
        Agent {
            replicas,
            port: Some(free_port()),
            strategy: "rolling",
            max_surge: 1,
            max_unavailable: 0,
            interval: "1s",
            healthy_threshold: 1,
            unhealthy_threshold: 3,
            start_period: "0s",
            verify_window: "2s",
            progress_deadline: "10m",
            stop_grace: "5s",
            keep_old_for: "10m",
            extra: String::new(),
            rollout: String::new(),
        }
    }

    fn toml(&self) -> String {
        let port = self
            .port
            .map(|port| format!("port = {port}"))
            .unwrap_or_default();
        format!(
            r#"{extra}

[[services]]
name = "agent"
replicas = {replicas}
{port}

[services.process]
command = ["agent", "--port", "{{port}}"]

[services.health]
http = "/healthz"
interval = "{interval}"
timeout = "500ms"
healthy_threshold = {healthy_threshold}
unhealthy_threshold = {unhealthy_threshold}
start_period = "{start_period}"

[services.rollout]
strategy = "{strategy}"
max_surge = {max_surge}
max_unavailable = {max_unavailable}
drain_timeout = "5s"
stop_grace = "{stop_grace}"
keep_old_for = "{keep_old_for}"
verify_window = "{verify_window}"
progress_deadline = "{progress_deadline}"
{rollout}
"#,
            rollout = self.rollout,
            extra = self.extra,
            replicas = self.replicas,
            interval = self.interval,
            healthy_threshold = self.healthy_threshold,
            unhealthy_threshold = self.unhealthy_threshold,
            start_period = self.start_period,
            strategy = self.strategy,
            max_surge = self.max_surge,
            max_unavailable = self.max_unavailable,
            stop_grace = self.stop_grace,
            keep_old_for = self.keep_old_for,
            verify_window = self.verify_window,
            progress_deadline = self.progress_deadline,
        )
    }

    /// The configuration.
    pub(crate) fn config(&self, dir: &Path) -> Config {
        crate::support::load(&self.toml(), dir)
    }
}

/// A manager over a [`MemoryStore`] and a [`MemoryBackend`], its
/// background work running, with a temporary data directory.
pub(crate) struct Paused {
    pub(crate) manager: DeploymentManager,
    pub(crate) store: MemoryStore,
    pub(crate) backend: MemoryBackend,
    pub(crate) dir: Arc<tempfile::TempDir>,
    pub(crate) shutdown: CancellationToken,
    patience: Duration,
}

impl Paused {
    /// A fresh steward over empty state.
    pub(crate) fn new() -> Self {
        Self::with_patience(Duration::from_secs(30))
    }

    /// A fresh steward whose bounded saves give up after `patience`.
    pub(crate) fn with_patience(patience: Duration) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        Self::over(MemoryStore::new(), MemoryBackend::new(), dir, patience)
    }

    fn over(
        store: MemoryStore,
        backend: MemoryBackend,
        dir: Arc<tempfile::TempDir>,
        patience: Duration,
    ) -> Self {
        let shutdown = CancellationToken::new();
        let registry = prometheus::Registry::new();
        let metrics = steward_proxy::ProxyMetrics::register(&registry).expect("proxy metrics");
        let proxies = ProxySet::new("127.0.0.1".parse().expect("ip"), metrics, shutdown.clone());
        let mut options = ManagerOptions::new(dir.path(), "test-host");
        options.store_patience = patience;
        let (manager, background) = DeploymentManager::new(
            Arc::new(store.clone()),
            Arc::new(backend.clone()),
            proxies,
            options,
        );
        tokio::spawn(background.run(shutdown.clone()));
        Paused {
            manager,
            store,
            backend,
            dir,
            shutdown,
            patience,
        }
    }

    /// This steward process dies where it is (every call it makes to the
    /// store or the backend from now on never returns; its proxies close)
    /// and a new one starts over the same state, replicas and data
    /// directory. Waits until the old proxies' ports are free.
    pub(crate) async fn crash_and_restart(&self) -> Paused {
        self.store.kill();
        self.backend.kill();
        self.shutdown.cancel();
        for (_, _, addr) in self.manager.proxies().all() {
            wait_until("the dead steward's proxy closed", PATIENCE, async || {
                std::net::TcpListener::bind(addr).is_ok()
            })
            .await;
        }
        Self::over(
            self.store.reopen(),
            self.backend.reopen(),
            Arc::clone(&self.dir),
            self.patience,
        )
    }

    pub(crate) fn config(&self, agent: &Agent) -> Config {
        agent.config(self.dir.path())
    }

    pub(crate) fn request(&self, config: &Config, version: &str) -> DeployRequest {
        DeployRequest {
            release: release_from_config(config, &Version::new(version).expect("version"))
                .expect("release"),
            services: None,
            actor: Actor::new("test").expect("actor"),
            reason: None,
            force: false,
            wait_lock: Duration::ZERO,
            create_only: false,
        }
    }

    /// Records a deployment of `version` and returns its id.
    pub(crate) async fn start(&self, config: &Config, request: DeployRequest) -> String {
        self.manager
            .deploy(config, request)
            .await
            .expect("the deployment is recorded")
            .id
    }

    /// Deploys `version` and waits for its end.
    pub(crate) async fn deploy(&self, config: &Config, version: &str) -> Deployment {
        let id = self.start(config, self.request(config, version)).await;
        self.manager.wait(&id).await.expect("the deployment ends")
    }

    /// Waits until deployment `id`'s step `label` is `status` (as saved).
    pub(crate) async fn until_step(&self, id: &str, label: &str, status: StepStatus) {
        let what = format!("{label} of {id} is {status:?}");
        wait_until(&what, PATIENCE, async || {
            self.store.deployment(id).is_some_and(|deployment| {
                deployment
                    .plan
                    .steps
                    .iter()
                    .any(|step| step.kind.label() == label && step.status == status)
            })
        })
        .await;
    }

    /// Ids of the replicas in the agent's proxy.
    pub(crate) fn in_proxy(&self) -> Vec<String> {
        self.manager.proxies().members("agent")
    }

    /// Versions of the replicas that run, in start order.
    pub(crate) fn versions(&self) -> Vec<String> {
        self.backend
            .replicas()
            .iter()
            .map(|replica| replica.version.to_string())
            .collect()
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The status of every acting step of a deployment (its gates left out).
pub(crate) fn acting(deployment: &Deployment) -> Vec<(String, StepStatus)> {
    crate::support::actions(deployment)
        .into_iter()
        .map(|step| (step.kind.label(), step.status))
        .collect()
}

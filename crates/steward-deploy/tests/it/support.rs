//! Shared fixtures: the real demo agent binary, configurations written as
//! TOML, a manager over a SQLite store and the process backend in a
//! temporary directory, and a load generator that counts failures.

use std::{
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use steward_config::{Config, Environment, load_str};
use steward_core::{Actor, Version};
use steward_deploy::{
    Backend, DeployRequest, DeployStore, Deployment, DeploymentManager, ManagerOptions,
    ProcessBackend, ProxySet, release_from_config,
};
use steward_store::testing::TestStore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) use steward_test_support::{demo_agent, free_port};

/// One service `agent` of the demo agent on `port`.
pub(crate) struct Service {
    pub(crate) port: u16,
    pub(crate) replicas: u32,
    pub(crate) strategy: &'static str,
    /// Extra `env` entries, TOML inline-table body (`A = "1", B = "2"`).
    pub(crate) env: String,
    /// Extra TOML under `[services.rollout]`.
    pub(crate) rollout: String,
    /// Extra top-level TOML (e.g. `[deploy.hooks]`).
    pub(crate) extra: String,
    /// Run on the Docker backend: a `[services.docker]` section and
    /// `[deploy] backend = "docker"`.
    pub(crate) docker: Option<DockerService>,
}

/// The demo agent as a container.
pub(crate) struct DockerService {
    /// Image holding the demo agent as its entry point.
    pub(crate) image: String,
    /// `[deploy] docker_network`.
    pub(crate) network: String,
}

/// The port the demo agent listens on inside its container.
pub(crate) const CONTAINER_PORT: u16 = 8080;

impl Service {
    pub(crate) fn new(port: u16, replicas: u32) -> Self {
        Service {
            port,
            replicas,
            strategy: "rolling",
            env: String::new(),
            rollout: String::new(),
            extra: String::new(),
            docker: None,
        }
    }

    pub(crate) fn toml(&self) -> String {
        let agent = demo_agent();
        let env = if self.env.is_empty() {
            String::new()
        } else {
            format!(", {}", self.env)
        };
        let (deploy, docker) = match &self.docker {
            None => (String::new(), String::new()),
            Some(docker) => (
                format!(
                    "[deploy]\nbackend = \"docker\"\ndocker_network = \"{}\"\n",
                    docker.network
                ),
                format!(
                    r#"
[services.docker]
image = "{image}"
port = {CONTAINER_PORT}
command = ["--listen", "0.0.0.0", "--port", "{{port}}", "--agent-version", "{{version}}"]
"#,
                    image = docker.image
                ),
            ),
        };
        format!(
            r#"{deploy}
[[services]]
name = "agent"
replicas = {replicas}
port = {port}
env = {{ DEMO_AGENT_LLM_LATENCY_MS = "20ms", DEMO_AGENT_TOOL_LATENCY_MS = "2ms", DEMO_AGENT_LLM_CALLS = "1", DEMO_AGENT_TOOL_CALLS = "1"{env} }}

[services.process]
command = ["{agent}", "--port", "{{port}}", "--agent-version", "{{version}}"]
{docker}

[services.health]
http = "/healthz"
interval = "300ms"
timeout = "250ms"
unhealthy_threshold = 2

[services.rollout]
strategy = "{strategy}"
drain_timeout = "5s"
stop_grace = "5s"
keep_old_for = "1h"
verify_window = "1s"
progress_deadline = "60s"
{rollout}

{extra}
"#,
            replicas = self.replicas,
            port = self.port,
            agent = agent.display(),
            strategy = self.strategy,
            rollout = self.rollout,
            extra = self.extra,
        )
    }

    pub(crate) fn config(&self, dir: &Path) -> Config {
        load(&self.toml(), dir)
    }
}

/// Loads a test configuration (relative paths against `dir`).
pub(crate) fn load(toml: &str, dir: &Path) -> Config {
    match load_str("steward.toml", toml, dir, &Environment::default()) {
        Ok(loaded) => loaded.config,
        Err(err) => panic!("invalid test configuration: {err}"),
    }
}

/// A manager on a SQLite store and a process backend in a temporary
/// directory; dropping it stops its replicas.
pub(crate) struct Harness {
    pub(crate) manager: DeploymentManager,
    pub(crate) store: TestStore,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) shutdown: CancellationToken,
}

impl Harness {
    pub(crate) async fn new() -> Self {
        let store = steward_store::testing::sqlite().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let shutdown = CancellationToken::new();
        let manager = Self::manager_on(&store, dir.path(), shutdown.clone()).await;
        Harness {
            manager,
            store,
            dir,
            shutdown,
        }
    }

    /// A manager on a SQLite store and `backend`.
    pub(crate) async fn with_backend(backend: Arc<dyn Backend>) -> Self {
        let store = steward_store::testing::sqlite().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let shutdown = CancellationToken::new();
        let manager = Self::manager_with(&store, dir.path(), shutdown.clone(), backend);
        Harness {
            manager,
            store,
            dir,
            shutdown,
        }
    }

    /// A manager as a fresh steward process would build it over the same
    /// state and backend directory.
    pub(crate) async fn manager_on(
        store: &TestStore,
        dir: &Path,
        shutdown: CancellationToken,
    ) -> DeploymentManager {
        let backend = ProcessBackend::open(dir.join("replicas"), dir.join("logs"))
            .await
            .expect("open process backend");
        Self::manager_with(store, dir, shutdown, Arc::new(backend))
    }

    /// A manager over `store` and `backend`, with `dir` as data directory.
    fn manager_with(
        store: &TestStore,
        dir: &Path,
        shutdown: CancellationToken,
        backend: Arc<dyn Backend>,
    ) -> DeploymentManager {
        Self::manager_over(
            Arc::new(store.store.clone()),
            dir,
            shutdown,
            backend,
            ManagerOptions::new(dir, "test-host"),
        )
    }

    /// A manager over any [`DeployStore`] (e.g. one that fails on
    /// command) with the process backend in `dir`.
    pub(crate) async fn with_store(
        store: Arc<dyn DeployStore>,
        state: TestStore,
        options: impl FnOnce(&Path) -> ManagerOptions,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let shutdown = CancellationToken::new();
        let backend = ProcessBackend::open(dir.path().join("replicas"), dir.path().join("logs"))
            .await
            .expect("open process backend");
        let manager = Self::manager_over(
            store,
            dir.path(),
            shutdown.clone(),
            Arc::new(backend),
            options(dir.path()),
        );
        Harness {
            manager,
            store: state,
            dir,
            shutdown,
        }
    }

    fn manager_over(
        store: Arc<dyn DeployStore>,
        _dir: &Path,
        shutdown: CancellationToken,
        backend: Arc<dyn Backend>,
        options: ManagerOptions,
    ) -> DeploymentManager {
        let registry = prometheus::Registry::new();
        let metrics = steward_proxy::ProxyMetrics::register(&registry).expect("proxy metrics");
        let proxies = ProxySet::new("127.0.0.1".parse().expect("ip"), metrics, shutdown.clone());
        let (manager, background) = DeploymentManager::new(store, backend, proxies, options);
        tokio::spawn(background.run(shutdown));
        manager
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

    /// Deploys `version` of `config` and waits for the end.
    pub(crate) async fn deploy(&self, config: &Config, version: &str) -> Deployment {
        let started = self
            .manager
            .deploy(config, self.request(config, version))
            .await
            .expect("deployment starts");
        if started.status.is_final() {
            return started;
        }
        self.manager
            .wait(&started.id)
            .await
            .expect("deployment ends")
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
        // Replicas are not our children once the runtime is gone: stop
        // them by their records' process groups.
        kill_replicas(&self.dir.path().join("replicas"));
    }
}

/// Kinds and summaries of the journal events of one deployment, in order.
pub(crate) async fn journal_of(harness: &Harness, deployment: &str) -> Vec<(String, String)> {
    let page = harness
        .store
        .store
        .events(&steward_store::EventQuery {
            kind: Some("deploy".to_owned()),
            order: steward_store::Order::Asc,
            limit: Some(1000),
            ..steward_store::EventQuery::default()
        })
        .await
        .expect("events");
    page.events
        .into_iter()
        .filter(|event| event.payload["deployment"] == deployment)
        .map(|event| (event.kind.to_string(), event.summary))
        .collect()
}

/// Kinds of the journal events of one deployment, in order.
pub(crate) async fn event_kinds(harness: &Harness, deployment: &str) -> Vec<String> {
    journal_of(harness, deployment)
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .collect()
}

/// The steps of a deployment that act (its gates left out).
pub(crate) fn actions(deployment: &Deployment) -> Vec<&steward_deploy::Step> {
    deployment
        .plan
        .steps
        .iter()
        .filter(|step| !step.kind.is_gate())
        .collect()
}

/// Makes a planned deployment look as a crash left it: its gates passed,
/// its first acting step running.
pub(crate) fn crashed_during_first_action(deployment: &mut Deployment) {
    let mut first = true;
    for step in &mut deployment.plan.steps {
        if step.kind.is_gate() {
            step.status = steward_deploy::StepStatus::Succeeded;
        } else if first {
            step.status = steward_deploy::StepStatus::Running;
            first = false;
        }
    }
}

/// Waits until deployment `id` holds the deploy lock (its engine passed
/// its first gate).
pub(crate) async fn wait_for_lock_holder(harness: &Harness, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let holder = DeployStore::lock_holder(&harness.store.store)
            .await
            .expect("lock holder");
        if holder.is_some_and(|holder| holder.deployment_id == id) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deployment {id} never took the deploy lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGKILLs every replica recorded in `dir`.
pub(crate) fn kill_replicas(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let Ok(record) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if let Some(pid) = record["pid"].as_i64().filter(|pid| *pid > 0) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Requests sent without pause through a proxy by a few workers.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    errors: Arc<std::sync::Mutex<Vec<String>>>,
    workers: Vec<JoinHandle<()>>,
}

/// What a load run saw.
#[derive(Debug)]
pub(crate) struct LoadReport {
    pub(crate) sent: u64,
    pub(crate) failed: u64,
    pub(crate) errors: Vec<String>,
}

impl Load {
    pub(crate) fn start(addr: SocketAddr, workers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let workers = (0..workers)
            .map(|_| {
                let (stop, sent, failed, errors, client) = (
                    Arc::clone(&stop),
                    Arc::clone(&sent),
                    Arc::clone(&failed),
                    Arc::clone(&errors),
                    client.clone(),
                );
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let result = client
                            .post(format!("http://{addr}/v1/tasks"))
                            .json(&serde_json::json!({"prompt": "load"}))
                            .send()
                            .await;
                        sent.fetch_add(1, Ordering::Relaxed);
                        let problem = match result {
                            Ok(response) if response.status().is_success() => None,
                            Ok(response) => Some(format!("status {}", response.status())),
                            Err(err) => Some(format!("{err:?}")),
                        };
                        if let Some(problem) = problem {
                            failed.fetch_add(1, Ordering::Relaxed);
                            errors.lock().unwrap().push(problem);
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            sent,
            failed,
            errors,
            workers,
        }
    }

    pub(crate) async fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            worker.await.expect("load worker");
        }
        LoadReport {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            errors: self.errors.lock().unwrap().clone(),
        }
    }
}

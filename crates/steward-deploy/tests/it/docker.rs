//! The Docker backend on the local engine: a replica's container (labels,
//! limits, network alias, published port), a rolling deployment of four
//! containers under load, Docker restarting a crashed container, and a
//! second backend of the same scope adopting the containers.
//!
//! Needs a Docker engine, so every test runs only with
//! `STEWARD_TEST_DOCKER=1` (`scripts/test.sh` sets it after checking
//! `docker info`). Images are built locally from the demo agent binary on
//! `steward-base:local` (`scripts/docker/base-image.sh`): no registry is
//! reachable.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::Path,
    process::{Command, Output},
    sync::Arc,
    time::{Duration, Instant},
};

use steward_config::{Resources, Rollout, ServiceProtocol};
use steward_core::{ByteSize, Name, Version};
use steward_deploy::{
    Backend, ChangeKind, DeploymentStatus, DockerBackend, ReplicaEvent, ReplicaState, ServiceSpec,
    backend::StartRequest, model::RunSpec,
};
use tokio::sync::broadcast;

use crate::support::{
    CONTAINER_PORT, DockerService, Harness, Load, Service, demo_agent, free_port,
};

const DOCKER_ENV: &str = "STEWARD_TEST_DOCKER";

fn enabled() -> bool {
    let enabled = std::env::var(DOCKER_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    if !enabled {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping: {DOCKER_ENV} is not set (scripts/test.sh sets it)");
        }
    }
    enabled
}

fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"))
}

/// Runs `docker` and returns its trimmed stdout, failing the test with
/// its output when it fails.
fn docker(args: &[&str]) -> String {
    let output = run(Command::new("docker").args(args));
    assert!(
        output.status.success(),
        "docker {} failed ({}):\n{}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The image, network and scope of one test; dropping it removes the
/// test's containers, network and image.
struct Fixture {
    image: String,
    network: String,
    scope: String,
}

impl Fixture {
    /// Builds the demo agent's image (on `steward-base:local`, made first
    /// when missing) under a tag of this test.
    fn new(test: &str) -> Self {
        let pid = std::process::id();
        let fixture = Fixture {
            image: format!("steward-demo-agent:test-{pid}-{test}"),
            network: format!("steward-test-{pid}-{test}"),
            scope: format!("test-{pid}-{test}"),
        };
        // Leftovers of an earlier run that had this process id.
        fixture.cleanup();
        let agent = demo_agent();
        let built = run(
            Command::new(repo_root().join("scripts/docker/demo-agent-image.sh"))
                .arg(&fixture.image)
                .arg(&agent),
        );
        assert!(
            built.status.success(),
            "scripts/docker/demo-agent-image.sh failed ({}):\n{}",
            built.status,
            String::from_utf8_lossy(&built.stderr)
        );
        fixture
    }

    async fn backend(&self) -> DockerBackend {
        DockerBackend::connect(&self.scope, &self.network)
            .await
            .expect("connect to docker")
    }

    /// The names of the scope's containers, in any state.
    fn containers(&self) -> Vec<String> {
        docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=io.steward.scope={}", self.scope),
            "--format",
            "{{.Names}}",
        ])
        .lines()
        .map(str::to_owned)
        .collect()
    }

    fn cleanup(&self) {
        let containers = run(Command::new("docker").args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.steward.scope={}", self.scope),
        ]));
        let ids: Vec<String> = String::from_utf8_lossy(&containers.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !ids.is_empty() {
            let _ = run(Command::new("docker").args(["rm", "-f", "-v"]).args(&ids));
        }
        let _ = run(Command::new("docker").args(["network", "rm", &self.network]));
        let _ = run(Command::new("docker").args(["rmi", "-f", &self.image]));
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// A one-replica spec of the demo agent in `image`.
fn spec(image: &str, version: &str) -> ServiceSpec {
    ServiceSpec {
        name: Name::new("agent").expect("name"),
        version: Version::new(version).expect("version"),
        run: RunSpec::Docker {
            image: image.to_owned(),
            port: CONTAINER_PORT,
            command: Some(
                [
                    "--listen",
                    "0.0.0.0",
                    "--port",
                    "{port}",
                    "--agent-version",
                    "{version}",
                ]
                .map(str::to_owned)
                .to_vec(),
            ),
        },
        replicas: 1,
        port: None,
        protocol: ServiceProtocol::Http,
        health: None,
        env: BTreeMap::from([("DEMO_AGENT_LLM_LATENCY_MS".to_owned(), "5ms".to_owned())]),
        depends_on: Vec::new(),
        resources: Some(Resources {
            cpus: Some(0.5),
            memory: Some(ByteSize(64 << 20)),
        }),
        rollout: Rollout::default(),
    }
}

fn replica_id(test: &str) -> String {
    format!("agent-{test}-{}", std::process::id())
}

/// `/healthz` of a replica, once it answers 200 (within 30 s).
async fn healthz(addr: SocketAddr) -> serde_json::Value {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = match client.get(format!("http://{addr}/healthz")).send().await {
            Ok(response) if response.status().is_success() => {
                return response.json().await.expect("healthz JSON");
            }
            Ok(response) => format!("status {}", response.status()),
            Err(err) => format!("{err:?}"),
        };
        assert!(
            Instant::now() < deadline,
            "{addr} never answered /healthz: {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The next event about `id` matching `wanted`, within 30 s.
async fn next_event(
    events: &mut broadcast::Receiver<ReplicaEvent>,
    what: &str,
    wanted: impl Fn(&ReplicaEvent) -> bool,
) -> ReplicaEvent {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("event channel closed"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("no {what} event within 30s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_runs_as_a_labelled_limited_container_and_stops() {
    if !enabled() {
        return;
    }
    let fixture = Fixture::new("replica");
    let backend = fixture.backend().await;
    assert_eq!(backend.kind(), "docker");
    let ping = backend.ping().await.expect("ping");
    assert!(ping.contains("docker engine"), "{ping}");

    let spec = spec(&fixture.image, "2.3.4");
    let artifact = backend.artifact(&spec).await.expect("image present");
    assert!(artifact.contains(&fixture.image), "{artifact}");
    let mut missing = spec.clone();
    missing.run = RunSpec::Docker {
        image: "steward-no-such-image:never".to_owned(),
        port: CONTAINER_PORT,
        command: None,
    };
    let err = backend.artifact(&missing).await.expect_err("no such image");
    assert!(
        err.to_string().contains(
            "image steward-no-such-image:never is not in the local Docker engine (no registry is reachable; build it first)"
        ),
        "{err}"
    );

    let id = replica_id("replica");
    let replica = backend
        .start(StartRequest {
            spec: &spec,
            id: id.clone(),
            index: 0,
            deployment_id: "dep-1",
        })
        .await
        .expect("start");
    assert_eq!(replica.id, id);
    assert_eq!(replica.state, ReplicaState::Running);
    assert!(replica.addr.ip().is_loopback(), "{}", replica.addr);
    let health = healthz(replica.addr).await;
    assert_eq!(health["version"], "2.3.4", "{{version}} rendered: {health}");

    let listed = backend.list().await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].addr, replica.addr);
    assert_eq!(listed[0].spec_hash, spec.hash());
    assert_eq!(listed[0].deployment_id, "dep-1");
    assert_eq!(listed[0].version.as_str(), "2.3.4");
    assert_eq!(listed[0].state, ReplicaState::Running);

    let name = DockerBackend::container_name(&id);
    assert_eq!(name, format!("steward-{id}"));
    let inspect: serde_json::Value =
        serde_json::from_str(&docker(&["inspect", &name])).expect("inspect JSON");
    let container = &inspect[0];
    assert_eq!(container["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(container["HostConfig"]["NanoCpus"], 500_000_000);
    assert_eq!(
        container["HostConfig"]["RestartPolicy"]["Name"],
        "unless-stopped"
    );
    let labels = &container["Config"]["Labels"];
    for (key, value) in [
        ("io.steward.scope", fixture.scope.as_str()),
        ("io.steward.service", "agent"),
        ("io.steward.version", "2.3.4"),
        ("io.steward.replica", id.as_str()),
        ("io.steward.replica-index", "0"),
        ("io.steward.spec-hash", spec.hash().as_str()),
        ("io.steward.deployment", "dep-1"),
    ] {
        assert_eq!(labels[key], value, "label {key}: {labels}");
    }
    let env: Vec<&str> = container["Config"]["Env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for expected in [
        "PORT=8080",
        "STEWARD_SERVICE=agent",
        "STEWARD_VERSION=2.3.4",
        "STEWARD_REPLICA=0",
        "DEMO_AGENT_LLM_LATENCY_MS=5ms",
    ] {
        assert!(env.contains(&expected), "{expected} in {env:?}");
    }
    let aliases = &container["NetworkSettings"]["Networks"][&fixture.network]["Aliases"];
    assert!(
        aliases
            .as_array()
            .is_some_and(|aliases| aliases.iter().any(|alias| alias == "agent")),
        "joins {} as agent: {aliases}",
        fixture.network
    );

    // Another steward's backend does not see the container.
    let other = DockerBackend::connect(&format!("{}-other", fixture.scope), &fixture.network)
        .await
        .expect("connect");
    assert_eq!(other.list().await.expect("list").len(), 0);

    let logs = backend.logs(&id, 50).await.expect("logs");
    assert!(!logs.trim().is_empty(), "docker keeps the replica's output");

    backend
        .stop(&id, Duration::from_secs(5))
        .await
        .expect("stop");
    assert!(backend.list().await.expect("list").is_empty());
    assert!(fixture.containers().is_empty(), "container removed");
    backend
        .stop(&id, Duration::from_secs(5))
        .await
        .expect("stopping a gone replica is no error");
    let err = backend.logs(&id, 10).await.expect_err("gone");
    assert!(err.to_string().contains(&id), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_of_four_containers_under_load_fails_no_request() {
    update_four_containers_under_load("rolling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_update_of_four_containers_under_load_fails_no_request() {
    update_four_containers_under_load("blue_green").await;
}

/// Deploys 4 containers, then updates them with `strategy` under load.
async fn update_four_containers_under_load(strategy: &'static str) {
    if !enabled() {
        return;
    }
    let fixture = Fixture::new(&strategy.replace('_', "-"));
    let backend: Arc<dyn Backend> = Arc::new(fixture.backend().await);
    let harness = Harness::with_backend(backend).await;
    let port = free_port();
    let mut service = Service::new(port, 4);
    service.strategy = strategy;
    service.docker = Some(DockerService {
        image: fixture.image.clone(),
        network: fixture.network.clone(),
    });
    let config = service.config(harness.dir.path());
    let proxy = SocketAddr::from(([127, 0, 0, 1], port));

    let first = harness.deploy(&config, "1.0.0").await;
    assert_eq!(
        first.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        first.error
    );
    assert_eq!(first.plan.changes[0].kind, ChangeKind::Create);
    assert_eq!(fixture.containers().len(), 4);
    assert_eq!(healthz(proxy).await["version"], "1.0.0");

    let load = Load::start(proxy, 8);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = harness.deploy(&config, "1.1.0").await;
    let report = load.stop().await;
    assert_eq!(
        second.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        second.error
    );
    assert_eq!(second.plan.changes[0].kind, ChangeKind::Update);
    assert!(report.sent > 100, "load ran: {report:?}");
    assert_eq!(
        report.failed,
        0,
        "no failed request: {:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    for _ in 0..8 {
        assert_eq!(healthz(proxy).await["version"], "1.1.0");
    }

    let status = harness.manager.status(&config).await.expect("status");
    let serving: Vec<_> = status[0].replicas.iter().filter(|r| r.in_proxy).collect();
    assert_eq!(serving.len(), 4, "{status:?}");
    assert!(
        serving
            .iter()
            .all(|replica| replica.version.as_str() == "1.1.0")
    );
    if strategy == "rolling" {
        assert_eq!(
            status[0].replicas.len(),
            4,
            "old replicas stopped: {status:?}"
        );
        assert_eq!(fixture.containers().len(), 4, "old containers removed");
    } else {
        // The blue set is kept, out of the proxy, for an instant rollback.
        assert_eq!(status[0].replicas.len(), 8, "{status:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_restarts_a_crashed_container_and_the_backend_reports_it() {
    if !enabled() {
        return;
    }
    let fixture = Fixture::new("crash");
    let backend = fixture.backend().await;
    let mut events = backend.subscribe();
    let spec = spec(&fixture.image, "1.0.0");
    let id = replica_id("crash");
    let replica = backend
        .start(StartRequest {
            spec: &spec,
            id: id.clone(),
            index: 0,
            deployment_id: "dep-1",
        })
        .await
        .expect("start");
    healthz(replica.addr).await;

    // A crash: the program is SIGKILLed from outside. (`docker kill` is a
    // deliberate stop that Docker's restart policy leaves alone, and the
    // program, PID 1 in its container, ignores the signals it does not
    // handle.)
    let name = DockerBackend::container_name(&id);
    let pid: i32 = docker(&["inspect", "-f", "{{.State.Pid}}", &name])
        .parse()
        .expect("pid");
    assert!(pid > 0, "container runs");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the container's program");

    let exited = next_event(
        &mut events,
        "exited",
        |event| matches!(event, ReplicaEvent::Exited { id: got, .. } if *got == id),
    )
    .await;
    let ReplicaEvent::Exited {
        code, restart_in, ..
    } = exited
    else {
        unreachable!()
    };
    assert_eq!(code, None, "killed, not exited");
    assert_eq!(
        restart_in,
        Duration::from_millis(100),
        "docker's first restart delay"
    );
    let restarted = next_event(
        &mut events,
        "restarted",
        |event| matches!(event, ReplicaEvent::Restarted { id: got, .. } if *got == id),
    )
    .await;
    assert!(
        matches!(restarted, ReplicaEvent::Restarted { restarts: 1, .. }),
        "{restarted:?}"
    );

    // Back on the same address, so the proxy needs no change.
    let health = healthz(replica.addr).await;
    assert_eq!(health["status"], "ok");
    let listed = backend.list().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].restarts, 1);
    assert_eq!(listed[0].addr, replica.addr);
    assert_eq!(listed[0].state, ReplicaState::Running);

    // A deliberate stop is no crash.
    backend
        .stop(&id, Duration::from_secs(5))
        .await
        .expect("stop");
    let quiet = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match events.recv().await {
                Ok(ReplicaEvent::Exited { id: got, .. }) if got == id => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    std::future::pending::<()>().await;
                }
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "no exited event for a stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_backend_of_the_same_scope_adopts_the_containers() {
    if !enabled() {
        return;
    }
    let fixture = Fixture::new("adopt");
    let first = fixture.backend().await;
    let spec = spec(&fixture.image, "1.0.0");
    let mut started = Vec::new();
    for index in 0..2 {
        started.push(
            first
                .start(StartRequest {
                    spec: &spec,
                    id: format!("{}-{index}", replica_id("adopt")),
                    index,
                    deployment_id: "dep-7",
                })
                .await
                .expect("start"),
        );
    }
    // Steward goes away; its containers keep running.
    drop(first);

    let second = fixture.backend().await;
    let listed = second.list().await.expect("list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    for (listed, started) in listed.iter().zip(&started) {
        assert_eq!(listed.id, started.id);
        assert_eq!(listed.index, started.index);
        assert_eq!(listed.addr, started.addr);
        assert_eq!(listed.spec_hash, started.spec_hash);
        assert_eq!(listed.deployment_id, "dep-7");
        assert_eq!(listed.state, ReplicaState::Running);
        assert_eq!(
            (listed.started_at - started.started_at).num_milliseconds(),
            0
        );
        healthz(listed.addr).await;
    }
    for replica in &listed {
        second
            .stop(&replica.id, Duration::from_secs(5))
            .await
            .expect("stop");
    }
    assert!(second.list().await.expect("list").is_empty());
}

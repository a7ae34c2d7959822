//! The manager's background work in paused time, on the in-memory
//! backend and store: what it does until shutdown, and that it ends then.

use std::{sync::Arc, time::Duration};

use steward_config::{Environment, load_str};
use steward_core::{Actor, Version};
use tokio_util::sync::CancellationToken;

use crate::{
    DeployRequest, DeploymentManager, DeploymentStatus, ManagerOptions, ProxySet,
    events::DeployEvent,
    release_from_config,
    testing::{MemoryBackend, MemoryStore},
};

/// A blue-green service that keeps its old set for 10 minutes.
fn config(dir: &std::path::Path, port: u16) -> steward_config::Config {
    let toml = format!(
        r#"
[[services]]
name = "agent"
replicas = 2
port = {port}
process.command = ["agent", "--port", "{{port}}"]
health = {{ http = "/healthz", interval = "1s" }}

[services.rollout]
strategy = "blue_green"
keep_old_for = "10m"
verify_window = "1s"
"#
    );
    load_str("steward.toml", &toml, dir, &Environment::default())
        .expect("valid configuration")
        .config
}

async fn deploy(manager: &DeploymentManager, config: &steward_config::Config, version: &str) {
    let release =
        release_from_config(config, &Version::new(version).expect("version")).expect("release");
    let request = DeployRequest {
        release,
        services: None,
        actor: Actor::new("test").expect("actor"),
        reason: None,
        force: false,
        wait_lock: Duration::ZERO,
        create_only: false,
    };
    let started = manager.deploy(config, request).await.expect("deploys");
    let done = manager.wait(&started.id).await.expect("ends");
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{:?}", done.error);
}

#[tokio::test(start_paused = true)]
async fn at_shutdown_reported_replica_events_are_journaled_and_idle_stops_not_yet_due_are_dropped()
{
    let dir = tempfile::tempdir().expect("tempdir");
    let port = steward_test_support::free_port();
    let store = MemoryStore::new();
    let backend = MemoryBackend::new();
    let proxies_shutdown = CancellationToken::new();
    let registry = prometheus::Registry::new();
    let proxies = ProxySet::new(
        "127.0.0.1".parse().expect("ip"),
        steward_proxy::ProxyMetrics::register(&registry).expect("metrics"),
        proxies_shutdown.clone(),
    );
    let (manager, background) = DeploymentManager::new(
        Arc::new(store.clone()),
        Arc::new(backend.clone()),
        proxies,
        ManagerOptions::new(dir.path(), "test-host"),
    );
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(background.run(shutdown.clone()));
    let config = config(dir.path(), port);
    deploy(&manager, &config, "1.0.0").await;
    deploy(&manager, &config, "2.0.0").await;
    assert_eq!(backend.replicas().len(), 4, "the old set is kept");

    let crashed = backend.replicas()[0].id.clone();
    backend.crash(&crashed);
    // The backend reports the crash from a task of its own.
    tokio::task::yield_now().await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(1), running)
        .await
        .expect("the background ends at shutdown")
        .expect("without a panic");
    assert!(
        store
            .events()
            .iter()
            .any(|event| event.kind.as_str() == DeployEvent::ReplicaExited.as_str()),
        "the crash reported before the shutdown is journaled"
    );

    // The old set's stop was not due: it is left to the next start.
    tokio::time::sleep(Duration::from_secs(20 * 60)).await;
    assert_eq!(backend.replicas().len(), 4);
    proxies_shutdown.cancel();
}

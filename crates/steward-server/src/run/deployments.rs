//! The deployments subsystem as the server builds and runs it: the
//! backend `[deploy]` names, one proxy per service port on the API's
//! address, the [`DeploymentManager`] over them; and the futures it runs:
//! the manager's background work, the health watcher, and settling at
//! start (crash recovery, reconciliation, and for `steward up` the first
//! deployment).
//!
//! Deployments themselves are the engine's tasks, not these: a shutdown
//! does not cancel one mid-step. One still running when steward stops
//! ends with the process and is finished (rolled back, or resumed) by the
//! next start, as after a crash.

use std::{sync::Arc, time::Duration};

use prometheus::Registry;
use steward_config::{BackendKind, LoadedConfig};
use steward_core::{Actor, Name};
use steward_deploy::{
    Backend, Background, DeployRequest, DeployStore, DeploymentManager, ManagerOptions,
    ProcessBackend, ProxySet, release_from_config,
};
use steward_proxy::ProxyMetrics;
use steward_store::Store;
use tokio_util::sync::CancellationToken;

use super::tasks::Group;
use crate::{Error, Result};

/// The deployments subsystem, built and not yet running.
pub(crate) struct Deployments {
    manager: DeploymentManager,
    proxies: ProxySet,
    background: Background,
}

impl Deployments {
    /// Builds the backend, the proxies (which stop accepting when
    /// `proxies_shutdown` is cancelled) and the manager.
    pub(crate) async fn build(
        store: &Store,
        config: &LoadedConfig,
        registry: &Registry,
        proxies_shutdown: CancellationToken,
    ) -> Result<Self> {
        let data_dir = config.data_dir();
        let backend: Arc<dyn Backend> = match config.config.deploy.backend {
            BackendKind::Process => Arc::new(
                ProcessBackend::open(data_dir.join("replicas"), data_dir.join("logs")).await?,
            ),
            BackendKind::Docker => Arc::new(
                steward_deploy::DockerBackend::connect(
                    &steward_deploy::DockerBackend::scope_for_dir(data_dir),
                    &config.config.deploy.docker_network,
                )
                .await?,
            ),
        };
        let metrics = ProxyMetrics::register(registry).map_err(|err| {
            Error::Deploy(steward_deploy::Error::Invalid(format!(
                "cannot register proxy metrics: {err}"
            )))
        })?;
        let proxies = ProxySet::new(config.config.server.listen.ip(), metrics, proxies_shutdown)
            .with_config(&config.config.proxy);
        let deploy_store: Arc<dyn DeployStore> = Arc::new(store.clone());
        let (manager, background) = DeploymentManager::new(
            deploy_store,
            backend,
            proxies.clone(),
            ManagerOptions::new(data_dir, hostname()),
        );
        Ok(Deployments {
            manager,
            proxies,
            background,
        })
    }

    /// The manager, for the handlers.
    pub(crate) fn manager(&self) -> &DeploymentManager {
        &self.manager
    }

    /// Starts what the subsystem runs: in `group`, the manager's
    /// background work, the health watcher and settling; in `proxies`, a
    /// future that waits, once that group's token is cancelled, until
    /// every proxy has finished its requests in flight.
    pub(crate) fn spawn(
        self,
        config: &LoadedConfig,
        deploy_on_start: bool,
        group: &mut Group,
        proxies: &mut Group,
    ) {
        let Deployments {
            manager,
            proxies: proxy_set,
            background,
        } = self;
        group.spawn(background.run(group.token()));
        group.spawn(manager.health_watch(group.token()));
        let shutdown = group.token();
        let config = config.clone();
        group.spawn(async move {
            // Cut short at shutdown: what it leaves undone (a
            // reconciliation, following the first deployment) the next
            // start does again; deployments it started go on.
            tokio::select! {
                () = settle(manager, config, deploy_on_start) => {}
                () = shutdown.cancelled() => {}
            }
        });
        let stopping = proxies.token();
        proxies.spawn(async move {
            stopping.cancelled().await;
            proxy_set.stopped().await;
        });
    }
}

/// This machine's name, for the deploy lock.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// After start: finishes deployments a crash interrupted, brings every
/// service back to its last release, and (for `steward up`) deploys the
/// services that never were.
async fn settle(manager: DeploymentManager, config: LoadedConfig, deploy_on_start: bool) {
    match manager.recover(&config.config).await {
        Ok(recovered) => {
            for id in recovered {
                match manager.wait(&id).await {
                    Ok(done) => {
                        tracing::warn!(deployment = %id, status = %done.status, "interrupted deployment recovered");
                    }
                    Err(err) => {
                        tracing::error!(deployment = %id, error = %err, "cannot recover deployment");
                    }
                }
            }
        }
        Err(err) => tracing::error!(error = %err, "cannot recover interrupted deployments"),
    }
    if let Err(err) = manager.reconcile().await {
        tracing::error!(error = %err, "cannot bring services back to their last release");
    }
    if !deploy_on_start {
        return;
    }
    let deployed: Vec<String> = match manager.status(&config.config).await {
        Ok(status) => status
            .into_iter()
            .filter(|service| service.version.is_some())
            .map(|service| service.service.to_string())
            .collect(),
        Err(err) => {
            tracing::error!(error = %err, "cannot read what runs");
            return;
        }
    };
    let missing: Vec<Name> = config
        .config
        .services
        .iter()
        .filter(|service| !deployed.contains(&service.name.to_string()))
        .map(|service| service.name.clone())
        .collect();
    if missing.is_empty() {
        return;
    }
    let version = config.config.deploy.initial_version.clone();
    let release = match release_from_config(&config.config, &version) {
        Ok(release) => release,
        Err(err) => {
            tracing::error!(error = %err, "cannot deploy the configured services");
            return;
        }
    };
    let request = DeployRequest {
        release,
        services: Some(missing),
        actor: Actor::system(),
        reason: Some("steward up: first deployment".to_owned()),
        force: false,
        wait_lock: Duration::from_secs(60),
        create_only: true,
    };
    match manager.deploy(&config.config, request).await {
        Ok(started) if started.status.is_final() => {
            tracing::error!(deployment = %started.id, error = ?started.error, "first deployment refused");
        }
        Ok(started) => match manager.wait(&started.id).await {
            Ok(done) => {
                tracing::info!(deployment = %done.id, status = %done.status, version = %version, error = ?done.error, "first deployment finished");
            }
            Err(err) => tracing::error!(error = %err, "cannot follow the first deployment"),
        },
        Err(err) => tracing::error!(error = %err, "cannot start the first deployment"),
    }
}

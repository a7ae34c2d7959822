//! Running the server: open the store, bootstrap the admin token, bind,
//! serve (optionally over TLS, within the listener's limits: `listener`)
//! and shut down gracefully, journaling start and stop.

mod listener;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use axum_server::{Handle, tls_rustls::RustlsConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use serde_json::json;
use steward_config::BackendKind;
use steward_config::LoadedConfig;
use steward_core::{Actor, EventKind, Name, NewEvent};
use steward_deploy::{
    Backend, DeployRequest, DeployStore, DeploymentManager, ManagerOptions, ProcessBackend,
    ProxySet, release_from_config,
};
use steward_proxy::ProxyMetrics;
use steward_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{AppState, Error, Result, bootstrap::ensure_admin_token, router};

/// How long in-flight requests may take to finish after shutdown starts.
const GRACE: Duration = Duration::from_secs(30);

/// A started server.
pub struct Running {
    /// The address it listens on (useful when the port was 0).
    pub local_addr: SocketAddr,
    /// Whether it serves HTTPS.
    pub tls: bool,
    /// Where a newly created admin token was written, if one was.
    pub admin_token_file: Option<PathBuf>,
    /// The store it uses.
    pub store: Store,
    shutdown: CancellationToken,
    task: JoinHandle<Result<()>>,
}

impl Running {
    /// The base URL clients reach it at.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Starts a graceful shutdown.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the server has stopped and the store is closed.
    pub async fn wait(self) -> Result<()> {
        match self.task.await {
            Ok(result) => result,
            Err(join) => Err(Error::Serve(std::io::Error::other(join))),
        }
    }
}

/// What a server runs besides its API.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Run deployments: the backend, the services' proxies, crash
    /// recovery and reconciliation at start.
    pub deployments: bool,
    /// Deploy `deploy.initial_version` of the services that have never
    /// been deployed (what `steward up` does).
    pub deploy_on_start: bool,
    /// Leave replicas running at shutdown (the next start adopts them)
    /// instead of stopping them.
    pub keep_services: bool,
}

/// Runs the server until `shutdown` is cancelled.
pub async fn run(config: LoadedConfig, shutdown: CancellationToken) -> Result<()> {
    start(config, shutdown).await?.wait().await
}

/// Starts the API server alone and returns once it listens.
pub async fn start(config: LoadedConfig, shutdown: CancellationToken) -> Result<Running> {
    start_with(config, shutdown, StartOptions::default()).await
}

/// Starts the server with `options` and returns once it listens.
pub async fn start_with(
    config: LoadedConfig,
    shutdown: CancellationToken,
    options: StartOptions,
) -> Result<Running> {
    crate::bootstrap::secure_data_dir(config.data_dir())?;
    let store = Store::connect(config.state_url().expose()).await?;
    let admin_token_file = ensure_admin_token(&store, config.data_dir()).await?;
    let tls = match &config.config.server.tls {
        Some(tls) => Some(load_tls(&tls.cert, &tls.key)?),
        None => None,
    };
    let addr = config.config.server.listen;
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| Error::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;

    store
        .append(
            NewEvent::new(
                EventKind::new("steward.started").expect("valid kind"),
                Actor::system(),
                format!("steward {} started on {local_addr}", env!("CARGO_PKG_VERSION")),
            )
            .payload(json!({
                "version": env!("CARGO_PKG_VERSION"),
                "listen": local_addr.to_string(),
                "tls": tls.is_some(),
                "config": config.display_name(),
                "store": store.backend().as_str(),
                "services": config.config.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            })),
        )
        .await?;

    let state = AppState::new(store.clone(), config.clone(), shutdown.clone());
    let deployments = if options.deployments {
        let manager = deployment_manager(&store, &config, &state, &shutdown).await?;
        state.set_deployments(manager.clone());
        manager.spawn_health_watch(shutdown.child_token());
        tokio::spawn(settle(
            manager.clone(),
            config.clone(),
            options.deploy_on_start,
        ));
        Some(manager)
    } else {
        None
    };
    let limits = listener::Limits::new(&config.config.server, state.metrics());
    let app =
        limits.make_service(router(state).into_make_service_with_connect_info::<SocketAddr>());
    let handle = Handle::new();
    let has_tls = tls.is_some();
    let task = {
        let store = store.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let watcher = {
                let handle = handle.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    shutdown.cancelled().await;
                    tracing::info!("shutting down; waiting for in-flight requests");
                    handle.graceful_shutdown(Some(GRACE));
                })
            };
            let served = match tls {
                Some(tls) => {
                    axum_server::from_tcp_rustls(listener, tls)
                        .map(|tls| {
                            tls.handshake_timeout(limits.handshake_timeout())
                                .acceptor(listener::WatchAcceptor)
                        })
                        .handle(handle)
                        .serve(app)
                        .await
                }
                None => {
                    axum_server::from_tcp(listener)
                        .acceptor(listener::WatchAcceptor)
                        .handle(handle)
                        .serve(app)
                        .await
                }
            };
            watcher.abort();
            if let Some(manager) = deployments
                && !options.keep_services
            {
                tracing::info!("stopping the services' replicas");
                if let Err(err) = manager.stop_all().await {
                    tracing::error!(error = %err, "cannot stop every replica");
                }
            }
            let stopped = NewEvent::new(
                EventKind::new("steward.stopped").expect("valid kind"),
                Actor::system(),
                "steward stopped",
            );
            if let Err(err) = store.append(stopped).await {
                tracing::warn!(error = %err, "cannot journal the shutdown");
            }
            store.close().await;
            served.map_err(Error::Serve)
        })
    };
    crate::retention::spawn(store.clone(), &config, shutdown.child_token());
    tracing::info!(addr = %local_addr, tls = has_tls, "steward listening");
    Ok(Running {
        local_addr,
        tls: has_tls,
        admin_token_file,
        store,
        shutdown,
        task,
    })
}

/// The deployment manager over the configured backend, with the
/// services' proxies listening on the API's address.
async fn deployment_manager(
    store: &Store,
    config: &LoadedConfig,
    state: &AppState,
    shutdown: &CancellationToken,
) -> Result<DeploymentManager> {
    let data_dir = config.data_dir();
    let backend: Arc<dyn Backend> = match config.config.deploy.backend {
        BackendKind::Process => {
            Arc::new(ProcessBackend::open(data_dir.join("replicas"), data_dir.join("logs")).await?)
        }
        BackendKind::Docker => Arc::new(
            steward_deploy::DockerBackend::connect(
                &steward_deploy::DockerBackend::scope_for_dir(data_dir),
                &config.config.deploy.docker_network,
            )
            .await?,
        ),
    };
    let metrics = ProxyMetrics::register(state.registry()).map_err(|err| {
        Error::Deploy(steward_deploy::Error::Invalid(format!(
            "cannot register proxy metrics: {err}"
        )))
    })?;
    let proxies = ProxySet::new(
        config.config.server.listen.ip(),
        metrics,
        shutdown.child_token(),
    )
    .with_config(&config.config.proxy);
    let deploy_store: Arc<dyn DeployStore> = Arc::new(store.clone());
    Ok(DeploymentManager::new(
        deploy_store,
        backend,
        proxies,
        ManagerOptions::new(data_dir, hostname()),
    ))
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

/// Loads a certificate chain and key into a rustls configuration that
/// speaks HTTP/2 and HTTP/1.1.
fn load_tls(cert: &Path, key: &Path) -> Result<RustlsConfig> {
    let tls_error = |what, path: &Path, detail: String| Error::Tls {
        what,
        path: path.display().to_string(),
        detail,
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|err| tls_error("certificate", cert, err.to_string()))?;
    if certs.is_empty() {
        return Err(tls_error(
            "certificate",
            cert,
            "no certificate in the file".into(),
        ));
    }
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|err| tls_error("key", key, err.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| tls_error("certificate", cert, err.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|err| tls_error("key", key, err.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

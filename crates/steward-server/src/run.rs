//! The composition: steward's parts built in dependency order, run under
//! one task tracker, and stopped in the reverse order at shutdown.
//!
//! Building (`start_with`): the metrics registry; the store (its metrics
//! registered, the first admin token bootstrapped); the API's socket and
//! TLS (`steward.started` is journaled once it listens); then each
//! subsystem from what it depends on, as a handle (what handlers extract
//! from the [`AppState`]) and the futures it runs, which start only once
//! everything is built (deployments: `deployments.rs`). Running: every
//! future is spawned in a group of `tasks.rs`, one per subsystem or stage
//! of shutdown, each stopped by its own token. Stopping, when the
//! caller's token is cancelled (or the listener fails):
//!
//! 1. stop accepting: the API ends its event streams and stops accepting
//!    connections, the services' proxies stop accepting;
//! 2. let both drain (requests in flight, within their grace periods);
//! 3. stop evaluating rules (before the metrics they read), then the
//!    AlertManager they feed (pending flushes dropped: the store keeps
//!    their alerts and notification log for the next start), then the
//!    IncidentManager (paging stops; a plan step under way is let finish
//!    and its outcome saved), then the
//!    background work: the deployment manager's (replica events
//!    journaled, old blue-green sets stopped), the health watcher, the
//!    settling at start, the last summary of refused requests, retention.
//!    Deployments under way are not cancelled (see `deployments.rs`);
//! 4. stop the replicas, unless `--keep-services`;
//! 5. journal `steward.stopped`;
//! 6. wait for anything still tracked, and close the store.
//!
//! The listener's limits are in `listener.rs`, TLS in `tls.rs`.

mod deployments;
mod listener;
mod metrics;
mod tasks;
mod tls;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use axum::Router;
use axum_server::{Handle, tls_rustls::RustlsConfig};
use prometheus::Registry;
use serde_json::json;
use steward_config::LoadedConfig;
use steward_core::{Actor, NewEvent};
use steward_deploy::DeploymentManager;
use steward_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::{
    deployments::Deployments,
    tasks::{Group, Tasks},
};
use crate::{
    AppState, Error, Result, alerts::Alerts, bootstrap::ensure_admin_token, router, rules::Rules,
};

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

/// Builds the server with `options` (see the module docs), starts it, and
/// returns once it listens.
pub async fn start_with(
    config: LoadedConfig,
    shutdown: CancellationToken,
    options: StartOptions,
) -> Result<Running> {
    crate::bootstrap::secure_data_dir(config.data_dir())?;
    let registry = Registry::new();
    let store = Store::connect(config.state_url().expose()).await?;
    if let Err(err) = store.register_metrics(&registry) {
        tracing::warn!(error = %err, "cannot register store metrics");
    }
    let admin_token_file = ensure_admin_token(&store, config.data_dir()).await?;
    let listener = Listener::bind(&config)?;
    journal_started(&store, &config, &listener).await?;

    let tasks = Tasks::new();
    let mut api = tasks.group("api");
    let mut proxies = tasks.group("proxies");
    let mut background = tasks.group("background");
    let deployments = match options.deployments {
        true => Some(Deployments::build(&store, &config, &registry, proxies.token()).await?),
        false => None,
    };
    let mut state = AppState::new(store.clone(), config.clone(), registry, api.token());
    let collector = metrics::build(&config, state.metrics())?;
    let logs = crate::logs::Logs::build(&config)?;
    let scheme = if listener.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{}", listener.local_addr);
    let alerts = Alerts::start(&config, &store, &url, collector.as_ref(), logs.as_ref()).await?;
    let rules = match &collector {
        Some(collector) => {
            let local = alerts
                .as_ref()
                .map(|a| a.sink(crate::rules::external_labels(&config.config.rules)));
            Some(Rules::start(&config, &store, collector, logs.as_ref(), &url, local).await?)
        }
        None if !config.config.rules.files.is_empty()
            || !config.config.rules.log_files.is_empty() =>
        {
            return Err(Error::Rules(
                "[rules] needs the metrics subsystem: set `[metrics] enabled = true` or remove `[rules] files` and `log_files`".into(),
            ));
        }
        None => None,
    };
    if let Some(rules) = &rules {
        state = state.with_rules(rules.clone());
    }
    if let Some(alerts) = &alerts {
        state = state.with_alerts(alerts.clone());
    }
    if let Some(logs) = &logs {
        state = state.with_logs(logs.clone());
    }
    if let Some(deployments) = &deployments {
        state = state.with_deployments(deployments.manager().clone());
    }
    let incidents = crate::incidents::Incidents::start(
        &config,
        &store,
        alerts.as_ref(),
        deployments.as_ref().map(Deployments::manager),
        collector.as_ref(),
        &url,
    )
    .await?;
    state = state.with_incidents(incidents.clone());
    if let Some(collector) = &collector {
        state = state.with_metrics_collector(collector.clone());
        // PromQL gates and canary analyses query the collector.
        if let Some(deployments) = &deployments {
            deployments
                .manager()
                .set_metric_source(std::sync::Arc::new(metrics::CollectorSource(
                    collector.clone(),
                )));
        }
    }
    let (app, summaries) = router(state.clone());

    // Everything is built: start it.
    let (local_addr, tls) = (listener.local_addr, listener.tls.is_some());
    let handle = Handle::new();
    let serving = tasks.spawn(listener.serve(&state, app, handle.clone()));
    api.spawn({
        let stop = api.token();
        async move {
            stop.cancelled().await;
            tracing::info!("shutting down; waiting for in-flight requests");
            handle.graceful_shutdown(Some(GRACE));
        }
    });
    background.spawn(summaries.run(background.token()));
    if let Some(retention) = crate::retention::task(store.clone(), &config, background.token()) {
        background.spawn(retention);
    }
    if let Some(collector) = collector {
        background.spawn(metrics::run(
            collector,
            deployments.as_ref().map(|d| d.manager().clone()),
            std::sync::Arc::new(config.clone()),
            background.token(),
        ));
    }
    if let Some(own) = logs.as_ref().and_then(|l| l.own_logs(background.token())) {
        background.spawn(own);
    }
    if let Some(logs) = &logs
        && let Some(forwarding) = logs.forwarding(background.token())?
    {
        background.spawn(forwarding);
    }
    if let (Some(logs), Some(deployments)) = (&logs, &deployments)
        && let Some(collection) = logs.collection(
            &config,
            deployments.manager().clone(),
            &store,
            background.token(),
        )?
    {
        background.spawn(collection);
    }
    let manager = deployments.map(|deployments| {
        let manager = deployments.manager().clone();
        deployments.spawn(
            &config,
            options.deploy_on_start,
            &mut background,
            &mut proxies,
        );
        manager
    });
    let stopping = Stopping {
        tasks,
        api,
        proxies,
        background,
        manager: manager.filter(|_| !options.keep_services),
        rules,
        alerts,
        incidents,
        logs,
        store: store.clone(),
    };
    let task = tokio::spawn(stopping.run(shutdown.clone(), serving));
    tracing::info!(addr = %local_addr, tls, "steward listening");
    Ok(Running {
        local_addr,
        tls,
        admin_token_file,
        store,
        shutdown,
        task,
    })
}

/// The API's bound socket, and its TLS configuration when it serves HTTPS.
struct Listener {
    socket: std::net::TcpListener,
    local_addr: SocketAddr,
    tls: Option<RustlsConfig>,
}

impl Listener {
    /// Binds `[server] listen` and loads `[server.tls]`.
    fn bind(config: &LoadedConfig) -> Result<Self> {
        let tls = match &config.config.server.tls {
            Some(tls) => Some(tls::load_tls(&tls.cert, &tls.key)?),
            None => None,
        };
        let addr = config.config.server.listen;
        let socket =
            std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        socket
            .set_nonblocking(true)
            .map_err(|source| Error::Bind { addr, source })?;
        let local_addr = socket
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        Ok(Listener {
            socket,
            local_addr,
            tls,
        })
    }

    /// Serves `app` within `[server]`'s limits until `handle` shuts it
    /// down.
    fn serve(
        self,
        state: &AppState,
        app: Router,
        handle: Handle,
    ) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
        let limits = listener::Limits::new(&state.config().config.server, state.metrics());
        let app = limits.make_service(app.into_make_service_with_connect_info::<SocketAddr>());
        let Listener { socket, tls, .. } = self;
        async move {
            match tls {
                Some(tls) => {
                    axum_server::from_tcp_rustls(socket, tls)
                        .map(|tls| {
                            tls.handshake_timeout(limits.handshake_timeout())
                                .acceptor(listener::WatchAcceptor)
                        })
                        .handle(handle)
                        .serve(app)
                        .await
                }
                None => {
                    axum_server::from_tcp(socket)
                        .acceptor(listener::WatchAcceptor)
                        .handle(handle)
                        .serve(app)
                        .await
                }
            }
        }
    }
}

/// Journals that steward started, listening on `listener`.
async fn journal_started(store: &Store, config: &LoadedConfig, listener: &Listener) -> Result<()> {
    let local_addr = listener.local_addr;
    store
        .append(
            NewEvent::new(
                crate::events::StewardEvent::Started.kind(),
                Actor::system(),
                format!("steward {} started on {local_addr}", env!("CARGO_PKG_VERSION")),
            )
            .payload(json!({
                "version": env!("CARGO_PKG_VERSION"),
                "listen": local_addr.to_string(),
                "tls": listener.tls.is_some(),
                "config": config.display_name(),
                "store": store.backend().as_str(),
                "services": config.config.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            })),
        )
        .await?;
    Ok(())
}

/// What a running server stops, in the order it stops it.
struct Stopping {
    tasks: Tasks,
    /// Ends the event streams and starts the API's graceful shutdown.
    api: Group,
    /// Stops the proxies accepting, and waits for their requests.
    proxies: Group,
    /// The subsystems' background work.
    background: Group,
    /// The manager whose replicas to stop (none with `--keep-services`).
    manager: Option<DeploymentManager>,
    /// The rules, stopped before the metrics they read.
    rules: Option<Rules>,
    /// The AlertManager, stopped after the rules (which feed it) and
    /// before the store closes.
    alerts: Option<Alerts>,
    /// The IncidentManager, stopped after the AlertManager that hands it
    /// alert groups, before the deployments its plans start.
    incidents: crate::incidents::Incidents,
    /// The log store, closed once nothing pushes to it any more.
    logs: Option<crate::logs::Logs>,
    store: Store,
}

impl Stopping {
    /// Waits for `shutdown` (or the listener's failure), then stops
    /// everything as the module docs say. Returns how serving ended.
    async fn run(
        self,
        shutdown: CancellationToken,
        mut serving: JoinHandle<std::io::Result<()>>,
    ) -> Result<()> {
        let failed = tokio::select! {
            () = shutdown.cancelled() => None,
            served = &mut serving => Some(served),
        };
        let serving = async move {
            match failed {
                Some(served) => served,
                None => serving.await,
            }
        };
        let ((), (), served) = tokio::join!(self.api.stop(), self.proxies.stop(), serving);
        if let Some(rules) = self.rules {
            rules.stop().await;
        }
        if let Some(alerts) = self.alerts {
            alerts.stop().await;
        }
        self.incidents.stop().await;
        self.background.stop().await;
        if let Some(manager) = self.manager {
            tracing::info!("stopping the services' replicas");
            if let Err(err) = manager.stop_all().await {
                tracing::error!(error = %err, "cannot stop every replica");
            }
        }
        let stopped = NewEvent::new(
            crate::events::StewardEvent::Stopped.kind(),
            Actor::system(),
            "steward stopped",
        );
        if let Err(err) = self.store.append(stopped).await {
            tracing::warn!(error = %err, "cannot journal the shutdown");
        }
        self.tasks.wait().await;
        if let Some(logs) = self.logs {
            logs.stop();
        }
        self.store.close().await;
        match served {
            Ok(served) => served.map_err(Error::Serve),
            Err(join) => Err(Error::Serve(std::io::Error::other(join))),
        }
    }
}

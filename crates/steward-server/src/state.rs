//! The handlers' state: built once by the composition (`run.rs`), after
//! every subsystem it holds, and never changed afterwards. Handlers do not
//! take all of it: each extracts the part it works with (`State<Store>`,
//! `State<DeploymentManager>`...) through the [`FromRef`] impls below.

use std::sync::Arc;

use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use prometheus::Registry;
use steward_config::LoadedConfig;
use steward_deploy::DeploymentManager;
use steward_store::Store;
use tokio_util::sync::CancellationToken;

use steward_metrics::MetricsCollector;

use crate::{
    alerts::Alerts, http_metrics::HttpMetrics, incidents::Incidents, logs::Logs, reload::Reloader,
    rules::Rules,
};

/// Everything handlers need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    store: Store,
    config: Arc<LoadedConfig>,
    metrics: HttpMetrics,
    shutdown: CancellationToken,
    started_at: DateTime<Utc>,
    deployments: Option<DeploymentManager>,
    metrics_collector: Option<MetricsCollector>,
    rules: Option<Rules>,
    alerts: Option<Alerts>,
    logs: Option<Logs>,
    incidents: Option<Incidents>,
}

impl AppState {
    /// State over an open store and a loaded configuration, with the HTTP
    /// metrics registered in `registry` (which `/metrics` serves).
    /// `shutdown` ends long-lived responses (event streams) when
    /// cancelled. Subsystems are added with the `with_*` methods before
    /// the state is handed to [`router`](crate::router).
    pub fn new(
        store: Store,
        config: LoadedConfig,
        registry: Registry,
        shutdown: CancellationToken,
    ) -> Self {
        AppState {
            store,
            config: Arc::new(config),
            metrics: HttpMetrics::new(registry),
            shutdown,
            started_at: Utc::now(),
            deployments: None,
            metrics_collector: None,
            rules: None,
            alerts: None,
            logs: None,
            incidents: None,
        }
    }

    /// This state with deployments run by `manager`: the router serves
    /// the deployment routes.
    #[must_use]
    pub fn with_deployments(mut self, manager: DeploymentManager) -> Self {
        self.deployments = Some(manager);
        self
    }

    /// This state with the metrics subsystem: the router serves the
    /// Prometheus-compatible API under `/prometheus`.
    #[must_use]
    pub fn with_metrics_collector(mut self, collector: MetricsCollector) -> Self {
        self.metrics_collector = Some(collector);
        self
    }

    /// This state with the rules subsystem: the router serves the rules
    /// and alerts under `/prometheus` and `POST /api/v1/reload`, and
    /// `/metrics` the rule engine's metrics.
    #[must_use]
    pub fn with_rules(mut self, rules: Rules) -> Self {
        let metrics = rules.clone();
        self.metrics
            .add_text_source(Arc::new(move || metrics.render_metrics()));
        self.rules = Some(rules);
        self
    }

    /// This state with steward's own AlertManager: the router serves its
    /// API v2 under `/alertmanager` and its sources (the generic webhook,
    /// PagerDuty's events API), and `POST /api/v1/reload`.
    #[must_use]
    pub fn with_alerts(mut self, alerts: Alerts) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// This state with the log subsystem: the router serves Loki's API
    /// under `/loki/api/v1` and OpenTelemetry logs at `/v1/logs`, and
    /// `/metrics` the log store's and forwarders' metrics.
    #[must_use]
    pub fn with_logs(mut self, logs: Logs) -> Self {
        let api = logs.api().clone();
        self.metrics
            .add_text_source(Arc::new(move || steward_logs::metrics::render(&api)));
        self.logs = Some(logs);
        self
    }

    /// This state with the IncidentManager: the router serves
    /// `/api/v1/incidents`.
    #[must_use]
    pub fn with_incidents(mut self, incidents: Incidents) -> Self {
        self.incidents = Some(incidents);
        self
    }

    /// The incidents subsystem, when this server runs it.
    pub fn incidents(&self) -> Option<&Incidents> {
        self.incidents.as_ref()
    }

    /// The log subsystem, when this server runs it.
    pub fn logs(&self) -> Option<&Logs> {
        self.logs.as_ref()
    }

    /// The AlertManager, when this server runs it.
    pub fn alerts(&self) -> Option<&Alerts> {
        self.alerts.as_ref()
    }

    /// The rules subsystem, when this server runs it.
    pub fn rules(&self) -> Option<&Rules> {
        self.rules.as_ref()
    }

    /// The metrics subsystem, when this server runs it.
    pub fn metrics_collector(&self) -> Option<&MetricsCollector> {
        self.metrics_collector.as_ref()
    }

    /// The state store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configuration steward runs with.
    pub fn config(&self) -> &LoadedConfig {
        &self.config
    }

    pub(crate) fn metrics(&self) -> &HttpMetrics {
        &self.metrics
    }

    /// Cancelled when the server shuts down.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// The deployment manager, when this server runs deployments.
    pub fn deployments(&self) -> Option<&DeploymentManager> {
        self.deployments.as_ref()
    }

    /// The registry of steward's own metrics (served on `/metrics`).
    pub fn registry(&self) -> &Registry {
        self.metrics.registry()
    }

    /// When this server started.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

impl FromRef<AppState> for Arc<LoadedConfig> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.config)
    }
}

impl FromRef<AppState> for HttpMetrics {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// What a live event stream needs: the journal, and the token that ends
/// every stream when the server shuts down.
#[derive(Clone)]
pub(crate) struct EventFeed {
    pub(crate) store: Store,
    pub(crate) shutdown: CancellationToken,
}

impl FromRef<AppState> for EventFeed {
    fn from_ref(state: &AppState) -> Self {
        EventFeed {
            store: state.store.clone(),
            shutdown: state.shutdown.clone(),
        }
    }
}

/// The reloads of the rules and the AlertManager, for the reload route
/// (mounted, as the deployment routes are, only on a server that runs
/// one of them).
impl FromRef<AppState> for Reloader {
    fn from_ref(state: &AppState) -> Self {
        Reloader::new(
            Arc::clone(&state.config),
            state.rules.clone(),
            state.alerts.clone(),
        )
    }
}

/// The deployment manager, for the deployment routes. `api.rs` mounts
/// them only over a state that has one, so no handler ever finds it
/// missing: a server without deployments answers 404 on those paths.
impl FromRef<AppState> for DeploymentManager {
    fn from_ref(state: &AppState) -> Self {
        state
            .deployments
            .clone()
            .expect("the deployment routes are mounted only on a server that runs deployments")
    }
}

impl FromRef<AppState> for Incidents {
    fn from_ref(state: &AppState) -> Self {
        state
            .incidents
            .clone()
            .expect("the incident routes are mounted only on a server that runs incidents")
    }
}

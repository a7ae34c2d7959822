//! Shared state of the server's handlers.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use steward_config::LoadedConfig;
use steward_deploy::DeploymentManager;
use steward_store::Store;
use tokio_util::sync::CancellationToken;

use crate::http_metrics::HttpMetrics;

/// Everything handlers need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: LoadedConfig,
    metrics: HttpMetrics,
    shutdown: CancellationToken,
    started_at: DateTime<Utc>,
    deployments: OnceLock<DeploymentManager>,
}

impl AppState {
    /// State over an open store and a loaded configuration. `shutdown`
    /// ends long-lived responses (event streams) when cancelled.
    pub fn new(store: Store, config: LoadedConfig, shutdown: CancellationToken) -> Self {
        let metrics = HttpMetrics::new();
        if let Err(err) = store.register_metrics(metrics.registry()) {
            tracing::warn!(error = %err, "cannot register store metrics");
        }
        AppState {
            inner: Arc::new(Inner {
                store,
                config,
                metrics,
                shutdown,
                started_at: Utc::now(),
                deployments: OnceLock::new(),
            }),
        }
    }

    /// The state store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The configuration steward runs with.
    pub fn config(&self) -> &LoadedConfig {
        &self.inner.config
    }

    pub(crate) fn metrics(&self) -> &HttpMetrics {
        &self.inner.metrics
    }

    /// Cancelled when the server shuts down.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Hands deployments to `manager` (once; later calls are ignored).
    pub fn set_deployments(&self, manager: DeploymentManager) {
        let _ = self.inner.deployments.set(manager);
    }

    /// The deployment manager, when this server runs deployments.
    pub fn deployments(&self) -> Option<&DeploymentManager> {
        self.inner.deployments.get()
    }

    /// The registry of steward's own metrics (served on `/metrics`).
    pub fn registry(&self) -> &prometheus::Registry {
        self.inner.metrics.registry()
    }

    /// When this server started.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.inner.started_at
    }
}

//! The metrics subsystem in the composition: the collector is built from
//! `[metrics]` (its store under `<data_dir>/metrics`, steward's own
//! metrics, as `/metrics` renders them, as the `steward` job), and its background work feeds it the
//! replicas the deployment manager runs, every couple of seconds, until
//! shutdown, when scraping stops and the last series are marked stale.

use std::{sync::Arc, time::Duration};

use steward_config::LoadedConfig;
use steward_deploy::{DeploymentManager, HostProcess};
use steward_metrics::{MetricsCollector, ReplicaTarget, resources::ReplicaSource};
use tokio_util::sync::CancellationToken;

use crate::{Result, http_metrics::HttpMetrics};

/// How often the replica list is compared with what is scraped.
const FEED_EVERY: Duration = Duration::from_secs(2);

/// The collector, or `None` when `[metrics] enabled = false`.
pub(crate) fn build(config: &LoadedConfig, own: &HttpMetrics) -> Result<Option<MetricsCollector>> {
    let metrics = &config.config.metrics;
    if !metrics.enabled {
        return Ok(None);
    }
    let own = own.clone();
    let render = Arc::new(move || own.render());
    Ok(Some(MetricsCollector::start(
        metrics,
        config.data_dir(),
        Some(render),
    )?))
}

/// Feeds `collector` the replicas `manager` runs until `stop`, then stops
/// scraping.
pub(crate) async fn run(
    collector: MetricsCollector,
    manager: Option<DeploymentManager>,
    config: Arc<LoadedConfig>,
    stop: CancellationToken,
) {
    if let Some(manager) = manager {
        loop {
            match manager.backend().list().await {
                Ok(replicas) => collector.set_replicas(
                    replicas
                        .into_iter()
                        .filter_map(|r| {
                            let path = config.config.service(&r.service)?.metrics_path.clone()?;
                            Some(ReplicaTarget {
                                service: r.service.to_string(),
                                version: r.version.to_string(),
                                replica: r.id,
                                address: r.addr.to_string(),
                                metrics_path: path,
                                restarts: u64::from(r.restarts),
                                source: match r.host_process {
                                    Some(HostProcess::Tree { pid }) => {
                                        ReplicaSource::Process { pid }
                                    }
                                    Some(HostProcess::Container { pid }) => {
                                        ReplicaSource::Container { pid }
                                    }
                                    None => ReplicaSource::Stopped,
                                },
                            })
                        })
                        .collect(),
                ),
                Err(e) => tracing::debug!(error = %e, "cannot list replicas for scraping"),
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(FEED_EVERY) => {}
            }
        }
    } else {
        stop.cancelled().await;
    }
    collector.shutdown().await;
}

/// PromQL gates and canary analyses read the collector's store through
/// its engine: instant queries at the current time, run on the blocking
/// pool (the engine is synchronous and may read blocks from disk).
pub(crate) struct CollectorSource(pub(crate) MetricsCollector);

#[async_trait::async_trait]
impl steward_deploy::MetricSource for CollectorSource {
    async fn query(&self, expr: &str) -> Result<Vec<steward_deploy::MetricSample>, String> {
        let collector = self.0.clone();
        let expr = expr.to_owned();
        let now = chrono::Utc::now().timestamp_millis();
        let result = tokio::task::spawn_blocking(move || {
            collector
                .engine()
                .instant_query(collector.storage().as_ref(), &expr, now)
        })
        .await
        .map_err(|err| format!("the query stopped: {err}"))?
        .map_err(|err| err.to_string())?;
        use steward_metrics::promql::Value;
        Ok(match result.value {
            Value::Scalar { v, .. } => vec![steward_deploy::MetricSample::value(v)],
            Value::Vector(samples) => samples
                .into_iter()
                .map(|sample| steward_deploy::MetricSample {
                    labels: sample
                        .labels
                        .iter()
                        .map(|label| (label.name.clone(), label.value.clone()))
                        .collect(),
                    value: sample.v,
                })
                .collect(),
            Value::String { .. } | Value::Matrix(_) => {
                return Err("the expression must return an instant vector or a scalar".to_owned());
            }
        })
    }
}

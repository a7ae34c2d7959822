//! The metrics subsystem in the composition: the collector is built from
//! `[metrics]` (its store under `<data_dir>/metrics`, steward's own
//! registry as the `steward` job), and its background work feeds it the
//! replicas the deployment manager runs, every couple of seconds, until
//! shutdown, when scraping stops and the last series are marked stale.

use std::{sync::Arc, time::Duration};

use prometheus::{Encoder, Registry, TextEncoder};
use steward_config::LoadedConfig;
use steward_deploy::{DeploymentManager, HostProcess};
use steward_metrics::{MetricsCollector, ReplicaTarget, resources::ReplicaSource};
use tokio_util::sync::CancellationToken;

use crate::Result;

/// How often the replica list is compared with what is scraped.
const FEED_EVERY: Duration = Duration::from_secs(2);

/// The collector, or `None` when `[metrics] enabled = false`.
pub(crate) fn build(
    config: &LoadedConfig,
    registry: &Registry,
) -> Result<Option<MetricsCollector>> {
    let metrics = &config.config.metrics;
    if !metrics.enabled {
        return Ok(None);
    }
    let registry = registry.clone();
    let render = Arc::new(move || {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut out) {
            tracing::warn!(error = %e, "cannot render steward's metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    });
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

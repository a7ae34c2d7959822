//! The [`MetricsCollector`]: the metrics subsystem as the server composes
//! it. It opens the TSDB under `<data_dir>/metrics`, runs the scrape
//! manager with the jobs of `[metrics]` (static jobs, one job per service
//! for the replicas steward runs, steward's own metrics and the resource
//! collectors), and holds the PromQL engine the query API uses and the
//! OpenTelemetry receiver that services push metrics to. With
//! `[[metrics.remote_write]]` destinations, the store is wrapped so what
//! is appended is also queued and sent ([`crate::remote`]); the senders
//! start with the collector and stop in [`MetricsCollector::shutdown`].

use std::{path::Path, sync::Arc};

use parking_lot::Mutex;
use steward_config::MetricsConfig;

use crate::{
    Labels, Result,
    otlp::OtlpReceiver,
    promql::{Engine, EngineOptions},
    remote::{RemoteWrites, stats::ReceiveStats},
    resources::{self, HostOptions, ReplicaRef, ReplicaSource},
    scrape::{Clock, Fetcher, JobConfig, LocalSource, ScrapeManager, target::ADDRESS},
    storage::Storage,
    tsdb::{Tsdb, TsdbOptions},
};

/// One replica steward runs, as the scrape manager needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaTarget {
    /// Its service (the `job` label).
    pub service: String,
    /// The version it runs.
    pub version: String,
    /// Its id (the `replica` label).
    pub replica: String,
    /// `host:port` it serves metrics on.
    pub address: String,
    /// The HTTP path of its metrics.
    pub metrics_path: String,
    /// Restarts after crashes.
    pub restarts: u64,
    /// Where its CPU, memory and file descriptors are read
    /// ([`ReplicaSource::Stopped`] when it does not run).
    pub source: ReplicaSource,
}

/// The metrics subsystem's handle (cheap to clone).
#[derive(Clone)]
pub struct MetricsCollector {
    storage: Arc<dyn Storage>,
    engine: Arc<Engine>,
    scrape: Arc<ScrapeManager>,
    config: Arc<MetricsConfig>,
    replicas: Arc<Mutex<Vec<ReplicaTarget>>>,
    remote: Option<Arc<RemoteWrites>>,
    receive: Arc<ReceiveStats>,
    otlp: OtlpReceiver,
}

impl std::fmt::Debug for MetricsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsCollector").finish_non_exhaustive()
    }
}

/// Steward's own metrics (its registry) rendered for the `steward` job,
/// with the remote write and receive counters.
struct SelfSource {
    render: Arc<dyn Fn() -> String + Send + Sync>,
    remote: Option<Arc<RemoteWrites>>,
    receive: Arc<ReceiveStats>,
}

impl LocalSource for SelfSource {
    fn expose(&self) -> String {
        let mut text = (self.render)();
        if let Some(remote) = &self.remote {
            text.push_str(&remote.render());
        }
        text.push_str(&crate::remote::stats::render_receive(&self.receive));
        text
    }
}

/// Host metrics and the replicas' restart counts for the
/// `steward-resources` job.
struct ResourceSource {
    replicas: Arc<Mutex<Vec<ReplicaTarget>>>,
    host: HostOptions,
}

impl LocalSource for ResourceSource {
    fn expose(&self) -> String {
        let mut text = resources::host_exposition(&self.host).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "host metrics unavailable");
            String::new()
        });
        let replicas: Vec<ReplicaRef> = self
            .replicas
            .lock()
            .iter()
            .map(|r| ReplicaRef {
                labels: Labels::from_pairs([
                    ("service", r.service.as_str()),
                    ("version", r.version.as_str()),
                    ("replica", r.replica.as_str()),
                    ("name", r.replica.as_str()),
                ]),
                source: r.source.clone(),
                restarts: r.restarts,
            })
            .collect();
        text.push_str(&resources::replica_exposition(&replicas));
        text
    }
}

impl MetricsCollector {
    /// Opens the store under `data_dir/metrics`, starts the remote write
    /// senders (queues under `data_dir/remote-write`) and starts scraping.
    /// `self_metrics` renders steward's own registry. Must run inside a
    /// tokio runtime (the scrape loops and senders are spawned on it).
    pub fn start(
        config: &MetricsConfig,
        data_dir: &Path,
        self_metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    ) -> Result<Self> {
        let options = TsdbOptions {
            retention_time: (!config.retention_time.0.is_zero()).then_some(config.retention_time.0),
            retention_size: config.retention_size.0,
            out_of_order_window: config.out_of_order_window.0,
            ..TsdbOptions::default()
        };
        let storage: Arc<dyn Storage> = Arc::new(Tsdb::open(&data_dir.join("metrics"), options)?);
        Self::with_storage_in(config, storage, data_dir, self_metrics)
    }

    /// A collector over any store with the remote write destinations of
    /// `config`, their queues under `data_dir/remote-write`.
    pub fn with_storage_in(
        config: &MetricsConfig,
        storage: Arc<dyn Storage>,
        data_dir: &Path,
        self_metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    ) -> Result<Self> {
        if config.remote_write.is_empty() {
            return Ok(Self::assemble(config, storage, self_metrics, None));
        }
        let (storage, remote) = RemoteWrites::start(&config.remote_write, data_dir, storage)?;
        Ok(Self::assemble(
            config,
            storage,
            self_metrics,
            Some(Arc::new(remote)),
        ))
    }

    /// A collector over any store (tests use the in-memory one), without
    /// remote write.
    pub fn with_storage(
        config: &MetricsConfig,
        storage: Arc<dyn Storage>,
        self_metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    ) -> Self {
        Self::assemble(config, storage, self_metrics, None)
    }

    fn assemble(
        config: &MetricsConfig,
        storage: Arc<dyn Storage>,
        self_metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
        remote: Option<Arc<RemoteWrites>>,
    ) -> Self {
        let engine = Arc::new(Engine::new(EngineOptions {
            lookback_delta: config.lookback_delta.0,
            timeout: config.query_timeout.0,
            max_samples: config.query_max_samples as usize,
        }));
        let scrape = Arc::new(ScrapeManager::new(
            Arc::clone(&storage),
            Fetcher::new(),
            Clock::System,
        ));
        let replicas = Arc::new(Mutex::new(Vec::new()));
        let collector = MetricsCollector {
            otlp: OtlpReceiver::new(Arc::clone(&storage)),
            storage,
            engine,
            scrape,
            config: Arc::new(config.clone()),
            replicas,
            remote,
            receive: Arc::default(),
        };
        let mut jobs = Vec::new();
        for job in &config.scrape {
            match JobConfig::from_config(job, config) {
                Ok(job) => jobs.push(job),
                Err(e) => tracing::warn!(job = %job.job, error = %e, "scrape job skipped"),
            }
        }
        collector.scrape.set_jobs("config", jobs);
        if config.scrape_self {
            let mut own = Vec::new();
            if let Some(render) = self_metrics {
                let mut job = JobConfig::new("steward", config);
                job.targets = vec![Labels::from_pairs([(ADDRESS, "steward")])];
                job.local = Some(Arc::new(SelfSource {
                    render,
                    remote: collector.remote.clone(),
                    receive: Arc::clone(&collector.receive),
                }));
                own.push(job);
            }
            let mut job = JobConfig::new("steward-resources", config);
            job.targets = vec![Labels::from_pairs([(ADDRESS, "localhost")])];
            job.local = Some(Arc::new(ResourceSource {
                replicas: Arc::clone(&collector.replicas),
                host: HostOptions::default(),
            }));
            own.push(job);
            collector.scrape.set_jobs("self", own);
        }
        collector
    }

    /// Replaces the replicas scraped: one job per service, each replica a
    /// target labelled `service`, `version` and `replica`.
    pub fn set_replicas(&self, mut replicas: Vec<ReplicaTarget>) {
        replicas.sort_by(|a, b| (&a.service, &a.replica).cmp(&(&b.service, &b.replica)));
        {
            let mut current = self.replicas.lock();
            if *current == replicas {
                return;
            }
            current.clone_from(&replicas);
        }
        if !self.config.scrape_replicas {
            return;
        }
        let mut jobs: std::collections::BTreeMap<&str, JobConfig> = Default::default();
        for r in &replicas {
            let job = jobs.entry(r.service.as_str()).or_insert_with(|| {
                let mut job = JobConfig::new(r.service.as_str(), &self.config);
                job.path = r.metrics_path.clone();
                job
            });
            job.targets.push(Labels::from_pairs([
                (ADDRESS, r.address.as_str()),
                ("service", r.service.as_str()),
                ("version", r.version.as_str()),
                ("replica", r.replica.as_str()),
            ]));
        }
        let jobs = jobs.into_values().collect();
        self.scrape.set_jobs("replicas", jobs);
    }

    /// The store.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The PromQL engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The scrape manager.
    pub fn scrape(&self) -> &Arc<ScrapeManager> {
        &self.scrape
    }

    /// The Prometheus-compatible HTTP API over this collector (routes
    /// relative to where it is mounted).
    pub fn api_router(&self) -> axum::Router {
        let mut state =
            crate::api::ApiState::new(Arc::clone(&self.storage), Arc::clone(&self.engine));
        state.scrape = Some(Arc::clone(&self.scrape));
        let scrape = Arc::clone(&self.scrape);
        state.metadata = Some(Arc::new(move || {
            scrape.metadata().into_iter().map(|(_, m)| m).collect()
        }));
        state.remote_receive = Arc::clone(&self.receive);
        crate::api::router(state)
    }

    /// The OpenTelemetry receiver (`POST /v1/metrics`, OTLP/HTTP) as a
    /// router relative to where it is mounted. Every router it returns
    /// shares one receiver, so the running totals of delta series are
    /// kept once.
    pub fn otlp_router(&self) -> axum::Router {
        self.otlp.router()
    }

    /// The OpenTelemetry receiver.
    pub fn otlp(&self) -> &OtlpReceiver {
        &self.otlp
    }

    /// The remote write and remote write receiver metrics in the text
    /// format (also in the `steward` job's scrapes), for a `/metrics`
    /// endpoint to add to the registry's.
    pub fn remote_metrics(&self) -> String {
        let mut text = self.remote.as_ref().map(|r| r.render()).unwrap_or_default();
        text.push_str(&crate::remote::stats::render_receive(&self.receive));
        text
    }

    /// Stops scraping (the last series are marked stale), then the remote
    /// write senders (which send those markers if they can within their
    /// flush deadline).
    pub async fn shutdown(&self) {
        self.scrape.shutdown().await;
        if let Some(remote) = &self.remote {
            remote.shutdown().await;
        }
    }
}

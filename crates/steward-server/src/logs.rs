//! The log subsystem: the embedded log store under `<data_dir>/logstore`
//! with `[logs]`' limits, Loki's API (`/loki/api/v1`) and OpenTelemetry
//! logs (`/v1/logs`) over it, the collection of the replicas' output,
//! and the forwarding of every stored line to `[[logs.forward]]`'s
//! Loki-compatible endpoints (queues under `<data_dir>/logstore/forward`).

use std::sync::Arc;
use steward_config::LoadedConfig;
use steward_deploy::{DeploymentManager, ReplicaLogs};
use steward_store::Store;

use steward_logs::{
    LogStore, StoreOptions,
    api::LokiApi,
    collect::{ReplicaCollector, ReplicaOutput, ReplicaTarget},
    forward::{FORWARD_DIR, ForwardConfig, Forwarder},
    ingest::Limits,
    logql::Engine,
};
use tokio_util::sync::CancellationToken;

use crate::Result;

/// The running log subsystem; cheap to clone.
#[derive(Clone)]
pub struct Logs {
    api: LokiApi,
    /// The engine with `[logs]`' limits (the API's; LogQL rules use it).
    engine: Engine,
}

impl Logs {
    /// Opens the store with `[logs]`' settings (`None` when `[logs]
    /// enabled = false`).
    pub fn build(config: &LoadedConfig) -> Result<Option<Logs>> {
        let logs = &config.config.logs;
        if !logs.enabled {
            return Ok(None);
        }
        let options = StoreOptions {
            flush_bytes: clamp(logs.flush_size.0),
            max_memory_bytes: clamp(logs.max_memory.0),
            retention: Some(logs.retention_time.get()),
            max_bytes: (logs.retention_size.0 > 0).then_some(logs.retention_size.0),
            ..StoreOptions::new(config.data_dir().join("logstore"))
        };
        let forward_dir = options.dir.join(FORWARD_DIR);
        let store = LogStore::open(options)?;
        let engine = Engine {
            max_series: usize::try_from(logs.query_max_series).unwrap_or(usize::MAX),
            ..Engine::default()
        };
        let limits = Limits {
            max_line_bytes: clamp(logs.max_line_size.0),
            ..Limits::default()
        };
        let forwarders = logs
            .forward
            .iter()
            .map(|f| {
                Ok(Arc::new(Forwarder::open(
                    ForwardConfig::from_config(f)?,
                    &forward_dir,
                )?))
            })
            .collect::<steward_logs::Result<Vec<_>>>()?;
        Ok(Some(Logs {
            api: LokiApi::new(store, engine.clone(), limits).with_forwarders(forwarders),
            engine,
        }))
    }

    /// Loki's API and the OTLP endpoint over the store.
    pub fn api(&self) -> &LokiApi {
        &self.api
    }

    /// The store.
    pub fn store(&self) -> &LogStore {
        self.api.store()
    }

    /// The senders of `[[logs.forward]]` (none without forwarders): a
    /// future that sends each destination's queue until `stop`, then
    /// flushes for a few seconds (what is left stays queued on disk).
    pub(crate) fn forwarding(
        &self,
        stop: CancellationToken,
    ) -> Result<Option<impl Future<Output = ()> + Send + 'static>> {
        let forwarders = self.api.forwarders().to_vec();
        if forwarders.is_empty() {
            return Ok(None);
        }
        let transport = steward_logs::forward::http_transport()?;
        Ok(Some(async move {
            let senders = forwarders
                .into_iter()
                .map(|f| f.run(Arc::clone(&transport), stop.clone()));
            futures::future::join_all(senders).await;
        }))
    }

    /// The LogQL engine with `[logs]`' limits.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stops the store's threads (what was acknowledged is in its WAL).
    pub fn stop(&self) {
        self.api.store().close();
    }
}

fn clamp(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// How often the collector is told which replicas run.
const FEED_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// Least time between two lists when the journal wakes the feed.
const FEED_AT_MOST_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl Logs {
    /// The collection of the replicas' output (when `[logs]
    /// collect_replicas`): a future that tells the collector which
    /// replicas `manager`'s backend runs and stores what it reads, until
    /// `stop`. It lists them every two seconds and as soon as the journal
    /// records an event (a replica started, crashed or stopped is one, at
    /// most every 200 ms): a replica that lives for less than the two
    /// seconds, a version that crashes at once and is rolled back, has
    /// its lines read too (the collector follows a replica for a while
    /// after it is no longer listed).
    pub(crate) fn collection(
        &self,
        config: &LoadedConfig,
        manager: DeploymentManager,
        journal: &Store,
        stop: CancellationToken,
    ) -> Result<Option<impl Future<Output = ()> + Send + 'static>> {
        let logs = &config.config.logs;
        if !logs.collect_replicas {
            return Ok(None);
        }
        let (collector, receivers) = ReplicaCollector::new(
            self.api.clone(),
            &config.data_dir().join("logstore"),
            logs.multiline.clone(),
            stop.clone(),
        )?;
        let feeding = collector.clone();
        let mut journaled = journal.subscribe();
        Ok(Some(async move {
            let feed = async move {
                loop {
                    let listed = tokio::time::Instant::now();
                    match manager.backend().list().await {
                        Ok(replicas) => {
                            let backend = manager.backend();
                            feeding.set_replicas(
                                replicas
                                    .iter()
                                    .filter_map(|r| {
                                        let output = match backend.log_source(r)? {
                                            ReplicaLogs::Files { stdout, stderr } => {
                                                ReplicaOutput::Files { stdout, stderr }
                                            }
                                            ReplicaLogs::Container { name } => {
                                                ReplicaOutput::Container { name }
                                            }
                                        };
                                        Some(ReplicaTarget {
                                            service: r.service.to_string(),
                                            version: r.version.to_string(),
                                            replica: r.id.clone(),
                                            output,
                                        })
                                    })
                                    .collect(),
                            );
                        }
                        Err(err) => {
                            tracing::debug!(error = %err, "cannot list replicas for log collection");
                        }
                    }
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(FEED_EVERY) => {}
                        Ok(()) = journaled.changed() => {
                            tokio::time::sleep_until(listed + FEED_AT_MOST_EVERY).await;
                        }
                    }
                }
            };
            tokio::join!(feed, collector.run(receivers));
        }))
    }
}

/// How often steward's own queued log lines are stored.
const OWN_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Most of steward's own lines stored in one push.
const OWN_BATCH: usize = 1024;

impl Logs {
    /// Stores steward's own log lines (queued by the binary's tracing
    /// layer, `steward_logs::own`) every second as
    /// `{service="steward", stream="stderr"}`, until `stop` (then once
    /// more). `None` when another server in this process took the queue.
    pub(crate) fn own_logs(
        &self,
        stop: CancellationToken,
    ) -> Option<impl Future<Output = ()> + Send + 'static> {
        let lines = steward_logs::own::take_lines()?;
        let api = self.api.clone();
        let labels =
            steward_metrics::Labels::from_pairs([("service", "steward"), ("stream", "stderr")]);
        Some(async move {
            loop {
                let stopping = tokio::select! {
                    () = stop.cancelled() => true,
                    () = tokio::time::sleep(OWN_EVERY) => false,
                };
                let mut entries = Vec::new();
                while entries.len() < OWN_BATCH {
                    let Ok((ts, line)) = lines.try_recv() else {
                        break;
                    };
                    let mut entry = steward_logs::Entry::new(ts, line);
                    steward_logs::collect::parse::annotate(&mut entry);
                    entries.push(entry);
                }
                if !entries.is_empty() {
                    let stream = steward_logs::PushStream {
                        labels: labels.clone(),
                        entries,
                    };
                    // Not logged when it fails: that line would come back here.
                    let _ = api.push(vec![stream]).await;
                }
                if stopping {
                    return;
                }
            }
        })
    }
}

//! Scraping: a [`ScrapeManager`] runs one loop per target, appending what
//! each scrape yields to the [`Storage`].
//!
//! Targets come in groups that are replaced whole: the static jobs of
//! `steward.toml` (at start and on reload), one job per service for the
//! replicas steward runs (pushed by the server as replicas come and go),
//! and steward's in-process sources. A target that stays keeps its loop
//! (and so its staleness cache); one that goes has its series marked stale
//! at once, as Prometheus does when a target disappears.
//!
//! Each loop starts at an offset within its interval derived from the
//! target's labels, so targets of one job spread over the interval and
//! keep their phase across restarts.

mod fetch;
pub mod process;
pub mod target;

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use parking_lot::Mutex;
use serde::Serialize;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use fetch::Fetcher;
pub use target::{Auth, JobConfig, LocalSource, Resolved, Target};

use crate::{Labels, Sample, exposition::Metadata, storage::Storage};
use process::{ScrapeCache, ScrapeStats};

/// Where timestamps come from: the wall clock, or tokio's clock from a
/// fixed base so paused-time tests get exact, repeatable timestamps.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// `SystemTime::now()`.
    System,
    /// `base_ms` plus the tokio time elapsed since `start`.
    Tokio {
        /// Milliseconds since the epoch at `start`.
        base_ms: i64,
        /// The tokio instant `base_ms` corresponds to.
        start: tokio::time::Instant,
    },
}

impl Clock {
    /// A tokio clock starting now at `base_ms`.
    pub fn tokio(base_ms: i64) -> Self {
        Clock::Tokio {
            base_ms,
            start: tokio::time::Instant::now(),
        }
    }

    /// Now, in milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            Clock::Tokio { base_ms, start } => base_ms + start.elapsed().as_millis() as i64,
        }
    }
}

/// A target's health as `/api/v1/targets` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

/// What the API and CLI show of one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetStatus {
    /// Labels before relabelling.
    pub discovered_labels: Labels,
    /// Labels attached to its series.
    pub labels: Labels,
    /// The job.
    pub scrape_pool: String,
    /// The URL scraped.
    pub scrape_url: String,
    /// The same URL (Prometheus adds its external host here).
    pub global_url: String,
    /// The last scrape's error, empty when it succeeded.
    pub last_error: String,
    /// When the last scrape started (RFC 3339), or the epoch.
    pub last_scrape: String,
    /// How long it took, in seconds.
    pub last_scrape_duration: f64,
    /// `up`, `down` or `unknown`.
    pub health: Health,
    /// The job's interval, as Prometheus prints durations.
    pub scrape_interval: String,
    /// The job's timeout.
    pub scrape_timeout: String,
}

/// Targets the API lists as dropped by relabelling.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DroppedTarget {
    /// Labels before relabelling.
    pub discovered_labels: Labels,
}

#[derive(Debug, Clone)]
struct Status {
    health: Health,
    last_error: String,
    last_scrape_ms: i64,
    last_duration: f64,
    /// The families' `# HELP`/`# TYPE`/`# UNIT` of the last successful
    /// scrape, for `/api/v1/metadata` (Prometheus serves it from its
    /// targets' scrape caches too, not from the store).
    metadata: Arc<Vec<Metadata>>,
}

struct Loop {
    stop: CancellationToken,
    status: Arc<Mutex<Status>>,
}

struct Pool {
    job: Arc<JobConfig>,
    fingerprint: String,
    loops: HashMap<Target, Loop>,
    dropped: Vec<Labels>,
}

/// Runs the scrape loops of every target.
pub struct ScrapeManager {
    storage: Arc<dyn Storage>,
    fetcher: Fetcher,
    clock: Clock,
    pools: Mutex<BTreeMap<(String, String), Pool>>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager")
            .field("pools", &self.pools.lock().len())
            .finish_non_exhaustive()
    }
}

impl ScrapeManager {
    /// A manager appending to `storage`; loops run on the current tokio
    /// runtime until [`ScrapeManager::shutdown`].
    pub fn new(storage: Arc<dyn Storage>, fetcher: Fetcher, clock: Clock) -> Self {
        ScrapeManager {
            storage,
            fetcher,
            clock,
            pools: Mutex::new(BTreeMap::new()),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }

    /// Replaces the jobs of `group` (e.g. `config`, `replicas`, `self`):
    /// targets that stay keep their loops, new ones start, and the series
    /// of those that went are marked stale.
    pub fn set_jobs(&self, group: &str, jobs: Vec<JobConfig>) {
        let mut pools = self.pools.lock();
        let mut wanted: BTreeMap<(String, String), JobConfig> = jobs
            .into_iter()
            .map(|job| ((group.to_owned(), job.name.clone()), job))
            .collect();
        let keys: Vec<_> = pools.keys().filter(|k| k.0 == group).cloned().collect();
        for key in keys {
            if !wanted.contains_key(&key)
                && let Some(pool) = pools.remove(&key)
            {
                for (_, l) in pool.loops {
                    l.stop.cancel();
                }
            }
        }
        for (key, job) in std::mem::take(&mut wanted) {
            let fingerprint = fingerprint(&job);
            let job = Arc::new(job);
            let mut resolved: HashMap<Target, ()> = HashMap::new();
            let mut dropped = Vec::new();
            for discovered in &job.targets {
                match target::resolve(&job, discovered) {
                    Resolved::Target(t) => {
                        resolved.insert(t, ());
                    }
                    Resolved::Dropped(l) => dropped.push(l),
                    Resolved::Invalid { discovered, reason } => {
                        tracing::warn!(job = %job.name, target = %discovered, %reason, "target cannot be scraped");
                        dropped.push(discovered);
                    }
                }
            }
            let mut old = pools.remove(&key);
            let same_settings = old.as_ref().is_some_and(|p| p.fingerprint == fingerprint);
            let mut loops = HashMap::new();
            if let Some(old) = old.as_mut() {
                for (t, l) in old.loops.drain() {
                    if same_settings && resolved.contains_key(&t) {
                        loops.insert(t, l);
                    } else {
                        l.stop.cancel();
                    }
                }
            }
            for t in resolved.into_keys() {
                if let std::collections::hash_map::Entry::Vacant(slot) = loops.entry(t) {
                    let l = self.spawn(Arc::clone(&job), slot.key().clone());
                    slot.insert(l);
                }
            }
            pools.insert(
                key,
                Pool {
                    job,
                    fingerprint,
                    loops,
                    dropped,
                },
            );
        }
    }

    fn spawn(&self, job: Arc<JobConfig>, target: Target) -> Loop {
        let stop = self.cancel.child_token();
        let status = Arc::new(Mutex::new(Status {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape_ms: 0,
            last_duration: 0.0,
            metadata: Arc::default(),
        }));
        let ctx = LoopContext {
            storage: Arc::clone(&self.storage),
            fetcher: self.fetcher.clone(),
            clock: self.clock,
            job,
            target,
            status: Arc::clone(&status),
            stop: stop.clone(),
        };
        self.tracker.spawn(ctx.run());
        Loop { stop, status }
    }

    /// Every active target, by job then labels.
    pub fn targets(&self) -> (Vec<TargetStatus>, Vec<DroppedTarget>) {
        let pools = self.pools.lock();
        let mut active = Vec::new();
        let mut dropped = Vec::new();
        for pool in pools.values() {
            for (t, l) in &pool.loops {
                let s = l.status.lock().clone();
                active.push(TargetStatus {
                    discovered_labels: t.discovered.clone(),
                    labels: t.labels.clone(),
                    scrape_pool: pool.job.name.clone(),
                    scrape_url: t.url.clone(),
                    global_url: t.url.clone(),
                    last_error: s.last_error,
                    last_scrape: rfc3339(s.last_scrape_ms),
                    last_scrape_duration: s.last_duration,
                    health: s.health,
                    scrape_interval: target::format_duration(pool.job.interval),
                    scrape_timeout: target::format_duration(pool.job.timeout),
                });
            }
            dropped.extend(pool.dropped.iter().map(|l| DroppedTarget {
                discovered_labels: l.clone(),
            }));
        }
        active.sort_by(|a, b| (&a.scrape_pool, &a.labels).cmp(&(&b.scrape_pool, &b.labels)));
        (active, dropped)
    }

    /// The metadata of every family the active targets exposed in their
    /// last successful scrape, with the target it came from.
    pub fn metadata(&self) -> Vec<(Labels, Metadata)> {
        let pools = self.pools.lock();
        let mut out = Vec::new();
        for pool in pools.values() {
            for (t, l) in &pool.loops {
                let metadata = Arc::clone(&l.status.lock().metadata);
                out.extend(metadata.iter().map(|m| (t.labels.clone(), m.clone())));
            }
        }
        out
    }

    /// Stops every loop, marking their series stale, and waits for them.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// The settings that, when changed, restart a job's loops.
fn fingerprint(job: &JobConfig) -> String {
    format!(
        "{:?}|{:?}|{}|{}|{:?}|{:?}|{}|{}|{}|{}|{:?}|{:?}",
        job.interval,
        job.timeout,
        job.path,
        job.scheme.as_str(),
        job.params,
        job.auth,
        job.honor_labels,
        job.honor_timestamps,
        job.sample_limit,
        job.label_limit,
        job.relabel,
        job.metric_relabel,
    )
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

struct LoopContext {
    storage: Arc<dyn Storage>,
    fetcher: Fetcher,
    clock: Clock,
    job: Arc<JobConfig>,
    target: Target,
    status: Arc<Mutex<Status>>,
    stop: CancellationToken,
}

impl LoopContext {
    async fn run(self) {
        let interval = self.job.interval.max(Duration::from_millis(1));
        let offset = Duration::from_millis(
            self.target.labels.stable_hash() % (interval.as_millis() as u64).max(1),
        );
        let mut cache = ScrapeCache::default();
        let start = tokio::time::Instant::now() + offset;
        let mut ticker = tokio::time::interval_at(start, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => break,
                _ = ticker.tick() => {}
            }
            tokio::select! {
                _ = self.stop.cancelled() => break,
                () = self.scrape_once(&mut cache) => {}
            }
        }
        let now = self.clock.now_ms();
        let mut batch = process::all_stale(&mut cache, now);
        batch.extend(process::report_stale(&self.target.labels, now, &mut cache));
        self.append(batch).await;
    }

    async fn scrape_once(&self, cache: &mut ScrapeCache) {
        let scrape_ms = self.clock.now_ms();
        let began = tokio::time::Instant::now();
        let fetched = match &self.job.local {
            Some(source) => {
                let source = Arc::clone(source);
                tokio::task::spawn_blocking(move || source.expose())
                    .await
                    .map(|text| {
                        (
                            text.into_bytes(),
                            crate::exposition::TEXT_CONTENT_TYPE.to_owned(),
                        )
                    })
                    .map_err(|e| format!("local source failed: {e}"))
            }
            None => self.fetcher.fetch(&self.job, &self.target.url).await,
        };
        let outcome = fetched.and_then(|(body, content_type)| {
            let mut parsed =
                crate::exposition::parse(&body, &content_type).map_err(|e| e.to_string())?;
            let metadata = std::mem::take(&mut parsed.metadata);
            process::samples(&self.job, &self.target.labels, parsed, scrape_ms, cache)
                .map(|(batch, stats)| (batch, stats, metadata))
                .map_err(|e| e.to_string())
        });
        let duration = began.elapsed().as_secs_f64();
        let (mut batch, stats, metadata, error) = match outcome {
            Ok((batch, stats, metadata)) => (batch, stats, Some(metadata), None),
            Err(error) => (
                process::all_stale(cache, scrape_ms),
                ScrapeStats::default(),
                None,
                Some(error),
            ),
        };
        batch.extend(process::report(
            &self.target.labels,
            error.is_none(),
            duration,
            stats,
            scrape_ms,
            cache,
        ));
        self.append(batch).await;
        let mut status = self.status.lock();
        status.last_scrape_ms = scrape_ms;
        status.last_duration = duration;
        if let Some(metadata) = metadata {
            status.metadata = Arc::new(metadata);
        }
        match error {
            None => {
                status.health = Health::Up;
                status.last_error.clear();
            }
            Some(e) => {
                tracing::debug!(job = %self.job.name, url = %self.target.url, error = %e, "scrape failed");
                status.health = Health::Down;
                status.last_error = e;
            }
        }
    }

    async fn append(&self, batch: Vec<(Labels, Sample)>) {
        if batch.is_empty() {
            return;
        }
        let storage = Arc::clone(&self.storage);
        let result = tokio::task::spawn_blocking(move || storage.append(&batch)).await;
        match result {
            Ok(Ok(_report)) => {}
            Ok(Err(e)) => {
                tracing::warn!(job = %self.job.name, url = %self.target.url, error = %e, "scraped samples not stored");
            }
            Err(e) => {
                tracing::warn!(job = %self.job.name, error = %e, "append task failed");
            }
        }
    }
}

#[cfg(test)]
mod tests;

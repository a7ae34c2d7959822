//! The rule manager: one tokio task per group evaluating it at its
//! interval, reloads that replace the groups atomically, and the hand-off
//! of due alerts to the [`AlertSink`].
//!
//! As in Prometheus: a group's evaluations fall on multiples of its
//! interval shifted by a hash of the group; a slow evaluation makes the
//! next ones be skipped (counted as missed), not queued; groups loaded at
//! startup restore the `for` state of their alerts after their second
//! evaluation; a reload keeps a group whose description did not change,
//! and gives a changed group the alerts of its rules of the same name and
//! labels; the series of a removed group are marked stale two intervals
//! after it stopped (time for a renamed group to take over).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use steward_metrics::promql::{Engine, EngineOptions};
use steward_metrics::storage::Storage;
use steward_metrics::{Labels, STALE_NAN, Sample};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::group::{DueAlert, Group};
use crate::metrics::RuleMetrics;
use crate::querier::{PROMQL, RuleQuerier};
use crate::rule::{EvalEnv, Rule};
use crate::sink::{AlertListener, AlertSink, NotifiedAlert};
use crate::{AnnotationExpander, Error, Result, rulefmt};

/// How the manager evaluates rules.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// The interval of groups that set none (`evaluation_interval`).
    pub evaluation_interval: Duration,
    /// Labels templates see as `$externalLabels`.
    pub external_labels: Labels,
    /// The base of alerts' generator URLs (`$externalURL`).
    pub external_url: String,
    /// The least time between two sendings of a firing alert.
    pub resend_delay: Duration,
    /// How far back `ALERTS_FOR_STATE` is read to restore alerts.
    pub outage_tolerance: Duration,
    /// The least time a restored alert waits before it fires.
    pub for_grace_period: Duration,
    /// The PromQL engine's options.
    pub engine: EngineOptions,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        Self {
            evaluation_interval: Duration::from_secs(60),
            external_labels: Labels::empty(),
            external_url: String::new(),
            resend_delay: Duration::from_secs(60),
            outage_tolerance: Duration::from_secs(3600),
            for_grace_period: Duration::from_secs(600),
            engine: EngineOptions::default(),
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Wall-clock milliseconds read through tokio's clock, so that tests with
/// paused time see evaluation timestamps advance with it.
#[derive(Debug, Clone, Copy)]
struct Clock {
    base_ms: i64,
    base: Instant,
}

impl Clock {
    fn now_ms(&self) -> i64 {
        self.base_ms + ms(self.base.elapsed())
    }

    fn instant_at(&self, t_ms: i64) -> Instant {
        self.base + Duration::from_millis(u64::try_from(t_ms - self.base_ms).unwrap_or(0))
    }
}

struct Shared {
    opts: ManagerOptions,
    storage: Arc<dyn Storage>,
    engine: Engine,
    expander: Arc<dyn AnnotationExpander>,
    sink: Arc<dyn AlertSink>,
    listener: Option<Arc<dyn AlertListener>>,
    metrics: Arc<RuleMetrics>,
    clock: Clock,
    shutdown: CancellationToken,
}

struct GroupHandle {
    group: Arc<Mutex<Group>>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl GroupHandle {
    async fn stop(self) -> Arc<Mutex<Group>> {
        self.cancel.cancel();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "rule group task failed");
        }
        self.group
    }
}

/// Rule files whose expressions one querier checks and runs.
#[derive(Debug, Clone, Default)]
pub struct RuleFiles {
    /// The files, in load order.
    pub files: Vec<PathBuf>,
    /// Their language: `None` is PromQL over the manager's store, else
    /// e.g. the server's LogQL querier.
    pub querier: Option<Arc<dyn RuleQuerier>>,
}

/// A group's state as the API shows it.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// The group's name.
    pub name: String,
    /// Its file.
    pub file: String,
    /// Its interval (ms).
    pub interval_ms: i64,
    /// Its limit.
    pub limit: usize,
    /// When it was last evaluated (evaluation timestamp, ms).
    pub last_evaluation_ms: Option<i64>,
    /// How long that took.
    pub last_duration: Duration,
    /// Its rules with their state and alerts.
    pub rules: Vec<Rule>,
    /// The language of its expressions (`promql`, `logql`).
    pub language: &'static str,
}

/// Runs rule groups.
pub struct RuleManager {
    shared: Arc<Shared>,
    groups: tokio::sync::Mutex<BTreeMap<String, GroupHandle>>,
    loaded_once: std::sync::atomic::AtomicBool,
}

impl RuleManager {
    /// A manager without groups; [`update`](Self::update) loads them.
    pub fn new(
        opts: ManagerOptions,
        storage: Arc<dyn Storage>,
        expander: Arc<dyn AnnotationExpander>,
        sink: Arc<dyn AlertSink>,
    ) -> Self {
        let base_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, ms);
        Self::with_start_time(opts, storage, expander, sink, base_ms)
    }

    /// As [`new`](Self::new), with the wall clock reading `now_ms` now
    /// (tests pin evaluation timestamps with it).
    pub fn with_start_time(
        opts: ManagerOptions,
        storage: Arc<dyn Storage>,
        expander: Arc<dyn AnnotationExpander>,
        sink: Arc<dyn AlertSink>,
        now_ms: i64,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                engine: Engine::new(opts.engine.clone()),
                opts,
                storage,
                expander,
                sink,
                listener: None,
                metrics: Arc::new(RuleMetrics::default()),
                clock: Clock {
                    base_ms: now_ms,
                    base: Instant::now(),
                },
                shutdown: CancellationToken::new(),
            }),
            groups: tokio::sync::Mutex::new(BTreeMap::new()),
            loaded_once: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// This manager with `listener` told of every alert state change.
    /// Call before the first [`update`](Self::update).
    #[must_use]
    pub fn with_listener(mut self, listener: Arc<dyn AlertListener>) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => shared.listener = Some(listener),
            None => tracing::error!("a rule manager's listener is set after its groups started"),
        }
        self
    }

    /// The engine's metrics in the text format.
    pub fn render_metrics(&self) -> String {
        self.shared.metrics.render()
    }

    /// Loads `files` (PromQL rules) and replaces the running groups with
    /// theirs. When a file is unreadable or invalid, nothing changes and
    /// every problem is returned.
    pub async fn update(&self, files: &[PathBuf]) -> Result<()> {
        self.update_all(&[RuleFiles {
            files: files.to_vec(),
            querier: None,
        }])
        .await
    }

    /// As [`update`](Self::update), with files of several languages:
    /// each set's expressions are checked and run by its querier. A file
    /// in two sets is an error (its groups would be one group twice).
    pub async fn update_all(&self, sets: &[RuleFiles]) -> Result<()> {
        let mut errors = Vec::new();
        let mut specs = Vec::new();
        let mut seen: BTreeMap<&PathBuf, usize> = BTreeMap::new();
        for (index, set) in sets.iter().enumerate() {
            let language = set.querier.as_ref().map_or(PROMQL, |q| q.language());
            for f in &set.files {
                match seen.insert(f, index) {
                    Some(before) if before == index => continue,
                    Some(before) => {
                        let other = sets[before]
                            .querier
                            .as_ref()
                            .map_or(PROMQL, |q| q.language());
                        errors.push(format!(
                            "{}: listed as both {other} and {language} rules",
                            f.display()
                        ));
                        continue;
                    }
                    None => {}
                }
                let querier = set.querier.as_deref();
                match rulefmt::parse_file_with(f, self.shared.expander.as_ref(), querier) {
                    Ok(g) => specs.push((f.display().to_string(), g, set.querier.clone())),
                    Err(Error::Invalid { errors: e }) => errors.extend(e),
                    Err(e) => errors.push(e.to_string()),
                }
            }
        }
        if !errors.is_empty() {
            tracing::error!(
                errors = errors.len(),
                "loading rule files failed, previous rule set kept"
            );
            return Err(Error::Invalid { errors });
        }
        let restored = self
            .loaded_once
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        let default_interval = ms(self.shared.opts.evaluation_interval);
        let mut map = self.groups.lock().await;
        let mut old = std::mem::take(&mut *map);
        for (file, groups, querier) in specs {
            for spec in &groups.groups {
                let mut g = Group::new(&file, spec, default_interval, restored)
                    .with_querier(querier.clone());
                let key = g.key();
                if let Some(h) = old.remove(&key) {
                    if h.group.lock().same_as(&g) {
                        map.insert(key, h);
                        continue;
                    }
                    let prev = h.stop().await;
                    g.copy_state(&mut prev.lock());
                }
                g.metrics = Some(self.shared.metrics.clone());
                self.shared
                    .metrics
                    .group_loaded(&key, g.interval_ms, g.rules.len());
                map.insert(key, self.start(g));
            }
        }
        for (key, h) in old {
            let group = h.stop().await;
            self.shared.metrics.group_removed(&key);
            self.mark_stale_later(&group);
        }
        Ok(())
    }

    /// The groups and their rules, in key order.
    pub async fn groups(&self) -> Vec<GroupView> {
        let map = self.groups.lock().await;
        map.values()
            .map(|h| {
                let g = h.group.lock();
                GroupView {
                    name: g.name.clone(),
                    file: g.file.clone(),
                    interval_ms: g.interval_ms,
                    limit: g.limit,
                    last_evaluation_ms: g.last_evaluation_ms,
                    last_duration: g.last_duration,
                    rules: g.rules.clone(),
                    language: g.language(),
                }
            })
            .collect()
    }

    /// Stops every group and waits for their evaluations to end.
    pub async fn stop(&self) {
        self.shared.shutdown.cancel();
        let mut map = self.groups.lock().await;
        for (_, h) in std::mem::take(&mut *map) {
            h.stop().await;
        }
    }

    fn start(&self, group: Group) -> GroupHandle {
        let group = Arc::new(Mutex::new(group));
        let cancel = self.shared.shutdown.child_token();
        let task = tokio::spawn(run(self.shared.clone(), group.clone(), cancel.clone()));
        GroupHandle {
            group,
            cancel,
            task,
        }
    }

    /// Marks a removed group's series stale two intervals from now,
    /// stamped now, unless the manager stops first.
    fn mark_stale_later(&self, group: &Arc<Mutex<Group>>) {
        let (series, interval) = {
            let mut g = group.lock();
            (g.take_all_series(), g.interval_ms)
        };
        if series.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        let now = shared.clock.now_ms();
        tokio::spawn(async move {
            tokio::select! {
                () = shared.shutdown.cancelled() => {}
                () = tokio::time::sleep(Duration::from_millis(2 * interval.max(0) as u64)) => {
                    let batch: Vec<(Labels, Sample)> =
                        series.into_iter().map(|l| (l, Sample::new(now, STALE_NAN))).collect();
                    if let Err(e) = shared.storage.append(&batch) {
                        tracing::warn!(error = %e, "marking removed rules' series stale failed");
                    }
                }
            }
        });
    }
}

/// A group's evaluation loop.
async fn run(shared: Arc<Shared>, group: Arc<Mutex<Group>>, cancel: CancellationToken) {
    let (interval, key, mut should_restore, first) = {
        let g = group.lock();
        let now = shared.clock.now_ms();
        (
            g.interval_ms.max(1),
            g.key(),
            g.should_restore,
            g.eval_timestamp(now) + g.interval_ms.max(1),
        )
    };
    let mut eval_ts = first;
    tokio::select! {
        () = cancel.cancelled() => return,
        () = tokio::time::sleep_until(shared.clock.instant_at(eval_ts)) => {}
    }
    let mut ticker = tokio::time::interval_at(
        shared.clock.instant_at(eval_ts) + Duration::from_millis(interval as u64),
        Duration::from_millis(interval as u64),
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    shared.metrics.iterations(&key, 1, 0);
    iterate(&shared, &group, eval_ts).await;
    let mut evaluations = 1;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let missed = ((shared.clock.now_ms() - eval_ts) / interval - 1).max(0);
        shared
            .metrics
            .iterations(&key, 1 + missed as u64, missed as u64);
        eval_ts += (missed + 1) * interval;
        iterate(&shared, &group, eval_ts).await;
        evaluations += 1;
        // restoring waits for a second evaluation: recording rules the
        // alerts depend on have then caught up
        if should_restore && evaluations >= 2 {
            should_restore = false;
            let shared2 = shared.clone();
            let group2 = group.clone();
            let res = tokio::task::spawn_blocking(move || {
                let env = env(&shared2);
                let now = shared2.clock.now_ms();
                group2.lock().restore_for_state(
                    &env,
                    now,
                    ms(shared2.opts.outage_tolerance),
                    ms(shared2.opts.for_grace_period),
                );
            })
            .await;
            if let Err(e) = res {
                tracing::error!(error = %e, "restoring alerts' for state failed");
            }
        }
    }
}

fn env(shared: &Shared) -> EvalEnv<'_> {
    EvalEnv {
        storage: shared.storage.as_ref(),
        engine: &shared.engine,
        querier: None,
        expander: shared.expander.as_ref(),
        external_labels: &shared.opts.external_labels,
    }
}

/// One evaluation at `ts`, then the due alerts to the sink.
async fn iterate(shared: &Arc<Shared>, group: &Arc<Mutex<Group>>, ts: i64) {
    let s = shared.clone();
    let g = group.clone();
    let (due, transitions): (Vec<DueAlert>, _) = match tokio::task::spawn_blocking(move || {
        let env = env(&s);
        let mut g = g.lock();
        let due = g.eval(&env, ts, ms(s.opts.resend_delay));
        (due, g.take_transitions())
    })
    .await
    {
        Ok(out) => out,
        Err(e) => {
            tracing::error!(error = %e, "rule group evaluation panicked");
            return;
        }
    };
    if let Some(listener) = &shared.listener
        && !transitions.is_empty()
    {
        listener.transitions(transitions).await;
    }
    if due.is_empty() {
        return;
    }
    let alerts = due
        .iter()
        .map(|d| NotifiedAlert::new(&d.alert, &d.expr, &shared.opts.external_url))
        .collect();
    shared.sink.send(alerts).await;
}

#[cfg(test)]
mod tests;

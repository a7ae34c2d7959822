//! The AlertManager: the facade the server runs, wiring the engine's
//! parts as Alertmanager 0.25's `main` does. Every incoming alert is
//! prepared and validated (API v2's `postAlertsHandler`), stored (merged
//! with the stored one), observed by the inhibitor and dispatched to its
//! routes' aggregation groups, whose flushes go through the inhibitor,
//! the silencer, the notification log and the receivers. It answers the
//! queries of API v2 (alerts with their status and receivers, alert
//! groups, silences, status, receivers), reloads a new configuration
//! (new routes, receivers and inhibition rules over the same alerts,
//! silences and notification log), and collects garbage periodically:
//! resolved alerts every 30 minutes (`--alerts.gc-interval`), expired
//! silences, notification log entries and resolved inhibiting alerts
//! every 15 minutes (`--data.maintenance-interval`).
//!
//! Each state change (alerts put, a silence set or expired, a reload)
//! runs on a task of its own and the caller awaits it: a caller that goes
//! away, such as an HTTP client hanging up, never cuts one short halfway
//! (an alert stored but not dispatched, say).
//!
//! - [`query`]: the queries' filters and what they answer.
//! - [`state`]: which alerts fire: alerts starting and stopping told to a
//!   [`StateListener`], and the firing alerts by service.
//!
//! Just over 800 lines as one module: the engine swap, the gate that
//! orders puts against reloads and stops, and the queries over one
//! engine belong together; its state tracking and tests are split out.

pub mod query;
pub mod state;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alert::{Alert, AlertStore, Fingerprint, IncomingAlert, Marker, labels_before};
use crate::clock::SharedClock;
use crate::dispatch::{Dispatcher, GroupMuter, Muter, Notifier, Pipeline, Router};
use crate::handoff::{Handoff, HandoffSlot};
use crate::inhibit::{InhibitRule, Inhibitor};
use crate::nflog::NotificationLog;
use crate::severity::SeverityPolicy;
use crate::silence::{Silence, SilenceQuery, Silencer, Silences};
use crate::{Error, LabelSet, Matcher, Result};

pub use query::{
    AlertGroupView, AlertQuery, AlertView, SilenceView, StatusView, VersionInfo, filter_matches,
    silence_matches_filter,
};
pub use state::{SERVICE_LABEL, Source, StateChange, StateListener};

/// How often resolved alerts are removed (Alertmanager's
/// `--alerts.gc-interval`).
pub const ALERT_GC_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// How often expired silences, old notification log entries and resolved
/// inhibiting alerts are removed (Alertmanager's
/// `--data.maintenance-interval`).
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// How often alerts that stopped firing because their end passed (a
/// sender stopped re-sending them) are noticed for the [`StateListener`].
pub const STATE_SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// What the configuration decides; a reload replaces all of it.
pub struct Configured {
    /// The route tree.
    pub router: Arc<dyn Router>,
    /// The receivers' integrations (a [`crate::notify::receivers::Receivers`]).
    pub notifier: Arc<dyn Notifier>,
    /// The inhibition rules.
    pub inhibit_rules: Vec<InhibitRule>,
    /// What mutes routes by time (their time intervals), if anything.
    pub group_muter: Option<Arc<dyn GroupMuter>>,
    /// The end given to alerts sent without one (`global.resolve_timeout`).
    pub resolve_timeout: Duration,
    /// The configuration's text, as `GET /api/v2/status` shows it.
    pub original: String,
    /// The receivers' names in the configuration's order
    /// (`GET /api/v2/receivers`).
    pub receivers: Vec<String>,
}

impl fmt::Debug for Configured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Configured")
            .field("inhibit_rules", &self.inhibit_rules.len())
            .field("resolve_timeout", &self.resolve_timeout)
            .field("receivers", &self.receivers)
            .finish_non_exhaustive()
    }
}

/// How often garbage is collected (intervals under a second count as a
/// second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Maintenance {
    /// Between two removals of resolved alerts.
    pub alert_gc_interval: Duration,
    /// How long a resolved alert is kept (zero, Alertmanager's: it goes
    /// at the first collection after its end).
    pub alert_retention: Duration,
    /// Between two collections of silences, the notification log and the
    /// inhibitor's resolved sources.
    pub interval: Duration,
    /// Between two looks for firing alerts whose end passed.
    pub state_interval: Duration,
}

impl Default for Maintenance {
    /// Alertmanager's: resolved alerts every 30 minutes, the rest every 15.
    fn default() -> Self {
        Self {
            alert_gc_interval: ALERT_GC_INTERVAL,
            alert_retention: Duration::ZERO,
            interval: MAINTENANCE_INTERVAL,
            state_interval: STATE_SWEEP_INTERVAL,
        }
    }
}

/// What an [`AlertManager`] is built from.
pub struct ManagerOptions {
    /// What the configuration decides.
    pub config: Configured,
    /// Where alerts live.
    pub alerts: Arc<dyn AlertStore>,
    /// The silences.
    pub silences: Silences,
    /// The notification log.
    pub nflog: Arc<dyn NotificationLog>,
    /// Wall time (the dispatcher's timers run on tokio's clock).
    pub clock: SharedClock,
    /// Garbage collection.
    pub maintenance: Maintenance,
    /// What `GET /api/v2/status` reports as the version.
    pub version: VersionInfo,
}

impl fmt::Debug for ManagerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagerOptions")
            .field("config", &self.config)
            .field("maintenance", &self.maintenance)
            .finish_non_exhaustive()
    }
}

/// What one garbage collection removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Resolved alerts.
    pub alerts: usize,
    /// Silences a retention past their end.
    pub silences: usize,
    /// Expired notification log entries.
    pub nflog: usize,
}

/// The parts a configuration builds, swapped whole by a reload.
struct Engine {
    router: Arc<dyn Router>,
    /// The receivers' integrations, also for pages sent outside the
    /// routing tree.
    notifier: Arc<dyn Notifier>,
    dispatcher: Dispatcher,
    inhibitor: Inhibitor,
    resolve_timeout: Duration,
    original: String,
    receivers: Vec<String>,
}

/// The AlertManager; cheap to clone (shared). Needs a tokio runtime.
#[derive(Clone)]
pub struct AlertManager {
    inner: Arc<Inner>,
}

struct Inner {
    /// The current engine; held only to clone or swap the pointer.
    engine: RwLock<Arc<Engine>>,
    /// Puts share it, a reload or a stop takes it alone: no alert is
    /// dispatched to an engine that a reload already replaced.
    gate: tokio::sync::RwLock<()>,
    alerts: Arc<dyn AlertStore>,
    silences: Silences,
    silencer: Silencer,
    nflog: Arc<dyn NotificationLog>,
    marker: Marker,
    clock: SharedClock,
    maintenance: Maintenance,
    version: VersionInfo,
    started: DateTime<Utc>,
    stopped: AtomicBool,
    cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Raises severities before alerts are stored and routed.
    severity: RwLock<Option<Arc<SeverityPolicy>>>,
    /// Where groups worth an incident go (every engine's pipeline reads it).
    handoff: HandoffSlot,
    /// Told of alerts that start or stop firing.
    listener: RwLock<Option<Arc<dyn StateListener>>>,
    /// The alerts last known firing: where each last came from, and by
    /// service.
    firing: Mutex<state::Firing>,
}

/// A handle on an [`AlertManager`] that does not keep it alive: for what
/// the AlertManager itself holds (its receivers' enricher) and asks it
/// back, which a strong handle would make a cycle never freed.
#[derive(Clone, Default)]
pub struct WeakAlertManager(std::sync::Weak<Inner>);

impl fmt::Debug for WeakAlertManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakAlertManager")
            .field("alive", &(self.0.strong_count() > 0))
            .finish()
    }
}

impl WeakAlertManager {
    /// The AlertManager, while it exists.
    pub fn upgrade(&self) -> Option<AlertManager> {
        self.0.upgrade().map(|inner| AlertManager { inner })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl fmt::Debug for AlertManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertManager")
            .field("receivers", &self.inner.engine.read().receivers)
            .field("stopped", &self.inner.stopped.load(Ordering::Acquire))
            .finish_non_exhaustive()
    }
}

impl AlertManager {
    /// Builds the AlertManager and starts it: every stored alert is
    /// observed by the inhibitor and dispatched (as Alertmanager's
    /// dispatcher first receives every current alert), and garbage
    /// collection starts.
    pub async fn start(options: ManagerOptions) -> Result<Self> {
        let handoff = HandoffSlot::default();
        let marker = Marker::new();
        let silencer = Silencer::new(options.silences.clone(), marker.clone());
        let started = options.clock.now();
        let engine = build_engine(
            options.config,
            &marker,
            &silencer,
            &options.nflog,
            &options.clock,
            &handoff,
        );
        let manager = AlertManager {
            inner: Arc::new(Inner {
                engine: RwLock::new(Arc::new(engine)),
                gate: tokio::sync::RwLock::new(()),
                alerts: options.alerts,
                silences: options.silences,
                silencer,
                nflog: options.nflog,
                marker,
                clock: options.clock,
                maintenance: options.maintenance,
                version: options.version,
                started,
                stopped: AtomicBool::new(false),
                cancel: CancellationToken::new(),
                tasks: Mutex::new(Vec::new()),
                severity: RwLock::new(None),
                handoff,
                listener: RwLock::new(None),
                firing: Mutex::new(state::Firing::default()),
            }),
        };
        let engine = manager.engine();
        if let Err(e) = manager.inner.feed(&engine).await {
            engine.dispatcher.stop().await;
            return Err(e);
        }
        let task = tokio::spawn(maintain(
            Arc::downgrade(&manager.inner),
            manager.inner.cancel.clone(),
            manager.inner.maintenance,
        ));
        manager.inner.tasks.lock().push(task);
        Ok(manager)
    }

    fn engine(&self) -> Arc<Engine> {
        self.inner.engine.read().clone()
    }

    /// A handle that does not keep this AlertManager alive.
    pub fn downgrade(&self) -> WeakAlertManager {
        WeakAlertManager(Arc::downgrade(&self.inner))
    }

    /// The alerts firing now whose `service` label ([`SERVICE_LABEL`]) is
    /// one of `services`, each once, in no particular order; silenced and
    /// inhibited alerts fire too, and are included. Found through an index
    /// kept as alerts start and stop firing, not by scanning every alert.
    pub async fn firing_on(&self, services: &BTreeSet<String>) -> Result<Vec<Alert>> {
        self.inner.firing_on(services).await
    }

    /// The clock's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Receives alerts as API v2's `POST /alerts` does: each is prepared
    /// (a missing start is now, a missing end is now plus the resolve
    /// timeout) and validated; the valid ones are stored, merged with the
    /// stored ones, observed by the inhibitor and dispatched, even when
    /// others are invalid. Then, if any was invalid,
    /// [`Error::InvalidAlert`] with every invalid alert's message, joined
    /// by `"; "` as Alertmanager's 400 answer.
    pub async fn put_alerts(&self, alerts: Vec<IncomingAlert>) -> Result<()> {
        self.put_alerts_from(Source::Api, alerts).await
    }

    /// [`put_alerts`](Self::put_alerts) for alerts from `source`, which
    /// the [`StateListener`] is told.
    pub async fn put_alerts_from(&self, source: Source, alerts: Vec<IncomingAlert>) -> Result<()> {
        let inner = self.inner.clone();
        detached(async move { inner.put(source, alerts).await }).await
    }

    /// Sets (or removes) what is told of alerts that start or stop
    /// firing. The alerts firing when it is set are not reported again.
    pub fn set_state_listener(&self, listener: Option<Arc<dyn StateListener>>) {
        *self.inner.listener.write() = listener;
    }

    /// The alerts the query selects, with their status (after asking the
    /// inhibitor and the silencer, as Alertmanager's API does) and the
    /// receivers of the routes they take, by fingerprint. Resolved alerts
    /// are never listed.
    pub async fn alerts(&self, query: &AlertQuery) -> Result<Vec<AlertView>> {
        let engine = self.engine();
        let now = self.now();
        let mut views = Vec::new();
        for alert in self.inner.alerts.list().await? {
            let receivers: Vec<String> = engine
                .router
                .routes(&alert.labels)
                .iter()
                .map(|r| r.receiver.clone())
                .collect();
            if !query.keeps_receivers(&receivers) {
                continue;
            }
            let Some(status) = self.inner.status_if_kept(&engine, &alert, query, now) else {
                continue;
            };
            views.push(AlertView {
                fingerprint: alert.fingerprint(),
                alert,
                status,
                receivers,
            });
        }
        views.sort_by_key(|v| v.fingerprint);
        Ok(views)
    }

    /// The aggregation groups (as Alertmanager's `Dispatcher.Groups`) of
    /// the routes whose receiver the query's receiver expression matches,
    /// with the alerts the query selects; groups left without alerts are
    /// not listed. Each alert's receivers are those of the listed groups
    /// it is in, sorted. Groups are ordered by labels, then receiver.
    pub fn alert_groups(&self, query: &AlertQuery) -> Vec<AlertGroupView> {
        let engine = self.engine();
        let now = self.now();
        let mut groups = Vec::new();
        let mut receivers: HashMap<Fingerprint, Vec<String>> = HashMap::new();
        for group in engine.dispatcher.groups() {
            let receiver = group.route.receiver.clone();
            if !query.keeps_receiver(&receiver) {
                continue;
            }
            let mut alerts = Vec::new();
            for alert in group.alerts {
                let Some(status) = self.inner.status_if_kept(&engine, &alert, query, now) else {
                    continue;
                };
                let fingerprint = alert.fingerprint();
                receivers
                    .entry(fingerprint)
                    .or_default()
                    .push(receiver.clone());
                alerts.push(AlertView {
                    fingerprint,
                    alert,
                    status,
                    receivers: Vec::new(),
                });
            }
            if !alerts.is_empty() {
                groups.push(AlertGroupView {
                    labels: group.labels,
                    receiver,
                    alerts,
                });
            }
        }
        for names in receivers.values_mut() {
            names.sort();
        }
        for group in &mut groups {
            for view in &mut group.alerts {
                view.receivers = receivers
                    .get(&view.fingerprint)
                    .cloned()
                    .unwrap_or_default();
            }
        }
        groups.sort_by(|a, b| {
            if a.labels == b.labels {
                a.receiver.cmp(&b.receiver)
            } else if labels_before(&a.labels, &b.labels) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        groups
    }

    /// The silences, in API v2's order (active by end, pending by start,
    /// expired latest end first), keeping those that have, for every
    /// matcher of `filter`, a matcher with the same name, operator and
    /// value (Alertmanager 0.25's `GET /silences` filter).
    pub fn silences(&self, filter: &[Matcher]) -> Vec<SilenceView> {
        let now = self.now();
        self.inner
            .silences
            .query(&SilenceQuery::default())
            .into_iter()
            .filter(|s| silence_matches_filter(s, filter))
            .map(|silence| SilenceView {
                state: silence.state_at(now),
                silence,
            })
            .collect()
    }

    /// The silence with this id.
    pub fn silence(&self, id: &str) -> Option<SilenceView> {
        let now = self.now();
        self.inner.silences.get(id).map(|silence| SilenceView {
            state: silence.state_at(now),
            silence,
        })
    }

    /// Creates or changes a silence ([`Silences::set`]); its id.
    pub async fn set_silence(&self, silence: Silence) -> Result<String> {
        let silences = self.inner.silences.clone();
        detached(async move { silences.set(silence).await }).await
    }

    /// Expires a silence ([`Silences::expire`]).
    pub async fn expire_silence(&self, id: &str) -> Result<()> {
        let silences = self.inner.silences.clone();
        let id = id.to_owned();
        detached(async move { silences.expire(&id).await }).await
    }

    /// The silences themselves.
    pub fn silences_handle(&self) -> &Silences {
        &self.inner.silences
    }

    /// Each alert's status as last decided.
    pub fn marker(&self) -> &Marker {
        &self.inner.marker
    }

    /// Sets the rules that raise alerts' severity (none: the senders'
    /// labels stand).
    pub fn set_severity_policy(&self, policy: Option<Arc<SeverityPolicy>>) {
        *self.inner.severity.write() = policy;
    }

    /// Hands alert groups at or above a severity to an incident sink (none:
    /// no hand-off).
    pub fn set_handoff(&self, handoff: Option<Handoff>) {
        *self.inner.handoff.write() = handoff;
    }

    /// What `GET /api/v2/status` shows: no cluster, the version, the
    /// configuration's text and when the AlertManager started.
    pub fn status(&self) -> StatusView {
        StatusView {
            cluster_status: "disabled",
            version: self.inner.version.clone(),
            original: self.engine().original.clone(),
            uptime: self.inner.started,
        }
    }

    /// Sends `alerts` (firing) as one notification of group `group_key`
    /// to every integration of `receiver`, outside the routing tree and
    /// the notification log: how the IncidentManager pages a person
    /// through the receivers that reach them. Returns how many
    /// integrations it reached; fails on the first that could not be.
    pub async fn send_to_receiver(
        &self,
        receiver: &str,
        group_key: &str,
        group_labels: LabelSet,
        alerts: Vec<Alert>,
    ) -> Result<usize> {
        let engine = self.engine();
        if !engine.receivers.iter().any(|r| r == receiver) {
            return Err(Error::Notify(format!(
                "no receiver {receiver:?} in the Alertmanager configuration"
            )));
        }
        let integrations = engine.notifier.integrations(receiver);
        let now = self.now();
        for integration in &integrations {
            let notification = crate::dispatch::Notification {
                integration: integration.clone(),
                group_key: group_key.to_owned(),
                group_labels: group_labels.clone(),
                alerts: alerts.clone(),
                all_resolved: false,
                reason: crate::nflog::UpdateReason::FirstNotification,
                now,
            };
            engine.notifier.notify(&notification).await?;
        }
        Ok(integrations.len())
    }

    /// The receivers' names, in the configuration's order.
    pub fn receivers(&self) -> Vec<String> {
        self.engine().receivers.clone()
    }

    /// Applies a new configuration, as Alertmanager's reload: a new
    /// dispatcher and inhibitor receive every stored alert, then the old
    /// dispatcher stops (its groups' pending flushes are dropped: the new
    /// groups flush after their `group_wait`, and the notification log
    /// keeps what was already sent from being sent again). Alerts,
    /// silences, the notification log and the alerts' statuses stay.
    pub async fn reload(&self, config: Configured) -> Result<()> {
        let inner = self.inner.clone();
        detached(async move { inner.reload(config).await }).await
    }

    /// Removes resolved alerts (and forgets their status), expired
    /// silences and notification log entries, and resolved inhibiting
    /// alerts; what the periodic collection does.
    pub async fn gc(&self) -> Result<GcReport> {
        let alerts = self.inner.gc_alerts().await?;
        let mut report = self.inner.maintain_data().await?;
        report.alerts = alerts;
        Ok(report)
    }

    /// Stops the dispatcher (pending flushes are dropped) and the garbage
    /// collection; alerts put afterwards are refused with
    /// [`Error::Stopped`]. Waits for an ongoing put or reload, then has
    /// the store write what it held back.
    pub async fn stop(&self) {
        let _alone = self.inner.gate.write().await;
        self.inner.stopped.store(true, Ordering::Release);
        self.inner.cancel.cancel();
        let tasks: Vec<JoinHandle<()>> = self.inner.tasks.lock().drain(..).collect();
        for task in tasks {
            if let Err(e) = task.await
                && e.is_panic()
            {
                tracing::error!(error = %e, "alertmanager maintenance task panicked");
            }
        }
        self.engine().dispatcher.stop().await;
        if let Err(e) = self.inner.alerts.flush().await {
            tracing::error!(error = %e, "cannot write the alerts held back at stop");
        }
    }
}

/// Runs `work` on a task of its own and waits for it, so that dropping
/// the caller's future does not stop it halfway.
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    match tokio::spawn(work).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::error!(error = %e, "alertmanager task failed");
            Err(Error::Stopped)
        }
    }
}

fn build_engine(
    config: Configured,
    marker: &Marker,
    silencer: &Silencer,
    nflog: &Arc<dyn NotificationLog>,
    clock: &SharedClock,
    handoff: &HandoffSlot,
) -> Engine {
    let inhibitor = Inhibitor::new(config.inhibit_rules, marker.clone());
    let inhibitor_muter: Arc<dyn Muter> = Arc::new(inhibitor.clone());
    let silencer_muter: Arc<dyn Muter> = Arc::new(silencer.clone());
    let notifier = config.notifier.clone();
    let mut pipeline = Pipeline::new(nflog.clone(), config.notifier, clock.clone())
        .with_muter(inhibitor_muter)
        .with_muter(silencer_muter)
        .with_handoff(handoff.clone());
    if let Some(group_muter) = config.group_muter {
        pipeline = pipeline.with_group_muter(group_muter);
    }
    Engine {
        dispatcher: Dispatcher::new(config.router.clone(), pipeline),
        router: config.router,
        notifier,
        inhibitor,
        resolve_timeout: config.resolve_timeout,
        original: config.original,
        receivers: config.receivers,
    }
}

impl Inner {
    async fn put(&self, source: Source, incoming: Vec<IncomingAlert>) -> Result<()> {
        let _shared = self.gate.read().await;
        if self.stopped.load(Ordering::Acquire) {
            return Err(Error::Stopped);
        }
        let engine = self.engine.read().clone();
        let now = self.clock.now();
        let mut invalid = Vec::new();
        let mut valid = Vec::with_capacity(incoming.len());
        for alert in incoming {
            match alert.into_alert(now, engine.resolve_timeout) {
                Ok(alert) => valid.push(alert),
                Err(e) => invalid.push(e.to_string()),
            }
        }
        let severity = self.severity.read().clone();
        let mut batch = Vec::with_capacity(valid.len());
        for alert in valid {
            let alert = match &severity {
                None => alert,
                Some(policy) => {
                    let decision = policy.apply(alert, now);
                    // the alert under its previous severity is over
                    if let Some(labels) = decision.superseded
                        && let Some(mut old) = self.alerts.get(Fingerprint::of(&labels)).await?
                    {
                        old.ends_at = Some(now);
                        old.updated_at = now;
                        batch.push(old);
                    }
                    decision.alert
                }
            };
            batch.push(alert);
        }
        // One write for the whole batch: a durable store commits once.
        // The alerts are dispatched once merged, before the commit: a new
        // group's wait starts when its alert arrived.
        let dispatch = |stored: &[Alert]| {
            for alert in stored {
                engine.inhibitor.observe(alert);
                engine.dispatcher.dispatch(alert);
            }
        };
        let stored = self.alerts.put_all_with(batch, now, &dispatch).await?;
        self.track(&stored, source, now);
        match invalid.is_empty() {
            true => Ok(()),
            false => {
                tracing::debug!(invalid = invalid.len(), "refused invalid alerts");
                Err(Error::InvalidAlert(invalid.join("; ")))
            }
        }
    }

    /// Gives every stored alert to a new engine; the ones firing are
    /// known firing from then on (not reported again).
    async fn feed(&self, engine: &Engine) -> Result<()> {
        let now = self.clock.now();
        let alerts = self.alerts.list().await?;
        for alert in &alerts {
            engine.inhibitor.observe(alert);
            engine.dispatcher.dispatch(alert);
        }
        self.know_firing(&alerts, now);
        Ok(())
    }

    async fn reload(&self, config: Configured) -> Result<()> {
        let _alone = self.gate.write().await;
        if self.stopped.load(Ordering::Acquire) {
            return Err(Error::Stopped);
        }
        let engine = Arc::new(build_engine(
            config,
            &self.marker,
            &self.silencer,
            &self.nflog,
            &self.clock,
            &self.handoff,
        ));
        if let Err(e) = self.feed(&engine).await {
            engine.dispatcher.stop().await;
            return Err(e);
        }
        let old = std::mem::replace(&mut *self.engine.write(), engine);
        old.dispatcher.stop().await;
        tracing::info!("alertmanager configuration reloaded");
        Ok(())
    }

    /// The alert's status if the query keeps it (Alertmanager's
    /// `alertFilter`): not resolved, its status decided now by the
    /// inhibitor and the silencer, in a state the query asks for, and its
    /// labels matching the query's matchers.
    fn status_if_kept(
        &self,
        engine: &Engine,
        alert: &Alert,
        query: &AlertQuery,
        now: DateTime<Utc>,
    ) -> Option<crate::alert::AlertStatus> {
        if alert.ends_at.is_some_and(|end| end < now) {
            return None;
        }
        engine.inhibitor.mutes(&alert.labels, now);
        self.silencer.mutes(&alert.labels, now);
        let status = self.marker.status(alert.fingerprint());
        (query.keeps_status(&status) && filter_matches(&query.matchers, &alert.labels))
            .then_some(status)
    }

    async fn gc_alerts(&self) -> Result<usize> {
        let now = self.clock.now();
        let removed = self
            .alerts
            .gc(now, self.maintenance.alert_retention)
            .await?;
        for fp in &removed {
            self.marker.delete(*fp);
        }
        if !removed.is_empty() {
            tracing::debug!(removed = removed.len(), "removed resolved alerts");
        }
        Ok(removed.len())
    }

    async fn maintain_data(&self) -> Result<GcReport> {
        let now = self.clock.now();
        self.engine.read().clone().inhibitor.gc(now);
        let silences = self.silences.gc().await?;
        let nflog = self.nflog.gc(now).await?;
        Ok(GcReport {
            alerts: 0,
            silences,
            nflog,
        })
    }
}

async fn maintain(inner: std::sync::Weak<Inner>, cancel: CancellationToken, every: Maintenance) {
    // A zero period would make tokio's interval panic; a second is as
    // often as collecting can make sense.
    let every = Maintenance {
        alert_gc_interval: every.alert_gc_interval.max(Duration::from_secs(1)),
        interval: every.interval.max(Duration::from_secs(1)),
        state_interval: every.state_interval.max(Duration::from_secs(1)),
        ..every
    };
    let start = tokio::time::Instant::now();
    let mut alerts =
        tokio::time::interval_at(start + every.alert_gc_interval, every.alert_gc_interval);
    let mut data = tokio::time::interval_at(start + every.interval, every.interval);
    let mut states = tokio::time::interval_at(start + every.state_interval, every.state_interval);
    enum Due {
        Alerts,
        Data,
        States,
    }
    loop {
        let due = tokio::select! {
            () = cancel.cancelled() => return,
            _ = alerts.tick() => Due::Alerts,
            _ = data.tick() => Due::Data,
            _ = states.tick() => Due::States,
        };
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let outcome = match due {
            Due::States => inner.sweep_resolved().await,
            Due::Alerts => inner.gc_alerts().await.map(|_| ()),
            Due::Data => inner.maintain_data().await.map(|report| {
                if report.silences + report.nflog > 0 {
                    tracing::debug!(
                        silences = report.silences,
                        nflog = report.nflog,
                        "removed expired silences and notification log entries"
                    );
                }
            }),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "alertmanager garbage collection failed");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

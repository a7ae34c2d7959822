//! The alerts subsystem: steward's own AlertManager, run when `[alerts]`
//! names an Alertmanager configuration (a file, or inline YAML). Its
//! alerts, silences and notification log live in the store; its API v2
//! is served under `/alertmanager` (so Prometheus' `alertmanagers` use
//! `path_prefix: /alertmanager`, and amtool
//! `--alertmanager.url=<steward>/alertmanager`); alerts also come from
//! steward's own rules ([`Alerts::sink`]), the generic webhook
//! (`POST /api/v1/alerts/webhook`) and PagerDuty Events v2 senders
//! (`POST /v2/enqueue`). Every delivery try is journaled
//! (`alertmanager.notification.sent` or `.failed`), as is every
//! PagerDuty acknowledgement (`alertmanager.alert.acknowledged`).
//! Notifications are enriched (`enrich.rs`).
//!
//! A reload (`POST /api/v1/reload` with the rules, or Alertmanager's own
//! `POST /alertmanager/-/reload`) reads the configuration file again and
//! builds `[alerts]` exactly as the start did (`Parts::build`), then
//! swaps it in; an invalid configuration changes nothing. Each reload is
//! journaled (`alerts.reloaded`, `alerts.reload_failed`).
//!
//! Every route needs a token: reads the viewer role, changes (alerts,
//! silences, events, reloads) the operator role.
//!
//! - `journal`: the journal listeners (delivery tries, alerts starting
//!   and stopping, hand-offs); `enrich`: what notifications are enriched
//!   with.

mod enrich;

use std::sync::{Arc, OnceLock};

use axum::{
    Extension, Json, Router,
    body::Bytes,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_alert::{
    AlertManager, AlertManagerEvent, AlertsConfigEvent, Config, LabelSet, MatchType, Matcher,
    Matchers,
    alert::IncomingAlert,
    clock::{SharedClock, SystemClock},
    handoff::{Handoff, IncidentSink},
    manager::{
        AlertQuery, Configured, Maintenance, ManagerOptions, Source, VersionInfo, WeakAlertManager,
    },
    severity::{Condition, SeverityPolicy, SeverityRule},
    silence::Silences,
    sources::{pagerduty, webhook},
};
use steward_config::{AlertsConfig, LoadedConfig};
use steward_core::{Actor, NewEvent, Severity};
use steward_metrics::{Labels, MetricsCollector};
use steward_rules::{AlertSink, NotifiedAlert};
use steward_store::{Store, StoreAlerts, StoreNotificationLog, StoreSilences};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use self::enrich::{ENRICH_LOOKBACK, StewardEnricher};
use crate::{Error, Principal, Result, events::bounded, reload::ReloadError};

mod journal;

use journal::{JOURNAL_BATCH, JournalAttempts, JournalHandoffs, JournalStates, journal_all};

/// Where the Alertmanager-compatible API is mounted.
pub const ALERTMANAGER_PREFIX: &str = "/alertmanager";

/// The generic webhook source.
pub const WEBHOOK_PATH: &str = "/api/v1/alerts/webhook";

/// PagerDuty's Events API v2 path, so a sender's base URL is steward's.
pub const PAGERDUTY_PATH: &str = "/v2/enqueue";

/// Alertmanager's reload endpoint (under [`ALERTMANAGER_PREFIX`]), for the
/// tools that reload an Alertmanager after changing its configuration.
pub const RELOAD_PATH: &str = "/-/reload";

/// Whether `path` pushes alerts (API v2's `POST /alerts`, the generic
/// webhook, PagerDuty events): data whose effects the AlertManager
/// journals itself, not API calls for the audit trail.
pub(crate) fn is_alert_push(path: &str) -> bool {
    path == WEBHOOK_PATH
        || path == PAGERDUTY_PATH
        || path
            .strip_prefix(ALERTMANAGER_PREFIX)
            .is_some_and(|rest| rest == "/api/v2/alerts")
}

/// The running AlertManager; cheap to clone.
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<Inner>,
}

struct Inner {
    manager: AlertManager,
    store: Store,
    /// The journal writer of delivery tries, taken at stop.
    journal: parking_lot::Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
    /// What the configuration was built with at start, to build a
    /// reloaded one exactly so.
    parts: Parts,
    /// The configuration steward started with (a reload reads its source
    /// again).
    config: Arc<LoadedConfig>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

/// What a reload of the AlertManager's configuration loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertmanagerReloaded {
    /// Where the Alertmanager configuration was read: its file, or
    /// `[alerts] config_yaml`.
    pub config: String,
    /// Its receivers, in the configuration's order.
    pub receivers: Vec<String>,
}

/// Where an inline Alertmanager configuration is, in messages.
const INLINE: &str = "[alerts] config_yaml";

/// What the AlertManager's configuration is built with besides `[alerts]`
/// itself, the same at start and at every reload.
#[derive(Clone)]
struct Parts {
    store: Store,
    /// The API's URL, for links when `[alerts] external_url` is not set.
    api_url: String,
    /// Journals every delivery try.
    attempts: Arc<JournalAttempts>,
    /// Journals the groups handed to incidents.
    handoffs: Arc<JournalHandoffs>,
    /// Where the enricher evaluates expressions, when steward keeps metrics.
    metrics: Option<MetricsCollector>,
    /// The AlertManager, once started, for the enricher's related alerts.
    manager: Arc<OnceLock<WeakAlertManager>>,
    /// Where the enricher finds the lines before an alert, when steward
    /// keeps logs.
    logs: Option<steward_logs::api::LokiApi>,
}

/// `[alerts]` built: what the AlertManager runs, and the policies set on it.
struct Built {
    configured: Configured,
    severity: Option<Arc<SeverityPolicy>>,
    handoff: Option<Handoff>,
    /// Where the Alertmanager configuration was read.
    source: String,
}

impl Parts {
    /// Builds `config`'s `[alerts]` (`None` when it names no Alertmanager
    /// configuration); the error names the file and what is wrong with
    /// it. Warnings (what Alertmanager would warn about) are logged.
    fn build(&self, config: &LoadedConfig) -> std::result::Result<Option<Built>, String> {
        let section = &config.config.alerts;
        let (am, original, source) = match (&section.config, &section.config_yaml) {
            (Some(file), _) => {
                let (am, text) = Config::read_file(file).map_err(|e| e.to_string())?;
                (am, text, file.display().to_string())
            }
            (None, Some(yaml)) => (
                Config::load(yaml).map_err(|e| format!("{INLINE}: {e}"))?,
                yaml.clone(),
                INLINE.to_owned(),
            ),
            (None, None) => return Ok(None),
        };
        for warning in am.warnings() {
            tracing::warn!(config = %source, "{warning}");
        }
        let external_url = section
            .external_url
            .clone()
            .unwrap_or_else(|| self.api_url.clone());
        let enricher = StewardEnricher {
            store: self.store.clone(),
            config: Arc::new(config.clone()),
            lookback: ENRICH_LOOKBACK,
            manager: self.manager.clone(),
            metrics: self.metrics.clone(),
            budget: enrich::VALUE_BUDGET,
            logs: self.logs.clone(),
            api_url: self.api_url.clone(),
        };
        let configured = steward_alert::build::configured_enriched(
            &am,
            original,
            &external_url,
            self.attempts.clone(),
            Some(Arc::new(enricher)),
        )
        .map_err(|e| format!("{source}: {e}"))?;
        let handoff = section.incident_severity.as_ref().map(|level| {
            let sink: Arc<dyn IncidentSink> = self.handoffs.clone();
            Handoff::new(sink, level.clone())
        });
        Ok(Some(Built {
            configured,
            severity: severity_policy(section)?,
            handoff,
            source,
        }))
    }
}

impl Alerts {
    /// Loads `[alerts]`' Alertmanager configuration and starts the
    /// AlertManager over `store`; links in notifications point at `[alerts]
    /// external_url`, else `api_url`; notifications carry the current
    /// value of their alert's expression, evaluated over `metrics` when
    /// given, and the log lines of its service before it fired, from
    /// `logs` when given. `None` when `[alerts]` is not enabled.
    pub async fn start(
        config: &LoadedConfig,
        store: &Store,
        api_url: &str,
        metrics: Option<&MetricsCollector>,
        logs: Option<&crate::logs::Logs>,
    ) -> Result<Option<Alerts>> {
        let section = &config.config.alerts;
        if !section.enabled() {
            return Ok(None);
        }
        let invalid = |e: steward_alert::Error| Error::Alerts(e.to_string());
        let (tx, mut rx) = mpsc::unbounded_channel::<NewEvent>();
        let tx_states = tx.clone();
        let parts = Parts {
            store: store.clone(),
            api_url: api_url.to_owned(),
            attempts: Arc::new(JournalAttempts(tx)),
            handoffs: Arc::new(JournalHandoffs {
                store: store.clone(),
                last: parking_lot::Mutex::default(),
                incidents: std::sync::OnceLock::new(),
            }),
            metrics: metrics.cloned(),
            manager: Arc::default(),
            logs: logs.map(|l| l.api().clone()),
        };
        let Some(built) = parts.build(config).map_err(Error::Alerts)? else {
            return Ok(None);
        };
        let stop = CancellationToken::new();
        let writer = {
            let (store, stop) = (store.clone(), stop.clone());
            // one writer, so that tries are journaled in the order made
            tokio::spawn(async move {
                loop {
                    let event = tokio::select! {
                        biased;
                        event = rx.recv() => event,
                        () = stop.cancelled() => rx.try_recv().ok(),
                    };
                    let Some(event) = event else { break };
                    // what queued meanwhile goes in the same transaction
                    let mut batch = vec![event];
                    while batch.len() < JOURNAL_BATCH
                        && let Ok(event) = rx.try_recv()
                    {
                        batch.push(event);
                    }
                    if let Err(err) = journal_all(&store, batch).await {
                        tracing::warn!(error = %err, "cannot journal alertmanager events");
                    }
                }
            })
        };
        let retention = section.retention.0;
        let clock: SharedClock = Arc::new(SystemClock);
        let silences = Silences::new(
            Arc::new(StoreSilences(store.clone())),
            clock.clone(),
            retention,
        )
        .await
        .map_err(invalid)?;
        let manager = AlertManager::start(ManagerOptions {
            config: built.configured,
            alerts: Arc::new(
                StoreAlerts::load(store.clone())
                    .await
                    .map_err(Error::from)?,
            ),
            silences,
            nflog: Arc::new(
                StoreNotificationLog::load(store.clone(), retention)
                    .await
                    .map_err(Error::from)?,
            ),
            clock,
            maintenance: Maintenance::default(),
            version: VersionInfo::default(),
        })
        .await
        .map_err(invalid)?;
        manager.set_severity_policy(built.severity);
        manager.set_handoff(built.handoff);
        let _ = parts.manager.set(manager.downgrade());
        manager.set_state_listener(Some(Arc::new(JournalStates(tx_states))));
        Ok(Some(Alerts {
            inner: Arc::new(Inner {
                manager,
                store: store.clone(),
                journal: parking_lot::Mutex::new(Some((stop, writer))),
                parts,
                config: Arc::new(config.clone()),
                reloading: tokio::sync::Mutex::new(()),
            }),
        }))
    }

    /// Reads the configuration file again and applies its `[alerts]` as
    /// `POST /api/v1/reload` does, on a task of its own so that a client
    /// hanging up cannot cut it short; what `POST /alertmanager/-/reload`
    /// does.
    pub async fn reload(&self, actor: Actor) -> Result<AlertmanagerReloaded, ReloadError> {
        let this = self.clone();
        tokio::spawn(async move {
            let fresh = crate::reload::reread(&this.inner.config);
            this.apply(fresh.as_ref().map_err(String::as_str), actor)
                .await
        })
        .await
        .map_err(|err| ReloadError::Stopped(err.to_string()))?
    }

    /// Applies `[alerts]` of `fresh` (the configuration file as a reload
    /// read it again, or why it could not): the Alertmanager configuration
    /// it names (read again, or the inline YAML), built as at start, with
    /// `external_url`, `[[alerts.severity]]` and `incident_severity`. When
    /// anything is invalid nothing changes: the previous configuration
    /// runs on. `retention` changes only at the next start. Journals the
    /// outcome as `actor`'s (`alerts.reloaded` or `alerts.reload_failed`).
    pub(crate) async fn apply(
        &self,
        fresh: std::result::Result<&LoadedConfig, &str>,
        actor: Actor,
    ) -> Result<AlertmanagerReloaded, ReloadError> {
        let _alone = self.inner.reloading.lock().await;
        let outcome = self.rebuild(fresh).await;
        let event = match &outcome {
            Ok(loaded) => NewEvent::new(
                AlertsConfigEvent::Reloaded.kind(),
                actor,
                bounded(
                    &format!(
                        "loaded the Alertmanager configuration from {} ({} receivers)",
                        loaded.config,
                        loaded.receivers.len()
                    ),
                    1024,
                ),
            )
            .payload(json!(loaded)),
            Err(err) => NewEvent::new(
                AlertsConfigEvent::ReloadFailed.kind(),
                actor,
                "reloading the Alertmanager configuration failed; the previous configuration runs on",
            )
            .severity(Severity::Error)
            .payload(json!({"error": bounded(&err.to_string(), 16 * 1024)})),
        };
        if let Err(err) = self.inner.store.append(event).await {
            tracing::warn!(error = %err, "cannot journal an alertmanager reload");
        }
        outcome
    }

    async fn rebuild(
        &self,
        fresh: std::result::Result<&LoadedConfig, &str>,
    ) -> Result<AlertmanagerReloaded, ReloadError> {
        let config = fresh.map_err(|err| ReloadError::Config(err.to_owned()))?;
        let built = self
            .inner
            .parts
            .build(config)
            .map_err(ReloadError::Invalid)?
            .ok_or_else(|| {
                ReloadError::Invalid(
                    "[alerts] no longer names an Alertmanager configuration (`config` or `config_yaml`); the AlertManager stops only when steward restarts".into(),
                )
            })?;
        let receivers = built.configured.receivers.clone();
        let manager = &self.inner.manager;
        manager
            .reload(built.configured)
            .await
            .map_err(|err| ReloadError::Stopped(err.to_string()))?;
        manager.set_severity_policy(built.severity);
        manager.set_handoff(built.handoff);
        Ok(AlertmanagerReloaded {
            config: built.source,
            receivers,
        })
    }

    /// Hands the alert groups worth an incident to `manager` from now on
    /// (they are journaled either way).
    pub fn hand_incidents_to(&self, manager: steward_incident::IncidentManager) {
        let _ = self.inner.parts.handoffs.incidents.set(manager);
    }

    /// The AlertManager.
    pub fn manager(&self) -> &AlertManager {
        &self.inner.manager
    }

    /// The sink steward's rules hand their alerts to, with the rules'
    /// `external_labels` added (as Prometheus' notifier adds them).
    pub fn sink(&self, external_labels: Labels) -> Arc<dyn AlertSink> {
        Arc::new(ManagerSink {
            manager: self.inner.manager.clone(),
            external_labels,
        })
    }

    /// API v2 and Alertmanager's `POST /-/reload`, to be nested under
    /// [`ALERTMANAGER_PREFIX`] (without authentication: the caller layers
    /// it, and the reload needs the [`Principal`] it puts in the request).
    pub fn api_router(&self) -> Router {
        steward_alert::api::router(self.inner.manager.clone()).merge(
            Router::new()
                .route(RELOAD_PATH, post(reload_alertmanager))
                .with_state(self.clone()),
        )
    }

    /// The sources: [`WEBHOOK_PATH`] and [`PAGERDUTY_PATH`] (without
    /// authentication: the caller layers it).
    pub fn sources_router(&self) -> Router {
        Router::new()
            .route(WEBHOOK_PATH, post(webhook_alerts))
            .route(PAGERDUTY_PATH, post(pagerduty_event))
            .with_state(self.clone())
    }

    /// Stops the AlertManager (pending flushes are dropped; the store
    /// keeps what they would have sent), then waits for the journal of
    /// delivery tries to be written.
    pub async fn stop(&self) {
        self.inner.manager.stop().await;
        let journal = self.inner.journal.lock().take();
        if let Some((stop, writer)) = journal {
            // the tries already made are written, then the writer ends
            stop.cancel();
            if let Err(err) = writer.await {
                tracing::warn!(error = %err, "the journal of notification attempts failed");
            }
        }
    }
}

/// `[[alerts.severity]]` as the AlertManager's policy (none without
/// rules); a matcher that does not parse names its rule.
fn severity_policy(
    section: &AlertsConfig,
) -> std::result::Result<Option<Arc<SeverityPolicy>>, String> {
    if section.severity.is_empty() {
        return Ok(None);
    }
    let mut rules = Vec::with_capacity(section.severity.len());
    for (index, rule) in section.severity.iter().enumerate() {
        let mut matchers = Vec::new();
        for text in &rule.matchers {
            let parsed = Matchers::parse(text).map_err(|e| {
                format!("[[alerts.severity]] #{}: matcher {text:?}: {e}", index + 1)
            })?;
            matchers.extend(parsed.0);
        }
        let condition = if let Some(d) = rule.firing_for {
            Condition::FiringFor(d.0)
        } else if let (Some(count), Some(within)) = (rule.fired_times, rule.within) {
            Condition::FiredTimes {
                count: count as usize,
                within: within.0,
            }
        } else if let Some(at_least) = rule.replicas_at_least {
            Condition::Replicas {
                label: rule.replica_label.clone(),
                at_least: at_least as usize,
            }
        } else {
            Condition::CriticalService(rule.critical_services.iter().cloned().collect())
        };
        rules.push(SeverityRule {
            matchers: Matchers(matchers),
            condition,
            raise_to: rule.raise_to.clone(),
        });
    }
    Ok(Some(Arc::new(SeverityPolicy::with_rules(rules))))
}

/// Steward's rules' alerts into the AlertManager.
struct ManagerSink {
    manager: AlertManager,
    external_labels: Labels,
}

fn millis(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

fn label_set(labels: &Labels) -> LabelSet {
    labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// A rule's alert as the AlertManager takes it: a firing alert ends when
/// the rule says it holds until (re-sent before then), a resolved one
/// when it resolved.
fn incoming(alert: &NotifiedAlert, external: &Labels) -> IncomingAlert {
    let mut labels = label_set(&alert.labels);
    for l in external.iter() {
        labels
            .entry(l.name.clone())
            .or_insert_with(|| l.value.clone());
    }
    IncomingAlert {
        labels,
        annotations: label_set(&alert.annotations),
        starts_at: millis(alert.starts_at_ms),
        ends_at: millis(alert.ends_at_ms),
        generator_url: alert.generator_url.clone(),
    }
}

#[async_trait::async_trait]
impl AlertSink for ManagerSink {
    async fn send(&self, alerts: Vec<NotifiedAlert>) {
        let batch = alerts
            .iter()
            .map(|a| incoming(a, &self.external_labels))
            .collect();
        if let Err(err) = self.manager.put_alerts_from(Source::Rules, batch).await {
            tracing::warn!(error = %err, "the alertmanager refused rule alerts");
        }
    }
}

/// Sends to several sinks (the AlertManager and `[[rules.alertmanagers]]`).
pub struct FanOut(pub Vec<Arc<dyn AlertSink>>);

#[async_trait::async_trait]
impl AlertSink for FanOut {
    async fn send(&self, alerts: Vec<NotifiedAlert>) {
        let (last, rest) = match self.0.split_last() {
            Some(split) => split,
            None => return,
        };
        for sink in rest {
            sink.send(alerts.clone()).await;
        }
        last.send(alerts).await;
    }
}

/// `POST /alertmanager/-/reload`, as Alertmanager 0.25 answers it (its
/// `ui.Register`): 200 with an empty body once the configuration is
/// applied, 500 with `failed to reload config: <why>` as plain text when
/// it is not (the previous configuration runs on). Steward's own `POST
/// /api/v1/reload` reloads the rules too and answers in steward's shapes.
async fn reload_alertmanager(
    State(alerts): State<Alerts>,
    Extension(principal): Extension<Principal>,
) -> Response {
    match alerts.reload(principal.actor).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            // Go's http.Error ends the message with a newline
            format!("failed to reload config: {err}\n"),
        )
            .into_response(),
    }
}

/// `POST /api/v1/alerts/webhook`: a list of alerts (or a webhook payload
/// with `alerts`).
async fn webhook_alerts(State(alerts): State<Alerts>, body: Bytes) -> Response {
    let manager = alerts.manager();
    let incoming = match webhook::parse(&body, manager.now()) {
        Ok(incoming) => incoming,
        Err(errors) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"status": "error", "errors": errors})),
            )
                .into_response();
        }
    };
    let count = incoming.len();
    match manager.put_alerts_from(Source::Webhook, incoming).await {
        Ok(()) => Json(json!({"status": "success", "alerts": count})).into_response(),
        Err(steward_alert::Error::InvalidAlert(message)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "errors": [message]})),
        )
            .into_response(),
        Err(err) => unavailable(&err),
    }
}

fn unavailable(err: &steward_alert::Error) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "error", "message": err.to_string()})),
    )
        .into_response()
}

/// `POST /v2/enqueue`: a PagerDuty event. A trigger puts a firing alert
/// labelled with its `dedup_key`; resolve ends the alerts with that
/// label; acknowledge journals that someone is on them.
async fn pagerduty_event(State(alerts): State<Alerts>, body: Bytes) -> Response {
    let event = match pagerduty::parse(&body, || hex::encode(rand::random::<[u8; 16]>())) {
        Ok(event) => event,
        Err(invalid) => return (StatusCode::BAD_REQUEST, Json(invalid.body())).into_response(),
    };
    let manager = alerts.manager();
    let outcome = match event.action {
        pagerduty::Action::Trigger(alert) => {
            manager
                .put_alerts_from(Source::PagerDuty, vec![alert])
                .await
        }
        pagerduty::Action::Resolve => resolve(manager, &event.dedup_key).await,
        pagerduty::Action::Acknowledge => acknowledge(&alerts, &event.dedup_key).await,
    };
    match outcome {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(pagerduty::accepted_body(&event.dedup_key)),
        )
            .into_response(),
        Err(steward_alert::Error::InvalidAlert(message)) => (
            StatusCode::BAD_REQUEST,
            Json(pagerduty::Invalid(vec![message]).body()),
        )
            .into_response(),
        Err(err) => unavailable(&err),
    }
}

/// The stored alerts of a PagerDuty `dedup_key` that still fire.
async fn by_dedup_key(
    manager: &AlertManager,
    key: &str,
) -> steward_alert::Result<Vec<steward_alert::alert::Alert>> {
    let query = AlertQuery {
        matchers: vec![Matcher::new(
            pagerduty::DEDUP_KEY_LABEL,
            MatchType::Equal,
            key,
        )?],
        ..AlertQuery::default()
    };
    let now = manager.now();
    Ok(manager
        .alerts(&query)
        .await?
        .into_iter()
        .map(|view| view.alert)
        .filter(|alert| !alert.resolved_at(now))
        .collect())
}

async fn resolve(manager: &AlertManager, key: &str) -> steward_alert::Result<()> {
    let now = manager.now();
    let ended: Vec<IncomingAlert> = by_dedup_key(manager, key)
        .await?
        .into_iter()
        .map(|alert| IncomingAlert {
            labels: alert.labels,
            annotations: alert.annotations,
            starts_at: Some(alert.starts_at),
            ends_at: Some(now),
            generator_url: alert.generator_url,
        })
        .collect();
    if ended.is_empty() {
        return Ok(());
    }
    manager.put_alerts_from(Source::PagerDuty, ended).await
}

async fn acknowledge(alerts: &Alerts, key: &str) -> steward_alert::Result<()> {
    let found = by_dedup_key(alerts.manager(), key).await?;
    let names: Vec<String> = found.iter().map(|a| a.name().to_owned()).collect();
    let event = NewEvent::new(
        AlertManagerEvent::AlertAcknowledged.kind(),
        Actor::system(),
        format!("alert {key} acknowledged through PagerDuty's events API"),
    )
    .payload(json!({
        "dedup_key": key,
        "alerts": found.iter().map(|a| json!({
            "fingerprint": a.fingerprint().to_string(),
            "labels": a.labels,
        })).collect::<Vec<_>>(),
        "alertnames": names,
    }));
    alerts
        .inner
        .store
        .append(event)
        .await
        .map(|_| ())
        .map_err(|e| steward_alert::Error::Store(e.to_string()))
}

#[cfg(test)]
mod tests;

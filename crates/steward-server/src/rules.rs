//! The rules subsystem: the rule manager evaluating `[rules] files` over
//! the metrics store and `[rules] log_files` over the log store (LogQL
//! rules, `logql.rs`: their results and alerts go where PromQL rules'
//! go), alerts expanded with Prometheus' templates and sent
//! to `[[rules.alertmanagers]]`, every alert state change journaled
//! (`alert.pending`, `alert.firing`, `alert.resolved`), and reloads.
//!
//! A reload (`reload.rs`, which reads the configuration file again) takes
//! `[rules] files` and `log_files` from it, expands the patterns, and hands the files to
//! the manager, which keeps the running rules when any file is invalid.
//! One load runs at a time, on the reload's own task: a client that hangs
//! up mid-reload does not leave the groups half replaced.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_config::{LoadedConfig, RulesConfig};
use steward_core::{Actor, Name, NewEvent, Severity};
use steward_metrics::{Labels, MetricsCollector};
use steward_rules::{
    AlertEvent, AlertListener, AlertSink, AlertTransition, AlertmanagerAuth, AlertmanagerConfig,
    AlertmanagerSink, DiscardSink, ManagerOptions, NotifierOptions, RuleFiles, RuleManager,
    RuleQuerier, RulesEvent, TemplateExpander, rule::AlertState,
};
use steward_store::Store;

use crate::{Error, Result, events::bounded, reload::ReloadError};
pub use logql::{LogQlQuerier, LogQlSyntax, check_logql};

mod logql;

/// The longest journaled summary, and label or annotation value, of an
/// alert (series labels come from scraped targets, unbounded).
const MAX_JOURNALED: usize = 1024;

/// What a load of the rule files loaded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RulesLoaded {
    /// The rule files read, in order.
    pub rule_files: Vec<String>,
    /// The LogQL rule files read, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_rule_files: Vec<String>,
    /// The rule groups now running.
    pub groups: usize,
    /// Their rules.
    pub rules: usize,
}

/// The running rules subsystem; cheap to clone.
#[derive(Clone)]
pub struct Rules {
    inner: Arc<Inner>,
}

struct Inner {
    manager: Arc<RuleManager>,
    sink: Option<Arc<AlertmanagerSink>>,
    store: Store,
    /// Runs `log_files`' expressions (`None` without `[logs]`).
    log_querier: Option<Arc<dyn RuleQuerier>>,
    patterns: tokio::sync::Mutex<Vec<String>>,
}

impl Rules {
    /// Starts the manager over `collector`'s store with `config`'s
    /// `[rules]` and loads the rule files (none is fine: a reload may add
    /// some); an error naming every problem when a file is invalid (at
    /// start, unlike a reload, there are no previous rules to keep).
    /// `api_url` is the external URL unless `[rules]` sets one. Alerts go
    /// to `local` (steward's own AlertManager) when given, and to
    /// `[[rules.alertmanagers]]` when there are any. `logs` runs the
    /// LogQL rules of `[rules] log_files` (which need it).
    pub async fn start(
        config: &LoadedConfig,
        store: &Store,
        collector: &MetricsCollector,
        logs: Option<&crate::logs::Logs>,
        api_url: &str,
        local: Option<Arc<dyn AlertSink>>,
    ) -> Result<Rules> {
        let rules = &config.config.rules;
        let external_url = rules
            .external_url
            .clone()
            .unwrap_or_else(|| api_url.to_owned());
        let external_labels = external_labels(rules);
        let engine = collector.engine().as_ref().clone();
        let options = ManagerOptions {
            evaluation_interval: rules.evaluation_interval.0,
            external_labels: external_labels.clone(),
            external_url: external_url.clone(),
            resend_delay: rules.resend_delay.0,
            outage_tolerance: rules.outage_tolerance.0,
            for_grace_period: rules.for_grace_period.0,
            engine: engine.options().clone(),
        };
        let sink = match rules.alertmanagers.is_empty() {
            true => None,
            false => Some(Arc::new(
                AlertmanagerSink::start(notifier_options(rules, external_labels))
                    .map_err(|err| Error::Rules(err.to_string()))?,
            )),
        };
        let to: Arc<dyn AlertSink> = match (&sink, local) {
            (Some(sink), Some(local)) => Arc::new(crate::alerts::FanOut(vec![local, sink.clone()])),
            (Some(sink), None) => sink.clone(),
            (None, Some(local)) => local,
            (None, None) => Arc::new(DiscardSink),
        };
        let storage = collector.storage().clone();
        let expander = TemplateExpander::new(storage.clone(), engine, external_url);
        let manager = RuleManager::new(options, storage, Arc::new(expander), to)
            .with_listener(Arc::new(Journal(store.clone())));
        let this = Rules {
            inner: Arc::new(Inner {
                manager: Arc::new(manager),
                sink,
                store: store.clone(),
                log_querier: logs.map(|logs| {
                    Arc::new(LogQlQuerier::new(
                        logs.store().clone(),
                        logs.engine().clone(),
                    )) as Arc<dyn RuleQuerier>
                }),
                patterns: tokio::sync::Mutex::new(rules.files.clone()),
            }),
        };
        if rules.files.is_empty() && rules.log_files.is_empty() {
            return Ok(this);
        }
        match this.load(Ok(rules), Actor::system()).await {
            Ok(_) => Ok(this),
            Err(ReloadError::Invalid(problems)) => {
                this.stop().await;
                Err(Error::Rules(problems))
            }
            Err(err) => Err(Error::Rules(err.to_string())),
        }
    }

    /// The rule manager (the `/prometheus/api/v1/rules` routes read it).
    pub fn manager(&self) -> &Arc<RuleManager> {
        &self.inner.manager
    }

    /// Loads the rule files of `fresh` (the configuration file as a
    /// reload read it again, or why it could not), journaling the outcome
    /// as `actor`'s; the caller runs it on a task of its own
    /// (`reload.rs`).
    pub(crate) async fn apply(
        &self,
        fresh: Result<&LoadedConfig, &str>,
        actor: Actor,
    ) -> Result<RulesLoaded, ReloadError> {
        let rules = fresh
            .map(|loaded| &loaded.config.rules)
            .map_err(|err| ReloadError::Config(err.to_owned()));
        self.load(rules, actor).await
    }

    /// Loads the files `rules` names, one load at a time, and journals
    /// the outcome.
    async fn load(
        &self,
        rules: Result<&RulesConfig, ReloadError>,
        actor: Actor,
    ) -> Result<RulesLoaded, ReloadError> {
        let mut patterns = self.inner.patterns.lock().await;
        let loaded = match rules {
            Ok(rules) => match self.rule_files(rules) {
                Ok(sets) => match self.inner.manager.update_all(&sets).await {
                    Ok(()) => Ok((rules, sets)),
                    Err(steward_rules::Error::Invalid { errors }) => {
                        Err(ReloadError::Invalid(errors.join("\n")))
                    }
                    Err(err) => Err(ReloadError::Invalid(err.to_string())),
                },
                Err(err) => Err(ReloadError::Invalid(err)),
            },
            Err(err) => Err(err),
        };
        let event = match &loaded {
            Ok((rules, sets)) => {
                *patterns = rules.files.clone();
                let outcome = self.outcome(sets).await;
                NewEvent::new(
                    RulesEvent::Reloaded.kind(),
                    actor,
                    format!(
                        "loaded {} rule groups ({} rules) from {} files",
                        outcome.groups,
                        outcome.rules,
                        outcome.rule_files.len() + outcome.log_rule_files.len()
                    ),
                )
                .payload(json!(outcome))
            }
            Err(err) => NewEvent::new(
                RulesEvent::ReloadFailed.kind(),
                actor,
                "reloading the rules failed; the previous rules run on",
            )
            .severity(Severity::Error)
            .payload(json!({"error": bounded(&err.to_string(), 16 * MAX_JOURNALED)})),
        };
        if let Err(err) = self.inner.store.append(event).await {
            tracing::warn!(error = %err, "cannot journal a rules reload");
        }
        match loaded {
            Ok((_, sets)) => Ok(self.outcome(&sets).await),
            Err(err) => Err(err),
        }
    }

    /// The PromQL files and the LogQL files `rules` names now; LogQL
    /// files without `[logs]` are an error.
    fn rule_files(&self, rules: &RulesConfig) -> std::result::Result<Vec<RuleFiles>, String> {
        let mut sets = vec![RuleFiles {
            files: rules.rule_files()?,
            querier: None,
        }];
        let log_files = rules.log_rule_files()?;
        if !rules.log_files.is_empty() {
            let Some(querier) = &self.inner.log_querier else {
                return Err(
                    "[rules] log_files needs the log store: set `[logs] enabled = true` or remove `[rules] log_files`".into(),
                );
            };
            sets.push(RuleFiles {
                files: log_files,
                querier: Some(querier.clone()),
            });
        }
        Ok(sets)
    }

    async fn outcome(&self, sets: &[RuleFiles]) -> RulesLoaded {
        let groups = self.inner.manager.groups().await;
        let names = |files: Option<&RuleFiles>| -> Vec<String> {
            files
                .map(|set| set.files.iter().map(|f| f.display().to_string()).collect())
                .unwrap_or_default()
        };
        RulesLoaded {
            rule_files: names(sets.first()),
            log_rule_files: names(sets.get(1)),
            groups: groups.len(),
            rules: groups.iter().map(|g| g.rules.len()).sum(),
        }
    }

    /// The engine's and the notifier's metrics, in the text format.
    pub fn render_metrics(&self) -> String {
        let mut out = self.inner.manager.render_metrics();
        if let Some(sink) = &self.inner.sink {
            out.push_str(&sink.render_metrics());
        }
        out
    }

    /// Stops evaluating, then stops the notifier (alerts still queued are
    /// dropped, as Prometheus' notifier drops them at shutdown).
    pub async fn stop(&self) {
        self.inner.manager.stop().await;
        if let Some(sink) = &self.inner.sink {
            sink.stop();
        }
    }
}

/// `[rules] external_labels`, added to every alert sent.
pub fn external_labels(rules: &RulesConfig) -> Labels {
    Labels::from_pairs(
        rules
            .external_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    )
}

/// `[[rules.alertmanagers]]` as the notifier takes them.
fn notifier_options(rules: &RulesConfig, external_labels: Labels) -> NotifierOptions {
    NotifierOptions {
        alertmanagers: rules
            .alertmanagers
            .iter()
            .map(|am| AlertmanagerConfig {
                urls: am.urls(),
                timeout: am.timeout.0,
                auth: match (&am.basic_auth, &am.bearer_token) {
                    (Some(basic), _) => Some(AlertmanagerAuth::Basic {
                        username: basic.username.clone(),
                        password: basic
                            .password
                            .as_ref()
                            .map(|p| p.expose().clone())
                            .unwrap_or_default(),
                    }),
                    (None, Some(token)) => Some(AlertmanagerAuth::Bearer(token.expose().clone())),
                    (None, None) => None,
                },
            })
            .collect(),
        external_labels,
        ..NotifierOptions::default()
    }
}

/// Journals alert state changes.
struct Journal(Store);

#[async_trait::async_trait]
impl AlertListener for Journal {
    async fn transitions(&self, changes: Vec<AlertTransition>) {
        for change in changes {
            if let Err(err) = self.0.append(alert_event(&change)).await {
                tracing::warn!(error = %err, alert = %change.rule, "cannot journal an alert state change");
            }
        }
    }
}

/// The journal event of one alert state change.
fn alert_event(change: &AlertTransition) -> NewEvent {
    let kind = AlertEvent::entering(change.to);
    let series: Vec<String> = change
        .labels
        .iter()
        .filter(|l| l.name != "alertname")
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    let verb = match (change.from, change.to) {
        (_, AlertState::Pending) => "pending",
        (_, AlertState::Firing) => "firing",
        (AlertState::Pending, AlertState::Inactive) => "gone before firing",
        (_, AlertState::Inactive) => "resolved",
    };
    let summary = format!(
        "alert {}{{{}}} {verb} (value {})",
        change.rule,
        series.join(", "),
        change.value
    );
    let severity = match (change.to, change.labels.get("severity")) {
        (AlertState::Firing, Some("critical" | "page")) => Severity::Critical,
        (AlertState::Firing, _) => Severity::Warning,
        _ => Severity::Info,
    };
    let map = |labels: &Labels| -> serde_json::Map<String, serde_json::Value> {
        labels
            .iter()
            .map(|l| (l.name.clone(), json!(bounded(&l.value, MAX_JOURNALED))))
            .collect()
    };
    let mut event = NewEvent::new(
        kind.kind(),
        Actor::system(),
        bounded(&summary, MAX_JOURNALED),
    )
    .severity(severity)
    .payload(json!({
        "rule": change.rule,
        "group": change.group,
        "labels": map(&change.labels),
        "annotations": map(&change.annotations),
        "from": change.from.as_str(),
        "to": change.to.as_str(),
        "value": change.value.is_finite().then_some(change.value),
        "at_ms": change.at_ms,
        "active_at_ms": change.active_at_ms,
    }));
    if let Some(service) = change.labels.get("service").and_then(|s| Name::new(s).ok()) {
        event = event.service(service);
    }
    event
}

#[cfg(test)]
mod tests;

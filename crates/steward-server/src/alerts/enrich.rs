//! Enrichment of notifications from what steward knows ([`StewardEnricher`]):
//! for an alert of a `service`, the version it runs (the deployment
//! records), the changes on it and on the services it depends on within
//! the lookback (the journal) and the other alerts firing now on them
//! (the AlertManager's own); for an alert whose generator URL carries its
//! expression (`g0.expr`, as Prometheus and steward's rules write it), that
//! expression's value now for the alert's series, evaluated as
//! `/prometheus/api/v1/query` evaluates it, within [`VALUE_BUDGET`].
//!
//! A notification's alerts are enriched together: each source is asked
//! once per notification (the firing alerts once, each expression once,
//! each service's changes once), not once per alert. A source that fails
//! or is too slow leaves its part empty; enrichment never holds a
//! notification back longer than the budget.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, OnceLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use steward_alert::{
    alert::Alert,
    enrich::{self, Change, Enricher, Enrichment, ExprResult},
    manager::{SERVICE_LABEL, WeakAlertManager},
    notify::NotifiedAlert,
};
use steward_config::LoadedConfig;
use steward_metrics::{MetricsCollector, promql::Value};
use steward_store::Store;

/// How far back the changes an alert is enriched with go.
pub(crate) const ENRICH_LOOKBACK: Duration = Duration::from_secs(3600);

/// The longest a notification waits for its expressions' values: past it
/// the values are left out (a slow query never delays an alert much).
pub(crate) const VALUE_BUDGET: Duration = Duration::from_secs(2);

/// The journal domains whose events are changes (what a responder asks
/// about first: "what changed?").
const CHANGE_KINDS: [&str; 3] = ["deploy", "migration", "perf"];

/// How many services' changes are looked up at once for a notification:
/// each takes one of the store's connections per kind of change, and the
/// deployment records one more, which leaves some of SQLite's eight for
/// everything else.
const CONCURRENT_SERVICES: usize = 2;

/// Enriches alerts from the journal, the deployment records, the
/// AlertManager's alerts and the metrics (see the module docs).
pub(crate) struct StewardEnricher {
    pub(crate) store: Store,
    /// The configuration (which services a service depends on).
    pub(crate) config: Arc<LoadedConfig>,
    pub(crate) lookback: Duration,
    /// The AlertManager, once started (a weak handle: it holds this
    /// enricher through its receivers).
    pub(crate) manager: Arc<OnceLock<WeakAlertManager>>,
    /// Where expressions are evaluated; none without `[metrics]`.
    pub(crate) metrics: Option<MetricsCollector>,
    /// How long evaluating a notification's expressions may take.
    pub(crate) budget: Duration,
    /// The log store, to show the service's lines before the alert fired.
    pub(crate) logs: Option<steward_logs::api::LokiApi>,
    /// steward's API URL, for the link to an alert's logs.
    pub(crate) api_url: String,
}

impl StewardEnricher {
    /// `service` and the services it depends on.
    fn services(&self, service: &str) -> Vec<String> {
        let mut services = vec![service.to_owned()];
        if let Some(spec) = self.config.config.service(service) {
            services.extend(spec.depends_on.iter().map(|d| d.as_str().to_owned()));
        }
        services
    }

    /// The changes on `service` within the lookback before `now` (one
    /// journal query per kind of change, run together).
    async fn changes(&self, service: &str, now: DateTime<Utc>) -> Vec<Change> {
        let since = now - chrono::Duration::from_std(self.lookback).unwrap_or_default();
        let queries = CHANGE_KINDS.map(|kind| {
            let query = steward_store::EventQuery {
                since: Some(since),
                until: Some(now),
                kind: Some(kind.to_owned()),
                service: Some(service.to_owned()),
                limit: Some(enrich::MAX_LISTED as u32),
                ..steward_store::EventQuery::default()
            };
            async move { self.store.events(&query).await }
        });
        let mut out = Vec::new();
        for found in futures::future::join_all(queries).await {
            match found {
                Ok(page) => out.extend(page.events.into_iter().map(|e| Change {
                    at: e.time,
                    kind: e.kind.to_string(),
                    service: e.service.map(|n| n.as_str().to_owned()),
                    summary: e.summary,
                })),
                Err(err) => tracing::debug!(error = %err, "enrichment: journal unavailable"),
            }
        }
        out
    }

    /// Each service's changes; a few services at a time, so that one
    /// notification does not take every connection of the store's pool.
    async fn changes_of<'a>(
        &self,
        services: &'a BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> HashMap<&'a str, Vec<Change>> {
        // the futures are made before the stream (a closure mapping the
        // stream would leave the future not provably `Send`)
        let lookups: Vec<_> = services
            .iter()
            .map(|service| async move { (service.as_str(), self.changes(service, now).await) })
            .collect();
        futures::stream::iter(lookups)
            .buffer_unordered(CONCURRENT_SERVICES)
            .collect()
            .await
    }

    /// The version each service runs, from the deployment records.
    async fn versions(&self) -> HashMap<String, String> {
        match steward_deploy::DeployStore::current(&self.store).await {
            Ok(specs) => specs
                .into_iter()
                .map(|s| (s.name.as_str().to_owned(), s.version.to_string()))
                .collect(),
            Err(err) => {
                tracing::debug!(error = %err, "enrichment: no deployment records");
                HashMap::new()
            }
        }
    }

    /// The alerts firing now on any of `services`.
    async fn firing(&self, services: &BTreeSet<String>) -> Vec<Alert> {
        let Some(manager) = self.manager.get().and_then(WeakAlertManager::upgrade) else {
            return Vec::new();
        };
        match manager.firing_on(services).await {
            Ok(alerts) => alerts,
            Err(err) => {
                tracing::debug!(error = %err, "enrichment: the firing alerts are unavailable");
                Vec::new()
            }
        }
    }

    /// Each expression's result now, for those evaluated within the
    /// budget (`crate::evaluate`).
    async fn values(
        &self,
        exprs: BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> HashMap<String, ExprResult> {
        let Some(metrics) = &self.metrics else {
            return HashMap::new();
        };
        crate::evaluate::instant_values(metrics, exprs, now.timestamp_millis(), self.budget)
            .await
            .into_iter()
            .filter_map(|(expr, value)| expr_result(value).map(|v| (expr, v)))
            .collect()
    }
}

/// A query's value as enrichment reads it (an instant vector or a scalar).
fn expr_result(value: Value) -> Option<ExprResult> {
    match value {
        Value::Scalar { v, .. } => Some(ExprResult::Scalar(v)),
        Value::Vector(samples) => Some(ExprResult::Vector(
            samples
                .into_iter()
                .map(|s| {
                    let labels = s
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect();
                    (labels, s.v)
                })
                .collect(),
        )),
        Value::String { .. } | Value::Matrix(_) => None,
    }
}

impl StewardEnricher {
    /// For each alert on a service, the last [`LOG_LINES`] lines of the
    /// service (of its replica when the alert names one) in the
    /// [`LOG_WINDOW`] before the alert started, and the link to query
    /// them, by fingerprint; within the budget.
    async fn logs_before(
        &self,
        alerts: &[NotifiedAlert],
    ) -> HashMap<String, (Vec<String>, String)> {
        let Some(api) = &self.logs else {
            return HashMap::new();
        };
        let wanted: Vec<(String, String, i64)> = alerts
            .iter()
            .filter_map(|alert| {
                let service = alert.labels.get(SERVICE_LABEL)?;
                let mut query = format!(
                    "{{service={}}}",
                    steward_logs::logql::string_literal(service)
                );
                if let Some(replica) = alert.labels.get("replica") {
                    query.insert_str(
                        query.len() - 1,
                        &format!(", replica={}", steward_logs::logql::string_literal(replica)),
                    );
                }
                let at = alert.starts_at.timestamp_nanos_opt()?;
                Some((alert.fingerprint.clone(), query, at))
            })
            .collect();
        if wanted.is_empty() {
            return HashMap::new();
        }
        let (api, base) = (api.clone(), self.api_url.clone());
        let read = tokio::task::spawn_blocking(move || {
            let mut out = HashMap::new();
            for (fingerprint, query, at) in wanted {
                let start = at.saturating_sub(LOG_WINDOW_NS);
                let Ok(lines) = api.lines(&query, start, at.saturating_add(1), LOG_LINES) else {
                    continue;
                };
                let link = format!(
                    "{base}/loki/api/v1/query_range?query={}&start={start}&end={}&direction=forward",
                    url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>(),
                    at.saturating_add(1)
                );
                if !lines.is_empty() {
                    out.insert(fingerprint, (lines, link));
                }
            }
            out
        });
        match tokio::time::timeout(self.budget, read).await {
            Ok(Ok(found)) => found,
            _ => HashMap::new(),
        }
    }
}

/// Lines shown with an alert, at most.
const LOG_LINES: usize = 20;
/// How far before an alert started its lines are looked for.
const LOG_WINDOW_NS: i64 = 60_000_000_000;

#[async_trait::async_trait]
impl Enricher for StewardEnricher {
    async fn enrich(&self, alert: &NotifiedAlert, now: DateTime<Utc>) -> Enrichment {
        self.enrich_all(std::slice::from_ref(alert), now)
            .await
            .pop()
            .unwrap_or_default()
    }

    async fn enrich_all(&self, alerts: &[NotifiedAlert], now: DateTime<Utc>) -> Vec<Enrichment> {
        // each alert's services, and every service any of them concerns
        let services: Vec<Option<Vec<String>>> = alerts
            .iter()
            .map(|a| a.labels.get(SERVICE_LABEL).map(|s| self.services(s)))
            .collect();
        let concerned: BTreeSet<String> = services.iter().flatten().flatten().cloned().collect();
        let exprs: Vec<Option<String>> = alerts
            .iter()
            .map(|a| enrich::generator_expr(&a.generator_url))
            .collect();
        let exprs_wanted = exprs.iter().flatten().cloned().collect();
        if concerned.is_empty() {
            let values = self.values(exprs_wanted, now).await;
            return exprs
                .iter()
                .zip(alerts)
                .map(|(expr, alert)| Enrichment {
                    value: value_of(expr.as_deref(), alert, &values),
                    ..Enrichment::default()
                })
                .collect();
        }
        // the sources are independent: a notification waits for the
        // slowest, not for their sum
        let (values, versions, changes, firing, mut logs) = tokio::join!(
            self.values(exprs_wanted, now),
            self.versions(),
            self.changes_of(&concerned, now),
            self.firing(&concerned),
            self.logs_before(alerts),
        );
        alerts
            .iter()
            .zip(services)
            .zip(&exprs)
            .map(|((alert, services), expr)| {
                let mut out = Enrichment {
                    value: value_of(expr.as_deref(), alert, &values),
                    ..Enrichment::default()
                };
                let Some(services) = services else {
                    return out;
                };
                out.version = versions.get(&services[0]).cloned();
                out.changes = services
                    .iter()
                    .filter_map(|s| changes.get(s.as_str()))
                    .flatten()
                    .cloned()
                    .collect();
                out.changes.sort_by_key(|c| std::cmp::Reverse(c.at));
                out.related = enrich::related(alert, &services, &firing);
                if let Some((lines, link)) = logs.remove(&alert.fingerprint) {
                    out.logs = lines;
                    out.links.push(("steward_logs_url".to_owned(), link));
                }
                out
            })
            .collect()
    }
}

/// The alert's value among its expression's results, if it was evaluated.
fn value_of(
    expr: Option<&str>,
    alert: &NotifiedAlert,
    values: &HashMap<String, ExprResult>,
) -> Option<f64> {
    enrich::series_value(&alert.labels, values.get(expr?)?)
}

#[cfg(test)]
mod tests;

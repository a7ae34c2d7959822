//! Enrichment (the specification's `enrich_alert`): before a
//! notification goes out, each alert gains what a responder asks first:
//! the service's running version, what changed on it and on its
//! dependencies shortly before (deployments, migrations, configuration),
//! the other alerts firing now, the expression's current value, and links
//! (runbook, dashboard). Steward knows these from its journal, its
//! deployments and its metrics; the server implements [`Enricher`] over
//! them, and the receivers add what it finds as `steward_*` annotations
//! (never replacing an annotation the alert already has).
//!
//! What does not depend on steward's sources is here: which firing alerts
//! are related to an alert ([`related`]), which expression generated it
//! ([`generator_expr`], from Prometheus' `g0.expr` link) and which of that
//! expression's series is the alert's ([`series_value`]).

use chrono::{DateTime, SecondsFormat, Utc};

use crate::LabelSet;
use crate::alert::{Alert, label_set_string};
use crate::notify::NotifiedAlert;

/// The longest list of changes or related alerts written into an
/// annotation: a notification stays readable, the journal has the rest.
pub const MAX_LISTED: usize = 10;

/// One change shortly before the alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The journal event's kind (`deploy.succeeded`, `migration.applied`...).
    pub kind: String,
    /// The service it touched.
    pub service: Option<String>,
    /// The journal's one-line summary.
    pub summary: String,
}

/// Another alert firing at the same time, on the alert's service or one
/// it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedAlert {
    /// Its labels.
    pub labels: LabelSet,
    /// When it started firing.
    pub starts_at: DateTime<Utc>,
}

impl RelatedAlert {
    /// `Name{label="value", ...} since <time>`: its name, its other labels
    /// as Prometheus prints a label set, and its start.
    pub fn line(&self) -> String {
        let mut rest = self.labels.clone();
        let name = rest.remove("alertname").unwrap_or_default();
        format!(
            "{name}{} since {}",
            label_set_string(&rest),
            self.starts_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// What is known about an alert's context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Enrichment {
    /// The version the alert's service runs now.
    pub version: Option<String>,
    /// Changes on the service and its dependencies within the lookback,
    /// newest first.
    pub changes: Vec<Change>,
    /// The other alerts firing now on the service and its dependencies,
    /// all of them ([`related`]'s order); the annotation lists
    /// [`MAX_LISTED`] and counts the rest.
    pub related: Vec<RelatedAlert>,
    /// The alert's expression evaluated now, for the alert's series.
    pub value: Option<f64>,
    /// Links by name (`runbook_url`, `dashboard_url`, `steward_logs_url`).
    pub links: Vec<(String, String)>,
    /// The last log lines of the alert's service (its replica's, when the
    /// alert names one) in the minute before the alert started, oldest
    /// first, each already rendered (`time replica stream line`).
    pub logs: Vec<String>,
}

impl Enrichment {
    /// The annotations it adds: `steward_version`, `steward_changes` (one
    /// change a line: time, kind, service, summary), `steward_related`
    /// (one alert a line, [`RelatedAlert::line`], then `and N more` past
    /// [`MAX_LISTED`]), `steward_value` (as Prometheus prints a sample
    /// value), `steward_logs` (one log line a line), and each link under
    /// its own name.
    pub fn annotations(&self) -> LabelSet {
        let mut out = LabelSet::new();
        if let Some(version) = &self.version {
            out.insert("steward_version".into(), version.clone());
        }
        if !self.changes.is_empty() {
            let lines: Vec<String> = self
                .changes
                .iter()
                .take(MAX_LISTED)
                .map(|c| {
                    format!(
                        "{} {} {}{}",
                        c.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                        c.kind,
                        c.service
                            .as_deref()
                            .map(|s| format!("{s}: "))
                            .unwrap_or_default(),
                        c.summary
                    )
                })
                .collect();
            out.insert("steward_changes".into(), lines.join("\n"));
        }
        if !self.related.is_empty() {
            let mut lines: Vec<String> = self
                .related
                .iter()
                .take(MAX_LISTED)
                .map(RelatedAlert::line)
                .collect();
            if self.related.len() > MAX_LISTED {
                lines.push(format!("and {} more", self.related.len() - MAX_LISTED));
            }
            out.insert("steward_related".into(), lines.join("\n"));
        }
        if let Some(v) = self.value {
            out.insert("steward_value".into(), sample_value(v));
        }
        if !self.logs.is_empty() {
            out.insert("steward_logs".into(), self.logs.join("\n"));
        }
        for (name, url) in &self.links {
            out.insert(name.clone(), url.clone());
        }
        out
    }

    /// Adds its annotations to `alert`'s, keeping those it already has.
    pub fn apply(&self, alert: &mut NotifiedAlert) {
        for (name, value) in self.annotations() {
            alert.annotations.entry(name).or_insert(value);
        }
    }
}

/// A sample value as Prometheus prints it (`+Inf`, `-Inf`, `NaN`, the
/// shortest decimal otherwise).
fn sample_value(v: f64) -> String {
    match v {
        f64::INFINITY => "+Inf".into(),
        f64::NEG_INFINITY => "-Inf".into(),
        v if v.is_nan() => "NaN".into(),
        v => format!("{v}"),
    }
}

/// The other alerts of `firing` (the alerts firing now) whose `service`
/// label is one of `services` (the alert's own service, then those it
/// depends on): each once, never the alert itself, those firing longest
/// first (the likeliest cause first), then by labels.
pub fn related(alert: &NotifiedAlert, services: &[String], firing: &[Alert]) -> Vec<RelatedAlert> {
    let mut found: Vec<RelatedAlert> = firing
        .iter()
        .filter(|a| a.labels != alert.labels)
        .filter(|a| {
            a.labels
                .get(crate::manager::SERVICE_LABEL)
                .is_some_and(|s| services.iter().any(|wanted| wanted == s))
        })
        .map(|a| RelatedAlert {
            labels: a.labels.clone(),
            starts_at: a.starts_at,
        })
        .collect();
    found.sort_by(|a, b| {
        a.starts_at
            .cmp(&b.starts_at)
            .then_with(|| a.labels.cmp(&b.labels))
    });
    found.dedup_by(|a, b| a.labels == b.labels);
    found
}

/// The expression of a generator URL in Prometheus' form
/// (`<external URL>/graph?g0.expr=<expr>&g0.tab=1`, which Prometheus and
/// steward's rules both send), decoded; `None` for any other link.
pub fn generator_expr(generator_url: &str) -> Option<String> {
    let (_, query) = generator_url.split_once('?')?;
    let query = query.split('#').next().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "g0.expr")
        .map(|(_, expr)| expr.trim().to_owned())
        .filter(|expr| !expr.is_empty())
}

/// The value of the alert's series among an expression's result: a
/// scalar result (`series` is `None`) is every alert's value; otherwise
/// the series whose labels, but for `__name__` (which alerts drop), are
/// all among the alert's, the most specific one when several are (an
/// aggregate's `{}` is everyone's). `None` when no series is the alert's:
/// its condition no longer holds, or a rule's label replaced one of the
/// series'.
pub fn series_value(alert: &LabelSet, result: &ExprResult) -> Option<f64> {
    let series = match result {
        ExprResult::Scalar(v) => return Some(*v),
        ExprResult::Vector(series) => series,
    };
    series
        .iter()
        .filter(|(labels, _)| {
            labels
                .iter()
                .filter(|(name, _)| name.as_str() != "__name__")
                .all(|(name, value)| alert.get(name) == Some(value))
        })
        .max_by_key(|(labels, _)| labels.keys().filter(|n| n.as_str() != "__name__").count())
        .map(|(_, v)| *v)
}

/// An expression's value now, as [`series_value`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprResult {
    /// A scalar.
    Scalar(f64),
    /// An instant vector: each series' labels and value.
    Vector(Vec<(LabelSet, f64)>),
}

/// Finds an alert's context (the server's implementation reads the
/// journal, the deployments, the AlertManager's alerts and the metrics).
#[async_trait::async_trait]
pub trait Enricher: Send + Sync + 'static {
    /// The context of `alert`, as of `now`. Failing sources leave their
    /// part empty: enrichment never holds a notification back.
    async fn enrich(&self, alert: &NotifiedAlert, now: DateTime<Utc>) -> Enrichment;

    /// The context of each alert of one notification, in order. The
    /// default asks [`Enricher::enrich`] for one after another; an
    /// enricher whose sources answer for many alerts at once (the alerts
    /// firing now, an expression shared by a rule's alerts) overrides it
    /// to ask each once per notification.
    async fn enrich_all(&self, alerts: &[NotifiedAlert], now: DateTime<Utc>) -> Vec<Enrichment> {
        let mut out = Vec::with_capacity(alerts.len());
        for alert in alerts {
            out.push(self.enrich(alert, now).await);
        }
        out
    }
}

#[cfg(test)]
mod tests;

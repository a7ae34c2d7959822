//! Enrichment (the specification's `enrich_alert`): before a
//! notification goes out, each alert gains what a responder asks first:
//! the service's running version, what changed on it and on its
//! dependencies shortly before (deployments, migrations, configuration),
//! the other alerts firing now, the expression's current value, and links
//! (runbook, dashboard). Steward knows these from its journal, its
//! deployments and its metrics; the server implements [`Enricher`] over
//! them, and the receivers add what it finds as `steward_*` annotations
//! (never replacing an annotation the alert already has).

use chrono::{DateTime, SecondsFormat, Utc};

use crate::LabelSet;
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

/// What is known about an alert's context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Enrichment {
    /// The version the alert's service runs now.
    pub version: Option<String>,
    /// Changes on the service and its dependencies within the lookback,
    /// newest first.
    pub changes: Vec<Change>,
    /// Other alerts firing now (their `alertname{labels}`).
    pub related: Vec<String>,
    /// The alert's expression evaluated now.
    pub value: Option<f64>,
    /// Links by name (`runbook_url`, `dashboard_url`).
    pub links: Vec<(String, String)>,
}

impl Enrichment {
    /// The annotations it adds: `steward_version`, `steward_changes` (one
    /// change a line: time, kind, service, summary), `steward_related`,
    /// `steward_value`, and each link under its own name.
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
            let related: Vec<&str> = self
                .related
                .iter()
                .take(MAX_LISTED)
                .map(String::as_str)
                .collect();
            out.insert("steward_related".into(), related.join(", "));
        }
        if let Some(v) = self.value {
            out.insert("steward_value".into(), format!("{v}"));
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

/// Finds an alert's context (the server's implementation reads the
/// journal, the deployments and the metrics).
#[async_trait::async_trait]
pub trait Enricher: Send + Sync + 'static {
    /// The context of `alert`, as of `now`. Failing sources leave their
    /// part empty: enrichment never holds a notification back.
    async fn enrich(&self, alert: &NotifiedAlert, now: DateTime<Utc>) -> Enrichment;
}

#[cfg(test)]
mod tests;

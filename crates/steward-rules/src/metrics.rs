//! The rule engine's own metrics, named as Prometheus names them, in the
//! text exposition format.
//!
//! Prometheus' two duration summaries carry quantiles; here they are
//! summaries with `_sum` and `_count` only (a valid summary without
//! quantiles), which is what rates and averages need.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use steward_metrics::Labels;
use steward_metrics::exposition::{FamilySample, MetricFamily, MetricType, write_text};

/// The counters and gauges of one group (`rule_group="file;name"`).
#[derive(Debug, Clone, Default)]
struct GroupMetrics {
    interval_seconds: f64,
    rules: usize,
    evaluations: u64,
    failures: u64,
    iterations: u64,
    missed: u64,
    last_eval_seconds: f64,
    last_duration_seconds: f64,
    last_samples: usize,
}

#[derive(Debug, Default)]
struct Inner {
    groups: BTreeMap<String, GroupMetrics>,
    rule_duration: (f64, u64),
    group_duration: (f64, u64),
}

/// The rule engine's metrics, shared by its groups.
#[derive(Debug, Default)]
pub struct RuleMetrics {
    inner: Mutex<Inner>,
}

impl RuleMetrics {
    /// Registers (or updates) a group's static gauges.
    pub(crate) fn group_loaded(&self, key: &str, interval_ms: i64, rules: usize) {
        let mut inner = self.inner.lock();
        let g = inner.groups.entry(key.to_owned()).or_default();
        g.interval_seconds = interval_ms as f64 / 1000.0;
        g.rules = rules;
    }

    /// Forgets a removed group.
    pub(crate) fn group_removed(&self, key: &str) {
        self.inner.lock().groups.remove(key);
    }

    pub(crate) fn rule_evaluated(&self, key: &str, failed: bool) {
        let mut inner = self.inner.lock();
        let g = inner.groups.entry(key.to_owned()).or_default();
        g.evaluations += 1;
        if failed {
            g.failures += 1;
        }
    }

    /// Counts a failure found after the evaluation (appending its output).
    pub(crate) fn rule_failed(&self, key: &str) {
        self.inner
            .lock()
            .groups
            .entry(key.to_owned())
            .or_default()
            .failures += 1;
    }

    pub(crate) fn observe_rule_duration(&self, d: Duration) {
        let mut inner = self.inner.lock();
        inner.rule_duration.0 += d.as_secs_f64();
        inner.rule_duration.1 += 1;
    }

    pub(crate) fn group_evaluated(&self, key: &str, ts_ms: i64, d: Duration, samples: usize) {
        let mut inner = self.inner.lock();
        inner.group_duration.0 += d.as_secs_f64();
        inner.group_duration.1 += 1;
        let g = inner.groups.entry(key.to_owned()).or_default();
        g.last_eval_seconds = ts_ms as f64 / 1000.0;
        g.last_duration_seconds = d.as_secs_f64();
        g.last_samples = samples;
    }

    /// Counts scheduled iterations, `missed` of which were skipped because
    /// an evaluation ran late.
    pub(crate) fn iterations(&self, key: &str, scheduled: u64, missed: u64) {
        let mut inner = self.inner.lock();
        let g = inner.groups.entry(key.to_owned()).or_default();
        g.iterations += scheduled;
        g.missed += missed;
    }

    /// The metrics in the text format 0.0.4.
    pub fn render(&self) -> String {
        let inner = self.inner.lock();
        let per_group =
            |name: &str, help: &str, kind: MetricType, f: &dyn Fn(&GroupMetrics) -> f64| {
                MetricFamily {
                    name: name.to_owned(),
                    help: Some(help.to_owned()),
                    kind,
                    samples: inner
                        .groups
                        .iter()
                        .map(|(k, g)| FamilySample {
                            labels: Labels::from_pairs([("rule_group", k.as_str())]),
                            value: f(g),
                            timestamp: None,
                        })
                        .collect(),
                }
            };
        let summary = |name: &str, help: &str, (sum, count): (f64, u64)| MetricFamily {
            name: name.to_owned(),
            help: Some(help.to_owned()),
            kind: MetricType::Summary,
            samples: vec![
                FamilySample {
                    labels: Labels::from_pairs([("__name__", format!("{name}_sum"))]),
                    value: sum,
                    timestamp: None,
                },
                FamilySample {
                    labels: Labels::from_pairs([("__name__", format!("{name}_count"))]),
                    value: count as f64,
                    timestamp: None,
                },
            ],
        };
        let families = vec![
            summary(
                "prometheus_rule_evaluation_duration_seconds",
                "The duration for a rule to execute.",
                inner.rule_duration,
            ),
            per_group(
                "prometheus_rule_evaluation_failures_total",
                "The total number of rule evaluation failures.",
                MetricType::Counter,
                &|g| g.failures as f64,
            ),
            per_group(
                "prometheus_rule_evaluations_total",
                "The total number of rule evaluations.",
                MetricType::Counter,
                &|g| g.evaluations as f64,
            ),
            summary(
                "prometheus_rule_group_duration_seconds",
                "The duration of rule group evaluations.",
                inner.group_duration,
            ),
            per_group(
                "prometheus_rule_group_interval_seconds",
                "The interval of a rule group.",
                MetricType::Gauge,
                &|g| g.interval_seconds,
            ),
            per_group(
                "prometheus_rule_group_iterations_missed_total",
                "The total number of rule group evaluations missed due to slow rule group evaluation.",
                MetricType::Counter,
                &|g| g.missed as f64,
            ),
            per_group(
                "prometheus_rule_group_iterations_total",
                "The total number of scheduled rule group evaluations, whether executed or missed.",
                MetricType::Counter,
                &|g| g.iterations as f64,
            ),
            per_group(
                "prometheus_rule_group_last_duration_seconds",
                "The duration of the last rule group evaluation.",
                MetricType::Gauge,
                &|g| g.last_duration_seconds,
            ),
            per_group(
                "prometheus_rule_group_last_evaluation_samples",
                "The number of samples returned during the last rule group evaluation.",
                MetricType::Gauge,
                &|g| g.last_samples as f64,
            ),
            per_group(
                "prometheus_rule_group_last_evaluation_timestamp_seconds",
                "The timestamp of the last rule group evaluation in seconds.",
                MetricType::Gauge,
                &|g| g.last_eval_seconds,
            ),
            per_group(
                "prometheus_rule_group_rules",
                "The number of rules.",
                MetricType::Gauge,
                &|g| g.rules as f64,
            ),
        ];
        let mut out = String::new();
        // names and labels are fixed and valid: encoding cannot fail
        if let Err(e) = write_text(&mut out, &families) {
            tracing::error!(error = %e, "encoding rule metrics failed");
        }
        out
    }
}

//! Metric gates: checks of a new version against its metrics, run by
//! `verify_health`. Gates added to the manager ([`MetricGate`]) are
//! checked once after the verify window and the smoke checks; the PromQL
//! gates a service configures (`[[services.rollout.gate]]`,
//! [`PromqlGate`]) are evaluated every interval through the verify
//! window. A failing gate rolls the deployment back like a failing
//! health check.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use steward_config::{GateCompare, GateConfig, GateMode, render_query};
use steward_core::Version;

use crate::{
    metrics::{MetricSource, one_value, show},
    model::ServiceSpec,
};

/// One gate over a service's metrics.
#[async_trait]
pub trait MetricGate: Send + Sync + 'static {
    /// A short name for messages, e.g. `error-rate < 1%`.
    fn name(&self) -> String;

    /// Checks `spec`'s service as it ran since `since` (the start of its
    /// update); `Err` says what the metrics showed.
    async fn check(&self, spec: &ServiceSpec, since: DateTime<Utc>) -> Result<(), String>;

    /// Checks it and says with which numbers (by default those of
    /// [`MetricGate::check`]: none).
    async fn evaluate(&self, spec: &ServiceSpec, since: DateTime<Utc>) -> GateVerdict {
        let outcome = self.check(spec, since).await;
        GateVerdict {
            gate: self.name(),
            passed: outcome.is_ok(),
            detail: outcome.err().unwrap_or_else(|| "passed".to_owned()),
            values: Vec::new(),
            previous: None,
        }
    }
}

/// The outcome of one evaluation of a gate, journaled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateVerdict {
    /// The gate.
    pub gate: String,
    /// Whether it passed.
    pub passed: bool,
    /// What it found, naming the expression and its value.
    pub detail: String,
    /// The values of the result (the new version's).
    pub values: Vec<f64>,
    /// With `compare = "previous"`: the previous version's value.
    pub previous: Option<f64>,
}

/// A configured PromQL gate of one deployment (which knows the version
/// it replaces, for `$previous_version` and `compare = "previous"`).
pub struct PromqlGate {
    config: GateConfig,
    previous: Option<Version>,
    source: Arc<dyn MetricSource>,
}

impl PromqlGate {
    /// The gate `config`, comparing with `previous`, reading `source`.
    pub fn new(
        config: GateConfig,
        previous: Option<Version>,
        source: Arc<dyn MetricSource>,
    ) -> Self {
        PromqlGate {
            config,
            previous,
            source,
        }
    }

    fn render(&self, spec: &ServiceSpec, version: &str) -> String {
        render_query(
            &self.config.expr,
            spec.name.as_str(),
            version,
            self.previous.as_ref().map(Version::as_str),
        )
    }

    fn verdict(
        &self,
        passed: bool,
        detail: String,
        values: Vec<f64>,
        previous: Option<f64>,
    ) -> GateVerdict {
        GateVerdict {
            gate: self.config.name.clone(),
            passed,
            detail,
            values,
            previous,
        }
    }
}

fn show_all(values: &[f64]) -> String {
    let shown: Vec<String> = values.iter().map(|value| show(*value)).collect();
    format!("[{}]", shown.join(", "))
}

#[async_trait]
impl MetricGate for PromqlGate {
    fn name(&self) -> String {
        self.config.name.clone()
    }

    async fn check(&self, spec: &ServiceSpec, since: DateTime<Utc>) -> Result<(), String> {
        let verdict = self.evaluate(spec, since).await;
        if verdict.passed {
            Ok(())
        } else {
            Err(verdict.detail)
        }
    }

    async fn evaluate(&self, spec: &ServiceSpec, _since: DateTime<Utc>) -> GateVerdict {
        let expr = self.render(spec, spec.version.as_str());
        let samples = match self.source.query(&expr).await {
            Ok(samples) => samples,
            Err(err) => {
                return self.verdict(
                    false,
                    format!("`{expr}` cannot be evaluated: {err}"),
                    Vec::new(),
                    None,
                );
            }
        };
        let values: Vec<f64> = samples.iter().map(|sample| sample.value).collect();
        if let Some(GateCompare::Previous) = self.config.compare {
            let max_increase = self.config.max_increase.unwrap_or(0.0);
            let Some(previous) = &self.previous else {
                return self.verdict(
                    true,
                    format!("`{expr}` has no previous version to compare with"),
                    values,
                    None,
                );
            };
            let before_expr = self.render(spec, previous.as_str());
            let before = match self.source.query(&before_expr).await {
                Ok(samples) => one_value(&samples),
                Err(err) => {
                    return self.verdict(
                        false,
                        format!("`{before_expr}` cannot be evaluated: {err}"),
                        values,
                        None,
                    );
                }
            };
            let (Some(now), Some(before)) = (one_value(&samples), before) else {
                // Without traffic there is nothing to compare yet.
                return self.verdict(
                    true,
                    format!("`{expr}` or `{before_expr}` has no value yet"),
                    values,
                    before,
                );
            };
            let limit = before * (1.0 + max_increase);
            let passed = now <= limit;
            let detail = format!(
                "`{expr}` = {} against {} for {previous} (at most {} allowed, +{}%)",
                show(now),
                show(before),
                show(limit),
                show(max_increase * 100.0)
            );
            return self.verdict(passed, detail, values, Some(before));
        }
        let (passed, detail) = match self.config.mode {
            GateMode::True if values.is_empty() => (false, format!("`{expr}` returned no sample")),
            GateMode::True => match values.iter().position(|value| *value == 0.0) {
                Some(_) => (
                    false,
                    format!("`{expr}` returned {} (a zero sample)", show_all(&values)),
                ),
                None => (true, format!("`{expr}` returned {}", show_all(&values))),
            },
            GateMode::Empty if values.is_empty() => (true, format!("`{expr}` returned no sample")),
            GateMode::Empty => (
                false,
                format!(
                    "`{expr}` returned {} (expected no sample)",
                    show_all(&values)
                ),
            ),
        };
        self.verdict(passed, detail, values, None)
    }
}

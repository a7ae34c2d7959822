//! The metric side of `[services.rollout]`: PromQL gates checked through
//! the verify window (`[[services.rollout.gate]]`), and the canary
//! strategy's steps and analysis (`steps`, `analysis`, `confidence`,
//! `interval`). Queries may name a version through placeholders
//! ([`render_query`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::HumanDuration;

/// A PromQL check of a new version, evaluated every `interval` through the
/// whole verify window; a failure rolls the deployment back.
///
/// `expr` may use `$version` (the version being deployed),
/// `$previous_version` (the one it replaces) and `$service`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// A short name for messages and the journal.
    pub name: String,
    /// The PromQL expression.
    pub expr: String,
    /// What the result must be: `true` (at least one sample, and every
    /// sample non-zero, as an alerting condition written with `bool`
    /// comparisons, e.g. `error_ratio < bool 0.05`; a filtering comparison
    /// returns its left side, which may be 0) or `empty` (no sample, as
    /// an alert expression that must not fire, e.g. `error_ratio > 0.05`).
    /// Not used with `compare`.
    #[serde(default)]
    pub mode: GateMode,
    /// `previous`: evaluate `expr` once for the new version and once for
    /// the previous one (`$version` rendered as each) and fail when the
    /// new value exceeds the previous one by more than `max_increase`.
    #[serde(default)]
    pub compare: Option<GateCompare>,
    /// With `compare`: the largest relative increase allowed (0.2: up to
    /// 20% above the previous version's value).
    #[serde(default)]
    pub max_increase: Option<f64>,
    /// How often it is evaluated during the verify window (default: the
    /// service's health check interval).
    #[serde(default)]
    pub interval: Option<HumanDuration>,
}

/// What a gate's result must be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateMode {
    /// At least one sample, every one non-zero.
    #[default]
    True,
    /// No sample at all.
    Empty,
}

/// What a gate compares the new version with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateCompare {
    /// The version the deployment replaces.
    Previous,
}

/// One step of a canary rollout: the canary's share of new requests, and
/// how long it keeps it while its metrics are sampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryStep {
    /// Percent of new requests sent to the canary replicas (1 to 100).
    pub weight: u32,
    /// How long the step lasts; the analysis judges it at its end.
    pub pause: HumanDuration,
}

/// A metric compared between the canary and the stable version at every
/// canary step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryMetric {
    /// A short name for messages and the journal.
    pub name: String,
    /// PromQL selecting one version's value through `$version`, e.g. its
    /// error ratio: `sum(rate(tasks_total{outcome="error",version="$version"}[10s]))
    /// / sum(rate(tasks_total{version="$version"}[10s]))`. One value per
    /// evaluation (several series are averaged; none, or NaN, is no
    /// sample).
    pub expr: String,
    /// Which change is bad: `increase` (the default: errors, latency),
    /// `decrease` (throughput, success) or `either`.
    #[serde(default)]
    pub direction: Direction,
    /// A critical metric is judged at every interval once it has enough
    /// samples, and its failure ends the canary at once; the others are
    /// judged at the end of each step.
    #[serde(default)]
    pub critical: bool,
    /// The relative difference of means tolerated even when significant
    /// (0.1: the canary may be 10% worse).
    #[serde(default = "default_allowed_effect")]
    pub allowed_effect: f64,
}

fn default_allowed_effect() -> f64 {
    0.1
}

/// Which change of a canary metric is bad.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher on the canary is bad.
    #[default]
    Increase,
    /// Lower on the canary is bad.
    Decrease,
    /// Any significant difference is bad.
    Either,
}

/// The placeholders a metric query may use.
pub const QUERY_PLACEHOLDERS: [&str; 3] = ["$version", "$previous_version", "$service"];

/// `expr` with `$version`, `$previous_version` and `$service` replaced
/// (`$previous_version` by an empty string when there is none).
pub fn render_query(expr: &str, service: &str, version: &str, previous: Option<&str>) -> String {
    // The longer name first: `$version` is not a prefix of it, but a
    // replacement must never create a placeholder the next one reads.
    expr.replace("$previous_version", previous.unwrap_or_default())
        .replace("$version", version)
        .replace("$service", service)
}

//! `[services.rollout]`: how a deployment replaces a service's replicas
//! (strategy, surge, drain, verify window, smoke checks), and its metric
//! side: PromQL gates checked through
//! the verify window (`[[services.rollout.gate]]`), and the canary
//! strategy's steps and analysis (`steps`, `analysis`, `confidence`,
//! `interval`). Queries may name a version through placeholders
//! ([`render_query`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::HumanDuration;

/// How a deployment replaces a service's replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// `rolling` (replace a few replicas at a time), `blue_green` (start
    /// a whole new set, then switch traffic at once) or `canary` (a few
    /// replicas given a growing share of traffic while their metrics are
    /// compared with the stable version's).
    #[serde(default)]
    pub strategy: Strategy,
    /// Rolling: replicas started above the desired count at a time.
    #[serde(default = "default_max_surge")]
    pub max_surge: u32,
    /// Rolling: replicas that may be out of service at a time.
    #[serde(default)]
    pub max_unavailable: u32,
    /// How long in-flight requests of a replica being removed may take.
    #[serde(default = "default_drain_timeout")]
    pub drain_timeout: HumanDuration,
    /// Time between SIGTERM and SIGKILL when a replica stops.
    #[serde(default = "default_stop_grace")]
    pub stop_grace: HumanDuration,
    /// The longest a service's update may take before it fails.
    #[serde(default = "default_progress_deadline")]
    pub progress_deadline: HumanDuration,
    /// Blue-green: how long the old set keeps running after the switch,
    /// for an instant rollback.
    #[serde(default = "default_keep_old_for")]
    pub keep_old_for: HumanDuration,
    /// After the update, how long every replica must stay healthy.
    #[serde(default = "default_verify_window")]
    pub verify_window: HumanDuration,
    /// Checks run through the proxy after the verify window; any failure
    /// rolls the deployment back.
    #[serde(default)]
    pub smoke: Vec<SmokeCheck>,
    /// PromQL gates evaluated through the verify window
    /// (`[[services.rollout.gate]]`); any failure rolls the deployment back.
    #[serde(default)]
    pub gate: Vec<GateConfig>,
    /// Canary: the steps, each a share of traffic and a pause, e.g.
    /// `[{weight = 10, pause = "30s"}, {weight = 50, pause = "1m"}]`.
    #[serde(default)]
    pub steps: Vec<CanaryStep>,
    /// Canary: replicas of the new version started beside the stable ones.
    #[serde(default = "default_canary_replicas")]
    pub canary_replicas: u32,
    /// Canary: the metrics compared between canary and stable at each step
    /// (Mann-Whitney U test and effect size); any failing one rolls back.
    #[serde(default)]
    pub analysis: Vec<CanaryMetric>,
    /// Canary: the confidence a difference must reach to count (0.95: a
    /// p-value below 0.05).
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Canary: how often the analysis metrics are sampled during a step.
    #[serde(default = "default_canary_interval")]
    pub interval: HumanDuration,
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            strategy: Strategy::default(),
            max_surge: default_max_surge(),
            max_unavailable: 0,
            drain_timeout: default_drain_timeout(),
            stop_grace: default_stop_grace(),
            progress_deadline: default_progress_deadline(),
            keep_old_for: default_keep_old_for(),
            verify_window: default_verify_window(),
            smoke: Vec::new(),
            gate: Vec::new(),
            steps: Vec::new(),
            canary_replicas: default_canary_replicas(),
            analysis: Vec::new(),
            confidence: default_confidence(),
            interval: default_canary_interval(),
        }
    }
}

fn default_canary_replicas() -> u32 {
    1
}

fn default_confidence() -> f64 {
    0.95
}

fn default_canary_interval() -> HumanDuration {
    HumanDuration::from_secs(5)
}

fn default_max_surge() -> u32 {
    1
}

fn default_drain_timeout() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn default_stop_grace() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn default_progress_deadline() -> HumanDuration {
    HumanDuration::from_secs(300)
}

fn default_keep_old_for() -> HumanDuration {
    HumanDuration::from_secs(300)
}

fn default_verify_window() -> HumanDuration {
    HumanDuration::from_secs(10)
}

/// How replicas are replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// A few at a time, within `max_surge` and `max_unavailable`.
    #[default]
    Rolling,
    /// The whole new set, then one atomic switch.
    BlueGreen,
    /// A few replicas of the new version beside the stable ones, given a
    /// growing share of traffic step by step while their metrics are
    /// compared with the stable version's; promoted at the end, rolled
    /// back at the first failing verdict.
    Canary,
}

/// A check of the new version after its verify window: an HTTP request
/// through the service's proxy, or a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmokeCheck {
    /// Path requested through the service's proxy.
    #[serde(default)]
    pub http: Option<String>,
    /// HTTP method.
    #[serde(default = "default_method")]
    pub method: String,
    /// Request body (sent as JSON when it parses as JSON).
    #[serde(default)]
    pub body: Option<String>,
    /// Expected response status.
    #[serde(default = "default_expect_status")]
    pub expect_status: u16,
    /// Command (argv) that must exit 0; `STEWARD_SERVICE_URL` names the
    /// service's proxy.
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

fn default_method() -> String {
    "GET".to_owned()
}

fn default_expect_status() -> u16 {
    200
}

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

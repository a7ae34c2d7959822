//! The `[alerts]` section: steward's own AlertManager. Its routing tree,
//! receivers, inhibition rules and time intervals are Alertmanager 0.25's
//! configuration, unchanged: in a file (`config = "alertmanager.yml"`) or
//! inline (`config_yaml = """..."""`), so an existing `alertmanager.yml`
//! is used as it is; this section adds what Alertmanager sets by flags.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::HumanDuration;

/// How steward routes, groups, silences and notifies alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// An Alertmanager configuration file, relative to this file. Without
    /// it (and without `config_yaml`) steward's rules send their alerts
    /// only to `[[rules.alertmanagers]]`.
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// The Alertmanager configuration written here instead of in a file.
    #[serde(default)]
    pub config_yaml: Option<String>,
    /// The URL steward is reached at, for links in notifications
    /// (Alertmanager's `--web.external-url`); default: the API's address.
    #[serde(default)]
    pub external_url: Option<String>,
    /// How long resolved alerts, expired silences and notification log
    /// entries are kept (Alertmanager's `--data.retention`).
    #[serde(default = "default_retention")]
    pub retention: HumanDuration,
    /// Alert groups whose most severe alert is at least this severe are
    /// handed to incidents (`info`, `warning`, `error` or `critical`);
    /// none: no hand-off.
    #[serde(default)]
    pub incident_severity: Option<String>,
    /// Rules that raise an alert's `severity` label before it is routed.
    #[serde(default)]
    pub severity: Vec<SeverityRuleConfig>,
}

/// The severities, least severe first.
pub const SEVERITY_LEVELS: [&str; 4] = ["info", "warning", "error", "critical"];

/// A rule raising alerts' severity: one condition, and the severity the
/// alerts it selects get at least.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityRuleConfig {
    /// Which alerts, as Alertmanager matchers (`alertname=~"Task.*"`);
    /// none: every alert.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Raise alerts that have fired at least this long.
    #[serde(default)]
    pub firing_for: Option<HumanDuration>,
    /// Raise alerts that started firing this many times within `within`.
    #[serde(default)]
    pub fired_times: Option<u32>,
    /// The window of `fired_times`.
    #[serde(default)]
    pub within: Option<HumanDuration>,
    /// Raise alerts of these services (their `service` label).
    #[serde(default)]
    pub critical_services: Vec<String>,
    /// Raise alerts firing on at least this many replicas of one service
    /// at once.
    #[serde(default)]
    pub replicas_at_least: Option<u32>,
    /// The label that tells replicas apart.
    #[serde(default = "default_replica_label")]
    pub replica_label: String,
    /// The severity they get at least.
    pub raise_to: String,
}

fn default_replica_label() -> String {
    "replica".to_owned()
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            config: None,
            config_yaml: None,
            external_url: None,
            retention: default_retention(),
            incident_severity: None,
            severity: Vec::new(),
        }
    }
}

impl AlertsConfig {
    /// Whether steward runs its own AlertManager.
    pub fn enabled(&self) -> bool {
        self.config.is_some() || self.config_yaml.is_some()
    }
}

fn default_retention() -> HumanDuration {
    HumanDuration::from_secs(120 * 3600)
}

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
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            config: None,
            config_yaml: None,
            external_url: None,
            retention: default_retention(),
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

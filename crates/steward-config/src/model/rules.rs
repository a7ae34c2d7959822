//! The `[rules]` section: which Prometheus rule files steward evaluates,
//! how often, and the `[[rules.alertmanagers]]` their alerts are sent to,
//! in Prometheus' vocabulary (`evaluation_interval`, `external_labels`,
//! `--rules.alert.*` flags, `alerting.alertmanagers` with static targets)
//! so that a `prometheus.yml` translates key for key.

use std::{collections::BTreeMap, path::PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::{HumanDuration, Secret};

use super::metrics::{BasicAuth, Scheme};

/// How steward evaluates recording and alerting rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Rule files in Prometheus' format, as paths or glob patterns
    /// (`rules/*.yml`) relative to this configuration file. `steward
    /// reload` reads them again.
    #[serde(default)]
    pub files: Vec<String>,
    /// Rule files in the same format whose expressions are LogQL metric
    /// queries over the log store (as Grafana Loki's ruler reads them),
    /// as paths or glob patterns relative to this configuration file.
    /// Their recording rules write to the metrics store and their alerts
    /// go where PromQL rules' alerts go; needs `[logs]` and `[metrics]`.
    #[serde(default)]
    pub log_files: Vec<String>,
    /// The interval of groups that set none.
    #[serde(default = "default_evaluation_interval")]
    pub evaluation_interval: HumanDuration,
    /// Labels added to every alert sent to Alertmanagers (and seen by
    /// templates as `$externalLabels`).
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// The URL steward is reached at, the base of alerts' generator URLs
    /// (and `$externalURL`); default: the API's listen address.
    #[serde(default)]
    pub external_url: Option<String>,
    /// The least time between two sendings of a firing alert.
    #[serde(default = "default_resend_delay")]
    pub resend_delay: HumanDuration,
    /// How long steward may have been down and still restore the `for`
    /// state of pending and firing alerts from `ALERTS_FOR_STATE`.
    #[serde(default = "default_outage_tolerance")]
    pub outage_tolerance: HumanDuration,
    /// The least time a restored alert waits before it fires again.
    #[serde(default = "default_for_grace_period")]
    pub for_grace_period: HumanDuration,
    /// Alertmanagers the alerts are sent to (API v2); none: alerts are
    /// evaluated, journaled and served by the API, and go nowhere else.
    #[serde(default)]
    pub alertmanagers: Vec<AlertmanagersConfig>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            files: Vec::new(),
            log_files: Vec::new(),
            evaluation_interval: default_evaluation_interval(),
            external_labels: BTreeMap::new(),
            external_url: None,
            resend_delay: default_resend_delay(),
            outage_tolerance: default_outage_tolerance(),
            for_grace_period: default_for_grace_period(),
            alertmanagers: Vec::new(),
        }
    }
}

impl RulesConfig {
    /// The rule files the patterns match now, in pattern order (each
    /// pattern's matches sorted, a file matched twice listed once). The
    /// patterns of a loaded configuration are absolute; an invalid one is
    /// an error naming it.
    pub fn rule_files(&self) -> Result<Vec<PathBuf>, String> {
        expand(&self.files)
    }

    /// The LogQL rule files `log_files` matches now, as
    /// [`rule_files`](Self::rule_files) expands `files`.
    pub fn log_rule_files(&self) -> Result<Vec<PathBuf>, String> {
        expand(&self.log_files)
    }
}

/// The files `patterns` match, in pattern order, each listed once.
fn expand(patterns: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = Vec::new();
    for pattern in patterns {
        let paths = glob::glob(pattern)
            .map_err(|err| format!("rule file pattern `{pattern}` is invalid: {}", err.msg))?;
        let mut matched: Vec<PathBuf> = paths
            .map(|path| {
                path.map_err(|err| format!("cannot read {}: {}", err.path().display(), err.error()))
            })
            .collect::<Result<_, _>>()?;
        matched.sort();
        for path in matched {
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Alertmanagers sharing a scheme, path prefix, timeout and credentials,
/// as one of Prometheus' `alertmanagers` entries with `static_configs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagersConfig {
    /// `host:port` of each Alertmanager.
    pub targets: Vec<String>,
    /// `http` or `https`.
    #[serde(default)]
    pub scheme: Scheme,
    /// A path before `/api/v2/alerts` (an Alertmanager behind a prefix).
    #[serde(default)]
    pub path_prefix: String,
    /// How long one request may take.
    #[serde(default = "default_alertmanager_timeout")]
    pub timeout: HumanDuration,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token sent as `Authorization: Bearer <token>`; write it as
    /// `${ENV_VAR}` to keep it out of the file.
    #[serde(default)]
    pub bearer_token: Option<Secret<String>>,
}

impl AlertmanagersConfig {
    /// Each Alertmanager's base URL: scheme, target and path prefix.
    pub fn urls(&self) -> Vec<String> {
        let prefix = self.path_prefix.trim_matches('/');
        self.targets
            .iter()
            .map(|target| match prefix {
                "" => format!("{}://{target}", self.scheme.as_str()),
                prefix => format!("{}://{target}/{prefix}", self.scheme.as_str()),
            })
            .collect()
    }
}

fn default_evaluation_interval() -> HumanDuration {
    HumanDuration::from_secs(60)
}

fn default_resend_delay() -> HumanDuration {
    HumanDuration::from_secs(60)
}

fn default_outage_tolerance() -> HumanDuration {
    HumanDuration::from_secs(3600)
}

fn default_for_grace_period() -> HumanDuration {
    HumanDuration::from_secs(600)
}

fn default_alertmanager_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

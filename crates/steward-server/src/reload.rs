//! Reloads while steward runs: `POST /api/v1/reload` (and `steward
//! reload`) reads the configuration file again and hands each subsystem
//! that reloads its section: the rules (`[rules] files`, `rules.rs`) and
//! the AlertManager (`[alerts]` and the Alertmanager configuration it
//! names, `alerts.rs`). Other sections change only at the next start.
//!
//! Both are attempted, whatever the other's outcome: each keeps what it
//! ran when its part is invalid, and journals its outcome
//! (`rules.reloaded` / `rules.reload_failed`, `alerts.reloaded` /
//! `alerts.reload_failed`); the answer reports each, and is a refusal
//! (422) when either part failed. A configuration file that is itself
//! invalid fails both parts. The whole reload runs on a task of its own:
//! a client that hangs up cannot stop it between the two parts, nor leave
//! one half replaced.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use steward_config::{Environment, LoadedConfig, Source};
use steward_core::Actor;
use utoipa::ToSchema;

use crate::{
    alerts::{AlertmanagerReloaded, Alerts},
    rules::{Rules, RulesLoaded},
};

/// Why one part of a reload changed nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReloadError {
    /// The configuration file itself is invalid: nothing was reloaded.
    #[error("{0}")]
    Config(String),
    /// A file the configuration names (a rule file, the Alertmanager
    /// configuration) is invalid; what ran before runs on.
    #[error("{0}")]
    Invalid(String),
    /// The reload could not finish (its task ended abnormally, the
    /// subsystem stopped, its state could not be read); what ran before
    /// runs on.
    #[error("the reload stopped: {0}")]
    Stopped(String),
}

/// What a successful reload loaded. The rules' fields are those of the
/// rules reload alone (kept at the top level for clients of that
/// answer): empty when this server evaluates no rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReloadOutcome {
    /// The rule files read, in order.
    pub rule_files: Vec<String>,
    /// The rule groups now running.
    pub groups: usize,
    /// Their rules.
    pub rules: usize,
    /// The AlertManager's configuration now running, when this server
    /// runs the AlertManager (`[alerts]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alertmanager: Option<AlertmanagerReloaded>,
}

/// Each part's outcome (`None`: the server does not run that part).
#[derive(Debug)]
pub struct ReloadReport {
    /// The rules'.
    pub rules: Option<Result<RulesLoaded, ReloadError>>,
    /// The AlertManager's.
    pub alerts: Option<Result<AlertmanagerReloaded, ReloadError>>,
}

impl ReloadReport {
    /// The answer when no part failed, else the report itself.
    pub fn outcome(self) -> Result<ReloadOutcome, ReloadReport> {
        match (&self.rules, &self.alerts) {
            (Some(Err(_)), _) | (_, Some(Err(_))) => Err(self),
            _ => {
                let rules = self.rules.and_then(Result::ok).unwrap_or_default();
                Ok(ReloadOutcome {
                    rule_files: rules.rule_files,
                    groups: rules.groups,
                    rules: rules.rules,
                    alertmanager: self.alerts.and_then(Result::ok),
                })
            }
        }
    }
}

/// Reloads the subsystems that can be; cheap to clone.
#[derive(Clone)]
pub struct Reloader {
    /// The configuration steward started with (its source is re-read).
    config: Arc<LoadedConfig>,
    rules: Option<Rules>,
    alerts: Option<Alerts>,
}

impl Reloader {
    /// Reloads of the subsystems of a server started with `config`.
    pub fn new(config: Arc<LoadedConfig>, rules: Option<Rules>, alerts: Option<Alerts>) -> Self {
        Reloader {
            config,
            rules,
            alerts,
        }
    }

    /// Whether there is anything to reload.
    pub fn any(&self) -> bool {
        self.rules.is_some() || self.alerts.is_some()
    }

    /// Reads the configuration file again and reloads the rules, then the
    /// AlertManager (see the module docs), as `actor`.
    pub async fn reload(&self, actor: Actor) -> ReloadReport {
        let this = self.clone();
        let work = tokio::spawn(async move {
            let fresh = reread(&this.config);
            let fresh = fresh.as_ref().map_err(String::as_str);
            let rules = match &this.rules {
                Some(rules) => Some(rules.apply(fresh, actor.clone()).await),
                None => None,
            };
            let alerts = match &this.alerts {
                Some(alerts) => Some(alerts.apply(fresh, actor).await),
                None => None,
            };
            ReloadReport { rules, alerts }
        });
        match work.await {
            Ok(report) => report,
            Err(err) => {
                let stopped = ReloadError::Stopped(err.to_string());
                ReloadReport {
                    rules: self.rules.as_ref().map(|_| Err(stopped.clone())),
                    alerts: self.alerts.as_ref().map(|_| Err(stopped)),
                }
            }
        }
    }
}

/// The configuration file as it is now, or the configuration steward
/// started with when it did not come from a file; the diagnostics when
/// the file is invalid.
pub(crate) fn reread(config: &LoadedConfig) -> Result<LoadedConfig, String> {
    match &config.source {
        Source::File(path) => {
            steward_config::load(path, &Environment::from_process()).map_err(|err| match err {
                steward_config::Error::Invalid(report) => report.render(),
                other => other.to_string(),
            })
        }
        Source::Text(_) => Ok(config.clone()),
    }
}

#[cfg(test)]
mod tests;

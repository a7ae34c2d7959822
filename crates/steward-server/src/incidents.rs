//! The incidents subsystem: steward-incident's [`IncidentManager`] wired
//! to the rest of steward. It always runs (incidents can be opened by
//! hand); alert groups reach it through the AlertManager's hand-off
//! (`[alerts] incident_severity`); pages go out through the receivers of
//! the Alertmanager configuration that reach each user
//! (`[[oncall.users]] receivers`: its webhook, Slack, email...
//! notifiers); automated plan steps run through the DeploymentManager's
//! engine (rollback, restart, scale out), the AlertManager (silence), a
//! child process (command) or an HTTP call (webhook).
//!
//! - `responder`: the plan steps' execution;
//! - `timeline`: the incident's timeline from the journal, its
//!   root-cause candidates, its impact and its postmortem.

mod responder;
pub(crate) mod timeline;

use std::{collections::BTreeMap, sync::Arc};

use steward_alert::{LabelSet, alert::Alert};
use steward_config::LoadedConfig;
use steward_deploy::DeploymentManager;
use steward_incident::{
    IncidentManager,
    incident::{Incident, Severity},
    manager::{Contacts, Settings},
    oncall::{EscalationPolicy, Page, Schedule},
    policy::OpenPolicy,
};
use steward_store::Store;

use crate::{Error, Result, alerts::Alerts};

/// The incidents subsystem; cheap to clone.
#[derive(Clone)]
pub struct Incidents {
    manager: IncidentManager,
    metrics: Option<steward_metrics::MetricsCollector>,
    deployments: Option<DeploymentManager>,
    config: Arc<LoadedConfig>,
    store: Store,
}

impl Incidents {
    /// Builds the manager over `store` from `config`'s `[incidents]` and
    /// `[oncall]`, paging through `alerts` and acting through
    /// `deployments` when steward runs them, reading service level
    /// objectives from `metrics`, and picks up the incidents
    /// a previous run left open.
    pub async fn start(
        config: &LoadedConfig,
        store: &Store,
        alerts: Option<&Alerts>,
        deployments: Option<&DeploymentManager>,
        metrics: Option<&steward_metrics::MetricsCollector>,
        api_url: &str,
    ) -> Result<Incidents> {
        let settings = settings(config).map_err(Error::Incidents)?;
        let users = users(config, alerts)?;
        let contacts = Arc::new(ReceiverContacts {
            users,
            alerts: alerts.map(|a| a.manager().clone()),
            api_url: api_url.to_owned(),
        });
        let responder = Arc::new(responder::StewardResponder::new(
            deployments.cloned(),
            alerts.map(|a| a.manager().clone()),
            Arc::new(config.clone()),
            api_url,
        ));
        let manager = IncidentManager::new(Arc::new(store.clone()), contacts, responder, settings);
        manager
            .recover()
            .await
            .map_err(|e| Error::Incidents(e.to_string()))?;
        if let Some(alerts) = alerts {
            alerts.hand_incidents_to(manager.clone());
        }
        Ok(Incidents {
            manager,
            metrics: metrics.cloned(),
            deployments: deployments.cloned(),
            config: Arc::new(config.clone()),
            store: store.clone(),
        })
    }

    /// The manager.
    pub fn manager(&self) -> &IncidentManager {
        &self.manager
    }

    /// The deployment manager, when steward runs deployments.
    pub(crate) fn deployments(&self) -> Option<&DeploymentManager> {
        self.deployments.as_ref()
    }

    /// The metrics store, when steward keeps metrics.
    pub(crate) fn metrics(&self) -> Option<&steward_metrics::MetricsCollector> {
        self.metrics.as_ref()
    }

    /// The configuration steward started with.
    pub(crate) fn config(&self) -> &LoadedConfig {
        &self.config
    }

    /// The store.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Stops paging and executing, waiting for steps under way.
    pub async fn stop(&self) {
        self.manager.stop().await;
    }
}

/// The manager's settings from `[incidents]` and `[oncall]`.
pub(crate) fn settings(config: &LoadedConfig) -> std::result::Result<Settings, String> {
    let section = &config.config.incidents;
    let open_at: Severity = section
        .open_at
        .parse()
        .map_err(|e: steward_incident::Error| format!("[incidents] open_at: {e}"))?;
    let mut schedules = BTreeMap::new();
    for spec in &config.config.oncall.schedules {
        let schedule = Schedule::new(spec).map_err(|e| format!("[oncall] {e}"))?;
        schedules.insert(spec.name.clone(), schedule);
    }
    let escalation = match &section.escalation_policy {
        None => None,
        Some(name) => {
            let spec = config
                .config
                .oncall
                .escalation_policies
                .iter()
                .find(|p| &p.name == name)
                .ok_or_else(|| {
                    format!("[incidents] escalation_policy: no policy named {name:?}")
                })?;
            Some(EscalationPolicy::new(spec, &schedules).map_err(|e| format!("[oncall] {e}"))?)
        }
    };
    Ok(Settings {
        policy: OpenPolicy {
            open_at,
            ..OpenPolicy::default()
        },
        escalation,
        ack_timeout: section.ack_timeout.map(|t| t.get()),
        plans: section.response_plans.clone(),
        auto_resolve: section.auto_resolve,
    })
}

/// Each user's receivers, checked against the Alertmanager
/// configuration's.
fn users(config: &LoadedConfig, alerts: Option<&Alerts>) -> Result<BTreeMap<String, Vec<String>>> {
    let users = &config.config.oncall.users;
    if users.is_empty() {
        return Ok(BTreeMap::new());
    }
    let Some(alerts) = alerts else {
        return Err(Error::Incidents(
            "[[oncall.users]] are paged through the AlertManager's receivers: configure `[alerts] config` or `config_yaml`".into(),
        ));
    };
    let known = alerts.manager().receivers();
    for user in users {
        for receiver in &user.receivers {
            if !known.contains(receiver) {
                return Err(Error::Incidents(format!(
                    "[[oncall.users]] {}: no receiver {receiver:?} in the Alertmanager configuration (receivers: {})",
                    user.name,
                    known.join(", ")
                )));
            }
        }
    }
    Ok(users
        .iter()
        .map(|u| (u.name.clone(), u.receivers.clone()))
        .collect())
}

/// Pages users through their receivers: the page is an alert
/// (`alertname="IncidentPage"`) carrying the incident, sent as a
/// notification of the group `incident/<id>`.
struct ReceiverContacts {
    users: BTreeMap<String, Vec<String>>,
    alerts: Option<steward_alert::AlertManager>,
    api_url: String,
}

#[async_trait::async_trait]
impl Contacts for ReceiverContacts {
    async fn page(
        &self,
        user: &str,
        incident: &Incident,
        page: &Page,
    ) -> std::result::Result<String, String> {
        let receivers = self
            .users
            .get(user)
            .ok_or_else(|| format!("{user} is not in [[oncall.users]]: no way to reach them"))?;
        let alerts = self
            .alerts
            .as_ref()
            .ok_or_else(|| "steward runs no AlertManager to page through".to_owned())?;
        let alert = page_alert(incident, user, page, &self.api_url);
        let group_key = format!("incident/{}", incident.id);
        let group_labels = LabelSet::from([("incident".to_owned(), incident.id.clone())]);
        let mut sent = Vec::new();
        let mut failed = Vec::new();
        for receiver in receivers {
            match alerts
                .send_to_receiver(
                    receiver,
                    &group_key,
                    group_labels.clone(),
                    vec![alert.clone()],
                )
                .await
            {
                Ok(n) => sent.push(format!("{receiver} ({n} integration{})", plural(n))),
                Err(err) => failed.push(format!("{receiver}: {err}")),
            }
        }
        match (sent.is_empty(), failed.is_empty()) {
            (false, true) => Ok(format!("sent to {}", sent.join(", "))),
            (false, false) => Ok(format!(
                "sent to {}; failed: {}",
                sent.join(", "),
                failed.join("; ")
            )),
            _ => Err(failed.join("; ")),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The alert a page is sent as.
fn page_alert(incident: &Incident, user: &str, page: &Page, api_url: &str) -> Alert {
    let services: Vec<&str> = incident.services.iter().map(String::as_str).collect();
    let mut labels = LabelSet::from([
        ("alertname".to_owned(), "IncidentPage".to_owned()),
        ("incident".to_owned(), incident.id.clone()),
        ("severity".to_owned(), incident.severity.as_str().to_owned()),
        ("oncall_user".to_owned(), user.to_owned()),
        ("escalation_level".to_owned(), (page.level + 1).to_string()),
    ]);
    if !services.is_empty() {
        labels.insert("service".to_owned(), services.join(","));
    }
    let annotations = LabelSet::from([
        (
            "summary".to_owned(),
            format!("{} {}: {}", incident.severity, incident.id, incident.title),
        ),
        (
            "description".to_owned(),
            format!(
                "{} is {}; acknowledge with `steward incident ack {}`",
                incident.id,
                incident.status.as_str(),
                incident.id
            ),
        ),
    ]);
    Alert {
        labels,
        annotations,
        starts_at: incident.opened_at,
        ends_at: None,
        generator_url: format!("{api_url}/api/v1/incidents/{}", incident.id),
        updated_at: page.at,
        timeout: false,
    }
}

//! The automated steps of response plans, carried out by steward's own
//! engines: a rollback, a restart or a scale-out is a deployment (so it
//! takes the deploy lock, runs its rollout and is journaled like any
//! other, with the incident as its reason), a silence is the
//! AlertManager's, a command is a child process given the incident in
//! its environment, a webhook is a POST of the incident as JSON.
//!
//! Each waits for its end, within a bound, so that the plan's next step
//! starts from a known state.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use steward_alert::{AlertManager, MatchType, Matcher, Matchers, silence::Silence};
use steward_config::LoadedConfig;
use steward_core::{Actor, Name};
use steward_deploy::{DeployRequest, DeploymentManager, DeploymentStatus, model::Release};
use steward_incident::{incident::Incident, manager::Responder, plan::StepAction};

/// The longest a command or webhook may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The most output of a command kept in the step's outcome.
const OUTPUT_KEPT: usize = 2048;

/// Executes plan steps with steward's engines.
pub(super) struct StewardResponder {
    deployments: Option<DeploymentManager>,
    alerts: Option<AlertManager>,
    config: Arc<LoadedConfig>,
    http: reqwest::Client,
    api_url: String,
}

impl StewardResponder {
    pub(super) fn new(
        deployments: Option<DeploymentManager>,
        alerts: Option<AlertManager>,
        config: Arc<LoadedConfig>,
        api_url: &str,
    ) -> Self {
        StewardResponder {
            deployments,
            alerts,
            config,
            http: reqwest::Client::builder()
                .timeout(CALL_TIMEOUT)
                .build()
                .unwrap_or_default(),
            api_url: api_url.to_owned(),
        }
    }

    fn deployments(&self) -> Result<&DeploymentManager, String> {
        self.deployments
            .as_ref()
            .ok_or_else(|| "this steward server runs no deployments".to_owned())
    }

    /// Starts `request` and waits for its end: its id and how it ended.
    async fn deploy(&self, request: DeployRequest) -> Result<String, String> {
        let manager = self.deployments()?;
        let deployment = manager
            .deploy(&self.config.config, request)
            .await
            .map_err(|e| e.to_string())?;
        let id = deployment.id.clone();
        let ended = manager.wait(&id).await.map_err(|e| e.to_string())?;
        match ended.status {
            DeploymentStatus::Succeeded => Ok(format!(
                "deployment {id} of {} succeeded",
                ended.release.version
            )),
            status => Err(format!(
                "deployment {id} ended {}{}",
                serde_json::to_value(status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                ended.error.map(|e| format!(": {e}")).unwrap_or_default()
            )),
        }
    }

    /// A deployment of `service`'s current spec changed by `change`.
    async fn redeploy(
        &self,
        incident: &Incident,
        service: &str,
        what: &str,
        change: impl FnOnce(&mut steward_deploy::model::ServiceSpec),
    ) -> Result<String, String> {
        let manager = self.deployments()?;
        let mut spec = manager
            .current_spec(service)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{service} was never deployed"))?;
        change(&mut spec);
        let name = Name::new(service).map_err(|e| e.to_string())?;
        self.deploy(DeployRequest {
            release: Release {
                version: spec.version.clone(),
                services: vec![spec],
            },
            services: Some(vec![name]),
            actor: actor(incident),
            reason: Some(format!("{what} ({})", incident.id)),
            force: false,
            wait_lock: Duration::from_secs(300),
            create_only: false,
        })
        .await
    }
}

/// Who acts for an incident in the journal.
fn actor(incident: &Incident) -> Actor {
    Actor::new(format!("incident:{}", incident.id)).unwrap_or_else(|_| Actor::system())
}

#[async_trait::async_trait]
impl Responder for StewardResponder {
    async fn execute(&self, incident: &Incident, action: &StepAction) -> Result<String, String> {
        match action {
            StepAction::Rollback { service } => {
                let manager = self.deployments()?;
                let name = Name::new(service).map_err(|e| e.to_string())?;
                let (release, services) = manager
                    .rollback_release(Some(&name), None)
                    .await
                    .map_err(|e| e.to_string())?;
                let version = release.version.clone();
                let outcome = self
                    .deploy(DeployRequest {
                        release,
                        services: Some(services),
                        actor: actor(incident),
                        reason: Some(format!(
                            "rollback of {service} to {version} ({})",
                            incident.id
                        )),
                        force: false,
                        wait_lock: Duration::from_secs(300),
                        create_only: false,
                    })
                    .await?;
                Ok(format!("rolled {service} back to {version}: {outcome}"))
            }
            StepAction::Restart { service } => {
                // a new environment value makes every replica new, as
                // `kubectl rollout restart` does with an annotation
                let at = Utc::now().to_rfc3339();
                self.redeploy(incident, service, "restart", |spec| {
                    spec.env.insert("STEWARD_RESTARTED_AT".to_owned(), at);
                })
                .await
            }
            StepAction::ScaleOut { service, add } => {
                let mut to = 0;
                let outcome = self
                    .redeploy(incident, service, "scale out", |spec| {
                        spec.replicas = spec.replicas.saturating_add(*add);
                        to = spec.replicas;
                    })
                    .await?;
                Ok(format!("{service} scaled to {to} replicas: {outcome}"))
            }
            StepAction::Silence { duration } => {
                let alerts = self
                    .alerts
                    .as_ref()
                    .ok_or_else(|| "this steward server runs no AlertManager".to_owned())?;
                let length = steward_core::parse_duration(duration).map_err(|e| e.to_string())?;
                let matcher = if incident.services.is_empty() {
                    alternatives("alertname", incident.alert_names.iter())
                } else {
                    alternatives("service", incident.services.iter())
                }?;
                let now = alerts.now();
                let ends = now + chrono::TimeDelta::from_std(length).map_err(|e| e.to_string())?;
                let id = alerts
                    .set_silence(Silence::new(
                        Matchers(vec![matcher.clone()]),
                        now,
                        ends,
                        actor(incident).as_str(),
                        format!("silenced by {}'s response plan", incident.id),
                    ))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(format!("silence {id} on {matcher} until {ends}"))
            }
            StepAction::Command { argv } => {
                let (program, args) = argv
                    .split_first()
                    .ok_or_else(|| "the command is empty".to_owned())?;
                let mut command = tokio::process::Command::new(program);
                command
                    .args(args)
                    .env("STEWARD_INCIDENT", &incident.id)
                    .env("STEWARD_INCIDENT_SEVERITY", incident.severity.as_str())
                    .env(
                        "STEWARD_INCIDENT_SERVICES",
                        incident
                            .services
                            .iter()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(","),
                    )
                    .env("STEWARD_URL", &self.api_url)
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true);
                let output = tokio::time::timeout(CALL_TIMEOUT, command.output())
                    .await
                    .map_err(|_| format!("{program} ran longer than {CALL_TIMEOUT:?}"))?
                    .map_err(|e| format!("cannot run {program}: {e}"))?;
                let text = |bytes: &[u8]| {
                    String::from_utf8_lossy(bytes)
                        .chars()
                        .take(OUTPUT_KEPT)
                        .collect::<String>()
                        .trim()
                        .to_owned()
                };
                match output.status.success() {
                    true => Ok(format!("{program} succeeded: {}", text(&output.stdout))),
                    false => Err(format!(
                        "{program} exited with {}: {}",
                        output.status,
                        text(&output.stderr)
                    )),
                }
            }
            StepAction::Webhook { url } => {
                let response = self
                    .http
                    .post(url)
                    .json(&serde_json::json!({
                        "incident": incident,
                        "steward_url": self.api_url,
                    }))
                    .send()
                    .await
                    .map_err(|e| format!("POST {url}: {e}"))?;
                let status = response.status();
                match status.is_success() {
                    true => Ok(format!("POST {url}: {status}")),
                    false => Err(format!("POST {url}: {status}")),
                }
            }
            StepAction::Manual { text } => Err(format!("{text:?} is for a person to do")),
        }
    }
}

/// `name=~"a|b"` over `values`, each escaped.
fn alternatives<'a>(
    name: &str,
    values: impl Iterator<Item = &'a String>,
) -> Result<Matcher, String> {
    let pattern: Vec<String> = values.map(|v| regex::escape(v)).collect();
    if pattern.is_empty() {
        return Err("the incident names no service and no alert to silence".into());
    }
    Matcher::new(name, MatchType::Regexp, pattern.join("|")).map_err(|e| e.to_string())
}

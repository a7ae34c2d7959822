//! After a crash or a restart: deployments that no steward process runs
//! any more are finished (resumed or rolled back, as `deploy.on_crash`
//! says; ended `aborted` when they had not acted yet), and every service
//! is brought back to the spec it settled on.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use serde_json::json;
use steward_config::{Config, RecoveryPolicy};
use steward_core::Severity;

use crate::{
    DeploymentManager, Result,
    engine::acted,
    events::DeployEvent,
    journal::{deployment_event, outcome_event},
    model::{Deployment, DeploymentStatus, StepStatus},
};

impl DeploymentManager {
    /// Finds deployments a crash interrupted and resumes or rolls them
    /// back, as `config.deploy.on_crash` says. Returns their ids.
    pub async fn recover(&self, config: &Config) -> Result<Vec<String>> {
        let mut recovered = Vec::new();
        for mut deployment in self.store().unfinished().await? {
            if self.runs_here(&deployment.id) || self.run_elsewhere(&deployment).await? {
                continue;
            }
            let interrupted: Vec<String> = deployment
                .plan
                .steps
                .iter()
                .filter(|step| matches!(step.status, StepStatus::Running | StepStatus::RollingBack))
                .map(|step| step.kind.label())
                .collect();
            let during = if interrupted.is_empty() {
                String::new()
            } else {
                format!(" during {}", interrupted.join(", "))
            };
            if !acted(&deployment) {
                self.abort_interrupted(&mut deployment, &during).await?;
                recovered.push(deployment.id.clone());
                continue;
            }
            if let Err(err) = self.lock_now(&deployment.id).await {
                tracing::error!(deployment = %deployment.id, error = %err, "cannot recover the interrupted deployment now");
                continue;
            }
            let policy = if deployment.status == DeploymentStatus::RollingBack {
                RecoveryPolicy::Rollback
            } else {
                config.deploy.on_crash
            };
            match policy {
                RecoveryPolicy::Rollback => {
                    deployment.status = DeploymentStatus::RollingBack;
                    deployment
                        .error
                        .get_or_insert_with(|| "interrupted by a steward crash".to_owned());
                    for step in &mut deployment.plan.steps {
                        if step.status == StepStatus::Running {
                            step.status = StepStatus::Failed;
                            step.error = Some("interrupted by a steward crash".to_owned());
                        }
                    }
                }
                RecoveryPolicy::Resume => {
                    for step in &mut deployment.plan.steps {
                        if step.status == StepStatus::Running {
                            step.status = StepStatus::Pending;
                        }
                    }
                }
            }
            let (action, name) = match policy {
                RecoveryPolicy::Rollback => ("rolling it back", "rollback"),
                RecoveryPolicy::Resume => ("resuming it", "resume"),
            };
            deployment.engine = Some(self.own_engine());
            let event = deployment_event(
                &deployment,
                DeployEvent::Recovered,
                Severity::Warning,
                format!(
                    "deployment {} of {} was interrupted by a crash{during}; {action}",
                    deployment.id, deployment.release.version,
                ),
            )
            .payload(json!({"deployment": deployment.id, "policy": name, "interrupted_steps": interrupted}));
            self.store().save(&deployment, vec![event]).await?;
            recovered.push(deployment.id.clone());
            self.spawn_execution(deployment, Arc::new(config.clone()), Duration::ZERO);
        }
        Ok(recovered)
    }

    /// Whether another live steward process runs `deployment`.
    async fn run_elsewhere(&self, deployment: &Deployment) -> Result<bool> {
        let own = self.own_engine();
        if let Some(engine) = &deployment.engine {
            return Ok(
                engine != &own && self.process_alive(&engine.host, engine.pid, engine.pid_start)
            );
        }
        // Recorded before deployments named their process: a live lock
        // holder other than this process runs it, or some other
        // deployment (which this one would have waited for).
        Ok(match self.lock_holder_alive().await? {
            Some(holder) if holder.deployment_id == deployment.id => holder.pid != own.pid,
            Some(_) => true,
            None => false,
        })
    }

    /// Ends a deployment interrupted before any step acted: nothing to
    /// undo, so it is aborted (deploying again starts afresh).
    async fn abort_interrupted(&self, deployment: &mut Deployment, during: &str) -> Result<()> {
        for step in &mut deployment.plan.steps {
            match step.status {
                StepStatus::Running | StepStatus::RollingBack => {
                    step.status = StepStatus::Failed;
                    step.error = Some("interrupted by a steward restart".to_owned());
                }
                StepStatus::Pending => step.status = StepStatus::Skipped,
                _ => {}
            }
        }
        deployment.status = DeploymentStatus::Aborted;
        deployment.finished_at = Some(Utc::now());
        deployment.error.get_or_insert_with(|| {
            format!(
                "interrupted by a steward restart{during} before it changed anything; deploy again"
            )
        });
        let recovered = deployment_event(
            deployment,
            DeployEvent::Recovered,
            Severity::Warning,
            format!(
                "deployment {} of {} was interrupted{during} before it changed anything; ending it",
                deployment.id, deployment.release.version
            ),
        )
        .payload(json!({"deployment": deployment.id, "policy": "abort"}));
        let outcome = outcome_event(deployment);
        self.store()
            .save(deployment, vec![recovered, outcome])
            .await?;
        // It may have held the lock when it stopped.
        self.store().unlock(&deployment.id).await
    }

    /// Brings every service to the spec it settled on (after a restart:
    /// adopted replicas rejoin their proxies, missing ones are started,
    /// strays stopped). Deployments in progress are left alone.
    pub async fn reconcile(&self) -> Result<()> {
        if self.deployments_running() {
            return Ok(());
        }
        let current = self.current_specs().await?;
        let recorder = self.recorder();
        let converger = self.converger_for("reconcile", &recorder);
        for spec in current.values() {
            if let Err(err) = converger
                .converge(&spec.name, Some(spec), "reconcile")
                .await
            {
                tracing::error!(service = %spec.name, error = %err, "cannot bring the service to its last release");
            }
            converger.stop_idle(spec).await?;
        }
        for replica in converger.backend.list().await? {
            if !current.contains_key(&replica.service) {
                tracing::warn!(replica = %replica.id, service = %replica.service, "stopping a replica of a service no release runs");
                converger
                    .backend
                    .stop(&replica.id, Duration::from_secs(10))
                    .await?;
            }
        }
        recorder.flush().await;
        Ok(())
    }
}

//! The step engine. A deployment is recorded and handed to a task that
//! the engine owns, never run inside the caller's future: an HTTP client
//! that gives up cannot leave a lock held or a step half done. The task
//! passes the gates (deploy lock, pre-checks, `pre_deploy` hook), runs the
//! steps that act, saving the deployment before and after each one, and
//! on failure or cancel undoes the steps that ran, newest first. Whatever
//! happens (an error, a cancel, a panic in a step, a state store that
//! fails for a while) it ends with the deployment in a final status and
//! the deploy lock released.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use chrono::Utc;
use futures::FutureExt;
use serde_json::json;
use steward_config::{Config, Strategy};
use steward_core::{NewEvent, Severity};
use tokio_util::sync::CancellationToken;

use crate::{
    DeployRequest, DeploymentManager, Error, Result,
    background::IdleStop,
    events::{self, DeployEvent},
    hooks::{self, HookContext},
    journal::{deployment_event, describe_changes, outcome_event, rollout_event, step_event},
    model::{Deployment, DeploymentStatus, Plan, StepStatus, new_deployment_id},
    plan::gate_steps,
    recorder::{Durability, Recorder},
    rollout::{Converger, EventSink, RolloutEvent},
};

impl DeploymentManager {
    /// Records a deployment of `request` and hands it to the engine, which
    /// owns it from then on; returns the recorded deployment at once
    /// (status `running`). Its gates (deploy lock, pre-checks, hooks) and
    /// steps are journaled as they run; [`Self::wait`] waits for its end.
    /// Dropping the returned future after it was polled once does not stop
    /// the deployment.
    pub async fn deploy(&self, config: &Config, request: DeployRequest) -> Result<Deployment> {
        self.check_selection(&request).await?;
        let deployment = Deployment {
            id: new_deployment_id(),
            services: request.services.clone().unwrap_or_else(|| {
                request
                    .release
                    .services
                    .iter()
                    .map(|spec| spec.name.clone())
                    .collect()
            }),
            requested_services: request.services.clone(),
            create_only: request.create_only,
            release: request.release,
            previous: Default::default(),
            plan: Plan {
                changes: Vec::new(),
                steps: gate_steps(config),
                checks: Vec::new(),
            },
            status: DeploymentStatus::Running,
            actor: request.actor,
            reason: request.reason,
            forced: request.force,
            created_at: Utc::now(),
            finished_at: None,
            error: None,
            engine: Some(self.own_engine()),
        };
        let services = deployment
            .services
            .iter()
            .map(|name| name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let requested = deployment_event(
            &deployment,
            DeployEvent::Requested,
            Severity::Info,
            format!(
                "deployment {} of {} requested by {} ({services}){}",
                deployment.id,
                deployment.release.version,
                deployment.actor,
                deployment
                    .reason
                    .as_ref()
                    .map(|reason| format!(": {reason}"))
                    .unwrap_or_default()
            ),
        )
        .payload(json!({
            "deployment": deployment.id,
            "version": deployment.release.version,
            "services": deployment.services,
            "reason": deployment.reason,
            "force": deployment.forced,
            "wait_lock_ms": request.wait_lock.as_millis() as u64,
        }));
        // Recorded and started by a task of the engine's, so that a caller
        // that stops waiting (a client timeout) changes nothing: either
        // the deployment is recorded and runs to its end, or it is not.
        let (recorded, answer) = tokio::sync::oneshot::channel();
        let manager = self.clone();
        let config = Arc::new(config.clone());
        let record = deployment.clone();
        let wait_lock = request.wait_lock;
        // Registered before anyone can learn its id, so that a waiter
        // never finds it recorded but run by nobody.
        let cancel = self.register(&deployment.id);
        tokio::spawn(async move {
            if let Err(err) = manager.store().save(&record, vec![requested]).await {
                manager.unregister(&record.id);
                let _ = recorded.send(Err(err));
                return;
            }
            let _ = recorded.send(Ok(()));
            manager.run_registered(record, config, wait_lock, cancel);
        });
        match answer.await {
            Ok(Ok(())) => Ok(deployment.redacted()),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(Error::Internal(
                "the deployment engine stopped before it recorded the deployment".to_owned(),
            )),
        }
    }

    /// Runs a recorded deployment to its end in a task of its own, under
    /// a supervisor that turns a panic into a rollback.
    pub(crate) fn spawn_execution(
        &self,
        deployment: Deployment,
        config: Arc<Config>,
        wait_lock: Duration,
    ) {
        let cancel = self.register(&deployment.id);
        self.run_registered(deployment, config, wait_lock, cancel);
    }

    /// [`Self::spawn_execution`] of a deployment already registered.
    fn run_registered(
        &self,
        deployment: Deployment,
        config: Arc<Config>,
        wait_lock: Duration,
        cancel: CancellationToken,
    ) {
        let manager = self.clone();
        tokio::spawn(async move {
            let id = deployment.id.clone();
            manager
                .supervise(deployment, config, wait_lock, cancel)
                .await;
            manager.unregister(&id);
        });
    }

    async fn supervise(
        &self,
        deployment: Deployment,
        config: Arc<Config>,
        wait_lock: Duration,
        cancel: CancellationToken,
    ) {
        let id = deployment.id.clone();
        let first = {
            let manager = self.clone();
            let config = Arc::clone(&config);
            tokio::spawn(async move {
                manager.execute(deployment, config, wait_lock, cancel).await;
            })
        };
        let Err(join) = first.await else {
            return;
        };
        let panic = panic_message(join);
        tracing::error!(deployment = %id, panic = %panic, "the deployment engine failed unexpectedly; rolling back from the last saved state");
        // The state in memory is gone: start again from the last save, as
        // after a crash, but always rolling back.
        let recorder = self.recorder();
        let mut deployment = match self.load_until_found(&id).await {
            Some(deployment) if !deployment.status.is_final() => deployment,
            _ => {
                recorder.unlock(&id).await;
                return;
            }
        };
        deployment.status = DeploymentStatus::RollingBack;
        deployment.error = Some(format!(
            "steward's deployment engine failed unexpectedly ({panic})"
        ));
        for step in &mut deployment.plan.steps {
            if step.status == StepStatus::Running {
                step.status = StepStatus::Failed;
                step.error = Some(format!("interrupted: {panic}"));
            }
        }
        let second = {
            let manager = self.clone();
            let deployment = deployment.clone();
            tokio::spawn(async move {
                manager
                    .execute(deployment, config, Duration::ZERO, CancellationToken::new())
                    .await;
            })
        };
        if let Err(join) = second.await {
            let again = panic_message(join);
            tracing::error!(deployment = %id, panic = %again, "the rollback failed unexpectedly too");
            deployment.status = DeploymentStatus::Failed;
            deployment.finished_at = Some(Utc::now());
            let running = self.describe_running(&deployment).await;
            deployment.error = Some(format!(
                "steward's deployment engine failed unexpectedly ({panic}), and so did the rollback ({again}). Running now: {running}. Fix the cause and deploy again, or run `steward rollback`"
            ));
            let event = outcome_event(&deployment);
            let _ = recorder
                .save(&deployment, vec![event], Durability::UntilSaved)
                .await;
            recorder.unlock(&id).await;
        }
    }

    /// The deployment `id` as saved, retrying while the store fails
    /// (`None` when it does not exist).
    async fn load_until_found(&self, id: &str) -> Option<Deployment> {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.store().get(id).await {
                Ok(found) => return found,
                Err(err) => {
                    tracing::warn!(deployment = %id, error = %err, "cannot read the deployment yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// A recorder with this manager's patience.
    pub(crate) fn recorder(&self) -> Recorder {
        Recorder::new(Arc::clone(self.store()), self.options().store_patience)
    }

    /// Runs the gates and steps (or the rollback) of a recorded deployment
    /// to its end. Never fails: every outcome ends in a final status.
    async fn execute(
        &self,
        mut deployment: Deployment,
        config: Arc<Config>,
        wait_lock: Duration,
        cancel: CancellationToken,
    ) {
        let recorder = self.recorder();
        let converger = self.converger_for(&deployment.id, &recorder);
        if deployment.status == DeploymentStatus::Running {
            self.forward(
                &mut deployment,
                &converger,
                &recorder,
                &config,
                wait_lock,
                &cancel,
            )
            .await;
        }
        if deployment.status == DeploymentStatus::RollingBack {
            self.roll_back(&mut deployment, &converger, &recorder, &config)
                .await;
        }
        self.conclude(deployment, &converger, &recorder, &config)
            .await;
    }

    /// A converger whose rollout events are journaled, tagged with the
    /// deployment.
    pub(crate) fn converger_for(&self, deployment_id: &str, recorder: &Recorder) -> Converger {
        let recorder = recorder.clone();
        let id = deployment_id.to_owned();
        let sink: EventSink = Arc::new(move |event: RolloutEvent| {
            recorder.journal(rollout_event(&id, &event));
        });
        self.converger_with(sink)
    }

    /// Runs the steps in order until one fails (then the deployment is
    /// `rolling_back`, or `aborted` when nothing acted yet) or all
    /// succeeded (`succeeded`).
    async fn forward(
        &self,
        deployment: &mut Deployment,
        converger: &Converger,
        recorder: &Recorder,
        config: &Config,
        wait_lock: Duration,
        cancel: &CancellationToken,
    ) {
        let mut index = 0;
        while index < deployment.plan.steps.len() {
            if deployment.plan.steps[index].status == StepStatus::Succeeded {
                index += 1;
                continue;
            }
            {
                let step = &mut deployment.plan.steps[index];
                step.status = StepStatus::Running;
                step.started_at = Some(Utc::now());
                step.finished_at = None;
                step.error = None;
            }
            if let Err(err) = record_step(recorder, deployment, index).await {
                // Nothing acts unless it is recorded first.
                let step = &mut deployment.plan.steps[index];
                step.status = StepStatus::Pending;
                step.started_at = None;
                let message = format!(
                    "{} could not start: cannot record it in the state database: {err}",
                    step.kind.label()
                );
                step.error = Some(message.clone());
                halt(deployment, message);
                return;
            }
            let gate = deployment.plan.steps[index].kind.is_gate();
            let outcome = {
                let action = async {
                    if gate {
                        self.run_gate(deployment, index, config, wait_lock, recorder, cancel)
                            .await
                    } else {
                        tokio::select! {
                            outcome = self.run_step(converger, deployment, index, config) => outcome,
                            () = cancel.cancelled() => Err(Error::Cancelled),
                        }
                    }
                };
                caught(action).await
            };
            recorder.flush().await;
            let step = &mut deployment.plan.steps[index];
            step.finished_at = Some(Utc::now());
            let label = step.kind.label();
            match outcome {
                Ok(detail) => {
                    step.status = StepStatus::Succeeded;
                    step.detail = Some(detail);
                    let mut events = vec![step_event(deployment, index)];
                    let last_gate = gate
                        && deployment
                            .plan
                            .steps
                            .get(index + 1)
                            .is_none_or(|next| !next.kind.is_gate());
                    if last_gate {
                        events.push(started_event(deployment));
                    }
                    if let Err(err) = recorder.save(deployment, events, Durability::Bounded).await {
                        // It acted but that cannot be recorded: undo it
                        // rather than go on with an unknown state.
                        halt(
                            deployment,
                            format!(
                                "{label} succeeded but cannot be recorded in the state database: {err}"
                            ),
                        );
                        return;
                    }
                }
                Err(err) => {
                    step.status = StepStatus::Failed;
                    step.error = Some(err.to_string());
                    let message = if gate {
                        err.to_string()
                    } else {
                        format!("{label} failed: {err}")
                    };
                    halt(deployment, message);
                    // Best effort: the rollback goes on without it, and
                    // the event waits for the next save.
                    let _ = record_step(recorder, deployment, index).await;
                    return;
                }
            }
            index += 1;
        }
        deployment.status = DeploymentStatus::Succeeded;
    }

    /// Undoes every step that acted, newest first. Goes on when its
    /// progress cannot be saved: undoing is what makes things safe again.
    async fn roll_back(
        &self,
        deployment: &mut Deployment,
        converger: &Converger,
        recorder: &Recorder,
        config: &Config,
    ) {
        for index in (0..deployment.plan.steps.len()).rev() {
            if deployment.plan.steps[index].kind.is_gate() {
                continue;
            }
            match deployment.plan.steps[index].status {
                StepStatus::Pending => {
                    deployment.plan.steps[index].status = StepStatus::Skipped;
                    continue;
                }
                StepStatus::Skipped | StepStatus::RolledBack | StepStatus::RollbackFailed => {
                    continue;
                }
                StepStatus::Running
                | StepStatus::Succeeded
                | StepStatus::Failed
                | StepStatus::RollingBack => {}
            }
            deployment.plan.steps[index].status = StepStatus::RollingBack;
            let _ = record_step(recorder, deployment, index).await;
            let outcome = caught(self.rollback_step(converger, deployment, index, config)).await;
            recorder.flush().await;
            let step = &mut deployment.plan.steps[index];
            step.finished_at = Some(Utc::now());
            match outcome {
                Ok(detail) => {
                    step.status = StepStatus::RolledBack;
                    step.detail = Some(detail);
                }
                Err(err) => {
                    step.status = StepStatus::RollbackFailed;
                    step.error = Some(format!("rollback failed: {err}"));
                }
            }
            let _ = record_step(recorder, deployment, index).await;
        }
    }

    /// Gives the deployment its final status, saves it (retrying until
    /// the store takes it), releases the deploy lock and runs the hooks
    /// of its outcome.
    async fn conclude(
        &self,
        mut deployment: Deployment,
        converger: &Converger,
        recorder: &Recorder,
        config: &Config,
    ) {
        if !deployment.status.is_final() {
            let failed: Vec<String> = deployment
                .plan
                .steps
                .iter()
                .filter(|step| step.status == StepStatus::RollbackFailed)
                .map(|step| {
                    format!(
                        "{} ({})",
                        step.kind.label(),
                        step.error.as_deref().unwrap_or("")
                    )
                })
                .collect();
            let cause = deployment
                .error
                .clone()
                .unwrap_or_else(|| "cancelled".to_owned());
            deployment.error = Some(cause.clone());
            deployment.status = if !acted(&deployment) {
                DeploymentStatus::Aborted
            } else if failed.is_empty() {
                DeploymentStatus::RolledBack
            } else {
                let running = self.describe_running(&deployment).await;
                deployment.error = Some(format!(
                    "{cause}; then the rollback of {} failed. Running now: {running}. Fix the cause and deploy again, or run `steward rollback`",
                    failed.join(", ")
                ));
                DeploymentStatus::Failed
            };
        }
        if deployment.status == DeploymentStatus::Aborted {
            for step in &mut deployment.plan.steps {
                if step.status == StepStatus::Pending {
                    step.status = StepStatus::Skipped;
                }
            }
        }
        deployment.finished_at = Some(Utc::now());
        let event = outcome_event(&deployment);
        let _ = recorder
            .save(&deployment, vec![event], Durability::UntilSaved)
            .await;
        recorder.unlock(&deployment.id).await;
        let hook = match deployment.status {
            DeploymentStatus::Succeeded => {
                self.schedule_idle_stop(&deployment, converger);
                config
                    .deploy
                    .hooks
                    .post_deploy
                    .as_ref()
                    .map(|argv| ("post_deploy", argv))
            }
            DeploymentStatus::RolledBack | DeploymentStatus::Failed => config
                .deploy
                .hooks
                .on_rollback
                .as_ref()
                .map(|argv| ("on_rollback", argv)),
            _ => None,
        };
        if let Some((name, argv)) = hook
            && let Err(err) = hooks::run(
                name,
                argv,
                &HookContext::of(&deployment),
                config.deploy.hooks.timeout.get(),
            )
            .await
        {
            let event = deployment_event(
                &deployment,
                DeployEvent::HookFailed,
                Severity::Warning,
                format!("{}: {err}", deployment.id),
            );
            if let Err(err) = self.store().journal(vec![event]).await {
                tracing::warn!(error = %err, "cannot journal a hook failure");
            }
        }
    }

    /// After a blue-green switch, the old set runs on for `keep_old_for`;
    /// the manager's [`Background`](crate::Background) stops it then.
    fn schedule_idle_stop(&self, deployment: &Deployment, converger: &Converger) {
        for name in &deployment.services {
            let Some(spec) = deployment.release.service(name) else {
                continue;
            };
            if spec.rollout.strategy != Strategy::BlueGreen {
                continue;
            }
            self.schedule(IdleStop {
                at: tokio::time::Instant::now() + spec.rollout.keep_old_for.get(),
                spec: spec.clone(),
                converger: converger.clone(),
            });
        }
    }

    /// The replicas of the deployment's services, for an error message.
    pub(crate) async fn describe_running(&self, deployment: &Deployment) -> String {
        let Ok(replicas) = self.backend().list().await else {
            return "unknown (the backend does not answer)".to_owned();
        };
        let parts: Vec<String> = deployment
            .services
            .iter()
            .map(|name| {
                let versions: Vec<String> = replicas
                    .iter()
                    .filter(|replica| &replica.service == name)
                    .map(|replica| format!("{}@{}", replica.id, replica.version))
                    .collect();
                if versions.is_empty() {
                    format!("{name}: no replica")
                } else {
                    format!("{name}: {}", versions.join(" "))
                }
            })
            .collect();
        parts.join("; ")
    }
}

/// The event that says the gates passed and the deployment starts acting.
fn started_event(deployment: &Deployment) -> NewEvent {
    let forced: Vec<_> = deployment
        .plan
        .checks
        .iter()
        .filter(|check| !check.passed)
        .collect();
    let summary = format!(
        "deployment {} of {} started by {}: {}",
        deployment.id,
        deployment.release.version,
        deployment.actor,
        describe_changes(&deployment.plan.changes)
    );
    let severity = if forced.is_empty() {
        Severity::Info
    } else {
        Severity::Warning
    };
    let payload = events::DeployStarted {
        deployment: deployment.id.clone(),
        version: deployment.release.version.clone(),
        changes: deployment.plan.changes.clone(),
        steps: deployment
            .plan
            .steps
            .iter()
            .map(|step| step.kind.label())
            .collect(),
        forced_checks: forced
            .iter()
            .map(|check| events::ForcedCheck {
                name: check.name.clone(),
                detail: check.detail.clone(),
            })
            .collect(),
        reason: deployment.reason.clone(),
    };
    deployment_event(deployment, DeployEvent::Started, severity, summary)
        .payload(serde_json::to_value(payload).unwrap_or_default())
}

/// Saves step `index`'s new status with its event, trying for the
/// recorder's patience (the event stays queued when it fails).
async fn record_step(recorder: &Recorder, deployment: &Deployment, index: usize) -> Result<()> {
    recorder
        .save(
            deployment,
            vec![step_event(deployment, index)],
            Durability::Bounded,
        )
        .await
}

/// Whether any step that acts has started.
pub(crate) fn acted(deployment: &Deployment) -> bool {
    deployment.plan.steps.iter().any(|step| {
        !step.kind.is_gate() && !matches!(step.status, StepStatus::Pending | StepStatus::Skipped)
    })
}

/// Stops the forward run with `error`: rolling back what acted, or
/// aborted when nothing did.
fn halt(deployment: &mut Deployment, error: String) {
    deployment.error = Some(error);
    deployment.status = if acted(deployment) {
        DeploymentStatus::RollingBack
    } else {
        DeploymentStatus::Aborted
    };
}

/// Runs a step's future, turning a panic inside it into a step failure.
async fn caught<F: std::future::Future<Output = Result<String>>>(future: F) -> Result<String> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(panic) => Err(Error::Internal(format!(
            "the step panicked: {}",
            panic_text(panic.as_ref())
        ))),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(panic) => panic_text(panic.as_ref()),
        Err(join) => join.to_string(),
    }
}

//! The deploy lock and the liveness of steward processes: one deployment
//! at a time, under a row in the state database that names its holder
//! (host, pid, process start time), taken over only from a holder that is
//! provably dead (same host, that process gone). The same test tells
//! whether the process that runs a deployment still lives.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use steward_core::Severity;
use tokio_util::sync::CancellationToken;

use crate::{
    DeploymentManager, Error, Result,
    events::DeployEvent,
    journal::deployment_event,
    model::{Deployment, Engine, LockHolder},
    process::{own_start_time, process_alive},
    recorder::Recorder,
};

/// How often a deployment waiting for the lock looks again.
const LOCK_POLL: Duration = Duration::from_millis(250);

impl DeploymentManager {
    /// This steward process, as recorded on the deployments it runs.
    pub(crate) fn own_engine(&self) -> Engine {
        Engine {
            host: self.options().host.clone(),
            pid: std::process::id(),
            pid_start: own_start_time(),
        }
    }

    /// Whether a process of this host's name that started at `pid_start`
    /// still lives (processes on other hosts cannot be checked, so they
    /// count as alive).
    pub(crate) fn process_alive(&self, host: &str, pid: u32, pid_start: u64) -> bool {
        host != self.options().host || process_alive(pid, pid_start)
    }

    fn holder_alive(&self, holder: &LockHolder) -> bool {
        self.process_alive(&holder.host, holder.pid, holder.pid_start)
    }

    /// The holder of the deploy lock, if it is alive.
    pub(crate) async fn lock_holder_alive(&self) -> Result<Option<LockHolder>> {
        let Some(holder) = self.store().lock_holder().await? else {
            return Ok(None);
        };
        Ok(self.holder_alive(&holder).then_some(holder))
    }

    fn own_holder(&self, deployment_id: &str) -> LockHolder {
        let engine = self.own_engine();
        LockHolder {
            deployment_id: deployment_id.to_owned(),
            host: engine.host,
            pid: engine.pid,
            pid_start: engine.pid_start,
            since: Utc::now(),
        }
    }

    /// Takes the deploy lock for `deployment_id` at once, or fails naming
    /// its holder.
    pub(crate) async fn lock_now(&self, deployment_id: &str) -> Result<()> {
        match self.try_lock(deployment_id).await? {
            None => Ok(()),
            Some(holder) => Err(locked(holder)),
        }
    }

    /// One attempt: `None` when the lock is ours now, else its live holder.
    async fn try_lock(&self, deployment_id: &str) -> Result<Option<LockHolder>> {
        loop {
            let holder = self.own_holder(deployment_id);
            let Some(current) = self.store().try_lock(&holder).await? else {
                return Ok(None);
            };
            if current.deployment_id == deployment_id && current.pid == holder.pid {
                return Ok(None);
            }
            if self.holder_alive(&current) {
                return Ok(Some(current));
            }
            tracing::warn!(deployment = %current.deployment_id, pid = current.pid, "taking over the deploy lock of a dead steward process");
            if self.store().take_over_lock(&current, &holder).await? {
                return Ok(None);
            }
            // It changed hands in between: look again.
        }
    }

    /// Takes the deploy lock for `deployment`, waiting up to `wait` for
    /// the deployment that holds it (journaling, once per holder, whose
    /// deployment it waits for). Cancelling stops the wait.
    pub(crate) async fn wait_for_lock(
        &self,
        deployment: &Deployment,
        wait: Duration,
        recorder: &Recorder,
        cancel: &CancellationToken,
    ) -> Result<String> {
        let start = tokio::time::Instant::now();
        let deadline = start + wait;
        let mut announced: Option<String> = None;
        loop {
            let Some(holder) = self.try_lock(&deployment.id).await? else {
                let waited = start.elapsed();
                return Ok(if announced.is_some() {
                    format!(
                        "deploy lock taken after waiting {}",
                        steward_core::format_duration(waited)
                    )
                } else {
                    "deploy lock taken".to_owned()
                });
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(locked(holder));
            }
            if announced.as_deref() != Some(holder.deployment_id.as_str()) {
                let owner = self.store().get(&holder.deployment_id).await.ok().flatten();
                let what = match &owner {
                    Some(owner) => format!(
                        "deployment {} of {} by {}",
                        owner.id, owner.release.version, owner.actor
                    ),
                    None => format!("deployment {}", holder.deployment_id),
                };
                let event = deployment_event(
                    deployment,
                    DeployEvent::LockWaiting,
                    Severity::Info,
                    format!(
                        "{} waits for {what} (pid {} on {}, running since {}) to finish; waiting up to {}",
                        deployment.id,
                        holder.pid,
                        holder.host,
                        holder.since.format("%H:%M:%S UTC"),
                        // Whole seconds: the wait left, as a person reads it.
                        steward_core::format_duration(Duration::from_secs(
                            deadline
                                .saturating_duration_since(tokio::time::Instant::now())
                                .as_secs_f64()
                                .round() as u64
                        )),
                    ),
                )
                .payload(json!({
                    "deployment": deployment.id,
                    "holder": holder.deployment_id,
                    "holder_pid": holder.pid,
                    "holder_host": holder.host,
                    "holder_since": holder.since,
                }));
                recorder.journal(event);
                announced = Some(holder.deployment_id.clone());
            }
            tokio::select! {
                () = cancel.cancelled() => return Err(Error::Cancelled),
                () = tokio::time::sleep(LOCK_POLL) => {}
            }
        }
    }
}

fn locked(holder: LockHolder) -> Error {
    Error::Locked {
        deployment_id: holder.deployment_id,
        pid: holder.pid,
        host: holder.host,
        since: holder.since.to_rfc3339(),
    }
}

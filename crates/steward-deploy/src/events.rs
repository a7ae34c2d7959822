//! The journal event kinds of deployments: one catalogue that the engine
//! writes from and that the API, the CLI and later subsystems (incidents
//! asking "what changed?") match against, so that a renamed kind is a
//! compile error rather than a silent mismatch.

use serde::{Deserialize, Serialize};
use steward_core::Version;

use crate::model::{ServiceChange, StepStatus};

steward_core::event_catalogue! {
    /// Every kind of event a deployment (or the replicas it runs) journals.
    pub enum DeployEvent in "deploy" {
        /// A deployment was asked for and recorded; its engine owns it now.
        Requested => "deploy.requested",
        /// It waits for the deployment that holds the deploy lock.
        LockWaiting => "deploy.lock.waiting",
        /// Its gates passed; it starts changing things (payload: changes,
        /// steps, forced checks).
        Started => "deploy.started",
        /// A step started.
        StepStarted => "deploy.step.started",
        /// A step finished.
        StepSucceeded => "deploy.step.succeeded",
        /// A step failed.
        StepFailed => "deploy.step.failed",
        /// A step's rollback started.
        StepRollingBack => "deploy.step.rolling_back",
        /// A step was undone.
        StepRolledBack => "deploy.step.rolled_back",
        /// A step could not be undone.
        StepRollbackFailed => "deploy.step.rollback_failed",
        /// A step never ran because an earlier one failed.
        StepSkipped => "deploy.step.skipped",
        /// Every step succeeded.
        Succeeded => "deploy.succeeded",
        /// A step failed and everything done was undone.
        RolledBack => "deploy.rolled_back",
        /// A rollback failed: the error says what runs.
        Failed => "deploy.failed",
        /// Stopped at a gate before it changed anything.
        Aborted => "deploy.aborted",
        /// Found unfinished after a crash; resumed or rolled back.
        Recovered => "deploy.recovered",
        /// A `post_deploy` or `on_rollback` hook failed.
        HookFailed => "deploy.hook.failed",
        /// A replica was started.
        ReplicaStarted => "deploy.replica.started",
        /// A replica passed its health check.
        ReplicaHealthy => "deploy.replica.healthy",
        /// A replica failed its health check (and left its proxy, between
        /// deployments).
        ReplicaUnhealthy => "deploy.replica.unhealthy",
        /// A replica taken out of its proxy is healthy again and back in.
        ReplicaRecovered => "deploy.replica.recovered",
        /// A replica takes traffic.
        ReplicaAdded => "deploy.replica.added",
        /// A replica was drained of its requests.
        ReplicaDrained => "deploy.replica.drained",
        /// A replica was stopped.
        ReplicaStopped => "deploy.replica.stopped",
        /// A replica exited on its own.
        ReplicaExited => "deploy.replica.exited",
        /// A replica was restarted after exiting.
        ReplicaRestarted => "deploy.replica.restarted",
        /// A replica of an earlier steward process was adopted.
        ReplicaAdopted => "deploy.replica.adopted",
        /// A service's traffic moved to a new set of replicas at once.
        TrafficSwitched => "deploy.traffic.switched",
        /// A PromQL gate was evaluated (payload: its values, whether it
        /// passed).
        GateEvaluated => "deploy.gate.evaluated",
        /// A canary's share of traffic changed.
        CanaryWeight => "deploy.canary.weight",
        /// A canary metric was judged (payload: p-value, effect, samples).
        CanaryVerdict => "deploy.canary.verdict",
    }
}

impl DeployEvent {
    /// Whether this event ends a deployment (nothing of it follows).
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            DeployEvent::Succeeded
                | DeployEvent::RolledBack
                | DeployEvent::Failed
                | DeployEvent::Aborted
        )
    }

    /// Whether the event kind named `kind` ends a deployment.
    pub fn is_terminal_kind(kind: &str) -> bool {
        Self::parse(kind).is_some_and(Self::is_terminal)
    }

    /// The event that tells a step reached `status` (`None` for pending).
    pub const fn of_step(status: StepStatus) -> Option<Self> {
        Some(match status {
            StepStatus::Pending => return None,
            StepStatus::Running => DeployEvent::StepStarted,
            StepStatus::Succeeded => DeployEvent::StepSucceeded,
            StepStatus::Failed => DeployEvent::StepFailed,
            StepStatus::RollingBack => DeployEvent::StepRollingBack,
            StepStatus::RolledBack => DeployEvent::StepRolledBack,
            StepStatus::RollbackFailed => DeployEvent::StepRollbackFailed,
            StepStatus::Skipped => DeployEvent::StepSkipped,
        })
    }
}

/// The payload of a [`DeployEvent::Started`] event: what the deployment
/// is about to do, once its gates passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployStarted {
    /// The deployment's id.
    pub deployment: String,
    /// The release's version.
    pub version: Version,
    /// The planned change of each service.
    pub changes: Vec<ServiceChange>,
    /// The labels of its steps, in order (gates included).
    pub steps: Vec<String>,
    /// The pre-deployment checks that failed and were overridden.
    pub forced_checks: Vec<ForcedCheck>,
    /// Why it was started, as its caller said.
    pub reason: Option<String>,
}

/// A failed pre-deployment check that a forced deployment went past.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForcedCheck {
    /// What was checked.
    pub name: String,
    /// What was found.
    pub detail: String,
}

#[cfg(test)]
mod tests;

//! The journal event kinds of deployments: one catalogue that the engine
//! writes from and that the API, the CLI and later subsystems (incidents
//! asking "what changed?") match against, so that a renamed kind is a
//! compile error rather than a silent mismatch.

use std::fmt;

use steward_core::EventKind;

use crate::model::StepStatus;

/// Every kind of event a deployment (or the replicas it runs) journals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeployEvent {
    /// A deployment was asked for and recorded; its engine owns it now.
    Requested,
    /// It waits for the deployment that holds the deploy lock.
    LockWaiting,
    /// Its gates passed; it starts changing things (payload: changes,
    /// steps, forced checks).
    Started,
    /// A step started.
    StepStarted,
    /// A step finished.
    StepSucceeded,
    /// A step failed.
    StepFailed,
    /// A step's rollback started.
    StepRollingBack,
    /// A step was undone.
    StepRolledBack,
    /// A step could not be undone.
    StepRollbackFailed,
    /// A step never ran because an earlier one failed.
    StepSkipped,
    /// Every step succeeded.
    Succeeded,
    /// A step failed and everything done was undone.
    RolledBack,
    /// A rollback failed: the error says what runs.
    Failed,
    /// Stopped at a gate before it changed anything.
    Aborted,
    /// Found unfinished after a crash; resumed or rolled back.
    Recovered,
    /// A `post_deploy` or `on_rollback` hook failed.
    HookFailed,
    /// A replica was started.
    ReplicaStarted,
    /// A replica passed its health check.
    ReplicaHealthy,
    /// A replica failed its health check (and left its proxy, between
    /// deployments).
    ReplicaUnhealthy,
    /// A replica taken out of its proxy is healthy again and back in.
    ReplicaRecovered,
    /// A replica takes traffic.
    ReplicaAdded,
    /// A replica was drained of its requests.
    ReplicaDrained,
    /// A replica was stopped.
    ReplicaStopped,
    /// A replica exited on its own.
    ReplicaExited,
    /// A replica was restarted after exiting.
    ReplicaRestarted,
    /// A replica of an earlier steward process was adopted.
    ReplicaAdopted,
    /// A service's traffic moved to a new set of replicas at once.
    TrafficSwitched,
}

impl DeployEvent {
    /// The prefix every deployment event kind starts with.
    pub const PREFIX: &'static str = "deploy";

    /// Every kind, for documentation and tests.
    pub const ALL: [DeployEvent; 27] = [
        DeployEvent::Requested,
        DeployEvent::LockWaiting,
        DeployEvent::Started,
        DeployEvent::StepStarted,
        DeployEvent::StepSucceeded,
        DeployEvent::StepFailed,
        DeployEvent::StepRollingBack,
        DeployEvent::StepRolledBack,
        DeployEvent::StepRollbackFailed,
        DeployEvent::StepSkipped,
        DeployEvent::Succeeded,
        DeployEvent::RolledBack,
        DeployEvent::Failed,
        DeployEvent::Aborted,
        DeployEvent::Recovered,
        DeployEvent::HookFailed,
        DeployEvent::ReplicaStarted,
        DeployEvent::ReplicaHealthy,
        DeployEvent::ReplicaUnhealthy,
        DeployEvent::ReplicaRecovered,
        DeployEvent::ReplicaAdded,
        DeployEvent::ReplicaDrained,
        DeployEvent::ReplicaStopped,
        DeployEvent::ReplicaExited,
        DeployEvent::ReplicaRestarted,
        DeployEvent::ReplicaAdopted,
        DeployEvent::TrafficSwitched,
    ];

    /// The kind as journaled, e.g. `deploy.step.started`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeployEvent::Requested => "deploy.requested",
            DeployEvent::LockWaiting => "deploy.lock.waiting",
            DeployEvent::Started => "deploy.started",
            DeployEvent::StepStarted => "deploy.step.started",
            DeployEvent::StepSucceeded => "deploy.step.succeeded",
            DeployEvent::StepFailed => "deploy.step.failed",
            DeployEvent::StepRollingBack => "deploy.step.rolling_back",
            DeployEvent::StepRolledBack => "deploy.step.rolled_back",
            DeployEvent::StepRollbackFailed => "deploy.step.rollback_failed",
            DeployEvent::StepSkipped => "deploy.step.skipped",
            DeployEvent::Succeeded => "deploy.succeeded",
            DeployEvent::RolledBack => "deploy.rolled_back",
            DeployEvent::Failed => "deploy.failed",
            DeployEvent::Aborted => "deploy.aborted",
            DeployEvent::Recovered => "deploy.recovered",
            DeployEvent::HookFailed => "deploy.hook.failed",
            DeployEvent::ReplicaStarted => "deploy.replica.started",
            DeployEvent::ReplicaHealthy => "deploy.replica.healthy",
            DeployEvent::ReplicaUnhealthy => "deploy.replica.unhealthy",
            DeployEvent::ReplicaRecovered => "deploy.replica.recovered",
            DeployEvent::ReplicaAdded => "deploy.replica.added",
            DeployEvent::ReplicaDrained => "deploy.replica.drained",
            DeployEvent::ReplicaStopped => "deploy.replica.stopped",
            DeployEvent::ReplicaExited => "deploy.replica.exited",
            DeployEvent::ReplicaRestarted => "deploy.replica.restarted",
            DeployEvent::ReplicaAdopted => "deploy.replica.adopted",
            DeployEvent::TrafficSwitched => "deploy.traffic.switched",
        }
    }

    /// The kind as an [`EventKind`].
    pub fn kind(self) -> EventKind {
        EventKind::new(self.as_str()).expect("catalogued event kinds are valid")
    }

    /// The catalogued kind named `kind`, if it is one.
    pub fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == kind)
    }

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

impl fmt::Display for DeployEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;

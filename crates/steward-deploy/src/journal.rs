//! What deployments write into the journal: the events of a deployment
//! and its steps, the rollout events of its replicas, and the replica
//! events a backend reports on its own (crashes, restarts, adoptions),
//! each with a one-line summary for humans and a payload for machines.

use std::sync::Arc;

use serde_json::json;
use steward_core::{Actor, Name, NewEvent, Severity, Version};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{
    backend::ReplicaEvent,
    events::DeployEvent,
    model::{ChangeKind, Deployment, ServiceChange, StepKind, StepStatus},
    rollout::RolloutEvent,
    store::DeployStore,
};

/// An event of `deployment`, by its actor, tagged with its id and version.
pub(crate) fn deployment_event(
    deployment: &Deployment,
    kind: DeployEvent,
    severity: Severity,
    summary: String,
) -> NewEvent {
    NewEvent::new(kind.kind(), deployment.actor.clone(), summary)
        .version(deployment.release.version.clone())
        .severity(severity)
        .payload(json!({"deployment": deployment.id}))
}

/// The event telling that step `index` of `deployment` reached its
/// current status.
pub(crate) fn step_event(deployment: &Deployment, index: usize) -> NewEvent {
    let step = &deployment.plan.steps[index];
    let kind = DeployEvent::of_step(step.status).unwrap_or(DeployEvent::StepStarted);
    let severity = match step.status {
        StepStatus::Failed | StepStatus::RollbackFailed => Severity::Error,
        StepStatus::RollingBack | StepStatus::RolledBack => Severity::Warning,
        _ => Severity::Info,
    };
    let label = step.kind.label();
    let verb = kind.as_str().rsplit('.').next().unwrap_or_default();
    let message = step_message(deployment, index);
    let mut event = NewEvent::new(
        kind.kind(),
        deployment.actor.clone(),
        format!(
            "{} {label} {verb}{}",
            deployment.id,
            message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
    )
    .version(deployment.release.version.clone())
    .severity(severity)
    .payload(json!({
        "deployment": deployment.id,
        "step": label,
        "index": index,
        "status": step.status,
        "detail": step.detail,
        "error": step.error,
    }));
    if let StepKind::UpdateServices { service } = &step.kind {
        event = event.service(service.clone());
    }
    event
}

/// The error or detail of a step, for summaries and live updates.
pub(crate) fn step_message(deployment: &Deployment, index: usize) -> Option<String> {
    let step = &deployment.plan.steps[index];
    step.error.clone().or_else(|| step.detail.clone())
}

/// The event that ends a deployment, with its outcome in the payload.
pub(crate) fn outcome_event(deployment: &Deployment) -> NewEvent {
    use crate::model::DeploymentStatus as S;
    let (kind, severity, what) = match deployment.status {
        S::Succeeded => (
            DeployEvent::Succeeded,
            Severity::Info,
            format!("succeeded: {}", describe_changes(&deployment.plan.changes)),
        ),
        S::RolledBack => (
            DeployEvent::RolledBack,
            Severity::Warning,
            format!("rolled back: {}", cause(deployment)),
        ),
        S::Aborted => (
            DeployEvent::Aborted,
            Severity::Warning,
            format!("stopped before it changed anything: {}", cause(deployment)),
        ),
        S::Failed | S::Running | S::RollingBack => (
            DeployEvent::Failed,
            Severity::Critical,
            "failed and could not be fully rolled back".to_owned(),
        ),
    };
    deployment_event(
        deployment,
        kind,
        severity,
        format!(
            "deployment {} of {} {what}",
            deployment.id, deployment.release.version
        ),
    )
    .payload(json!({
        "deployment": deployment.id,
        "status": deployment.status,
        "error": deployment.error,
        "services": deployment.services,
    }))
}

fn cause(deployment: &Deployment) -> &str {
    deployment.error.as_deref().unwrap_or("cancelled")
}

/// The changes of a plan in one line, e.g. `update agent 1.0 -> 1.1`.
pub(crate) fn describe_changes(changes: &[ServiceChange]) -> String {
    let version = |version: &Option<Version>, none: &'static str| {
        version
            .as_ref()
            .map_or(none.to_owned(), |version| version.to_string())
    };
    let parts: Vec<String> = changes
        .iter()
        .filter_map(|change| {
            Some(match change.kind {
                ChangeKind::Create => format!(
                    "create {} ({}x {})",
                    change.service,
                    change.to_replicas,
                    version(&change.to_version, "")
                ),
                ChangeKind::Update => format!(
                    "update {} {} -> {}",
                    change.service,
                    version(&change.from_version, "?"),
                    version(&change.to_version, "?")
                ),
                ChangeKind::Scale => format!(
                    "scale {} {} -> {}",
                    change.service, change.from_replicas, change.to_replicas
                ),
                ChangeKind::Remove => format!("remove {}", change.service),
                ChangeKind::Unchanged => return None,
            })
        })
        .collect();
    if parts.is_empty() {
        "no changes".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The journal event of a rollout event of deployment `deployment_id`.
pub(crate) fn rollout_event(deployment_id: &str, event: &RolloutEvent) -> NewEvent {
    let (kind, service, summary) = describe_rollout(event);
    let mut payload = serde_json::to_value(event).unwrap_or_default();
    payload["deployment"] = json!(deployment_id);
    let failed = match event {
        RolloutEvent::GateEvaluated { verdict, .. } => !verdict.passed,
        RolloutEvent::CanaryVerdict { verdict, .. } => !verdict.passed,
        _ => false,
    };
    NewEvent::new(kind.kind(), Actor::system(), summary)
        .service(service)
        .severity(if failed {
            Severity::Warning
        } else {
            Severity::Info
        })
        .payload(payload)
}

fn describe_rollout(event: &RolloutEvent) -> (DeployEvent, Name, String) {
    match event {
        RolloutEvent::Started {
            service,
            replica,
            version,
        } => (
            DeployEvent::ReplicaStarted,
            service.clone(),
            format!("replica {replica} of {service} started ({version})"),
        ),
        RolloutEvent::Healthy {
            service,
            replica,
            after_ms,
        } => (
            DeployEvent::ReplicaHealthy,
            service.clone(),
            format!("replica {replica} of {service} healthy after {after_ms} ms"),
        ),
        RolloutEvent::Unhealthy {
            service,
            replica,
            reason,
        } => (
            DeployEvent::ReplicaUnhealthy,
            service.clone(),
            format!("replica {replica} of {service} unhealthy: {reason}"),
        ),
        RolloutEvent::Added { service, replica } => (
            DeployEvent::ReplicaAdded,
            service.clone(),
            format!("replica {replica} of {service} takes traffic"),
        ),
        RolloutEvent::Switched { service, replicas } => (
            DeployEvent::TrafficSwitched,
            service.clone(),
            format!("{service} traffic switched to {}", replicas.join(", ")),
        ),
        RolloutEvent::Drained {
            service,
            replica,
            abandoned,
        } => (
            DeployEvent::ReplicaDrained,
            service.clone(),
            format!("replica {replica} of {service} drained ({abandoned} requests abandoned)"),
        ),
        RolloutEvent::Stopped { service, replica } => (
            DeployEvent::ReplicaStopped,
            service.clone(),
            format!("replica {replica} of {service} stopped"),
        ),
        RolloutEvent::GateEvaluated { service, verdict } => (
            DeployEvent::GateEvaluated,
            service.clone(),
            format!(
                "gate {} of {service} {}: {}",
                verdict.gate,
                if verdict.passed { "passed" } else { "failed" },
                verdict.detail
            ),
        ),
        RolloutEvent::CanaryWeight {
            service,
            version,
            stable,
            step,
            weight,
        } => (
            DeployEvent::CanaryWeight,
            service.clone(),
            format!(
                "{service} canary {version} takes {weight}% of traffic (step {step}; stable {stable})"
            ),
        ),
        RolloutEvent::CanaryVerdict { service, verdict } => (
            DeployEvent::CanaryVerdict,
            service.clone(),
            format!(
                "canary verdict of {service} at step {} ({}%): {} {}: {}",
                verdict.step,
                verdict.weight,
                verdict.metric,
                if verdict.passed { "passed" } else { "failed" },
                verdict.detail
            ),
        ),
    }
}

/// The journal event of something a backend reports about a replica on
/// its own.
fn replica_event(event: &ReplicaEvent) -> NewEvent {
    let (kind, service, severity, summary, payload) = match event {
        ReplicaEvent::Exited {
            id,
            service,
            code,
            restart_in,
        } => (
            DeployEvent::ReplicaExited,
            service,
            Severity::Warning,
            format!(
                "replica {id} of {service} exited ({}); restarting in {}",
                code.map_or("killed".to_owned(), |c| format!("code {c}")),
                steward_core::format_duration(*restart_in)
            ),
            json!({"replica": id, "code": code, "restart_in_ms": restart_in.as_millis() as u64}),
        ),
        ReplicaEvent::Restarted {
            id,
            service,
            restarts,
        } => (
            DeployEvent::ReplicaRestarted,
            service,
            Severity::Info,
            format!("replica {id} of {service} restarted (restart {restarts})"),
            json!({"replica": id, "restarts": restarts}),
        ),
        ReplicaEvent::Adopted { id, service } => (
            DeployEvent::ReplicaAdopted,
            service,
            Severity::Info,
            format!("replica {id} of {service} adopted from an earlier steward process"),
            json!({"replica": id}),
        ),
    };
    let mut payload = payload;
    let id = match event {
        ReplicaEvent::Exited { id, .. }
        | ReplicaEvent::Restarted { id, .. }
        | ReplicaEvent::Adopted { id, .. } => id,
    };
    // The link to the replica's lines: a LogQL query that `steward logs
    // --query` and Loki's query API take as is.
    payload["logs_query"] = json!(replica_logs_query(service.as_str(), id));
    NewEvent::new(kind.kind(), Actor::system(), summary)
        .service(service.clone())
        .severity(severity)
        .payload(payload)
}

/// The LogQL stream selector of one replica's lines (the labels the log
/// collector gives them).
pub(crate) fn replica_logs_query(service: &str, replica: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!("{{service={}, replica={}}}", quote(service), quote(replica))
}

/// Journals what a backend reports about replicas on its own (crashes,
/// restarts, adoptions), received on `events`, until `shutdown` (then
/// the events already reported are journaled still) or until the backend
/// closes its channel.
pub(crate) async fn journal_replica_events(
    mut events: broadcast::Receiver<ReplicaEvent>,
    store: Arc<dyn DeployStore>,
    shutdown: &CancellationToken,
) {
    loop {
        let received = tokio::select! {
            biased;
            received = events.recv() => received,
            () = shutdown.cancelled() => break,
        };
        match received {
            Ok(event) => journal_one(store.as_ref(), &event).await,
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::warn!(skipped, "replica events were dropped before the journal");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
    loop {
        match events.try_recv() {
            Ok(event) => journal_one(store.as_ref(), &event).await,
            Err(broadcast::error::TryRecvError::Lagged(skipped)) => {
                tracing::warn!(skipped, "replica events were dropped before the journal");
            }
            Err(_) => return,
        }
    }
}

async fn journal_one(store: &dyn DeployStore, event: &ReplicaEvent) {
    if let Err(err) = store.journal(vec![replica_event(event)]).await {
        tracing::warn!(error = %err, "cannot journal a replica event");
    }
}

#[cfg(test)]
mod tests;

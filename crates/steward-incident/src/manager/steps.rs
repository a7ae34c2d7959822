//! The IncidentManager's side of response plans: each incident's plan
//! moved on in a task of its own, automated steps executed by the
//! [`Responder`](super::Responder) outside the lock and their outcomes
//! saved after.

use steward_core::Actor;

use super::IncidentManager;
use crate::{
    Result, events,
    incident::Incident,
    plan::{Next, StepAction},
};

impl IncidentManager {
    /// Moves incident `id`'s plan on in a task of its own: each
    /// automated step it reaches is executed, its outcome saved, and the
    /// next one reached, until the plan waits for a person or ends.
    pub(super) fn drive(&self, id: &str) {
        if self.inner.stop.is_cancelled() {
            return;
        }
        let (this, id) = (self.clone(), id.to_owned());
        self.inner.tasks.spawn(async move {
            if let Err(err) = this.run_plan(&id).await {
                tracing::warn!(incident = %id, error = %err, "cannot move the response plan on");
            }
        });
    }

    async fn run_plan(&self, id: &str) -> Result<()> {
        loop {
            let Some((incident, index, action)) = self.advance(id).await? else {
                return Ok(());
            };
            let outcome = tokio::select! {
                outcome = self.inner.responder.execute(&incident, &action) => outcome,
                () = self.inner.stop.cancelled() => Err("steward stopped while it ran".to_owned()),
            };
            match &outcome {
                Ok(detail) => {
                    tracing::info!(incident = %id, step = index + 1, detail = %detail, "plan step succeeded");
                }
                Err(error) => {
                    tracing::warn!(incident = %id, step = index + 1, error = %error, "plan step failed");
                }
            }
            let _guard = self.inner.changes.lock().await;
            let mut incident = self.load(id).await?;
            let Some(run) = incident.plan.as_mut() else {
                return Ok(());
            };
            let line = run.record(index, outcome, self.now())?;
            let event = events::step(&incident, &Actor::system(), index, &line);
            self.inner.store.save(&incident, vec![event]).await?;
            if self.inner.stop.is_cancelled() {
                return Ok(());
            }
        }
    }

    /// The next automated step of incident `id`'s plan, marked running
    /// and saved (so nobody else executes it); none when the plan waits
    /// or ended (what waits is saved and journaled once).
    async fn advance(&self, id: &str) -> Result<Option<(Incident, usize, StepAction)>> {
        let _guard = self.inner.changes.lock().await;
        let mut incident = self.load(id).await?;
        if !incident.is_open() {
            return Ok(None);
        }
        let now = self.now();
        let Some(run) = incident.plan.as_mut() else {
            return Ok(None);
        };
        let before = run.clone();
        let next = run.next(now);
        let (line, index, execute) = match next {
            Next::Finished => return Ok(None),
            Next::Wait(_) if *run == before => return Ok(None),
            Next::Wait(index) => {
                let step = &run.steps[index];
                let line = match step.spec.action.is_manual() {
                    true => format!(
                        "step {}: {} (waiting for a person)",
                        index + 1,
                        describe(&step.spec.action)
                    ),
                    false => format!(
                        "step {} waits for approval: {}",
                        index + 1,
                        describe(&step.spec.action)
                    ),
                };
                (line, index, None)
            }
            Next::Execute(index, action) => (
                format!("step {} started: {}", index + 1, describe(&action)),
                index,
                Some(action),
            ),
        };
        let event = events::step(&incident, &Actor::system(), index, &line);
        self.inner.store.save(&incident, vec![event]).await?;
        Ok(execute.map(|action| (incident, index, action)))
    }
}

/// A step's action in words.
pub fn describe(action: &StepAction) -> String {
    match action {
        StepAction::Rollback { service } => format!("roll {service} back"),
        StepAction::Restart { service } => format!("restart {service}"),
        StepAction::ScaleOut { service, add } => format!("add {add} replicas to {service}"),
        StepAction::Silence { duration } => format!("silence the alerts for {duration}"),
        StepAction::Command { argv } => format!("run {}", argv.join(" ")),
        StepAction::Webhook { url } => format!("call {url}"),
        StepAction::Manual { text } => text.clone(),
    }
}

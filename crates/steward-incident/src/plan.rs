//! Response plans: ordered steps an incident runs, automated (roll back,
//! restart, scale out, silence, a command, a webhook) or manual (a
//! checklist item a person ticks), automated ones optionally waiting for
//! an approval.
//!
//! A [`PlanRun`] is one incident's progress through its plan, a state
//! machine with the rules that matter when the system is on fire: steps
//! go in order, and a step that failed stops the plan until a person
//! retries or skips it; an automated step is handed out for execution
//! once ([`PlanRun::next`] never hands out a step that runs or ran), so
//! a crash or a second steward replica cannot roll back twice, and only a
//! person's retry runs it again. Every transition returns what to put on
//! the incident's timeline. Executing the actions (through the
//! DeploymentManager's engine, the AlertManager) is the caller's.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepAction {
    /// Roll the service back to its previous release.
    Rollback {
        /// The service.
        service: String,
    },
    /// Restart the service's replicas, one at a time.
    Restart {
        /// The service.
        service: String,
    },
    /// Add replicas to the service.
    ScaleOut {
        /// The service.
        service: String,
        /// How many more.
        add: u32,
    },
    /// Silence the incident's alerts for a while.
    Silence {
        /// For how long (`1h`).
        duration: String,
    },
    /// Run a command (an argv, never a shell string).
    Command {
        /// The program and its arguments.
        argv: Vec<String>,
    },
    /// Call a webhook with the incident.
    Webhook {
        /// Its URL.
        url: String,
    },
    /// A checklist item for a person.
    Manual {
        /// What to do.
        text: String,
    },
}

impl StepAction {
    /// Whether a person does it (a checklist item).
    pub fn is_manual(&self) -> bool {
        matches!(self, StepAction::Manual { .. })
    }
}

/// A step as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StepSpec {
    /// What it does.
    #[serde(flatten)]
    pub action: StepAction,
    /// Whether an automated step waits for a person's approval.
    #[serde(default)]
    pub requires_approval: bool,
}

/// A response plan as configured: which incidents it is for and its steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponsePlanSpec {
    /// Its name.
    pub name: String,
    /// Incidents on any of these services take it.
    #[serde(default)]
    pub services: Vec<String>,
    /// Incidents with an alert of any of these names take it.
    #[serde(default)]
    pub alerts: Vec<String>,
    /// Its steps, in order.
    pub steps: Vec<StepSpec>,
}

impl ResponsePlanSpec {
    /// Whether an incident on `services` with alerts named `alerts` takes
    /// this plan.
    pub fn applies<'a>(
        &self,
        mut services: impl Iterator<Item = &'a str>,
        mut alerts: impl Iterator<Item = &'a str>,
    ) -> bool {
        services.any(|s| self.services.iter().any(|p| p == s))
            || alerts.any(|a| self.alerts.iter().any(|p| p == a))
    }
}

/// Where a step is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StepState {
    /// Not reached yet.
    Pending,
    /// Reached; waits for a person's approval.
    AwaitingApproval,
    /// Handed out for execution (automated) or waiting to be ticked
    /// (manual).
    Running {
        /// Since when.
        since: DateTime<Utc>,
    },
    /// Done.
    Succeeded {
        /// When.
        at: DateTime<Utc>,
        /// What came of it, or who ticked it.
        detail: String,
    },
    /// Failed: the plan waits for a retry or a skip.
    Failed {
        /// When.
        at: DateTime<Utc>,
        /// Why.
        error: String,
    },
    /// Left out by a person.
    Skipped {
        /// By whom.
        by: String,
    },
}

/// A step of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStep {
    /// The step.
    pub spec: StepSpec,
    /// Where it is.
    pub state: StepState,
    /// How many times it was handed out for execution.
    pub attempts: u32,
    /// Who approved it, if it needed approval.
    pub approved_by: Option<String>,
}

/// What to do next in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Execute step `index` now (it is marked running: nobody else gets it).
    Execute(usize, StepAction),
    /// Step `index` waits for a person (an approval, a checklist tick, a
    /// retry after failing, or the outcome of its execution).
    Wait(usize),
    /// Every step succeeded or was skipped.
    Finished,
}

/// One incident's progress through a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRun {
    /// The plan's name.
    pub plan: String,
    /// Its steps.
    pub steps: Vec<RunStep>,
}

impl PlanRun {
    /// A run of `plan`, nothing started.
    pub fn new(plan: &ResponsePlanSpec) -> PlanRun {
        PlanRun {
            plan: plan.name.clone(),
            steps: plan
                .steps
                .iter()
                .map(|spec| RunStep {
                    spec: spec.clone(),
                    state: StepState::Pending,
                    attempts: 0,
                    approved_by: None,
                })
                .collect(),
        }
    }

    /// The next thing to do at `now`: the first step not done decides.
    /// An automated step it reaches (approved when it must be) is marked
    /// running and handed out, once.
    pub fn next(&mut self, now: DateTime<Utc>) -> Next {
        let Some(index) = self.steps.iter().position(|s| {
            !matches!(
                s.state,
                StepState::Succeeded { .. } | StepState::Skipped { .. }
            )
        }) else {
            return Next::Finished;
        };
        let step = &mut self.steps[index];
        match step.state {
            StepState::Pending if step.spec.requires_approval && step.approved_by.is_none() => {
                step.state = StepState::AwaitingApproval;
                Next::Wait(index)
            }
            StepState::Pending => {
                step.state = StepState::Running { since: now };
                if step.spec.action.is_manual() {
                    Next::Wait(index)
                } else {
                    step.attempts += 1;
                    Next::Execute(index, step.spec.action.clone())
                }
            }
            _ => Next::Wait(index),
        }
    }

    fn step(&mut self, index: usize) -> Result<&mut RunStep> {
        let plan = self.plan.clone();
        self.steps
            .get_mut(index)
            .ok_or_else(|| Error::NotFound(format!("plan {plan} has no step {}", index + 1)))
    }

    /// A person approves step `index` (waiting for approval).
    pub fn approve(&mut self, index: usize, by: &str) -> Result<String> {
        let step = self.step(index)?;
        if step.state != StepState::AwaitingApproval {
            return Err(Error::InvalidTransition(format!(
                "step {} does not wait for an approval",
                index + 1
            )));
        }
        step.approved_by = Some(by.to_owned());
        step.state = StepState::Pending;
        Ok(format!("{by} approved step {}", index + 1))
    }

    /// The outcome of executing step `index` (handed out by [`next`](Self::next)).
    pub fn record(
        &mut self,
        index: usize,
        outcome: std::result::Result<String, String>,
        at: DateTime<Utc>,
    ) -> Result<String> {
        let step = self.step(index)?;
        if !matches!(step.state, StepState::Running { .. }) || step.spec.action.is_manual() {
            return Err(Error::InvalidTransition(format!(
                "step {} is not being executed",
                index + 1
            )));
        }
        Ok(match outcome {
            Ok(detail) => {
                let line = format!("step {} succeeded: {detail}", index + 1);
                step.state = StepState::Succeeded { at, detail };
                line
            }
            Err(error) => {
                let line = format!("step {} failed: {error}", index + 1);
                step.state = StepState::Failed { at, error };
                line
            }
        })
    }

    /// A person ticks manual step `index`.
    pub fn tick(&mut self, index: usize, by: &str, at: DateTime<Utc>) -> Result<String> {
        let step = self.step(index)?;
        if !step.spec.action.is_manual() || !matches!(step.state, StepState::Running { .. }) {
            return Err(Error::InvalidTransition(format!(
                "step {} is not a checklist item waiting to be done",
                index + 1
            )));
        }
        step.state = StepState::Succeeded {
            at,
            detail: format!("done by {by}"),
        };
        Ok(format!("{by} did step {}", index + 1))
    }

    /// A person runs failed step `index` again (the only way a step
    /// runs twice).
    pub fn retry(&mut self, index: usize, by: &str) -> Result<String> {
        let step = self.step(index)?;
        if !matches!(step.state, StepState::Failed { .. }) {
            return Err(Error::InvalidTransition(format!(
                "step {} has not failed; only a failed step is retried",
                index + 1
            )));
        }
        step.state = StepState::Pending;
        Ok(format!("{by} retried step {}", index + 1))
    }

    /// A person leaves step `index` out (not one being executed).
    pub fn skip(&mut self, index: usize, by: &str) -> Result<String> {
        let step = self.step(index)?;
        if matches!(step.state, StepState::Succeeded { .. })
            || (matches!(step.state, StepState::Running { .. }) && !step.spec.action.is_manual())
        {
            return Err(Error::InvalidTransition(format!(
                "step {} is done or being executed",
                index + 1
            )));
        }
        step.state = StepState::Skipped { by: by.to_owned() };
        Ok(format!("{by} skipped step {}", index + 1))
    }
}

#[cfg(test)]
mod tests;

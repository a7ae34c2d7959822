//! Escalation policies: who is paged, level after level, until someone
//! acknowledges.
//!
//! A policy's levels page their users and whoever their schedules have
//! on call at that moment; a level that is not acknowledged within its
//! `delay` hands over to the next one, and after the last one the policy
//! starts again from the first, `repeat` more times (PagerDuty's loops).
//! [`EscalationPolicy::pages`] is that plan as data (when, which level,
//! whom), and [`escalate`] carries it out on tokio's clock for one
//! incident: an acknowledgement stops it, a resolution ends it, and an
//! acknowledgement that is not followed by a resolution within the
//! acknowledgement timeout starts it again from the first level.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::HumanDuration;
use tokio::sync::watch;

use super::Schedule;
use crate::{Error, Result};

/// Most repeats of a policy (PagerDuty's most loops): the plan of pages
/// is made whole, so it must stay small.
const MAX_REPEAT: u32 = 9;
/// Longest delay of a level.
const MAX_DELAY: TimeDelta = TimeDelta::days(1);

/// An escalation policy as configured (`[[oncall.escalation_policies]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicySpec {
    /// Its name.
    pub name: String,
    /// The levels, paged in order.
    pub levels: Vec<LevelSpec>,
    /// How many more times the levels are paged from the first once the
    /// last one's delay passed without an acknowledgement.
    #[serde(default)]
    pub repeat: u32,
}

/// One level of a policy as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    /// Users paged by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Schedules whose on-call user is paged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<String>,
    /// How long the level has to acknowledge before the next is paged.
    pub delay: HumanDuration,
}

/// A policy checked against the schedules it names.
#[derive(Debug, Clone)]
pub struct EscalationPolicy {
    name: String,
    levels: Vec<Level>,
    repeat: u32,
}

#[derive(Debug, Clone)]
struct Level {
    users: Vec<String>,
    schedules: Vec<Schedule>,
    delay: TimeDelta,
}

/// One page of the plan: when, which level of which round, and whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// When it is sent.
    pub at: DateTime<Utc>,
    /// The level (0 is the first).
    pub level: usize,
    /// The round (0 is the first pass over the levels).
    pub round: u32,
    /// The users paged: the level's own, then its schedules' on-call
    /// users, each once.
    pub users: Vec<String>,
}

impl EscalationPolicy {
    /// Checks `spec`: levels that page someone after a positive delay,
    /// schedules that exist in `schedules`.
    pub fn new(
        spec: &EscalationPolicySpec,
        schedules: &BTreeMap<String, Schedule>,
    ) -> Result<EscalationPolicy> {
        let invalid = |field: String, reason: String| Error::InvalidPolicy {
            policy: spec.name.clone(),
            field,
            reason,
        };
        if spec.levels.is_empty() {
            return Err(invalid(
                "levels".into(),
                "a policy needs at least one level".into(),
            ));
        }
        let mut levels = Vec::with_capacity(spec.levels.len());
        for (i, level) in spec.levels.iter().enumerate() {
            if level.users.is_empty() && level.schedules.is_empty() {
                return Err(invalid(
                    format!("levels[{i}]"),
                    "a level needs users or schedules to page".into(),
                ));
            }
            let mut resolved = Vec::with_capacity(level.schedules.len());
            for (j, name) in level.schedules.iter().enumerate() {
                let schedule = schedules.get(name).ok_or_else(|| {
                    invalid(
                        format!("levels[{i}].schedules[{j}]"),
                        format!(
                            "no schedule named {name:?} (schedules: {})",
                            schedules.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
                resolved.push(schedule.clone());
            }
            let delay = TimeDelta::from_std(level.delay.get())
                .ok()
                .filter(|d| (TimeDelta::seconds(1)..=MAX_DELAY).contains(d))
                .ok_or_else(|| {
                    invalid(
                        format!("levels[{i}].delay"),
                        format!("{} is not between a second and a day", level.delay),
                    )
                })?;
            levels.push(Level {
                users: level.users.clone(),
                schedules: resolved,
                delay,
            });
        }
        if spec.repeat > MAX_REPEAT {
            return Err(invalid(
                "repeat".into(),
                format!("{} is more than {MAX_REPEAT} repeats", spec.repeat),
            ));
        }
        Ok(EscalationPolicy {
            name: spec.name.clone(),
            levels,
            repeat: spec.repeat,
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every page of an incident triggered at `start` that nobody
    /// acknowledges, in order: each level after the delays of the ones
    /// before it, over `repeat + 1` rounds.
    pub fn pages(&self, start: DateTime<Utc>) -> Vec<Page> {
        let mut pages = Vec::new();
        let mut at = start;
        for round in 0..=self.repeat {
            for (level, spec) in self.levels.iter().enumerate() {
                let mut users = spec.users.clone();
                for schedule in &spec.schedules {
                    if let Some(on) = schedule.who(at)
                        && !users.contains(&on.user)
                    {
                        users.push(on.user);
                    }
                }
                pages.push(Page {
                    at,
                    level,
                    round,
                    users,
                });
                at += spec.delay;
            }
        }
        pages
    }
}

/// Where an incident is, as its escalation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// Nobody has acknowledged it.
    Triggered,
    /// Someone acknowledged it at this time.
    Acknowledged(DateTime<Utc>),
    /// It is resolved (or mitigated): escalation is over.
    Resolved,
}

/// What the escalation does, for whoever sends the pages and records them.
#[async_trait::async_trait]
pub trait Pager: Send + Sync {
    /// Sends `page` (its users' contact methods).
    async fn page(&self, page: &Page);

    /// The acknowledgement of `acknowledged_at` was not followed by a
    /// resolution in time: the incident is triggered again at `at`, and
    /// escalation starts over from the first level.
    async fn retriggered(&self, acknowledged_at: DateTime<Utc>, at: DateTime<Utc>);
}

/// How an escalation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The incident was resolved.
    Resolved,
    /// The incident's state went away (its manager stopped).
    Stopped,
}

/// Carries out `policy` for an incident triggered at `started` (wall
/// clock), on tokio's clock from now, following its `response`: pages
/// each level when due while nobody acknowledges; an acknowledgement
/// stops paging, and without a resolution within `ack_timeout` (if set)
/// the incident is triggered again and paging starts over from the
/// first level. Once every round is paged it waits for a response.
pub async fn escalate(
    policy: &EscalationPolicy,
    started: DateTime<Utc>,
    ack_timeout: Option<Duration>,
    pager: &dyn Pager,
    mut response: watch::Receiver<Response>,
) -> Ended {
    let origin = tokio::time::Instant::now();
    // Wall-clock times and tokio's instants, one from the other, so that
    // paused time moves both (and schedules see the time it is).
    let wall = |at: tokio::time::Instant| {
        started + TimeDelta::from_std(at - origin).unwrap_or(TimeDelta::zero())
    };
    let instant = |at: DateTime<Utc>| origin + (at - started).to_std().unwrap_or(Duration::ZERO);
    // An acknowledgement whose timeout passed counts as none, until
    // whoever keeps the incident's state says it is triggered again.
    let mut stale: Option<DateTime<Utc>> = None;
    let current =
        |response: &mut watch::Receiver<Response>, stale: Option<DateTime<Utc>>| match *response
            .borrow_and_update()
        {
            Response::Acknowledged(at) if Some(at) == stale => Response::Triggered,
            other => other,
        };
    let mut trigger = started;
    loop {
        // paging, level after level, while nobody acknowledges
        let mut acknowledged = None;
        'paging: for page in policy.pages(trigger) {
            loop {
                match current(&mut response, stale) {
                    Response::Resolved => return Ended::Resolved,
                    Response::Acknowledged(at) => {
                        acknowledged = Some(at);
                        break 'paging;
                    }
                    Response::Triggered => {}
                }
                tokio::select! {
                    () = tokio::time::sleep_until(instant(page.at)) => break,
                    changed = response.changed() => {
                        if changed.is_err() {
                            return Ended::Stopped;
                        }
                    }
                }
            }
            pager.page(&page).await;
        }
        // every page sent: wait for someone
        let mut acknowledged_at = match acknowledged {
            Some(at) => at,
            None => loop {
                match current(&mut response, stale) {
                    Response::Resolved => return Ended::Resolved,
                    Response::Acknowledged(at) => break at,
                    Response::Triggered => {}
                }
                if response.changed().await.is_err() {
                    return Ended::Stopped;
                }
            },
        };
        // acknowledged: resolved in time, acknowledged again (a new
        // timeout), triggered again by a person, or timed out
        loop {
            match current(&mut response, stale) {
                Response::Resolved => return Ended::Resolved,
                Response::Acknowledged(at) if at != acknowledged_at => {
                    acknowledged_at = at;
                    continue;
                }
                Response::Acknowledged(_) => {}
                Response::Triggered => {
                    trigger = wall(tokio::time::Instant::now());
                    break;
                }
            }
            let deadline = ack_timeout
                .and_then(|t| TimeDelta::from_std(t).ok())
                .map(|t| instant(acknowledged_at + t));
            let timed_out = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = timed_out => {
                    let now = wall(tokio::time::Instant::now());
                    pager.retriggered(acknowledged_at, now).await;
                    stale = Some(acknowledged_at);
                    trigger = now;
                    break;
                }
                changed = response.changed() => {
                    if changed.is_err() {
                        return Ended::Stopped;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

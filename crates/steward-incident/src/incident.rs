//! The incident record and its life: severity SEV1 to SEV4, status
//! triggered, acknowledged, mitigated, resolved (and reopened), the
//! people on it, the alert groups attached, and the times that make its
//! time to acknowledge, mitigate and resolve.
//!
//! [`Incident::apply`] is the only way a record changes: each
//! [`Action`] is checked against the status (an action that makes no
//! sense there is refused with the reason), and what it changed is
//! returned as a [`Change`] for the journal, or [`Change::None`] when it
//! was already so (acknowledging twice is not an error: two people may
//! press the button at once).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, plan::PlanRun, postmortem::ActionItem};

/// How bad an incident is; SEV1 is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Critical: the system or a critical service is down for users.
    Sev1,
    /// Major: a service is degraded for many users.
    Sev2,
    /// Minor: a part is degraded, or few users are affected.
    Sev3,
    /// Low: no user impact yet.
    Sev4,
}

impl Severity {
    /// `SEV1` to `SEV4`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV1",
            Severity::Sev2 => "SEV2",
            Severity::Sev3 => "SEV3",
            Severity::Sev4 => "SEV4",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = Error;

    /// `SEV1` to `SEV4`, in any case, or `1` to `4`.
    fn from_str(text: &str) -> Result<Severity> {
        let digits = text
            .trim()
            .to_ascii_uppercase()
            .strip_prefix("SEV")
            .map(str::to_owned)
            .unwrap_or_else(|| text.trim().to_owned());
        match digits.as_str() {
            "1" => Ok(Severity::Sev1),
            "2" => Ok(Severity::Sev2),
            "3" => Ok(Severity::Sev3),
            "4" => Ok(Severity::Sev4),
            _ => Err(Error::InvalidInput(format!(
                "severity {text:?}: expected SEV1, SEV2, SEV3 or SEV4"
            ))),
        }
    }
}

/// Where an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Open, nobody has acknowledged it: escalation pages.
    Triggered,
    /// Someone is on it.
    Acknowledged,
    /// The impact is over (rolled back, failed over); the cause may not be.
    Mitigated,
    /// Over.
    Resolved,
}

impl Status {
    /// `triggered`, `acknowledged`, `mitigated` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Triggered => "triggered",
            Status::Acknowledged => "acknowledged",
            Status::Mitigated => "mitigated",
            Status::Resolved => "resolved",
        }
    }
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Its id (`inc-42`).
    pub id: String,
    /// What is happening, in a line.
    pub title: String,
    /// How bad it is.
    pub severity: Severity,
    /// Where it is.
    pub status: Status,
    /// The services affected.
    pub services: BTreeSet<String>,
    /// Who leads the response.
    pub commander: Option<String>,
    /// Who works on it.
    pub assignees: BTreeSet<String>,
    /// The alert groups attached (the AlertManager's group keys).
    pub alert_groups: BTreeSet<String>,
    /// What deduplicates automatic openings (one incident per key while
    /// it is open).
    pub dedup_key: Option<String>,
    /// When the first alert of it started, if it came from alerts.
    pub detected_at: Option<DateTime<Utc>>,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When it was first acknowledged (since it was last opened).
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When it was mitigated.
    pub mitigated_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// How many times it was reopened.
    pub reopened: u32,
    /// The names of its alerts (`alertname`), which pick its response
    /// plan.
    #[serde(default)]
    pub alert_names: BTreeSet<String>,
    /// The attached alert groups that still fire: when the last one
    /// resolves, so may the incident.
    #[serde(default)]
    pub firing_groups: BTreeSet<String>,
    /// Its run through its response plan, if a plan applies.
    #[serde(default)]
    pub plan: Option<PlanRun>,
    /// Its action items.
    #[serde(default)]
    pub action_items: Vec<ActionItem>,
}

/// A change asked of an incident, by someone (a user name, or
/// `steward` for automatic ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Someone is on it.
    Acknowledge,
    /// Nobody is any more (an acknowledgement that timed out, or undone).
    Unacknowledge,
    /// The impact is over.
    Mitigate,
    /// It is over.
    Resolve,
    /// It is back (after mitigation or resolution).
    Reopen,
    /// A new severity.
    SetSeverity(Severity),
    /// A new commander.
    SetCommander(String),
    /// Someone else works on it.
    Assign(String),
    /// An alert group belongs to it, and fires; its services and alert
    /// names too.
    AttachAlertGroup {
        /// The group's key.
        key: String,
        /// The services its alerts name.
        services: BTreeSet<String>,
        /// Its alerts' names.
        names: BTreeSet<String>,
    },
    /// An attached alert group stopped firing.
    AlertGroupResolved(String),
}

/// What an action changed, for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing: it was already so.
    None,
    /// The status went from one to the other.
    Status {
        /// Before.
        from: Status,
        /// After.
        to: Status,
    },
    /// The severity went from one to the other.
    Severity {
        /// Before.
        from: Severity,
        /// After.
        to: Severity,
    },
    /// A field of people or alerts changed (`commander`, `assignees`,
    /// `alert_groups`).
    Field(&'static str),
}

impl Incident {
    /// A new triggered incident opened at `at`.
    pub fn open(
        id: impl Into<String>,
        title: impl Into<String>,
        severity: Severity,
        at: DateTime<Utc>,
    ) -> Incident {
        Incident {
            id: id.into(),
            title: title.into(),
            severity,
            status: Status::Triggered,
            services: BTreeSet::new(),
            commander: None,
            assignees: BTreeSet::new(),
            alert_groups: BTreeSet::new(),
            dedup_key: None,
            detected_at: None,
            opened_at: at,
            acknowledged_at: None,
            mitigated_at: None,
            resolved_at: None,
            reopened: 0,
            alert_names: BTreeSet::new(),
            firing_groups: BTreeSet::new(),
            plan: None,
            action_items: Vec::new(),
        }
    }

    /// Whether it is still open (not resolved).
    pub fn is_open(&self) -> bool {
        self.status != Status::Resolved
    }

    /// Applies `action` at `at`: the change, or why it cannot be done in
    /// this status.
    pub fn apply(&mut self, action: Action, at: DateTime<Utc>) -> Result<Change> {
        let from = self.status;
        let refuse = |what: &str| {
            Err(Error::InvalidTransition(format!(
                "incident {} is {}: {what}",
                self.id,
                from.as_str()
            )))
        };
        let to = match action {
            Action::Acknowledge => match from {
                Status::Triggered => {
                    self.acknowledged_at.get_or_insert(at);
                    Status::Acknowledged
                }
                Status::Acknowledged | Status::Mitigated => return Ok(Change::None),
                Status::Resolved => return refuse("reopen it before acknowledging it"),
            },
            Action::Unacknowledge => match from {
                Status::Acknowledged => Status::Triggered,
                Status::Triggered => return Ok(Change::None),
                Status::Mitigated | Status::Resolved => {
                    return refuse(
                        "only an acknowledged incident can be triggered again; reopen it",
                    );
                }
            },
            Action::Mitigate => match from {
                Status::Triggered | Status::Acknowledged => {
                    // mitigating is acting on it: acknowledged then too
                    self.acknowledged_at.get_or_insert(at);
                    self.mitigated_at = Some(at);
                    Status::Mitigated
                }
                Status::Mitigated => return Ok(Change::None),
                Status::Resolved => return refuse("it is over already"),
            },
            Action::Resolve => match from {
                Status::Resolved => return Ok(Change::None),
                _ => {
                    // over means its impact is over too; but an incident
                    // nobody acknowledged (its alerts stopped by
                    // themselves) keeps no acknowledgement time, so that
                    // it does not count in MTTA, as PagerDuty counts it
                    self.mitigated_at.get_or_insert(at);
                    self.resolved_at = Some(at);
                    Status::Resolved
                }
            },
            Action::Reopen => match from {
                Status::Mitigated | Status::Resolved => {
                    self.reopened += 1;
                    self.acknowledged_at = None;
                    self.mitigated_at = None;
                    self.resolved_at = None;
                    Status::Triggered
                }
                Status::Triggered | Status::Acknowledged => return Ok(Change::None),
            },
            Action::SetSeverity(severity) => {
                if severity == self.severity {
                    return Ok(Change::None);
                }
                let before = std::mem::replace(&mut self.severity, severity);
                return Ok(Change::Severity {
                    from: before,
                    to: severity,
                });
            }
            Action::SetCommander(user) => {
                if self.commander.as_deref() == Some(user.as_str()) {
                    return Ok(Change::None);
                }
                self.commander = Some(user);
                return Ok(Change::Field("commander"));
            }
            Action::Assign(user) => {
                return Ok(if self.assignees.insert(user) {
                    Change::Field("assignees")
                } else {
                    Change::None
                });
            }
            Action::AttachAlertGroup {
                key,
                services,
                names,
            } => {
                if from == Status::Resolved {
                    return refuse(
                        "a resolved incident takes no alerts; open a new one or reopen it",
                    );
                }
                let new_group = self.alert_groups.insert(key.clone());
                let newly_firing = self.firing_groups.insert(key);
                let before = (self.services.len(), self.alert_names.len());
                self.services.extend(services);
                self.alert_names.extend(names);
                let grew = before != (self.services.len(), self.alert_names.len());
                return Ok(if new_group || newly_firing || grew {
                    Change::Field("alert_groups")
                } else {
                    Change::None
                });
            }
            Action::AlertGroupResolved(key) => {
                return Ok(if self.firing_groups.remove(&key) {
                    Change::Field("firing_groups")
                } else {
                    Change::None
                });
            }
        };
        self.status = to;
        Ok(Change::Status { from, to })
    }

    /// Time to detect (first alert to opening), acknowledge, mitigate and
    /// resolve (each from the opening), as far as it got.
    pub fn durations(&self) -> Durations {
        let since_open = |t: Option<DateTime<Utc>>| t.map(|t| t - self.opened_at);
        Durations {
            detect: self.detected_at.map(|d| self.opened_at - d),
            acknowledge: since_open(self.acknowledged_at),
            mitigate: since_open(self.mitigated_at),
            resolve: since_open(self.resolved_at),
        }
    }
}

/// An incident's response times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Durations {
    /// From the first alert to the opening.
    pub detect: Option<TimeDelta>,
    /// From the opening to the first acknowledgement.
    pub acknowledge: Option<TimeDelta>,
    /// From the opening to mitigation.
    pub mitigate: Option<TimeDelta>,
    /// From the opening to resolution.
    pub resolve: Option<TimeDelta>,
}

/// Mean times across incidents: MTTA over the acknowledged ones, MTTR
/// over the resolved ones (and detection and mitigation likewise), with
/// how many each mean is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeanTimes {
    /// Mean time to detect, and over how many.
    pub detect: Option<(TimeDelta, usize)>,
    /// Mean time to acknowledge (MTTA).
    pub acknowledge: Option<(TimeDelta, usize)>,
    /// Mean time to mitigate.
    pub mitigate: Option<(TimeDelta, usize)>,
    /// Mean time to resolve (MTTR).
    pub resolve: Option<(TimeDelta, usize)>,
}

/// The mean times of `incidents`.
pub fn mean_times<'a>(incidents: impl IntoIterator<Item = &'a Incident>) -> MeanTimes {
    let all: Vec<Durations> = incidents.into_iter().map(Incident::durations).collect();
    let mean = |pick: fn(&Durations) -> Option<TimeDelta>| {
        let values: Vec<TimeDelta> = all.iter().filter_map(pick).collect();
        let n = values.len();
        (n > 0).then(|| {
            let total_ms: i64 = values.iter().map(TimeDelta::num_milliseconds).sum();
            (TimeDelta::milliseconds(total_ms / n as i64), n)
        })
    };
    MeanTimes {
        detect: mean(|d| d.detect),
        acknowledge: mean(|d| d.acknowledge),
        mitigate: mean(|d| d.mitigate),
        resolve: mean(|d| d.resolve),
    }
}

#[cfg(test)]
mod tests;

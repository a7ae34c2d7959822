//! steward's IncidentManager: incidents opened from alert groups, on-call
//! schedules and escalation, response plans, timelines from the journal,
//! root-cause candidates and postmortems.
//!
//! Its parts:
//! - [`incident`]: the incident record, its transitions and response
//!   times (MTTA, MTTR); [`events`], how each change is journaled;
//! - [`impact`]: the services an incident reaches, how hard, and the
//!   severity that calls for;
//! - [`policy`]: which alert groups open incidents and which join one;
//! - [`plan`]: response plans and one incident's run through its plan;
//! - [`rca`]: root-cause candidates, ranked changes with their evidence;
//! - [`manager`]: the [`IncidentManager`] that runs it all: incidents
//!   from alert groups, paging, plans executed, every change journaled;
//! - [`store`]: the persistence it needs ([`store::IncidentStore`],
//!   implemented by steward-store);
//! - [`postmortem`]: the postmortem in the SRE book's form, from the
//!   incident's data, with its timeline and action items;
//! - [`oncall`]: who is on call when: schedules of rotation layers in a
//!   named time zone (daily, weekly and custom turns, handoff times that
//!   keep their wall-clock time across daylight-saving changes),
//!   restrictions and overrides; escalation policies carried out on
//!   tokio's clock.

pub mod events;
pub mod impact;
pub mod incident;
pub mod manager;
pub mod oncall;
pub mod plan;
pub mod policy;
pub mod postmortem;
pub mod rca;
pub mod store;

mod error;

pub use error::{Error, Result};
pub use manager::IncidentManager;

/// Times the unit tests share.
#[cfg(test)]
mod test_time {
    use chrono::{DateTime, TimeDelta, Utc};

    /// `minutes` after 2026-03-02 10:00 UTC.
    pub(crate) fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
            + TimeDelta::minutes(minutes)
    }
}

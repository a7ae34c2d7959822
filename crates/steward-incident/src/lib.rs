//! steward's IncidentManager: incidents opened from alert groups, on-call
//! schedules and escalation, response plans, timelines from the journal,
//! root-cause candidates and postmortems.
//!
//! Built in parts; what exists now:
//! - [`oncall`]: who is on call when: schedules of rotation layers in a
//!   named time zone (daily, weekly and custom turns, handoff times that
//!   keep their wall-clock time across daylight-saving changes),
//!   restrictions and overrides.

pub mod oncall;

mod error;

pub use error::{Error, Result};

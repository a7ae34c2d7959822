//! The `[oncall]` section: on-call schedules (`[[oncall.schedules]]`),
//! in the IncidentManager's own types, which check them
//! ([`steward_incident::oncall::Schedule::new`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_incident::oncall::ScheduleSpec;

/// Who is on call, when.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OncallConfig {
    /// The schedules: rotation layers in a time zone, restrictions and
    /// overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleSpec>,
}

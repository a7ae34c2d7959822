//! The `[oncall]` section: on-call schedules (`[[oncall.schedules]]`) and
//! escalation policies (`[[oncall.escalation_policies]]`), in the
//! IncidentManager's own types, which check them
//! ([`steward_incident::oncall::Schedule::new`],
//! [`steward_incident::oncall::EscalationPolicy::new`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_incident::oncall::{EscalationPolicySpec, ScheduleSpec};

/// Who is on call, when.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OncallConfig {
    /// The schedules: rotation layers in a time zone, restrictions and
    /// overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleSpec>,
    /// Escalation policies: levels of users and schedules paged in turn
    /// until someone acknowledges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation_policies: Vec<EscalationPolicySpec>,
}

//! The `[oncall]` section: the people paged and how to reach them
//! (`[[oncall.users]]`), on-call schedules (`[[oncall.schedules]]`) and
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
    /// The people paged, each with the receivers of steward's
    /// AlertManager that reach them (its webhook, Slack, email...
    /// integrations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserConfig>,
    /// The schedules: rotation layers in a time zone, restrictions and
    /// overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleSpec>,
    /// Escalation policies: levels of users and schedules paged in turn
    /// until someone acknowledges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation_policies: Vec<EscalationPolicySpec>,
}

/// A person who can be paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Their name, as schedules and escalation levels name them.
    pub name: String,
    /// Receivers of the Alertmanager configuration (`[alerts]`) that
    /// reach them: a page goes to each.
    pub receivers: Vec<String>,
}

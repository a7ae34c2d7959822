//! The `[incidents]` section: how the IncidentManager opens incidents
//! from the alert groups `[alerts] incident_severity` hands it, whom it
//! pages, and the response plans it runs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::HumanDuration;
use steward_incident::plan::ResponsePlanSpec;

/// How incidents are opened, escalated and responded to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentsConfig {
    /// Alert groups this severe or worse open an incident (`SEV1` to
    /// `SEV4`; alerts' `severity` labels map `critical` and `page` to
    /// SEV1, `error` to SEV2, `warning` to SEV3, anything else to SEV4).
    #[serde(default = "default_open_at")]
    pub open_at: String,
    /// The escalation policy (`[[oncall.escalation_policies]]`) that
    /// pages for new incidents; none: nobody is paged.
    #[serde(default)]
    pub escalation_policy: Option<String>,
    /// An acknowledged incident not mitigated or resolved within this
    /// long is triggered again, and paging starts over.
    #[serde(default)]
    pub ack_timeout: Option<HumanDuration>,
    /// Resolve an incident opened from alerts once none of its alert
    /// groups fires any more.
    #[serde(default = "default_true")]
    pub auto_resolve: bool,
    /// How long before an incident's first alert changes are root-cause
    /// candidates.
    #[serde(default = "default_rca_window")]
    pub rca_window: HumanDuration,
    /// A change this long before the first alert counts half as likely
    /// as one just before it (and a quarter at twice this long...).
    #[serde(default = "default_rca_half_life")]
    pub rca_half_life: HumanDuration,
    /// Service level objectives: an incident's impact shows how fast
    /// each affected service burns its error budget, and how many of its
    /// tasks failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slos: Vec<SloConfig>,
    /// Response plans, the first that applies to an incident (by its
    /// services or alert names) runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_plans: Vec<ResponsePlanSpec>,
}

fn default_open_at() -> String {
    "SEV2".to_owned()
}

fn default_rca_window() -> HumanDuration {
    std::time::Duration::from_secs(2 * 3600).into()
}

fn default_rca_half_life() -> HumanDuration {
    std::time::Duration::from_secs(15 * 60).into()
}

fn default_true() -> bool {
    true
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        IncidentsConfig {
            open_at: default_open_at(),
            escalation_policy: None,
            ack_timeout: None,
            auto_resolve: true,
            rca_window: default_rca_window(),
            rca_half_life: default_rca_half_life(),
            slos: Vec::new(),
            response_plans: Vec::new(),
        }
    }
}

/// A service's objective, and how steward's metrics measure it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    /// The service.
    pub service: String,
    /// The share of requests or tasks that must succeed (`0.99`).
    pub objective: f64,
    /// PromQL: the share failing now, 0 to 1
    /// (`sum(rate(tasks_total{outcome="error"}[5m])) / sum(rate(tasks_total[5m]))`).
    pub error_ratio: String,
    /// PromQL: how many failed since the incident started, `$window`
    /// standing for that duration
    /// (`sum(increase(tasks_total{outcome="error"}[$window]))`).
    #[serde(default)]
    pub failed: Option<String>,
}

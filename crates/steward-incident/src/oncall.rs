//! On-call: who is paged when. [`Schedule`]s of rotation layers compute
//! the user on call at any instant and the shifts over a period;
//! [`EscalationPolicy`]s page their levels until someone acknowledges
//! ([`escalate`]).

mod escalation;
mod schedule;

pub use escalation::{
    Ended, EscalationPolicy, EscalationPolicySpec, LevelSpec, Page, Pager, Response, escalate,
};

pub use schedule::{
    LayerSpec, OnCall, OverrideSpec, RestrictionSpec, Schedule, ScheduleSpec, Shift, Source,
};

//! On-call: who is paged when. [`Schedule`]s of rotation layers compute
//! the user on call at any instant and the shifts over a period.

mod schedule;

pub use schedule::{
    LayerSpec, OnCall, OverrideSpec, RestrictionSpec, Schedule, ScheduleSpec, Shift, Source,
};

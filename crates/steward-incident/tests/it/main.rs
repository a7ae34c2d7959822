//! Integration tests of steward-incident: the data-driven cases of
//! `tests/cases/` (on-call schedules, root-cause rankings).

mod rca;
mod schedules;

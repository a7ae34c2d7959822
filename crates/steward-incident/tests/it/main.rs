//! Integration tests of steward-incident: the data-driven on-call
//! schedule cases of `tests/cases/schedules/`.

mod schedules;

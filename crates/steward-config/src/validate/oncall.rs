//! Checks of `[oncall]`: unique schedule and policy names, and each
//! schedule and escalation policy as the IncidentManager takes it (a
//! known time zone, users, turns, restrictions, overrides; levels that
//! page someone after a delay, schedules that exist), reported at the
//! field at fault.

use std::collections::{BTreeMap, HashSet};

use steward_incident::oncall::{EscalationPolicy, Schedule};

use super::Checker;
use crate::node::Segment;

impl Checker<'_, '_, '_> {
    pub(super) fn oncall(&mut self, oncall: &crate::OncallConfig) {
        let mut seen = HashSet::new();
        let mut schedules = BTreeMap::new();
        for (i, spec) in oncall.schedules.iter().enumerate() {
            if !seen.insert(spec.name.as_str()) {
                self.error(
                    &path!["oncall", "schedules", i, "name"],
                    format!("duplicate schedule name `{}`", spec.name),
                    Some("each schedule needs its own name".into()),
                );
            }
            match Schedule::new(spec) {
                Ok(schedule) => {
                    schedules.insert(spec.name.clone(), schedule);
                }
                Err(steward_incident::Error::InvalidSchedule { field, reason, .. }) => {
                    self.field_error(&path!["oncall", "schedules", i], &field, reason);
                }
                Err(other) => self.error(&path!["oncall", "schedules", i], other.to_string(), None),
            }
        }
        let mut seen = HashSet::new();
        for (i, spec) in oncall.escalation_policies.iter().enumerate() {
            if !seen.insert(spec.name.as_str()) {
                self.error(
                    &path!["oncall", "escalation_policies", i, "name"],
                    format!("duplicate escalation policy name `{}`", spec.name),
                    Some("each escalation policy needs its own name".into()),
                );
            }
            // a schedule that is itself invalid was reported above
            let known = spec.levels.iter().flat_map(|l| &l.schedules).all(|name| {
                schedules.contains_key(name) || !oncall.schedules.iter().any(|s| &s.name == name)
            });
            match EscalationPolicy::new(spec, &schedules) {
                Ok(_) => {}
                Err(steward_incident::Error::InvalidPolicy { field, reason, .. }) if known => {
                    self.field_error(&path!["oncall", "escalation_policies", i], &field, reason);
                }
                Err(_) => {}
            }
        }
    }

    /// An error at `field` (`levels[0].delay`) under `base`.
    fn field_error(&mut self, base: &[Segment], field: &str, reason: String) {
        let mut at = base.to_vec();
        at.extend(field_path(field));
        self.error(&at, reason, None);
    }
}

/// `layers[0].restrictions[1].duration` as path segments.
fn field_path(field: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            out.push(Segment::from(key));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse::<usize>() {
                out.push(Segment::from(i));
            }
        }
    }
    out
}

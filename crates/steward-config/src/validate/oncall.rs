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
        // schedules reported as invalid: a policy naming one is not
        // reported again for it
        let mut invalid = HashSet::new();
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
                Err(err) => {
                    invalid.insert(spec.name.as_str());
                    self.incident_error(&path!["oncall", "schedules", i], err);
                }
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
            let names_invalid = spec
                .levels
                .iter()
                .flat_map(|l| &l.schedules)
                .any(|name| invalid.contains(name.as_str()));
            if let Err(err) = EscalationPolicy::new(spec, &schedules)
                && !names_invalid
            {
                self.incident_error(&path!["oncall", "escalation_policies", i], err);
            }
        }
    }

    /// The IncidentManager's refusal of what is at `base`, at the field
    /// it names (`levels[0].delay`).
    fn incident_error(&mut self, base: &[Segment], err: steward_incident::Error) {
        let mut at = base.to_vec();
        let reason = match err {
            steward_incident::Error::InvalidSchedule { field, reason, .. }
            | steward_incident::Error::InvalidPolicy { field, reason, .. } => {
                at.extend(field_path(&field));
                reason
            }
            other => other.to_string(),
        };
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

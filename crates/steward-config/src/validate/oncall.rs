//! Checks of `[oncall]`: unique schedule names, and each schedule as the
//! IncidentManager takes it (a known time zone, users, turns,
//! restrictions, overrides), reported at the field at fault.

use steward_incident::oncall::Schedule;

use super::Checker;
use crate::node::Segment;

impl Checker<'_, '_, '_> {
    pub(super) fn oncall(&mut self, oncall: &crate::OncallConfig) {
        let mut seen = std::collections::HashSet::new();
        for (i, spec) in oncall.schedules.iter().enumerate() {
            if !seen.insert(spec.name.as_str()) {
                self.error(
                    &path!["oncall", "schedules", i, "name"],
                    format!("duplicate schedule name `{}`", spec.name),
                    Some("each schedule needs its own name".into()),
                );
            }
            if let Err(steward_incident::Error::InvalidSchedule { field, reason, .. }) =
                Schedule::new(spec)
            {
                let mut at = path!["oncall", "schedules", i].to_vec();
                at.extend(field_path(&field));
                self.error(&at, reason, None);
            }
        }
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

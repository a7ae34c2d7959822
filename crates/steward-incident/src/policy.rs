//! Which alert groups open incidents: the opening policy.
//!
//! An alert group (the AlertManager's notification unit) is worth an
//! incident when its worst alert's severity, mapped to SEV1..SEV4, is at
//! least the policy's threshold. One incident per group key: a group
//! already attached to an open incident (or whose key opened it) stays
//! with it, and so does a group whose services overlap an open
//! incident's (later alerts of the same trouble join the incident that
//! is already being worked on), raising its severity when it is worse.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::incident::{Incident, Severity};

/// The label that names an alert's service.
pub const SERVICE_LABEL: &str = "service";
/// The label that carries an alert's severity.
pub const SEVERITY_LABEL: &str = "severity";

/// What opens incidents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPolicy {
    /// Alert `severity` label values and the incident severity each
    /// means.
    pub severities: BTreeMap<String, Severity>,
    /// The severity of alerts whose label is missing or not mapped.
    pub default_severity: Severity,
    /// Groups this severe or worse open an incident.
    pub open_at: Severity,
}

impl Default for OpenPolicy {
    /// `critical` SEV1, `error` SEV2, `warning` SEV3, anything else SEV4;
    /// SEV2 and worse open incidents.
    fn default() -> Self {
        OpenPolicy {
            severities: BTreeMap::from([
                ("critical".to_owned(), Severity::Sev1),
                ("page".to_owned(), Severity::Sev1),
                ("error".to_owned(), Severity::Sev2),
                ("warning".to_owned(), Severity::Sev3),
            ]),
            default_severity: Severity::Sev4,
            open_at: Severity::Sev2,
        }
    }
}

/// An alert as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertView {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// When it started firing.
    pub starts_at: DateTime<Utc>,
}

/// A group of firing alerts, by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertGroupView {
    /// The AlertManager's group key.
    pub key: String,
    /// Its firing alerts.
    pub alerts: Vec<AlertView>,
}

/// What to do with a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Open an incident for it.
    Open {
        /// A title from its alerts.
        title: String,
        /// Its severity.
        severity: Severity,
        /// The services its alerts name.
        services: BTreeSet<String>,
        /// The group key, which deduplicates later openings.
        dedup_key: String,
        /// When its first alert started.
        detected_at: DateTime<Utc>,
    },
    /// Attach it to an open incident.
    Attach {
        /// The incident.
        incident: String,
        /// The services its alerts name.
        services: BTreeSet<String>,
        /// A new severity when the group's is worse than the incident's.
        raise_to: Option<Severity>,
    },
    /// Nothing to do, and why.
    Ignore(String),
}

impl OpenPolicy {
    /// The severity of an alert's labels.
    pub fn severity_of(&self, labels: &BTreeMap<String, String>) -> Severity {
        labels
            .get(SEVERITY_LABEL)
            .and_then(|s| self.severities.get(&s.to_ascii_lowercase()))
            .copied()
            .unwrap_or(self.default_severity)
    }

    /// What to do with `group`, given the incidents (open ones count).
    pub fn decide(&self, group: &AlertGroupView, incidents: &[Incident]) -> Decision {
        let Some(detected_at) = group.alerts.iter().map(|a| a.starts_at).min() else {
            return Decision::Ignore(format!("group {} has no firing alert", group.key));
        };
        let severity = group
            .alerts
            .iter()
            .map(|a| self.severity_of(&a.labels))
            .min()
            .unwrap_or(self.default_severity);
        let services: BTreeSet<String> = group
            .alerts
            .iter()
            .filter_map(|a| a.labels.get(SERVICE_LABEL).cloned())
            .collect();
        let open = || incidents.iter().filter(|i| i.is_open());
        let attached = open()
            .find(|i| {
                i.dedup_key.as_deref() == Some(group.key.as_str())
                    || i.alert_groups.contains(&group.key)
            })
            .or_else(|| {
                // the newest open incident on one of its services
                open()
                    .filter(|i| !services.is_empty() && !i.services.is_disjoint(&services))
                    .max_by_key(|i| i.opened_at)
            });
        if let Some(incident) = attached {
            return Decision::Attach {
                incident: incident.id.clone(),
                services,
                raise_to: (severity < incident.severity).then_some(severity),
            };
        }
        if severity > self.open_at {
            return Decision::Ignore(format!(
                "group {} is {severity}, below the {} that opens incidents",
                group.key, self.open_at
            ));
        }
        Decision::Open {
            title: title(group, &services),
            severity,
            services,
            dedup_key: group.key.clone(),
            detected_at,
        }
    }
}

/// `AgentTaskErrorRatioHigh on agent`, `3 alerts on agent, gateway`.
fn title(group: &AlertGroupView, services: &BTreeSet<String>) -> String {
    let names: BTreeSet<&str> = group
        .alerts
        .iter()
        .filter_map(|a| a.labels.get("alertname").map(String::as_str))
        .collect();
    let what = match names.len() {
        1 => names.into_iter().next().unwrap_or_default().to_owned(),
        _ => format!("{} alerts", group.alerts.len()),
    };
    if services.is_empty() {
        what
    } else {
        format!(
            "{what} on {}",
            services.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    }
}

#[cfg(test)]
mod tests;

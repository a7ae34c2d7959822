//! Tests of the incident events: the kind each change is journaled as,
//! its severity, service and payload.

use steward_core::{Actor, Severity as EventSeverity};

use super::*;
use crate::{incident::Action, test_time::at};

#[test]
fn each_change_is_journaled_as_its_kind_with_the_incident_in_the_payload() {
    let actor = Actor::new("token:ana").expect("actor");
    let mut incident = Incident::open("inc-3", "errors on agent", Severity::Sev2, at(0));
    incident.services.insert("agent".into());
    let opened = opened(&incident, &Actor::system());
    assert_eq!(opened.kind.as_str(), "incident.opened");
    assert_eq!(opened.severity, EventSeverity::Error);
    assert_eq!(opened.service.as_ref().map(|s| s.as_str()), Some("agent"));
    assert_eq!(opened.payload["incident"], "inc-3");
    assert_eq!(opened.summary, "SEV2 inc-3 opened: errors on agent");

    let mut kinds = Vec::new();
    for action in [
        Action::Acknowledge,
        Action::Acknowledge,
        Action::Unacknowledge,
        Action::SetSeverity(Severity::Sev1),
        Action::Assign("bo".into()),
        Action::Mitigate,
        Action::Resolve,
        Action::Reopen,
    ] {
        let change = incident.apply(action, at(5)).expect("apply");
        if let Some(event) = changed(&incident, &change, &actor) {
            kinds.push(event.kind.as_str().to_owned());
        }
    }
    assert_eq!(
        kinds,
        [
            "incident.acknowledged",
            "incident.unacknowledged",
            "incident.severity_changed",
            "incident.updated",
            "incident.mitigated",
            "incident.resolved",
            "incident.reopened",
        ]
    );
    // two services: no single service on the event
    incident.services.insert("gateway".into());
    assert_eq!(opened_service(&incident), None);
}

fn opened_service(incident: &Incident) -> Option<String> {
    opened(incident, &Actor::system())
        .service
        .map(|s| s.as_str().to_owned())
}

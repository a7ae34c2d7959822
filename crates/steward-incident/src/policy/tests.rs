//! Tests of the opening policy: thresholds, severities from labels, one
//! incident per group key, later groups attached to the open incident of
//! their service with its severity raised, resolved incidents left alone.

use super::*;
use crate::incident::{Action, Incident};
use crate::test_time::at;

fn alert(name: &str, service: &str, severity: &str, started: i64) -> AlertView {
    AlertView {
        labels: BTreeMap::from([
            ("alertname".to_owned(), name.to_owned()),
            ("service".to_owned(), service.to_owned()),
            ("severity".to_owned(), severity.to_owned()),
        ]),
        starts_at: at(started),
    }
}

fn group(key: &str, alerts: Vec<AlertView>) -> AlertGroupView {
    AlertGroupView {
        key: key.to_owned(),
        alerts,
    }
}

#[test]
fn a_severe_enough_group_opens_an_incident_with_its_worst_severity() {
    let policy = OpenPolicy::default();
    let g = group(
        "g1",
        vec![
            alert("AgentTaskErrorRatioHigh", "agent", "warning", 2),
            alert("AgentTaskErrorRatioHigh", "agent", "critical", 1),
        ],
    );
    assert_eq!(
        policy.decide(&g, &[]),
        Decision::Open {
            title: "AgentTaskErrorRatioHigh on agent".into(),
            severity: Severity::Sev1,
            services: BTreeSet::from(["agent".to_owned()]),
            dedup_key: "g1".into(),
            detected_at: at(1),
        }
    );
    let two = group(
        "g2",
        vec![
            alert("A", "agent", "error", 0),
            alert("B", "gateway", "error", 0),
        ],
    );
    let Decision::Open {
        title, severity, ..
    } = policy.decide(&two, &[])
    else {
        panic!("opens")
    };
    assert_eq!(
        (title.as_str(), severity),
        ("2 alerts on agent, gateway", Severity::Sev2)
    );
}

#[test]
fn a_group_below_the_threshold_is_ignored_with_the_reason() {
    let policy = OpenPolicy::default();
    let g = group("g1", vec![alert("Slow", "agent", "warning", 0)]);
    assert_eq!(
        policy.decide(&g, &[]),
        Decision::Ignore("group g1 is SEV3, below the SEV2 that opens incidents".into())
    );
    // an unmapped severity is the default one
    let g = group("g2", vec![alert("Odd", "agent", "whatever", 0)]);
    assert!(matches!(policy.decide(&g, &[]), Decision::Ignore(_)));
    let lenient = OpenPolicy {
        open_at: Severity::Sev4,
        ..OpenPolicy::default()
    };
    assert!(matches!(
        lenient.decide(&g, &[]),
        Decision::Open {
            severity: Severity::Sev4,
            ..
        }
    ));
}

#[test]
fn later_groups_join_the_open_incident_of_their_key_or_service() {
    let policy = OpenPolicy::default();
    let mut open = Incident::open("inc-1", "errors on agent", Severity::Sev2, at(0));
    open.dedup_key = Some("g1".into());
    open.services.insert("agent".into());
    // the same key again, worse now: attached, severity raised
    let again = group("g1", vec![alert("AgentDown", "agent", "critical", 5)]);
    assert_eq!(
        policy.decide(&again, std::slice::from_ref(&open)),
        Decision::Attach {
            incident: "inc-1".into(),
            services: BTreeSet::from(["agent".to_owned()]),
            raise_to: Some(Severity::Sev1),
        }
    );
    // another group on the same service, even a mild one: attached
    let related = group("g7", vec![alert("Slow", "agent", "warning", 6)]);
    assert!(matches!(
        policy.decide(&related, std::slice::from_ref(&open)),
        Decision::Attach { raise_to: None, .. }
    ));
    // a group on another service opens its own
    let other = group("g8", vec![alert("DbDown", "db", "critical", 6)]);
    assert!(matches!(
        policy.decide(&other, std::slice::from_ref(&open)),
        Decision::Open { .. }
    ));
    // once resolved, the same key opens a new incident
    open.apply(Action::Resolve, at(30)).expect("resolve");
    assert!(matches!(
        policy.decide(&again, &[open]),
        Decision::Open { .. }
    ));
}

//! Tests of the incident record: its transitions (allowed, refused with
//! the reason, repeated without effect), the times they set, and the
//! mean times across incidents.

use chrono::TimeDelta;

use super::*;
use crate::test_time::at;

fn incident() -> Incident {
    let mut i = Incident::open("inc-1", "errors on agent", Severity::Sev2, at(0));
    i.detected_at = Some(at(-3));
    i
}

#[test]
fn the_life_of_an_incident_sets_its_times() {
    let mut i = incident();
    assert_eq!(
        i.apply(Action::Acknowledge, at(4)).expect("ack"),
        Change::Status {
            from: Status::Triggered,
            to: Status::Acknowledged
        }
    );
    // a second acknowledgement changes nothing, not even the time
    assert_eq!(
        i.apply(Action::Acknowledge, at(5)).expect("ack"),
        Change::None
    );
    i.apply(Action::Mitigate, at(10)).expect("mitigate");
    i.apply(Action::Resolve, at(30)).expect("resolve");
    assert_eq!(i.status, Status::Resolved);
    assert!(!i.is_open());
    assert_eq!(
        i.durations(),
        Durations {
            detect: Some(TimeDelta::minutes(3)),
            acknowledge: Some(TimeDelta::minutes(4)),
            mitigate: Some(TimeDelta::minutes(10)),
            resolve: Some(TimeDelta::minutes(30)),
        }
    );
}

#[test]
fn actions_that_make_no_sense_in_a_status_are_refused_with_the_reason() {
    let mut i = incident();
    i.apply(Action::Resolve, at(10)).expect("resolve");
    // resolving sets the mitigation it skipped; nobody acknowledged it
    assert_eq!(i.acknowledged_at, None);
    assert_eq!(i.mitigated_at, Some(at(10)));
    let err = i.apply(Action::Acknowledge, at(11)).expect_err("resolved");
    assert_eq!(
        err.to_string(),
        "incident inc-1 is resolved: reopen it before acknowledging it"
    );
    let err = i
        .apply(
            Action::AttachAlertGroup {
                key: "g".into(),
                services: BTreeSet::new(),
                names: BTreeSet::new(),
            },
            at(11),
        )
        .expect_err("resolved");
    assert!(
        err.to_string()
            .contains("a resolved incident takes no alerts"),
        "{err}"
    );
    // reopened: triggered again, times cleared, counted
    assert_eq!(
        i.apply(Action::Reopen, at(20)).expect("reopen"),
        Change::Status {
            from: Status::Resolved,
            to: Status::Triggered
        }
    );
    assert_eq!(
        (i.reopened, i.acknowledged_at, i.resolved_at),
        (1, None, None)
    );
    let mut m = incident();
    m.apply(Action::Mitigate, at(5)).expect("mitigate");
    let err = m
        .apply(Action::Unacknowledge, at(6))
        .expect_err("mitigated");
    assert!(
        err.to_string().starts_with("incident inc-1 is mitigated: "),
        "{err}"
    );
}

#[test]
fn an_acknowledgement_that_times_out_triggers_it_again_and_keeps_the_first_time() {
    let mut i = incident();
    i.apply(Action::Acknowledge, at(2)).expect("ack");
    assert_eq!(
        i.apply(Action::Unacknowledge, at(32)).expect("unack"),
        Change::Status {
            from: Status::Acknowledged,
            to: Status::Triggered
        }
    );
    i.apply(Action::Acknowledge, at(40)).expect("ack again");
    // time to acknowledge counts the first one
    assert_eq!(i.durations().acknowledge, Some(TimeDelta::minutes(2)));
}

#[test]
fn severity_people_and_alert_groups_report_what_changed() {
    let mut i = incident();
    assert_eq!(
        i.apply(Action::SetSeverity(Severity::Sev1), at(1))
            .expect("sev"),
        Change::Severity {
            from: Severity::Sev2,
            to: Severity::Sev1
        }
    );
    assert_eq!(
        i.apply(Action::SetSeverity(Severity::Sev1), at(1))
            .expect("sev"),
        Change::None
    );
    assert_eq!(
        i.apply(Action::SetCommander("ana".into()), at(1))
            .expect("ic"),
        Change::Field("commander")
    );
    assert_eq!(
        i.apply(Action::Assign("bo".into()), at(1)).expect("assign"),
        Change::Field("assignees")
    );
    assert_eq!(
        i.apply(Action::Assign("bo".into()), at(1)).expect("assign"),
        Change::None
    );
    let attach = |services: &[&str]| Action::AttachAlertGroup {
        key: "{}:{alertname=\"X\"}".into(),
        services: services.iter().map(|s| (*s).to_owned()).collect(),
        names: BTreeSet::from(["X".to_owned()]),
    };
    assert_eq!(
        i.apply(attach(&["agent"]), at(2)).expect("attach"),
        Change::Field("alert_groups")
    );
    assert_eq!(
        i.apply(attach(&["agent"]), at(3)).expect("attach"),
        Change::None
    );
    assert_eq!(
        i.apply(attach(&["gateway"]), at(3)).expect("attach"),
        Change::Field("alert_groups")
    );
    assert_eq!(i.services.len(), 2);
    assert_eq!(i.firing_groups.len(), 1, "one group, firing");
    let key = "{}:{alertname=\"X\"}".to_owned();
    assert_eq!(
        i.apply(Action::AlertGroupResolved(key.clone()), at(4))
            .expect("resolved"),
        Change::Field("firing_groups")
    );
    assert!(i.firing_groups.is_empty());
    assert_eq!(
        i.apply(Action::AlertGroupResolved(key), at(5))
            .expect("resolved"),
        Change::None
    );
    // firing again
    assert_eq!(
        i.apply(attach(&["agent"]), at(6)).expect("attach"),
        Change::Field("alert_groups")
    );
    assert_eq!(i.alert_names, BTreeSet::from(["X".to_owned()]));
}

#[test]
fn severities_read_and_print_as_sev_n() {
    for (text, severity) in [
        ("SEV1", Severity::Sev1),
        ("sev2", Severity::Sev2),
        ("3", Severity::Sev3),
        (" Sev4 ", Severity::Sev4),
    ] {
        assert_eq!(text.parse::<Severity>().expect(text), severity);
    }
    assert_eq!(Severity::Sev3.to_string(), "SEV3");
    let err = "critical".parse::<Severity>().expect_err("not a SEV");
    assert_eq!(
        err.to_string(),
        "invalid input: severity \"critical\": expected SEV1, SEV2, SEV3 or SEV4"
    );
    assert!(
        Severity::Sev1 < Severity::Sev4,
        "SEV1 is the worst and sorts first"
    );
}

#[test]
fn mean_times_average_over_the_incidents_that_got_there() {
    let mut a = incident();
    a.apply(Action::Acknowledge, at(2)).expect("ack");
    a.apply(Action::Resolve, at(20)).expect("resolve");
    let mut b = Incident::open("inc-2", "b", Severity::Sev1, at(60));
    b.apply(Action::Acknowledge, at(66)).expect("ack");
    let c = Incident::open("inc-3", "c", Severity::Sev3, at(90));
    let means = mean_times([&a, &b, &c]);
    assert_eq!(means.acknowledge, Some((TimeDelta::minutes(4), 2)));
    assert_eq!(means.resolve, Some((TimeDelta::minutes(20), 1)));
    assert_eq!(means.detect, Some((TimeDelta::minutes(3), 1)));
    assert_eq!(mean_times([&c]).acknowledge, None);
    // resolved by itself (its alerts stopped), never acknowledged: in
    // MTTR, not in MTTA
    let mut d = Incident::open("inc-4", "d", Severity::Sev2, at(100));
    d.apply(Action::Resolve, at(130)).expect("resolve");
    let means = mean_times([&a, &b, &d]);
    assert_eq!(means.acknowledge, Some((TimeDelta::minutes(4), 2)));
    assert_eq!(means.resolve, Some((TimeDelta::minutes(25), 2)));
}

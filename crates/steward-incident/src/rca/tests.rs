//! Unit tests of the ranking: the evidence it gives and the order of
//! equal scores (the data-driven cases are in `tests/cases/rca/`).

use chrono::{DateTime, TimeDelta, Utc};

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

fn change(id: &str, kind: ChangeKind, service: &str, when: &str) -> ChangeRecord {
    ChangeRecord {
        id: id.into(),
        kind,
        service: service.into(),
        at: at(when),
        summary: format!("{service} change"),
    }
}

#[test]
fn candidates_carry_their_evidence_and_ties_go_to_the_later_change() {
    let affected = BTreeSet::from(["agent".to_owned()]);
    let dependencies = BTreeMap::from([("agent".to_owned(), BTreeSet::from(["db".to_owned()]))]);
    let history = [PastFix {
        incident: "inc-2".into(),
        kind: ChangeKind::Deployment,
        service: "db".into(),
    }];
    let context = Context {
        affected: &affected,
        dependencies: &dependencies,
        first_alert: at("2026-03-02T10:10:00Z"),
        window: TimeDelta::hours(2),
        half_life: TimeDelta::minutes(15),
        history: &history,
        failing: &BTreeSet::new(),
    };
    let ranked = rank(
        &[
            change("a", ChangeKind::Deployment, "db", "2026-03-02T10:05:00Z"),
            change("b", ChangeKind::Config, "agent", "2026-03-02T09:50:00Z"),
            change("c", ChangeKind::Config, "agent", "2026-03-02T09:50:00Z"),
        ],
        &context,
    );
    assert_eq!(ranked[0].change.id, "a");
    assert_eq!(
        ranked[0].evidence,
        [
            "deployment of db (db change) 5m before the first alert",
            "db is 1 dependency away from an affected service",
            "undoing a deployment of db resolved inc-2",
        ]
    );
    assert_eq!(ranked[0].distance, 1);
    // b and c: same score and time, ordered by id
    assert_eq!(
        ranked
            .iter()
            .map(|c| c.change.id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert_eq!(ranked[1].score, ranked[2].score);
    assert_eq!(ranked[1].evidence[1], "agent is an affected service");
}

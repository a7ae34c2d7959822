//! Enrichment annotations: what each part becomes, the cap on lists, and
//! that an alert's own annotations win.

use chrono::TimeZone;

use super::*;
use crate::notify::Status;

fn alert() -> NotifiedAlert {
    NotifiedAlert {
        status: Status::Firing,
        labels: [("alertname".to_owned(), "TaskErrors".to_owned())].into(),
        annotations: [(
            "runbook_url".to_owned(),
            "https://own.example/runbook".to_owned(),
        )]
        .into(),
        starts_at: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
        ends_at: None,
        generator_url: String::new(),
        fingerprint: "0".into(),
    }
}

#[test]
fn each_part_becomes_an_annotation_and_own_ones_win() {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 55, 0).unwrap();
    let enrichment = Enrichment {
        version: Some("1.3.0".into()),
        changes: (0..15)
            .map(|i| Change {
                at,
                kind: "deploy.succeeded".into(),
                service: Some("agent-worker".into()),
                summary: format!("deployed 1.{i}.0"),
            })
            .collect(),
        related: vec!["ReplicaDown{service=\"agent-worker\"}".into()],
        value: Some(0.31),
        links: vec![
            (
                "runbook_url".into(),
                "https://steward.example/runbook".into(),
            ),
            (
                "dashboard_url".into(),
                "https://grafana.example/d/agents".into(),
            ),
        ],
    };
    let mut a = alert();
    enrichment.apply(&mut a);
    assert_eq!(a.annotations["steward_version"], "1.3.0");
    let changes = &a.annotations["steward_changes"];
    assert_eq!(changes.lines().count(), MAX_LISTED);
    assert_eq!(
        changes.lines().next().unwrap(),
        "2026-12-01T09:55:00Z deploy.succeeded agent-worker: deployed 1.0.0"
    );
    assert_eq!(
        a.annotations["steward_related"],
        "ReplicaDown{service=\"agent-worker\"}"
    );
    assert_eq!(a.annotations["steward_value"], "0.31");
    assert_eq!(
        a.annotations["dashboard_url"],
        "https://grafana.example/d/agents"
    );
    assert_eq!(
        a.annotations["runbook_url"], "https://own.example/runbook",
        "the alert's own annotation is kept"
    );
    let mut untouched = alert();
    Enrichment::default().apply(&mut untouched);
    assert_eq!(untouched, alert());
}

//! Enrichment: what each part becomes as an annotation, the cap on
//! lists, that an alert's own annotations win; which firing alerts are
//! related, the expression a generator URL carries and which series of
//! its result is the alert's.

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
        related: vec![RelatedAlert {
            labels: [
                ("alertname".to_owned(), "ReplicaDown".to_owned()),
                ("service".to_owned(), "agent-worker".to_owned()),
            ]
            .into(),
            starts_at: at,
        }],
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
        logs: vec![
            "2026-12-01T09:54:10.000Z worker-1 stderr tool call failed".into(),
            "2026-12-01T09:54:50.000Z worker-1 stderr task failed".into(),
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
        "ReplicaDown{service=\"agent-worker\"} since 2026-12-01T09:55:00Z"
    );
    assert_eq!(a.annotations["steward_value"], "0.31");
    assert_eq!(
        a.annotations["steward_logs"],
        "2026-12-01T09:54:10.000Z worker-1 stderr tool call failed\n2026-12-01T09:54:50.000Z worker-1 stderr task failed"
    );
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

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn firing(pairs: &[(&str, &str)], minute: u32) -> Alert {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, minute, 0).unwrap();
    Alert {
        labels: labels(pairs),
        annotations: LabelSet::new(),
        starts_at: at,
        ends_at: None,
        generator_url: String::new(),
        updated_at: at,
        timeout: false,
    }
}

#[test]
fn related_alerts_are_the_others_on_the_service_and_its_dependencies_oldest_first() {
    let mut own = alert();
    own.labels = labels(&[("alertname", "TaskErrors"), ("service", "api")]);
    let all = vec![
        firing(&[("alertname", "TaskErrors"), ("service", "api")], 0),
        firing(&[("alertname", "Slow"), ("service", "api")], 30),
        firing(&[("alertname", "DiskFull"), ("service", "db")], 10),
        firing(&[("alertname", "Down"), ("service", "billing")], 5),
        firing(&[("alertname", "NoService")], 1),
    ];
    let services = ["api".to_owned(), "db".to_owned()];
    let found = related(&own, &services, &all);
    let names: Vec<&str> = found
        .iter()
        .map(|r| r.labels["alertname"].as_str())
        .collect();
    assert_eq!(names, ["DiskFull", "Slow"], "not itself, not elsewhere");
    assert_eq!(
        found[0].line(),
        "DiskFull{service=\"db\"} since 2026-12-01T09:10:00Z"
    );
}

#[test]
fn past_the_cap_related_alerts_are_counted() {
    let many: Vec<RelatedAlert> = (0..(MAX_LISTED as u32 + 4))
        .map(|i| {
            let a = firing(&[("alertname", "Down"), ("replica", &i.to_string())], i);
            RelatedAlert {
                labels: a.labels,
                starts_at: a.starts_at,
            }
        })
        .collect();
    let enrichment = Enrichment {
        related: many,
        ..Enrichment::default()
    };
    let text = &enrichment.annotations()["steward_related"];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), MAX_LISTED + 1, "{text}");
    assert_eq!(lines[0], "Down{replica=\"0\"} since 2026-12-01T09:00:00Z");
    assert_eq!(lines[MAX_LISTED], "and 4 more");
}

#[test]
fn the_expression_comes_from_prometheus_generator_links() {
    assert_eq!(
        generator_expr(
            "http://prometheus:9090/graph?g0.expr=rate%28errors_total%5B5m%5D%29+%3E+0.1&g0.tab=1"
        )
        .as_deref(),
        Some("rate(errors_total[5m]) > 0.1")
    );
    // steward's rules write the same link
    let steward = steward_link("sum by (service) (x) > 1");
    assert_eq!(
        generator_expr(&steward).as_deref(),
        Some("sum by (service) (x) > 1")
    );
    assert_eq!(generator_expr("http://grafana/d/abc?orgId=1"), None);
    assert_eq!(generator_expr("http://x/graph?g0.expr=&g0.tab=1"), None);
    assert_eq!(generator_expr(""), None);
}

/// A link as steward-rules' notifier builds it.
fn steward_link(expr: &str) -> String {
    let escaped: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
    format!("http://steward:7400/graph?g0.expr={escaped}&g0.tab=1")
}

#[test]
fn the_alerts_series_is_the_one_whose_labels_it_carries() {
    let alert = labels(&[
        ("alertname", "TaskErrors"),
        ("service", "api"),
        ("severity", "critical"),
    ]);
    let result = ExprResult::Vector(vec![
        (labels(&[("__name__", "errors"), ("service", "db")]), 0.2),
        (labels(&[("__name__", "errors"), ("service", "api")]), 0.42),
        (labels(&[]), 9.0),
    ]);
    assert_eq!(
        series_value(&alert, &result),
        Some(0.42),
        "the most specific series among the alert's, the name aside"
    );
    let gone = ExprResult::Vector(vec![(labels(&[("service", "db")]), 0.2)]);
    assert_eq!(
        series_value(&alert, &gone),
        None,
        "another series' value is not the alert's"
    );
    assert_eq!(series_value(&alert, &ExprResult::Vector(Vec::new())), None);
    assert_eq!(series_value(&alert, &ExprResult::Scalar(3.5)), Some(3.5));
}

#[test]
fn values_print_as_prometheus_prints_them() {
    let shown = |v: f64| {
        Enrichment {
            value: Some(v),
            ..Enrichment::default()
        }
        .annotations()["steward_value"]
            .clone()
    };
    assert_eq!(shown(0.42), "0.42");
    assert_eq!(shown(3.0), "3");
    assert_eq!(shown(f64::INFINITY), "+Inf");
    assert_eq!(shown(f64::NAN), "NaN");
}

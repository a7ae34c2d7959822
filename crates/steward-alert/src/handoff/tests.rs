//! Which groups qualify for a hand-off.

use chrono::TimeZone;

use super::*;

struct Nowhere;

#[async_trait::async_trait]
impl IncidentSink for Nowhere {
    async fn hand_off(&self, _: GroupHandoff) {}
}

fn alert(severity: Option<&str>) -> Alert {
    let mut labels = LabelSet::from([("alertname".to_owned(), "X".to_owned())]);
    if let Some(s) = severity {
        labels.insert("severity".into(), s.into());
    }
    let t = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    Alert {
        labels,
        annotations: LabelSet::new(),
        starts_at: t,
        ends_at: None,
        generator_url: String::new(),
        updated_at: t,
        timeout: false,
    }
}

#[test]
fn the_most_severe_alert_decides() {
    let h = Handoff::new(Arc::new(Nowhere), "error");
    assert_eq!(h.qualifies(&[alert(Some("warning"))]), None);
    assert_eq!(h.qualifies(&[alert(None), alert(Some("info"))]), None);
    assert_eq!(
        h.qualifies(&[
            alert(Some("warning")),
            alert(Some("critical")),
            alert(Some("error"))
        ]),
        Some("critical".to_owned())
    );
    assert_eq!(
        h.qualifies(&[alert(Some("page"))]),
        None,
        "unknown levels never qualify"
    );
    let unknown_threshold = Handoff::new(Arc::new(Nowhere), "sev1");
    assert_eq!(
        unknown_threshold.qualifies(&[alert(Some("critical"))]),
        None
    );
}

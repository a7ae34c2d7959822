//! The history's merge of the two journal domains.

use super::*;

fn event(id: i64, kind: &str) -> Event {
    serde_json::from_value(serde_json::json!({
        "id": id, "time": "2026-12-01T10:00:00Z", "kind": kind, "service": null,
        "version": null, "actor": "system", "severity": "info", "summary": "s", "payload": null
    }))
    .unwrap()
}

#[test]
fn both_domains_merge_newest_first_within_the_limit() {
    let events = vec![
        event(3, "alert.firing"),
        event(1, "alert.pending"),
        event(4, "alertmanager.notification.sent"),
        event(2, "alertmanager.notification.failed"),
    ];
    let merged = merged(events, 3);
    let ids: Vec<i64> = merged.iter().map(|e| e.id.0).collect();
    assert_eq!(ids, [4, 3, 2]);
}

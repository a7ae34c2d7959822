//! The generic webhook: lists, wrapped lists (another Alertmanager's
//! payload), resolutions, and per-alert problems.

use chrono::TimeZone;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

#[test]
fn lists_and_alertmanager_payloads_are_read() {
    let list = br#"[{"labels": {"alertname": "A", "service": "x"}, "annotations": {"summary": "s"},
                     "startsAt": "2026-12-01T10:00:00Z", "generatorURL": "http://g"}]"#;
    let alerts = parse(list, now()).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels["service"], "x");
    assert_eq!(alerts[0].annotations["summary"], "s");
    assert_eq!(alerts[0].generator_url, "http://g");
    assert_eq!(alerts[0].ends_at, None);

    let forwarded = br#"{"version": "4", "status": "resolved", "receiver": "steward", "alerts": [
        {"status": "resolved", "labels": {"alertname": "A"}, "startsAt": "2026-12-01T10:00:00Z",
         "endsAt": "2026-12-01T11:00:00Z"},
        {"status": "resolved", "labels": {"alertname": "B"}, "endsAt": "0001-01-01T00:00:00Z"},
        {"status": "firing", "labels": {"alertname": "C"}, "endsAt": "0001-01-01T00:00:00Z"}]}"#;
    let alerts = parse(forwarded, now()).unwrap();
    assert_eq!(
        alerts[0].ends_at,
        Some(Utc.with_ymd_and_hms(2026, 12, 1, 11, 0, 0).unwrap())
    );
    assert_eq!(
        alerts[1].ends_at,
        Some(now()),
        "resolved without an end ends now"
    );
    assert_eq!(alerts[2].ends_at, None, "Go's zero time is no end");
}

#[test]
fn problems_name_the_alert_and_field() {
    let bad = br#"{"alerts": [{"labels": {"alertname": "A"}},
                               {"labels": {"service": "x"}, "startsAt": "noon", "status": "gone"}]}"#;
    assert_eq!(
        parse(bad, now()).unwrap_err(),
        [
            "alerts[1].startsAt: \"noon\" is not an RFC 3339 time",
            "alerts[1].labels: an alert needs an `alertname` label",
            "alerts[1].status: \"gone\" is neither firing nor resolved",
        ]
    );
    assert!(parse(b"{\"x\": 1}", now()).unwrap_err()[0].starts_with("the body must be"));
}

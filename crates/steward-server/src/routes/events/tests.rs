//! Unit tests for the `events` module.

use chrono::TimeZone;

use super::*;

#[test]
fn times_are_rfc3339_or_durations_ago() {
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    assert_eq!(
        parse_time("since", "2026-11-28T10:00:00Z", now).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()
    );
    assert_eq!(
        parse_time("since", "2026-11-28T11:00:00+01:00", now).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()
    );
    assert_eq!(
        parse_time("since", "90m", now).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 28, 10, 30, 0).unwrap()
    );
    let err = parse_time("until", "yesterday", now).unwrap_err();
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
}

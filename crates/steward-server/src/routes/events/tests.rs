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

mod properties {
    //! `since` and `until` accept anything a client sends without
    //! panicking: a time, or a 400.

    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,25}(y|w|d|h|m|s|ms)",
            "([0-9]{1,6}y)?([0-9]{1,9}w)?([0-9]{1,12}d)?([0-9]{1,15}h)?([0-9]{1,18}ms)?",
            "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn times_never_panic(text in text(), now_ms in any::<i64>()) {
            let now = DateTime::from_timestamp_millis(now_ms).unwrap_or(DateTime::UNIX_EPOCH);
            if let Err(err) = parse_time("since", &text, now) {
                prop_assert_eq!(err.status(), StatusCode::BAD_REQUEST);
            }
        }
    }
}

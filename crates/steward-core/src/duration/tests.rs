//! Tests for Prometheus duration parsing and formatting.

use std::time::Duration;

use super::*;

#[test]
fn parses_single_and_compound_terms() {
    let cases = [
        ("0", 0),
        ("0s", 0),
        ("500ms", 500),
        ("30s", 30_000),
        ("5m", 300_000),
        ("1h30m", 5_400_000),
        ("1s500ms", 1_500),
        ("2d", 172_800_000),
        ("1w", 604_800_000),
        ("1y", 31_536_000_000),
        (
            "1y2w3d4h5m6s7ms",
            31_536_000_000 + 1_209_600_000 + 259_200_000 + 14_400_000 + 300_000 + 6_000 + 7,
        ),
    ];
    for (text, millis) in cases {
        assert_eq!(
            parse_duration(text),
            Ok(Duration::from_millis(millis)),
            "{text}"
        );
    }
}

#[test]
fn rejects_malformed_durations_with_a_reason() {
    for text in [
        "",
        "s",
        "10",
        "10x",
        "1m1h",
        "1s1s",
        "-5s",
        "1.5s",
        "5 s",
        "99999999999999999999s",
    ] {
        let err = parse_duration(text).expect_err(text);
        assert!(
            matches!(err, Error::InvalidDuration { .. }),
            "{text}: {err}"
        );
        assert!(err.to_string().contains(text), "{err}");
    }
}

#[test]
fn formats_like_prometheus_and_round_trips() {
    let cases = [
        (0, "0s"),
        (1_500, "1s500ms"),
        (90_000, "1m30s"),
        (5_400_000, "1h30m"),
        (86_400_000, "1d"),
    ];
    for (millis, text) in cases {
        let duration = Duration::from_millis(millis);
        assert_eq!(format_duration(duration), text);
        assert_eq!(parse_duration(text), Ok(duration));
    }
}

#[test]
fn human_duration_serde_uses_the_string_form() {
    let value: HumanDuration = serde_json::from_str("\"1m30s\"").unwrap();
    assert_eq!(value.get(), Duration::from_secs(90));
    assert_eq!(serde_json::to_string(&value).unwrap(), "\"1m30s\"");
    let err = serde_json::from_str::<HumanDuration>("\"soon\"").unwrap_err();
    assert!(err.to_string().contains("invalid duration `soon`"), "{err}");
}

#[test]
fn saturating_parse_caps_only_what_is_too_long() {
    let longest = Duration::from_millis(u64::MAX);
    for text in [
        "18446744073709551616ms",
        "99999999999999999999999y",
        "600000000y",
        "584942417y130d",
    ] {
        assert!(parse_duration(text).is_err(), "{text}");
        assert_eq!(parse_duration_saturating(text), Ok(longest), "{text}");
    }
    for text in [
        "",
        "5",
        "y",
        "1s1m",
        "1m1m",
        "-1s",
        "99999999999999999999999x",
    ] {
        assert!(parse_duration_saturating(text).is_err(), "{text}");
    }
    assert_eq!(
        parse_duration_saturating("1h30m"),
        Ok(Duration::from_millis(5_400_000))
    );
}

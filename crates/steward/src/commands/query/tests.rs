//! Unit tests of `steward query`'s formatting and argument parsing.

use super::*;

#[test]
fn series_are_written_in_prometheus_notation() {
    let labels = |pairs: &[(&str, &str)]| -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    for (pairs, text) in [
        (
            &[("__name__", "up"), ("job", "steward"), ("instance", "h:1")][..],
            r#"up{instance="h:1", job="steward"}"#,
        ),
        (&[("__name__", "up")][..], "up"),
        (&[("job", "a")][..], r#"{job="a"}"#),
        (&[][..], "{}"),
        (&[("path", "a\"b\\c\nd")][..], r#"{path="a\"b\\c\nd"}"#),
    ] {
        assert_eq!(series_name(&labels(pairs)), text);
    }
}

#[test]
fn times_are_rfc3339_or_unix_seconds() {
    assert_eq!(parse_time("1700000000.5").unwrap(), 1_700_000_000.5);
    assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000.0);
    let err = parse_time("yesterday").unwrap_err();
    assert!(err.downcast_ref::<UsageError>().is_some());
}

//! Unit tests of `steward oncall`: the `--at` argument.

use super::*;

#[test]
fn at_takes_rfc3339_with_an_offset_or_now() {
    assert_eq!(
        parse_at("2026-03-29T09:00:00+02:00").expect("offset"),
        DateTime::parse_from_rfc3339("2026-03-29T07:00:00Z").expect("utc")
    );
    let before = Utc::now();
    assert!(parse_at("now").expect("now") >= before);
    let err = parse_at("2026-03-29 09:00").expect_err("no offset");
    assert!(
        err.0
            .starts_with("--at 2026-03-29 09:00: expected a time with its offset"),
        "{}",
        err.0
    );
}

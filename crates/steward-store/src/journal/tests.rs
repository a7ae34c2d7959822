//! Unit tests for the `journal` module.

use super::*;

#[test]
fn like_patterns_escape_wildcards() {
    assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    assert_eq!(escape_like("plain"), "plain");
}

#[test]
fn journal_time_has_millisecond_precision() {
    let now = now_millis();
    assert_eq!(now.timestamp_subsec_nanos() % 1_000_000, 0);
}

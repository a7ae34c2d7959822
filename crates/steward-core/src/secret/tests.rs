//! Unit tests for the `secret` module.

use super::*;

#[test]
fn never_prints_the_value() {
    let secret = Secret::new("postgres://u:hunter2@db/x".to_owned());
    assert_eq!(format!("{secret:?}"), "[redacted]");
    assert_eq!(serde_json::to_string(&secret).unwrap(), "\"[redacted]\"");
    assert_eq!(secret.expose(), "postgres://u:hunter2@db/x");
}

#[test]
fn deserializes_the_inner_value() {
    let secret: Secret<String> = serde_json::from_str("\"abc\"").unwrap();
    assert_eq!(secret.expose(), "abc");
}

//! Unit tests for the `name` module.

use super::*;

#[test]
fn accepts_dns_labels() {
    for ok in ["a", "gateway", "agent-worker-2", &"x".repeat(63)] {
        assert_eq!(Name::new(ok).unwrap().as_str(), ok);
    }
}

#[test]
fn rejects_other_names_with_the_broken_rule() {
    let cases = [
        ("", "empty"),
        ("Gateway", "start with a lowercase"),
        ("2fast", "start with a lowercase"),
        ("agent_worker", "only contain"),
        ("agent-", "end with"),
        (&"x".repeat(64), "at most 63"),
    ];
    for (bad, reason) in cases {
        let err = Name::new(bad).unwrap_err().to_string();
        assert!(err.contains(reason), "{bad}: {err}");
    }
}

#[test]
fn deserialization_validates() {
    assert!(serde_json::from_str::<Name>("\"ok\"").is_ok());
    let err = serde_json::from_str::<Name>("\"Not OK\"").unwrap_err();
    assert!(err.to_string().contains("invalid name `Not OK`"), "{err}");
}

//! Tests of label sets: order, empty values, notation.

use super::*;

#[test]
fn order_of_construction_does_not_matter() {
    let a = Labels::from_pairs([("b", "2"), ("a", "1"), ("__name__", "up")]);
    let b = Labels::from_pairs([("__name__", "up"), ("a", "1"), ("b", "2")]);
    assert_eq!(a, b);
    assert_eq!(a.stable_hash(), b.stable_hash());
    assert_eq!(a.get("a"), Some("1"));
    assert_eq!(a.metric_name(), Some("up"));
}

#[test]
fn empty_values_mean_absent() {
    let a = Labels::from_pairs([("a", ""), ("b", "x")]);
    assert_eq!(a.len(), 1);
    let mut b = a.builder();
    b.set("b", "");
    assert!(b.build().is_empty());
}

#[test]
fn prints_in_prometheus_notation() {
    let a = Labels::from_pairs([("__name__", "up"), ("job", "a\"b\\c\nd")]);
    assert_eq!(a.to_string(), r#"up{job="a\"b\\c\nd"}"#);
    assert_eq!(Labels::from_pairs([("x", "1")]).to_string(), r#"{x="1"}"#);
    assert_eq!(Labels::empty().to_string(), "{}");
}

#[test]
fn keep_and_drop_names() {
    let a = Labels::from_pairs([("__name__", "up"), ("job", "j"), ("instance", "i")]);
    assert_eq!(a.keep(&["job"]), Labels::from_pairs([("job", "j")]));
    assert_eq!(
        a.drop_names(&["job"]),
        Labels::from_pairs([("__name__", "up"), ("instance", "i")])
    );
    assert_eq!(a.without_metric_name().metric_name(), None);
}

#[test]
fn json_is_an_object() {
    let a = Labels::from_pairs([("b", "2"), ("a", "1")]);
    let s = serde_json::to_string(&a).unwrap();
    assert_eq!(s, r#"{"a":"1","b":"2"}"#);
    let back: Labels = serde_json::from_str(&s).unwrap();
    assert_eq!(back, a);
}

//! Tests of the text writer.

use super::*;

#[test]
fn families_are_grouped_with_one_help_and_type() {
    let mut e = Exposition::default();
    let l = |v: &str| Labels::from_pairs([("replica", v)]);
    e.add("a_total", "A.", Kind::Counter, l("1"), 1.0);
    e.add("b", "B.", Kind::Gauge, l("1"), 2.0);
    e.add("a_total", "ignored", Kind::Gauge, l("2"), 3.0);
    assert_eq!(
        e.render(),
        "# HELP a_total A.\n# TYPE a_total counter\na_total{replica=\"1\"} 1\na_total{replica=\"2\"} 3\n\
         # HELP b B.\n# TYPE b gauge\nb{replica=\"1\"} 2\n"
    );
}

#[test]
fn escapes_label_values_and_help() {
    let mut e = Exposition::default();
    e.add(
        "m",
        "back\\slash\nnewline",
        Kind::Gauge,
        Labels::from_pairs([("mountpoint", "/a \"b\"\\c\nd")]),
        1.0,
    );
    assert_eq!(
        e.render(),
        "# HELP m back\\\\slash\\nnewline\n# TYPE m gauge\nm{mountpoint=\"/a \\\"b\\\"\\\\c\\nd\"} 1\n"
    );
}

#[test]
fn duplicate_series_are_written_once() {
    let mut e = Exposition::default();
    e.add_plain("m", "M.", Kind::Gauge, 1.0);
    e.add_plain("m", "M.", Kind::Gauge, 2.0);
    assert_eq!(e.render(), "# HELP m M.\n# TYPE m gauge\nm 1\n");
}

#[test]
fn values_round_trip() {
    for (v, want) in [
        (0.0, "0"),
        (1.5, "1.5"),
        (25276510208.0, "25276510208"),
        (1e21, "1e21"),
        (1.5e-7, "1.5e-7"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (1796067055.0560846, "1796067055.0560846"),
    ] {
        let got = format_value(v);
        assert_eq!(got, want);
        if v.is_finite() {
            assert_eq!(got.parse::<f64>().ok(), Some(v));
        }
    }
}

//! Unit tests of the test-file runner: expanding notation and parsing.

use super::*;
use crate::is_stale_nan;

fn values(desc: &str) -> Vec<Option<f64>> {
    parse_series_desc(&format!("m {desc}")).unwrap().1
}

#[test]
fn expanding_notation_expands() {
    assert_eq!(values("1x3"), [Some(1.0); 4]);
    assert_eq!(
        values("1+1x3"),
        [Some(1.0), Some(2.0), Some(3.0), Some(4.0)]
    );
    assert_eq!(
        values("-2-3x4"),
        [Some(-2.0), Some(-5.0), Some(-8.0), Some(-11.0), Some(-14.0)]
    );
    assert_eq!(values("0 _ 2"), [Some(0.0), None, Some(2.0)]);
    assert_eq!(values("_x3 5"), [None, None, None, Some(5.0)]);
    assert_eq!(
        values("1e3 .5 -Inf"),
        [Some(1000.0), Some(0.5), Some(f64::NEG_INFINITY)]
    );
    let v = values("1 stale");
    assert!(is_stale_nan(v[1].unwrap()));
    assert!(values("NaN")[0].unwrap().is_nan());
    assert!(parse_series_desc("m 1y2").is_err());
    // no hexadecimal in series: 0x2 is zero, three times
    assert_eq!(values("0x2"), [Some(0.0); 3]);
}

#[test]
fn metrics_parse_with_and_without_names() {
    let (l, v) = parse_series_desc(r#"up{job="a", path="/x\"y"} 1"#).unwrap();
    assert_eq!(l.metric_name(), Some("up"));
    assert_eq!(l.get("path"), Some("/x\"y"));
    assert_eq!(v, [Some(1.0)]);
    let (l, _) = parse_series_desc("{} 1").unwrap();
    assert!(l.is_empty());
    let (l, _) = parse_series_desc("ns:metric:rate5m 1").unwrap();
    assert_eq!(l.metric_name(), Some("ns:metric:rate5m"));
    assert!(parse_series_desc(r#"up{job="a" 1"#).is_err());
}

#[test]
fn a_file_runs_and_reports_failures() {
    let text = "load 1m\n  up{job=\"a\"} 1+1x5\n\n# comment\neval instant at 2m up\n  up{job=\"a\"} 3\n\neval instant at 2m up\n  up{job=\"a\"} 4\n\neval_fail instant at 0m up\n\neval instant at 0m 1 + 1\n  2\n\nclear\neval instant at 2m up\n";
    let r = run_str("mem.test", text).unwrap();
    assert_eq!(r.passed, 3);
    assert_eq!(r.failures.len(), 2);
    let shown = r.failures[0].to_string();
    assert!(shown.contains("mem.test:8: up"), "{shown}");
    assert!(shown.contains("expected: [up{job=\"a\"} 4]"), "{shown}");
    assert!(shown.contains("got:      [up{job=\"a\"} 3]"), "{shown}");
    assert_eq!(r.failures[1].line, 11);
}

#[test]
fn ordered_evaluations_check_the_order() {
    let text = "load 1m\n  m{i=\"1\"} 1\n  m{i=\"2\"} 2\n\neval_ordered instant at 0m sort_desc(m)\n  m{i=\"2\"} 2\n  m{i=\"1\"} 1\n\neval_ordered instant at 0m sort(m)\n  m{i=\"2\"} 2\n  m{i=\"1\"} 1\n";
    let r = run_str("o.test", text).unwrap();
    assert_eq!((r.passed, r.failures.len()), (1, 1));
}

#[test]
fn a_series_defined_twice_in_one_load_keeps_the_last() {
    let text = "load 1m\n  m 1\n  m 2\n\neval instant at 0m m\n  m 2\n";
    assert_eq!(run_str("t", text).unwrap().passed, 1);
}

#[test]
fn syntax_errors_name_file_and_line() {
    let err = run_str("bad.test", "load 1m\n  m 1\n\nevaluate m\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad.test:4: invalid command \"evaluate m\""
    );
    let err = run_str("bad.test", "load 1m\n  m{ 1\n").unwrap_err();
    assert!(err.to_string().starts_with("bad.test:2:"), "{err}");
    let err = run_str("bad.test", "load forever\n").unwrap_err();
    assert!(err.to_string().starts_with("bad.test:1:"), "{err}");
}

#[test]
fn floats_compare_as_prometheus_does() {
    assert!(almost_equal(f64::NAN, f64::NAN));
    assert!(almost_equal(1.0, 1.0 + 1e-9));
    assert!(!almost_equal(1.0, 1.001));
    assert!(almost_equal(f64::INFINITY, f64::INFINITY));
    assert!(!almost_equal(0.0, 1e-300));
}

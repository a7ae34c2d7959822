//! Unit tests of the Prometheus functions' number formatting edge cases.

use super::*;

#[test]
fn humanize_edges() {
    assert_eq!(humanize(f64::NAN), "NaN");
    assert_eq!(humanize(f64::INFINITY), "+Inf");
    assert_eq!(humanize(f64::NEG_INFINITY), "-Inf");
    assert_eq!(humanize(0.0), "0");
    assert_eq!(humanize(-0.0), "-0");
    assert_eq!(humanize(-1234567.0), "-1.235M");
    assert_eq!(humanize(-0.001), "-1m");
    assert_eq!(humanize(1e-30), "1e-06y");
    assert_eq!(humanize(123.456), "123.5");
    assert_eq!(humanize(999_999.0), "1000k");
}

#[test]
fn humanize1024_edges() {
    assert_eq!(humanize1024(f64::NAN), "NaN");
    assert_eq!(humanize1024(f64::INFINITY), "+Inf");
    assert_eq!(humanize1024(0.0), "0");
    assert_eq!(humanize1024(-1.0), "-1");
    assert_eq!(humanize1024(-2048.0), "-2ki");
    assert_eq!(humanize1024(1023.0), "1023");
}

#[test]
fn humanize_duration_edges() {
    assert_eq!(humanize_duration(f64::NAN), "NaN");
    assert_eq!(humanize_duration(f64::NEG_INFINITY), "-Inf");
    assert_eq!(humanize_duration(0.0), "0s");
    assert_eq!(humanize_duration(-0.5), "-500ms");
    assert_eq!(humanize_duration(-1.5), "-1.5s");
    assert_eq!(humanize_duration(86400.0), "1d 0h 0m 0s");
    assert_eq!(humanize_duration(59.99999), "60s");
}

#[test]
fn humanize_percentage_edges() {
    assert_eq!(humanize_percentage(f64::NAN), "NaN%");
    assert_eq!(humanize_percentage(f64::INFINITY), "+Inf%");
    assert_eq!(humanize_percentage(0.0), "0%");
    assert_eq!(humanize_percentage(-0.5), "-50%");
}

#[test]
fn humanize_timestamp_edges() {
    assert_eq!(humanize_timestamp(f64::NAN).unwrap(), "NaN");
    assert_eq!(humanize_timestamp(f64::INFINITY).unwrap(), "+Inf");
    assert_eq!(
        humanize_timestamp(-1.5).unwrap(),
        "1969-12-31 23:59:58.5 +0000 UTC"
    );
    assert!(humanize_timestamp(1e300).is_err());
}

#[test]
fn to_float_parses_like_go() {
    assert_eq!(to_float(&Value::from("1e3")).unwrap(), 1000.0);
    assert_eq!(to_float(&Value::from("+Inf")).unwrap(), f64::INFINITY);
    assert!(to_float(&Value::from("")).is_err());
    assert!(to_float(&Value::from("1 ")).is_err());
    assert!(to_float(&Value::Nil).is_err());
}

#[test]
fn parse_duration_rules() {
    assert_eq!(parse_duration("1w2d").unwrap(), 9.0 * 86400.0);
    assert_eq!(parse_duration("1y").unwrap(), 365.0 * 86400.0);
    assert!(parse_duration("1m1h").is_err(), "units out of order");
    assert!(parse_duration("").is_err());
    assert!(parse_duration("h").is_err());
}

#[test]
fn title_like_go() {
    assert_eq!(title("hello world"), "Hello World");
    assert_eq!(title("o'neil is here"), "O'Neil Is Here");
    assert_eq!(title("ünïcode wörds"), "Ünïcode Wörds");
}

//! Unit tests for the `version` module.

use super::*;

fn v(text: &str) -> MigrationVersion {
    MigrationVersion::parse(text).unwrap()
}

#[test]
fn orders_numerically_by_segment() {
    assert!(v("2") < v("10"));
    assert!(v("1.2") < v("1.10"));
    assert!(v("1_1") == v("1.1"));
    assert!(v("1.0") == v("1"));
    assert!(v("2019-08-14-123456") < v("2019-08-15-000000"));
    assert!(v("20240101120000") > v("3"));
    assert_eq!(v("001").to_string(), "001");
}

#[test]
fn segments_of_any_length_compare_as_numbers() {
    assert!(v("18446744073709551616") > v("18446744073709551615"));
    assert!(v("99999999999999999999999") > v("100"));
    assert!(v("1.123456789012345678901234567890") > v("1.2"));
    assert!(v("000000000000000000000000001") == v("1"));
    assert!(v("0") == v("0.0"));
    assert!(v("0") < v("0.1"));
}

#[test]
fn rejects_non_versions() {
    for bad in ["", "v1", "1..2", "1.a", "-1", "1-"] {
        assert!(MigrationVersion::parse(bad).is_none(), "{bad}");
    }
}

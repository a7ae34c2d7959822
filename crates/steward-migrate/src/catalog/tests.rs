//! The fingerprint's line sum: indifferent to order and whitespace, not to
//! content or repetition, and the same whether built in one go or a
//! relation at a time.

use super::LineSum;

fn of(lines: &[&str]) -> String {
    let mut sum = LineSum::default();
    sum.add(&lines.join("\u{1e}"));
    sum.fingerprint()
}

#[test]
fn order_does_not_matter() {
    assert_eq!(
        of(&["table a", "column a.id int", "index a_pkey"]),
        of(&["index a_pkey", "table a", "column a.id int"])
    );
}

#[test]
fn whitespace_inside_a_line_is_normalised() {
    assert_eq!(
        of(&["view v SELECT  1\n  FROM t"]),
        of(&["view v SELECT 1 FROM t"])
    );
    assert_eq!(of(&["table a", "  ", ""]), of(&["table a"]));
}

#[test]
fn content_and_repetition_count() {
    assert_ne!(of(&["table a"]), of(&["table b"]));
    assert_ne!(of(&["table a"]), of(&["table a", "table a"]));
    assert_ne!(of(&["table a", "table a"]), of(&[]));
    // Word boundaries are part of the line.
    assert_ne!(of(&["table ab"]), of(&["table a b"]));
}

#[test]
fn sums_of_parts_equal_the_sum_of_the_whole() {
    let whole = of(&["schema s", "table s.a", "table s.b", "column s.b.x text"]);
    let mut parts = LineSum::default();
    for part in ["schema s", "table s.a", "table s.b\u{1e}column s.b.x text"] {
        let mut sum = LineSum::default();
        sum.add(part);
        parts.plus(&sum);
    }
    assert_eq!(parts.fingerprint(), whole);
}

#[test]
fn carries_propagate_across_limbs() {
    let mut sum = LineSum([u64::MAX, u64::MAX, 0, 7]);
    sum.plus(&LineSum([1, 0, 0, 0]));
    assert_eq!(sum, LineSum([0, 0, 1, 7]));
    let mut wrap = LineSum([u64::MAX; 4]);
    wrap.plus(&LineSum([1, 0, 0, 0]));
    assert_eq!(wrap, LineSum::default(), "the sum is modulo 2^256");
}

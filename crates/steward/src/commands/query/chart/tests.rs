//! Unit tests of the terminal chart.

use super::*;

fn series(name: &str, points: &[(f64, f64)]) -> (String, Vec<(f64, f64)>) {
    (name.to_owned(), points.to_vec())
}

#[test]
fn two_series_get_their_own_markers_axes_and_legend() {
    let text = chart(
        &[
            series("up{job=\"a\"}", &[(0.0, 0.0), (60.0, 0.0), (120.0, 0.0)]),
            series("up{job=\"b\"}", &[(0.0, 10.0), (60.0, 10.0), (120.0, 10.0)]),
        ],
        5,
        3,
    );
    let expected = "\
10 |ooooo
   |
 0 |*****
   +-----
    1970-01-01 00:00:00 1970-01-01 00:02:00

  * up{job=\"a\"}
  o up{job=\"b\"}
";
    assert_eq!(text, expected);
}

#[test]
fn points_are_joined_across_columns() {
    let text = chart(&[series("x", &[(0.0, 0.0), (4.0, 4.0)])], 5, 5);
    let rows: Vec<&str> = text.lines().take(5).collect();
    assert_eq!(rows, ["4 |    *", "  |   *", "  |  *", "  | *", "0 |*"]);
}

#[test]
fn a_flat_series_is_drawn_in_the_middle_and_non_finite_values_are_skipped() {
    let text = chart(
        &[series("x", &[(0.0, 2.5), (1.0, f64::NAN), (2.0, 2.5)])],
        3,
        3,
    );
    let rows: Vec<&str> = text.lines().take(3).collect();
    assert_eq!(rows, ["2.5 |", "    |***", "2.5 |"]);
}

#[test]
fn colour_wraps_only_the_markers() {
    let text = render(&[series("x", &[(0.0, 1.0), (1.0, 2.0)])], 2, 2, true);
    assert!(text.contains("\x1b[31m*\x1b[0m"), "{text}");
    assert!(!chart(&[series("x", &[(0.0, 1.0)])], 2, 2).contains('\x1b'));
}

#[test]
fn no_finite_point_is_no_data() {
    assert_eq!(
        chart(&[series("x", &[(0.0, f64::NAN)])], 10, 5),
        "no data\n"
    );
    assert_eq!(chart(&[], 10, 5), "no data\n");
}

#[test]
fn axis_numbers_are_short() {
    for (value, text) in [
        (3.0, "3"),
        (0.25, "0.25"),
        (1.0 / 3.0, "0.333"),
        (-2.0, "-2"),
        (12_345_678.5, "1.235e7"),
        (0.000_12, "1.200e-4"),
    ] {
        assert_eq!(format_number(value), text, "{value}");
    }
}

//! The U test against SciPy 1.17's `scipy.stats.mannwhitneyu` (values
//! computed once with it and written here), and the helpers.

use super::{Alternative, mann_whitney_u, mean, median, survival};

/// (x, y, alternative, U, p-value from SciPy with `method="auto"`).
type Case = (&'static [f64], &'static [f64], Alternative, f64, f64);

const CASES: &[Case] = &[
    // Small, no ties: exact.
    (
        &[1., 2., 3., 4., 5.],
        &[6., 7., 8., 9., 10.],
        Alternative::TwoSided,
        0.0,
        0.007_936_507_936_507_936,
    ),
    (
        &[1., 2., 3., 4., 5.],
        &[6., 7., 8., 9., 10.],
        Alternative::Less,
        0.0,
        0.003_968_253_968_253_968,
    ),
    (
        &[1.5, 2.5, 3.5],
        &[1., 2., 3., 4.],
        Alternative::Greater,
        6.0,
        0.571_428_571_428_571_4,
    ),
    (
        &[1., 2., 3., 4., 5., 6., 7., 8.],
        &[2.5, 4.5, 6.5, 8.5, 9.5, 10.5, 11.5, 12.5],
        Alternative::Less,
        12.0,
        0.018_958_818_958_818_957,
    ),
    // Ties: normal approximation with tie and continuity corrections.
    (
        &[3., 5., 1., 4., 2.],
        &[2., 6., 3., 8., 7., 5.],
        Alternative::TwoSided,
        6.5,
        0.141_384_414_862_477_35,
    ),
    (
        &[1., 1., 1., 2., 2., 3., 3., 3., 3., 4., 5., 6.],
        &[2., 3., 3., 4., 4., 4., 5., 5., 6., 6., 7., 7., 8.],
        Alternative::TwoSided,
        29.5,
        0.008_228_351_824_453_776,
    ),
    // Larger than 8: normal approximation.
    (
        &[0.3, 0.6, 0.5, 0.7, 0.9, 0.8, 0.65, 0.55, 0.75, 0.85],
        &[0.1, 0.3, 0.2, 0.5, 0.4, 0.35, 0.25, 0.15, 0.45, 0.05],
        Alternative::Greater,
        95.0,
        0.000_380_758_991_307_271_3,
    ),
    (
        &[0.1, 0.3, 0.2, 0.5, 0.4, 0.35, 0.25, 0.15, 0.45, 0.05],
        &[0.3, 0.6, 0.5, 0.7, 0.9, 0.8, 0.65, 0.55, 0.75, 0.85],
        Alternative::Greater,
        5.0,
        0.999_711_354_986_207_7,
    ),
    // An error ratio of 0.3 against one of (almost) 0.
    (
        &[0.3, 0.28, 0.31, 0.29, 0.33, 0.27, 0.3, 0.32, 0.26, 0.3],
        &[0., 0., 0., 0., 0., 0., 0., 0., 0., 0.01],
        Alternative::Greater,
        100.0,
        4.255_966_001_200_016e-5,
    ),
    // Everything equal.
    (
        &[5., 5., 5., 5.],
        &[5., 5., 5., 5.],
        Alternative::TwoSided,
        8.0,
        1.0,
    ),
];

#[test]
fn matches_scipy() {
    for (index, (x, y, alternative, u, p)) in CASES.iter().enumerate() {
        let got = mann_whitney_u(x, y, *alternative).expect("non-empty samples");
        assert_eq!(got.u, *u, "case {index}: U");
        let relative = (got.p_value - p).abs() / p;
        assert!(
            relative < 1e-6,
            "case {index}: p-value {} against SciPy's {p}",
            got.p_value
        );
    }
}

#[test]
fn empty_samples_have_no_test() {
    assert!(mann_whitney_u(&[], &[1.0], Alternative::Greater).is_none());
    assert!(mann_whitney_u(&[1.0], &[], Alternative::Less).is_none());
}

#[test]
fn normal_tail_and_summaries() {
    // Known values of the standard normal's upper tail.
    for (z, expected) in [
        (0.0, 0.5),
        (1.959_963_984_540_054, 0.025),
        (-1.644_853_626_951_472_2, 0.95),
        (4.0, 3.167_124_183_311_986e-5),
        (6.0, 9.865_876_450_376_946e-10),
    ] {
        let got = survival(z);
        assert!(
            ((got - expected) / expected).abs() < 1e-9,
            "survival({z}) = {got}, expected {expected}"
        );
    }
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    assert!(median(&[]).is_nan());
    assert_eq!(mean(&[1.0, 2.0, 6.0]), 3.0);
}

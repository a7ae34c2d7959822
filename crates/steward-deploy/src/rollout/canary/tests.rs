//! The judge of a canary metric: significance and effect size together.

use steward_config::{CanaryMetric, Direction};

use super::judge;

fn metric(direction: Direction, allowed_effect: f64) -> CanaryMetric {
    CanaryMetric {
        name: "error_ratio".to_owned(),
        expr: "x{version=\"$version\"}".to_owned(),
        direction,
        critical: false,
        allowed_effect,
    }
}

const STABLE: [f64; 10] = [0.0, 0.01, 0.0, 0.02, 0.0, 0.01, 0.0, 0.0, 0.01, 0.0];
const BAD: [f64; 10] = [0.3, 0.28, 0.31, 0.29, 0.33, 0.27, 0.3, 0.32, 0.26, 0.3];

#[test]
fn a_significant_bad_change_beyond_the_allowed_effect_fails() {
    let verdict = judge(
        &metric(Direction::Increase, 0.1),
        0.95,
        &BAD,
        &STABLE,
        2,
        50,
    );
    assert!(!verdict.passed, "{verdict:?}");
    assert!(verdict.conclusive);
    assert!(verdict.p_value.unwrap() < 0.001, "{verdict:?}");
    assert!(verdict.effect.unwrap() > 10.0, "{verdict:?}");
    assert!(verdict.detail.starts_with("p-value"), "{}", verdict.detail);
    assert_eq!((verdict.canary_samples, verdict.stable_samples), (10, 10));
}

#[test]
fn the_good_direction_an_allowed_effect_and_few_samples_pass() {
    // Lower errors on the canary: not bad for `increase`.
    let better = judge(
        &metric(Direction::Increase, 0.1),
        0.95,
        &STABLE,
        &BAD,
        1,
        10,
    );
    assert!(better.passed, "{better:?}");
    // ... but bad for `either` and `decrease`.
    for direction in [Direction::Either, Direction::Decrease] {
        let verdict = judge(&metric(direction, 0.1), 0.95, &STABLE, &BAD, 1, 10);
        assert!(!verdict.passed, "{direction:?}: {verdict:?}");
    }
    // Significant but within the allowed effect (5% higher, 10% allowed).
    let stable = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0];
    let slightly: Vec<f64> = stable.iter().map(|v| v * 1.05).collect();
    let verdict = judge(
        &metric(Direction::Increase, 0.1),
        0.95,
        &slightly,
        &stable,
        1,
        10,
    );
    assert!(verdict.p_value.unwrap() < 0.05, "{verdict:?}");
    assert!(verdict.passed, "{verdict:?}");
    // Too few samples: inconclusive, which passes.
    let verdict = judge(
        &metric(Direction::Increase, 0.1),
        0.95,
        &BAD[..2],
        &STABLE,
        1,
        10,
    );
    assert!(verdict.passed && !verdict.conclusive, "{verdict:?}");
}

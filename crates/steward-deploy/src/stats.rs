//! The Mann-Whitney U test with which a canary's metric samples are
//! compared with the stable version's: the U statistic of the first
//! sample (ties ranked by their mean rank), its p-value exact for small
//! samples without ties (both at most 8, as SciPy's `method="auto"`),
//! otherwise from the normal approximation with the tie correction of
//! the variance and a continuity correction of 0.5.

/// Which difference the test looks for, from the first sample's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// The first sample is stochastically greater.
    Greater,
    /// The first sample is stochastically less.
    Less,
    /// Either.
    TwoSided,
}

/// A test's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample: how many pairs (x, y) have x > y, ties
    /// counting one half.
    pub u: f64,
    /// The p-value under the alternative asked for.
    pub p_value: f64,
}

/// Largest size of both samples for which the exact distribution is used.
const EXACT_MAX: usize = 8;

/// Tests `x` against `y`; `None` when either is empty.
pub fn mann_whitney_u(x: &[f64], y: &[f64], alternative: Alternative) -> Option<MannWhitney> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|v| (*v, true))
        .chain(y.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mean ranks of tied groups, and the sum of t^3 - t over them.
    let n = all.len();
    let mut rank_sum_x = 0.0;
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && all[end].0 == all[start].0 {
            end += 1;
        }
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        let tied = (end - start) as f64;
        tie_term += tied * tied * tied - tied;
        rank_sum_x += mean_rank * all[start..end].iter().filter(|(_, is_x)| *is_x).count() as f64;
        start = end;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u = rank_sum_x - f1 * (f1 + 1.0) / 2.0;
    let p_value = if tie_term == 0.0 && n1 <= EXACT_MAX && n2 <= EXACT_MAX {
        exact(u, n1, n2, alternative)
    } else {
        normal(u, f1, f2, tie_term, alternative)
    };
    Some(MannWhitney {
        u,
        p_value: p_value.clamp(0.0, 1.0),
    })
}

/// P-value from the normal approximation.
fn normal(u: f64, f1: f64, f2: f64, tie_term: f64, alternative: Alternative) -> f64 {
    let n = f1 + f2;
    let mean = f1 * f2 / 2.0;
    let variance = f1 * f2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if variance <= 0.0 {
        // Every value equal: no evidence of any difference.
        return 1.0;
    }
    let sd = variance.sqrt();
    let upper = |u: f64| survival(((u - mean) - 0.5) / sd);
    match alternative {
        Alternative::Greater => upper(u),
        Alternative::Less => upper(f1 * f2 - u),
        Alternative::TwoSided => (2.0 * upper(u.max(f1 * f2 - u))).min(1.0),
    }
}

/// P-value from the exact distribution of U without ties: the number of
/// arrangements giving each U, counted by the usual recurrence.
fn exact(u: f64, n1: usize, n2: usize, alternative: Alternative) -> f64 {
    let counts = u_counts(n1, n2);
    let total: f64 = counts.iter().sum();
    // U is an integer without ties.
    let at_least = |k: usize| counts[k.min(counts.len())..].iter().sum::<f64>() / total;
    let u = u.round() as usize;
    let max = n1 * n2;
    match alternative {
        Alternative::Greater => at_least(u),
        Alternative::Less => at_least(max - u),
        Alternative::TwoSided => (2.0 * at_least(u.max(max - u))).min(1.0),
    }
}

/// How many orderings of `n1` and `n2` distinct values give each U of the
/// first sample, 0 to `n1 * n2`.
fn u_counts(n1: usize, n2: usize) -> Vec<f64> {
    // table[a][b] = counts for sizes a and b; built up from empty samples.
    let mut table: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); n2 + 1]; n1 + 1];
    for a in 0..=n1 {
        for b in 0..=n2 {
            table[a][b] = if a == 0 || b == 0 {
                vec![1.0]
            } else {
                // The largest value is the first sample's (it beats all b
                // values of the other) or the second's.
                let mut counts = vec![0.0; a * b + 1];
                for (k, c) in table[a - 1][b].iter().enumerate() {
                    counts[k + b] += c;
                }
                for (k, c) in table[a][b - 1].iter().enumerate() {
                    counts[k] += c;
                }
                counts
            };
        }
    }
    std::mem::take(&mut table[n1][n2])
}

/// The standard normal distribution's upper tail, P(Z > z).
pub fn survival(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function: the Maclaurin series of erf below
/// 3, the continued fraction of erfc from 3 on (where the series would
/// lose the tail's digits to cancellation).
fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 3.0 {
        // erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        return 1.0 - sum * 2.0 / std::f64::consts::PI.sqrt();
    }
    // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
    // evaluated from its 80th term back.
    let mut tail = x;
    for k in (1..=80).rev() {
        tail = x + (k as f64 / 2.0) / tail;
    }
    (-x * x).exp() / (std::f64::consts::PI.sqrt() * tail)
}

/// The median of `values` (NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// The mean of `values` (NaN when empty).
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests;

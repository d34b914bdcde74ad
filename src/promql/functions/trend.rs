//! Trend kernels: `deriv`, `predict_linear`, `double_exponential_smoothing`.

use super::kahan::KahanSum;
use crate::model::Sample;

/// `linearRegression` (`promql/functions.go`): least-squares fit over the
/// samples with x in seconds relative to `intercept_time` (ms), using
/// compensated sums. Returns `(slope, intercept at intercept_time)`.
/// A constant series has slope 0 (or NaN for a constant ±Inf) rather than
/// the 0/0 the formula would give.
fn linear_regression(s: &[Sample], intercept_time: i64) -> (f64, f64) {
    let Some(first) = s.first() else {
        return (f64::NAN, f64::NAN);
    };
    let init_y = first.v;
    let const_y = s.iter().all(|p| p.v == init_y);
    let mut n = 0.0;
    let (mut sum_x, mut sum_y) = (KahanSum::default(), KahanSum::default());
    let (mut sum_xy, mut sum_x2) = (KahanSum::default(), KahanSum::default());
    for p in s {
        n += 1.0;
        let x = (i128::from(p.t) - i128::from(intercept_time)) as f64 / 1e3;
        sum_x.add(x);
        sum_y.add(p.v);
        sum_xy.add(x * p.v);
        sum_x2.add(x * x);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sum_x, sum_y) = (sum_x.total(), sum_y.total());
    let (sum_xy, sum_x2) = (sum_xy.total(), sum_x2.total());
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// `deriv` (`funcDeriv`): the regression slope per second, with x relative
/// to the first sample to keep the sums small.
pub(crate) fn deriv(s: &[Sample]) -> Option<f64> {
    match s {
        [first, _, ..] => Some(linear_regression(s, first.t).0),
        _ => None,
    }
}

/// `predict_linear` (`funcPredictLinear`): the regression line's value
/// `duration_secs` after `eval_time` (ms), the evaluation timestamp.
pub(crate) fn predict_linear(s: &[Sample], duration_secs: f64, eval_time: i64) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(s, eval_time);
    Some(slope * duration_secs + intercept)
}

/// `double_exponential_smoothing` (`funcDoubleExponentialSmoothing`, Holt
/// linear smoothing): `sf` weights new values against the smoothed level,
/// `tf` weights the latest level change against the running trend. The
/// first trend is the first difference. Needs at least two samples.
pub(crate) fn double_exponential_smoothing(s: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    let (v0, v1) = match s {
        [a, b, ..] => (a.v, b.v),
        _ => return None,
    };
    // s0: previous level, s1: current level, b: trend.
    let (mut s0, mut s1, mut b) = (0.0, v0, v1 - v0);
    for (i, p) in s.iter().enumerate().skip(1) {
        let x = sf * p.v;
        if i > 1 {
            // Upstream's calcTrendValue: the first step keeps the initial trend.
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Some(s1)
}

//! Kernel tests. Most cases are transcribed from upstream's promqltest
//! scripts (`functions.test`, `aggregators.test`, `histograms.test`): the
//! `load` lines become sample slices, and the window of an `eval` at `t`
//! over `[r]` is `(t - r, t]`.

use super::*;

mod buckets;
mod fhist;
mod instant;
mod over_time;
mod props;
mod range;
mod start_times;

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;

/// A series as a `load <interval>` line writes it: the first value at t=0,
/// then one value per interval. `None` is `_` (no sample).
fn load_gaps(interval: i64, values: &[Option<f64>]) -> Vec<Sample> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| Sample::new(i as i64 * interval, v)))
        .collect()
}

/// [`load_gaps`] without gaps.
fn load(interval: i64, values: &[f64]) -> Vec<Sample> {
    let opt: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
    load_gaps(interval, &opt)
}

/// The promqltest expansion `start+stepxN`: N+1 values.
fn seq(start: f64, step: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|i| start + step * i as f64).collect()
}

/// Concatenates expansions, as `0+10x4 0+10x5` on one load line.
fn cat(parts: &[Vec<f64>]) -> Vec<f64> {
    parts.concat()
}

/// Evaluates `f` at `eval` (ms) over the window `(eval - range, eval]`.
fn at(f: RangeFn, series: &[Sample], eval: i64, range: i64, params: &[f64]) -> Option<f64> {
    let (start, end) = (eval - range, eval);
    let s: Vec<Sample> = series
        .iter()
        .copied()
        .filter(|p| p.t > start && p.t <= end)
        .collect();
    eval_range(
        f,
        Window {
            samples: &s,
            start,
            end,
        },
        params,
    )
}

/// promqltest's comparison: relative tolerance 1e-6, NaN equals NaN,
/// infinities must match exactly, zero needs (almost) exact zero.
fn close(got: f64, want: f64) -> bool {
    if got.is_nan() || want.is_nan() {
        return got.is_nan() && want.is_nan();
    }
    if got == want {
        return true;
    }
    let diff = (got - want).abs();
    let abs_sum = got.abs() + want.abs();
    if got == 0.0 || want == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < 1e-6 * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < 1e-6
}

#[track_caller]
fn assert_close(what: &str, got: f64, want: f64) {
    assert!(close(got, want), "{what}: got {got:e}, want {want:e}");
}

#[track_caller]
fn assert_opt(what: &str, got: Option<f64>, want: Option<f64>) {
    match (got, want) {
        (Some(g), Some(w)) => assert_close(what, g, w),
        (None, None) => {}
        _ => panic!("{what}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn close_is_strict_enough_to_fail() {
    assert!(close(1.0, 1.0 + 1e-9));
    assert!(!close(1.0, 1.0001));
    assert!(!close(0.0, 1e-300));
    assert!(!close(f64::NAN, 0.0));
    assert!(!close(f64::INFINITY, f64::NEG_INFINITY));
    assert!(close(f64::NAN, f64::NAN));
}

//! `*_over_time` aggregations of one series' window.

use super::kahan::{self, KahanSum};
use super::quantile::quantile;
use crate::model::Sample;

/// `sum_over_time` (`funcSumOverTime`, floats): Kahan–Neumaier sum; an
/// overflowed sum is returned as is so the compensation cannot turn it
/// into NaN.
pub(crate) fn sum(s: &[Sample]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for p in s {
        (sum, c) = kahan::inc(p.v, sum, c);
    }
    if sum.is_infinite() {
        sum
    } else {
        sum + c
    }
}

/// `avg_over_time` (`funcAvgOverTime`, floats): a direct compensated sum
/// divided by the count while the sum stays finite (usually the most
/// accurate), switching to an incremental mean once it would overflow.
/// `s` must be non-empty.
pub(crate) fn avg(s: &[Sample]) -> f64 {
    let Some((first, rest)) = s.split_first() else {
        return f64::NAN;
    };
    let (mut sum, mut c) = (first.v, 0.0);
    let mut count = 1.0;
    let mut mean = 0.0;
    let mut incremental = false;
    for (i, p) in rest.iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (new_sum, new_c) = kahan::inc(p.v, sum, c);
            if !new_sum.is_infinite() {
                (sum, c) = (new_sum, new_c);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan::inc(p.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// `min_over_time` / `max_over_time` and their `ts_of_` variants
/// (`compareOverTime`): a NaN seen so far is replaced by any later value, so
/// NaN only wins when every value is NaN. `replace(cur, best)` decides
/// whether `cur` takes over. Returns `(value, timestamp ms)`.
fn compare(s: &[Sample], replace: impl Fn(f64, f64) -> bool) -> Option<(f64, i64)> {
    let first = s.first()?;
    let (mut best, mut ts) = (first.v, first.t);
    for p in s {
        if replace(p.v, best) || best.is_nan() {
            best = p.v;
            ts = p.t;
        }
    }
    Some((best, ts))
}

/// `min_over_time`.
pub(crate) fn min(s: &[Sample]) -> Option<f64> {
    compare(s, |cur, best| cur < best).map(|(v, _)| v)
}

/// `max_over_time`.
pub(crate) fn max(s: &[Sample]) -> Option<f64> {
    compare(s, |cur, best| cur > best).map(|(v, _)| v)
}

/// `ts_of_min_over_time`: ties go to the latest sample (`<=`).
pub(crate) fn ts_of_min(s: &[Sample]) -> Option<f64> {
    compare(s, |cur, best| cur <= best).map(|(_, t)| secs(t))
}

/// `ts_of_max_over_time`: ties go to the latest sample (`>=`).
pub(crate) fn ts_of_max(s: &[Sample]) -> Option<f64> {
    compare(s, |cur, best| cur >= best).map(|(_, t)| secs(t))
}

/// Milliseconds to seconds the way upstream does: `float64(t) / 1000`.
pub(crate) fn secs(t: i64) -> f64 {
    t as f64 / 1000.0
}

/// `stdvar_over_time` (`varianceOverTime`): Welford's online algorithm with
/// Kahan compensation on both the mean and the sum of squared deviations.
/// `s` must be non-empty (an empty slice gives NaN).
pub(crate) fn stdvar(s: &[Sample]) -> f64 {
    let mut count = 0.0;
    let (mut mean, mut c_mean) = (0.0, 0.0);
    let mut aux = KahanSum::default();
    for p in s {
        count += 1.0;
        let delta = p.v - (mean + c_mean);
        (mean, c_mean) = kahan::inc(delta / count, mean, c_mean);
        aux.add(delta * (p.v - (mean + c_mean)));
    }
    aux.total() / count
}

/// `quantile_over_time` (`funcQuantileOverTime`).
pub(crate) fn quantile_of(phi: f64, s: &[Sample]) -> f64 {
    let mut values: Vec<f64> = s.iter().map(|p| p.v).collect();
    quantile(phi, &mut values)
}

/// `mad_over_time` (`funcMadOverTime`): median absolute deviation from the
/// median; any NaN makes it NaN.
pub(crate) fn mad(s: &[Sample]) -> f64 {
    if s.iter().any(|p| p.v.is_nan()) {
        return f64::NAN;
    }
    let mut values: Vec<f64> = s.iter().map(|p| p.v).collect();
    let median = quantile(0.5, &mut values);
    for v in &mut values {
        *v = (*v - median).abs();
    }
    quantile(0.5, &mut values)
}

//! Window sums from prefix sums, so `sum_over_time` and `avg_over_time`
//! cost one subtraction per step instead of a pass over every window.
//!
//! A range query at step `s` over a range `r` reads each sample about
//! `r / s` times (20 times for `[5m]` at 15 s). Prefix sums read it once.
//! They are kept in double-double arithmetic (an unevaluated sum
//! `hi + lo` carrying about 106 bits), so subtracting two of them loses no
//! more than a compensated sum over the window does: for the values the
//! guard admits, a window's sum is the exact sum rounded once, where
//! upstream's Kahan–Neumaier sum (`kahansum.Inc`) is within a few units in
//! the last place of it. That holds only while the window's values do not
//! mostly cancel: where the sum of magnitudes exceeds the sum's magnitude
//! by [`MAX_CANCELLATION`], upstream's answer carries its own rounding
//! (its tests expect it), so such windows, values that could overflow,
//! infinities and NaN keep the per-window kernels.

use crate::model::Sample;

/// Largest magnitude a value may have for prefix sums: far enough below
/// `f64::MAX` that no prefix of up to 2^40 such values overflows.
const MAX_ABS: f64 = 1e290;

/// Largest ratio of a window's sum of magnitudes to its sum's magnitude
/// for which a compensated sum is as exact as the prefix sums (its error
/// term in `n * eps^2 * sum|v|` stays far below `eps * |sum|`).
const MAX_CANCELLATION: f64 = 1e6;

/// `a + b` as a rounded sum and its exact rounding error (Knuth's TwoSum).
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// Double-double prefix sums of one series' values: entry `i` is the sum
/// of the first `i` values, with the plain prefix sum of magnitudes (to
/// detect cancellation) beside it, in one vector.
#[derive(Debug)]
pub(crate) struct PrefixSums {
    /// `(hi, lo, sum of magnitudes)` per prefix.
    p: Vec<[f64; 3]>,
}

impl PrefixSums {
    /// Prefix sums of `samples`' values, or `None` when a value is not
    /// finite or too large (the per-window kernels handle those).
    pub(crate) fn new(samples: &[Sample]) -> Option<PrefixSums> {
        // NaN fails the comparison too.
        if !samples.iter().all(|s| s.v.abs() <= MAX_ABS) {
            return None;
        }
        let mut p = Vec::with_capacity(samples.len() + 1);
        p.push([0.0; 3]);
        let (mut h, mut l, mut a) = (0.0f64, 0.0f64, 0.0f64);
        p.extend(samples.iter().map(|s| {
            let (sum, err) = two_sum(h, s.v);
            (h, l) = two_sum(sum, l + err);
            a += s.v.abs();
            [h, l, a]
        }));
        Some(PrefixSums { p })
    }

    /// Sum of the values at indexes `from..to` (`from <= to <= len`), or
    /// `None` when they cancel too much for a compensated sum to be exact.
    pub(crate) fn sum(&self, from: usize, to: usize) -> Option<f64> {
        let ([hi_t, lo_t, abs_t], [hi_f, lo_f, abs_f]) = (self.p[to], self.p[from]);
        let (d, e) = two_sum(hi_t, -hi_f);
        let sum = d + (e + (lo_t - lo_f));
        let magnitude = abs_t - abs_f;
        (magnitude <= sum.abs() * MAX_CANCELLATION).then_some(sum)
    }
}

/// The value of `f` (`sum_over_time` or `avg_over_time`) over the samples
/// at `from..to` (a non-empty window); `None` when the per-window kernel
/// must compute it.
pub(crate) fn window_value(
    f: super::RangeFn,
    p: &PrefixSums,
    from: usize,
    to: usize,
) -> Option<f64> {
    let sum = p.sum(from, to)?;
    match f {
        super::RangeFn::SumOverTime => Some(sum),
        super::RangeFn::AvgOverTime => Some(sum / (to - from) as f64),
        _ => None,
    }
}

/// Whether `f` has a prefix-sum form.
pub(crate) fn applies(f: super::RangeFn) -> bool {
    matches!(f, super::RangeFn::SumOverTime | super::RangeFn::AvgOverTime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::functions::over_time;
    use proptest::prelude::*;

    fn samples(vs: &[f64]) -> Vec<Sample> {
        vs.iter()
            .enumerate()
            .map(|(i, &v)| Sample::new(i as i64 * 15_000, v))
            .collect()
    }

    #[test]
    fn cancelling_values_keep_what_a_compensated_sum_keeps() {
        let s = samples(&[1e100, 1.0, -1e100, 0.1, 0.2, 0.3]);
        let p = PrefixSums::new(&s).unwrap();
        // Mostly cancelling: left to the kernel.
        assert_eq!(p.sum(0, 3), None);
        assert_eq!(p.sum(1, 2), Some(1.0));
        assert_eq!(p.sum(3, 6), Some(over_time::sum(&s[3..6])));
        // Empty windows sum to zero, which is no cancellation.
        assert_eq!(p.sum(2, 2), Some(0.0));
        // A window after the huge values is computed from the prefixes.
        let (d, e) = (p.sum(3, 4), over_time::sum(&s[3..4]));
        assert_eq!(d, Some(e));
    }

    #[test]
    fn upstreams_cancelling_average_is_left_to_the_kernel() {
        // functions.test's metric11: Kahan gives 0 where the exact average
        // is -44.8; upstream expects 0.
        let s = samples(&[
            -2.258E+220,
            -1.78264E+219,
            0.76342771,
            1.9592258,
            2.3757689E+217,
            -2.3757689E+217,
            2.258E+220,
            7.69805412,
            1.78264E+219,
            -458.90154,
        ]);
        let p = PrefixSums::new(&s).unwrap();
        assert_eq!(
            window_value(super::super::RangeFn::AvgOverTime, &p, 0, 10),
            None
        );
        assert_eq!(p.sum(7, 10), Some(over_time::sum(&s[7..10])));
    }

    #[test]
    fn values_the_kernels_must_handle_are_refused() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.7e308] {
            assert!(PrefixSums::new(&samples(&[1.0, bad, 2.0])).is_none());
        }
        assert!(PrefixSums::new(&samples(&[])).is_some());
    }

    proptest! {
        // Every window agrees with the per-window kernel to within a few
        // units in the last place of the sum of magnitudes.
        #[test]
        fn window_sums_match_the_compensated_kernel(
            vs in proptest::collection::vec(prop_oneof![
                -1e6f64..1e6,
                (-1e15f64..1e15),
                (-4i64..4).prop_map(|m| m as f64 * 0.1),
            ], 1..120),
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
        ) {
            let s = samples(&vs);
            let p = PrefixSums::new(&s).unwrap();
            let (x, y) = (a.index(vs.len() + 1), b.index(vs.len() + 1));
            let (from, to) = (x.min(y), x.max(y));
            let want = over_time::sum(&s[from..to]);
            let scale: f64 = s[from..to].iter().map(|p| p.v.abs()).sum();
            if let Some(got) = p.sum(from, to) {
                prop_assert!((got - want).abs() <= want.abs() * 4.0 * f64::EPSILON,
                    "window {from}..{to}: {got} vs {want}");
            } else {
                prop_assert!(scale > want.abs() * MAX_CANCELLATION);
            }
        }
    }
}

//! Property tests: no kernel panics on any input, and a few invariants.

use super::*;
use proptest::prelude::*;

const ALL_RANGE_FNS: [RangeFn; 26] = [
    RangeFn::Rate,
    RangeFn::Increase,
    RangeFn::Delta,
    RangeFn::Irate,
    RangeFn::Idelta,
    RangeFn::Deriv,
    RangeFn::PredictLinear,
    RangeFn::DoubleExponentialSmoothing,
    RangeFn::Resets,
    RangeFn::Changes,
    RangeFn::AvgOverTime,
    RangeFn::MinOverTime,
    RangeFn::MaxOverTime,
    RangeFn::SumOverTime,
    RangeFn::CountOverTime,
    RangeFn::QuantileOverTime,
    RangeFn::StddevOverTime,
    RangeFn::StdvarOverTime,
    RangeFn::LastOverTime,
    RangeFn::FirstOverTime,
    RangeFn::PresentOverTime,
    RangeFn::MadOverTime,
    RangeFn::TsOfMinOverTime,
    RangeFn::TsOfMaxOverTime,
    RangeFn::TsOfFirstOverTime,
    RangeFn::TsOfLastOverTime,
];

/// Any f64, weighted towards the special values.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -1e6f64..1e6,
        1 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::MAX),
        1 => Just(-f64::MAX),
        1 => Just(0.0),
        1 => Just(-0.0),
    ]
}

/// Any i64 timestamp, including extremes.
fn any_ts() -> impl Strategy<Value = i64> {
    prop_oneof![4 => -1_000_000i64..1_000_000, 1 => any::<i64>()]
}

/// Samples with non-decreasing timestamps (duplicates allowed, to be
/// harsher than the evaluator) plus a window around them.
fn window_parts() -> impl Strategy<Value = (Vec<Sample>, i64, i64)> {
    (
        prop::collection::vec((any_ts(), any_f64()), 0..24),
        any_ts(),
        any_ts(),
    )
        .prop_map(|(mut pts, a, b)| {
            pts.sort_by_key(|p| p.0);
            let s = pts.into_iter().map(|(t, v)| Sample::new(t, v)).collect();
            (s, a.min(b), a.max(b))
        })
}

fn any_buckets() -> impl Strategy<Value = Vec<Bucket>> {
    prop::collection::vec((any_f64(), any_f64()), 0..12).prop_map(|v| {
        v.into_iter()
            .map(|(upper, count)| Bucket { upper, count })
            .collect()
    })
}

proptest! {
    #[test]
    fn range_kernels_never_panic(
        (samples, start, end) in window_parts(),
        params in prop::collection::vec(any_f64(), 0..3),
    ) {
        let w = Window { samples: &samples, start, end };
        for f in ALL_RANGE_FNS {
            let out = eval_range(f, w, &params);
            if samples.is_empty() {
                prop_assert_eq!(out, None, "{:?} on empty window", f);
            }
        }
    }

    #[test]
    fn counting_kernels_are_bounded((samples, start, end) in window_parts()) {
        let w = Window { samples: &samples, start, end };
        let n = samples.len() as f64;
        for f in [RangeFn::Resets, RangeFn::Changes] {
            if let Some(v) = eval_range(f, w, &[]) {
                prop_assert!(v >= 0.0 && v <= (n - 1.0).max(0.0));
            }
        }
        if !samples.is_empty() {
            prop_assert_eq!(eval_range(RangeFn::CountOverTime, w, &[]), Some(n));
        }
    }

    #[test]
    fn min_le_quantile_le_max(
        values in prop::collection::vec(-1e9f64..1e9, 1..30),
        phi in 0.0f64..=1.0,
    ) {
        let s: Vec<Sample> = values.iter().enumerate()
            .map(|(i, v)| Sample::new(i as i64 * 1000, *v)).collect();
        let w = Window { samples: &s, start: -1, end: s.len() as i64 * 1000 };
        let min = eval_range(RangeFn::MinOverTime, w, &[]).unwrap();
        let max = eval_range(RangeFn::MaxOverTime, w, &[]).unwrap();
        let q = eval_range(RangeFn::QuantileOverTime, w, &[phi]).unwrap();
        let avg = eval_range(RangeFn::AvgOverTime, w, &[]).unwrap();
        let slack = 1e-9 * (min.abs() + max.abs() + 1.0);
        prop_assert!(min <= q + slack && q <= max + slack);
        prop_assert!(min <= avg + slack && avg <= max + slack);
        prop_assert!(eval_range(RangeFn::StdvarOverTime, w, &[]).unwrap() >= -slack);
    }

    #[test]
    fn instant_kernels_never_panic(v in any_f64(), a in any_f64(), b in any_f64()) {
        use MathFn::*;
        for f in [Abs, Ceil, Floor, Exp, Sqrt, Ln, Log2, Log10, Sgn, Sin, Cos, Tan, Asin,
                  Acos, Atan, Sinh, Cosh, Tanh, Asinh, Acosh, Atanh, Deg, Rad] {
            let _ = eval_math(f, v);
        }
        let _ = round(v, a);
        let c = clamp(v, a, b);
        if !(v.is_nan() || a.is_nan() || b.is_nan()) && a <= b {
            prop_assert!(a <= c && c <= b);
        }
        use DateFn::*;
        for f in [DayOfMonth, DayOfWeek, DayOfYear, DaysInMonth, Hour, Minute, Month, Year] {
            let d = eval_date(f, v);
            prop_assert!(d.is_nan() || d.fract() == 0.0);
        }
    }

    #[test]
    fn dates_stay_in_calendar_ranges(secs in -1e13f64..1e13) {
        prop_assert!((1.0..=12.0).contains(&eval_date(DateFn::Month, secs)));
        let dim = eval_date(DateFn::DaysInMonth, secs);
        prop_assert!((28.0..=31.0).contains(&dim));
        let dom = eval_date(DateFn::DayOfMonth, secs);
        prop_assert!(dom >= 1.0 && dom <= dim);
        prop_assert!((1.0..=366.0).contains(&eval_date(DateFn::DayOfYear, secs)));
        prop_assert!((0.0..=6.0).contains(&eval_date(DateFn::DayOfWeek, secs)));
        prop_assert!((0.0..=23.0).contains(&eval_date(DateFn::Hour, secs)));
        prop_assert!((0.0..=59.0).contains(&eval_date(DateFn::Minute, secs)));
    }

    #[test]
    fn bucket_kernels_never_panic(
        mut buckets in any_buckets(),
        q in any_f64(),
        lower in any_f64(),
        upper in any_f64(),
    ) {
        let mut copy = buckets.clone();
        let _ = bucket_quantile(q, &mut buckets);
        let _ = bucket_fraction(lower, upper, &mut copy);
        let mut values: Vec<f64> = copy.iter().map(|b| b.count).collect();
        let _ = quantile(q, &mut values);
    }

    #[test]
    fn bucket_quantile_is_monotonic_in_q(
        increments in prop::collection::vec(0.0f64..100.0, 1..8),
        top in 0.0f64..100.0,
        q1 in 0.0f64..=1.0,
        q2 in 0.0f64..=1.0,
    ) {
        let mut count = 0.0;
        let mut b: Vec<Bucket> = increments.iter().enumerate().map(|(i, inc)| {
            count += inc;
            Bucket { upper: (i + 1) as f64, count }
        }).collect();
        b.push(Bucket { upper: f64::INFINITY, count: count + top });
        let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        let a = bucket_quantile(lo, &mut b.clone()).value;
        let z = bucket_quantile(hi, &mut b.clone()).value;
        if !(a.is_nan() || z.is_nan()) {
            prop_assert!(a <= z + 1e-9, "q {} -> {}, q {} -> {}", lo, a, hi, z);
        }
        let f = bucket_fraction(0.0, f64::INFINITY, &mut b.clone());
        prop_assert!(f.is_nan() || (0.0..=1.0 + 1e-12).contains(&f));
    }
}

proptest! {
    /// `rate` and `increase` from a series' precomputed resets, with the
    /// window geometry remembered from step to step, equal the per-window
    /// kernel bit for bit, on every window of the series, including NaN
    /// values, drops, repeated values and irregular spacing (so geometry
    /// sometimes repeats and sometimes does not).
    #[test]
    fn rate_from_precomputed_resets_is_bit_identical(
        vals in proptest::collection::vec(
            (
                prop_oneof![4 => 0.0f64..100.0, 1 => Just(f64::NAN), 1 => Just(0.0)],
                prop_oneof![3 => Just(0i64), 1 => 0i64..3_000],
            ),
            0..40,
        ),
        width in 1usize..12,
        edges in proptest::collection::vec(0i64..20_000, 1..4),
    ) {
        let samples: Vec<Sample> = vals
            .iter()
            .enumerate()
            .map(|(i, &(v, jitter))| Sample::new(i as i64 * 15_000 + 7 + jitter, v))
            .collect();
        let resets = rate::reset_points(&samples);
        let mut memo = rate::Extrapolation::default();
        for lo in 0..samples.len() {
            let hi = (lo + width).min(samples.len());
            let edge = edges[lo % edges.len()];
            let w = Window {
                samples: &samples[lo..hi],
                start: samples[lo].t - 10_000 - edge,
                end: samples[hi - 1].t + 3_000,
            };
            for is_rate in [true, false] {
                let a = rate::extrapolated_rate(&w, true, is_rate);
                let b = rate::extrapolated_rate_at(&w, &samples, lo, &resets, is_rate, &mut memo);
                prop_assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits));
            }
        }
    }
}

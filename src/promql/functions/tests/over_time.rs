//! `*_over_time` cases from `functions.test`.

use super::*;
use RangeFn::*;

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

/// The literal exactly as `functions.test` writes it.
#[allow(clippy::excessive_precision)]
const BIG: f64 = 9.988465674311579e+307;

/// Evaluates at 55s over [1m] on a `load 10s` series (all samples).
fn all_10s(f: RangeFn, values: &[f64]) -> Option<f64> {
    at(f, &load(10 * SEC, values), 55 * SEC, MIN, &[])
}

#[test]
fn avg_over_time_special_values() {
    let big = BIG;
    let cases: &[(&str, &[f64], f64)] = &[
        ("plain", &[1., 2., 3., 4., 5.], 3.),
        ("inf", &[1., 2., 3., 4., INF], INF),
        ("-inf", &[1., 2., 3., 4., -INF], -INF),
        ("inf -inf", &[1., 2., 3., INF, -INF], NAN),
        ("inf 0 inf", &[INF, 0., INF], INF),
        ("inf x3 -inf", &[INF, INF, INF, -INF], NAN),
        ("-inf -inf", &[1., 2., 3., -INF, -INF], -INF),
        ("-inf 0 -inf", &[-INF, 0., -INF], -INF),
        ("-inf x3 inf", &[-INF, -INF, -INF, INF], NAN),
        ("mixed infs", &[1., 2., -INF, -INF, INF], NAN),
        ("overflowing sum", &[big, big], big),
        ("overflowing negative sum", &[-big, -big, -big], -big),
        ("cancelling", &[-big, big], 0.),
        ("nan", &[1., 2., 3., NAN, NAN], NAN),
    ];
    for (name, values, want) in cases {
        assert_opt(name, all_10s(AvgOverTime, values), Some(*want));
    }
}

#[test]
fn sum_over_time_special_values() {
    let big = BIG;
    let cases: &[(&str, &[f64], f64)] = &[
        ("plain", &[1., 2., 3., 4., 5.], 15.),
        ("overflow", &[big, big], INF),
        ("negative overflow", &[-big, -big, -big], -INF),
        ("inf -inf", &[1., 2., 3., INF, -INF], NAN),
        ("cancelling", &[-big, big], 0.),
    ];
    for (name, values, want) in cases {
        assert_opt(name, all_10s(SumOverTime, values), Some(*want));
    }
}

#[test]
fn avg_over_time_window_edges() {
    let s = load(10 * SEC, &[1., 2., 3., 4., 5.]);
    assert_opt("empty", at(AvgOverTime, &s, 55 * SEC, 10 * SEC, &[]), None);
    assert_opt(
        "one",
        at(AvgOverTime, &s, 55 * SEC, 20 * SEC, &[]),
        Some(5.),
    );
    let n = load(10 * SEC, &[1., 2., 3., NAN, NAN]);
    assert_opt(
        "before NaN",
        at(AvgOverTime, &n, 20 * SEC, MIN, &[]),
        Some(2.),
    );
    assert_opt(
        "with NaN",
        at(AvgOverTime, &n, 30 * SEC, MIN, &[]),
        Some(NAN),
    );
}

#[test]
fn kahan_keeps_small_values_next_to_huge_ones() {
    let s = load(10 * SEC, &[1., 1e100, 1., -1e100]);
    assert_opt("sum", at(SumOverTime, &s, MIN, 2 * MIN, &[]), Some(2.));
    assert_opt("avg", at(AvgOverTime, &s, MIN, 2 * MIN, &[]), Some(0.5));
}

#[test]
fn avg_over_time_extreme_magnitudes() {
    let cases: &[(&str, &[f64], f64)] = &[
        (
            "m1",
            &[1e10, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6],
            1.6666666666666675e9,
        ),
        (
            "m2",
            &[
                5.30921651659898,
                0.961118537914768,
                1.62091361305318,
                0.865089463758091,
                0.323055185914577,
                0.951811357687154,
            ],
            1.67186744582113,
        ),
        (
            "m3",
            &[1.78264e50, 0.76342771, 1.9592258, 7.69805412, 458.90154],
            3.56528e49,
        ),
        (
            "m4",
            &[0.76342771, 1.9592258, 7.69805412, 1.78264e50, 458.90154],
            3.56528e49,
        ),
        (
            "m5",
            &[
                1.78264e50, 0.76342771, 1.9592258, 2.258e220, 7.69805412, 458.90154,
            ],
            3.76333333333333e219,
        ),
        (
            "m7",
            &[
                -1.78264e50,
                0.76342771,
                1.9592258,
                -2.258e220,
                7.69805412,
                -458.90154,
            ],
            -3.76333333333333e219,
        ),
        (
            "m8",
            &[
                -1.78264e215,
                0.76342771,
                1.9592258,
                2.258e220,
                7.69805412,
                -458.90154,
            ],
            3.76330362266667e219,
        ),
        (
            "m9",
            &[
                -1.78264e215,
                0.76342771,
                1.9592258,
                2.258e220,
                7.69805412,
                1.78264e215,
                -458.90154,
            ],
            3.225714285714286e219,
        ),
        (
            "m10",
            &[
                -1.78264e219,
                0.76342771,
                1.9592258,
                2.3757689e217,
                -2.3757689e217,
                2.258e220,
                7.69805412,
                1.78264e219,
                -458.90154,
            ],
            2.5088888888888888e219,
        ),
        (
            // Upstream documents 0 here (the true mean is -44.848...).
            "m11",
            &[
                -2.258e220,
                -1.78264e219,
                0.76342771,
                1.9592258,
                2.3757689e217,
                -2.3757689e217,
                2.258e220,
                7.69805412,
                1.78264e219,
                -458.90154,
            ],
            0.,
        ),
    ];
    for (name, values, want) in cases {
        let got = at(AvgOverTime, &load(5 * SEC, values), 55 * SEC, MIN, &[]);
        assert_opt(name, got, Some(*want));
    }
}

#[test]
fn avg_of_constant_is_exact() {
    let s = load(10 * SEC, &seq(52., 0., 100));
    for r in [100, 110, 120, 130] {
        let got = at(AvgOverTime, &s, 10 * MIN, r * SEC, &[]);
        assert_eq!(got, Some(52.), "range {r}s");
    }
}

#[test]
fn sum_over_time_dense_windows() {
    let s = load(1, &seq(1., 0., 4000));
    for r in [1000, 1001, 1002, 1003, 2000, 2001, 3002, 3003] {
        let got = at(SumOverTime, &s, 4 * SEC, r, &[]);
        assert_eq!(got, Some(r as f64), "range {r}ms");
    }
}

#[test]
fn stddev_and_stdvar() {
    let s = load(10 * SEC, &[0., 8., 8., 2., 3.]);
    assert_opt(
        "stdvar",
        at(StdvarOverTime, &s, MIN, 2 * MIN, &[]),
        Some(10.56),
    );
    assert_opt(
        "stddev",
        at(StddevOverTime, &s, MIN, 2 * MIN, &[]),
        Some(3.249615),
    );
    let c = load(10 * SEC, &[1.5990505637277868; 3]);
    assert_eq!(at(StdvarOverTime, &c, 55 * SEC, MIN, &[]), Some(0.));
    assert_eq!(at(StddevOverTime, &c, 55 * SEC, MIN, &[]), Some(0.));
    assert_opt("single", all_10s(StdvarOverTime, &[7.]), Some(0.));
}

#[test]
fn mad_over_time() {
    let s = |v: &[f64]| load(10 * SEC, v);
    let cases = [
        ("outlier", s(&[4., 6., 2., 1., 999., 1., 2.]), 70, 70, 1.),
        ("odd", s(&[1., 2., 3., 4., 5.]), 40, 50, 1.),
        ("equal", s(&[7.; 5]), 40, 50, 0.),
        ("single", s(&[5.]), 0, 10, 0.),
        ("nan", s(&[1., 2., NAN, 4.]), 30, 40, NAN),
    ];
    for (name, series, t, r, want) in cases {
        let got = at(MadOverTime, &series, t * SEC, r * SEC, &[]);
        assert_opt(name, got, Some(want));
    }
}

#[test]
fn ts_of_functions_use_odd_intervals() {
    let step = 10 * SEC + 53;
    let s = load(step, &[1., 2., 3., 0., 5., 6., 2., 1., 4.]);
    let t = 90 * SEC;
    assert_opt("min", at(TsOfMinOverTime, &s, t, t, &[]), Some(30.159));
    assert_opt("max", at(TsOfMaxOverTime, &s, t, t, &[]), Some(50.265));
    let last = load_gaps(step, &[Some(1.), Some(2.), Some(3.), None, None]);
    assert_opt("last", at(TsOfLastOverTime, &last, t, t, &[]), Some(20.106));
    assert_opt(
        "last 95",
        at(TsOfLastOverTime, &last, 95 * SEC, t, &[]),
        Some(20.106),
    );
    let first = load_gaps(step, &[None, None, Some(1.), Some(2.), Some(3.), None]);
    assert_opt(
        "first",
        at(TsOfFirstOverTime, &first, t, t, &[]),
        Some(20.106),
    );
    assert_opt(
        "first empty",
        at(TsOfFirstOverTime, &first, 15 * SEC, t, &[]),
        None,
    );
}

#[test]
fn ts_of_min_max_prefer_latest_tie() {
    let s = load(SEC, &[1., 3., 1., 3.]);
    assert_opt(
        "min tie",
        at(TsOfMinOverTime, &s, 3 * SEC, 5 * SEC, &[]),
        Some(2.),
    );
    assert_opt(
        "max tie",
        at(TsOfMaxOverTime, &s, 3 * SEC, 5 * SEC, &[]),
        Some(3.),
    );
    let n = load(SEC, &[NAN, 5., NAN]);
    assert_opt(
        "nan skipped",
        at(TsOfMaxOverTime, &n, 3 * SEC, 5 * SEC, &[]),
        Some(1.),
    );
}

#[test]
fn quantile_over_time_from_functions_test() {
    let two = load(10 * SEC, &[0., 1.]);
    let three = load(10 * SEC, &[0., 1., 2.]);
    let uneven = load(10 * SEC, &[0., 1., 4.]);
    let table = [
        (0., [0., 0., 0.]),
        (0.5, [0.5, 1., 1.]),
        (0.75, [0.75, 1.5, 2.5]),
        (0.8, [0.8, 1.6, 2.8]),
        (1., [1., 2., 4.]),
        (-1., [-INF; 3]),
        (2., [INF; 3]),
        (NAN, [NAN; 3]),
    ];
    for (q, wants) in table {
        for (s, want) in [&two, &three, &uneven].iter().zip(wants) {
            let got = at(QuantileOverTime, s, MIN, 2 * MIN, &[q]);
            assert_opt(&format!("q={q}"), got, Some(want));
        }
    }
    assert_opt("no q", at(QuantileOverTime, &two, MIN, 2 * MIN, &[]), None);
}

#[test]
fn min_max_first_last_count_with_nan() {
    // (values, min, max, first, last)
    let table: [([f64; 3], f64, f64, f64, f64); 5] = [
        ([2., 0., 3.], 0., 3., 2., 3.),
        ([2., 0., NAN], 0., 2., 2., NAN),
        ([2., NAN, 1.], 1., 2., 2., 1.),
        ([NAN, 0., 1.], 0., 1., NAN, 1.),
        ([NAN, NAN, NAN], NAN, NAN, NAN, NAN),
    ];
    for (values, min, max, first, last) in table {
        let s = load(10 * SEC, &values);
        let get = |f| at(f, &s, MIN, 2 * MIN, &[]);
        assert_opt("min", get(MinOverTime), Some(min));
        assert_opt("max", get(MaxOverTime), Some(max));
        assert_opt("first", get(FirstOverTime), Some(first));
        assert_opt("last", get(LastOverTime), Some(last));
        assert_opt("count", get(CountOverTime), Some(3.));
        assert_opt("present", get(PresentOverTime), Some(1.));
    }
}

#[test]
fn sparse_series() {
    let s = load_gaps(10 * SEC, &[None, Some(5.), Some(2.), None, Some(4.), None]);
    let get = |f| at(f, &s, MIN, 2 * MIN, &[]);
    assert_opt("min", get(MinOverTime), Some(2.));
    assert_opt("max", get(MaxOverTime), Some(5.));
    assert_opt("first", get(FirstOverTime), Some(5.));
    assert_opt("last", get(LastOverTime), Some(4.));
    assert_opt("count", get(CountOverTime), Some(3.));
}

#[test]
fn every_over_time_fn_is_absent_on_an_empty_window() {
    let fns = [
        AvgOverTime,
        MinOverTime,
        MaxOverTime,
        SumOverTime,
        CountOverTime,
        QuantileOverTime,
        StddevOverTime,
        StdvarOverTime,
        LastOverTime,
        FirstOverTime,
        PresentOverTime,
        MadOverTime,
        TsOfMinOverTime,
        TsOfMaxOverTime,
        TsOfFirstOverTime,
        TsOfLastOverTime,
        Rate,
        Increase,
        Delta,
        Irate,
        Idelta,
        Deriv,
        PredictLinear,
        DoubleExponentialSmoothing,
        Resets,
        Changes,
    ];
    let w = Window {
        samples: &[],
        start: 0,
        end: 1000,
    };
    for f in fns {
        assert_eq!(eval_range(f, w, &[0.5, 0.5]), None, "{f:?}");
    }
}

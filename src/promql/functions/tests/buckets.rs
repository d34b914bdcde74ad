//! `histogram_quantile` / `histogram_fraction` over classic buckets, and
//! the plain `quantile`.

use super::*;

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

fn bk(pairs: &[(f64, f64)]) -> Vec<Bucket> {
    pairs
        .iter()
        .map(|&(upper, count)| Bucket { upper, count })
        .collect()
}

/// `testhistogram` at 50m (each `0+Nx10` is 10·N), in shuffled order to
/// check the sort.
fn positive() -> Vec<Bucket> {
    bk(&[(INF, 120.), (0.1, 50.), (1.0, 110.), (0.2, 70.)])
}
fn negative() -> Vec<Bucket> {
    bk(&[(-0.2, 10.), (-0.1, 20.), (0.3, 20.), (INF, 30.)])
}
/// `testhistogram3` at 50m.
fn positive3() -> Vec<Bucket> {
    bk(&[(0., 0.), (0.1, 50.), (0.2, 70.), (1., 110.), (INF, 110.)])
}
fn negative3() -> Vec<Bucket> {
    bk(&[
        (-0.25, 0.),
        (-0.2, 10.),
        (-0.1, 20.),
        (0.3, 20.),
        (INF, 20.),
    ])
}

fn q(q: f64, mut b: Vec<Bucket>) -> BucketQuantile {
    bucket_quantile(q, &mut b)
}

#[test]
fn bucket_quantile_from_histograms_test() {
    let table = [
        (0., positive(), 0.),
        (0., negative(), -0.2),
        (1., positive(), 1.),
        (1., negative(), 0.3),
        (0.2, positive(), 0.048),
        (0.2, negative(), -0.2),
        (0.5, positive(), 0.15),
        (0.5, negative(), -0.15),
        (0.8, positive(), 0.72),
        (0.8, negative(), 0.3),
        (0., positive3(), 0.),
        (0., negative3(), -0.25),
        (0.25, positive3(), 0.055),
        (0.25, negative3(), -0.225),
        (0.5, positive3(), 0.125),
        (0.5, negative3(), -0.2),
        (0.75, positive3(), 0.45),
        (0.75, negative3(), -0.15),
        (1., positive3(), 1.),
        (1., negative3(), -0.1),
        (-0.1, positive(), -INF),
        (1.01, positive(), INF),
        (NAN, positive(), NAN),
    ];
    for (phi, b, want) in table {
        let got = q(phi, b);
        assert_close(&format!("q={phi}"), got.value, want);
        assert!(!got.forced_monotonicity && !got.fixed_precision);
    }
}

#[test]
fn bucket_quantile_mid_bucket() {
    // testhistogram2 at 7m (one step in): 0, 1, 2, 3, 3.
    let h = || bk(&[(0., 0.), (2., 1.), (4., 2.), (6., 3.), (INF, 3.)]);
    assert_close("1/6", q(1. / 6., h()).value, 1.);
    assert_close("1/2", q(0.5, h()).value, 3.);
    assert_close("5/6", q(5. / 6., h()).value, 5.);
}

#[test]
fn bucket_quantile_forces_monotonicity() {
    let h = || {
        bk(&[
            (0.1, 20.),
            (1., 10.),
            (10., 50.),
            (100., 40.),
            (1000., 90.),
            (INF, 80.),
        ])
    };
    for (phi, want) in [(0.01, 0.0045), (0.5, 8.5), (0.99, 979.75)] {
        let got = q(phi, h());
        assert_close(&format!("q={phi}"), got.value, want);
        assert!(got.forced_monotonicity, "q={phi} should report the fix");
        assert!(!got.fixed_precision);
    }
}

#[test]
fn bucket_quantile_ignores_tiny_float_noise() {
    let b = bk(&[(1., 10.), (2., 20.), (3., 20. - 1e-13), (INF, 20.)]);
    let got = q(0.5, b);
    assert_close("value", got.value, 1.);
    assert!(got.fixed_precision);
    assert!(!got.forced_monotonicity);
}

#[test]
fn bucket_quantile_coalesces_equal_bounds() {
    // `mixed_bucket` rate: le 0.1, 0.2 (three spellings), +Inf; per-second
    // counts over [10m] are 1/300, 1/300 x3, 4/300.
    let r = 1. / 300.;
    let ins1 = || bk(&[(0.1, r), (0.2, r), (0.2, r), (0.2, r), (INF, 4. * r)]);
    assert_close("0.5", q(0.5, ins1()).value, 0.15);
    assert_close("0.75", q(0.75, ins1()).value, 0.2);
    assert_close("1", q(1., ins1()).value, 0.2);
    // Two +Inf spellings coalesce into one bucket: fewer than two buckets.
    assert_close("ins2", q(0.5, bk(&[(INF, 0.), (INF, 0.)])).value, NAN);
}

#[test]
fn bucket_quantile_nan_cases() {
    let table = [
        ("no +Inf", bk(&[(1., 1.), (2., 2.)])),
        ("only +Inf", bk(&[(INF, 5.)])),
        ("empty", bk(&[])),
        ("zero observations", bk(&[(0.1, 0.), (0.2, 0.), (INF, 0.)])),
    ];
    for (name, b) in table {
        assert_close(name, q(0.5, b).value, NAN);
    }
    // Out-of-range q wins over missing buckets.
    assert_close("q<0 no buckets", q(-1., bk(&[])).value, -INF);
}

#[test]
fn bucket_quantile_rank_in_inf_bucket_returns_second_highest_bound() {
    let b = bk(&[(1., 1.), (2., 2.), (INF, 10.)]);
    assert_close("top", q(0.9, b).value, 2.);
}

fn fraction(lower: f64, upper: f64, mut b: Vec<Bucket>) -> f64 {
    bucket_fraction(lower, upper, &mut b)
}

#[test]
fn bucket_fraction_from_histograms_test() {
    let h2 = || bk(&[(0., 0.), (2., 10.), (4., 20.), (6., 30.), (INF, 30.)]);
    let pos = || bk(&[(1., 1.), (2., 3.), (3., 6.), (INF, 100.)]);
    let neg = || bk(&[(-3., 10.), (-2., 12.), (-1., 15.), (INF, 100.)]);
    let zero = || bk(&[(1., 0.), (2., 0.), (3., 0.), (INF, 0.)]);
    let table = [
        ("h2 0..4", fraction(0., 4., h2()), 0.6666666666666666),
        ("h2 0..6", fraction(0., 6., h2()), 1.),
        ("h2 0..3.5", fraction(0., 3.5, h2()), 0.5833333333333334),
        (
            "h3 positive",
            fraction(0., 0.2, positive3()),
            0.6363636363636364,
        ),
        ("h3 negative", fraction(0., 0.2, negative3()), 0.),
        ("lower in first", fraction(0., 1.5, pos()), 0.02),
        ("negative first", fraction(-4., -2., neg()), 0.02),
        ("lower -Inf", fraction(-INF, -1.5, neg()), 0.135),
        ("all positive", fraction(-INF, INF, pos()), 1.),
        ("all negative", fraction(-INF, INF, neg()), 1.),
        ("both in last (pos)", fraction(4., 5., pos()), 0.),
        ("both in last (neg)", fraction(0., 1., neg()), 0.),
        ("upper in last", fraction(2., 5., pos()), 0.03),
        ("upper +Inf", fraction(400., INF, pos()), 0.94),
        ("equal", fraction(2., 2., pos()), 0.),
        ("reversed", fraction(3., 2., pos()), 0.),
        ("single bucket", fraction(0., 1., bk(&[(INF, 100.)])), 0.),
        ("all zero", fraction(0., 5., zero()), NAN),
        ("lower on boundary", fraction(2., 3.5, pos()), 0.03),
        ("upper on boundary", fraction(0.5, 2., pos()), 0.025),
        ("NaN bound", fraction(NAN, 2., pos()), NAN),
        ("no +Inf", fraction(0., 2., bk(&[(1., 1.), (2., 2.)])), NAN),
        ("no buckets", fraction(0., 2., bk(&[])), NAN),
    ];
    for (name, got, want) in table {
        assert_close(name, got, want);
    }
}

#[test]
fn quantile_from_aggregators_test() {
    let table: [(f64, &[f64], f64); 11] = [
        (0.8, &[0., 1.], 0.8),
        (0.8, &[0., 1., 2.], 1.6),
        (0.8, &[1., 4., 0.], 2.8),
        // NaN sorts first.
        (0.8, &[0., 1., NAN], 0.6),
        (0.2, &[NAN, 0., 1.], NAN),
        (0.2, &[2., 1., 0.], 0.4),
        (NAN, &[0., 1.], NAN),
        (-0.5, &[0., 1.], -INF),
        (1.5, &[0., 1.], INF),
        (0.5, &[], NAN),
        (0.3, &[7.], 7.),
    ];
    for (phi, values, want) in table {
        let mut v = values.to_vec();
        assert_close(
            &format!("quantile({phi}, {values:?})"),
            quantile(phi, &mut v),
            want,
        );
    }
}

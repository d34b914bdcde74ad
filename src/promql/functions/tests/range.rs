//! rate / increase / delta / irate / idelta / resets / changes / deriv /
//! predict_linear / double_exponential_smoothing.

use super::*;
use RangeFn::*;

const NAN: f64 = f64::NAN;

/// One promqltest expectation: `f` at `eval` over `[range]` gives `want`.
struct Case {
    name: &'static str,
    f: RangeFn,
    series: Vec<Sample>,
    eval: i64,
    range: i64,
    params: Vec<f64>,
    want: Option<f64>,
}

fn case(name: &'static str, f: RangeFn, series: &[Sample], eval: i64, range: i64) -> Case {
    Case {
        name,
        f,
        series: series.to_vec(),
        eval,
        range,
        params: vec![],
        want: None,
    }
}

impl Case {
    fn want(mut self, v: f64) -> Case {
        self.want = Some(v);
        self
    }
    fn params(mut self, p: &[f64]) -> Case {
        self.params = p.to_vec();
        self
    }
}

fn run(cases: Vec<Case>) {
    for c in cases {
        let got = at(c.f, &c.series, c.eval, c.range, &c.params);
        assert_opt(c.name, got, c.want);
    }
}

#[test]
fn resets_and_changes_from_functions_test() {
    let foo = load(5 * MIN, &[1., 2., 3., 0., 1., 0., 0., 1., 2., 0.]);
    let bar = load(5 * MIN, &[1., 2., 3., 4., 5., 1., 2., 3., 4., 5.]);
    let biz = load(5 * MIN, &[0., 0., 0., 0., 0., 1., 1., 1., 1., 1.]);
    let t = 50 * MIN;
    run(vec![
        case("resets empty window", Resets, &foo, t, 5 * MIN),
        case("resets one sample", Resets, &foo, t, 10 * MIN).want(0.),
        case("resets foo 20m", Resets, &foo, t, 20 * MIN).want(1.),
        case("resets bar 20m", Resets, &bar, t, 20 * MIN).want(0.),
        case("resets foo 32m", Resets, &foo, t, 32 * MIN).want(2.),
        case("resets bar 32m", Resets, &bar, t, 32 * MIN).want(1.),
        case("resets foo 50m", Resets, &foo, t, 50 * MIN).want(3.),
        case("resets biz 50m", Resets, &biz, t, 50 * MIN).want(0.),
        case("changes empty", Changes, &foo, t, 5 * MIN),
        case("changes one", Changes, &bar, t, 6 * MIN).want(0.),
        case("changes foo 20m", Changes, &foo, t, 20 * MIN).want(2.),
        case("changes bar 20m", Changes, &bar, t, 20 * MIN).want(2.),
        case("changes foo 30m", Changes, &foo, t, 30 * MIN).want(3.),
        case("changes bar 30m", Changes, &bar, t, 30 * MIN).want(4.),
        case("changes foo 50m", Changes, &foo, t, 50 * MIN).want(7.),
        case("changes bar 50m", Changes, &bar, t, 50 * MIN).want(8.),
        case("changes biz 50m", Changes, &biz, t, 50 * MIN).want(1.),
    ]);
}

#[test]
fn changes_treats_nan_to_nan_as_unchanged() {
    let all_nan = load(5 * MIN, &[NAN, NAN, NAN]);
    let mixed = load(5 * MIN, &[0., NAN, 0.]);
    run(vec![
        case("NaN NaN NaN", Changes, &all_nan, 15 * MIN, 20 * MIN).want(0.),
        case("0 NaN 0", Changes, &mixed, 15 * MIN, 20 * MIN).want(2.),
    ]);
}

#[test]
fn increase_extrapolates_and_clamps_at_zero() {
    let foo = load(5 * MIN, &seq(0., 10., 10));
    let bar = load(5 * MIN, &cat(&[seq(0., 18., 5), seq(0., 18., 5)]));
    let dings = load(5 * MIN, &seq(10., 10., 10));
    let bumms = load(5 * MIN, &seq(1., 10., 10));
    let reset = load(5 * MIN, &[0., 1., 2., 3., 2., 3., 4.]);
    let t = 50 * MIN;
    run(vec![
        case("foo 50m", Increase, &foo, t, 50 * MIN).want(100.),
        case("bar 50m", Increase, &bar, t, 50 * MIN).want(160.),
        case("dings 50m", Increase, &dings, t, 50 * MIN).want(100.),
        case("bumms 50m", Increase, &bumms, t, 50 * MIN).want(100.),
        case("foo 100m", Increase, &foo, t, 100 * MIN).want(100.),
        case("bar 100m", Increase, &bar, t, 100 * MIN).want(162.),
        case("dings 100m", Increase, &dings, t, 100 * MIN).want(105.),
        case("bumms 100m", Increase, &bumms, t, 100 * MIN).want(101.),
        case("reset", Increase, &reset, 30 * MIN, 30 * MIN).want(7.),
    ]);
}

#[test]
fn rate_from_functions_test() {
    let middle = load(5 * MIN, &cat(&[seq(0., 27., 4), seq(0., 27., 5)]));
    let end = load(5 * MIN, &cat(&[seq(0., 10., 9), vec![0., 10.]]));
    let window = load(5 * MIN, &seq(0., 80., 10));
    let a = load(5 * MIN, &seq(0., 10., 10));
    let b = load(5 * MIN, &seq(0., 20., 10));
    let t = 50 * MIN;
    run(vec![
        case("reset in middle", Rate, &middle, t, 50 * MIN).want(0.08),
        case("reset at end, one sample", Rate, &end, t, 5 * MIN),
        case("reset at end", Rate, &end, t, 6 * MIN).want(0.),
        case("window", Rate, &window, t, 50 * MIN).want(0.26666666666666666),
        // `[10m] offset 5m` at 50m is the window (35m, 45m].
        case("offset a", Rate, &a, 45 * MIN, 10 * MIN).want(0.03333333333333333),
        case("offset b", Rate, &b, 45 * MIN, 10 * MIN).want(0.06666666666666667),
    ]);
}

#[test]
fn rate_zero_cutoff_from_functions_test() {
    let wants_10m = [0.5, 0.55, 0.6, 0.6, 0.6, 0.6];
    for (k, want) in wants_10m.iter().enumerate() {
        let s = load(4 * MIN, &seq(60. * k as f64, 240., 10));
        let got = at(Rate, &s, 10 * MIN, 20 * MIN, &[]);
        assert_opt("zero cutoff at 10m", got, Some(*want));
        let got = at(Rate, &s, 50 * MIN, 20 * MIN, &[]);
        assert_opt("half interval at 50m", got, Some(0.6));
    }
}

#[test]
fn delta_does_not_correct_resets() {
    let foo = load(5 * MIN, &[0., 50., 100., 150., 200.]);
    let bar = load(5 * MIN, &[200., 150., 100., 50., 0.]);
    let saw = load(5 * MIN, &[0., 10., 0., 10., 0.]);
    run(vec![
        case("foo", Delta, &foo, 20 * MIN, 20 * MIN).want(200.),
        case("bar", Delta, &bar, 20 * MIN, 20 * MIN).want(-200.),
        // 10 -> 0 over three spacings, extrapolated by one more spacing.
        case("saw", Delta, &saw, 20 * MIN, 20 * MIN).want(-10. * 4. / 3.),
        case("one sample", Delta, &foo, 20 * MIN, 5 * MIN),
    ]);
}

#[test]
fn irate_and_idelta_use_last_two_samples() {
    let foo = load(5 * MIN, &seq(0., 10., 10));
    let bar = load(5 * MIN, &cat(&[seq(0., 10., 5), seq(0., 10., 5)]));
    let nan = load(5 * MIN, &[1., NAN, NAN, 5., 11.]);
    let r = 15 * MIN + SEC;
    let id_foo = load(5 * MIN, &[0., 50., 100., 150.]);
    let id_bar = load(5 * MIN, &[0., 50., 100., 50.]);
    run(vec![
        case("irate foo", Irate, &foo, 50 * MIN, 50 * MIN).want(1. / 30.),
        case("irate bar", Irate, &bar, 50 * MIN, 50 * MIN).want(1. / 30.),
        case("irate foo 30m", Irate, &foo, 30 * MIN, 50 * MIN).want(1. / 30.),
        case("irate bar reset", Irate, &bar, 30 * MIN, 50 * MIN).want(0.),
        case("irate nan 0m", Irate, &nan, 0, r),
        case("irate nan 5m", Irate, &nan, 5 * MIN, r).want(NAN),
        case("irate nan 10m", Irate, &nan, 10 * MIN, r).want(NAN),
        case("irate nan 15m", Irate, &nan, 15 * MIN, r).want(NAN),
        case("irate nan 20m", Irate, &nan, 20 * MIN, r).want(0.02),
        case("idelta foo", Idelta, &id_foo, 20 * MIN, 20 * MIN).want(50.),
        case("idelta bar", Idelta, &id_bar, 20 * MIN, 20 * MIN).want(-50.),
        case("idelta nan 0m", Idelta, &nan, 0, r),
        case("idelta nan 5m", Idelta, &nan, 5 * MIN, r).want(NAN),
        case("idelta nan 15m", Idelta, &nan, 15 * MIN, r).want(NAN),
        case("idelta nan 20m", Idelta, &nan, 20 * MIN, r).want(6.),
    ]);
}

#[test]
fn irate_drops_equal_timestamps() {
    let s = [Sample::new(1000, 1.), Sample::new(1000, 2.)];
    let w = Window {
        samples: &s,
        start: 0,
        end: 2000,
    };
    assert_eq!(eval_range(Irate, w, &[]), None);
    assert_eq!(eval_range(Idelta, w, &[]), None);
}

#[test]
fn deriv_from_functions_test() {
    let total = load(5 * MIN, &seq(0., 80., 10));
    let middle = load(5 * MIN, &cat(&[seq(0., 10., 4), seq(0., 10., 5)]));
    let inf = load(
        5 * MIN,
        &cat(&[
            vec![f64::NEG_INFINITY],
            seq(0., 80., 10),
            vec![f64::INFINITY],
        ]),
    );
    let flat = load(5 * MIN, &[3., 3., 3.]);
    let flat_inf = load(5 * MIN, &[f64::INFINITY; 3]);
    run(vec![
        case("simple", Deriv, &total, 50 * MIN, 50 * MIN).want(0.26666666666666666),
        case("reset", Deriv, &middle, 50 * MIN, 100 * MIN).want(0.010606060606060607),
        case("inf", Deriv, &inf, 100 * MIN, 100 * MIN).want(NAN),
        case("constant", Deriv, &flat, 10 * MIN, 20 * MIN).want(0.),
        case("constant inf", Deriv, &flat_inf, 10 * MIN, 20 * MIN).want(NAN),
        case("one sample", Deriv, &flat, 10 * MIN, 5 * MIN),
    ]);
}

#[test]
fn predict_linear_intercepts_at_evaluation_time() {
    let middle = load(5 * MIN, &cat(&[seq(0., 10., 4), seq(0., 10., 5)]));
    let total = load(5 * MIN, &seq(0., 80., 10));
    let inf = load(
        5 * MIN,
        &cat(&[
            vec![f64::NEG_INFINITY],
            seq(0., 80., 10),
            vec![f64::INFINITY],
        ]),
    );
    let ms = |m: i64| (m * MIN) as f64;
    run(vec![
        case("plain", PredictLinear, &middle, 50 * MIN, 50 * MIN)
            .params(&[3600.])
            .want(70.),
        // `[55m] @ 3000` evaluated at 50m, 10m and 70m: the window stays
        // (-300s, 3000s] while the intercept follows the evaluation time.
        case("@ at 50m", PredictLinear, &middle, 50 * MIN, 55 * MIN)
            .params(&[3600., ms(50)])
            .want(76.81818181818181),
        case("@ at 10m", PredictLinear, &middle, 50 * MIN, 55 * MIN)
            .params(&[3600., ms(10)])
            .want(51.36363636363637),
        case("@ at 70m", PredictLinear, &middle, 50 * MIN, 55 * MIN)
            .params(&[3600., ms(70)])
            .want(89.54545454545455),
        case("on the line", PredictLinear, &total, 50 * MIN, 50 * MIN)
            .params(&[3600.])
            .want(800. + 80. / 300. * 3600.),
        case("inf", PredictLinear, &inf, 100 * MIN, 100 * MIN)
            .params(&[6000.])
            .want(NAN),
        case("no param", PredictLinear, &total, 50 * MIN, 50 * MIN),
    ]);
}

#[test]
fn double_exponential_smoothing_from_functions_test() {
    let t = 8000 * SEC;
    let tail = |start: f64, step: f64| cat(&[seq(0., step, 1000), seq(start, 30., 1000)]);
    let p = [0.01, 0.1];
    let s10 = |v: &[f64]| load(10 * SEC, v);
    let mix = s10(&cat(&[seq(0., 10., 1000), seq(100., 30., 1000)]));
    run(vec![
        case(
            "up 10",
            DoubleExponentialSmoothing,
            &s10(&tail(100., 10.)),
            t,
            MIN,
        )
        .params(&p)
        .want(8000.),
        case(
            "up 20",
            DoubleExponentialSmoothing,
            &s10(&tail(200., 20.)),
            t,
            MIN,
        )
        .params(&p)
        .want(16000.),
        case(
            "up 40",
            DoubleExponentialSmoothing,
            &s10(&seq(0., 40., 2000)),
            t,
            MIN,
        )
        .params(&p)
        .want(32000.),
        case(
            "second part",
            DoubleExponentialSmoothing,
            &mix,
            20010 * SEC,
            MIN,
        )
        .params(&p)
        .want(30100.),
        case(
            "down",
            DoubleExponentialSmoothing,
            &s10(&seq(8000., -10., 1000)),
            t,
            MIN,
        )
        .params(&p)
        .want(0.),
        case(
            "down 20",
            DoubleExponentialSmoothing,
            &s10(&seq(0., -20., 1000)),
            t,
            MIN,
        )
        .params(&p)
        .want(-16000.),
        case("one sample", DoubleExponentialSmoothing, &mix, 0, MIN).params(&p),
        case("no params", DoubleExponentialSmoothing, &mix, t, MIN),
    ]);
}

#[test]
fn double_exponential_smoothing_by_hand() {
    // Three samples 1, 3, 4 with sf=0.5, tf=0.5:
    // step 1: level = 0.5*3 + 0.5*(1+2) = 3, trend stays 2;
    // step 2: trend = 0.5*(3-1) + 0.5*2 = 2, level = 0.5*4 + 0.5*(3+2) = 4.5.
    let s = load(SEC, &[1., 3., 4.]);
    let got = at(
        DoubleExponentialSmoothing,
        &s,
        2 * SEC,
        3 * SEC,
        &[0.5, 0.5],
    );
    assert_opt("holt", got, Some(4.5));
}

#[test]
fn extrapolation_threshold_is_one_point_one_spacings() {
    // Gauge 0, 10, 20 at 20s, 30s, 40s: spacing 10s, threshold 11s.
    let s = [
        Sample::new(20 * SEC, 0.),
        Sample::new(30 * SEC, 10.),
        Sample::new(40 * SEC, 20.),
    ];
    let delta = |start: i64, end: i64| {
        let w = Window {
            samples: &s,
            start,
            end,
        };
        eval_range(Delta, w, &[])
    };
    // 10.5s to the start: extrapolate all the way, 20 * 30.5 / 20.
    assert_opt("start under", delta(9_500, 40 * SEC), Some(30.5));
    // 11.5s: only half a spacing, 20 * 25 / 20.
    assert_opt("start over", delta(8_500, 40 * SEC), Some(25.));
    // Exactly at the threshold counts as too far (`>=`).
    assert_opt("start at", delta(9 * SEC, 40 * SEC), Some(25.));
    assert_opt("end under", delta(20 * SEC, 50_500), Some(30.5));
    assert_opt("end over", delta(20 * SEC, 51_500), Some(25.));
    // Rate divides by the whole window, not the sampled interval; as a
    // counter starting at 0 it is not extrapolated to the left at all.
    let w = Window {
        samples: &s,
        start: 8_500,
        end: 40 * SEC,
    };
    assert_opt("rate", eval_range(Rate, w, &[]), Some(20. / 31.5));
}

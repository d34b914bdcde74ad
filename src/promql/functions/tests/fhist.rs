//! Histogram arithmetic and statistics against hand-computed values
//! (upstream's `float_histogram_test.go` cases in miniature).

use crate::model::CounterResetHint;
use crate::promql::functions::fhist::FHist;
use crate::promql::functions::hist_stats;
use crate::promql::functions::hsum::HSum;

/// Schema `schema`, positive buckets `(index, count)`, count = their sum.
fn h(schema: i32, pos: &[(i32, f64)]) -> FHist {
    FHist {
        schema,
        hint: CounterResetHint::Unknown,
        zero_threshold: 0.0,
        zero_count: 0.0,
        count: pos.iter().map(|b| b.1).sum(),
        sum: 0.0,
        pos: pos.to_vec(),
        neg: Vec::new(),
        custom: Vec::new(),
    }
}

fn nonzero(b: &[(i32, f64)]) -> Vec<(i32, f64)> {
    b.iter().copied().filter(|b| b.1 != 0.0).collect()
}

#[test]
fn add_meets_at_the_lower_schema() {
    // Schema 1 buckets 1 and 2 are (2^0.5, 2] and (2, 2^1.5]: schema 0
    // buckets 1 and 2.
    let mut a = h(1, &[(1, 1.0), (2, 2.0), (3, 4.0)]);
    let b = h(0, &[(1, 10.0)]);
    a.add(&b).unwrap();
    assert_eq!(a.schema, 0);
    assert_eq!(nonzero(&a.pos), [(1, 13.0), (2, 4.0)]);
    assert_eq!(a.count, 17.0);
    let mut c = h(0, &[(1, 10.0)]);
    c.add(&h(1, &[(1, 1.0), (2, 2.0)])).unwrap();
    assert_eq!(nonzero(&c.pos), [(1, 13.0)]);
}

#[test]
fn add_widens_the_smaller_zero_bucket() {
    // Bucket 0 of schema 0 is (0.5, 1]: inside a zero bucket of width 1.
    let mut a = h(0, &[(0, 3.0), (2, 1.0)]);
    let mut b = h(0, &[]);
    b.zero_threshold = 1.0;
    b.zero_count = 2.0;
    b.count = 2.0;
    a.add(&b).unwrap();
    assert_eq!(a.zero_threshold, 1.0);
    assert_eq!(a.zero_count, 5.0);
    assert_eq!(nonzero(&a.pos), [(2, 1.0)]);
}

#[test]
fn custom_buckets_meet_on_common_bounds() {
    let mut a = h(-53, &[(0, 1.0), (1, 2.0), (2, 4.0)]);
    a.custom = vec![1.0, 2.0];
    let mut b = h(-53, &[(0, 8.0), (1, 16.0)]);
    b.custom = vec![2.0];
    let notes = a.add(&b).unwrap();
    assert!(notes.bounds_reconciled);
    assert_eq!(a.custom, [2.0]);
    assert_eq!(nonzero(&a.pos), [(0, 11.0), (1, 20.0)]);
    assert!(a.add(&h(0, &[(1, 1.0)])).is_err(), "custom + exponential");
}

#[test]
fn hints_of_sums_and_scaling() {
    let mut a = h(0, &[(1, 1.0)]);
    a.hint = CounterResetHint::Reset;
    let mut b = h(0, &[(1, 1.0)]);
    b.hint = CounterResetHint::NotReset;
    assert!(a.add(&b).unwrap().reset_collision);
    assert_eq!(a.hint, CounterResetHint::Unknown);
    a.mul(-1.0);
    assert_eq!(a.hint, CounterResetHint::Gauge);
    let mut d = h(0, &[(1, 4.0)]);
    d.div(0.0);
    assert!(d.pos.is_empty());
    assert_eq!(d.count, f64::INFINITY);
}

#[test]
fn resets_are_detected_per_bucket_and_by_hint() {
    let prev = h(0, &[(1, 2.0), (2, 2.0)]);
    let cases = [
        (h(0, &[(1, 3.0), (2, 2.0)]), false),
        (h(0, &[(1, 4.0), (2, 1.0)]), true),
        (h(0, &[(1, 5.0)]), true),
        (h(1, &[(1, 3.0), (3, 3.0)]), true),
        (h(-1, &[(1, 5.0)]), false),
    ];
    for (cur, want) in cases {
        assert_eq!(cur.detect_reset(&prev), want, "{cur:?}");
    }
    let mut hinted = h(0, &[(1, 0.0)]);
    hinted.hint = CounterResetHint::NotReset;
    assert!(!hinted.detect_reset(&prev));
}

#[test]
fn quantile_and_fraction_interpolate_on_the_right_scale() {
    // 10 observations in (1, 2] of schema 0.
    let x = h(0, &[(1, 10.0)]);
    let q = hist_stats::quantile(0.5, &x).value;
    assert!((q - 2f64.sqrt()).abs() < 1e-12, "{q}");
    assert_eq!(hist_stats::quantile(1.5, &x).value, f64::INFINITY);
    assert!(hist_stats::quantile(0.5, &h(0, &[])).value.is_nan());
    let f = hist_stats::fraction(0.0, 1.5, &x).value;
    assert!((f - 1.5f64.log2()).abs() < 1e-12, "{f}");
    assert_eq!(hist_stats::fraction(0.0, 2.0, &x).value, 1.0);
    // Custom buckets interpolate linearly: (1, 2] holds 10.
    let mut c = h(-53, &[(1, 10.0)]);
    c.custom = vec![1.0, 2.0];
    assert_eq!(hist_stats::quantile(0.5, &c).value, 1.5);
    assert_eq!(hist_stats::fraction(1.0, 1.25, &c).value, 0.25);
    // NaN observations: none of the buckets reach the rank.
    let mut nan = h(0, &[]);
    nan.count = 3.0;
    nan.sum = f64::NAN;
    assert!(hist_stats::quantile(0.5, &nan).nan_result);
}

#[test]
fn sums_compensate_and_means_survive_overflow() {
    let mut big = h(0, &[]);
    big.sum = 1e100;
    let mut one = h(0, &[]);
    one.sum = 1.0;
    let mut minus = h(0, &[]);
    minus.sum = -1e100;
    let mut s = HSum::new(&big, false);
    s.add(&one).unwrap();
    s.add(&minus).unwrap();
    assert_eq!(s.finish().sum, 1.0);
    let mut huge = h(0, &[]);
    huge.count = f64::MAX;
    let mut m = HSum::new(&huge, true);
    m.add(&huge).unwrap();
    assert_eq!(m.finish().count, f64::MAX);
}

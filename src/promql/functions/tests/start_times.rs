//! The start-timestamp kernels (`rate_st.rs`), with cases from upstream's
//! `start_timestamps.test` and the rules of `isStartTimestampReset`.

use super::*;
use crate::promql::functions::rate_st::{
    any_overlap, is_start_timestamp_reset, start_time_overlaps,
};
use proptest::prelude::*;

#[test]
fn reset_rule_table() {
    // (prev_st, prev_t, cur_st, cur_t, reset)
    let cases = [
        (0, 60, 0, 120, false),    // no ST
        (0, 60, 130, 120, false),  // ST after its sample: invalid
        (0, 60, 120, 120, false),  // ST == T: OTel unknown start
        (10, 60, 30, 120, false),  // ST before previous sample: cumulative
        (10, 60, 90, 120, true),   // ST after previous sample: reset
        (0, 60, 60, 120, false),   // ST == prev T, prev ST unknown: cumulative
        (60, 60, 60, 120, false),  // ST == prev T, prev ST == prev T: unknown start
        (1, 60, 60, 120, true),    // ST == prev T, prev ST known: delta
        (120, 60, 60, 120, false), // prev ST after prev T is invalid: unknown
    ];
    for (ps, pt, cs, ct, want) in cases {
        assert_eq!(
            is_start_timestamp_reset(ps, pt, cs, ct),
            want,
            "{ps} {pt} {cs} {ct}"
        );
    }
    assert!(!start_time_overlaps(0, 60, 60)); // delta: ST = previous T
    assert!(!start_time_overlaps(5, 60, 5)); // cumulative: same ST
    assert!(start_time_overlaps(5, 60, 30));
    assert!(!start_time_overlaps(5, 60, 0));
}

/// `(t, v, st)` rows as a window's samples and start timestamps.
fn rows(r: &[(i64, f64, i64)]) -> (Vec<Sample>, Vec<i64>) {
    (
        r.iter().map(|&(t, v, _)| Sample::new(t, v)).collect(),
        r.iter().map(|&(.., st)| st).collect(),
    )
}

fn st_at(f: RangeFn, r: &[(i64, f64, i64)], eval: i64, range: i64) -> Option<f64> {
    let (s, sts) = rows(r);
    let keep: Vec<usize> = (0..s.len())
        .filter(|&i| s[i].t > eval - range && s[i].t <= eval)
        .collect();
    let s: Vec<Sample> = keep.iter().map(|&i| s[i]).collect();
    let sts: Vec<i64> = keep.iter().map(|&i| sts[i]).collect();
    let w = Window {
        samples: &s,
        start: eval - range,
        end: eval,
    };
    eval_range_st(f, w, &sts)
}

#[test]
fn zero_point_at_start_timestamp_replaces_left_extrapolation() {
    // start_timestamps.test, `series` loads at 2m..6m with values 1..5.
    let inside: Vec<(i64, f64, i64)> = (0..5)
        .map(|i| {
            (
                (2 + i) * MIN,
                (1 + i) as f64,
                (2 + i) * MIN - 30 * SEC - i * MIN,
            )
        })
        .collect();
    // increase at 6m over 5m: ST of 2m is 1m30s, inside (1m, 6m].
    assert!(close(
        st_at(RangeFn::Increase, &inside, 6 * MIN, 5 * MIN).unwrap(),
        5.0
    ));
    // A single sample with its ST inside the window counts in full.
    let single = [(4 * MIN, 3.0, 4 * MIN - 150 * SEC)];
    assert_eq!(
        st_at(RangeFn::Increase, &single, 6 * MIN, 5 * MIN),
        Some(3.0)
    );
    // ... and with its ST outside (at or before the window start), nothing.
    let outside = [(4 * MIN, 3.0, 4 * MIN - 180 * SEC)];
    assert_eq!(st_at(RangeFn::Increase, &outside, 6 * MIN, 5 * MIN), None);
}

#[test]
fn delta_series_resets_every_sample() {
    // `delta{type="otel"}`: value 60 every minute, ST = previous sample.
    let otel: Vec<(i64, f64, i64)> = (2..=17).map(|i| (i * MIN, 60.0, (i - 1) * MIN)).collect();
    assert!(close(
        st_at(RangeFn::Increase, &otel, 12 * MIN, 5 * MIN).unwrap(),
        300.0
    ));
    assert!(close(
        st_at(RangeFn::Irate, &otel, 12 * MIN, 5 * MIN).unwrap(),
        1.0
    ));
    assert_eq!(st_at(RangeFn::Resets, &otel, 12 * MIN, 5 * MIN), Some(4.0));
    // ST == T ("empty range"): no resets, so a flat series.
    let empty: Vec<(i64, f64, i64)> = (2..=17).map(|i| (i * MIN, 60.0, i * MIN)).collect();
    assert_eq!(
        st_at(RangeFn::Increase, &empty, 12 * MIN, 5 * MIN),
        Some(0.0)
    );
    let (s, sts) = rows(&otel);
    assert!(!any_overlap(&s, &sts));
    let overlapping: Vec<(i64, f64, i64)> =
        (2..=4).map(|i| (i * MIN, 60.0, (i - 2) * MIN)).collect();
    let (s, sts) = rows(&overlapping);
    assert!(any_overlap(&s, &sts));
}

proptest! {
    /// Without start timestamps the kernels agree with the plain ones.
    #[test]
    fn zero_start_times_change_nothing(
        vals in proptest::collection::vec(0.0f64..1000.0, 1..30),
        end in 0i64..40,
    ) {
        let s: Vec<Sample> = vals.iter().enumerate().map(|(i, &v)| Sample::new(i as i64 * 15 * SEC, v)).collect();
        let zeros = vec![0; s.len()];
        for f in [RangeFn::Rate, RangeFn::Increase, RangeFn::Irate, RangeFn::Resets] {
            let eval = end * 15 * SEC;
            let plain = at(f, &s, eval, 5 * MIN, &[]);
            let keep: Vec<Sample> = s.iter().copied().filter(|p| p.t > eval - 5 * MIN && p.t <= eval).collect();
            let w = Window { samples: &keep, start: eval - 5 * MIN, end: eval };
            let with = eval_range_st(f, w, &zeros[..keep.len()]);
            prop_assert_eq!(plain.map(f64::to_bits), with.map(f64::to_bits), "{:?}", f);
        }
    }
}

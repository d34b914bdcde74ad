//! Counter kernels that also use per-sample start (created) timestamps:
//! `rate`, `increase`, `irate` and `resets` when the series has any (the
//! histogram kernels in `eval/native.rs` share the helpers).
//!
//! `sts[i]` is the start timestamp (ms) of `samples[i]`; 0 means unknown.
//! A start timestamp marks where a counter began counting from zero, so it
//! reveals resets the values alone cannot show (a delta series restarts at
//! every sample) and tells `rate` where the series really starts, in place
//! of extrapolating towards the window start. All-zero `sts` give exactly
//! the results of the kernels in `rate.rs`.

use super::rate::{extrapolate, ms_between};
use super::Window;
use crate::model::Sample;

/// Whether the counter was reset between two samples, judging by the
/// current sample's start timestamp (`isStartTimestampReset` in
/// `promql/functions.go`).
///
/// Not a reset: no ST, an ST at or after its own sample (invalid, or OTel's
/// "unknown start"), or an ST before the previous sample (a cumulative
/// series that kept counting). A reset: an ST after the previous sample.
/// An ST exactly at the previous sample is a reset for delta series (whose
/// previous sample had a known ST of its own) and not for a cumulative
/// series of unknown start (previous ST unknown or equal to its time).
pub(crate) fn is_start_timestamp_reset(prev_st: i64, prev_t: i64, cur_st: i64, cur_t: i64) -> bool {
    if cur_st == 0 || cur_st >= cur_t || cur_st < prev_t {
        return false;
    }
    if cur_st > prev_t {
        return true;
    }
    // cur_st == prev_t. A previous ST after its own sample is invalid and
    // counts as unknown.
    prev_st <= prev_t && prev_st != 0 && prev_st != prev_t
}

/// Whether a sample's start timestamp overlaps the previous sample while
/// not continuing its count (`checkStartTimeOverlap` upstream): set, before
/// the previous sample, and different from the previous ST.
pub(crate) fn start_time_overlaps(prev_st: i64, prev_t: i64, cur_st: i64) -> bool {
    cur_st != 0 && cur_st < prev_t && cur_st != prev_st
}

/// Whether any consecutive pair in the window overlaps (upstream warns
/// once per series from `extrapolatedRate`, counters only).
pub(crate) fn any_overlap(samples: &[Sample], sts: &[i64]) -> bool {
    (1..samples.len().min(sts.len()))
        .any(|i| start_time_overlaps(sts[i - 1], samples[i - 1].t, sts[i]))
}

/// `rate` and `increase` with start timestamps (`extrapolatedRate` in
/// `promql/functions.go`, float samples, counters).
///
/// Besides value drops, [`is_start_timestamp_reset`] counts as a reset.
/// When the first sample's ST lies inside the window (after its exclusive
/// start, before the sample), the counter is taken to be zero at that ST:
/// the first value counts in full and nothing is extrapolated to the left.
/// That also gives a result for a single sample, which otherwise has none.
pub(crate) fn extrapolated_rate_st(w: &Window<'_>, sts: &[i64], is_rate: bool) -> Option<f64> {
    let s = w.samples;
    let (first, last) = (*s.first()?, *s.last()?);
    let mut result = last.v - first.v;
    for i in 1..s.len() {
        let st_reset =
            i < sts.len() && is_start_timestamp_reset(sts[i - 1], s[i - 1].t, sts[i], s[i].t);
        if s[i].v < s[i - 1].v || st_reset {
            result += s[i - 1].v;
        }
    }
    let first_st = sts.first().copied().unwrap_or(0);
    match zero_at_start_factor(w, first_st, (first.t, last.t), s.len(), is_rate) {
        Some(factor) => Some((result + first.v) * factor),
        None if s.len() < 2 => None,
        None => Some(extrapolate(w, result, true, is_rate)),
    }
}

/// The extrapolation factor of `extrapolatedRate` (counters) when the
/// first sample's start timestamp `first_st` lies inside the window (after
/// its exclusive start, before the sample at `first_last.0`): the counter
/// is taken to be zero there, so nothing is extrapolated to the left and
/// the caller adds the first sample's value in full. `None` otherwise.
/// `n` is the number of samples (of either kind) in the window.
pub(crate) fn zero_at_start_factor(
    w: &Window<'_>,
    first_st: i64,
    first_last: (i64, i64),
    n: usize,
    is_rate: bool,
) -> Option<f64> {
    let (first_t, last_t) = first_last;
    if first_st == 0 || first_st <= w.start || first_st >= first_t {
        return None;
    }
    let avg_spacing = if n > 1 {
        ms_between(first_t, last_t) / 1000.0 / (n - 1) as f64
    } else {
        0.0
    };
    let sampled = ms_between(first_st, last_t) / 1000.0;
    let mut to_end = ms_between(last_t, w.end) / 1000.0;
    if to_end >= avg_spacing * 1.1 {
        to_end = avg_spacing / 2.0;
    }
    let mut factor = 1.0;
    if sampled != 0.0 {
        factor = (sampled + to_end) / sampled;
    }
    if is_rate {
        factor /= super::rate::range_seconds(w);
    }
    Some(factor)
}

/// `irate` with start timestamps (`instantValue` upstream, floats): the
/// last two samples; a value drop or a start-timestamp reset between them
/// makes the increase the last value itself.
pub(crate) fn irate_st(samples: &[Sample], sts: &[i64]) -> Option<f64> {
    let n = samples.len();
    let (prev, last) = match samples {
        [.., prev, last] => (*prev, *last),
        _ => return None,
    };
    let st = |i: usize| sts.get(i).copied().unwrap_or(0);
    let st_reset = is_start_timestamp_reset(st(n - 2), prev.t, st(n - 1), last.t);
    super::rate::instant_value_reset(samples, true, st_reset)
}

/// `resets` with start timestamps (`funcResets` upstream, floats): value
/// drops and start-timestamp resets between consecutive samples.
pub(crate) fn resets_st(samples: &[Sample], sts: &[i64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let st = |i: usize| sts.get(i).copied().unwrap_or(0);
    let n = (1..samples.len())
        .filter(|&i| {
            samples[i].v < samples[i - 1].v
                || is_start_timestamp_reset(st(i - 1), samples[i - 1].t, st(i), samples[i].t)
        })
        .count();
    Some(n as f64)
}

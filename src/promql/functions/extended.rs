//! Kernels for the `anchored` and `smoothed` range modifiers. An anchored
//! range also sees the last sample at or before its start; a smoothed one
//! interpolates its two ends from the samples around them. The evaluator
//! hands these kernels the wider window (`lookback` more on the left, and
//! for smoothed on the right too).

use crate::model::Sample;

/// `interpolate` upstream: linear interpolation at `t`; a counter that
/// decreased is taken to restart from zero.
fn interpolate(p1: Sample, p2: Sample, t: i64, is_counter: bool) -> f64 {
    let y1 = if is_counter && p2.v < p1.v { 0.0 } else { p1.v };
    y1 + (p2.v - y1) * (t - p1.t) as f64 / (p2.t - p1.t) as f64
}

/// Index of the first sample after `t` among `s[..limit]` (`sort.Search`).
fn first_after(s: &[Sample], limit: usize, t: i64) -> usize {
    s[..limit].partition_point(|p| p.t <= t)
}

/// The boundary indices and values of an extended window
/// (`extendedRate`'s and `extendFloats`' shared start), or `None` when no
/// sample falls inside `(start, end]`.
fn boundaries(s: &[Sample], start: i64, end: i64, smoothed: bool, counter: bool) -> Option<(usize, usize, f64, f64)> {
    let mut last = s.len().checked_sub(1)?;
    let first = first_after(s, last, start).saturating_sub(1);
    if smoothed {
        last = s[..last].partition_point(|p| p.t < end);
    }
    if s[last].t <= start || (smoothed && s[first].t > end) {
        return None;
    }
    let left = if smoothed && s[first].t < start {
        interpolate(s[first], s[first + 1], start, counter)
    } else {
        s[first].v
    };
    let right = if smoothed && last > 0 && s[last].t > end {
        interpolate(s[last - 1], s[last], end, counter)
    } else {
        s[last].v
    };
    Some((first, last, left, right))
}

/// `correctForCounterResets` upstream.
fn counter_correction(left: f64, right: f64, points: &[Sample]) -> f64 {
    let mut correction = 0.0;
    let mut prev = left;
    for p in points {
        if p.v < prev {
            correction += prev;
        }
        prev = p.v;
    }
    if right < prev {
        correction += prev;
    }
    correction
}

/// `extendedRate` upstream: `rate`/`increase`/`delta` over an anchored or
/// smoothed range `(start, end]`, `samples` being the extended window.
pub(crate) fn extended_rate(
    samples: &[Sample],
    (start, end): (i64, i64),
    smoothed: bool,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let (mut first, mut last, left, right) = boundaries(samples, start, end, smoothed, is_counter)?;
    let mut result = right - left;
    if is_counter {
        if samples[first].t <= start {
            first += 1;
        }
        if samples[last].t >= end {
            last = last.wrapping_sub(1);
        }
        let inner = if last == usize::MAX || first > last {
            &[][..]
        } else {
            &samples[first..=last]
        };
        result += counter_correction(left, right, inner);
    }
    if is_rate {
        result /= (end - start) as f64 / 1000.0;
    }
    Some(result)
}

/// `pickFirstSampleIndices` upstream for floats: where an anchored
/// `changes`/`resets` starts (the last sample at or before `start`), or
/// `None` when no sample lies after `start`.
pub(crate) fn anchored_first(samples: &[Sample], start: i64) -> Option<usize> {
    let after = samples.partition_point(|p| p.t <= start);
    if after >= samples.len() {
        return None;
    }
    Some(after.saturating_sub(1))
}

/// `extendFloats` upstream: what an instant query of an anchored or
/// smoothed range selector returns: the boundary values at `mint` and
/// `maxt` around the samples strictly inside.
pub(crate) fn extend_floats(s: &[Sample], mint: i64, maxt: i64, smoothed: bool) -> Vec<Sample> {
    let Some((mut first, mut last, left, right)) = boundaries(s, mint, maxt, smoothed, false) else {
        return Vec::new();
    };
    if s[first].t <= mint {
        first += 1;
    }
    if s[last].t >= maxt {
        last = last.wrapping_sub(1);
    }
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(Sample::new(mint, left));
    if last != usize::MAX && first <= last {
        out.extend_from_slice(&s[first..=last]);
    }
    out.push(Sample::new(maxt, right));
    out
}

/// A smoothed instant selector at `t` (`smoothSeries` upstream): the
/// sample at `t`, else the interpolation between its neighbours, else the
/// last earlier sample; `samples` are those in `(t - lookback, t + lookback]`.
pub(crate) fn smoothed_value(samples: &[Sample], t: i64) -> Option<f64> {
    let i = samples.partition_point(|p| p.t < t);
    match (samples.get(i), i.checked_sub(1).map(|j| samples[j])) {
        (Some(s), _) if s.t == t => Some(s.v),
        (Some(next), Some(prev)) => Some(interpolate(prev, *next, t, false)),
        (None, Some(prev)) => Some(prev.v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: &[(i64, f64)]) -> Vec<Sample> {
        points.iter().map(|&(t, v)| Sample::new(t, v)).collect()
    }

    #[test]
    fn anchored_increase_takes_the_sample_before_the_range() {
        // metric 1+1x4 9+1x4 every 15s, increase(metric[1m] anchored) at 80s.
        let s = series(&[(15_000, 2.0), (30_000, 3.0), (45_000, 4.0), (60_000, 5.0), (75_000, 9.0)]);
        assert_eq!(extended_rate(&s, (20_000, 80_000), false, true, false), Some(7.0));
        assert_eq!(extended_rate(&[], (0, 10), false, true, false), None);
    }

    #[test]
    fn smoothed_interpolates_both_ends() {
        let s = series(&[(0, 0.0), (10_000, 10.0), (20_000, 20.0)]);
        assert_eq!(extended_rate(&s, (5_000, 15_000), true, false, false), Some(10.0));
        assert_eq!(smoothed_value(&s, 15_000), Some(15.0));
        assert_eq!(smoothed_value(&s, 25_000), Some(20.0));
        assert_eq!(smoothed_value(&s[1..], 5_000), None);
        let out = extend_floats(&s, 5_000, 15_000, true);
        assert_eq!(out, series(&[(5_000, 5.0), (10_000, 10.0), (15_000, 15.0)]));
        assert_eq!(anchored_first(&s, 10_000), Some(1));
        assert_eq!(anchored_first(&s, 20_000), None);
    }
}

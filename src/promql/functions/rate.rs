//! Counter and gauge change kernels: `rate`, `increase`, `delta`, `irate`,
//! `idelta`, `resets`, `changes`.

use super::Window;
use crate::model::Sample;

/// `b - a` in milliseconds as f64, without i64 overflow on absurd inputs.
pub(super) fn ms_between(a: i64, b: i64) -> f64 {
    // i128 to f64 is a slow library call; the i64 difference converts to
    // the same f64 whenever it does not overflow.
    match b.checked_sub(a) {
        Some(d) => d as f64,
        None => (i128::from(b) - i128::from(a)) as f64,
    }
}

/// A range length in seconds, computed the way Go's `Duration.Seconds()`
/// does for a millisecond-resolution duration (whole seconds plus the
/// nanosecond remainder divided by 1e9), so the rounding is identical.
pub(super) fn range_seconds(w: &Window<'_>) -> f64 {
    match w.end.checked_sub(w.start) {
        Some(ms) => (ms / 1000) as f64 + ((ms % 1000) * 1_000_000) as f64 / 1e9,
        None => {
            let ms = i128::from(w.end) - i128::from(w.start);
            (ms / 1000) as f64 + ((ms % 1000) * 1_000_000) as f64 / 1e9
        }
    }
}

/// `rate`, `increase` and `delta` (`extrapolatedRate` in
/// `promql/functions.go`, float samples, no start timestamps).
///
/// The raw change between the first and last sample (plus, for counters,
/// the value before each reset) is extrapolated towards the window edges:
/// all the way when the gap to an edge is under 1.1× the average sample
/// spacing, otherwise by half a spacing. Counters are never extrapolated
/// below zero on the left. `rate` divides by the full window length.
pub(crate) fn extrapolated_rate(w: &Window<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    let s = w.samples;
    let (first, last) = match s {
        [first, .., last] => (*first, *last),
        _ => return None,
    };
    let mut result = last.v - first.v;
    if is_counter {
        // Added one by one in time order, as upstream does, so the float
        // rounding is the same.
        for p in s.windows(2) {
            if p[1].v < p[0].v {
                result += p[0].v;
            }
        }
    }
    Some(extrapolate(w, result, is_counter, is_rate))
}

/// Indices `j` of `samples` where the value drops below the previous one
/// (a counter reset between `j - 1` and `j`), for [`extrapolated_rate_at`].
pub(crate) fn reset_points(samples: &[Sample]) -> Vec<usize> {
    (1..samples.len())
        .filter(|&j| samples[j].v < samples[j - 1].v)
        .collect()
}

/// [`extrapolated_rate`] for a counter whose window is `all[lo..hi]`, with
/// the series' resets found once by [`reset_points`]: a range query then
/// reads each window's resets instead of comparing every pair of samples
/// at every step. The additions happen in the same order, and `memo` only
/// returns what the same inputs gave before, so the result is bit for bit
/// [`extrapolated_rate`]'s.
#[inline]
pub(crate) fn extrapolated_rate_at(
    w: &Window<'_>,
    all: &[Sample],
    lo: usize,
    resets: &[usize],
    is_rate: bool,
    memo: &mut Extrapolation,
) -> Option<f64> {
    let (first, last) = match w.samples {
        [first, .., last] => (*first, *last),
        _ => return None,
    };
    let hi = lo + w.samples.len();
    let mut result = last.v - first.v;
    let from = resets.partition_point(|&j| j <= lo);
    for &j in resets[from..].iter().take_while(|&&j| j < hi) {
        result += all[j - 1].v;
    }
    let span = SampleSpan {
        first: first.t,
        last: last.t,
        intervals: w.samples.len() - 1,
    };
    Some(result * memo.factor(w, span, Some((first.v, result)), is_rate))
}

/// The extrapolation half of `extrapolatedRate`: scales the raw change
/// `result` of the window's samples (at least two) to the window edges.
pub(super) fn extrapolate(w: &Window<'_>, result: f64, is_counter: bool, is_rate: bool) -> f64 {
    let s = w.samples;
    let (first, last) = match s {
        [first, .., last] => (*first, *last),
        _ => return result,
    };
    let counter = is_counter.then_some((first.v, result));
    let span = SampleSpan {
        first: first.t,
        last: last.t,
        intervals: s.len() - 1,
    };
    result * extrapolation_factor(w, span, counter, is_rate)
}

/// Where a window's samples (of either kind) start and end, and how many
/// intervals lie between them (at least one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SampleSpan {
    pub first: i64,
    pub last: i64,
    pub intervals: usize,
}

/// The factor `extrapolatedRate` scales a window's raw change by: all the
/// way to an edge when the gap is under 1.1× the average spacing,
/// otherwise half a spacing; counters (`counter`: the first value and the
/// raw change, counts for histograms) never below zero on the left; `rate`
/// divides by the window length.
pub(crate) fn extrapolation_factor(
    w: &Window<'_>,
    span: SampleSpan,
    counter: Option<(f64, f64)>,
    is_rate: bool,
) -> f64 {
    Extrapolation::default().factor(w, span, counter, is_rate)
}

/// [`extrapolation_factor`] remembering the last window's geometry.
///
/// Most of the factor's seven divisions depend only on where the samples
/// sit in the window (gaps to both edges, the sampled span, the number of
/// intervals, the range), and over a range query of a regularly scraped
/// series those repeat from step to step. Those values are kept with the
/// integer inputs they came from and reused only when the inputs are equal,
/// so the factor is bit for bit what computing it afresh gives.
#[derive(Debug, Default)]
pub(crate) struct Extrapolation {
    /// `(first - start, end - last, last - first, intervals, end - start)`
    /// in ms, and what they gave.
    key: Option<(i64, i64, i64, usize, i64)>,
    geo: Geometry,
}

/// The parts of the factor that depend only on the window's geometry.
#[derive(Debug, Default, Clone, Copy)]
struct Geometry {
    /// Gap to the start after the threshold (before the zero point).
    to_start: f64,
    to_end: f64,
    sampled: f64,
    /// `range_seconds` of the window.
    range: f64,
    /// The factor when the zero point does not move the start, with and
    /// without the division by the range.
    factor: f64,
    factor_rate: f64,
    /// `2 * to_start / sampled`, for [`Geometry::zero_point_is_far`].
    zero_bound: f64,
}

impl Extrapolation {
    /// The factor for a window; see [`extrapolation_factor`].
    #[inline(always)]
    pub(crate) fn factor(
        &mut self,
        w: &Window<'_>,
        span: SampleSpan,
        counter: Option<(f64, f64)>,
        is_rate: bool,
    ) -> f64 {
        let key = match (
            span.first.checked_sub(w.start),
            w.end.checked_sub(span.last),
            span.last.checked_sub(span.first),
            w.end.checked_sub(w.start),
        ) {
            (Some(a), Some(b), Some(c), Some(d)) => Some((a, b, c, span.intervals, d)),
            _ => None,
        };
        if key.is_none() || key != self.key {
            self.geo = Geometry::of(w, span);
            self.key = key;
        }
        let g = &self.geo;
        let mut to_start = g.to_start;
        if let Some((first, result)) = counter {
            // Where the counter would have been zero if it grew linearly.
            let mut to_zero = to_start;
            if result > 0.0 && first >= 0.0 && !g.zero_point_is_far(first, result) {
                to_zero = g.sampled * (first / result);
            }
            if to_zero < to_start {
                to_start = to_zero;
                return g.factor_from(to_start, is_rate);
            }
        }
        if is_rate {
            g.factor_rate
        } else {
            g.factor
        }
    }
}

impl Geometry {
    fn of(w: &Window<'_>, span: SampleSpan) -> Geometry {
        let mut to_start = ms_between(w.start, span.first) / 1000.0;
        let mut to_end = ms_between(span.last, w.end) / 1000.0;
        let sampled = ms_between(span.first, span.last) / 1000.0;
        let avg_spacing = sampled / span.intervals.max(1) as f64;
        let threshold = avg_spacing * 1.1;
        if to_start >= threshold {
            to_start = avg_spacing / 2.0;
        }
        if to_end >= threshold {
            to_end = avg_spacing / 2.0;
        }
        let mut g = Geometry {
            to_start,
            to_end,
            sampled,
            range: range_seconds(w),
            factor: 0.0,
            factor_rate: 0.0,
            zero_bound: 2.0 * to_start / sampled,
        };
        g.factor = g.factor_from(to_start, false);
        g.factor_rate = g.factor_from(to_start, true);
        g
    }

    /// The factor with the gap to the start at `to_start`: the sampled
    /// span stretched to both edges, divided by the range for `rate`.
    #[inline]
    fn factor_from(&self, to_start: f64, is_rate: bool) -> f64 {
        let mut factor = 1.0;
        if self.sampled != 0.0 {
            factor = (self.sampled + to_start + self.to_end) / self.sampled;
        }
        if is_rate {
            factor /= self.range;
        }
        factor
    }

    /// Whether the zero point `sampled * (first / result)` (`first >= 0`,
    /// `result > 0`) surely lies at or beyond `to_start`, so it cannot move
    /// the start and the division can be skipped.
    ///
    /// With `p = result * zero_bound` in the normal range, `first >= p`
    /// makes the zero point at least `2 * to_start` less a few roundings
    /// of 2^-53 each, so more than `to_start`. With `to_start` zero the
    /// zero point (never negative) cannot be below it. A NaN or infinite
    /// bound (`sampled` zero) never skips.
    #[inline]
    fn zero_point_is_far(&self, first: f64, result: f64) -> bool {
        if self.to_start == 0.0 {
            return true;
        }
        let p = result * self.zero_bound;
        p >= f64::MIN_POSITIVE && first >= p
    }
}

/// `irate` and `idelta` (`instantValue` in `promql/functions.go`, floats):
/// the last two samples only. For `irate` a decrease is a reset, so the
/// increase is the last value itself. NaN values never count as a reset.
pub(crate) fn instant_value(samples: &[Sample], is_rate: bool) -> Option<f64> {
    instant_value_reset(samples, is_rate, false)
}

/// [`instant_value`] where the caller already knows whether a start
/// timestamp marks a reset between the last two samples (`irate` with
/// start timestamps); for `irate` a value drop is a reset either way.
pub(crate) fn instant_value_reset(
    samples: &[Sample],
    is_rate: bool,
    st_reset: bool,
) -> Option<f64> {
    let (prev, last) = match samples {
        [.., prev, last] => (*prev, *last),
        _ => return None,
    };
    let interval_ms = ms_between(prev.t, last.t);
    if interval_ms == 0.0 {
        return None;
    }
    let mut result = last.v;
    // A comparison with NaN is false, so NaN never counts as a drop.
    let dropped = last.v < prev.v;
    if !is_rate || !(dropped || st_reset) {
        result = last.v - prev.v;
    }
    if is_rate {
        result /= interval_ms / 1000.0;
    }
    Some(result)
}

/// `resets` (`funcResets`, floats, no start timestamps): the number of
/// decreases between consecutive samples.
pub(crate) fn resets(samples: &[Sample]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let n = samples.windows(2).filter(|p| p[1].v < p[0].v).count();
    Some(n as f64)
}

/// `changes` (`funcChanges`, floats): the number of value changes between
/// consecutive samples; NaN followed by NaN is not a change.
pub(crate) fn changes(samples: &[Sample]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let n = samples
        .windows(2)
        .filter(|p| p[1].v != p[0].v && !(p[1].v.is_nan() && p[0].v.is_nan()))
        .count();
    Some(n as f64)
}

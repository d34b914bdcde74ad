//! The `anchored` and `smoothed` modifiers over native histograms:
//! `extendedHistogramRate` (with `interpolateHistograms` and
//! `correctForCounterResetsHistogram`), `pickFirstSampleIndices` for
//! `changes`/`resets`, and the histogram branch of `smoothSeries` upstream.

use super::native::{msg, HOut, Note};
use super::HPoint;
use crate::model::CounterResetHint::{Gauge, Unknown};
use crate::promql::functions::fhist::{FHist, IncompatibleSchema};
use crate::promql::functions::RangeFn;

/// `h += o` (or `h -= o`), with upstream's annotations; `None` (after a
/// warning) when the schemas cannot be combined.
fn combine(h: &mut FHist, o: &FHist, sub: bool, name: &str, notes: &mut Vec<Note>) -> Option<()> {
    let r = if sub { h.sub(o) } else { h.add(o) };
    match r {
        Err(IncompatibleSchema) => {
            notes.push(Note::Warn(msg::mixed_schemas(name)));
            None
        }
        Ok(n) => {
            if n.bounds_reconciled {
                let op = if sub { "subtraction" } else { "addition" };
                notes.push(Note::Info(msg::reconciled(op)));
            }
            Some(())
        }
    }
}

/// `interpolateHistograms`: the histogram at `t` between `a` and `b`; a
/// counter that was reset between them restarts from zero.
fn interpolate(
    a: &HPoint,
    b: &HPoint,
    t: i64,
    counter: bool,
    name: &str,
    notes: &mut Vec<Note>,
) -> Option<FHist> {
    if t == a.t {
        return Some(a.h.clone());
    }
    if t == b.t {
        return Some(b.h.clone());
    }
    let fraction = (t - a.t) as f64 / (b.t - a.t) as f64;
    let mut out = b.h.clone();
    if counter && b.h.detect_reset(&a.h) {
        out.mul(fraction);
        return Some(out);
    }
    combine(&mut out, &a.h, true, name, notes)?;
    out.mul(fraction);
    combine(&mut out, &a.h, false, name, notes)?;
    Some(out)
}

/// `extendedHistogramRate`: `rate`/`increase`/`delta` over an anchored or
/// smoothed range `(start, end]` of histograms, `hs` being the widened
/// window.
pub(super) fn extended_hist_rate(
    f: RangeFn,
    hs: &[HPoint],
    (start, end): (i64, i64),
    smoothed: bool,
    name: &str,
    notes: &mut Vec<Note>,
) -> HOut {
    let counter = f != RangeFn::Delta;
    let Some(mut last) = hs.len().checked_sub(1) else {
        return HOut::None;
    };
    let first = hs[..last]
        .partition_point(|p| p.t <= start)
        .saturating_sub(1);
    if smoothed {
        last = hs[..last].partition_point(|p| p.t < end);
    }
    if hs[last].t <= start || (smoothed && hs[first].t > end) {
        return HOut::None;
    }
    // validateHistogramRange.
    let custom = hs[first].h.is_custom();
    if hs[first..=last].iter().any(|p| p.h.is_custom() != custom) {
        notes.push(Note::Warn(msg::mixed_schemas(name)));
        return HOut::None;
    }
    if counter && hs[first..=last].iter().any(|p| p.h.hint == Gauge) {
        notes.push(Note::Warn(msg::not_counter(name)));
    }
    let left = if smoothed && hs[first].t < start {
        interpolate(&hs[first], &hs[first + 1], start, counter, name, notes)
    } else {
        Some(hs[first].h.clone())
    };
    let right = if smoothed && last > 0 && hs[last].t > end {
        interpolate(&hs[last - 1], &hs[last], end, counter, name, notes)
    } else {
        Some(hs[last].h.clone())
    };
    let (Some(left), Some(right)) = (left, right) else {
        return HOut::None;
    };
    if !counter && (left.hint != Gauge || right.hint != Gauge) {
        notes.push(Note::Warn(msg::not_gauge(name)));
    }
    let mut out = right.clone();
    if combine(&mut out, &left, true, name, notes).is_none() {
        return HOut::None;
    }
    if counter {
        let ends = (&left, &right);
        let smoothed_left = smoothed && hs[first].t < start;
        match reset_correction(hs, (first, last), ends, smoothed_left, name, notes) {
            None => return HOut::None,
            Some(Some(c)) if combine(&mut out, &c, false, name, notes).is_none() => {
                return HOut::None
            }
            Some(_) => {}
        }
    }
    if f == RangeFn::Rate {
        out.div((end - start) as f64 / 1000.0);
    }
    out.hint = Gauge;
    HOut::Hist(out)
}

/// `correctForCounterResetsHistogram`: the sum of the histograms before
/// each counter reset between the boundary samples `first` and `last`,
/// whose values `left` and `right` stand for; `Some(None)` when there is
/// none, `None` when they cannot be added up.
fn reset_correction(
    hs: &[HPoint],
    (first, last): (usize, usize),
    (left, right): (&FHist, &FHist),
    smoothed_left: bool,
    name: &str,
    notes: &mut Vec<Note>,
) -> Option<Option<FHist>> {
    let mut from = first + 1;
    let mut prev = left;
    if smoothed_left && hs[first + 1].h.detect_reset(&hs[first].h) {
        // The left interpolation spanned this reset already.
        prev = &hs[first + 1].h;
        from += 1;
    }
    // `last` itself is `right` (or what it was interpolated from).
    if from > last {
        return Some(None);
    }
    let mut correction: Option<FHist> = None;
    let add = |c: &mut Option<FHist>, h: &FHist, notes: &mut Vec<Note>| match c {
        None => {
            *c = Some(h.clone());
            Some(())
        }
        Some(c) => combine(c, h, false, name, notes),
    };
    for p in &hs[from..last] {
        if p.h.detect_reset(prev) {
            add(&mut correction, prev, notes)?;
        }
        prev = &p.h;
    }
    if right.detect_reset(prev) {
        add(&mut correction, prev, notes)?;
    }
    Some(correction)
}

/// `pickFirstSampleIndices`: where an anchored `changes`/`resets` starts
/// in `floats` and `hs` (the last sample of either kind at or before
/// `start` is the anchor, anything older is skipped), or `None` when no
/// sample lies after `start`.
pub(super) fn anchored_starts(
    floats: &[crate::model::Sample],
    hs: &[HPoint],
    start: i64,
) -> Option<(usize, usize)> {
    let f_after = floats.partition_point(|p| p.t <= start);
    let h_after = hs.partition_point(|p| p.t <= start);
    if f_after >= floats.len() && h_after >= hs.len() {
        return None;
    }
    Some(match (f_after.checked_sub(1), h_after.checked_sub(1)) {
        (None, None) => (0, 0),
        (Some(f), None) => (f, h_after),
        (Some(f), Some(h)) if floats[f].t >= hs[h].t => (f, h_after),
        (_, Some(h)) => (f_after, h),
    })
}

/// The histogram branch of `smoothSeries` at `t`: `hs` are the histograms
/// in `(t - lookback, t + lookback]`. The histogram at `t`, else the
/// interpolation between its neighbours (a counter unless both are
/// gauges), else the last earlier one with its hint dropped.
pub(super) fn smoothed_hist(
    hs: &[HPoint],
    t: i64,
    name: &str,
    notes: &mut Vec<Note>,
) -> Option<FHist> {
    let i = hs.partition_point(|p| p.t < t);
    match (hs.get(i), i.checked_sub(1).map(|j| &hs[j])) {
        (Some(p), _) if p.t == t => Some(p.h.clone()),
        (Some(next), Some(prev)) => {
            if prev.h.is_custom() != next.h.is_custom() {
                notes.push(Note::Warn(msg::mixed_schemas(name)));
                return None;
            }
            let counter = prev.h.hint != Gauge || next.h.hint != Gauge;
            interpolate(prev, next, t, counter, name, notes)
        }
        (None, Some(prev)) => {
            let mut h = prev.h.clone();
            h.hint = Unknown;
            Some(h)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(t: i64, count: f64) -> HPoint {
        let mut h = FHist::from_model(&crate::model::Histogram::empty_int(0));
        h.count = count;
        h.sum = count;
        h.pos = vec![(0, count)];
        HPoint { t, h, st: 0 }
    }

    fn count(out: HOut) -> Option<f64> {
        match out {
            HOut::Hist(h) => Some(h.count),
            _ => None,
        }
    }

    #[test]
    fn anchored_and_smoothed_increase_over_histograms() {
        // hist_counter 1+1x7 every 15s; increase(...[1m]) at 50s.
        let hs: Vec<HPoint> = (0..8).map(|i| hp(i * 15_000, (i + 1) as f64)).collect();
        let mut notes = Vec::new();
        let range = (-10_000, 50_000);
        let anchored =
            extended_hist_rate(RangeFn::Increase, &hs[..4], range, false, "x", &mut notes);
        assert_eq!(count(anchored), Some(3.0));
        let smoothed =
            extended_hist_rate(RangeFn::Increase, &hs[..5], range, true, "x", &mut notes);
        let got = count(smoothed).unwrap();
        assert!((got - 10.0 / 3.0).abs() < 1e-9, "{got}");
        assert!(notes.is_empty());
        // A reset at the last sample is counted once (5, 10, 3 -> 8).
        let reset = vec![hp(0, 5.0), hp(30_000, 10.0), hp(60_000, 3.0)];
        let out = extended_hist_rate(
            RangeFn::Increase,
            &reset,
            (0, 70_000),
            false,
            "x",
            &mut notes,
        );
        assert_eq!(count(out), Some(8.0));
    }

    #[test]
    fn smoothed_selector_interpolates_and_carries_forward() {
        let hs = vec![hp(0, 1.0), hp(15_000, 2.0)];
        let mut notes = Vec::new();
        let mid = smoothed_hist(&hs, 7_000, "x", &mut notes).unwrap();
        assert!((mid.count - (1.0 + 7.0 / 15.0)).abs() < 1e-9);
        assert_eq!(
            smoothed_hist(&hs, 20_000, "x", &mut notes).unwrap().count,
            2.0
        );
        assert!(smoothed_hist(&hs[1..], 5_000, "x", &mut notes).is_none());
        assert_eq!(anchored_starts(&[], &hs, 0), Some((0, 0)));
        assert_eq!(anchored_starts(&[], &hs, 15_000), None);
    }
}

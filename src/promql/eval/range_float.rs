//! The float half of a range function (`rate`, `*_over_time`, ...): one
//! series' values at every step, and a batch of series computed on every
//! core.
//!
//! Series are independent until they are aggregated, so a range query
//! over many series computes their windows in parallel; what follows
//! (annotations, the sink that aggregates) runs on the query's thread in
//! the series' order, so answers do not depend on the number of cores.

use super::range_ext::extended_range;
use super::select::Windows;
use super::{Grid, RawSeries, Result};
use crate::promql::functions::{self, rate_st, RangeFn, Window};

/// Batches are computed in parallel only for queries with at least this
/// many steps: with fewer, a series costs about what decoding it did.
const PARALLEL_MIN_STEPS: usize = 16;
/// Series held back to form a batch, and samples at most in one batch (so
/// a batch holds little beyond what the query's sample budget counts).
const BATCH_SERIES: usize = 128;
const BATCH_SAMPLES: usize = 1 << 16;

/// What a range function computes for one series of floats.
pub(super) struct FloatValues {
    /// One value per step (`None`: no sample in that window).
    pub vals: Vec<Option<f64>>,
    /// Whether a start timestamp overlapped the sample before it
    /// (upstream's `NewStartTimeOverlapWarning`).
    pub overlap: bool,
}

/// A range function call's float kernel with everything it needs except
/// the series: safe to run on several threads at once.
pub(super) struct FloatRange<'a> {
    pub f: RangeFn,
    /// Each non-range argument's value per step.
    pub params: &'a [Vec<f64>],
    pub grid: Grid,
    /// `Some(smoothed)` for anchored (`false`) or smoothed selectors.
    pub extended: Option<bool>,
    /// `rate` and `increase`: counter resets and start-time overlaps.
    pub counter_check: bool,
}

impl FloatRange<'_> {
    /// Whether series should be gathered into batches for [`FloatRange::batch`].
    pub(super) fn batches(&self) -> bool {
        self.grid.len() >= PARALLEL_MIN_STEPS && cores() > 1
    }

    /// Whether a batch holding `series` series and `samples` samples is full.
    pub(super) fn full(series: usize, samples: usize) -> bool {
        series >= BATCH_SERIES || samples >= BATCH_SAMPLES
    }

    /// The values of every series of `batch`, in order, on up to two threads.
    pub(super) fn batch(&self, batch: &[RawSeries], w: &Windows) -> Vec<Result<FloatValues>> {
        if batch.len() < 2 || cores() < 2 {
            return batch.iter().map(|s| self.series(s, w)).collect();
        }
        // Split by samples, not by series, so both halves cost the same.
        let total: usize = batch.iter().map(|s| s.samples.len()).sum();
        let mut acc = 0usize;
        let mid = batch
            .iter()
            .position(|s| {
                acc += s.samples.len();
                acc * 2 >= total
            })
            .map_or(batch.len() / 2, |i| (i + 1).min(batch.len() - 1));
        let (left, right) = batch.split_at(mid);
        std::thread::scope(|scope| {
            let other = scope.spawn(|| right.iter().map(|s| self.series(s, w)).collect::<Vec<_>>());
            let mut out: Vec<_> = left.iter().map(|s| self.series(s, w)).collect();
            match other.join() {
                Ok(rest) => out.extend(rest),
                // A panic in a kernel is the query's panic, as on one thread.
                Err(p) => std::panic::resume_unwind(p),
            }
            out
        })
    }

    /// The function's value at every step for one series of floats.
    pub(super) fn series(&self, s: &RawSeries, windows: &Windows) -> Result<FloatValues> {
        let (f, extended) = (self.f, self.extended);
        let bounds = windows.bounds(&s.samples);
        let mut vals = Vec::with_capacity(bounds.len());
        // Counter resets found once per series rather than per step.
        let resets = (self.counter_check && s.sts.is_none() && extended.is_none())
            .then(|| functions::rate::reset_points(&s.samples));
        // Window sums from prefix sums once windows overlap.
        let prefix = (functions::sliding::applies(f)
            && s.sts.is_none()
            && extended.is_none()
            && bounds.len() > 1)
            .then(|| functions::sliding::PrefixSums::new(&s.samples))
            .flatten();
        let mut ps = vec![0.0; self.params.len()];
        let mut overlap = false;
        for (i, &(lo, hi)) in bounds.iter().enumerate() {
            if lo >= hi {
                vals.push(None);
                continue;
            }
            for (k, p) in self.params.iter().enumerate() {
                ps[k] = p.get(i).copied().unwrap_or(f64::NAN);
            }
            if f == RangeFn::PredictLinear {
                ps.truncate(1);
                ps.push(self.grid.ts(i) as f64);
            }
            if f == RangeFn::DoubleExponentialSmoothing && hi - lo >= 2 {
                super::call::check_smoothing(&ps)?;
            }
            let slid = prefix
                .as_ref()
                .and_then(|p| functions::sliding::window_value(f, p, lo, hi));
            if slid.is_some() {
                vals.push(slid);
                continue;
            }
            let end = windows.ends[i];
            let w = Window {
                samples: &s.samples[lo..hi],
                start: end.saturating_sub(windows.range),
                end,
            };
            let sts = s.sts.as_deref().and_then(|v| v.get(lo..hi));
            if let Some(smoothed) = extended {
                vals.push(extended_range(f, w, smoothed, sts));
                continue;
            }
            vals.push(match (sts, &resets) {
                (Some(sts), _) => {
                    overlap =
                        overlap || (self.counter_check && rate_st::any_overlap(w.samples, sts));
                    functions::eval_range_st(f, w, sts)
                }
                (None, Some(r)) => {
                    functions::rate::extrapolated_rate_at(&w, &s.samples, lo, r, f == RangeFn::Rate)
                }
                (None, None) => functions::eval_range(f, w, &ps),
            });
        }
        Ok(FloatValues { vals, overlap })
    }
}

fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

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

/// Batches submitted and not yet taken back, at most; a batch holds at
/// most [`BATCH_SAMPLES`] samples, so this bounds what the workers hold.
const IN_FLIGHT: usize = 8;

/// A batch for a worker: its sequence number, its series and their windows.
type Job = (usize, Vec<RawSeries>, Windows);
/// A computed batch: the series and each one's values (or the kernel's
/// panic).
type Done = (
    usize,
    Vec<RawSeries>,
    std::thread::Result<Vec<Result<FloatValues>>>,
);
/// A computed batch as the query's thread takes it back, in order.
pub(super) type Computed = (Vec<RawSeries>, Vec<Result<FloatValues>>);

/// The query thread's side of [`FloatRange::with_workers`]: batches go
/// out in order and come back in the same order, whichever worker
/// finished first.
pub(super) struct Workers {
    jobs: crossbeam::channel::Sender<Job>,
    done: crossbeam::channel::Receiver<Done>,
    /// Batches submitted, and the next one to hand back.
    sent: usize,
    next: usize,
    ready: std::collections::BTreeMap<usize, Computed>,
}

impl Workers {
    /// Queues `batch` and returns the batches already computed, in order;
    /// with [`IN_FLIGHT`] batches out it first waits for the oldest.
    pub(super) fn submit(&mut self, batch: Vec<RawSeries>, w: &Windows) -> Vec<Computed> {
        if batch.is_empty() {
            return Vec::new();
        }
        // The workers only stop once `jobs` is dropped, so this send can
        // only wait, not fail.
        let _ = self.jobs.send((self.sent, batch, w.clone()));
        self.sent += 1;
        let mut out = Vec::new();
        while self.sent - self.next > IN_FLIGHT {
            let got = self.take(true);
            if got.is_empty() {
                break;
            }
            out.extend(got);
        }
        out.extend(self.take(false));
        out
    }

    /// Every batch submitted, in order, waiting for those still computed.
    pub(super) fn drain(&mut self) -> Vec<Computed> {
        let mut out = Vec::new();
        while self.next < self.sent {
            let got = self.take(true);
            if got.is_empty() {
                break;
            }
            out.extend(got);
        }
        out
    }

    /// The batches that are next in order and computed; with `wait`, at
    /// least one.
    fn take(&mut self, wait: bool) -> Vec<Computed> {
        let mut out = Vec::new();
        loop {
            while let Some(b) = self.ready.remove(&self.next) {
                self.next += 1;
                out.push(b);
            }
            if (!out.is_empty() || !wait) && self.done.is_empty() {
                return out;
            }
            let msg = if wait && out.is_empty() {
                self.done.recv()
            } else {
                self.done
                    .try_recv()
                    .map_err(|_| crossbeam::channel::RecvError)
            };
            match msg {
                Ok((seq, batch, Ok(vals))) => {
                    self.ready.insert(seq, (batch, vals));
                }
                Ok((_, _, Err(panic))) => std::panic::resume_unwind(panic),
                // Every worker gone with batches missing: only after a
                // panic, which was raised above.
                Err(_) => return out,
            }
        }
    }
}

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

    /// Runs `f` with one worker per core computing the batches `f`
    /// submits; the workers stop when `f` returns.
    pub(super) fn with_workers<R>(&self, f: impl FnOnce(&mut Workers) -> R) -> R {
        crate::threads::scope(|scope| {
            let (jobs, todo) = crossbeam::channel::bounded::<Job>(IN_FLIGHT);
            let (done_tx, done) = crossbeam::channel::unbounded();
            for _ in 0..cores() {
                let (todo, done_tx) = (todo.clone(), done_tx.clone());
                scope.spawn(move || {
                    for (seq, mut batch, w) in todo {
                        // A panic in a kernel is the query's panic, as on
                        // one thread: caught here, raised on the query's
                        // thread, so no batch goes missing while it waits.
                        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            batch.iter().map(|s| self.series(s, &w)).collect()
                        }));
                        // What follows needs only the labels: the samples
                        // are freed here rather than on the query's thread.
                        for s in &mut batch {
                            s.samples = Vec::new();
                            s.sts = None;
                        }
                        if done_tx.send((seq, batch, out)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(done_tx);
            let mut workers = Workers {
                jobs,
                done,
                sent: 0,
                next: 0,
                ready: std::collections::BTreeMap::new(),
            };
            let r = f(&mut workers);
            // Dropping the queue ends the workers; the scope waits for them.
            drop(workers);
            r
        })
    }

    /// The function's value at every step for one series of floats.
    pub(super) fn series(&self, s: &RawSeries, windows: &Windows) -> Result<FloatValues> {
        thread_local! {
            /// Window bounds, one buffer per thread for every series it
            /// computes: a buffer per series was an allocation past glibc's
            /// per-thread cache (241 steps make 3.9 KB).
            static BOUNDS: std::cell::RefCell<Vec<(usize, usize)>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        BOUNDS.with(|b| {
            // Not re-entered: computing a series calls no other series.
            let mut bounds = b.take();
            windows.bounds_into(&s.samples, &mut bounds);
            let out = self.series_in(s, windows, &bounds);
            b.replace(bounds);
            out
        })
    }

    fn series_in(
        &self,
        s: &RawSeries,
        windows: &Windows,
        bounds: &[(usize, usize)],
    ) -> Result<FloatValues> {
        let (f, extended) = (self.f, self.extended);
        let mut vals = Vec::with_capacity(bounds.len());
        // `rate`/`increase` without start timestamps or modifiers: the
        // series' counter resets found once rather than per step, and only
        // the counter kernel, none of the per-step choices below.
        if self.counter_check && s.sts.is_none() && extended.is_none() {
            let resets = functions::rate::reset_points(&s.samples);
            let mut memo = functions::rate::Extrapolation::default();
            let is_rate = f == RangeFn::Rate;
            for (&(lo, hi), &end) in bounds.iter().zip(&windows.ends) {
                let w = Window {
                    samples: &s.samples[lo..hi],
                    start: end.saturating_sub(windows.range),
                    end,
                };
                vals.push(functions::rate::extrapolated_rate_at(
                    &w, &s.samples, lo, &resets, is_rate, &mut memo,
                ));
            }
            return Ok(FloatValues {
                vals,
                overlap: false,
            });
        }
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
            vals.push(match sts {
                Some(sts) => {
                    overlap =
                        overlap || (self.counter_check && rate_st::any_overlap(w.samples, sts));
                    functions::eval_range_st(f, w, sts)
                }
                None => functions::eval_range(f, w, &ps),
            });
        }
        Ok(FloatValues { vals, overlap })
    }
}

fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

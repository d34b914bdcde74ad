//! Reading selectors: instant selectors with lookback and staleness, range
//! selectors and subqueries as raw per-series samples with one window per
//! step. All reads go through the scope's tenant querier with the plan's
//! matchers (which end with the forced matchers).

use super::select_hist::{set_histogram_start_times, with_reset_hints};
use super::{Ctx, Grid, HPoint, RawSeries, Result, StepSeries};
use crate::model::{is_stale_nan, stale_nan, Sample};
use crate::model::{CounterResetHint, Labels};
use crate::promql::error::QueryError;
use crate::promql::functions::extended;
use crate::promql::plan::{Node, Selector, Subquery};
use crate::storage::{Series, SeriesMap, SeriesValues, TenantReader};
use std::any::Any;

/// The error a query gets when it reads native histograms into `what`,
/// a construct that does not handle them yet.
pub(crate) fn histograms_unsupported(what: &str, labels: &Labels) -> QueryError {
    QueryError::Unsupported(format!(
        "PromQL over native histograms: {what} is not supported yet \
         (series {labels} holds native histograms in the queried range)"
    ))
}

/// What an instant selector gives each step of the sample it picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    /// The sample, float or histogram.
    Value,
    /// Its timestamp in seconds (`timestamp()`).
    Timestamp,
    /// Its timestamp in seconds if it is a float, NaN if it is a histogram
    /// (`info()` reads its info series so, which must be floats).
    FloatTimestamp,
}

/// What [`Ctx::each_selected`] hands each selected series to: its labels,
/// its values (or what was made of them) and how many float samples and
/// histograms it had; `false` stops the selection.
type Each<'f, V> = dyn FnMut(Labels, V, usize, usize) -> bool + 'f;

/// How [`Ctx::each_selected`] reads one tenant: a selection through the
/// reader that hands each series to an [`Each`].
type Select<'s, V> = dyn Fn(&dyn TenantReader, &mut Each<'_, V>) -> crate::storage::Result<()> + 's;

/// A callback taking one selected series' labels and its values (or what
/// was made of them) on the query's thread.
type Take<'f, C, V> = dyn FnMut(&mut C, Labels, V) -> Result<()> + 'f;

/// A callback taking one series and the `(t, st)` pairs of its samples
/// that have a start timestamp.
pub(crate) type SeriesWithStartTimes<'f, C> =
    dyn FnMut(&mut C, Series, Vec<(i64, i64)>) -> Result<()> + 'f;

/// Per-step window ends (ms) of a range function argument; each window is
/// `(end - range, end]`, widened by `left` and `right` ms for `anchored`
/// and `smoothed` selectors, whose kernels look just outside the range.
#[derive(Clone)]
pub(crate) struct Windows {
    pub ends: Vec<i64>,
    pub range: i64,
    /// Extra ms before the range (the lookback delta when anchored or smoothed).
    pub left: i64,
    /// Extra ms after the range (the lookback delta when smoothed).
    pub right: i64,
}

impl Windows {
    /// `[lo, hi)` index bounds of each step's window in time-sorted `samples`.
    pub(crate) fn bounds(&self, samples: &[Sample]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        self.bounds_by(samples, |x| x.t, &mut out);
        out
    }

    /// [`Windows::bounds`] into `out` (cleared first), so a caller that
    /// computes many series reuses one buffer.
    pub(crate) fn bounds_into(&self, samples: &[Sample], out: &mut Vec<(usize, usize)>) {
        self.bounds_by(samples, |x| x.t, out)
    }

    /// [`Windows::bounds`] for histogram points.
    pub(crate) fn hist_bounds(&self, hists: &[HPoint]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        self.bounds_by(hists, |x| x.t, &mut out);
        out
    }

    fn bounds_by<T>(&self, items: &[T], t: impl Fn(&T) -> i64, out: &mut Vec<(usize, usize)>) {
        out.clear();
        out.reserve(self.ends.len());
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut prev_end = i64::MIN;
        for &end in &self.ends {
            if end < prev_end {
                lo = 0;
                hi = 0;
            }
            prev_end = end;
            let start = end.saturating_sub(self.range).saturating_sub(self.left);
            let end = end.saturating_add(self.right);
            while items.get(hi).is_some_and(|x| t(x) <= end) {
                hi += 1;
            }
            // `lo < hi <= items.len()` inside the loop.
            while lo < hi && items.get(lo).is_some_and(|x| t(x) <= start) {
                lo += 1;
            }
            out.push((lo, hi.max(lo)));
        }
    }
}

impl Ctx<'_> {
    /// Streams matching series with samples in `[mint, maxt]` to `f`, one
    /// at a time; each series' samples count against the sample limit while
    /// `f` holds them. With `with_st`, also reads the series'
    /// start timestamps (`(t, st)` of the samples that have one).
    pub(crate) fn each_series_st(
        &mut self,
        sel: &Selector,
        mint: i64,
        maxt: i64,
        with_st: bool,
        f: &mut SeriesWithStartTimes<'_, Self>,
    ) -> Result<()> {
        let select = |q: &dyn TenantReader, each: &mut Each<'_, SeriesValues>| {
            q.select_each_st(&sel.matchers, with_st, &mut |labels, v| {
                let (samples, histograms) = (v.samples.len(), v.histograms.len());
                each(labels, v, samples, histograms)
            })
        };
        self.each_selected(sel, mint, maxt, &select, &mut |ctx, labels, v| {
            let series = Series {
                labels,
                samples: v.samples,
                histograms: v.histograms,
            };
            f(ctx, series, v.start_times)
        })
    }

    /// [`Ctx::each_series_st`] that hands `f` what `map` made of each
    /// series: the reader may run `map` on its decoding threads, several
    /// series at once, while `f` takes them in order on this one. Each
    /// series passes the same limits, and its samples count against the
    /// budget while `f` runs, as if `f` held them.
    pub(crate) fn each_series_mapped(
        &mut self,
        sel: &Selector,
        mint: i64,
        maxt: i64,
        with_st: bool,
        map: &SeriesMap<'_>,
        f: &mut Take<'_, Self, Box<dyn Any + Send>>,
    ) -> Result<()> {
        let select = |q: &dyn TenantReader, each: &mut Each<'_, Box<dyn Any + Send>>| {
            q.select_each_mapped(&sel.matchers, with_st, map, &mut |labels, m| {
                each(labels, m.value, m.samples, m.histograms)
            })
        };
        self.each_selected(sel, mint, maxt, &select, f)
    }

    /// The tenants' selections of `sel` through `select`, each series
    /// checked against the series limit and the histogram blocker, tagged
    /// with its tenant in a federated scope, and handed to `f` with its
    /// samples counted against the budget.
    fn each_selected<V>(
        &mut self,
        sel: &Selector,
        mint: i64,
        maxt: i64,
        select: &Select<'_, V>,
        f: &mut Take<'_, Self, V>,
    ) -> Result<()> {
        self.check_time()?;
        let mut err = None;
        let mut count = 0usize;
        let max_series = self.cfg.max_series;
        let scope = self.scope;
        let bound = crate::promql::scope::Bound {
            matchers: sel.matchers.clone(),
            user_count: sel.user_count,
            tenant_matchers: sel.tenant_matchers.clone(),
        };
        let blocker = self.hist_blocker.clone();
        for tenant in scope.tenants_for(&bound) {
            let q = scope.source.reader(tenant, mint, maxt);
            let mut each = |labels: Labels, v: V, samples: usize, histograms: usize| {
                count += 1;
                if max_series > 0 && count > max_series {
                    err = Some(QueryError::TooManySeries(max_series));
                    return false;
                }
                if let (true, Some(what)) = (histograms > 0, &blocker) {
                    // Refusing is better than silently dropping.
                    err = Some(histograms_unsupported(what, &labels));
                    return false;
                }
                let n = samples + histograms;
                let labels = scope.tag(labels, tenant);
                let r = self
                    .check_time()
                    .and_then(|_| self.acquire(n))
                    .and_then(|_| f(self, labels, v));
                self.release(n);
                match r {
                    Ok(()) => true,
                    Err(e) => {
                        err = Some(e);
                        false
                    }
                }
            };
            select(&*q, &mut each).map_err(QueryError::from)?;
            if err.is_some() {
                break;
            }
        }
        err.map_or(Ok(()), Err)
    }

    /// Effective read time per step: `@` or the step time, minus offset.
    fn eff_times(at: Option<i64>, offset: i64, grid: Grid) -> Vec<i64> {
        (0..grid.len())
            .map(|i| at.unwrap_or_else(|| grid.ts(i)).saturating_sub(offset))
            .collect()
    }

    /// Streams an instant selector: each step takes the newest sample in
    /// `(t - lookback, t]` unless it is a stale marker; `pick` says what
    /// of it the step gets.
    pub(crate) fn vector_selector(
        &mut self,
        sel: &Selector,
        grid: Grid,
        pick: Pick,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        let timestamps = pick != Pick::Value;
        let eff = Self::eff_times(sel.at, sel.offset, grid);
        let (Some(&first), Some(&last)) = (eff.iter().min(), eff.iter().max()) else {
            return Ok(());
        };
        let lookback = self.cfg.lookback_delta_ms;
        let mint = first.saturating_sub(lookback).saturating_add(1);
        let smoothed = sel.smoothed && !timestamps;
        let maxt = if smoothed {
            last.saturating_add(lookback)
        } else {
            last
        };
        /// What the map made of a series: its values per step, or the
        /// series itself when it holds native histograms.
        enum Picked {
            Floats(Vec<Option<f64>>),
            WithHistograms(SeriesValues),
        }
        // Float series get their steps where they are decoded.
        let map = |_: &Labels, v: SeriesValues| -> Box<dyn Any + Send> {
            Box::new(if !v.histograms.is_empty() {
                Picked::WithHistograms(v)
            } else if smoothed {
                Picked::Floats(smoothed_values(&v.samples, &eff, lookback))
            } else {
                Picked::Floats(lookback_values(&v.samples, &eff, lookback, timestamps))
            })
        };
        self.each_series_mapped(sel, mint, maxt, false, &map, &mut |ctx, labels, picked| {
            let vals = match downcast::<Picked>(picked)? {
                Picked::Floats(vals) => vals,
                Picked::WithHistograms(v) => {
                    let s = Series {
                        labels,
                        samples: v.samples,
                        histograms: v.histograms,
                    };
                    return if smoothed {
                        ctx.smoothed_mixed_selector(s, &eff, sel, sink)
                    } else {
                        ctx.mixed_vector_selector(s, &eff, (pick, sel.stats_hints), sink)
                    };
                }
            };
            if vals.iter().any(Option::is_some) {
                sink(StepSeries {
                    labels,
                    vals,
                    drop_name: false,
                    hists: Vec::new(),
                })?;
            }
            Ok(())
        })
    }

    /// `start_timestamp(selector)`: per step, the start timestamp (seconds)
    /// of the sample the instant selector picks, 0 when it has none
    /// (`funcStartTimestamp` with the STs `evalCall` collects through
    /// `vectorSelectorSingle` upstream).
    pub(crate) fn start_timestamp_selector(
        &mut self,
        sel: &Selector,
        grid: Grid,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        let eff = Self::eff_times(sel.at, sel.offset, grid);
        let (Some(&first), Some(&last)) = (eff.iter().min(), eff.iter().max()) else {
            return Ok(());
        };
        let lookback = self.cfg.lookback_delta_ms;
        let mint = first.saturating_sub(lookback).saturating_add(1);
        self.each_series_st(sel, mint, last, true, &mut |_, s, sts| {
            // Floats and histograms on one timeline (a histogram as a float
            // that is stale when it is); start timestamps are per time.
            let mut timeline = s.samples;
            if !s.histograms.is_empty() {
                timeline.extend(s.histograms.iter().map(|h| {
                    let v = if h.h.is_stale() { stale_nan() } else { 0.0 };
                    Sample::new(h.t, v)
                }));
                timeline.sort_by_key(|x| x.t);
            }
            let sts = align_start_times(&timeline, &sts).unwrap_or_default();
            let vals: Vec<Option<f64>> = lookback_index(&timeline, &eff, lookback)
                .into_iter()
                .map(|i| i.map(|i| sts.get(i).copied().unwrap_or(0) as f64 / 1000.0))
                .collect();
            if vals.iter().any(Option::is_some) {
                sink(StepSeries {
                    labels: s.labels,
                    vals,
                    drop_name: true,
                    hists: Vec::new(),
                })?;
            }
            Ok(())
        })
    }

    /// Hands each series of a range argument (range selector or subquery)
    /// to `f` with the per-step windows, one series at a time for selectors.
    pub(crate) fn each_raw(
        &mut self,
        node: &Node,
        grid: Grid,
        f: &mut dyn FnMut(&mut Self, RawSeries, &Windows) -> Result<()>,
    ) -> Result<()> {
        self.each_raw_st(node, grid, false, f)
    }

    /// [`Ctx::each_raw`] that, with `with_st`, gives range selectors'
    /// series their start timestamps (`matrixIterSlice` upstream collects
    /// them beside the samples; subqueries never have any).
    pub(crate) fn each_raw_st(
        &mut self,
        node: &Node,
        grid: Grid,
        with_st: bool,
        f: &mut dyn FnMut(&mut Self, RawSeries, &Windows) -> Result<()>,
    ) -> Result<()> {
        match node {
            Node::Matrix(sel, range) => {
                let Some((windows, mint, maxt)) = self.matrix_windows(sel, *range, grid) else {
                    return Ok(());
                };
                self.each_series_st(sel, mint, maxt, with_st, &mut |ctx, s, sts| {
                    let v = SeriesValues {
                        samples: s.samples,
                        histograms: s.histograms,
                        start_times: sts,
                    };
                    f(ctx, raw_series(s.labels, v, sel.stats_hints), &windows)
                })
            }
            Node::Subquery(sq) => {
                let (raw, windows) = self.subquery_series(sq, grid)?;
                let held = raw.iter().map(|s| s.samples.len() + s.hists.len()).sum();
                self.acquire(held)?;
                for s in raw {
                    // Between series, as selectors do: a cancelled or
                    // late query stops here.
                    self.check_time()?;
                    f(self, s, &windows)?;
                }
                self.release(held);
                Ok(())
            }
            _ => Err(QueryError::BadData(
                "expected a range vector argument".into(),
            )),
        }
    }

    /// The windows of a range selector over `grid` and the time range
    /// they read, or `None` for an empty grid.
    pub(crate) fn matrix_windows(
        &self,
        sel: &Selector,
        range: i64,
        grid: Grid,
    ) -> Option<(Windows, i64, i64)> {
        let lookback = self.cfg.lookback_delta_ms;
        let windows = Windows {
            ends: Self::eff_times(sel.at, sel.offset, grid),
            range,
            left: if sel.anchored || sel.smoothed {
                lookback
            } else {
                0
            },
            right: if sel.smoothed { lookback } else { 0 },
        };
        let (Some(&first), Some(&last)) = (windows.ends.iter().min(), windows.ends.iter().max())
        else {
            return None;
        };
        let mint = first.saturating_sub(range + windows.left).saturating_add(1);
        let maxt = last.saturating_add(windows.right);
        Some((windows, mint, maxt))
    }

    /// An instant query of a range selector: the samples in the window
    /// (for `anchored`/`smoothed`, its boundary values and the samples
    /// inside, `extendFloats` upstream).
    pub(crate) fn matrix_at(
        &mut self,
        sel: &Selector,
        range: i64,
        grid: Grid,
    ) -> Result<Vec<RawSeries>> {
        let mut out = Vec::new();
        let node = Node::Matrix(Box::new(sel.clone()), range);
        let extended = sel.anchored || sel.smoothed;
        self.each_raw(&node, grid, &mut |ctx, s, w| {
            let mut cut = cut_first_window(vec![s], w);
            if extended {
                if cut.iter().any(|r| !r.hists.is_empty()) {
                    // matrixSelector upstream.
                    let word = if sel.anchored { "anchored" } else { "smoothed" };
                    return Err(QueryError::Execution(format!(
                        "{word} modifier is not supported with histograms"
                    )));
                }
                let end = w.ends.first().copied().unwrap_or(0);
                for r in &mut cut {
                    r.samples =
                        extended::extend_floats(&r.samples, end - w.range, end, sel.smoothed);
                    r.sts = None;
                }
                cut.retain(|r| !r.samples.is_empty());
            }
            ctx.acquire(cut.iter().map(|s| s.samples.len() + s.hists.len()).sum())?;
            out.append(&mut cut);
            Ok(())
        })?;
        Ok(out)
    }

    /// Evaluates a subquery's inner expression on its own aligned grid
    /// (`subqueryTimeRange` upstream) and returns its points as raw series.
    pub(crate) fn subquery_series(
        &mut self,
        sq: &Subquery,
        grid: Grid,
    ) -> Result<(Vec<RawSeries>, Windows)> {
        let ends = Self::eff_times(sq.at, sq.offset, grid);
        let windows = Windows {
            ends,
            range: sq.range,
            left: 0,
            right: 0,
        };
        let step = sq.step.unwrap_or(self.cfg.default_subquery_step_ms).max(1);
        let (Some(&first), Some(&last)) = (windows.ends.iter().min(), windows.ends.iter().max())
        else {
            return Ok((Vec::new(), windows));
        };
        let lo = first.saturating_sub(sq.range);
        let start = (lo.div_euclid(step) * step).saturating_add(if lo.rem_euclid(step) == 0 {
            0
        } else {
            step
        });
        let inner = Grid {
            start,
            end: last,
            step,
        };
        // The step grid is checked before anything of its length exists: a
        // tiny step under a long range must not allocate first and fail later.
        self.budget.check_grid(inner.checked_len())?;
        let mut raw = Vec::new();
        match self.eval(&sq.expr, inner)? {
            super::Val::Vector(v) => {
                // The step slots go back once the points are copied out;
                // the copies are charged by the caller.
                let held: usize = v.iter().map(StepSeries::slots).sum();
                for s in v {
                    let samples: Vec<Sample> = s
                        .vals
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| v.map(|v| Sample::new(inner.ts(i), v)))
                        .collect();
                    let hists = s
                        .hists
                        .into_iter()
                        .enumerate()
                        .filter_map(|(i, h)| {
                            // Explicit hints go: a subquery may skip
                            // samples or return one several times
                            // (`subqueryRange` upstream).
                            h.map(|mut h| {
                                if matches!(
                                    h.hint,
                                    CounterResetHint::Reset | CounterResetHint::NotReset
                                ) {
                                    h.hint = CounterResetHint::Unknown;
                                }
                                HPoint {
                                    t: inner.ts(i),
                                    h: *h,
                                    st: 0,
                                }
                            })
                        })
                        .collect();
                    raw.push(RawSeries {
                        labels: s.labels,
                        samples,
                        hists,
                        sts: None,
                        drop_name: s.drop_name,
                    });
                }
                self.release(held);
            }
            super::Val::Scalar(v) => {
                let samples = v
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Sample::new(inner.ts(i), *v))
                    .collect();
                raw.push(RawSeries {
                    labels: Default::default(),
                    samples,
                    hists: Vec::new(),
                    sts: None,
                    drop_name: false,
                });
            }
            _ => {
                return Err(QueryError::BadData(
                    "subquery is only allowed on instant vector".into(),
                ))
            }
        }
        Ok((raw, windows))
    }

    /// An instant query of a subquery: its points in the window.
    pub(crate) fn subquery_raw(&mut self, sq: &Subquery, grid: Grid) -> Result<Vec<RawSeries>> {
        let (raw, windows) = self.subquery_series(sq, grid)?;
        Ok(cut_first_window(raw, &windows))
    }
}

/// Keeps only the samples in the first step's window (instant queries).
fn cut_first_window(raw: Vec<RawSeries>, windows: &Windows) -> Vec<RawSeries> {
    raw.into_iter()
        .filter_map(|mut s| {
            let (lo, hi) = *windows.bounds(&s.samples).first()?;
            s.samples = s.samples[lo..hi].to_vec();
            if let Some(sts) = s.sts.as_mut() {
                *sts = sts.get(lo..hi).unwrap_or_default().to_vec();
            }
            let (hlo, hhi) = *windows.hist_bounds(&s.hists).first()?;
            s.hists = s.hists[hlo..hhi].to_vec();
            (!s.samples.is_empty() || !s.hists.is_empty()).then_some(s)
        })
        .collect()
}

/// One value per effective time: the newest sample in `(t - lookback, t]`
/// that is not a stale marker (`vectorSelectorSingle` upstream).
fn lookback_values(samples: &[Sample], eff: &[i64], lookback: i64, ts: bool) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(eff.len());
    let mut j = 0usize;
    let mut prev = i64::MIN;
    for &t in eff {
        if t < prev {
            j = 0;
        }
        prev = t;
        while j < samples.len() && samples[j].t <= t {
            j += 1;
        }
        let v = match j.checked_sub(1).map(|k| samples[k]) {
            Some(s) if s.t > t.saturating_sub(lookback) && !is_stale_nan(s.v) => {
                Some(if ts { s.t as f64 / 1000.0 } else { s.v })
            }
            _ => None,
        };
        out.push(v);
    }
    out
}

/// A smoothed instant selector per effective time: the value at `t`,
/// interpolated from the samples within the lookback delta around it
/// (`smoothSeries` upstream, which ignores stale markers).
fn smoothed_values(samples: &[Sample], eff: &[i64], lookback: i64) -> Vec<Option<f64>> {
    let live: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| !is_stale_nan(s.v))
        .collect();
    eff.iter()
        .map(|&t| {
            let lo = live.partition_point(|s| s.t <= t.saturating_sub(lookback));
            let hi = live.partition_point(|s| s.t <= t.saturating_add(lookback));
            extended::smoothed_value(&live[lo..hi], t)
        })
        .collect()
}

/// Per step, the index of the sample an instant selector picks (the newest
/// in `(t - lookback, t]` unless it is a stale marker); the same walk as
/// [`lookback_values`], which stays separate to keep that hot path lean.
pub(super) fn lookback_index(samples: &[Sample], eff: &[i64], lookback: i64) -> Vec<Option<usize>> {
    let mut out = Vec::with_capacity(eff.len());
    let mut j = 0usize;
    let mut prev = i64::MIN;
    for &t in eff {
        if t < prev {
            j = 0;
        }
        prev = t;
        while j < samples.len() && samples[j].t <= t {
            j += 1;
        }
        let k = j
            .checked_sub(1)
            .filter(|&k| samples[k].t > t.saturating_sub(lookback) && !is_stale_nan(samples[k].v));
        out.push(k);
    }
    out
}

/// What a [`SeriesMap`] of this module made, as the type it made.
pub(crate) fn downcast<T: 'static>(made: Box<dyn Any + Send>) -> Result<T> {
    made.downcast::<T>()
        .map(|b| *b)
        .map_err(|_| QueryError::Execution("a series read returned an unexpected type".into()))
}

/// A range selector's series as its kernels read it: stale markers
/// dropped, histograms with their reset hints (`stats_hints`: read for
/// their count and sum only) and start timestamps.
pub(crate) fn raw_series(labels: Labels, v: SeriesValues, stats_hints: bool) -> RawSeries {
    let sts = v.start_times;
    let mut hists: Vec<HPoint> = with_reset_hints(&v.histograms, stats_hints)
        .into_iter()
        .zip(&v.histograms)
        .filter(|(_, h)| !h.h.is_stale())
        .map(|(h, at)| HPoint { t: at.t, h, st: 0 })
        .collect();
    set_histogram_start_times(&mut hists, &sts);
    let samples: Vec<Sample> = v
        .samples
        .into_iter()
        .filter(|x| !is_stale_nan(x.v))
        .collect();
    RawSeries {
        labels,
        sts: align_start_times(&samples, &sts),
        samples,
        hists,
        drop_name: false,
    }
}

/// One start timestamp per sample (0 where none) from the `(t, st)` pairs
/// storage returned, or `None` when no sample has one, so series without
/// start timestamps take the plain code paths.
pub(crate) fn align_start_times(samples: &[Sample], sts: &[(i64, i64)]) -> Option<Vec<i64>> {
    if sts.is_empty() {
        return None;
    }
    let mut it = sts.iter().peekable();
    let out: Vec<i64> = samples
        .iter()
        .map(|s| {
            while it.next_if(|e| e.0 < s.t).is_some() {}
            it.next_if(|e| e.0 == s.t).map_or(0, |e| e.1)
        })
        .collect();
    out.iter().any(|&st| st != 0).then_some(out)
}

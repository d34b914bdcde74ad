//! Reading selectors: instant selectors with lookback and staleness, range
//! selectors and subqueries as raw per-series samples with one window per
//! step. All reads go through the scope's tenant querier with the plan's
//! matchers (which end with the forced matchers).

use super::{Ctx, Grid, RawSeries, Result, StepSeries};
use crate::model::{is_stale_nan, Sample};
use crate::promql::error::QueryError;
use crate::promql::plan::{Selector, Subquery};
use crate::storage::Series;

/// Per-step window ends (ms) of a range function argument; each window is
/// `(end - range, end]`.
pub(crate) struct Windows {
    pub ends: Vec<i64>,
    pub range: i64,
}

impl Windows {
    /// `[lo, hi)` index bounds of each step's window in time-sorted `samples`.
    pub(crate) fn bounds(&self, samples: &[Sample]) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(self.ends.len());
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut prev_end = i64::MIN;
        for &end in &self.ends {
            if end < prev_end {
                lo = 0;
                hi = 0;
            }
            prev_end = end;
            let start = end.saturating_sub(self.range);
            while hi < samples.len() && samples[hi].t <= end {
                hi += 1;
            }
            while lo < hi && samples[lo].t <= start {
                lo += 1;
            }
            out.push((lo, hi.max(lo)));
        }
        out
    }
}

impl Ctx<'_> {
    /// Reads matching series with samples in `[mint, maxt]`.
    fn fetch(&mut self, sel: &Selector, mint: i64, maxt: i64) -> Result<(Vec<Series>, usize)> {
        self.check_time()?;
        let q = self.scope.storage.querier(&self.scope.tenant, mint, maxt);
        let series = q
            .select(&sel.matchers)
            .map_err(|e| QueryError::Storage(e.to_string()))?;
        if self.cfg.max_series > 0 && series.len() > self.cfg.max_series {
            return Err(QueryError::TooManySeries(self.cfg.max_series));
        }
        let n: usize = series.iter().map(|s| s.samples.len()).sum();
        self.acquire(n)?;
        Ok((series, n))
    }

    /// Effective read time per step: `@` or the step time, minus offset.
    fn eff_times(at: Option<i64>, offset: i64, grid: Grid) -> Vec<i64> {
        (0..grid.len())
            .map(|i| at.unwrap_or_else(|| grid.ts(i)).saturating_sub(offset))
            .collect()
    }

    /// Streams an instant selector: each step takes the newest sample in
    /// `(t - lookback, t]` unless it is a stale marker. With `timestamps`,
    /// the value is the sample's timestamp in seconds (for `timestamp()`).
    pub(crate) fn vector_selector(
        &mut self,
        sel: &Selector,
        grid: Grid,
        timestamps: bool,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        let eff = Self::eff_times(sel.at, sel.offset, grid);
        let (Some(&first), Some(&last)) = (eff.iter().min(), eff.iter().max()) else {
            return Ok(());
        };
        let lookback = self.cfg.lookback_delta_ms;
        let (series, held) = self.fetch(sel, first.saturating_sub(lookback) + 1, last)?;
        for s in series {
            let vals = lookback_values(&s.samples, &eff, lookback, timestamps);
            if vals.iter().any(Option::is_some) {
                sink(StepSeries {
                    labels: s.labels,
                    vals,
                    drop_name: false,
                })?;
            }
        }
        self.release(held);
        Ok(())
    }

    /// Raw samples of a range selector for the windows of `grid`.
    pub(crate) fn matrix_raw(
        &mut self,
        sel: &Selector,
        range: i64,
        grid: Grid,
    ) -> Result<(Vec<RawSeries>, Windows, usize)> {
        let ends = Self::eff_times(sel.at, sel.offset, grid);
        let windows = Windows { ends, range };
        let (Some(&first), Some(&last)) = (windows.ends.iter().min(), windows.ends.iter().max())
        else {
            return Ok((Vec::new(), windows, 0));
        };
        let (series, held) = self.fetch(sel, first.saturating_sub(range) + 1, last)?;
        let raw = series
            .into_iter()
            .map(|s| RawSeries {
                labels: s.labels,
                samples: s
                    .samples
                    .into_iter()
                    .filter(|x| !is_stale_nan(x.v))
                    .collect(),
                drop_name: false,
            })
            .collect();
        Ok((raw, windows, held))
    }

    /// An instant query of a range selector: the samples in the window.
    pub(crate) fn matrix_at(
        &mut self,
        sel: &Selector,
        range: i64,
        grid: Grid,
    ) -> Result<Vec<RawSeries>> {
        let (raw, windows, _) = self.matrix_raw(sel, range, grid)?;
        Ok(cut_first_window(raw, &windows))
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
        };
        let step = sq.step.unwrap_or(self.cfg.default_subquery_step_ms).max(1);
        let (Some(&first), Some(&last)) = (windows.ends.iter().min(), windows.ends.iter().max())
        else {
            return Ok((Vec::new(), windows));
        };
        let lo = first.saturating_sub(sq.range);
        let start = lo.div_euclid(step) * step + if lo.rem_euclid(step) == 0 { 0 } else { step };
        let inner = Grid {
            start,
            end: last,
            step,
        };
        let mut raw = Vec::new();
        match self.eval(&sq.expr, inner)? {
            super::Val::Vector(v) => {
                for s in v {
                    let samples: Vec<Sample> = s
                        .vals
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| v.map(|v| Sample::new(inner.ts(i), v)))
                        .collect();
                    raw.push(RawSeries {
                        labels: s.labels,
                        samples,
                        drop_name: s.drop_name,
                    });
                }
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
            (!s.samples.is_empty()).then_some(s)
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

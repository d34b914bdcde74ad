//! Evaluator steps over series holding native histograms: a range
//! function's windows (`range_with_histograms`) and the `histogram_*`
//! functions that take one histogram to a float.

use super::native::{range_kernel, HOut, Note};
use crate::promql::functions::{self, RangeFn, Window};

impl super::Ctx<'_> {
    /// A range function over a series that holds histograms in the queried
    /// range: one [`range_kernel`] per step (or, for an `anchored` or
    /// `smoothed` range, `extended` giving whether smoothed, one
    /// [`extended_kernel`]), annotations at `pos`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn range_with_histograms(
        &mut self,
        f: RangeFn,
        params: &[Vec<f64>],
        pos: &str,
        grid: super::Grid,
        s: super::RawSeries,
        windows: &super::select::Windows,
        extended: Option<bool>,
    ) -> super::Result<Option<super::StepSeries>> {
        let bounds = windows.bounds(&s.samples);
        let hbounds = windows.hist_bounds(&s.hists);
        let name = s
            .labels
            .get(super::labels::NAME)
            .unwrap_or_default()
            .to_string();
        let n = bounds.len();
        let (mut vals, mut hists) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut notes = Vec::new();
        let mut ps = vec![0.0; params.len()];
        for (i, (&(lo, hi), &(hlo, hhi))) in bounds.iter().zip(&hbounds).enumerate() {
            for (k, p) in params.iter().enumerate() {
                ps[k] = p.get(i).copied().unwrap_or(f64::NAN);
            }
            if f == RangeFn::PredictLinear {
                ps.truncate(1);
                ps.push(grid.ts(i) as f64);
            }
            let end = windows.ends[i];
            let w = Window {
                samples: &s.samples[lo..hi],
                start: end.saturating_sub(windows.range),
                end,
            };
            let fsts = s.sts.as_deref().and_then(|v| v.get(lo..hi)).unwrap_or(&[]);
            let hs = &s.hists[hlo..hhi];
            let out = match extended {
                _ if lo >= hi && hlo >= hhi => HOut::None,
                Some(smoothed) => extended_kernel(f, w, fsts, hs, smoothed, &name, &mut notes),
                None => range_kernel(f, w, fsts, hs, &ps, &name, &mut notes),
            };
            let (v, h) = match out {
                HOut::None => (None, None),
                HOut::Float(v) => (Some(v), None),
                HOut::Hist(h) => (None, Some(Box::new(h))),
            };
            vals.push(v);
            hists.push(h);
        }
        for note in notes {
            match note {
                Note::Warn(m) => self.warn_at(m, pos),
                Note::Info(m) => self.info_at(m, pos),
            }
        }
        let out = super::StepSeries {
            labels: s.labels,
            vals,
            drop_name: s.drop_name,
            hists,
        };
        Ok(out.any().then_some(out))
    }
}

/// One step of `rate`/`increase`/`delta`/`changes`/`resets` over an
/// anchored or smoothed window that holds histograms (`extendedRate` /
/// `extendedHistogramRate`, and `pickFirstSampleIndices` before
/// `funcChanges`/`funcResets` upstream).
fn extended_kernel(
    f: RangeFn,
    w: Window<'_>,
    fsts: &[i64],
    hs: &[super::HPoint],
    smoothed: bool,
    name: &str,
    notes: &mut Vec<Note>,
) -> HOut {
    use super::native::msg;
    match f {
        RangeFn::Rate | RangeFn::Increase | RangeFn::Delta => {
            match (w.samples.is_empty(), hs.is_empty()) {
                (false, false) => {
                    notes.push(Note::Warn(msg::mixed(name)));
                    HOut::None
                }
                (true, false) => {
                    let range = (w.start, w.end);
                    super::hist_ext::extended_hist_rate(f, hs, range, smoothed, name, notes)
                }
                _ => {
                    let sts = (!fsts.is_empty()).then_some(fsts);
                    super::range_ext::extended_range(f, w, smoothed, sts)
                        .map_or(HOut::None, HOut::Float)
                }
            }
        }
        _ => {
            let Some((ff, fh)) = super::hist_ext::anchored_starts(w.samples, hs, w.start) else {
                return HOut::None;
            };
            let inner = Window {
                samples: &w.samples[ff..],
                ..w
            };
            let fsts = fsts.get(ff..).unwrap_or(&[]);
            range_kernel(f, inner, fsts, &hs[fh..], &[], name, notes)
        }
    }
}

impl super::Ctx<'_> {
    /// `histogram_count`, `histogram_sum`, `histogram_avg`,
    /// `histogram_stddev` and `histogram_stdvar` (`simpleHistogramFunc`
    /// upstream): one float per histogram; floats give nothing.
    pub(crate) fn histogram_stat(
        &mut self,
        c: &crate::promql::plan::Call,
        grid: super::Grid,
        sink: &mut dyn FnMut(super::StepSeries) -> super::Result<()>,
    ) -> super::Result<()> {
        let arg = c.args.first().ok_or_else(|| {
            crate::promql::error::QueryError::BadData(format!(
                "expected argument 1 in call to {}",
                c.name
            ))
        })?;
        let name = c.name;
        self.stream(arg, grid, &mut |s: super::StepSeries| {
            let vals: Vec<Option<f64>> = (0..s.vals.len())
                .map(|i| {
                    s.hist(i).map(|h| match name {
                        "histogram_count" => h.count,
                        "histogram_sum" => h.sum,
                        "histogram_avg" => h.sum / h.count,
                        "histogram_stddev" => functions::hist_stats::variance(h).sqrt(),
                        _ => functions::hist_stats::variance(h),
                    })
                })
                .collect();
            let out = super::StepSeries::floats(s.labels, vals, true);
            if out.any() {
                sink(out)
            } else {
                Ok(())
            }
        })
    }
}

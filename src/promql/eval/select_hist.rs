//! Instant selectors over series that hold native histograms (plain and
//! smoothed), and the counter-reset hints and start timestamps histograms
//! get as the evaluator reads them.

use super::select::{lookback_index, Pick};
use super::{Ctx, HPoint, Result, StepSeries};
use crate::model::{is_stale_nan, stale_nan, Sample};
use crate::promql::functions::extended;
use crate::promql::functions::fhist::FHist;
use crate::promql::plan::Selector;
use crate::storage::Series;

impl Ctx<'_> {
    /// An instant selector over a series that holds histograms: per step
    /// the newest float or histogram in the lookback window, unless it is a
    /// stale marker of either kind (`vectorSelectorSingle` upstream), or
    /// its timestamp as `pick` says; `stats_hints` is the selector's
    /// [`Selector::stats_hints`].
    pub(super) fn mixed_vector_selector(
        &mut self,
        s: Series,
        eff: &[i64],
        (pick, stats_hints): (Pick, bool),
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        // One timeline of both kinds; a histogram stands in as a float
        // that is stale exactly when the histogram is.
        let mut points: Vec<(Sample, Option<usize>)> =
            s.samples.iter().map(|x| (*x, None)).collect();
        points.extend(s.histograms.iter().enumerate().map(|(i, h)| {
            let v = if h.h.is_stale() { stale_nan() } else { 0.0 };
            (Sample::new(h.t, v), Some(i))
        }));
        points.sort_by_key(|p| p.0.t);
        let timeline: Vec<Sample> = points.iter().map(|p| p.0).collect();
        let picked = lookback_index(&timeline, eff, self.cfg.lookback_delta_ms);
        let converted = with_reset_hints(&s.histograms, stats_hints);
        let mut vals = Vec::with_capacity(picked.len());
        let mut hists = Vec::with_capacity(picked.len());
        for k in picked {
            match k.map(|k| points[k]) {
                Some((x, h)) if pick != Pick::Value => {
                    let t = if pick == Pick::FloatTimestamp && h.is_some() {
                        f64::NAN
                    } else {
                        x.t as f64 / 1000.0
                    };
                    vals.push(Some(t));
                    hists.push(None);
                }
                Some((_, Some(h))) => {
                    vals.push(None);
                    hists.push(Some(Box::new(converted[h].clone())));
                }
                Some((x, None)) => {
                    vals.push(Some(x.v));
                    hists.push(None);
                }
                None => {
                    vals.push(None);
                    hists.push(None);
                }
            }
        }
        let out = StepSeries {
            labels: s.labels,
            vals,
            drop_name: false,
            hists,
        };
        if out.any() {
            sink(out)?;
        }
        Ok(())
    }

    /// A smoothed instant selector over a series that holds histograms
    /// (`smoothSeries` upstream): per step, the floats or the histograms
    /// in `(t - lookback, t + lookback]` give the value at `t`; a step
    /// whose window holds both kinds gives nothing and a warning.
    pub(super) fn smoothed_mixed_selector(
        &mut self,
        s: Series,
        eff: &[i64],
        sel: &Selector,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        use super::native::{msg, Note};
        let lookback = self.cfg.lookback_delta_ms;
        let hs: Vec<HPoint> = with_reset_hints(&s.histograms, sel.stats_hints)
            .into_iter()
            .zip(&s.histograms)
            .filter(|(_, h)| !h.h.is_stale())
            .map(|(h, at)| HPoint { t: at.t, h, st: 0 })
            .collect();
        let floats: Vec<Sample> = (s.samples.iter().copied())
            .filter(|x| !is_stale_nan(x.v))
            .collect();
        let name = s
            .labels
            .get(super::labels::NAME)
            .unwrap_or_default()
            .to_string();
        let mut notes = Vec::new();
        let (mut vals, mut hists) = (Vec::with_capacity(eff.len()), Vec::with_capacity(eff.len()));
        for &t in eff {
            let (lo, hi) = (t.saturating_sub(lookback), t.saturating_add(lookback));
            let f = &floats
                [floats.partition_point(|x| x.t <= lo)..floats.partition_point(|x| x.t <= hi)];
            let h = &hs[hs.partition_point(|x| x.t <= lo)..hs.partition_point(|x| x.t <= hi)];
            let (v, hist) = match (f.is_empty(), h.is_empty()) {
                (false, false) => {
                    notes.push(Note::Warn(msg::mixed(&name)));
                    (None, None)
                }
                (false, true) => (extended::smoothed_value(f, t), None),
                (true, false) => (
                    None,
                    super::hist_ext::smoothed_hist(h, t, &name, &mut notes),
                ),
                (true, true) => (None, None),
            };
            vals.push(v);
            hists.push(hist.map(Box::new));
        }
        let anchor = sel.name.clone().unwrap_or_else(|| sel.text.clone());
        for note in notes {
            match note {
                Note::Warn(m) => self.warn_at(m, &anchor),
                Note::Info(m) => self.info_at(m, &anchor),
            }
        }
        let out = StepSeries {
            labels: s.labels,
            vals,
            drop_name: false,
            hists,
        };
        if out.any() {
            sink(out)?;
        }
        Ok(())
    }
}

/// The histograms of a series as the evaluator reads them, with the
/// counter-reset hints Prometheus's head gives a histogram appended after
/// another (`appendable` in `tsdb/chunkenc`): a histogram whose sender
/// said nothing is a reset if it follows one it cannot continue, and not
/// one otherwise. Gauge hints and stale markers are left alone; the
/// first histogram read keeps its own hint (the one the head stored).
/// With `stats` (a selector under `histogram_count` and friends, read
/// through `HistogramStatsIterator` upstream), a detected reset is marked
/// `Reset` rather than left unknown.
pub(super) fn with_reset_hints(hs: &[crate::model::HistogramSample], stats: bool) -> Vec<FHist> {
    use crate::model::CounterResetHint::{NotReset, Reset, Unknown};
    let mut out: Vec<FHist> = Vec::with_capacity(hs.len());
    let mut prev: Option<usize> = None;
    for (i, h) in hs.iter().enumerate() {
        let mut f = FHist::from_model(&h.h);
        if h.h.is_stale() {
            prev = None;
            out.push(f);
            continue;
        }
        // A detected reset stays Unknown: Prometheus's chunk iterators
        // give the first histogram of the chunk a reset starts no hint
        // (prometheus/prometheus#15346), and readers detect it again.
        if let (Some(p), Unknown) = (prev, f.hint) {
            if !f.detect_reset(&out[p]) {
                f.hint = NotReset;
            } else if stats {
                f.hint = Reset;
            }
        }
        prev = Some(i);
        out.push(f);
    }
    out
}

/// Gives each histogram point its start timestamp from the `(t, st)`
/// pairs storage returned (time-ordered, both kinds of sample).
pub(super) fn set_histogram_start_times(hists: &mut [HPoint], sts: &[(i64, i64)]) {
    if sts.is_empty() {
        return;
    }
    let mut it = sts.iter().peekable();
    for p in hists {
        while it.next_if(|e| e.0 < p.t).is_some() {}
        p.st = it.next_if(|e| e.0 == p.t).map_or(0, |e| e.1);
    }
}

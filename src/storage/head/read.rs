//! Reading the head: series selection, label names and values, and the
//! label-ordered walk that flushing uses.

use std::cmp::Ordering;

use roaring::RoaringBitmap;

use super::{resolve_labels, Head, SeriesHandle};
use crate::model::{HistogramSample, Labels, Sample};
use crate::storage::block::{SelectedSeries, SeriesData};
use crate::storage::chunk::StEntry;
use crate::storage::error::Result;
use crate::storage::index::{self, Matcher};

/// A callback taking one series' labels, samples and start timestamps.
pub(crate) type FlushSeriesFn<'f> = dyn FnMut(&SeriesData) -> Result<()> + 'f;

impl Head {
    /// Ids of series matching `matchers` (Prometheus semantics).
    pub(crate) fn select_ids(&self, matchers: &[Matcher]) -> Result<RoaringBitmap> {
        index::select(&*self.postings.read(), matchers)
    }

    /// Handles of the given ids that have a sample in `[mint, maxt]`.
    fn handles_in(&self, ids: &RoaringBitmap, mint: i64, maxt: i64) -> Vec<(u32, SeriesHandle)> {
        let table = self.table.read();
        ids.iter()
            .filter_map(|id| table.by_id.get(&id).map(|h| (id, h.clone())))
            .filter(|(_, h)| h.data.lock().overlaps(mint, maxt))
            .collect()
    }

    /// Label sets and handles of matching series with a sample in
    /// `[mint, maxt]`, sorted by labels; samples are read later, one series
    /// at a time, with [`Head::samples_of`].
    pub(crate) fn select_handles(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, SeriesHandle)>> {
        let ids = self.select_ids(matchers)?;
        let mut handles = self.handles_in(&ids, mint, maxt);
        if handles.len() < PARALLEL_LABELS {
            return Ok(self.labelled_sorted(handles));
        }
        // Large selections build and sort their label sets on two threads
        // (this runs before any series can be read), then merge the halves.
        let right = handles.split_off(handles.len() / 2);
        let (left, right) = crate::threads::scope(|scope| {
            let other = scope.spawn(|| self.labelled_sorted(right));
            let left = self.labelled_sorted(handles);
            (left, other.join())
        });
        Ok(merge_sorted(left, right))
    }

    /// `handles` with their label sets, sorted by them; the symbol table
    /// is locked once per [`LABELS_PER_LOCK`] series rather than per series.
    fn labelled_sorted(&self, handles: Vec<(u32, SeriesHandle)>) -> Vec<(Labels, SeriesHandle)> {
        let mut out = Vec::with_capacity(handles.len());
        let mut it = handles.into_iter().peekable();
        while it.peek().is_some() {
            let symbols = self.symbols.read();
            for (_, h) in it.by_ref().take(LABELS_PER_LOCK) {
                out.push((super::resolve_labels(&symbols, &h.labels), h));
            }
        }
        Labels::sort_items(&mut out, |x| &x.0);
        out
    }

    /// Appends the samples of `h` in `[mint, maxt]` to `out`.
    pub(crate) fn samples_of(
        &self,
        h: &SeriesHandle,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
        hists: &mut Vec<HistogramSample>,
    ) -> Result<()> {
        let s = h.data.lock();
        s.samples_in(mint, maxt, out)?;
        s.histograms_in(mint, maxt, hists)
    }

    /// [`Head::samples_of`] that also appends the `(t, st)` of samples
    /// with a start timestamp to `sts`, under one lock of the series.
    pub(crate) fn samples_and_start_times_of(
        &self,
        h: &SeriesHandle,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
        hists: &mut Vec<HistogramSample>,
        sts: &mut Vec<StEntry>,
    ) -> Result<()> {
        let s = h.data.lock();
        s.samples_in(mint, maxt, out)?;
        s.histograms_in(mint, maxt, hists)?;
        s.start_times_in(mint, maxt, sts)
    }

    /// Series matching `matchers` with their samples in `[mint, maxt]`,
    /// sorted by labels; series with no sample in range are left out.
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SelectedSeries>> {
        let mut out = Vec::new();
        for (labels, h) in self.select_handles(matchers, mint, maxt)? {
            let (mut samples, mut hists) = (Vec::new(), Vec::new());
            self.samples_of(&h, mint, maxt, &mut samples, &mut hists)?;
            if !samples.is_empty() || !hists.is_empty() {
                out.push((labels, samples, hists));
            }
        }
        Ok(out)
    }

    /// Number of series matching `matchers` with a sample in `[mint, maxt]`.
    /// When the range covers everything the head holds, this is the size of
    /// the postings intersection and touches no series.
    pub(crate) fn count_in(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<usize> {
        let ids = self.select_ids(matchers)?;
        if mint == i64::MIN && maxt == i64::MAX {
            return Ok(ids.len() as usize);
        }
        Ok(self.handles_in(&ids, mint, maxt).len())
    }

    /// Label sets of series matching `matchers` with a sample in `[mint, maxt]`.
    pub(crate) fn select_labels(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>> {
        Ok(self
            .select_handles(matchers, mint, maxt)?
            .into_iter()
            .map(|(labels, _)| labels)
            .collect())
    }

    /// Label names, restricted to series matching `matchers` in `[mint, maxt]`
    /// when matchers are given.
    pub(crate) fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>> {
        let cands = self.candidates(matchers, mint, maxt)?;
        index::label_names(&*self.postings.read(), cands.as_ref(), None)
    }

    /// Values of label `name`, restricted like [`Head::label_names`].
    pub(crate) fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>> {
        let cands = self.candidates(matchers, mint, maxt)?;
        index::label_values(&*self.postings.read(), name, cands.as_ref(), None)
    }

    fn candidates(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Option<RoaringBitmap>> {
        if matchers.is_empty() {
            return Ok(None);
        }
        let ids = self.select_ids(matchers)?;
        Ok(Some(
            self.handles_in(&ids, mint, maxt)
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
        ))
    }

    /// Calls `f(labels, samples, start_times)` for every series with samples
    /// older than `before`, in label order, one series in memory at a time.
    pub(crate) fn for_each_series_before(
        &self,
        before: i64,
        f: &mut FlushSeriesFn<'_>,
    ) -> Result<()> {
        let mut handles: Vec<SeriesHandle> = self.table.read().by_id.values().cloned().collect();
        {
            let sy = self.symbols.read();
            handles.sort_by(|a, b| {
                for (&(an, av), &(bn, bv)) in a.labels.iter().zip(b.labels.iter()) {
                    let o = sy
                        .resolve(an)
                        .cmp(sy.resolve(bn))
                        .then_with(|| sy.resolve(av).cmp(sy.resolve(bv)));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.labels.len().cmp(&b.labels.len())
            });
        }
        let mut d = SeriesData::default();
        for h in handles {
            d.samples.clear();
            d.sts.clear();
            d.histograms.clear();
            self.samples_and_start_times_of(
                &h,
                i64::MIN,
                before.saturating_sub(1),
                &mut d.samples,
                &mut d.histograms,
                &mut d.sts,
            )?;
            if !d.samples.is_empty() || !d.histograms.is_empty() {
                d.labels = resolve_labels(&self.symbols.read(), &h.labels);
                f(&d)?;
            }
        }
        Ok(())
    }
}

/// Selections of at least this many series label and sort on two threads.
const PARALLEL_LABELS: usize = 4096;
/// Series resolved under one hold of the symbol table's read lock, so an
/// append that adds symbols waits for at most this many.
const LABELS_PER_LOCK: usize = 256;

/// Two lists sorted by label set merged into one, sorted (`a` first among
/// equal sets, which a head never has).
fn merge_sorted(
    a: Vec<(Labels, SeriesHandle)>,
    b: Vec<(Labels, SeriesHandle)>,
) -> Vec<(Labels, SeriesHandle)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.0 <= y.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

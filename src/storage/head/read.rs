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
    ///
    /// A dashboard asks for the same large selection again and again, and
    /// sorting it by label set (tens of thousands of byte-string
    /// comparisons) was the larger part of selecting it. So the order of
    /// the last few selections of at least [`ORDER_CACHE_MIN`] series is
    /// kept, as positions in the selection's id order, under the exact set
    /// of ids selected. A selection of the same ids takes that order and
    /// only checks it (one comparison per neighbour pair); a set that
    /// differs in any id sorts afresh. The labels always come from the
    /// series themselves, so a stale order could only cost a sort.
    pub(crate) fn select_handles(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, SeriesHandle)>> {
        let ids = self.select_ids(matchers)?;
        let handles = self.handles_in(&ids, mint, maxt);
        if handles.len() < ORDER_CACHE_MIN {
            return Ok(self.labelled_sorted(handles));
        }
        let key = RoaringBitmap::from_sorted_iter(handles.iter().map(|(id, _)| *id)).ok();
        let known = key.as_ref().and_then(|k| self.orders.lock().find(k));
        if let Some(order) = known.filter(|o| o.len() == handles.len()) {
            let mut ordered: Vec<Option<(u32, SeriesHandle)>> =
                handles.into_iter().map(Some).collect();
            let ordered: Vec<(u32, SeriesHandle)> = order
                .iter()
                .filter_map(|&i| ordered.get_mut(i as usize).and_then(Option::take))
                .collect();
            let mut out: Vec<(Labels, SeriesHandle)> = self.labelled_in_parallel(ordered, false);
            if !out.windows(2).all(|w| w[0].0 <= w[1].0) {
                Labels::sort_items(&mut out, |x| &x.0);
            }
            return Ok(out);
        }
        // Positions in id order travel with each series through the sort.
        let positioned: Vec<(u32, SeriesHandle)> = handles
            .into_iter()
            .enumerate()
            .map(|(i, (_, h))| (i as u32, h))
            .collect();
        let n = positioned.len();
        let (out, order) = self.labelled_sorted_positions(positioned);
        if let (Some(key), true) = (key, order.len() == n) {
            self.orders.lock().insert(key, order);
        }
        Ok(out)
    }

    /// `handles` labelled and sorted, with each one's first field (its
    /// position) in the sorted order.
    fn labelled_sorted_positions(
        &self,
        handles: Vec<(u32, SeriesHandle)>,
    ) -> (Vec<(Labels, SeriesHandle)>, Vec<u32>) {
        let sorted: Vec<(Labels, SeriesHandle, u32)> = self.labelled_in_parallel(handles, true);
        let order = sorted.iter().map(|x| x.2).collect();
        let out = sorted.into_iter().map(|(l, h, _)| (l, h)).collect();
        (out, order)
    }

    /// `handles` with their label sets, sorted by them when `sort`
    /// (otherwise in the order given). Large selections build (and sort)
    /// their label sets on two threads (this runs before any series can
    /// be read), then join or merge the halves.
    fn labelled_in_parallel<T: Positioned>(
        &self,
        mut handles: Vec<(u32, SeriesHandle)>,
        sort: bool,
    ) -> Vec<T> {
        if handles.len() < PARALLEL_LABELS {
            return self.labelled(handles, sort);
        }
        let right = handles.split_off(handles.len() / 2);
        let (left, right) = crate::threads::scope(|scope| {
            let other = scope.spawn(|| self.labelled(right, sort));
            let left = self.labelled(handles, sort);
            (left, other.join())
        });
        if sort {
            merge_sorted(left, right)
        } else {
            let mut left = left;
            left.extend(right);
            left
        }
    }

    /// `handles` with their label sets (sorted by them when `sort`); the
    /// symbol table is locked once per [`LABELS_PER_LOCK`] series rather
    /// than per series.
    fn labelled<T: Positioned>(&self, handles: Vec<(u32, SeriesHandle)>, sort: bool) -> Vec<T> {
        let mut out = Vec::with_capacity(handles.len());
        let mut it = handles.into_iter().peekable();
        while it.peek().is_some() {
            let symbols = self.symbols.read();
            for (pos, h) in it.by_ref().take(LABELS_PER_LOCK) {
                out.push(T::new(resolve_labels(&symbols, &h.labels), h, pos));
            }
        }
        if sort {
            Labels::sort_items(&mut out, T::labels);
        }
        out
    }

    /// `handles` with their label sets, sorted by them.
    fn labelled_sorted(&self, handles: Vec<(u32, SeriesHandle)>) -> Vec<(Labels, SeriesHandle)> {
        self.labelled(handles, true)
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
fn merge_sorted<T: Positioned>(a: Vec<T>, b: Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.labels() <= y.labels(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

/// A labelled series, with or without its position in the selection.
trait Positioned: Send {
    fn new(labels: Labels, h: SeriesHandle, pos: u32) -> Self;
    fn labels(&self) -> &Labels;
}

impl Positioned for (Labels, SeriesHandle) {
    fn new(labels: Labels, h: SeriesHandle, _: u32) -> Self {
        (labels, h)
    }
    fn labels(&self) -> &Labels {
        &self.0
    }
}

impl Positioned for (Labels, SeriesHandle, u32) {
    fn new(labels: Labels, h: SeriesHandle, pos: u32) -> Self {
        (labels, h, pos)
    }
    fn labels(&self) -> &Labels {
        &self.0
    }
}

/// Selections of at least this many series have their label order kept.
const ORDER_CACHE_MIN: usize = 1024;
/// Orders kept per head, the most recently used first.
const ORDER_CACHE_ENTRIES: usize = 8;

/// The label order of recent selections: the ids selected, and the
/// positions (in id order) of their series in label order. Four bytes
/// per series plus the id set; eight selections per head at most.
#[derive(Default)]
pub(crate) struct OrderCache {
    entries: Vec<(RoaringBitmap, std::sync::Arc<Vec<u32>>)>,
}

impl OrderCache {
    /// The order kept for exactly the ids `key`, now the most recent.
    fn find(&mut self, key: &RoaringBitmap) -> Option<std::sync::Arc<Vec<u32>>> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        let e = self.entries.remove(i);
        let order = e.1.clone();
        self.entries.insert(0, e);
        Some(order)
    }

    /// Keeps `order` for the ids `key`, dropping the least recent order
    /// past [`ORDER_CACHE_ENTRIES`].
    fn insert(&mut self, key: RoaringBitmap, order: Vec<u32>) {
        self.entries.retain(|(k, _)| *k != key);
        self.entries.insert(0, (key, std::sync::Arc::new(order)));
        self.entries.truncate(ORDER_CACHE_ENTRIES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::index::MatchOp;

    /// A kept order that does not sort the selection (it cannot happen
    /// unless ids were reused) is caught by the check and sorted away.
    #[test]
    fn a_wrong_kept_order_is_sorted_away() {
        let head = Head::new(7_200_000);
        let n = ORDER_CACHE_MIN + 10;
        for i in 0..n {
            let v = format!("s{:05}", (i * 7919) % n);
            let l: &[(&[u8], &[u8])] = &[(b"__name__", b"m"), (b"k", v.as_bytes())];
            let (h, _) = head.get_or_create(l).unwrap();
            h.data.lock().append_in_order(1_000, 1.0, head.block_range);
        }
        let m = [Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()];
        let sorted = head.select_handles(&m, i64::MIN, i64::MAX).unwrap();
        let names = |v: &[(Labels, SeriesHandle)]| -> Vec<Labels> {
            v.iter().map(|x| x.0.clone()).collect()
        };
        let want = names(&sorted);
        assert!(want.windows(2).all(|w| w[0] < w[1]));
        // The kept order replaced by the identity: id order, not label order.
        {
            let mut orders = head.orders.lock();
            assert_eq!(orders.entries.len(), 1, "the order was kept");
            let key = orders.entries[0].0.clone();
            orders.insert(key, (0..n as u32).collect());
        }
        let again = head.select_handles(&m, i64::MIN, i64::MAX).unwrap();
        assert_eq!(names(&again), want);
    }
}

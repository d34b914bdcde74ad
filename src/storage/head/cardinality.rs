//! Reads that walk a whole tenant head without building a result per series:
//! the cardinality statistics behind `/api/v1/status/tsdb`, and the
//! newest-sample walk that `/federate` streams from.
//!
//! Both take each head lock briefly and never hold one while calling back
//! into the caller, so a slow HTTP client never stalls ingestion.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::Head;
use crate::model::{is_stale_nan, HistogramSample, Labels, Sample, METRIC_NAME};
use crate::storage::error::Result;
use crate::storage::index::{self, MatchOp, Matcher};
use crate::storage::Storage;
use crate::tenant::TenantId;

/// What [`Storage::for_each_newest`] calls with each series' labels
/// (`(name, value)` pairs, sorted by name) and newest value; it returns
/// false to stop the walk.
pub(crate) type OnNewest<'a> = dyn FnMut(&[(&str, &str)], Newest) -> bool + 'a;

/// A series' newest value in a range: a float sample or a native
/// histogram, whichever is later (a series never holds both at one time).
#[derive(Debug, Clone, PartialEq)]
pub enum Newest {
    /// A float sample (possibly a stale marker).
    Float(Sample),
    /// A native histogram (possibly a stale marker).
    Histogram(HistogramSample),
}

impl Newest {
    /// The later of a series' last float and last histogram, if any.
    pub(crate) fn of(floats: &[Sample], hists: &mut Vec<HistogramSample>) -> Option<Newest> {
        let f = floats.last();
        let h_t = hists.last().map(|h| h.t);
        match (f, h_t) {
            (Some(f), Some(t)) if f.t > t => Some(Newest::Float(*f)),
            (_, Some(_)) => hists.pop().map(Newest::Histogram),
            (Some(f), None) => Some(Newest::Float(*f)),
            (None, None) => None,
        }
    }

    /// Whether the value is a stale marker.
    pub fn is_stale(&self) -> bool {
        match self {
            Newest::Float(s) => is_stale_nan(s.v),
            Newest::Histogram(h) => h.h.is_stale(),
        }
    }
}

/// One entry of a top-N cardinality list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardinalityStat {
    /// A metric name, label name, or `name=value` pair.
    pub name: String,
    /// Series, values or bytes, depending on the list.
    pub value: u64,
}

/// Cardinality of one tenant's head, as Prometheus's TSDB status page shows
/// it (`TSDBStatus` in `web/api/v1/api.go`). Each list holds at most the
/// requested number of entries, largest value first (ties by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsdbStatus {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct `name=value` pairs over all series.
    pub num_label_pairs: u64,
    /// Chunks held (closed and open).
    pub chunk_count: u64,
    /// Oldest sample time; `i64::MAX` for an empty head, as upstream.
    pub min_time: i64,
    /// Newest sample time; `i64::MIN` for an empty head, as upstream.
    pub max_time: i64,
    /// Series per metric name.
    pub series_count_by_metric_name: Vec<CardinalityStat>,
    /// Distinct values per label name.
    pub label_value_count_by_label_name: Vec<CardinalityStat>,
    /// Bytes the label's pairs take in series' label sets, summed over series.
    pub memory_in_bytes_by_label_name: Vec<CardinalityStat>,
    /// Series per `name=value` pair.
    pub series_count_by_label_value_pair: Vec<CardinalityStat>,
}

impl TsdbStatus {
    fn empty() -> TsdbStatus {
        TsdbStatus {
            num_series: 0,
            num_label_pairs: 0,
            chunk_count: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
            series_count_by_metric_name: Vec::new(),
            label_value_count_by_label_name: Vec::new(),
            memory_in_bytes_by_label_name: Vec::new(),
            series_count_by_label_value_pair: Vec::new(),
        }
    }
}

/// The size Prometheus accounts for one label pair in a series' label set
/// (`labelSize` of the default `stringlabels` build, used by
/// `labels.SizeOfLabels`): each string with its length prefix, which takes
/// one byte below 255 and four otherwise.
fn label_pair_size(name: &str, value: &str) -> u64 {
    let prefixed = |s: &str| s.len() as u64 + if s.len() < 255 { 1 } else { 4 };
    prefixed(name) + prefixed(value)
}

/// The `limit` largest entries seen, ties broken by name (upstream's
/// `maxHeap` in `tsdb/index/postingsstats.go` leaves ties to map order).
struct TopN {
    limit: usize,
    /// A max-heap on "worse", so its top is the entry to evict next.
    heap: BinaryHeap<Worse>,
}

/// Orders entries so that the worst (smallest value, then largest name) is greatest.
#[derive(PartialEq, Eq)]
struct Worse(CardinalityStat);

impl Ord for Worse {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.value
            .cmp(&self.0.value)
            .then_with(|| self.0.name.cmp(&o.0.name))
    }
}

impl PartialOrd for Worse {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl TopN {
    fn new(limit: usize) -> TopN {
        TopN {
            limit,
            heap: BinaryHeap::new(),
        }
    }

    /// Offers an entry; the name is built only if it could get in.
    fn offer(&mut self, value: u64, name: impl FnOnce() -> String) {
        if self.limit == 0 {
            return;
        }
        if self.heap.len() == self.limit {
            let worst = self.heap.peek().map_or(0, |w| w.0.value);
            if value < worst {
                return;
            }
        }
        self.heap.push(Worse(CardinalityStat {
            name: name(),
            value,
        }));
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
    }

    /// Entries, largest value first.
    fn into_sorted(self) -> Vec<CardinalityStat> {
        // Ascending by `Worse` is best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|w| w.0)
            .collect()
    }
}

/// The status of a head, or the empty status when the tenant has none.
pub(crate) fn status_of(head: Option<&Head>, limit: usize) -> TsdbStatus {
    head.map_or_else(TsdbStatus::empty, |h| h.cardinality(limit))
}

/// One head's cardinality in a form that adds up across heads: every
/// distinct `name=value` pair with its series count. Series are disjoint
/// across a cluster's partitions, so summing the counts of several heads
/// gives the statistics of their union exactly, top-N lists included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadPairs {
    /// Series in the head.
    pub num_series: u64,
    /// Chunks held (closed and open).
    pub chunk_count: u64,
    /// Oldest and newest sample time, if the head holds any.
    pub bounds: Option<(i64, i64)>,
    /// `(name, value, series)` for every distinct pair.
    pub pairs: Vec<(String, String, u64)>,
}

impl TsdbStatus {
    /// The statistics of several heads together (a tenant's partitions in
    /// cluster mode), top `limit` of each list, ranked as one head's are.
    pub fn merge(heads: &[HeadPairs], limit: usize) -> TsdbStatus {
        let mut status = TsdbStatus::empty();
        let mut pairs: HashMap<(&str, &str), u64> = HashMap::new();
        for h in heads {
            status.num_series += h.num_series;
            status.chunk_count += h.chunk_count;
            if let Some((min, max)) = h.bounds {
                status.min_time = status.min_time.min(min);
                status.max_time = status.max_time.max(max);
            }
            for (n, v, c) in &h.pairs {
                *pairs.entry((n.as_str(), v.as_str())).or_default() += c;
            }
        }
        rank_pairs(
            pairs.into_iter().map(|((n, v), c)| (n, v, c)),
            limit,
            &mut status,
        );
        status
    }
}

/// Fills the pair count and top-N lists of `status` from the series count
/// of every distinct pair (`MemPostings.Stats` in `tsdb/index/postings.go`):
/// the one ranking both a head and a merge of heads use.
fn rank_pairs<'s>(
    pairs: impl Iterator<Item = (&'s str, &'s str, u64)>,
    limit: usize,
    status: &mut TsdbStatus,
) {
    // Per label name: distinct values and bytes.
    let mut per_name: HashMap<&str, (u64, u64)> = HashMap::new();
    let mut metrics = TopN::new(limit);
    let mut by_pair = TopN::new(limit);
    for (name, value, count) in pairs {
        if name.is_empty() || value.is_empty() {
            continue;
        }
        status.num_label_pairs += 1;
        let e = per_name.entry(name).or_default();
        e.0 += 1;
        e.1 =
            e.1.saturating_add(label_pair_size(name, value).saturating_mul(count));
        if name == METRIC_NAME {
            metrics.offer(count, || value.to_string());
        }
        by_pair.offer(count, || format!("{name}={value}"));
    }
    let mut values = TopN::new(limit);
    let mut bytes = TopN::new(limit);
    for (&n, &(distinct, size)) in &per_name {
        values.offer(distinct, || n.to_string());
        bytes.offer(size, || n.to_string());
    }
    status.series_count_by_metric_name = metrics.into_sorted();
    status.label_value_count_by_label_name = values.into_sorted();
    status.memory_in_bytes_by_label_name = bytes.into_sorted();
    status.series_count_by_label_value_pair = by_pair.into_sorted();
}

impl Head {
    /// Series count per distinct pair, by symbol ids (one pass over the
    /// series table under its read lock), and the series count.
    fn pair_ids(&self) -> (HashMap<(u32, u32), u64, ahash::RandomState>, u64) {
        let mut pairs: HashMap<(u32, u32), u64, ahash::RandomState> = HashMap::default();
        let table = self.table.read();
        for h in table.by_key.values() {
            for &(n, v) in h.labels.iter() {
                *pairs.entry((n, v)).or_default() += 1;
            }
        }
        (pairs, table.by_key.len() as u64)
    }

    /// Cardinality statistics of the head, top `limit` of each list
    /// (`MemPostings.Stats` in `tsdb/index/postings.go`).
    ///
    /// Counts are taken from the series table (symbol ids only); strings
    /// are resolved afterwards for the distinct pairs only.
    pub(crate) fn cardinality(&self, limit: usize) -> TsdbStatus {
        let (pairs, num_series) = self.pair_ids();
        let (chunks, bounds) = self.chunks_and_bounds();
        let mut status = TsdbStatus::empty();
        status.num_series = num_series;
        status.chunk_count = chunks as u64;
        if let Some((min, max)) = bounds {
            status.min_time = min;
            status.max_time = max;
        }
        let sy = self.symbols.read();
        let resolved = pairs
            .iter()
            .map(|(&(n, v), &c)| (sy.resolve(n), sy.resolve(v), c));
        rank_pairs(resolved, limit, &mut status);
        status
    }

    /// The head's statistics in mergeable form ([`HeadPairs`]).
    pub(crate) fn head_pairs(&self) -> HeadPairs {
        let (pairs, num_series) = self.pair_ids();
        let (chunks, bounds) = self.chunks_and_bounds();
        let sy = self.symbols.read();
        HeadPairs {
            num_series,
            chunk_count: chunks as u64,
            bounds,
            pairs: pairs
                .iter()
                .map(|(&(n, v), &c)| (sy.resolve(n).to_string(), sy.resolve(v).to_string(), c))
                .collect(),
        }
    }

    /// Calls `f(labels, newest)` for each series in `ids` with a sample in
    /// `[mint, maxt]`, grouped by metric name in ascending name order, ids
    /// ascending within a name. Series without a metric name are skipped.
    /// Nothing is sorted or collected per series: only bitmaps are held,
    /// and no lock is held while `f` runs. Returns false if `f` stopped it.
    pub(crate) fn for_each_newest(
        &self,
        ids: &RoaringBitmap,
        mint: i64,
        maxt: i64,
        f: &mut OnNewest<'_>,
    ) -> Result<bool> {
        let names = index::label_values(&*self.postings.read(), METRIC_NAME, Some(ids), None)?;
        let mut samples = Vec::new();
        let mut hists = Vec::new();
        let mut strs: Vec<(Arc<str>, Arc<str>)> = Vec::new();
        for name in names {
            let m = Matcher::new(MatchOp::Equal, METRIC_NAME, &name)?;
            let mut of_name = index::select(&*self.postings.read(), &[m])?;
            of_name &= ids;
            for id in of_name.iter() {
                let Some(h) = self.series(id) else { continue };
                samples.clear();
                hists.clear();
                {
                    let data = h.data.lock();
                    data.samples_in(mint, maxt, &mut samples)?;
                    data.histograms_in(mint, maxt, &mut hists)?;
                }
                let Some(newest) = Newest::of(&samples, &mut hists) else {
                    continue;
                };
                strs.clear();
                {
                    let sy = self.symbols.read();
                    strs.extend(
                        h.labels
                            .iter()
                            .map(|&(n, v)| (sy.shared(n).clone(), sy.shared(v).clone())),
                    );
                }
                let refs: Vec<(&str, &str)> = strs.iter().map(|(n, v)| (&**n, &**v)).collect();
                if !f(&refs, newest) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

impl Storage {
    /// Calls `f(labels, newest)` once for each of the tenant's series that
    /// matches any of `selectors` (each a conjunction of matchers) and has a
    /// sample in `[mint, maxt]`, with its newest such float or histogram
    /// (stale markers included: the caller decides). Series come grouped by metric name,
    /// names ascending; series without a metric name are skipped. `f`
    /// returns false to stop.
    ///
    /// When no block meets the range (the usual case for a short lookback)
    /// this walks the head's matching ids one at a time and holds only id
    /// bitmaps. Otherwise it selects one metric name at a time through the
    /// querier, which merges blocks and head for that name.
    pub(crate) fn for_each_newest(
        &self,
        tenant: &TenantId,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
        f: &mut OnNewest<'_>,
    ) -> Result<()> {
        let Some(p) = self.partition(tenant) else {
            return Ok(());
        };
        if p.blocks().iter().any(|b| b.overlaps(mint, maxt)) {
            return self.newest_through_querier(tenant, selectors, mint, maxt, f);
        }
        let mut ids = RoaringBitmap::new();
        for sel in selectors {
            ids |= p.head.select_ids(sel)?;
        }
        p.head.for_each_newest(&ids, mint, maxt, f)?;
        Ok(())
    }

    /// The block-merging path of [`Storage::for_each_newest`]: per metric
    /// name, per selector, skipping series an earlier selector already
    /// matched, so the union has no duplicates without a set of seen series.
    fn newest_through_querier(
        &self,
        tenant: &TenantId,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
        f: &mut OnNewest<'_>,
    ) -> Result<()> {
        let q = self.querier(tenant, mint, maxt);
        let mut names = Vec::new();
        for sel in selectors {
            names.extend(q.label_values(METRIC_NAME, sel, None)?);
        }
        names.sort_unstable();
        names.dedup();
        let mut go_on = true;
        for name in names {
            for (i, sel) in selectors.iter().enumerate() {
                let mut matchers = sel.clone();
                matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME, &name)?);
                q.select_each_values(&matchers, false, |labels, mut v| {
                    if selectors[..i].iter().any(|s| matches_all(s, &labels)) {
                        return true;
                    }
                    let Some(newest) = Newest::of(&v.samples, &mut v.histograms) else {
                        return true;
                    };
                    let refs: Vec<(&str, &str)> = labels
                        .iter()
                        .map(|l| (l.name.as_str(), l.value.as_str()))
                        .collect();
                    go_on = f(&refs, newest);
                    go_on
                })?;
                if !go_on {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Whether a series' labels satisfy every matcher (an absent label is "").
fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(name: &str, value: u64) -> CardinalityStat {
        CardinalityStat {
            name: name.into(),
            value,
        }
    }

    #[test]
    fn top_n_keeps_the_largest_with_ties_by_name() {
        // (limit, offers, expected)
        type Case<'a> = (usize, &'a [(&'a str, u64)], &'a [(&'a str, u64)]);
        let cases: &[Case] = &[
            (3, &[], &[]),
            (0, &[("a", 5)], &[]),
            (1, &[("a", 5)], &[("a", 5)]),
            (2, &[("a", 1), ("b", 3), ("c", 2)], &[("b", 3), ("c", 2)]),
            (2, &[("c", 2), ("b", 2), ("a", 2)], &[("a", 2), ("b", 2)]),
            (5, &[("x", 0), ("y", 9)], &[("y", 9), ("x", 0)]),
        ];
        for (limit, offers, want) in cases {
            let mut t = TopN::new(*limit);
            for (n, v) in *offers {
                t.offer(*v, || n.to_string());
            }
            let want: Vec<_> = want.iter().map(|(n, v)| stat(n, *v)).collect();
            assert_eq!(t.into_sorted(), want, "limit {limit}, {offers:?}");
        }
    }

    #[test]
    fn pair_size_counts_length_prefixes() {
        let long = "v".repeat(255);
        let cases: &[(&str, &str, u64)] =
            &[("", "", 2), ("job", "api", 8), ("a", &long, 2 + 255 + 4)];
        for (n, v, want) in cases {
            assert_eq!(label_pair_size(n, v), *want, "{n}={v}");
        }
    }

    /// Series over two heads, merged, rank as one head holding them all;
    /// a limit cuts the lists after the merge, not before.
    #[test]
    fn merged_heads_rank_as_one_head() {
        let series: Vec<Vec<(&[u8], &[u8])>> = (0..9u8)
            .map(|i| {
                let metric: &[u8] = if i % 3 == 0 { b"a" } else { b"b" };
                let job: &[u8] = if i < 5 { b"x" } else { b"yy" };
                let inst: &[u8] =
                    [b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8"][i as usize];
                vec![(&b"__name__"[..], metric), (b"job", job), (b"i", inst)]
            })
            .collect();
        let (all, left, right) = (Head::new(1), Head::new(1), Head::new(1));
        for (i, s) in series.iter().enumerate() {
            all.get_or_create(s).unwrap();
            let half = if i % 2 == 0 { &left } else { &right };
            half.get_or_create(s).unwrap();
        }
        for limit in [1, 2, 10] {
            let one = all.cardinality(limit);
            let merged = TsdbStatus::merge(&[left.head_pairs(), right.head_pairs()], limit);
            assert_eq!(merged, one, "limit {limit}");
        }
        let s = TsdbStatus::merge(&[left.head_pairs(), right.head_pairs()], 10);
        assert_eq!(s.num_series, 9);
        assert_eq!(
            s.series_count_by_metric_name,
            vec![stat("b", 6), stat("a", 3)]
        );
        assert_eq!(s.num_label_pairs, 2 + 2 + 9);
        assert_eq!(TsdbStatus::merge(&[], 10), status_of(None, 10));
    }

    #[test]
    fn newest_is_the_later_of_floats_and_histograms() {
        let h = |t| HistogramSample {
            t,
            h: crate::model::Histogram::empty_int(0),
        };
        let f = |t| Sample::new(t, 1.0);
        // (floats, histograms, expected timestamp and kind)
        type Case = (Vec<Sample>, Vec<HistogramSample>, Option<(i64, bool)>);
        let cases: Vec<Case> = vec![
            (vec![], vec![], None),
            (vec![f(1), f(5)], vec![], Some((5, false))),
            (vec![], vec![h(2), h(3)], Some((3, true))),
            (vec![f(1), f(9)], vec![h(4)], Some((9, false))),
            (vec![f(1)], vec![h(2), h(4)], Some((4, true))),
        ];
        for (floats, mut hists, want) in cases {
            let got = Newest::of(&floats, &mut hists).map(|n| match n {
                Newest::Float(s) => (s.t, false),
                Newest::Histogram(h) => (h.t, true),
            });
            assert_eq!(got, want, "{floats:?}");
        }
        let stale = Newest::Histogram(HistogramSample {
            t: 1,
            h: crate::model::Histogram::stale_marker(),
        });
        assert!(stale.is_stale());
        assert!(Newest::Float(Sample::new(1, crate::model::stale_nan())).is_stale());
        assert!(!Newest::Float(Sample::new(1, f64::NAN)).is_stale());
    }

    #[test]
    fn empty_head_has_upstream_sentinel_times() {
        let s = status_of(None, 10);
        assert_eq!((s.min_time, s.max_time), (i64::MAX, i64::MIN));
        assert_eq!(s.num_series, 0);
        assert!(s.series_count_by_label_value_pair.is_empty());
    }
}

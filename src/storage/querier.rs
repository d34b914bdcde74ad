//! Read access to one tenant's data over a time range, merging blocks and head.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::{HistogramSample, Labels, Sample};
use crate::storage::block::{Block, FrameCache};
use crate::storage::chunk::StEntry;
use crate::storage::error::Result;
use crate::storage::head::SeriesHandle;
use crate::storage::index::ChunkMeta;
use crate::storage::index::Matcher;
use crate::storage::partition::Partition;
use crate::storage::readers::ReadGuard;

/// Selections of at least this many series decode on two threads.
const PIPELINE_MIN_SERIES: usize = 256;
/// Series per hand-over between a decoding thread and the caller.
const PIPELINE_BATCH: usize = 64;

/// Whether a second core is there to decode on.
fn parallel() -> bool {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
}

/// One series and its samples in the queried range.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels.
    pub labels: Labels,
    /// Float samples in time order, bit-exact.
    pub samples: Vec<Sample>,
    /// Native histogram samples in time order. A series may hold floats
    /// and histograms over time, never both at one timestamp.
    pub histograms: Vec<HistogramSample>,
}

/// One series' values as handed to [`Querier::select_each_values`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesValues {
    /// Float samples in time order, bit-exact.
    pub samples: Vec<Sample>,
    /// Native histogram samples in time order.
    pub histograms: Vec<HistogramSample>,
    /// `(t, st)` of the samples (floats and histograms) that have a start
    /// timestamp, in time order, when asked for.
    pub start_times: Vec<(i64, i64)>,
}

/// A querier bound to one tenant and one time range `[mint, maxt]`
/// (inclusive, ms). It cannot reach any other tenant's data: it holds only
/// that tenant's partition.
pub struct Querier {
    /// Keeps the head from being truncated under this querier's block list.
    _registered: Option<ReadGuard>,
    partition: Option<Arc<Partition>>,
    blocks: Vec<Arc<Block>>,
    mint: i64,
    maxt: i64,
}

impl Querier {
    pub(crate) fn new(partition: Option<Arc<Partition>>, mint: i64, maxt: i64) -> Querier {
        let (registered, blocks) = match &partition {
            Some(p) => {
                let (g, all) = p.readers.register(|| p.blocks());
                let blocks = all.into_iter().filter(|b| b.overlaps(mint, maxt));
                (Some(g), blocks.collect())
            }
            None => (None, Vec::new()),
        };
        Querier {
            _registered: registered,
            partition,
            blocks,
            mint,
            maxt,
        }
    }

    /// The queried range.
    pub fn range(&self) -> (i64, i64) {
        (self.mint, self.maxt)
    }

    /// Series matching all `matchers` that have samples in range, sorted by labels.
    pub fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series>> {
        let Some(p) = &self.partition else {
            check_not_empty(matchers)?;
            return Ok(Vec::new());
        };
        type Parts = (Vec<Vec<Sample>>, Vec<Vec<HistogramSample>>);
        let mut merged: BTreeMap<Labels, Parts> = BTreeMap::new();
        for b in &self.blocks {
            for (l, s, h) in b.select(matchers, self.mint, self.maxt)? {
                let e = merged.entry(l).or_default();
                e.0.push(s);
                e.1.push(h);
            }
        }
        for (l, s, h) in p.head.select(matchers, self.mint, self.maxt)? {
            let e = merged.entry(l).or_default();
            e.0.push(s);
            e.1.push(h);
        }
        let out: Vec<Series> = merged
            .into_iter()
            .map(|(labels, (s, h))| Series {
                labels,
                samples: merge_parts(s),
                histograms: merge_histogram_parts(h),
            })
            .collect();
        let n: usize = out.iter().map(|s| s.samples.len()).sum();
        p.samples_read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(out)
    }

    /// Calls `f` with each matching series that has float samples in
    /// range, in label order, decoding one series' samples at a time so a
    /// caller that streams never holds more than one series. `f` returns
    /// `false` to stop. Histograms are not handed on: callers that can meet
    /// them use [`Querier::select_each_values`].
    pub fn select_each(
        &self,
        matchers: &[Matcher],
        mut f: impl FnMut(Labels, Vec<Sample>) -> bool,
    ) -> Result<()> {
        self.select_each_inner(matchers, false, &mut |l, v| {
            v.samples.is_empty() || f(l, v.samples)
        })
    }

    /// Calls `f` with each matching series that has floats or histograms in
    /// range, in label order, one series at a time; with `with_st`, the
    /// start timestamps of its floats and histograms too. `f` returns
    /// `false` to stop.
    pub fn select_each_values(
        &self,
        matchers: &[Matcher],
        with_st: bool,
        mut f: impl FnMut(Labels, SeriesValues) -> bool,
    ) -> Result<()> {
        self.select_each_inner(matchers, with_st, &mut f)
    }

    /// [`Querier::select_each`] that also hands `f` the start (created)
    /// timestamps of the series' samples that have one, as `(t, st)` pairs
    /// in time order (samples not listed have none). Only callers that use
    /// them (the engine's counter functions) pay for reading them.
    pub fn select_each_with_start_times(
        &self,
        matchers: &[Matcher],
        mut f: impl FnMut(Labels, Vec<Sample>, Vec<(i64, i64)>) -> bool,
    ) -> Result<()> {
        self.select_each_inner(matchers, true, &mut |l, v| {
            v.samples.is_empty() || f(l, v.samples, v.start_times)
        })
    }

    fn select_each_inner(
        &self,
        matchers: &[Matcher],
        with_st: bool,
        f: &mut dyn FnMut(Labels, SeriesValues) -> bool,
    ) -> Result<()> {
        self.select_mapped(matchers, with_st, &|_, v| v, f)
    }

    /// Calls `f` with `map` of each matching series' values, in label
    /// order. With enough series and a second core, `map` runs on the
    /// decoding threads, right after each series is decoded.
    pub(crate) fn select_mapped<T: Send>(
        &self,
        matchers: &[Matcher],
        with_st: bool,
        map: &(dyn Fn(&Labels, SeriesValues) -> T + Sync),
        f: &mut dyn FnMut(Labels, T) -> bool,
    ) -> Result<()> {
        let Some(p) = &self.partition else {
            check_not_empty(matchers)?;
            return Ok(());
        };
        let mut refs: Vec<(Labels, Source)> = Vec::new();
        for (bi, b) in self.blocks.iter().enumerate() {
            for (l, metas) in b.select_metas(matchers, self.mint, self.maxt)? {
                refs.push((l, Source::Block(bi, metas)));
            }
        }
        let from_blocks = refs.len();
        for (l, h) in p.head.select_handles(matchers, self.mint, self.maxt)? {
            refs.push((l, Source::Head(h)));
        }
        if self.blocks.len() > 1 || (from_blocks > 0 && refs.len() > from_blocks) {
            refs.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut groups: Vec<(Labels, Vec<Source>)> = Vec::new();
        for (labels, src) in refs {
            match groups.last_mut() {
                Some((l, srcs)) if *l == labels => srcs.push(src),
                _ => groups.push((labels, vec![src])),
            }
        }
        if groups.len() < PIPELINE_MIN_SERIES || !parallel() {
            let mut cache = FrameCache::default();
            for (labels, srcs) in groups {
                if let Some(v) = self.read_group(p, &srcs, &mut cache, with_st)? {
                    let m = map(&labels, v);
                    if !f(labels, m) {
                        break;
                    }
                }
            }
            return Ok(());
        }
        // Decoding (and mapping) on two threads while the caller computes
        // on what was decoded before: batch k is decoded by thread k % 2
        // and taken in order, so the caller sees the series as one thread
        // would give them. At most six batches per thread wait decoded (so
        // a busy caller does not leave the decoders idle).
        let batches: Vec<Vec<(Labels, Vec<Source>)>> = {
            let mut out = Vec::with_capacity(groups.len() / PIPELINE_BATCH + 1);
            let mut it = groups.into_iter().peekable();
            while it.peek().is_some() {
                out.push(it.by_ref().take(PIPELINE_BATCH).collect());
            }
            out
        };
        let total = batches.len();
        let mut halves: [Vec<Vec<(Labels, Vec<Source>)>>; 2] = [Vec::new(), Vec::new()];
        for (k, b) in batches.into_iter().enumerate() {
            halves[k % 2].push(b);
        }
        crate::threads::scope(|scope| {
            let mut rxs = Vec::with_capacity(2);
            for half in halves {
                let (tx, rx) = crossbeam::channel::bounded::<Result<Vec<(Labels, T)>>>(6);
                rxs.push(rx);
                scope.spawn(move || self.decode_batches(p, half, with_st, map, &tx));
            }
            for k in 0..total {
                // A closed channel before its last batch means its thread
                // sent an error (taken here) or stopped; either way the
                // error comes first.
                let Ok(msg) = rxs[k % 2].recv() else {
                    return Ok(());
                };
                for (labels, v) in msg? {
                    if !f(labels, v) {
                        // Dropping the receivers stops the decoders.
                        return Ok(());
                    }
                }
            }
            Ok(())
        })
    }

    /// One decoding thread of [`Querier::select_mapped`]: each batch's
    /// series read, mapped and sent in order; stops at the first error
    /// (sent) or when the caller has gone.
    fn decode_batches<T: Send>(
        &self,
        p: &Partition,
        batches: Vec<Vec<(Labels, Vec<Source>)>>,
        with_st: bool,
        map: &(dyn Fn(&Labels, SeriesValues) -> T + Sync),
        tx: &crossbeam::channel::Sender<Result<Vec<(Labels, T)>>>,
    ) {
        let mut cache = FrameCache::default();
        for groups in batches {
            let mut batch = Vec::with_capacity(groups.len());
            for (labels, srcs) in groups {
                match self.read_group(p, &srcs, &mut cache, with_st) {
                    Ok(Some(v)) => {
                        let m = map(&labels, v);
                        batch.push((labels, m));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
            if tx.send(Ok(batch)).is_err() {
                // The caller stopped early.
                return;
            }
        }
    }

    /// Reads one series from all its sources and merges them; `None` when
    /// nothing of it is in range.
    fn read_group(
        &self,
        p: &Partition,
        srcs: &[Source],
        cache: &mut FrameCache,
        with_st: bool,
    ) -> Result<Option<SeriesValues>> {
        let mut sts = Vec::new();
        let (mut parts, mut hparts) = (Vec::with_capacity(srcs.len()), Vec::new());
        for src in srcs {
            let st = with_st.then_some(&mut sts);
            let (s, h) = self.read_source(p, src, cache, st)?;
            parts.push(s);
            hparts.push(h);
        }
        let n = parts.len();
        let samples = merge_parts(parts);
        let histograms = merge_histogram_parts(hparts);
        if n > 1 {
            sts.sort_by_key(|e| e.0);
            sts.dedup_by_key(|e| e.0);
        }
        p.samples_read.fetch_add(
            (samples.len() + histograms.len()) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        if samples.is_empty() && histograms.is_empty() {
            return Ok(None);
        }
        Ok(Some(SeriesValues {
            samples,
            histograms,
            start_times: sts,
        }))
    }

    fn read_source(
        &self,
        p: &Partition,
        src: &Source,
        cache: &mut FrameCache,
        sts: Option<&mut Vec<StEntry>>,
    ) -> Result<(Vec<Sample>, Vec<HistogramSample>)> {
        let (mut out, mut hists) = (Vec::new(), Vec::new());
        let (mint, maxt) = (self.mint, self.maxt);
        match (src, sts) {
            (Source::Head(h), None) => p.head.samples_of(h, mint, maxt, &mut out, &mut hists)?,
            (Source::Head(h), Some(sts)) => p
                .head
                .samples_and_start_times_of(h, mint, maxt, &mut out, &mut hists, sts)?,
            (Source::Block(bi, metas), sts) => {
                if let Some(b) = self.blocks.get(*bi) {
                    b.samples_of(metas, mint, maxt, cache, &mut out, &mut hists, sts)?;
                }
            }
        }
        Ok((out, hists))
    }

    /// Number of distinct matching series with samples in range, without
    /// building their label sets (for limits and cardinality checks).
    pub fn series_count(&self, matchers: &[Matcher]) -> Result<usize> {
        let Some(p) = &self.partition else {
            check_not_empty(matchers)?;
            return Ok(0);
        };
        if self.blocks.is_empty() {
            return p.head.count_in(matchers, self.mint, self.maxt);
        }
        Ok(self.select_labels(matchers)?.len())
    }

    /// Label sets of matching series with samples in range, sorted.
    pub fn select_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>> {
        let Some(p) = &self.partition else {
            check_not_empty(matchers)?;
            return Ok(Vec::new());
        };
        let mut all = p.head.select_labels(matchers, self.mint, self.maxt)?;
        for b in &self.blocks {
            all.extend(b.select_labels(matchers, self.mint, self.maxt)?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Label names in range; with matchers, only of matching series. At most `limit`.
    pub fn label_names(&self, matchers: &[Matcher], limit: Option<usize>) -> Result<Vec<String>> {
        let Some(p) = &self.partition else {
            return Ok(Vec::new());
        };
        let mut all = p.head.label_names(matchers, self.mint, self.maxt)?;
        for b in &self.blocks {
            all.extend(b.label_names(matchers, self.mint, self.maxt)?);
        }
        Ok(sorted_limited(all, limit))
    }

    /// Values of label `name` in range; with matchers, only of matching series.
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        limit: Option<usize>,
    ) -> Result<Vec<String>> {
        let Some(p) = &self.partition else {
            return Ok(Vec::new());
        };
        let mut all = p.head.label_values(name, matchers, self.mint, self.maxt)?;
        for b in &self.blocks {
            all.extend(b.label_values(name, matchers, self.mint, self.maxt)?);
        }
        Ok(sorted_limited(all, limit))
    }
}

fn check_not_empty(matchers: &[Matcher]) -> Result<()> {
    if matchers.iter().all(|m| m.matches_empty()) {
        return Err(crate::storage::StorageError::EmptyMatchers);
    }
    Ok(())
}

fn sorted_limited(mut v: Vec<String>, limit: Option<usize>) -> Vec<String> {
    v.sort();
    v.dedup();
    if let Some(n) = limit {
        v.truncate(n);
    }
    v
}

/// Where one series' samples live.
enum Source {
    Head(SeriesHandle),
    Block(usize, Vec<ChunkMeta>),
}

/// [`merge_parts`] for histograms.
fn merge_histogram_parts(mut parts: Vec<Vec<HistogramSample>>) -> Vec<HistogramSample> {
    parts.retain(|p| !p.is_empty());
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut all: Vec<HistogramSample> = parts.into_iter().flatten().collect();
    all.sort_by_key(|s| s.t);
    all.dedup_by_key(|s| s.t);
    all
}

/// Merges per-source sample runs into one time-ordered run. A timestamp
/// present in several sources is kept once (they hold the same sample:
/// sources only overlap while a flush is being published).
fn merge_parts(mut parts: Vec<Vec<Sample>>) -> Vec<Sample> {
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut all: Vec<Sample> = parts.into_iter().flatten().collect();
    all.sort_by_key(|s| s.t);
    all.dedup_by_key(|s| s.t);
    all
}

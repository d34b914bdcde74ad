//! Compaction: merging blocks that fall inside one aligned window of the
//! next level into a single bigger block.
//!
//! Levels are the block range times 1, 3, 9 and 27 (2h, 6h, 18h, 54h by
//! default), as Prometheus' exponential ranges. A window is compacted once
//! it holds at least two blocks and lies wholly before the flush boundary,
//! so the head can add nothing more to it.

use std::sync::Arc;

use crate::model::Labels;
use crate::storage::block::store::BlockStore;
use crate::storage::block::{self, writer::BlockWriter, Block, BlockMeta, SeriesData};
use crate::storage::error::Result;
use crate::storage::fault;
use crate::storage::partition::Partition;

/// Multipliers of the block range giving each compaction level's window.
pub(crate) const LEVEL_FACTORS: [i64; 4] = [1, 3, 9, 27];

/// Anything that has a block meta: an open block, a bucket index entry.
pub(crate) trait HasMeta: Clone {
    /// The block's meta.
    fn meta(&self) -> &BlockMeta;
}

impl HasMeta for Arc<Block> {
    fn meta(&self) -> &BlockMeta {
        Block::meta(self)
    }
}

/// Picks the next group of blocks to merge, if any. `blocks` are sorted
/// by time; the plan is the same for local blocks and the bucket's.
pub(crate) fn plan<B: HasMeta>(
    blocks: &[B],
    block_range: i64,
    flushed_until: i64,
) -> Option<Vec<B>> {
    // Overlapping blocks should never exist; if they do, merge them first.
    for w in blocks.windows(2) {
        if w[1].meta().min_time < w[0].meta().max_time {
            return Some(vec![w[0].clone(), w[1].clone()]);
        }
    }
    for factor in &LEVEL_FACTORS[1..] {
        let window = block_range.saturating_mul(*factor);
        let mut i = 0;
        while i < blocks.len() {
            let k = blocks[i].meta().min_time.div_euclid(window);
            let group: Vec<B> = blocks[i..]
                .iter()
                .take_while(|b| b.meta().min_time.div_euclid(window) == k)
                .cloned()
                .collect();
            i += group.len();
            let contained: Vec<B> = group
                .into_iter()
                .filter(|b| (b.meta().max_time - 1).div_euclid(window) == k)
                .collect();
            let window_end = k.saturating_add(1).saturating_mul(window);
            if contained.len() >= 2 && window_end <= flushed_until {
                return Some(contained);
            }
        }
    }
    None
}

/// Merges `sources` into one block, publishes it, swaps it into the
/// partition and deletes the sources.
pub(crate) fn compact_group(p: &Partition, sources: &[Arc<Block>]) -> Result<Option<BlockMeta>> {
    let mut w = BlockWriter::new(p.local.staging_dir())?;
    merge_into(&mut w, sources)?;
    let ids = sources.iter().map(|b| b.meta().ulid.clone()).collect();
    fault::compaction_step("written");
    let extra = block::meta::inherited_extra(sources.iter().map(|b| b.meta()));
    let Some(staged) = w.finish(next_level(sources), ids, extra)? else {
        return Ok(None);
    };
    let new_block = p.local.publish(staged.dir(), &staged.meta)?;
    let meta = staged.meta.clone();
    {
        let mut blocks = p.blocks.write();
        blocks.retain(|b| !sources.iter().any(|s| Arc::ptr_eq(s, b)));
        blocks.push(new_block);
        blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
    }
    fault::compaction_step("published");
    for (i, s) in sources.iter().enumerate() {
        p.local.delete(&s.meta().ulid)?;
        if i == 0 {
            fault::compaction_step("deleting");
        }
    }
    Ok(Some(meta))
}

/// The compaction level of a block merged from `sources`.
pub(crate) fn next_level(sources: &[Arc<Block>]) -> u32 {
    sources
        .iter()
        .map(|b| b.meta().compaction.level)
        .max()
        .unwrap_or(1)
        + 1
}

/// Writes the series of `sources` into `w`, merged: a series present in
/// several sources gets their samples in time order, each timestamp once.
pub(crate) fn merge_into(w: &mut BlockWriter, sources: &[Arc<Block>]) -> Result<()> {
    let mut iters: Vec<SeriesCursor> = sources
        .iter()
        .map(|b| SeriesCursor::new(b.clone()))
        .collect::<Result<_>>()?;
    while let Some(min) = iters
        .iter()
        .filter_map(|c| c.current.as_ref().map(|x| &x.0))
        .min()
        .cloned()
    {
        let mut merged = SeriesData::default();
        let mut parts = 0;
        for c in iters.iter_mut() {
            if c.current.as_ref().is_some_and(|x| x.0 == min) {
                if let Some((_, d)) = c.current.take() {
                    merged.samples.extend(d.samples);
                    merged.sts.extend(d.sts);
                    merged.histograms.extend(d.histograms);
                    parts += 1;
                }
                c.advance()?;
            }
        }
        if parts > 1 {
            // Stable sorts: a timestamp held twice keeps its first copy, and
            // its start timestamp the first one recorded for it.
            merged.samples.sort_by_key(|s| s.t);
            merged.samples.dedup_by_key(|s| s.t);
            merged.sts.sort_by_key(|e| e.0);
            merged.sts.dedup_by_key(|e| e.0);
            merged.histograms.sort_by_key(|h| h.t);
            merged.histograms.dedup_by_key(|h| h.t);
        }
        w.add_series(&min, &merged.samples, &merged.sts, &merged.histograms)?;
    }
    Ok(())
}

/// Walks a block's series in label order.
struct SeriesCursor {
    block: Arc<Block>,
    next: u32,
    cache: block::FrameCache,
    current: Option<(Labels, SeriesData)>,
}

impl SeriesCursor {
    fn new(block: Arc<Block>) -> Result<SeriesCursor> {
        let mut c = SeriesCursor {
            block,
            next: 0,
            cache: block::FrameCache::default(),
            current: None,
        };
        c.advance()?;
        Ok(c)
    }

    fn advance(&mut self) -> Result<()> {
        self.current = if self.next < self.block.num_series()? {
            let mut d = self.block.series_samples(self.next, &mut self.cache)?;
            self.next += 1;
            Some((std::mem::take(&mut d.labels), d))
        } else {
            None
        };
        Ok(())
    }
}

/// Runs compaction on `p` until nothing is left to merge. Returns the new blocks.
pub(crate) fn compact(p: &Partition) -> Result<Vec<BlockMeta>> {
    let _m = p.maintenance.lock();
    let mut done = Vec::new();
    while let Some(group) = plan(&p.blocks(), p.head.block_range, p.flushed_until()) {
        match compact_group(p, &group)? {
            Some(meta) => done.push(meta),
            None => break,
        }
    }
    Ok(done)
}

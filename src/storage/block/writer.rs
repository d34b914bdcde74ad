//! Writing a block: chunks, index and meta into a staging directory
//! `<ulid>.tmp/`, every file fsynced. Publishing it is the job of a
//! [`BlockStore`](super::store::BlockStore).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::chunks::{ChunkFileWriter, CHUNKS_FILE};
use super::meta::{BlockMeta, BlockStats, Compaction, BLOCK_VERSION};
use super::{fsync_dir, INDEX_FILE, TMP_SUFFIX};
use crate::model::{HistogramSample, Labels, Sample};
use crate::storage::chunk::StEntry;
use crate::storage::error::{Result, StorageError};
use crate::storage::index::{ChunkMeta, IndexWriter};

/// Samples per chunk inside a block.
pub(crate) const MAX_BLOCK_CHUNK_SAMPLES: usize = 1024;
/// Histograms per histogram chunk inside a block (they are larger).
pub(crate) const MAX_BLOCK_HISTOGRAM_CHUNK_SAMPLES: usize = 120;

/// Spans, buckets and bounds after which a histogram chunk is cut even
/// below [`MAX_BLOCK_HISTOGRAM_CHUNK_SAMPLES`], so a chunk of large
/// histograms stays far inside a frame (one histogram holds at most 2^20).
const HISTOGRAM_CHUNK_VALUES: usize = 1 << 17;

/// Splits a series' histograms into chunks: at most
/// [`MAX_BLOCK_HISTOGRAM_CHUNK_SAMPLES`] each, and cut once they hold
/// [`HISTOGRAM_CHUNK_VALUES`] values (never empty).
fn histogram_chunks(hists: &[HistogramSample]) -> Vec<&[HistogramSample]> {
    let mut out = Vec::new();
    let (mut start, mut values) = (0, 0usize);
    for (i, h) in hists.iter().enumerate() {
        let n = h.h.num_values();
        if i > start
            && (i - start >= MAX_BLOCK_HISTOGRAM_CHUNK_SAMPLES
                || values.saturating_add(n) > HISTOGRAM_CHUNK_VALUES)
        {
            out.push(&hists[start..i]);
            (start, values) = (i, 0);
        }
        values = values.saturating_add(n);
    }
    if start < hists.len() {
        out.push(&hists[start..]);
    }
    out
}

/// An unpublished block directory, removed when the write fails part-way
/// (a full disk, say) instead of holding space until the next start. After
/// the publishing rename it no longer exists and removing it is a no-op.
struct TmpDir(PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A finished block in its staging directory, every file and the
/// directory fsynced, not yet published. Dropping it removes the
/// directory if it is still there (a local publish renamed it away).
pub(crate) struct StagedBlock {
    tmp: TmpDir,
    /// The block's meta, as written into its `meta.json`.
    pub meta: BlockMeta,
}

impl StagedBlock {
    /// The staging directory.
    pub fn dir(&self) -> &Path {
        &self.tmp.0
    }
}

/// Builds one block. Series must be added in label order.
pub(crate) struct BlockWriter {
    ulid: String,
    tmp: TmpDir,
    chunks: ChunkFileWriter,
    index: IndexWriter,
    stats: BlockStats,
    mint: i64,
    maxt: i64,
    metas: Vec<ChunkMeta>,
}

impl BlockWriter {
    /// Starts a block under `staging` in `<ulid>.tmp`.
    pub fn new(staging: &Path) -> Result<BlockWriter> {
        let ulid = ulid::Ulid::new().to_string();
        let tmp = staging.join(format!("{ulid}{TMP_SUFFIX}"));
        std::fs::create_dir_all(&tmp).map_err(|e| StorageError::io(&tmp, e))?;
        let tmp = TmpDir(tmp);
        Ok(BlockWriter {
            chunks: ChunkFileWriter::create(&tmp.0.join(CHUNKS_FILE))?,
            index: IndexWriter::create(&tmp.0.join(INDEX_FILE))?,
            ulid,
            tmp,
            stats: BlockStats::default(),
            mint: i64::MAX,
            maxt: i64::MIN,
            metas: Vec::new(),
        })
    }

    /// Adds a series, its float samples and histograms (each time-ordered)
    /// with the start timestamps of those that have one (`(t, st)`,
    /// time-ordered, both kinds in one list). A series with neither is
    /// skipped.
    pub fn add_series(
        &mut self,
        labels: &Labels,
        samples: &[Sample],
        sts: &[StEntry],
        hists: &[HistogramSample],
    ) -> Result<()> {
        if samples.is_empty() && hists.is_empty() {
            return Ok(());
        }
        self.metas.clear();
        let mut rest = sts;
        for part in samples.chunks(MAX_BLOCK_CHUNK_SAMPLES) {
            let last_t = part[part.len() - 1].t;
            let n = rest.partition_point(|e| e.0 <= last_t);
            let (mine, later) = rest.split_at(n);
            rest = later;
            // Only STs of samples in this chunk (the head never holds others).
            let first_t = part[0].t;
            let mine: Vec<StEntry> = mine
                .iter()
                .copied()
                .filter(|e| e.0 >= first_t && part.binary_search_by_key(&e.0, |s| s.t).is_ok())
                .collect();
            let chunk_ref = self.chunks.add_chunk(part, &mine)?;
            self.metas.push(ChunkMeta {
                mint: part[0].t,
                maxt: part[part.len() - 1].t,
                chunk_ref,
            });
        }
        for part in histogram_chunks(hists) {
            let (first_t, last_t) = (part[0].t, part[part.len() - 1].t);
            let mine: Vec<StEntry> = sts
                .iter()
                .copied()
                .filter(|e| (first_t..=last_t).contains(&e.0))
                .filter(|e| part.binary_search_by_key(&e.0, |h| h.t).is_ok())
                .collect();
            let chunk_ref = self.chunks.add_histogram_chunk(part, &mine)?;
            self.metas.push(ChunkMeta {
                mint: part[0].t,
                maxt: part[part.len() - 1].t,
                chunk_ref,
            });
        }
        // Float and histogram chunks interleave in time order; each kind
        // stays in time order among itself.
        self.metas.sort_by_key(|m| m.mint);
        self.index.add_series(labels, &self.metas)?;
        self.stats.num_series += 1;
        self.stats.num_chunks += self.metas.len() as u64;
        self.stats.num_samples += (samples.len() + hists.len()) as u64;
        let firsts = [samples.first().map(|s| s.t), hists.first().map(|h| h.t)];
        let lasts = [samples.last().map(|s| s.t), hists.last().map(|h| h.t)];
        self.mint = firsts.into_iter().flatten().fold(self.mint, i64::min);
        self.maxt = lasts.into_iter().flatten().fold(self.maxt, i64::max);
        Ok(())
    }

    /// Finishes the files and fsyncs them and the staging directory;
    /// `extra` goes into the meta as it is (see [`BlockMeta::extra`]).
    /// Returns `None` (and removes the directory) if no series was added.
    pub fn finish(
        self,
        level: u32,
        sources: Vec<String>,
        extra: BTreeMap<String, String>,
    ) -> Result<Option<StagedBlock>> {
        self.chunks.finish()?;
        if self.stats.num_series == 0 {
            drop(self.index);
            let _ = std::fs::remove_dir_all(&self.tmp.0);
            return Ok(None);
        }
        self.index.finish()?;
        let meta = BlockMeta {
            ulid: self.ulid.clone(),
            min_time: self.mint,
            max_time: self.maxt.saturating_add(1),
            stats: self.stats,
            compaction: Compaction { level, sources },
            version: BLOCK_VERSION,
            extra,
        };
        meta.write(&self.tmp.0)?;
        fsync_dir(&self.tmp.0)?;
        Ok(Some(StagedBlock {
            tmp: self.tmp,
            meta,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_chunks_cut_by_count_and_size() {
        use crate::model::{Histogram, HistogramCounts, Span};
        let small = |t| HistogramSample {
            t,
            h: Histogram::empty_int(0),
        };
        let big = |t| HistogramSample {
            t,
            h: Histogram {
                counts: HistogramCounts::Int {
                    count: 0,
                    zero_count: 0,
                    positive_deltas: vec![0; 100_000],
                    negative_deltas: vec![],
                },
                positive_spans: vec![Span {
                    offset: 0,
                    length: 100_000,
                }],
                ..Histogram::empty_int(0)
            },
        };
        let lens = |v: &[HistogramSample]| -> Vec<usize> {
            histogram_chunks(v).iter().map(|c| c.len()).collect()
        };
        assert!(lens(&[]).is_empty());
        let many: Vec<_> = (0..250).map(small).collect();
        assert_eq!(lens(&many), [120, 120, 10]);
        let bigs: Vec<_> = (0..3).map(big).chain((3..5).map(small)).collect();
        assert_eq!(lens(&bigs), [1, 1, 3]);
    }

    #[test]
    fn an_abandoned_block_write_leaves_no_tmp_dir() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = BlockWriter::new(dir.path()).unwrap();
        let l = Labels::from_pairs([("__name__", "m")]);
        w.add_series(&l, &[Sample::new(1, 1.0)], &[], &[]).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_published_block_stays_and_an_unpublished_one_goes() {
        use crate::storage::block::local::LocalBlocks;
        use crate::storage::block::store::BlockStore;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlocks::new(dir.path()).unwrap();
        let l = Labels::from_pairs([("__name__", "m")]);
        let mut w = BlockWriter::new(store.staging_dir()).unwrap();
        w.add_series(&l, &[Sample::new(1, 1.0)], &[], &[]).unwrap();
        let staged = w.finish(1, Vec::new(), BTreeMap::new()).unwrap().unwrap();
        store.publish(staged.dir(), &staged.meta).unwrap();
        let published = store.path_of(&staged.meta.ulid);
        drop(staged);
        assert!(published.join(INDEX_FILE).exists());
        let mut w = BlockWriter::new(store.staging_dir()).unwrap();
        w.add_series(&l, &[Sample::new(2, 1.0)], &[], &[]).unwrap();
        drop(w.finish(1, Vec::new(), BTreeMap::new()).unwrap().unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

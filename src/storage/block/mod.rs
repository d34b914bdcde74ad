//! Persistent, immutable blocks: one directory per block holding
//! `chunks` (zstd frames of block-encoded chunks), `index` (symbols, series,
//! postings) and `meta.json`.
//!
//! A block is written into a staging directory ([`writer`]) and then
//! published through a [`store::BlockStore`]: the local directory
//! ([`local`], files read with `mmap`, published by one rename) or the
//! bucket (`storage/bucket/`, `meta.json` uploaded last, files read by
//! ranges through the on-disk cache). A [`Block`] reads the same way from
//! either; only its [`source::ByteSource`] and index loader differ.

pub(crate) mod chunks;
pub(crate) mod local;
pub(crate) mod meta;
pub(crate) mod source;
pub(crate) mod store;
pub(crate) mod writer;

use std::path::Path;
use std::sync::Arc;

pub(crate) use chunks::FrameCache;
pub(crate) use chunks::{ChunkFileReader, CHUNKS_FILE};
pub use meta::{BlockMeta, BlockStats, Compaction};
use roaring::RoaringBitmap;

use crate::model::{HistogramSample, Labels, Sample};
use crate::storage::chunk::StEntry;

/// A selected series: its labels, float samples and histograms.
pub(crate) type SelectedSeries = (Labels, Vec<Sample>, Vec<HistogramSample>);

/// One series' values as a flush or a compaction moves them: float samples
/// with the start timestamps of those that have one, and histograms.
#[derive(Debug, Default)]
pub(crate) struct SeriesData {
    /// The series.
    pub labels: Labels,
    /// Float samples, time-ordered.
    pub samples: Vec<Sample>,
    /// `(t, st)` of the float samples that have a start timestamp.
    pub sts: Vec<StEntry>,
    /// Histogram samples, time-ordered.
    pub histograms: Vec<HistogramSample>,
}
use crate::storage::error::{Result, StorageError};
use crate::storage::index::{self, ChunkMeta, IndexReader, Matcher};

/// Name of the index file inside a block directory.
pub(crate) const INDEX_FILE: &str = "index";
/// Suffix of a block directory still being written.
pub(crate) const TMP_SUFFIX: &str = ".tmp";
/// Suffix of a block directory being deleted.
pub(crate) const DELETED_SUFFIX: &str = ".deleted";

/// Opens a block's index when it is first needed (and again after the
/// cache evicted it): the bucket's blocks are listed at start but their
/// indexes are fetched only by the queries that reach them.
pub(crate) trait IndexLoader: Send + Sync {
    /// The index, fetched and verified if it is not at hand.
    fn load(&self) -> Result<Arc<IndexReader>>;
}

/// A block's index: open already (a local block) or loaded on demand.
enum IndexSlot {
    Ready(Arc<IndexReader>),
    Lazy(Box<dyn IndexLoader>),
}

/// Where an open block's files are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Home {
    /// The local blocks directory.
    Local,
    /// The bucket, read through the cache.
    Bucket,
}

/// An open block.
pub(crate) struct Block {
    meta: BlockMeta,
    home: Home,
    index: IndexSlot,
    chunks: ChunkFileReader,
}

impl Block {
    /// Opens and verifies the block in the local directory `dir`.
    pub fn open(dir: &Path) -> Result<Block> {
        let meta = BlockMeta::read(dir)?;
        Ok(Block {
            index: IndexSlot::Ready(Arc::new(IndexReader::open(&dir.join(INDEX_FILE))?)),
            chunks: ChunkFileReader::open(&dir.join(CHUNKS_FILE))?,
            home: Home::Local,
            meta,
        })
    }

    /// A block in the bucket: its index is loaded by `index` when first
    /// needed, its chunks read through `chunks`.
    pub fn remote(meta: BlockMeta, index: Box<dyn IndexLoader>, chunks: ChunkFileReader) -> Block {
        Block {
            meta,
            home: Home::Bucket,
            index: IndexSlot::Lazy(index),
            chunks,
        }
    }

    /// The block's meta.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// Where the block's files are.
    pub fn home(&self) -> Home {
        self.home
    }

    fn index(&self) -> Result<Arc<IndexReader>> {
        match &self.index {
            IndexSlot::Ready(i) => Ok(i.clone()),
            IndexSlot::Lazy(l) => l.load(),
        }
    }

    /// Whether the block's range `[min_time, max_time)` meets `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.min_time <= maxt && self.meta.max_time > mint
    }

    /// Ids of the series matching `matchers`, and the index they index.
    fn ids(&self, matchers: &[Matcher]) -> Result<(Arc<IndexReader>, RoaringBitmap)> {
        let ix = self.index()?;
        let ids = index::select(&*ix, matchers)?;
        Ok((ix, ids))
    }

    /// Series `id`'s labels and its chunk metas that meet `[mint, maxt]`.
    fn series_in(
        ix: &IndexReader,
        id: u32,
        mint: i64,
        maxt: i64,
    ) -> Result<(Labels, Vec<ChunkMeta>)> {
        let (labels, mut metas) = ix.series(id)?;
        metas.retain(|m| m.maxt >= mint && m.mint <= maxt);
        Ok((labels, metas))
    }

    /// Appends the float samples in `[mint, maxt]` of the given chunks to
    /// `out` (their start timestamps to `sts` when given) and the
    /// histograms to `hists`.
    #[allow(clippy::too_many_arguments)]
    fn read_chunks(
        &self,
        metas: &[ChunkMeta],
        mint: i64,
        maxt: i64,
        cache: &mut FrameCache,
        out: &mut Vec<Sample>,
        hists: &mut Vec<HistogramSample>,
        mut sts: Option<&mut Vec<StEntry>>,
    ) -> Result<()> {
        let start = out.len();
        let h_start = hists.len();
        let st_start = sts.as_ref().map_or(0, |v| v.len());
        for m in metas {
            self.chunks
                .read(m.chunk_ref, cache, out, sts.as_deref_mut(), hists)?;
        }
        crate::storage::head::series::retain_range(out, start, mint, maxt);
        let mut kept = hists.split_off(h_start);
        kept.retain(|h| (mint..=maxt).contains(&h.t));
        hists.append(&mut kept);
        if let Some(v) = sts {
            let mut kept = v.split_off(st_start);
            kept.retain(|e| (mint..=maxt).contains(&e.0));
            // Float and histogram chunks interleave by `mint`, so their
            // start timestamps come in chunk order, not time order.
            kept.sort_by_key(|e| e.0);
            v.append(&mut kept);
        }
        Ok(())
    }

    /// Series matching `matchers` with their samples in `[mint, maxt]`, in label order.
    pub fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SelectedSeries>> {
        let mut cache = FrameCache::default();
        let mut out = Vec::new();
        let (ix, ids) = self.ids(matchers)?;
        for id in &ids {
            let (labels, metas) = Block::series_in(&ix, id, mint, maxt)?;
            let (mut samples, mut hists) = (Vec::new(), Vec::new());
            self.read_chunks(
                &metas,
                mint,
                maxt,
                &mut cache,
                &mut samples,
                &mut hists,
                None,
            )?;
            if !samples.is_empty() || !hists.is_empty() {
                out.push((labels, samples, hists));
            }
        }
        Ok(out)
    }

    /// Label sets and chunk metas of matching series with a chunk meeting
    /// `[mint, maxt]`, in label order; samples are decoded later, one series
    /// at a time, with [`Block::samples_of`].
    pub(crate) fn select_metas(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<ChunkMeta>)>> {
        let mut out = Vec::new();
        let (ix, ids) = self.ids(matchers)?;
        for id in &ids {
            let (labels, metas) = Block::series_in(&ix, id, mint, maxt)?;
            if !metas.is_empty() {
                out.push((labels, metas));
            }
        }
        Ok(out)
    }

    /// Appends the float samples in `[mint, maxt]` of the given chunks to
    /// `out` (their start timestamps to `sts` when given) and the
    /// histograms to `hists`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn samples_of(
        &self,
        metas: &[ChunkMeta],
        mint: i64,
        maxt: i64,
        cache: &mut FrameCache,
        out: &mut Vec<Sample>,
        hists: &mut Vec<HistogramSample>,
        sts: Option<&mut Vec<StEntry>>,
    ) -> Result<()> {
        self.read_chunks(metas, mint, maxt, cache, out, hists, sts)
    }

    /// Label sets of matching series with a chunk meeting `[mint, maxt]`.
    pub fn select_labels(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Labels>> {
        let mut out = Vec::new();
        let (ix, ids) = self.ids(matchers)?;
        for id in &ids {
            let (labels, metas) = Block::series_in(&ix, id, mint, maxt)?;
            if !metas.is_empty() {
                out.push(labels);
            }
        }
        Ok(out)
    }

    fn candidates(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<(Arc<IndexReader>, Option<RoaringBitmap>)> {
        if matchers.is_empty() {
            return Ok((self.index()?, None));
        }
        let mut c = RoaringBitmap::new();
        let (ix, ids) = self.ids(matchers)?;
        for id in &ids {
            if !Block::series_in(&ix, id, mint, maxt)?.1.is_empty() {
                c.insert(id);
            }
        }
        Ok((ix, Some(c)))
    }

    /// Label names of matching series (all series without matchers).
    pub fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>> {
        let (ix, c) = self.candidates(matchers, mint, maxt)?;
        index::label_names(&*ix, c.as_ref(), None)
    }

    /// Values of `name` on matching series (all series without matchers).
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>> {
        let (ix, c) = self.candidates(matchers, mint, maxt)?;
        index::label_values(&*ix, name, c.as_ref(), None)
    }

    /// Labels and all values of series `id` (ids are in label order).
    pub(crate) fn series_samples(&self, id: u32, cache: &mut FrameCache) -> Result<SeriesData> {
        let (labels, metas) = self.index()?.series(id)?;
        let mut d = SeriesData::default();
        self.read_chunks(
            &metas,
            i64::MIN,
            i64::MAX,
            cache,
            &mut d.samples,
            &mut d.histograms,
            Some(&mut d.sts),
        )?;
        Ok(SeriesData { labels, ..d })
    }

    /// Number of series in the block.
    pub fn num_series(&self) -> Result<u32> {
        Ok(self.index()?.num_series())
    }
}

/// Writes `bytes` to `path` and fsyncs the file.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    if crate::storage::fault::disk_full() {
        return Err(StorageError::io(path, crate::storage::fault::enospc()));
    }
    let mut f = std::fs::File::create(path).map_err(|e| StorageError::io(path, e))?;
    f.write_all(bytes).map_err(|e| StorageError::io(path, e))?;
    f.sync_all().map_err(|e| StorageError::io(path, e))
}

/// fsyncs a directory so renames and creations inside it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

//! A block's on-disk index: symbols, series (labels and chunk metas) and
//! postings as serialized roaring bitmaps, opened with `mmap`.
//!
//! STUB: to be implemented.

use std::path::Path;

use crate::model::Labels;
use crate::storage::error::Result;

/// Where one chunk of a series lives in the block's chunk file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkMeta {
    /// First sample's timestamp.
    pub mint: i64,
    /// Last sample's timestamp.
    pub maxt: i64,
    /// Opaque reference into the chunk file (the block layer defines it).
    pub chunk_ref: u64,
}

/// Writes an index file. Series must be added in ascending label order.
pub(crate) struct IndexWriter {
    _todo: (),
}

impl IndexWriter {
    /// Starts an index at `path` (the file is written by [`IndexWriter::finish`]).
    pub fn create(path: &Path) -> Result<IndexWriter> {
        let _ = path;
        todo!()
    }

    /// Adds the next series. Its labels must sort after the previous
    /// series' labels, otherwise this fails and nothing is written.
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) -> Result<()> {
        let _ = (labels, chunks);
        todo!()
    }

    /// Writes symbols, series, postings and the table of contents, each
    /// section checksummed, then fsyncs the file.
    pub fn finish(self) -> Result<()> {
        todo!()
    }
}

/// A memory-mapped index file. Series ids are `0..num_series()` in label order.
pub(crate) struct IndexReader {
    _todo: (),
}

impl IndexReader {
    /// Maps and validates an index file (magic, version, checksums).
    pub fn open(path: &Path) -> Result<IndexReader> {
        let _ = path;
        todo!()
    }

    /// Number of series.
    pub fn num_series(&self) -> u32 {
        todo!()
    }

    /// Labels and chunk metas of series `id`.
    pub fn series(&self, id: u32) -> Result<(Labels, Vec<ChunkMeta>)> {
        let _ = id;
        todo!()
    }
}

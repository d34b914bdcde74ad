//! Reading a block that lives in the bucket: its chunk file by ranges,
//! page by page through the cache, and its index fetched whole (in
//! ranged parts) into the cache when a query first needs it.
//!
//! Pages are [`PAGE_SIZE`] bytes of the chunk file, aligned; a read
//! fetches the run of missing pages it covers with one range request, so
//! a query reads only the frames of the series it selects and never a
//! whole chunk file it does not need. The index is fetched whole because
//! its checksums cover whole sections (`storage-format.md`); it is
//! usually a small part of a block.

use std::borrow::Cow;
use std::sync::Arc;

use parking_lot::Mutex;

use super::cache::PageCache;
use super::index::IndexedBlock;
use super::layout::{BlockId, TenantBucket};
use crate::storage::block::source::{slice_at, ByteSource};
use crate::storage::block::{Block, ChunkFileReader, IndexLoader, CHUNKS_FILE, INDEX_FILE};
use crate::storage::error::{Result, StorageError};
use crate::storage::index::IndexReader;

/// Bytes per cached page of a chunk file.
pub(crate) const PAGE_SIZE: u64 = 128 << 10;
/// Bytes per range request when fetching an index.
const INDEX_PART: u64 = 8 << 20;

/// The block `entry` of the bucket `tb`, read through `cache`.
pub(crate) fn open_block(
    tb: &Arc<TenantBucket>,
    cache: &Arc<PageCache>,
    entry: &IndexedBlock,
) -> Result<Block> {
    let id = BlockId::checked(&entry.meta.ulid, "bucket index")?;
    let size = |name: &str| entry.files.get(name).copied().unwrap_or(0);
    let prefix = format!("{}/{}", tb.tenant(), id);
    let chunks = RemoteFile {
        tb: tb.clone(),
        cache: cache.clone(),
        key: format!("{prefix}/{CHUNKS_FILE}"),
        name: tb.block_file(&id, CHUNKS_FILE).to_string(),
        path: tb.block_file(&id, CHUNKS_FILE),
        size: size(CHUNKS_FILE),
        last: Mutex::new(None),
    };
    let index = RemoteIndex {
        tb: tb.clone(),
        cache: cache.clone(),
        key: format!("{prefix}/{INDEX_FILE}"),
        path: tb.block_file(&id, INDEX_FILE),
        size: size(INDEX_FILE),
        slot: Mutex::new(None),
    };
    Ok(Block::remote(
        entry.meta.clone(),
        Box::new(index),
        ChunkFileReader::from_source(Box::new(chunks)),
    ))
}

/// A chunk file in the bucket.
struct RemoteFile {
    tb: Arc<TenantBucket>,
    cache: Arc<PageCache>,
    /// Cache key prefix (`<tenant>/<ulid>/chunks`).
    key: String,
    /// The object's key, for errors.
    name: String,
    path: object_store::path::Path,
    size: u64,
    /// The page read last: a frame's header and body are two reads of
    /// (usually) the same page.
    last: Mutex<Option<(u64, Arc<Vec<u8>>)>>,
}

impl RemoteFile {
    fn page_key(&self, page: u64) -> String {
        format!("{}.{page:08}", self.key)
    }

    fn page_range(&self, page: u64) -> std::ops::Range<u64> {
        let start = page * PAGE_SIZE;
        start..(start + PAGE_SIZE).min(self.size)
    }

    /// Page `page`, from the memo, the cache, or the bucket; a miss
    /// fetches it together with the missing pages after it up to `last`.
    fn page(&self, page: u64, last: u64) -> Result<Arc<Vec<u8>>> {
        if let Some((p, b)) = &*self.last.lock() {
            if *p == page {
                return Ok(b.clone());
            }
        }
        if let Some(b) = self.cache.get_page(&self.page_key(page)) {
            return self.remember(page, b);
        }
        let mut end = page;
        while end < last && !self.cache.touch(&self.page_key(end + 1)) {
            end += 1;
        }
        let range = self.page_range(page).start..self.page_range(end).end;
        let bytes = self.tb.bucket.get_range(&self.path, range.clone())?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(StorageError::corruption(
                &self.name,
                range.start,
                format!("range read returned {} bytes", bytes.len()),
            ));
        }
        let mut first = Vec::new();
        for p in page..=end {
            let r = self.page_range(p);
            let at = (r.start - range.start) as usize..(r.end - range.start) as usize;
            let b = &bytes[at];
            self.cache.put_page(&self.page_key(p), b)?;
            if p == page {
                first = b.to_vec();
            }
        }
        self.remember(page, first)
    }

    fn remember(&self, page: u64, b: Vec<u8>) -> Result<Arc<Vec<u8>>> {
        let b = Arc::new(b);
        *self.last.lock() = Some((page, b.clone()));
        Ok(b)
    }
}

impl ByteSource for RemoteFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn len(&self) -> u64 {
        self.size
    }

    fn read(&self, off: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        let end = off.checked_add(len as u64).filter(|e| *e <= self.size);
        let Some(end) = end else {
            return Err(StorageError::corruption(
                &self.name,
                off,
                format!("{len} bytes past the end of the file"),
            ));
        };
        if len == 0 {
            return Ok(Cow::Borrowed(&[]));
        }
        let (first, last) = (off / PAGE_SIZE, (end - 1) / PAGE_SIZE);
        let mut out = Vec::with_capacity(len);
        for p in first..=last {
            let page = self.page(p, last)?;
            let start = p * PAGE_SIZE;
            let from = off.max(start) - start;
            let to = end.min(start + page.len() as u64) - start;
            out.extend_from_slice(slice_at(&page, &self.name, from, (to - from) as usize)?);
        }
        Ok(Cow::Owned(out))
    }
}

/// A block index in the bucket, fetched into the cache when needed.
struct RemoteIndex {
    tb: Arc<TenantBucket>,
    cache: Arc<PageCache>,
    key: String,
    path: object_store::path::Path,
    size: u64,
    slot: Mutex<Option<Arc<IndexReader>>>,
}

impl RemoteIndex {
    fn fetch_into(&self, file: &std::path::Path) -> Result<()> {
        use std::io::Write;
        let mut out = std::fs::File::create(file).map_err(|e| StorageError::io(file, e))?;
        let mut at = 0;
        while at < self.size {
            let end = (at + INDEX_PART).min(self.size);
            let part = self.tb.bucket.get_range(&self.path, at..end)?;
            out.write_all(&part)
                .map_err(|e| StorageError::io(file, e))?;
            at = end;
        }
        Ok(())
    }
}

impl IndexLoader for RemoteIndex {
    fn load(&self) -> Result<Arc<IndexReader>> {
        let mut slot = self.slot.lock();
        if let Some(ix) = &*slot {
            if self.cache.touch(&self.key) {
                return Ok(ix.clone());
            }
        }
        let path = self.cache.file(&self.key, |tmp| self.fetch_into(tmp))?;
        match IndexReader::open(&path) {
            Ok(ix) => {
                let ix = Arc::new(ix);
                *slot = Some(ix.clone());
                Ok(ix)
            }
            Err(e) => {
                self.cache.remove(&self.key);
                *slot = None;
                Err(e)
            }
        }
    }
}

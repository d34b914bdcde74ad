//! One tenant's blocks in the bucket, as a [`BlockStore`].
//!
//! Publishing uploads `chunks` and `index`, then `meta.json` (a block
//! without it is partial and never read), then adds the block to the
//! bucket index. Deleting writes `deletion-mark.json` and marks the block
//! in the index; [`BucketBlocks::purge`] removes its files once the delay
//! is over: `meta.json` first (so a purge cut short leaves a partial, not a
//! broken block), then the rest, the mark last, then the index entry.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use super::cache::PageCache;
use super::index::{self, BucketIndex, IndexedBlock};
use super::layout::{BlockId, TenantBucket, DELETION_MARK};
use super::remote;
use crate::storage::block::meta::META_FILE;
use crate::storage::block::store::BlockStore;
use crate::storage::block::{Block, BlockMeta, CHUNKS_FILE, INDEX_FILE};
use crate::storage::error::{Result, StorageError};

/// The files of a block, in upload order; `meta.json` is last.
pub(crate) const UPLOAD_ORDER: [&str; 3] = [CHUNKS_FILE, INDEX_FILE, META_FILE];

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One tenant's blocks in the bucket.
pub(crate) struct BucketBlocks {
    /// The tenant's part of the bucket.
    pub tb: Arc<TenantBucket>,
    cache: Arc<PageCache>,
    /// Serialises read-modify-write of the index within this process.
    index_lock: Mutex<()>,
    /// Called between upload steps (the test-only fault hooks).
    pub(crate) upload_step: fn(&str),
}

impl BucketBlocks {
    /// The tenant's blocks in `tb`, read through `cache`.
    pub fn new(tb: Arc<TenantBucket>, cache: Arc<PageCache>) -> BucketBlocks {
        BucketBlocks {
            tb,
            cache,
            index_lock: Mutex::new(()),
            upload_step: crate::storage::fault::upload_step,
        }
    }

    /// The tenant's index as it is in the bucket now.
    pub fn read_index(&self) -> Result<BucketIndex> {
        BucketIndex::read(&self.tb)
    }

    /// Reads the index, changes it with `f` and writes it back.
    pub fn update_index(&self, f: impl FnOnce(&mut BucketIndex)) -> Result<BucketIndex> {
        let _g = self.index_lock.lock();
        let mut ix = self.read_index()?;
        f(&mut ix);
        ix.write(&self.tb, now_ms())?;
        Ok(ix)
    }

    /// Opens a listed block for reading through the cache.
    pub fn open_entry(&self, e: &IndexedBlock) -> Result<Arc<Block>> {
        Ok(Arc::new(remote::open_block(&self.tb, &self.cache, e)?))
    }

    /// Uploads the block in `dir`, `meta.json` last. Idempotent: an
    /// upload cut short is finished (or redone) by the next one.
    pub fn upload(&self, dir: &Path, meta: &BlockMeta, step: fn(&str)) -> Result<IndexedBlock> {
        let id = BlockId::checked(&meta.ulid, "block meta")?;
        let mut files = std::collections::BTreeMap::new();
        for name in UPLOAD_ORDER {
            if name == META_FILE {
                step("partial");
            }
            let file = dir.join(name);
            self.tb
                .bucket
                .upload_file(&file, &self.tb.block_file(&id, name))?;
            let size = std::fs::metadata(&file)
                .map_err(|e| StorageError::io(&file, e))?
                .len();
            files.insert(name.to_string(), size);
        }
        step("uploaded");
        Ok(IndexedBlock {
            meta: meta.clone(),
            files,
        })
    }

    /// Adds an uploaded block to the index (marking what it replaces).
    pub fn add_to_index(&self, entry: IndexedBlock) -> Result<BucketIndex> {
        self.update_index(|ix| ix.add(entry, now_ms()))
    }

    /// Lists a block whose `meta.json` is in the bucket but that the
    /// index lacks (an upload cut short after its last file). Returns
    /// whether the block was found.
    pub fn adopt(&self, id: &BlockId) -> Result<bool> {
        if self
            .tb
            .bucket
            .get(&self.tb.block_file(id, META_FILE))?
            .is_none()
        {
            return Ok(false);
        }
        let meta = index::read_meta(&self.tb, id)?;
        let mut files = std::collections::BTreeMap::new();
        for o in self.tb.bucket.list(&self.tb.block_dir(id))? {
            if let Some((_, name)) = self.tb.parse_block_key(&o.location) {
                if name != DELETION_MARK {
                    files.insert(name, o.size);
                }
            }
        }
        self.add_to_index(IndexedBlock { meta, files })?;
        Ok(true)
    }

    /// Deletes every object of a block directory without `meta.json`.
    pub fn delete_partial(&self, id: &BlockId) -> Result<()> {
        for o in self.tb.bucket.list(&self.tb.block_dir(id))? {
            self.tb.bucket.delete(&o.location)?;
        }
        Ok(())
    }

    /// Removes a marked block's files, `meta.json` first and the mark
    /// last, then forgets it in the index.
    pub fn purge(&self, id: &BlockId, step: fn(&str)) -> Result<()> {
        self.tb.bucket.delete(&self.tb.block_file(id, META_FILE))?;
        step("purging");
        for o in self.tb.bucket.list(&self.tb.block_dir(id))? {
            if !o.location.as_ref().ends_with(DELETION_MARK) {
                self.tb.bucket.delete(&o.location)?;
            }
        }
        self.tb
            .bucket
            .delete(&self.tb.block_file(id, DELETION_MARK))?;
        self.update_index(|ix| ix.remove(id.as_str()))?;
        Ok(())
    }

    /// Downloads a listed block's files into `dir` (for a compaction).
    pub fn download(&self, e: &IndexedBlock, dir: &Path) -> Result<()> {
        let id = BlockId::checked(&e.meta.ulid, "bucket index")?;
        std::fs::create_dir_all(dir).map_err(|err| StorageError::io(dir, err))?;
        for name in UPLOAD_ORDER {
            self.tb
                .bucket
                .download(&self.tb.block_file(&id, name), &dir.join(name))?;
        }
        Ok(())
    }
}

impl BlockStore for BucketBlocks {
    /// The index's live blocks, opened lazily: no listing, no index fetch.
    fn open_all(&self) -> Result<Vec<Arc<Block>>> {
        let ix = self.read_index()?;
        let mut out = Vec::new();
        for e in ix.live() {
            out.push(self.open_entry(e)?);
        }
        out.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
        Ok(out)
    }

    fn publish(&self, dir: &Path, meta: &BlockMeta) -> Result<Arc<Block>> {
        let entry = self.upload(dir, meta, self.upload_step)?;
        let block = self.open_entry(&entry)?;
        self.add_to_index(entry)?;
        Ok(block)
    }

    fn delete(&self, ulid: &str) -> Result<()> {
        let id = BlockId::checked(ulid, "block id")?;
        let now = now_ms();
        index::write_mark(&self.tb, &id, now)?;
        self.update_index(|ix| ix.mark(id.as_str(), now))?;
        Ok(())
    }
}

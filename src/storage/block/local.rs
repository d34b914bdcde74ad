//! The local block directory, `tenants/<tenant>/blocks/`: today's and the
//! default store. A block is written to `<ulid>.tmp/`, fsynced, and
//! published by renaming it to `<ulid>/` and fsyncing the directory; it is
//! deleted by renaming it to `<ulid>.deleted/` and removing that. These are
//! the only places storage touches block directories with `std::fs`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::store::BlockStore;
use super::{fsync_dir, Block, BlockMeta, DELETED_SUFFIX, TMP_SUFFIX};
use crate::storage::error::{Result, StorageError};

/// One tenant's local blocks directory.
pub(crate) struct LocalBlocks {
    dir: PathBuf,
}

impl LocalBlocks {
    /// The store in `dir`, created if missing.
    pub fn new(dir: &Path) -> Result<LocalBlocks> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        Ok(LocalBlocks {
            dir: dir.to_path_buf(),
        })
    }

    /// Where block writers stage `<ulid>.tmp/` (the same filesystem, so
    /// publishing is a rename).
    pub fn staging_dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of the published block `ulid`.
    pub fn path_of(&self, ulid: &str) -> PathBuf {
        self.dir.join(ulid)
    }

    fn remove_leftovers(&self) -> Result<Vec<PathBuf>> {
        let mut published = Vec::new();
        let rd = std::fs::read_dir(&self.dir).map_err(|e| StorageError::io(&self.dir, e))?;
        for entry in rd {
            let path = entry.map_err(|e| StorageError::io(&self.dir, e))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.ends_with(TMP_SUFFIX) || name.ends_with(DELETED_SUFFIX) {
                tracing::info!(dir = %path.display(), "removing leftover of an interrupted block write or deletion");
                std::fs::remove_dir_all(&path).map_err(|e| StorageError::io(&path, e))?;
            } else if path.is_dir() {
                published.push(path);
            }
        }
        Ok(published)
    }
}

impl BlockStore for LocalBlocks {
    /// Opens every published block, removing leftovers of interrupted
    /// writes and deletions, and the sources of a compaction whose result
    /// was published before the crash.
    fn open_all(&self) -> Result<Vec<Arc<Block>>> {
        let mut blocks = Vec::new();
        for path in self.remove_leftovers()? {
            blocks.push(Arc::new(Block::open(&path)?));
        }
        let replaced: HashSet<String> = blocks
            .iter()
            .flat_map(|b| b.meta().compaction.sources.iter().cloned())
            .collect();
        let (gone, mut kept): (Vec<_>, Vec<_>) = blocks
            .into_iter()
            .partition(|b| replaced.contains(&b.meta().ulid));
        for b in gone {
            tracing::info!(block = %b.meta().ulid, "removing block already replaced by a compaction");
            self.delete(&b.meta().ulid)?;
        }
        kept.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
        Ok(kept)
    }

    fn publish(&self, dir: &Path, meta: &BlockMeta) -> Result<Arc<Block>> {
        let dst = self.path_of(&meta.ulid);
        std::fs::rename(dir, &dst).map_err(|e| StorageError::io(&dst, e))?;
        fsync_dir(&self.dir)?;
        Ok(Arc::new(Block::open(&dst)?))
    }

    fn delete(&self, ulid: &str) -> Result<()> {
        let dir = self.path_of(ulid);
        let gone = self.dir.join(format!("{ulid}{DELETED_SUFFIX}"));
        std::fs::rename(&dir, &gone).map_err(|e| StorageError::io(&dir, e))?;
        fsync_dir(&self.dir)?;
        std::fs::remove_dir_all(&gone).map_err(|e| StorageError::io(&gone, e))
    }
}

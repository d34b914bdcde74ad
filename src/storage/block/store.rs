//! The block store seam: every way a block is listed, published, opened
//! and deleted goes through [`BlockStore`]. Two stores exist: the local
//! directory (`block/local.rs`, the embedded default and the only one
//! without a bucket) and the bucket (`storage/bucket/store.rs`, through
//! the `object_store` crate). A store is bound to one tenant when it is
//! made, so none of its methods can name another tenant's blocks.

use std::path::Path;
use std::sync::Arc;

use super::{Block, BlockMeta};
use crate::storage::error::Result;

/// Where one tenant's published blocks are kept.
pub(crate) trait BlockStore: Send + Sync {
    /// Opens every published block, oldest first. A local store also
    /// removes leftovers of interrupted writes here; the bucket store reads
    /// its index and lists nothing.
    fn open_all(&self) -> Result<Vec<Arc<Block>>>;

    /// Publishes the complete, fsynced block whose files are in `dir`:
    /// afterwards every reader of the store sees it, and before, none does.
    /// The local store renames `dir` into place (so `dir` is gone after);
    /// the bucket uploads its files, `meta.json` last, and leaves `dir`.
    fn publish(&self, dir: &Path, meta: &BlockMeta) -> Result<Arc<Block>>;

    /// Takes a block out of what readers see. The local store deletes it
    /// at once; the bucket marks it and deletes it after a delay, so
    /// queries already reading it finish.
    fn delete(&self, ulid: &str) -> Result<()>;
}

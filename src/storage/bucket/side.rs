//! A partition's bucket side: the tenant's [`BucketBlocks`], which local
//! blocks are shipped (`tenants/<tenant>/shipped.json`, sealed like the
//! other state files), the staging directory of compactions in the bucket,
//! and whether the first read of the bucket index has happened yet.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::layout::TenantBucket;
use super::store::BucketBlocks;
use super::BucketContext;
use crate::storage::error::{Result, StorageError};
use crate::storage::metadata::{unseal, write_file_atomic};
use crate::tenant::TenantId;

/// Name of the file listing the tenant's shipped local blocks.
pub(crate) const SHIPPED_FILE: &str = "shipped.json";
/// Directory where compactions in the bucket stage their downloads and
/// output (`<ulid>.tmp/`, `<ulid>.src/`).
pub(crate) const STAGING_DIR: &str = "bucket-staging";

#[derive(Serialize, Deserialize)]
struct ShippedFile {
    version: u32,
    shipped: BTreeSet<String>,
}

/// One tenant's bucket state.
pub(crate) struct BucketSide {
    /// The tenant's blocks in the bucket.
    pub store: BucketBlocks,
    /// The shared bucket, cache and settings.
    pub ctx: Arc<BucketContext>,
    shipped: Mutex<BTreeSet<String>>,
    shipped_file: PathBuf,
    /// Staging directory of compactions in the bucket.
    pub staging: PathBuf,
    /// Set once leftovers were recovered and the index was read.
    pub synced: AtomicBool,
    /// Held by the tenant's one compactor (and its retention and purges).
    pub compactor: Mutex<()>,
    /// When the tenant's prefix was last listed to clean it.
    pub last_cleanup: Mutex<Option<std::time::Instant>>,
}

impl BucketSide {
    /// The bucket side of `tenant`, whose partition lives in `dir`.
    pub fn open(ctx: &Arc<BucketContext>, tenant: &TenantId, dir: &Path) -> Result<BucketSide> {
        let tb = Arc::new(TenantBucket::new(ctx.bucket.clone(), tenant.clone()));
        let shipped_file = dir.join(SHIPPED_FILE);
        let shipped = match std::fs::read(&shipped_file) {
            Ok(b) => unseal(&b)
                .and_then(|body| serde_json::from_slice::<ShippedFile>(body).ok())
                .map(|f| f.shipped)
                .unwrap_or_else(|| {
                    tracing::warn!(file = %shipped_file.display(), "unreadable; blocks will be checked against the bucket index");
                    BTreeSet::new()
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(StorageError::io(&shipped_file, e)),
        };
        Ok(BucketSide {
            store: BucketBlocks::new(tb, ctx.cache.clone()),
            ctx: ctx.clone(),
            shipped: Mutex::new(shipped),
            shipped_file,
            staging: dir.join(STAGING_DIR),
            synced: AtomicBool::new(false),
            compactor: Mutex::new(()),
            last_cleanup: Mutex::new(None),
        })
    }

    /// Whether the first index read happened.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Whether the local block `ulid` is in the bucket.
    pub fn is_shipped(&self, ulid: &str) -> bool {
        self.shipped.lock().contains(ulid)
    }

    /// Records that `ulid` is in the bucket.
    pub fn set_shipped(&self, ulid: &str) -> Result<()> {
        let mut s = self.shipped.lock();
        if s.insert(ulid.to_string()) {
            self.persist(&s)?;
        }
        Ok(())
    }

    /// Forgets the blocks `keep` refuses (they left the local disk).
    pub fn retain_shipped(&self, keep: impl Fn(&str) -> bool) -> Result<()> {
        let mut s = self.shipped.lock();
        let before = s.len();
        s.retain(|u| keep(u));
        if s.len() != before {
            self.persist(&s)?;
        }
        Ok(())
    }

    fn persist(&self, s: &BTreeSet<String>) -> Result<()> {
        let body = serde_json::to_vec(&ShippedFile {
            version: 1,
            shipped: s.clone(),
        })
        .map_err(|e| StorageError::Config(e.to_string()))?;
        write_file_atomic(&self.shipped_file, &body)
    }
}

//! Operator views and actions over whole tenants: what a tenant occupies
//! and reads (usage), deleting a tenant, and small server state files kept
//! under the data directory (`state/`), such as the usage totals.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::bucket::layout::TenantBucket;
use super::error::{Result, StorageError};
use super::metadata::{unseal, write_file_atomic};
use super::partition::Partition;
use super::Storage;
use crate::tenant::TenantId;

/// What a tenant occupies now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Series in the head (active series).
    pub active_series: u64,
    /// Samples in the tenant's local blocks (flushed data).
    pub samples_in_blocks: u64,
    /// Bytes the tenant's directory takes on disk: WAL, blocks, metadata.
    pub bytes_on_disk: u64,
}

impl Storage {
    /// Samples the tenant's queries (every read path) have read since the
    /// process started.
    pub fn samples_read(&self, tenant: &TenantId) -> u64 {
        self.partition(tenant)
            .map_or(0, |p| p.samples_read.load(Ordering::Relaxed))
    }

    /// What the tenant occupies now (zeroes for an unknown tenant).
    pub fn footprint(&self, tenant: &TenantId) -> Footprint {
        let Some(p) = self.partition(tenant) else {
            return Footprint::default();
        };
        Footprint {
            active_series: p.head.num_series() as u64,
            samples_in_blocks: p.blocks().iter().map(|b| b.meta().stats.num_samples).sum(),
            bytes_on_disk: dir_bytes(&p.dir),
        }
    }

    /// Deletes everything the tenant has: head, WAL, blocks, metadata and
    /// whatever else lives in its directory (push groups), and with object
    /// storage its objects under `<prefix>/<tenant>/` (the bucket index
    /// first, so nothing of it is readable from then on). Returns whether
    /// the tenant existed. Other tenants are not touched: only this
    /// tenant's partition, directory and bucket prefix are. Appends racing
    /// with the deletion may land in the removed files or start the tenant
    /// afresh.
    pub fn delete_tenant(&self, tenant: &TenantId) -> Result<bool> {
        self.check_open()?;
        let _c = self.inner.creating.lock();
        let removed: Option<Arc<Partition>> = self.inner.tenants.write().remove(tenant);
        let dir = self.tenant_dir(tenant);
        let existed = removed.is_some() || dir.exists();
        if let Some(p) = &removed {
            p.wal.close()?;
        }
        self.inner.metadata.forget(tenant);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StorageError::io(&dir, e)),
        }
        let mut in_bucket = false;
        if let Some(ctx) = &self.inner.bucket {
            let tb = TenantBucket::new(ctx.bucket.clone(), tenant.clone());
            ctx.bucket.delete(&tb.index_path())?;
            for obj in ctx.bucket.list(&tb.root())? {
                in_bucket = true;
                ctx.bucket.delete(&obj.location)?;
            }
        }
        Ok(existed || in_bucket)
    }

    /// A server state file under `<data dir>/state/`, if it exists (as
    /// written by [`Storage::write_state_file`], checksum verified).
    pub fn read_state_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.inner.cfg.data_dir.join("state").join(name);
        match std::fs::read(&path) {
            Ok(b) => match unseal(&b) {
                Some(inner) => Ok(Some(inner.to_vec())),
                None => Err(StorageError::corruption(
                    path.display().to_string(),
                    0,
                    "state file fails its checksum",
                )),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io(&path, e)),
        }
    }

    /// Writes a server state file under `<data dir>/state/` atomically
    /// (temp file, fsync, rename).
    pub fn write_state_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.inner.cfg.data_dir.join("state").join(name);
        write_file_atomic(&path, bytes)
    }

    /// A tenant's state file kept for a layer above storage, if it exists
    /// (checksum verified; a failing one is a corruption error).
    pub fn read_tenant_state(
        &self,
        tenant: &TenantId,
        file: TenantStateFile,
    ) -> Result<Option<Vec<u8>>> {
        let path = self.tenant_dir(tenant).join(file.name());
        match std::fs::read(&path) {
            Ok(b) => match unseal(&b) {
                Some(inner) => Ok(Some(inner.to_vec())),
                None => Err(StorageError::corruption(
                    path.display().to_string(),
                    0,
                    "tenant state file fails its checksum",
                )),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io(&path, e)),
        }
    }

    /// Writes a tenant's state file atomically and sealed; it lives and
    /// dies with the tenant's directory.
    pub fn write_tenant_state(
        &self,
        tenant: &TenantId,
        file: TenantStateFile,
        bytes: &[u8],
    ) -> Result<()> {
        self.check_open()?;
        write_file_atomic(&self.tenant_dir(tenant).join(file.name()), bytes)
    }
}

/// The per-tenant state files other layers keep through storage; each has
/// a fixed name inside the tenant's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStateFile {
    /// The Pushgateway-style push groups (`write::push`).
    PushGroups,
}

impl TenantStateFile {
    /// The file's name inside the tenant's directory.
    pub fn name(self) -> &'static str {
        match self {
            TenantStateFile::PushGroups => "push_groups.json",
        }
    }
}

/// Bytes of the regular files under `dir`, recursively (0 if unreadable).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

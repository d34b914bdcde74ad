//! The public face of the bucket side of [`Storage`]: driving shipping and
//! the bucket rounds by hand (tests, admin), and the figures `/metrics`
//! shows. Without a bucket each call is a no-op and the status is `None`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::bucket::{shipper, store::now_ms, worker};
use super::partition::Partition;
use super::{Result, Storage};
use crate::tenant::TenantId;

/// The bucket side's figures, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketStatus {
    /// Local blocks not yet shipped, per tenant (tenants with none left out).
    pub pending_uploads: Vec<(TenantId, u64)>,
    /// Age in seconds of the oldest block not yet shipped (0 when none).
    pub oldest_unshipped_age_secs: f64,
    /// Blocks shipped since start.
    pub uploads: u64,
    /// Failed shipping attempts since start.
    pub upload_failures: u64,
    /// Blocks written by compactions in the bucket since start.
    pub compactions: u64,
    /// Failed bucket rounds since start.
    pub compaction_failures: u64,
    /// Bytes received from the store since start.
    pub fetched_bytes: u64,
    /// GET requests (whole or ranged) since start.
    pub get_requests: u64,
    /// Bytes uploaded since start.
    pub uploaded_bytes: u64,
    /// Bytes in the on-disk cache.
    pub cache_bytes: u64,
    /// The cache's bound.
    pub cache_max_bytes: u64,
    /// Cache hits since start.
    pub cache_hits: u64,
    /// Cache misses since start.
    pub cache_misses: u64,
}

impl Storage {
    fn partitions(&self) -> Vec<Arc<Partition>> {
        let mut v: Vec<Arc<Partition>> = self.inner.tenants.read().values().cloned().collect();
        v.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        v
    }

    /// Ships every tenant's pending blocks to the bucket now. Returns how
    /// many were shipped; fails at the first upload that fails.
    pub fn ship(&self) -> Result<usize> {
        self.check_open()?;
        worker::ship_all(&self.partitions(), &self.inner.bucket_counters)
    }

    /// One bucket round for every tenant now: ship, then retention,
    /// compaction, purges of blocks marked `deletion_delay` ago, local
    /// retention and (at most every 15 minutes) the cleanup listing.
    pub fn maintain_bucket(&self) -> Result<()> {
        self.check_open()?;
        let parts = self.partitions();
        worker::ship_all(&parts, &self.inner.bucket_counters)?;
        worker::maintain_all(&parts, &self.inner.bucket_counters)
    }

    /// Whether every block of `tenant` is in the bucket.
    pub fn fully_shipped(&self, tenant: &TenantId) -> bool {
        self.partition(tenant).is_none_or(|p| {
            p.bucket
                .as_ref()
                .is_none_or(|s| shipper::pending(&p, s).is_empty())
        })
    }

    /// The bucket side's figures, `None` without a bucket.
    pub fn bucket_status(&self) -> Option<BucketStatus> {
        let ctx = self.inner.bucket.as_ref()?;
        let mut st = BucketStatus::default();
        let mut oldest = i64::MAX;
        for p in self.partitions() {
            let Some(side) = &p.bucket else { continue };
            let pending = shipper::pending(&p, side);
            if let Some(ms) = pending
                .iter()
                .filter_map(|b| ulid::Ulid::from_string(&b.meta().ulid).ok())
                .map(|u| u.timestamp_ms() as i64)
                .min()
            {
                oldest = oldest.min(ms);
            }
            if !pending.is_empty() {
                st.pending_uploads
                    .push((p.tenant.clone(), pending.len() as u64));
            }
        }
        if oldest != i64::MAX {
            st.oldest_unshipped_age_secs = (now_ms().saturating_sub(oldest)).max(0) as f64 / 1000.0;
        }
        let w = &self.inner.bucket_counters;
        st.uploads = w.uploads.load(Ordering::Relaxed);
        st.upload_failures = w.upload_failures.load(Ordering::Relaxed);
        st.compactions = w.compactions.load(Ordering::Relaxed);
        st.compaction_failures = w.compaction_failures.load(Ordering::Relaxed);
        let b = &ctx.bucket.counters;
        st.fetched_bytes = b.fetched_bytes.load(Ordering::Relaxed);
        st.get_requests = b.gets.load(Ordering::Relaxed);
        st.uploaded_bytes = b.uploaded_bytes.load(Ordering::Relaxed);
        st.cache_bytes = ctx.cache.bytes();
        st.cache_max_bytes = ctx.cache.max_bytes();
        st.cache_hits = ctx.cache.counters.hits.load(Ordering::Relaxed);
        st.cache_misses = ctx.cache.counters.misses.load(Ordering::Relaxed);
        Some(st)
    }
}

//! The background thread of a storage with a bucket: it ships pending
//! blocks as soon as a flush wakes it, retries with backoff while the
//! store is down (ingest and local queries go on meanwhile: nothing else
//! waits for it), and between shipments runs each tenant's bucket round.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{compactor, shipper, BucketContext};
use crate::storage::error::Result;
use crate::storage::partition::Partition;

/// First wait after a failed upload; it doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// Longest wait between retries while the store is down.
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// What the worker did since the process started, for `/metrics`.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Blocks shipped.
    pub uploads: AtomicU64,
    /// Failed shipping attempts (each retried).
    pub upload_failures: AtomicU64,
    /// Blocks written by compactions in the bucket.
    pub compactions: AtomicU64,
    /// Failed bucket rounds (compaction, retention, purge, cleanup).
    pub compaction_failures: AtomicU64,
}

/// Ships every tenant's pending blocks. A tenant whose upload fails does
/// not hold up the others; the first failure is returned after all had
/// their turn (the caller backs off).
pub(crate) fn ship_all(parts: &[Arc<Partition>], c: &WorkerCounters) -> Result<usize> {
    let mut n = 0;
    let mut first = Ok(());
    for p in parts {
        let Some(side) = &p.bucket else { continue };
        let shipped = (|| {
            if !side.is_synced() {
                compactor::sync(p, side)?;
            }
            shipper::ship(p, side)
        })();
        match shipped {
            Ok(k) => {
                c.uploads.fetch_add(k as u64, Ordering::Relaxed);
                n += k;
            }
            Err(e) => {
                c.upload_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(tenant = %p.tenant, error = %e, "shipping to the bucket failed; will retry");
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
    }
    first.map(|()| n)
}

/// Runs every tenant's bucket round; the first failure is returned after
/// the other tenants had theirs.
pub(crate) fn maintain_all(parts: &[Arc<Partition>], c: &WorkerCounters) -> Result<()> {
    let mut first = Ok(());
    for p in parts {
        let Some(side) = &p.bucket else { continue };
        match compactor::maintain(p, side) {
            Ok(r) => {
                c.compactions
                    .fetch_add(r.compacted.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                c.compaction_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(tenant = %p.tenant, error = %e, "bucket maintenance failed");
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
    }
    first
}

/// Starts the worker. `parts` lists the partitions at each round;
/// `interval` is how often the bucket rounds run; `stop` ends the thread
/// (raise it, then notify `ctx.wake`).
pub(crate) fn spawn(
    ctx: Arc<BucketContext>,
    parts: impl Fn() -> Vec<Arc<Partition>> + Send + 'static,
    counters: Arc<WorkerCounters>,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let run = move || {
        let mut backoff: Option<Duration> = None;
        let mut last_round = Instant::now();
        loop {
            ctx.wake.wait(backoff.unwrap_or(interval));
            if stop.load(Ordering::Acquire) {
                return;
            }
            let all = parts();
            if ship_all(&all, &counters).is_err() {
                let next = backoff.map_or(BACKOFF_MIN, |b| (b * 2).min(BACKOFF_MAX));
                backoff = Some(next);
                continue;
            }
            backoff = None;
            if last_round.elapsed() >= interval {
                last_round = Instant::now();
                let _ = maintain_all(&all, &counters);
            }
        }
    };
    match std::thread::Builder::new()
        .name("tessera-bucket-worker".into())
        .spawn(run)
    {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(error = %e, "could not start the bucket worker thread");
            None
        }
    }
}

//! What a partition's queriers see once a bucket is configured: its local
//! blocks, plus the bucket index's live blocks that are not on the local
//! disk. A local block the index marks (replaced by a compaction in the
//! bucket, or past retention) leaves the local disk; a shipped local block
//! past `local_retention` is swapped for its bucket copy.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::index::{BucketIndex, IndexedBlock};
use super::side::BucketSide;
use crate::storage::block::store::BlockStore;
use crate::storage::block::{Block, Home};
use crate::storage::error::Result;
use crate::storage::partition::Partition;

/// Changes `blocks` to what `ix` implies: drops local blocks the index
/// marks (returning their ids, for the caller to delete from disk) and
/// bucket blocks it no longer lists, and adds its live blocks that are
/// not local.
pub(crate) fn merge(
    blocks: &mut Vec<Arc<Block>>,
    side: &BucketSide,
    ix: &BucketIndex,
) -> Result<Vec<String>> {
    let live: HashMap<&str, &IndexedBlock> = ix.live().map(|e| (e.meta.ulid.as_str(), e)).collect();
    let mut doomed = Vec::new();
    blocks.retain(|b| {
        let u = b.meta().ulid.as_str();
        match b.home() {
            Home::Local => {
                // Marked, or shipped and purged since (an index that was
                // never written says nothing).
                let purged = side.is_shipped(u) && !ix.contains(u) && ix.updated_at > 0;
                let gone = purged || ix.is_marked(u) && (ix.contains(u) || side.is_shipped(u));
                if gone {
                    doomed.push(u.to_string());
                }
                !gone
            }
            Home::Bucket => live.contains_key(u),
        }
    });
    let have: HashSet<String> = blocks.iter().map(|b| b.meta().ulid.clone()).collect();
    for (u, e) in &live {
        if !have.contains(*u) && !doomed.iter().any(|d| d == u) {
            blocks.push(side.store.open_entry(e)?);
        }
    }
    blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
    Ok(doomed)
}

/// Deletes the local copies `merge` dropped and forgets shipped ids no
/// longer on the local disk.
pub(crate) fn delete_dropped(
    local: &crate::storage::block::local::LocalBlocks,
    side: &BucketSide,
    blocks: &[Arc<Block>],
    doomed: &[String],
) -> Result<()> {
    for u in doomed {
        tracing::info!(block = %u, "removing the local copy of a block marked in the bucket");
        local.delete(u)?;
    }
    let kept: HashSet<&str> = blocks
        .iter()
        .filter(|b| b.home() == Home::Local)
        .map(|b| b.meta().ulid.as_str())
        .collect();
    side.retain_shipped(|u| kept.contains(u))
}

/// Brings the partition's block list in line with `ix`.
pub(crate) fn refresh(p: &Partition, side: &BucketSide, ix: &BucketIndex) -> Result<()> {
    let ids = |p: &Partition| -> Vec<String> {
        p.blocks
            .read()
            .iter()
            .map(|b| b.meta().ulid.clone())
            .collect()
    };
    let before = ids(p);
    let doomed = merge(&mut p.blocks.write(), side, ix)?;
    if ids(p) != before {
        // Blocks came or went (retention, compaction, another process's
        // uploads): any cached result may read them.
        p.changes.record(i64::MIN);
    }
    delete_dropped(&p.local, side, &p.blocks(), &doomed)?;
    side.synced.store(true, Ordering::Release);
    Ok(())
}

/// Swaps shipped local blocks whose samples are all older than `cutoff`
/// for their bucket copies and deletes them from the local disk.
pub(crate) fn apply_local_retention(
    p: &Partition,
    side: &BucketSide,
    ix: &BucketIndex,
    cutoff: i64,
) -> Result<Vec<String>> {
    let live: HashMap<&str, &IndexedBlock> = ix.live().map(|e| (e.meta.ulid.as_str(), e)).collect();
    let doomed: Vec<Arc<Block>> = p
        .blocks()
        .into_iter()
        .filter(|b| {
            let u = b.meta().ulid.as_str();
            b.home() == Home::Local
                && b.meta().max_time <= cutoff
                && side.is_shipped(u)
                && live.contains_key(u)
        })
        .collect();
    let mut out = Vec::new();
    for b in doomed {
        let u = b.meta().ulid.clone();
        let remote = side.store.open_entry(live[u.as_str()])?;
        {
            let mut blocks = p.blocks.write();
            blocks.retain(|x| !Arc::ptr_eq(x, &b));
            blocks.push(remote);
            blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
        }
        p.local.delete(&u)?;
        out.push(u);
    }
    let gone: HashSet<&String> = out.iter().collect();
    side.retain_shipped(|u| !gone.contains(&u.to_string()))?;
    Ok(out)
}

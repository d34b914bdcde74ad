//! The tenant's work in the bucket, one compactor per tenant at a time
//! (`BucketSide::compactor`): recovering what a crash left, retention,
//! compaction, purging marked blocks after the delay, local retention and
//! the periodic cleanup that lists the tenant's prefix.
//!
//! A compaction downloads its sources (or reads their local copies),
//! merges them into `bucket-staging/<ulid>.tmp/`, uploads the result
//! (`meta.json` last), adds it to the index (which marks the sources), and
//! writes the sources' deletion marks. Their files go `deletion_delay`
//! later, so queries that listed them before finish. The staging name is
//! the crash journal: at the next start a `<ulid>.tmp/` whose `meta.json`
//! reached the bucket is adopted into the index, any other is deleted from
//! the bucket, and then the directory goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::index::{self, IndexedBlock};
use super::layout::BlockId;
use super::side::BucketSide;
use super::store::now_ms;
use super::{shipper, view, PARTIAL_UPLOAD_MAX_AGE};
use crate::storage::block::store::BlockStore;
use crate::storage::block::writer::BlockWriter;
use crate::storage::block::{Block, BlockMeta, Home, TMP_SUFFIX};
use crate::storage::compact::{self, HasMeta};
use crate::storage::error::{Result, StorageError};
use crate::storage::fault::bucket_compaction_step;
use crate::storage::partition::Partition;

/// How often the tenant's prefix is listed to adopt blocks the index
/// lacks and delete abandoned partial uploads.
pub(crate) const CLEANUP_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Suffix of a source block downloaded for a compaction.
const SRC_SUFFIX: &str = ".src";

impl HasMeta for IndexedBlock {
    fn meta(&self) -> &BlockMeta {
        &self.meta
    }
}

/// What one round did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BucketRound {
    /// Blocks written by compactions in the bucket.
    pub compacted: Vec<BlockMeta>,
    /// Blocks marked for deletion by retention.
    pub expired: Vec<String>,
    /// Marked blocks whose files were deleted.
    pub purged: Vec<String>,
    /// Local copies dropped by `local_retention`.
    pub evicted: Vec<String>,
    /// Partial uploads deleted.
    pub partials_deleted: Vec<String>,
}

/// Finishes or undoes what a crash left in `bucket-staging/`.
pub(crate) fn recover_staging(side: &BucketSide) -> Result<()> {
    let rd = match std::fs::read_dir(&side.staging) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StorageError::io(&side.staging, e)),
    };
    for entry in rd.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(TMP_SUFFIX).and_then(BlockId::parse) {
            if side.store.adopt(&id)? {
                tracing::info!(block = %id, "adopted a compacted block uploaded before a crash");
            } else {
                tracing::info!(block = %id, "deleting the partial upload of a compaction cut short");
                side.store.delete_partial(&id)?;
            }
        }
        std::fs::remove_dir_all(&path).map_err(|e| StorageError::io(&path, e))?;
    }
    Ok(())
}

/// The first contact with the bucket: recover, read the index, merge it
/// into the partition's view.
pub(crate) fn sync(p: &Partition, side: &BucketSide) -> Result<()> {
    let _c = side.compactor.lock();
    recover_staging(side)?;
    let ix = side.store.read_index()?;
    view::refresh(p, side, &ix)
}

/// One round of the tenant's bucket work.
pub(crate) fn maintain(p: &Partition, side: &BucketSide) -> Result<BucketRound> {
    let Some(_c) = side.compactor.try_lock() else {
        return Ok(BucketRound::default());
    };
    if !side.is_synced() {
        recover_staging(side)?;
        view::refresh(p, side, &side.store.read_index()?)?;
    }
    let mut round = BucketRound {
        expired: apply_retention(p, side)?,
        ..BucketRound::default()
    };
    // Local copies of what retention marked go before the purge.
    view::refresh(p, side, &side.store.read_index()?)?;
    if shipper::pending(p, side).is_empty() {
        while let Some(meta) = compact_once(p, side)? {
            round.compacted.push(meta);
        }
    }
    round.purged = purge_due(side)?;
    let due = side
        .last_cleanup
        .lock()
        .is_none_or(|t| t.elapsed() >= CLEANUP_INTERVAL);
    if due {
        round.partials_deleted = cleanup(side)?;
        *side.last_cleanup.lock() = Some(Instant::now());
    }
    let ix = side.store.read_index()?;
    view::refresh(p, side, &ix)?;
    if let Some(max) = p.max_time() {
        let keep = side.ctx.cfg.local_retention.as_millis() as i64;
        round.evicted = view::apply_local_retention(p, side, &ix, max.saturating_sub(keep))?;
    }
    Ok(round)
}

/// Compacts in the bucket until the plan has nothing left. Returns the
/// blocks written.
pub(crate) fn compact(p: &Partition, side: &BucketSide) -> Result<Vec<BlockMeta>> {
    let _c = side.compactor.lock();
    let mut out = Vec::new();
    while let Some(meta) = compact_once(p, side)? {
        out.push(meta);
    }
    Ok(out)
}

/// Marks the tenant's blocks past its `retention` for deletion.
fn apply_retention(p: &Partition, side: &BucketSide) -> Result<Vec<String>> {
    let (Some(ret), Some(max)) = (p.cfg.read().retention_ms, p.max_time()) else {
        return Ok(Vec::new());
    };
    let cutoff = max.saturating_sub(ret);
    let ix = side.store.read_index()?;
    let doomed: Vec<String> = ix
        .live()
        .filter(|b| b.meta.max_time <= cutoff)
        .map(|b| b.meta.ulid.clone())
        .collect();
    for u in &doomed {
        tracing::info!(tenant = %p.tenant, block = %u, "block past retention marked for deletion");
        side.store.delete(u)?;
    }
    Ok(doomed)
}

/// Deletes the files of blocks marked at least `deletion_delay` ago.
fn purge_due(side: &BucketSide) -> Result<Vec<String>> {
    let delay = side.ctx.cfg.deletion_delay.as_millis() as i64;
    let now = now_ms();
    let ix = side.store.read_index()?;
    let mut out = Vec::new();
    for d in ix
        .deletions
        .iter()
        .filter(|d| d.deletion_time.saturating_add(delay) <= now)
    {
        let id = BlockId::checked(&d.ulid, "bucket index")?;
        side.store.purge(&id, bucket_compaction_step)?;
        out.push(d.ulid.clone());
    }
    Ok(out)
}

/// Lists the tenant's prefix: adopts published blocks the index lacks,
/// finishes purges cut short, and deletes partial uploads older than
/// [`PARTIAL_UPLOAD_MAX_AGE`].
fn cleanup(side: &BucketSide) -> Result<Vec<String>> {
    let now = now_ms();
    let listing = index::rebuild(&side.store.tb, now)?;
    let ix = side.store.read_index()?;
    let missing: Vec<&IndexedBlock> = listing
        .index
        .blocks
        .iter()
        .filter(|b| !ix.contains(&b.meta.ulid))
        .collect();
    if !missing.is_empty() {
        side.store.update_index(|ix| {
            for b in missing {
                tracing::info!(block = %b.meta.ulid, "adding a published block the bucket index lacked");
                ix.add(b.clone(), now);
                if listing.index.is_marked(&b.meta.ulid) {
                    ix.mark(&b.meta.ulid, now);
                }
            }
        })?;
    }
    let max_age = PARTIAL_UPLOAD_MAX_AGE.as_millis() as i64;
    let mut deleted = Vec::new();
    for part in &listing.partials {
        if part.marked {
            side.store.purge(&part.id, bucket_compaction_step)?;
        } else if now.saturating_sub(part.newest_ms) >= max_age {
            tracing::info!(block = %part.id, "deleting an abandoned partial upload");
            side.store.delete_partial(&part.id)?;
            deleted.push(part.id.to_string());
        }
    }
    Ok(deleted)
}

/// Runs one compaction in the bucket if the plan has one.
fn compact_once(p: &Partition, side: &BucketSide) -> Result<Option<BlockMeta>> {
    let ix = side.store.read_index()?;
    let live: Vec<IndexedBlock> = ix.live().cloned().collect();
    let Some(group) = compact::plan(&live, p.head.block_range, p.flushed_until()) else {
        return Ok(None);
    };
    std::fs::create_dir_all(&side.staging).map_err(|e| StorageError::io(&side.staging, e))?;
    let mut downloads = Downloads(Vec::new());
    let mut sources = Vec::new();
    let local = p.blocks();
    for e in &group {
        let here = local
            .iter()
            .find(|b| b.home() == Home::Local && b.meta().ulid == e.meta.ulid);
        match here {
            Some(b) => sources.push(b.clone()),
            None => {
                let dir = side.staging.join(format!("{}{SRC_SUFFIX}", e.meta.ulid));
                downloads.0.push(dir.clone());
                side.store.download(e, &dir)?;
                sources.push(Arc::new(Block::open(&dir)?));
            }
        }
    }
    let mut w = BlockWriter::new(&side.staging)?;
    compact::merge_into(&mut w, &sources)?;
    let ids: Vec<String> = group.iter().map(|e| e.meta.ulid.clone()).collect();
    let extra = crate::storage::block::meta::inherited_extra(sources.iter().map(|b| b.meta()));
    let Some(staged) = w.finish(compact::next_level(&sources), ids.clone(), extra)? else {
        return Ok(None);
    };
    let entry = side
        .store
        .upload(staged.dir(), &staged.meta, bucket_compaction_step)?;
    let ix = side.store.add_to_index(entry)?;
    let now = now_ms();
    for u in &ids {
        index::write_mark(&side.store.tb, &BlockId::checked(u, "bucket index")?, now)?;
    }
    bucket_compaction_step("published");
    tracing::info!(tenant = %p.tenant, block = %staged.meta.ulid, sources = ?ids, "compacted in the bucket");
    let newest = p.max_time().unwrap_or(i64::MIN);
    let keep = side.ctx.cfg.local_retention.as_millis() as i64;
    if staged.meta.max_time > newest.saturating_sub(keep) {
        side.set_shipped(&staged.meta.ulid)?;
        p.add_block(p.local.publish(staged.dir(), &staged.meta)?);
    }
    view::refresh(p, side, &ix)?;
    Ok(Some(staged.meta.clone()))
}

/// Source blocks downloaded for a compaction, removed when it ends.
struct Downloads(Vec<std::path::PathBuf>);

impl Drop for Downloads {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

//! Shipping: every local block the head flush produces is uploaded to the
//! bucket (`meta.json` last), added to the bucket index, and then
//! recorded in `shipped.json`. A crash anywhere in between leaves the
//! block unrecorded, so the next start uploads it again, overwriting any
//! partial objects with the same bytes; a block the index already lists is
//! only recorded.

use std::sync::Arc;

use super::side::BucketSide;
use crate::storage::block::{Block, Home};
use crate::storage::error::Result;
use crate::storage::partition::Partition;

/// Local blocks not yet shipped, oldest first.
pub(crate) fn pending(p: &Partition, side: &BucketSide) -> Vec<Arc<Block>> {
    let mut v: Vec<Arc<Block>> = p
        .blocks()
        .into_iter()
        .filter(|b| b.home() == Home::Local && !side.is_shipped(&b.meta().ulid))
        .collect();
    v.sort_by(|a, b| a.meta().ulid.cmp(&b.meta().ulid));
    v
}

/// Ships every pending block of the partition. Returns how many were
/// shipped; the first failure stops the round and is returned (the
/// caller backs off and retries).
pub(crate) fn ship(p: &Partition, side: &BucketSide) -> Result<usize> {
    let todo = pending(p, side);
    if todo.is_empty() {
        return Ok(0);
    }
    let ix = side.store.read_index()?;
    let mut n = 0;
    for b in todo {
        let ulid = b.meta().ulid.clone();
        if !ix.contains(&ulid) {
            let dir = p.local.path_of(&ulid);
            let uploaded = side
                .store
                .upload(&dir, b.meta(), crate::storage::fault::upload_step)
                .and_then(|entry| side.store.add_to_index(entry));
            if let Err(e) = uploaded {
                if !dir.exists() {
                    // Deleted by retention meanwhile: nothing to ship.
                    continue;
                }
                return Err(e);
            }
        }
        side.set_shipped(&ulid)?;
        tracing::info!(tenant = %p.tenant, block = %ulid, "block shipped to the bucket");
        n += 1;
    }
    Ok(n)
}

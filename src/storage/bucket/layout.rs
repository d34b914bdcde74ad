//! The bucket layout, and the one type that turns names into keys:
//!
//! ```text
//! <prefix>/<tenant>/bucket-index.json.gz       the tenant's block list
//! <prefix>/<tenant>/<ulid>/chunks               block files, as on disk
//! <prefix>/<tenant>/<ulid>/index
//! <prefix>/<tenant>/<ulid>/meta.json            uploaded last: a block without it is partial
//! <prefix>/<tenant>/<ulid>/deletion-mark.json   the block is being deleted
//! ```
//!
//! A [`TenantBucket`] is made for one tenant and every key it builds
//! starts with that tenant's prefix; block ids are checked to be ULIDs, so
//! no id read from an index or a listing can climb out of it.

use std::sync::Arc;

use object_store::path::Path;

use super::client::Bucket;
use crate::storage::error::{Result, StorageError};
use crate::tenant::TenantId;

/// The tenant's block list, in the role of Mimir's `bucket-index.json.gz`.
pub(crate) const INDEX_OBJECT: &str = "bucket-index.json.gz";
/// Marks a block as deleted; written before any of its files go.
pub(crate) const DELETION_MARK: &str = "deletion-mark.json";

/// A block id: a ULID in its canonical 26-character form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct BlockId(String);

impl BlockId {
    /// Accepts only a canonical ULID.
    pub fn parse(s: &str) -> Option<BlockId> {
        let u = ulid::Ulid::from_string(s).ok()?;
        (u.to_string() == s).then(|| BlockId(s.to_string()))
    }

    /// Like [`BlockId::parse`], failing with a corruption error about `file`.
    pub fn checked(s: &str, file: &str) -> Result<BlockId> {
        BlockId::parse(s)
            .ok_or_else(|| StorageError::corruption(file, 0, format!("{s:?} is not a block id")))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlockId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One tenant's part of the bucket.
pub(crate) struct TenantBucket {
    /// The shared client.
    pub bucket: Arc<Bucket>,
    tenant: TenantId,
}

impl TenantBucket {
    /// `tenant`'s part of `bucket`.
    pub fn new(bucket: Arc<Bucket>, tenant: TenantId) -> TenantBucket {
        TenantBucket { bucket, tenant }
    }

    /// The tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// `<prefix>/<tenant>/`.
    pub fn root(&self) -> Path {
        self.bucket.path([self.tenant.as_str()])
    }

    /// `<prefix>/<tenant>/bucket-index.json.gz`.
    pub fn index_path(&self) -> Path {
        self.bucket.path([self.tenant.as_str(), INDEX_OBJECT])
    }

    /// `<prefix>/<tenant>/<ulid>/`.
    pub fn block_dir(&self, id: &BlockId) -> Path {
        self.bucket.path([self.tenant.as_str(), id.as_str()])
    }

    /// `<prefix>/<tenant>/<ulid>/<file>`.
    pub fn block_file(&self, id: &BlockId, file: &str) -> Path {
        self.bucket.path([self.tenant.as_str(), id.as_str(), file])
    }

    /// The block id and file name of a key under this tenant's prefix,
    /// if it is a block file; anything else (the index, junk) is `None`.
    pub fn parse_block_key(&self, key: &Path) -> Option<(BlockId, String)> {
        let rest: Vec<_> = key.prefix_match(&self.root())?.collect();
        match rest.as_slice() {
            [id, file] => Some((BlockId::parse(id.as_ref())?, file.as_ref().to_string())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_ulids_are_block_ids() {
        let good = ulid::Ulid::new().to_string();
        for (s, ok) in [
            (good.as_str(), true),
            ("", false),
            ("..", false),
            ("01ARZ3NDEKTSV4RRFFQ69G5FAV/../x", false),
            ("01arz3ndektsv4rrffq69g5fav", false),
            ("01ARZ3NDEKTSV4RRFFQ69G5FAV", true),
        ] {
            assert_eq!(BlockId::parse(s).is_some(), ok, "{s:?}");
        }
    }

    #[test]
    fn keys_stay_under_the_tenant() {
        let b = Arc::new(
            Bucket::with_store(Arc::new(object_store::memory::InMemory::new()), "pre/fix").unwrap(),
        );
        let t = TenantBucket::new(b.clone(), TenantId::new("team-a").unwrap());
        let id = BlockId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap();
        assert_eq!(
            t.block_file(&id, "meta.json").as_ref(),
            "pre/fix/team-a/01ARZ3NDEKTSV4RRFFQ69G5FAV/meta.json"
        );
        assert_eq!(
            t.index_path().as_ref(),
            "pre/fix/team-a/bucket-index.json.gz"
        );
        let other = TenantBucket::new(b, TenantId::new("team-b").unwrap());
        let key = other.block_file(&id, "chunks");
        assert_eq!(t.parse_block_key(&key), None, "another tenant's key");
        assert_eq!(other.parse_block_key(&key), Some((id, "chunks".into())));
        assert_eq!(other.parse_block_key(&other.index_path()), None);
    }
}

//! The bucket index: one gzip-compressed JSON object per tenant listing
//! the tenant's published blocks (their metas and file sizes) and the
//! blocks marked for deletion, so that neither a query nor a start lists
//! the bucket. It plays the role of Mimir's `bucket-index.json.gz`; the
//! format is Tessera's own (`storage-format.md`, "Bucket index").
//!
//! The index is written only after the objects it names: a block enters
//! it after its `meta.json` was uploaded, and leaves it after its files
//! were deleted. The bucket itself stays the truth; [`rebuild`] derives
//! the index from a listing (the background cleaner's job).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::layout::{BlockId, TenantBucket, DELETION_MARK};
use crate::storage::block::meta::META_FILE;
use crate::storage::block::BlockMeta;
use crate::storage::error::{Result, StorageError};

/// Version of the index document this code writes and reads.
pub(crate) const INDEX_VERSION: u32 = 1;
/// Largest decompressed index accepted, so a damaged or hostile object
/// cannot make a reader allocate without bound.
const MAX_INDEX_BYTES: u64 = 512 << 20;

/// One published block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IndexedBlock {
    /// The block's `meta.json` contents.
    pub meta: BlockMeta,
    /// Size in bytes of each of its files (`chunks`, `index`, `meta.json`).
    pub files: BTreeMap<String, u64>,
}

/// A block marked for deletion, and when it was marked (ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeletionMark {
    /// The block.
    pub ulid: String,
    /// When it was marked; its files go `deletion_delay` later.
    pub deletion_time: i64,
}

/// The contents of `bucket-index.json.gz`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BucketIndex {
    /// [`INDEX_VERSION`].
    pub version: u32,
    /// When it was written (ms).
    pub updated_at: i64,
    /// Published blocks, marked or not, oldest first.
    pub blocks: Vec<IndexedBlock>,
    /// Blocks marked for deletion (each also in `blocks` until its files
    /// are gone).
    pub deletions: Vec<DeletionMark>,
}

impl BucketIndex {
    /// Blocks readers use: published and not marked for deletion.
    pub fn live(&self) -> impl Iterator<Item = &IndexedBlock> {
        let marked: BTreeSet<&str> = self.deletions.iter().map(|d| d.ulid.as_str()).collect();
        self.blocks
            .iter()
            .filter(move |b| !marked.contains(b.meta.ulid.as_str()))
    }

    /// Whether the index names `ulid` at all (live or marked).
    pub fn contains(&self, ulid: &str) -> bool {
        self.blocks.iter().any(|b| b.meta.ulid == ulid)
    }

    /// Whether `ulid` is marked for deletion.
    pub fn is_marked(&self, ulid: &str) -> bool {
        self.deletions.iter().any(|d| d.ulid == ulid)
    }

    /// Adds (or replaces) a block, then marks what it replaces: the
    /// sources of every block, so a compaction's sources stop being read
    /// the moment its result is listed.
    pub fn add(&mut self, b: IndexedBlock, now: i64) {
        self.blocks.retain(|x| x.meta.ulid != b.meta.ulid);
        self.blocks.push(b);
        self.blocks
            .sort_by(|x, y| (x.meta.min_time, &x.meta.ulid).cmp(&(y.meta.min_time, &y.meta.ulid)));
        self.mark_replaced(now);
    }

    /// Marks every block that is a source of another listed block.
    pub fn mark_replaced(&mut self, now: i64) {
        let replaced: BTreeSet<String> = self
            .blocks
            .iter()
            .flat_map(|b| b.meta.compaction.sources.iter().cloned())
            .collect();
        for u in replaced {
            if self.contains(&u) {
                self.mark(&u, now);
            }
        }
    }

    /// Marks `ulid` for deletion at `now` (an earlier mark stays).
    pub fn mark(&mut self, ulid: &str, now: i64) {
        if !self.is_marked(ulid) {
            self.deletions.push(DeletionMark {
                ulid: ulid.to_string(),
                deletion_time: now,
            });
        }
    }

    /// Forgets `ulid` (its files are gone).
    pub fn remove(&mut self, ulid: &str) {
        self.blocks.retain(|b| b.meta.ulid != ulid);
        self.deletions.retain(|d| d.ulid != ulid);
    }

    /// The gzip-compressed JSON document.
    pub fn encode(&self) -> Result<Bytes> {
        let json = serde_json::to_vec(self).map_err(|e| StorageError::Config(e.to_string()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&json)
            .and_then(|_| gz.finish())
            .map(Bytes::from)
            .map_err(|e| StorageError::io("bucket index", e))
    }

    /// Decodes an index read from `name`. Never panics: bad gzip (its
    /// CRC32 covers the document), bad JSON, an unknown version or an id
    /// that is not a ULID are `DataCorruption`.
    pub fn decode(bytes: &[u8], name: &str) -> Result<BucketIndex> {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_INDEX_BYTES + 1)
            .read_to_end(&mut json)
            .map_err(|e| StorageError::corruption(name, 0, format!("gzip: {e}")))?;
        if json.len() as u64 > MAX_INDEX_BYTES {
            return Err(StorageError::corruption(name, 0, "index too large"));
        }
        let ix: BucketIndex = serde_json::from_slice(&json)
            .map_err(|e| StorageError::corruption(name, e.column() as u64, e.to_string()))?;
        if ix.version != INDEX_VERSION {
            return Err(StorageError::corruption(
                name,
                0,
                format!("unsupported bucket index version {}", ix.version),
            ));
        }
        for u in ix
            .blocks
            .iter()
            .map(|b| &b.meta.ulid)
            .chain(ix.deletions.iter().map(|d| &d.ulid))
        {
            BlockId::checked(u, name)?;
        }
        Ok(ix)
    }

    /// Reads the tenant's index; an absent one is empty.
    pub fn read(tb: &TenantBucket) -> Result<BucketIndex> {
        let path = tb.index_path();
        match tb.bucket.get(&path)? {
            Some(b) => BucketIndex::decode(&b, path.as_ref()),
            None => Ok(BucketIndex {
                version: INDEX_VERSION,
                ..BucketIndex::default()
            }),
        }
    }

    /// Writes the tenant's index (one PUT: it is replaced whole).
    pub fn write(&mut self, tb: &TenantBucket, now: i64) -> Result<()> {
        self.version = INDEX_VERSION;
        self.updated_at = now;
        tb.bucket.put(&tb.index_path(), self.encode()?)
    }
}

/// A block directory in the bucket without `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Partial {
    /// The block.
    pub id: BlockId,
    /// Newest modification time of its objects (ms).
    pub newest_ms: i64,
    /// Whether it holds a deletion mark (a deletion cut short).
    pub marked: bool,
}

/// What a listing of the tenant's prefix shows.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// The index the listing implies: blocks with a `meta.json`, marks.
    pub index: BucketIndex,
    /// Block directories without `meta.json`.
    pub partials: Vec<Partial>,
}

/// Builds the index from a listing of the tenant's prefix (reading each
/// block's `meta.json` and deletion mark). Only the background cleaner
/// does this; queries and starts read the index.
pub(crate) fn rebuild(tb: &TenantBucket, now: i64) -> Result<Listing> {
    let mut dirs: BTreeMap<BlockId, BTreeMap<String, (u64, i64)>> = BTreeMap::new();
    for o in tb.bucket.list(&tb.root())? {
        if let Some((id, file)) = tb.parse_block_key(&o.location) {
            let when = o.last_modified.timestamp_millis();
            dirs.entry(id).or_default().insert(file, (o.size, when));
        }
    }
    let mut out = Listing::default();
    out.index.version = INDEX_VERSION;
    for (id, files) in dirs {
        let marked = files.contains_key(DELETION_MARK);
        if !files.contains_key(META_FILE) {
            let newest_ms = files.values().map(|f| f.1).max().unwrap_or(now);
            out.partials.push(Partial {
                id,
                newest_ms,
                marked,
            });
            continue;
        }
        let meta = read_meta(tb, &id)?;
        let sizes = files
            .iter()
            .filter(|(n, _)| n.as_str() != DELETION_MARK)
            .map(|(n, (s, _))| (n.clone(), *s))
            .collect();
        out.index.blocks.push(IndexedBlock { meta, files: sizes });
        if marked {
            let t = read_mark(tb, &id)?.unwrap_or(now);
            out.index.mark(id.as_str(), t);
        }
    }
    out.index
        .blocks
        .sort_by_key(|b| (b.meta.min_time, b.meta.ulid.clone()));
    out.index.mark_replaced(now);
    Ok(out)
}

/// Reads and verifies a block's `meta.json` from the bucket.
pub(crate) fn read_meta(tb: &TenantBucket, id: &BlockId) -> Result<BlockMeta> {
    let path = tb.block_file(id, META_FILE);
    let bytes = tb.bucket.get(&path)?.ok_or_else(|| {
        StorageError::corruption(path.as_ref(), 0, "meta.json vanished while listing")
    })?;
    let meta = BlockMeta::decode(&bytes, path.as_ref())?;
    if meta.ulid != id.as_str() {
        return Err(StorageError::corruption(
            path.as_ref(),
            0,
            format!("meta.json names block {}", meta.ulid),
        ));
    }
    Ok(meta)
}

/// The deletion mark object's body.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarkFile {
    ulid: String,
    deletion_time: i64,
}

/// Writes `<ulid>/deletion-mark.json`.
pub(crate) fn write_mark(tb: &TenantBucket, id: &BlockId, now: i64) -> Result<()> {
    let body = serde_json::to_vec(&MarkFile {
        ulid: id.to_string(),
        deletion_time: now,
    })
    .map_err(|e| StorageError::Config(e.to_string()))?;
    tb.bucket
        .put(&tb.block_file(id, DELETION_MARK), Bytes::from(body))
}

fn read_mark(tb: &TenantBucket, id: &BlockId) -> Result<Option<i64>> {
    let path = tb.block_file(id, DELETION_MARK);
    Ok(tb
        .bucket
        .get(&path)?
        .and_then(|b| serde_json::from_slice::<MarkFile>(&b).ok())
        .map(|m| m.deletion_time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::block::{BlockStats, Compaction};
    use proptest::prelude::*;

    fn block(ulid: &str, min: i64, sources: &[&str]) -> IndexedBlock {
        IndexedBlock {
            meta: BlockMeta {
                ulid: ulid.into(),
                min_time: min,
                max_time: min + 10,
                stats: BlockStats::default(),
                compaction: Compaction {
                    level: 1 + u32::from(!sources.is_empty()),
                    sources: sources.iter().map(|s| s.to_string()).collect(),
                },
                version: 1,
                extra: BTreeMap::new(),
            },
            files: BTreeMap::from([("chunks".into(), 12), ("index".into(), 80)]),
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|_| ulid::Ulid::new().to_string()).collect()
    }

    #[test]
    fn adding_a_compacted_block_marks_its_sources() {
        let u = ids(3);
        let mut ix = BucketIndex::default();
        ix.add(block(&u[0], 0, &[]), 1);
        ix.add(block(&u[1], 10, &[]), 1);
        assert_eq!(ix.live().count(), 2);
        ix.add(block(&u[2], 0, &[&u[0], &u[1]]), 5);
        let live: Vec<_> = ix.live().map(|b| b.meta.ulid.clone()).collect();
        assert_eq!(live, vec![u[2].clone()]);
        assert!(ix.is_marked(&u[0]) && ix.is_marked(&u[1]));
        ix.remove(&u[0]);
        assert!(!ix.contains(&u[0]) && !ix.is_marked(&u[0]));
    }

    #[test]
    fn decoding_refuses_damage() {
        let u = ids(1);
        let mut ix = BucketIndex {
            version: INDEX_VERSION,
            ..Default::default()
        };
        ix.add(block(&u[0], 0, &[]), 1);
        let good = ix.encode().unwrap();
        assert_eq!(BucketIndex::decode(&good, "x").unwrap(), ix);
        let mut flipped = good.to_vec();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x40;
        let mut bad_id = ix.clone();
        bad_id.blocks[0].meta.ulid = "../other-tenant".into();
        let mut bad_version = ix.clone();
        bad_version.version = 99;
        for (what, bytes) in [
            ("empty", Vec::new()),
            ("flipped", flipped),
            ("truncated", good[..good.len() - 3].to_vec()),
            ("not gzip", b"{}".to_vec()),
            ("bad id", bad_id.encode().unwrap().to_vec()),
            ("bad version", bad_version.encode().unwrap().to_vec()),
        ] {
            let e = BucketIndex::decode(&bytes, "x").unwrap_err();
            assert!(
                matches!(e, StorageError::DataCorruption { .. }),
                "{what}: {e}"
            );
        }
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = BucketIndex::decode(&bytes, "x");
        }

        #[test]
        fn round_trip(n in 0usize..6, marked in proptest::collection::vec(any::<bool>(), 6), t in any::<i64>()) {
            let u = ids(n);
            let mut ix = BucketIndex { version: INDEX_VERSION, updated_at: t, ..Default::default() };
            for (i, id) in u.iter().enumerate() {
                ix.add(block(id, i as i64 * 10, &[]), t);
                if marked[i] {
                    ix.mark(id, t);
                }
            }
            prop_assert_eq!(BucketIndex::decode(&ix.encode().unwrap(), "x").unwrap(), ix);
        }
    }
}

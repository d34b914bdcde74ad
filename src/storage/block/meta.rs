//! `meta.json`: a block's time range, statistics and compaction lineage,
//! with a CRC32C over its own canonical serialization.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::storage::error::{Result, StorageError};

/// Name of the meta file inside a block directory.
pub(crate) const META_FILE: &str = "meta.json";
/// Version of the block layout this code writes and reads.
pub(crate) const BLOCK_VERSION: u32 = 1;

/// Sample, series and chunk counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStats {
    /// Samples stored.
    pub num_samples: u64,
    /// Series stored.
    pub num_series: u64,
    /// Chunks stored.
    pub num_chunks: u64,
}

/// How a block came to be.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compaction {
    /// 1 for a block written from the head; one more than the highest
    /// source level for a compacted block.
    pub level: u32,
    /// Ids of the blocks this one replaces (empty for level 1).
    pub sources: Vec<String>,
}

/// The contents of `meta.json`, minus its checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    /// Block id (a ULID).
    pub ulid: String,
    /// Oldest sample time (inclusive, ms).
    pub min_time: i64,
    /// One past the newest sample time (exclusive, ms).
    pub max_time: i64,
    /// Counts.
    pub stats: BlockStats,
    /// Lineage.
    pub compaction: Compaction,
    /// Layout version, [`BLOCK_VERSION`].
    pub version: u32,
    /// Fields a producer adds for its own bookkeeping (a replicated
    /// ingest log would record the last sequence the block covers). Kept
    /// through uploads and indexes; absent when empty, so metas written
    /// before it existed keep their checksum.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct MetaFile {
    #[serde(flatten)]
    meta: BlockMeta,
    crc32c: u32,
}

impl BlockMeta {
    fn checksum(&self) -> Result<u32> {
        let bytes = serde_json::to_vec(self).map_err(|e| StorageError::Config(e.to_string()))?;
        Ok(crc32c::crc32c(&bytes))
    }

    /// Writes `meta.json` into `dir` and fsyncs it.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let file = MetaFile {
            meta: self.clone(),
            crc32c: self.checksum()?,
        };
        let bytes =
            serde_json::to_vec_pretty(&file).map_err(|e| StorageError::Config(e.to_string()))?;
        let path = dir.join(META_FILE);
        super::write_synced(&path, &bytes)
    }

    /// Reads and verifies `meta.json` in `dir`.
    pub(crate) fn read(dir: &Path) -> Result<BlockMeta> {
        let path = dir.join(META_FILE);
        let bytes = std::fs::read(&path).map_err(|e| StorageError::io(&path, e))?;
        BlockMeta::decode(&bytes, &path.display().to_string())
    }

    /// Decodes and verifies the bytes of a `meta.json` read from `name`.
    pub(crate) fn decode(bytes: &[u8], name: &str) -> Result<BlockMeta> {
        let name = name.to_string();
        let file: MetaFile = serde_json::from_slice(bytes)
            .map_err(|e| StorageError::corruption(&name, e.column() as u64, e.to_string()))?;
        if file.meta.checksum()? != file.crc32c {
            return Err(StorageError::corruption(
                name,
                0,
                "meta.json checksum mismatch",
            ));
        }
        if file.meta.version != BLOCK_VERSION {
            return Err(StorageError::corruption(
                name,
                0,
                format!("unsupported block version {}", file.meta.version),
            ));
        }
        Ok(file.meta)
    }
}

/// The extras of a block compacted from `sources`: for each key, the
/// value of the newest source (greatest ULID, so the one written last)
/// that has it. A producer's bookkeeping that only grows with time, like
/// the ingest-log sequence a block covers, stays valid for the merged
/// block, which holds everything its sources held.
pub(crate) fn inherited_extra<'a>(
    sources: impl IntoIterator<Item = &'a BlockMeta>,
) -> BTreeMap<String, String> {
    let mut metas: Vec<&BlockMeta> = sources.into_iter().collect();
    metas.sort_by(|a, b| a.ulid.cmp(&b.ulid));
    let mut out = BTreeMap::new();
    for m in metas {
        for (k, v) in &m.extra {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> BlockMeta {
        BlockMeta {
            ulid: "01ABC".into(),
            min_time: 5,
            max_time: 10,
            stats: BlockStats {
                num_samples: 3,
                num_series: 1,
                num_chunks: 1,
            },
            compaction: Compaction {
                level: 2,
                sources: vec!["a".into(), "b".into()],
            },
            version: BLOCK_VERSION,
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn extra_fields_survive_and_are_checksummed() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = meta();
        m.extra.insert("ingestLogSeq".into(), "42".into());
        m.write(dir.path()).unwrap();
        assert_eq!(BlockMeta::read(dir.path()).unwrap(), m);
        let p = dir.path().join(META_FILE);
        let text = std::fs::read_to_string(&p).unwrap().replace("42", "43");
        std::fs::write(&p, text).unwrap();
        assert!(BlockMeta::read(dir.path()).is_err());
    }

    #[test]
    fn compacted_blocks_inherit_the_newest_sources_extras() {
        let with = |ulid: &str, kv: &[(&str, &str)]| BlockMeta {
            ulid: ulid.into(),
            extra: kv
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..meta()
        };
        let a = with("01A", &[("seq", "5"), ("only_a", "x")]);
        let b = with("01C", &[("seq", "9")]);
        let c = with("01B", &[("seq", "7")]);
        let got = inherited_extra([&b, &a, &c]);
        assert_eq!(got.get("seq").map(String::as_str), Some("9"));
        assert_eq!(got.get("only_a").map(String::as_str), Some("x"));
        assert!(inherited_extra([&meta()]).is_empty());
        assert!(inherited_extra(std::iter::empty()).is_empty());
    }

    #[test]
    fn round_trip_and_checksum() {
        let dir = tempfile::tempdir().unwrap();
        meta().write(dir.path()).unwrap();
        assert_eq!(BlockMeta::read(dir.path()).unwrap(), meta());
        let p = dir.path().join(META_FILE);
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("\"maxTime\": 10", "\"maxTime\": 11");
        std::fs::write(&p, text).unwrap();
        let err = BlockMeta::read(dir.path()).unwrap_err();
        assert!(matches!(err, StorageError::DataCorruption { .. }), "{err}");
        std::fs::write(&p, b"{").unwrap();
        assert!(matches!(
            BlockMeta::read(dir.path()).unwrap_err(),
            StorageError::DataCorruption { .. }
        ));
    }
}

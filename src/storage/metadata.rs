//! Per-tenant metric metadata (`# TYPE`, `# HELP`, `# UNIT` and the
//! remote-write metadata entries), latest entry per metric wins.
//!
//! Kept in memory and mirrored to `<tenant dir>/metadata.json`, rewritten
//! atomically (temporary file, fsync, rename) only when an entry actually
//! changed, so a scrape that repeats the same metadata costs no I/O. The
//! file is small, human-readable JSON; a file that fails to parse is
//! logged and treated as empty, since metadata is advisory and is sent
//! again by every scrape or push.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{block, Result, Storage, StorageError};
use crate::tenant::TenantId;

/// File name of a tenant's metadata, inside its directory.
pub const METADATA_FILE: &str = "metadata.json";

/// Version of the metadata file's JSON layout.
const METADATA_VERSION: u32 = 1;

/// Metadata of one metric family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricMetadata {
    /// Metric family name.
    pub metric: String,
    /// Type in Prometheus API spelling: `counter`, `gauge`, `histogram`,
    /// `gaugehistogram`, `summary`, `info`, `stateset` or `unknown`.
    pub kind: String,
    /// Help text.
    pub help: String,
    /// Unit, empty if none.
    pub unit: String,
}

#[derive(Serialize, Deserialize)]
struct MetadataFile {
    version: u32,
    metadata: Vec<MetricMetadata>,
}

type TenantMetadata = Arc<Mutex<BTreeMap<String, MetricMetadata>>>;

/// The in-memory store of every tenant's metadata, loaded lazily.
#[derive(Default)]
pub(crate) struct MetadataStore {
    tenants: Mutex<HashMap<TenantId, TenantMetadata>>,
}

impl MetadataStore {
    /// Forgets a tenant's map (its file goes with the tenant's directory).
    pub(crate) fn forget(&self, tenant: &TenantId) {
        self.tenants.lock().remove(tenant);
    }

    /// The tenant's map, read from `dir` on first use.
    fn tenant(&self, tenant: &TenantId, dir: &Path) -> TenantMetadata {
        let mut tenants = self.tenants.lock();
        tenants
            .entry(tenant.clone())
            .or_insert_with(|| Arc::new(Mutex::new(load(&dir.join(METADATA_FILE)))))
            .clone()
    }
}

fn load(path: &Path) -> BTreeMap<String, MetricMetadata> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read metadata; starting empty");
            return BTreeMap::new();
        }
    };
    let Some(bytes) = unseal(&bytes) else {
        tracing::warn!(file = %path.display(), "metadata file fails its checksum; starting empty");
        return BTreeMap::new();
    };
    match serde_json::from_slice::<MetadataFile>(bytes) {
        Ok(f) if f.version == METADATA_VERSION => f
            .metadata
            .into_iter()
            .map(|m| (m.metric.clone(), m))
            .collect(),
        Ok(f) => {
            tracing::warn!(file = %path.display(), version = f.version, "unknown metadata version; starting empty");
            BTreeMap::new()
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "corrupt metadata file; starting empty");
            BTreeMap::new()
        }
    }
}

/// The line that ends a sealed file: `# crc32c ` and eight hex digits.
const SEAL_PREFIX: &[u8] = b"\n# crc32c ";

/// Appends a checksum line covering `bytes`, so small JSON state files obey
/// the rule that every byte on disk is covered by a checksum.
fn seal(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.extend_from_slice(SEAL_PREFIX);
    out.extend_from_slice(format!("{:08x}\n", crc32c::crc32c(bytes)).as_bytes());
    out
}

/// The content of a file written by [`write_file_atomic`], if its checksum
/// line is present and matches.
pub(crate) fn unseal(bytes: &[u8]) -> Option<&[u8]> {
    let body_len = bytes.len().checked_sub(SEAL_PREFIX.len() + 9)?;
    let (body, tail) = bytes.split_at(body_len);
    let hex = tail.strip_prefix(SEAL_PREFIX)?.strip_suffix(b"\n")?;
    let want = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
    (crc32c::crc32c(body) == want).then_some(body)
}

/// Writes `bytes`, sealed with a checksum line, to `path` so that a crash
/// leaves either the old or the new content: a synced temporary file
/// renamed over the target, then the directory synced.
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let bytes = &seal(bytes)[..];
    let dir = path
        .parent()
        .ok_or_else(|| StorageError::io(path, std::io::Error::other("no parent directory")))?;
    std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    block::write_synced(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| StorageError::io(path, e))?;
    block::fsync_dir(dir)
}

impl Storage {
    /// The directory holding `tenant`'s data (it may not exist yet).
    pub(crate) fn tenant_dir(&self, tenant: &TenantId) -> PathBuf {
        self.inner
            .cfg
            .data_dir
            .join("tenants")
            .join(tenant.as_str())
    }

    /// Records metadata for `tenant`; for each metric the latest entry
    /// wins. The file is rewritten only if something changed.
    pub fn record_metadata(&self, tenant: &TenantId, entries: &[MetricMetadata]) -> Result<()> {
        self.check_open()?;
        if entries.is_empty() {
            return Ok(());
        }
        let dir = self.tenant_dir(tenant);
        let map = self.inner.metadata.tenant(tenant, &dir);
        // Held across the write so concurrent writers persist in order.
        let mut map = map.lock();
        let mut changed = false;
        for m in entries {
            if map.get(&m.metric) != Some(m) {
                map.insert(m.metric.clone(), m.clone());
                changed = true;
            }
        }
        if !changed {
            return Ok(());
        }
        let file = MetadataFile {
            version: METADATA_VERSION,
            metadata: map.values().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| StorageError::io(&dir, std::io::Error::other(e)))?;
        write_file_atomic(&dir.join(METADATA_FILE), &bytes)
    }

    /// `tenant`'s metadata sorted by metric name: only `metric` if given,
    /// at most `limit` entries if given.
    pub fn metadata(
        &self,
        tenant: &TenantId,
        metric: Option<&str>,
        limit: Option<usize>,
    ) -> Vec<MetricMetadata> {
        let map = self.inner.metadata.tenant(tenant, &self.tenant_dir(tenant));
        let map = map.lock();
        let limit = limit.unwrap_or(usize::MAX);
        match metric {
            Some(name) => map.get(name).cloned().into_iter().take(limit).collect(),
            None => map.values().take(limit).cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageConfig;

    fn md(metric: &str, kind: &str, help: &str) -> MetricMetadata {
        MetricMetadata {
            metric: metric.into(),
            kind: kind.into(),
            help: help.into(),
            unit: String::new(),
        }
    }

    fn open(dir: &Path) -> Storage {
        let mut cfg = StorageConfig::new(dir);
        cfg.maintenance_interval = None;
        Storage::open(cfg).unwrap().0
    }

    #[test]
    fn latest_wins_filters_limits_and_survives_restart() {
        let dir = tempfile::tempdir().unwrap();
        let a = TenantId::new("a").unwrap();
        let b = TenantId::new("b").unwrap();
        let st = open(dir.path());
        assert!(st.metadata(&a, None, None).is_empty());
        st.record_metadata(&a, &[]).unwrap();
        assert!(!st.tenant_dir(&a).join(METADATA_FILE).exists());
        st.record_metadata(&a, &[md("up", "gauge", "old"), md("x", "counter", "")])
            .unwrap();
        st.record_metadata(&a, &[md("up", "gauge", "new")]).unwrap();
        st.record_metadata(&b, &[md("only_b", "summary", "")])
            .unwrap();
        // (metric filter, limit, metrics expected for tenant a)
        let cases: &[(Option<&str>, Option<usize>, &[&str])] = &[
            (None, None, &["up", "x"]),
            (None, Some(1), &["up"]),
            (None, Some(0), &[]),
            (Some("x"), None, &["x"]),
            (Some("only_b"), None, &[]),
            (Some("missing"), Some(5), &[]),
        ];
        for (metric, limit, want) in cases {
            let got: Vec<String> = st
                .metadata(&a, *metric, *limit)
                .into_iter()
                .map(|m| m.metric)
                .collect();
            assert_eq!(got, *want, "{metric:?} {limit:?}");
        }
        assert_eq!(st.metadata(&a, Some("up"), None)[0].help, "new");
        st.close().unwrap();
        drop(st);
        let st = open(dir.path());
        assert_eq!(
            st.metadata(&a, Some("up"), None),
            vec![md("up", "gauge", "new")]
        );
        assert_eq!(
            st.metadata(&b, None, None),
            vec![md("only_b", "summary", "")]
        );
    }

    #[test]
    fn unchanged_metadata_does_not_rewrite_and_corrupt_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let a = TenantId::new("a").unwrap();
        let st = open(dir.path());
        st.record_metadata(&a, &[md("up", "gauge", "h")]).unwrap();
        let path = st.tenant_dir(&a).join(METADATA_FILE);
        std::fs::write(&path, b"sentinel").unwrap();
        st.record_metadata(&a, &[md("up", "gauge", "h")]).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"sentinel");
        st.close().unwrap();
        drop(st);
        let st = open(dir.path());
        assert!(st.metadata(&a, None, None).is_empty());
    }

    #[test]
    fn sealed_files_detect_any_changed_byte() {
        let body = br#"{"version":1,"metadata":[]}"#;
        let sealed = seal(body);
        assert_eq!(unseal(&sealed), Some(&body[..]));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(unseal(&bad), None, "flipped byte {i}");
        }
        assert_eq!(unseal(body), None, "an unsealed file is refused");
        assert_eq!(unseal(b""), None);
    }
}

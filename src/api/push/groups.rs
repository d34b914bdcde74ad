//! The push-group registry: which series each grouping key last pushed,
//! per tenant, so a later PUT, POST or DELETE knows what to mark stale.
//!
//! Kept in memory and mirrored to `<tenant dir>/push_groups.json`,
//! rewritten atomically after every change so that a DELETE after a
//! restart still finds the group's series.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::storage::metadata::write_file_atomic;
use crate::storage::StorageError;
use crate::tenant::TenantId;

/// File name of a tenant's registry, inside its directory.
pub(crate) const PUSH_GROUPS_FILE: &str = "push_groups.json";

/// Version of the registry file's JSON layout.
const PUSH_GROUPS_VERSION: u32 = 1;

/// A label set as sorted `(name, value)` pairs without empty values.
pub(crate) type LabelPairs = Vec<(String, String)>;

/// Every tenant's registry, loaded lazily on first use.
#[derive(Default)]
pub(crate) struct PushGroups {
    tenants: Mutex<HashMap<TenantId, Arc<Mutex<TenantGroups>>>>,
}

impl PushGroups {
    /// The tenant's registry, read from `dir` on first use.
    pub(crate) fn tenant(&self, tenant: &TenantId, dir: &Path) -> Arc<Mutex<TenantGroups>> {
        self.tenants
            .lock()
            .entry(tenant.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(TenantGroups::load(&dir.join(PUSH_GROUPS_FILE))))
            })
            .clone()
    }

    /// Forgets the tenant's registry (its file went with the tenant).
    pub(crate) fn forget(&self, tenant: &TenantId) {
        self.tenants.lock().remove(tenant);
    }
}

/// One group: its series (label set → metric family) and the time of its
/// last write, so a later write never reuses that millisecond.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Group {
    pub(crate) last_ms: i64,
    pub(crate) series: BTreeMap<LabelPairs, String>,
}

/// A tenant's groups by grouping key.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct TenantGroups {
    groups: BTreeMap<LabelPairs, Group>,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    groups: Vec<FileGroup>,
}

#[derive(Serialize, Deserialize)]
struct FileGroup {
    grouping: LabelPairs,
    last_ms: i64,
    series: Vec<FileSeries>,
}

#[derive(Serialize, Deserialize)]
struct FileSeries {
    family: String,
    labels: LabelPairs,
}

impl TenantGroups {
    fn load(path: &Path) -> TenantGroups {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return TenantGroups::default(),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read push groups; starting empty");
                return TenantGroups::default();
            }
        };
        let Some(bytes) = crate::storage::unseal_state_file(&bytes) else {
            tracing::warn!(file = %path.display(), "push groups file fails its checksum; starting empty");
            return TenantGroups::default();
        };
        match serde_json::from_slice::<File>(bytes) {
            Ok(f) if f.version == PUSH_GROUPS_VERSION => TenantGroups {
                groups: f
                    .groups
                    .into_iter()
                    .map(|g| {
                        let series = g.series.into_iter().map(|s| (s.labels, s.family)).collect();
                        (
                            g.grouping,
                            Group {
                                last_ms: g.last_ms,
                                series,
                            },
                        )
                    })
                    .collect(),
            },
            Ok(f) => {
                tracing::warn!(file = %path.display(), version = f.version, "unknown push groups version; starting empty");
                TenantGroups::default()
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "corrupt push groups file; starting empty");
                TenantGroups::default()
            }
        }
    }

    /// Writes the registry to `dir` atomically.
    pub(crate) fn save(&self, dir: &Path) -> Result<(), StorageError> {
        let file = File {
            version: PUSH_GROUPS_VERSION,
            groups: self
                .groups
                .iter()
                .map(|(k, g)| FileGroup {
                    grouping: k.clone(),
                    last_ms: g.last_ms,
                    series: g
                        .series
                        .iter()
                        .map(|(l, f)| FileSeries {
                            family: f.clone(),
                            labels: l.clone(),
                        })
                        .collect(),
                })
                .collect(),
        };
        let path = dir.join(PUSH_GROUPS_FILE);
        let bytes = serde_json::to_vec(&file)
            .map_err(|e| StorageError::io(&path, std::io::Error::other(e)))?;
        write_file_atomic(&path, &bytes)
    }

    /// The write time for `key`: `now`, or just past the group's last write.
    pub(crate) fn write_time(&self, key: &LabelPairs, now: i64) -> i64 {
        match self.groups.get(key) {
            Some(g) => now.max(g.last_ms.saturating_add(1)),
            None => now,
        }
    }

    /// Installs `pushed` as the group's series at time `t` and returns the
    /// series that vanished. `families` limits the replacement to those
    /// metric families (POST); `None` replaces the whole group (PUT).
    pub(crate) fn replace(
        &mut self,
        key: &LabelPairs,
        pushed: BTreeMap<LabelPairs, String>,
        families: Option<&BTreeSet<String>>,
        t: i64,
    ) -> Vec<LabelPairs> {
        let group = self.groups.entry(key.clone()).or_default();
        let replaced = |family: &String| families.is_none_or(|f| f.contains(family));
        let vanished: Vec<LabelPairs> = group
            .series
            .iter()
            .filter(|(l, f)| replaced(f) && !pushed.contains_key(*l))
            .map(|(l, _)| l.clone())
            .collect();
        group.series.retain(|_, f| !replaced(f));
        group.series.extend(pushed);
        group.last_ms = t;
        vanished
    }

    /// Forgets the group, returning its series, or `None` if it is unknown.
    pub(crate) fn delete(&mut self, key: &LabelPairs) -> Option<Vec<LabelPairs>> {
        self.groups
            .remove(key)
            .map(|g| g.series.into_keys().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> LabelPairs {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn pushed(series: &[(&str, &str)]) -> BTreeMap<LabelPairs, String> {
        series
            .iter()
            .map(|(name, fam)| (l(&[("__name__", name)]), fam.to_string()))
            .collect()
    }

    #[test]
    fn put_post_delete_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let key = l(&[("job", "j")]);
        let mut g = TenantGroups::default();
        assert_eq!(g.write_time(&key, 5), 5);
        assert!(g
            .replace(&key, pushed(&[("a", "a"), ("b_total", "b")]), None, 5)
            .is_empty());
        assert_eq!(g.write_time(&key, 5), 6);
        assert_eq!(g.write_time(&key, 9), 9);
        // POST of family "c" leaves a and b alone.
        let fams: BTreeSet<String> = ["c".to_string()].into();
        assert!(g
            .replace(&key, pushed(&[("c", "c")]), Some(&fams), 6)
            .is_empty());
        // POST of family "b" with nothing for it drops b_total.
        let fams: BTreeSet<String> = ["b".to_string()].into();
        let gone = g.replace(&key, pushed(&[]), Some(&fams), 7);
        assert_eq!(gone, vec![l(&[("__name__", "b_total")])]);
        // PUT with only a: c vanishes.
        let gone = g.replace(&key, pushed(&[("a", "a")]), None, 8);
        assert_eq!(gone, vec![l(&[("__name__", "c")])]);
        g.save(dir.path()).unwrap();
        let mut back = TenantGroups::load(&dir.path().join(PUSH_GROUPS_FILE));
        assert_eq!(back, g);
        assert_eq!(back.delete(&key), Some(vec![l(&[("__name__", "a")])]));
        assert_eq!(back.delete(&key), None);
    }

    #[test]
    fn missing_or_corrupt_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PUSH_GROUPS_FILE);
        assert_eq!(TenantGroups::load(&path), TenantGroups::default());
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(TenantGroups::load(&path), TenantGroups::default());
    }
}

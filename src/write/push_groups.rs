//! The push-group registry: which series each grouping key last pushed,
//! per tenant, so a later PUT, POST or DELETE knows what to mark stale.
//!
//! One logic ([`TenantGroups`]: replace, delete, write time) over two
//! stores ([`GroupStore`]). On one node the registry is kept in memory and
//! mirrored through storage's tenant state files
//! ([`TenantStateFile::PushGroups`], `push_groups.json` in the tenant's
//! directory), rewritten atomically after every change so that a DELETE
//! after a restart still finds the group's series. In cluster mode it lives
//! in the cluster's key-value bucket (the same JSON, one key per tenant),
//! read and changed by compare-and-set on every push, so every node sees
//! the groups pushed through the others.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::WriteError;
use crate::cluster::{Cluster, RegistryError};
use crate::storage::{Storage, StorageError, TenantStateFile};
use crate::tenant::TenantId;

/// Version of the registry file's JSON layout.
const PUSH_GROUPS_VERSION: u32 = 1;

/// A label set as sorted `(name, value)` pairs without empty values.
pub(crate) type LabelPairs = Vec<(String, String)>;

/// Every tenant's registry, loaded lazily on first use.
#[derive(Default)]
pub struct PushGroups {
    tenants: Mutex<HashMap<TenantId, Arc<Mutex<TenantGroups>>>>,
}

impl PushGroups {
    /// The tenant's registry, read from storage on first use.
    pub(crate) fn tenant(&self, storage: &Storage, tenant: &TenantId) -> Arc<Mutex<TenantGroups>> {
        self.tenants
            .lock()
            .entry(tenant.clone())
            .or_insert_with(|| Arc::new(Mutex::new(TenantGroups::load(storage, tenant))))
            .clone()
    }

    /// Forgets the tenant's registry (its file went with the tenant).
    pub fn forget(&self, tenant: &TenantId) {
        self.tenants.lock().remove(tenant);
    }

    /// Applies `change` to the tenant's registry, then hands what it
    /// returned to `write` (which stores the push's samples and stale
    /// markers). `change` returns `None` when it changed nothing; then
    /// nothing is written. On one node the tenant's registry stays locked
    /// throughout, so the tenant's pushes are stored in the order of their
    /// write times, and the state file is rewritten after `write`. In
    /// cluster mode `change` may run more than once (each time on the
    /// newest registry another node wrote), and the registry is written
    /// before `write` runs; a registry over the bucket's value limit
    /// refuses the push before anything is stored.
    pub(crate) fn change<R>(
        &self,
        store: GroupStore<'_>,
        tenant: &TenantId,
        mut change: impl FnMut(&mut TenantGroups) -> Option<R>,
        write: impl FnOnce(R) -> Result<(), WriteError>,
    ) -> Result<(), WriteError> {
        match store {
            GroupStore::Node(storage) => {
                let registry = self.tenant(storage, tenant);
                let mut registry = registry.lock();
                let Some(r) = change(&mut registry) else {
                    return Ok(());
                };
                let result = write(r);
                registry.save(storage, tenant)?;
                result
            }
            GroupStore::Cluster(cluster) => {
                let changed = cluster.change_push_groups(tenant, |bytes| {
                    let mut registry = match bytes {
                        Some(b) => TenantGroups::parse(tenant, b),
                        None => TenantGroups::default(),
                    };
                    let Some(r) = change(&mut registry) else {
                        return Ok(None);
                    };
                    let bytes = registry.to_bytes().map_err(|e| e.to_string())?;
                    Ok(Some((bytes, r)))
                });
                match changed {
                    Ok(Some(r)) => write(r),
                    Ok(None) => Ok(()),
                    Err(e @ RegistryError::TooLarge { .. }) => {
                        Err(WriteError::TooLarge(e.to_string()))
                    }
                    Err(e) => Err(StorageError::Cluster(e.to_string()).into()),
                }
            }
        }
    }
}

/// Where a tenant's registry is kept.
#[derive(Clone, Copy)]
pub(crate) enum GroupStore<'a> {
    /// Storage's tenant state file, on a single node.
    Node(&'a Storage),
    /// The cluster's key-value bucket, shared by every node.
    Cluster(&'a Cluster),
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
    fn load(storage: &Storage, tenant: &TenantId) -> TenantGroups {
        let bytes = match storage.read_tenant_state(tenant, TenantStateFile::PushGroups) {
            Ok(Some(b)) => b,
            Ok(None) => return TenantGroups::default(),
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "cannot read push groups; starting empty");
                return TenantGroups::default();
            }
        };
        TenantGroups::parse(tenant, &bytes)
    }

    fn parse(tenant: &TenantId, bytes: &[u8]) -> TenantGroups {
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
                tracing::warn!(tenant = %tenant, version = f.version, "unknown push groups version; starting empty");
                TenantGroups::default()
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "corrupt push groups file; starting empty");
                TenantGroups::default()
            }
        }
    }

    /// Writes the registry through storage, atomically.
    pub(crate) fn save(&self, storage: &Storage, tenant: &TenantId) -> Result<(), StorageError> {
        let name = TenantStateFile::PushGroups.name();
        let bytes = self
            .to_bytes()
            .map_err(|e| StorageError::io(name, std::io::Error::other(e)))?;
        storage.write_tenant_state(tenant, TenantStateFile::PushGroups, &bytes)
    }

    /// The registry's JSON (the state file's and the bucket value's).
    fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
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
        serde_json::to_vec(&file)
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

    fn open(dir: &std::path::Path) -> Storage {
        Storage::open(crate::storage::StorageConfig::new(dir))
            .unwrap()
            .0
    }

    fn tenant() -> TenantId {
        TenantId::new("t").unwrap()
    }

    #[test]
    fn put_post_delete_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(dir.path());
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
        g.save(&storage, &tenant()).unwrap();
        let mut back = TenantGroups::load(&storage, &tenant());
        assert_eq!(back, g);
        assert_eq!(back.delete(&key), Some(vec![l(&[("__name__", "a")])]));
        assert_eq!(back.delete(&key), None);
    }

    #[test]
    fn node_store_writes_the_file_only_for_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(dir.path());
        let groups = PushGroups::default();
        let key = l(&[("job", "j")]);
        let file = || {
            storage
                .read_tenant_state(&tenant(), TenantStateFile::PushGroups)
                .unwrap()
        };
        // Nothing changed (an unknown group deleted): no write, no file.
        let unchanged = groups.change(
            GroupStore::Node(&storage),
            &tenant(),
            |g| g.delete(&key),
            |_| panic!("nothing to write"),
        );
        assert!(unchanged.is_ok());
        assert_eq!(file(), None);
        // A change reaches the write, and is kept even when the write
        // fails (as before: the push is answered with the error).
        let mut written = None;
        let failed = groups.change(
            GroupStore::Node(&storage),
            &tenant(),
            |g| Some(g.replace(&key, pushed(&[("a", "a")]), None, 7)),
            |vanished| {
                written = Some(vanished);
                Err(WriteError::Invalid("refused".into()))
            },
        );
        assert_eq!(failed.unwrap_err().to_string(), "refused");
        assert_eq!(written, Some(Vec::new()));
        let back = TenantGroups::parse(&tenant(), &file().unwrap());
        assert_eq!(back.write_time(&key, 0), 8);
    }

    #[test]
    fn missing_or_corrupt_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(dir.path());
        assert_eq!(
            TenantGroups::load(&storage, &tenant()),
            TenantGroups::default()
        );
        storage
            .write_tenant_state(&tenant(), TenantStateFile::PushGroups, b"{not json")
            .unwrap();
        assert_eq!(
            TenantGroups::load(&storage, &tenant()),
            TenantGroups::default()
        );
        // A file that fails its checksum is refused by storage, then empty.
        let path = dir.path().join("tenants/t/push_groups.json");
        std::fs::write(&path, b"{\"version\":1,\"groups\":[]}").unwrap();
        assert!(storage
            .read_tenant_state(&tenant(), TenantStateFile::PushGroups)
            .is_err());
        assert_eq!(
            TenantGroups::load(&storage, &tenant()),
            TenantGroups::default()
        );
    }
}

//! The bounded on-disk cache of bucket bytes: pages of chunk files and
//! whole block indexes, evicted least-recently-used once their total
//! passes `max_bytes`.
//!
//! Entries are files under the cache directory named by their key
//! (`<tenant>/<ulid>/chunks.<page>`, `<tenant>/<ulid>/index`), so one
//! tenant's entries are never another's. A page file ends with the
//! CRC32C of its bytes (checked on every read; a mismatch is a miss); an
//! index file is checked by the index reader's own checksums. Entries are
//! written to `*.tmp` and renamed, never fsynced: after a crash a torn
//! entry fails its checksum and is fetched again. On start the directory
//! is scanned and its entries are ranked by modification time.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::storage::error::{Result, StorageError};

/// Hits and misses since the process started, for `/metrics`.
#[derive(Debug, Default)]
pub struct CacheCounters {
    /// Reads answered from the cache.
    pub hits: AtomicU64,
    /// Reads that had to fetch from the bucket.
    pub misses: AtomicU64,
}

#[derive(Default)]
struct Lru {
    /// key → (size on disk, last use)
    entries: HashMap<String, (u64, u64)>,
    /// last use → key
    order: BTreeMap<u64, String>,
    total: u64,
    clock: u64,
}

impl Lru {
    fn touch(&mut self, key: &str) -> bool {
        self.clock += 1;
        let clock = self.clock;
        match self.entries.get_mut(key) {
            Some(e) => {
                self.order.remove(&e.1);
                e.1 = clock;
                self.order.insert(clock, key.to_string());
                true
            }
            None => false,
        }
    }

    fn insert(&mut self, key: &str, size: u64) {
        self.remove(key);
        self.clock += 1;
        self.entries.insert(key.to_string(), (size, self.clock));
        self.order.insert(self.clock, key.to_string());
        self.total += size;
    }

    fn remove(&mut self, key: &str) -> bool {
        match self.entries.remove(key) {
            Some((size, at)) => {
                self.order.remove(&at);
                self.total -= size;
                true
            }
            None => false,
        }
    }

    /// Keys to evict so the total fits `max`, never `keep`.
    fn evict(&mut self, max: u64, keep: &str) -> Vec<String> {
        let mut out = Vec::new();
        while self.total > max {
            let Some((_, key)) = self.order.iter().find(|(_, k)| k.as_str() != keep) else {
                break;
            };
            let key = key.clone();
            self.remove(&key);
            out.push(key);
        }
        out
    }
}

/// The cache.
pub struct PageCache {
    dir: PathBuf,
    max_bytes: u64,
    lru: Mutex<Lru>,
    /// Hits and misses.
    pub counters: CacheCounters,
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PageCache({}, {} bytes)",
            self.dir.display(),
            self.max_bytes
        )
    }
}

impl PageCache {
    /// Opens the cache in `dir`, keeping what an earlier run left there
    /// (least recently modified evicted first).
    pub fn open(dir: &Path, max_bytes: u64) -> Result<PageCache> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let mut found = Vec::new();
        scan(dir, dir, &mut found)?;
        found.sort_by_key(|f| f.2);
        let mut lru = Lru::default();
        for (key, size, _) in found {
            lru.insert(&key, size);
        }
        let c = PageCache {
            dir: dir.to_path_buf(),
            max_bytes,
            lru: Mutex::new(lru),
            counters: CacheCounters::default(),
        };
        let doomed = c.lru.lock().evict(max_bytes, "");
        c.unlink(&doomed);
        Ok(c)
    }

    /// Bytes held now.
    pub fn bytes(&self) -> u64 {
        self.lru.lock().total
    }

    /// The configured bound.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    fn unlink(&self, keys: &[String]) {
        for k in keys {
            let _ = std::fs::remove_file(self.path(k));
        }
    }

    /// Whether `key` is cached (and marks it used).
    pub fn touch(&self, key: &str) -> bool {
        self.lru.lock().touch(key)
    }

    /// Drops `key` (its bytes were found damaged).
    pub fn remove(&self, key: &str) {
        if self.lru.lock().remove(key) {
            self.unlink(&[key.to_string()]);
        }
    }

    /// The bytes of page `key` if it is cached and intact (counted as a
    /// hit); `None` is a miss.
    pub fn get_page(&self, key: &str) -> Option<Vec<u8>> {
        if self.touch(key) {
            if let Some(b) = read_sealed(&self.path(key)) {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                return Some(b);
            }
            self.remove(key);
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Caches page `key`.
    pub fn put_page(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let mut sealed = Vec::with_capacity(bytes.len() + 4);
        sealed.extend_from_slice(bytes);
        sealed.extend_from_slice(&crc32c::crc32c(bytes).to_le_bytes());
        self.store(key, |tmp| {
            std::fs::write(tmp, &sealed).map_err(|e| StorageError::io(tmp, e))
        })
    }

    /// The bytes of page `key`, from the cache or from `fetch` (then cached).
    pub fn page(&self, key: &str, fetch: impl FnOnce() -> Result<Vec<u8>>) -> Result<Vec<u8>> {
        if let Some(b) = self.get_page(key) {
            return Ok(b);
        }
        let bytes = fetch()?;
        self.put_page(key, &bytes)?;
        Ok(bytes)
    }

    /// The path of whole-file entry `key`, filled by `fetch` into the
    /// given temporary path when missing. The caller verifies its content
    /// and calls [`PageCache::remove`] if it is bad.
    pub fn file(&self, key: &str, fetch: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
        let path = self.path(key);
        if self.touch(key) && path.exists() {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(path);
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        self.store(key, fetch)?;
        Ok(path)
    }

    /// Writes entry `key` through `write` into a temporary file, renames
    /// it into place, accounts for it and evicts what no longer fits.
    fn store(&self, key: &str, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StorageError::io(parent, e))?;
        }
        let tmp = self.dir.join(format!(
            "{}.{}.tmp",
            key.replace('/', "_"),
            ulid::Ulid::new()
        ));
        let written = write(&tmp)
            .and_then(|()| std::fs::rename(&tmp, &path).map_err(|e| StorageError::io(&path, e)));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let doomed = {
            let mut lru = self.lru.lock();
            lru.insert(key, size);
            lru.evict(self.max_bytes, key)
        };
        self.unlink(&doomed);
        Ok(())
    }
}

/// A page file's bytes if its trailing CRC32C matches.
fn read_sealed(path: &Path) -> Option<Vec<u8>> {
    let mut b = std::fs::read(path).ok()?;
    let body = b.len().checked_sub(4)?;
    let crc = u32::from_le_bytes(b[body..].try_into().ok()?);
    b.truncate(body);
    (crc32c::crc32c(&b) == crc).then_some(b)
}

/// Collects `(key, size, mtime)` of the entries under `dir`, removing
/// temporary files a crash left.
fn scan(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, u64, std::time::SystemTime)>,
) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))?;
    for entry in rd.flatten() {
        let path = entry.path();
        let Ok(md) = entry.metadata() else { continue };
        if md.is_dir() {
            scan(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "tmp") {
            let _ = std::fs::remove_file(&path);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let key = rel.to_string_lossy().into_owned();
            let mtime = md.modified().unwrap_or(std::time::UNIX_EPOCH);
            out.push((key, md.len(), mtime));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch_of(n: usize) -> impl FnOnce() -> Result<Vec<u8>> {
        move || Ok(vec![7u8; n])
    }

    #[test]
    fn evicts_least_recently_used_past_max_bytes() {
        let dir = tempfile::tempdir().unwrap();
        // Pages are stored with a 4-byte checksum: 104 bytes each.
        let c = PageCache::open(dir.path(), 320).unwrap();
        for k in ["t/a", "t/b", "t/c"] {
            c.page(k, fetch_of(100)).unwrap();
        }
        assert_eq!(c.bytes(), 312);
        c.page("t/a", || panic!("a is cached")).unwrap();
        c.page("t/d", fetch_of(100)).unwrap();
        assert!(!c.touch("t/b"), "b was the least recently used");
        assert!(c.touch("t/a") && c.touch("t/c") && c.touch("t/d"));
        assert!(c.bytes() <= 320);
        assert!(!dir.path().join("t/b").exists());
    }

    #[test]
    fn a_damaged_page_is_fetched_again() {
        let dir = tempfile::tempdir().unwrap();
        let c = PageCache::open(dir.path(), 1 << 20).unwrap();
        c.page("t/x", fetch_of(10)).unwrap();
        std::fs::write(dir.path().join("t/x"), b"garbage!!!!!!!").unwrap();
        let mut fetched = false;
        let b = c
            .page("t/x", || {
                fetched = true;
                Ok(vec![1; 10])
            })
            .unwrap();
        assert!(fetched);
        assert_eq!(b, vec![1; 10]);
    }

    #[test]
    fn a_reopened_cache_keeps_its_entries_and_drops_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = PageCache::open(dir.path(), 1 << 20).unwrap();
            c.page("t/u/chunks.00000001", fetch_of(50)).unwrap();
            c.file("t/u/index", |p| {
                std::fs::write(p, b"idx").map_err(|e| StorageError::io(p, e))
            })
            .unwrap();
        }
        std::fs::write(dir.path().join("junk.tmp"), b"half").unwrap();
        let c = PageCache::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(c.bytes(), 54 + 3);
        assert!(c.touch("t/u/index"));
        assert!(!dir.path().join("junk.tmp").exists());
        let c = PageCache::open(dir.path(), 10).unwrap();
        assert!(c.bytes() <= 10, "reopening with a smaller bound evicts");
    }

    #[test]
    fn a_failed_fetch_caches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = PageCache::open(dir.path(), 1 << 20).unwrap();
        let e = c.page("t/y", || Err(StorageError::Closed));
        assert!(e.is_err());
        assert!(!c.touch("t/y"));
        assert_eq!(c.bytes(), 0);
    }
}

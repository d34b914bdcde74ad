//! The bucket as the storage engine sees it: blocking calls over the
//! `object_store` crate's async client, which runs on a small runtime of
//! its own. Storage code runs on plain threads (the server calls it from
//! its blocking pool), so each call is spawned on that runtime and waited
//! for over a channel, which is safe from any thread.

use std::future::Future;
use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::ObjectStorageConfig;
use crate::storage::error::{Result, StorageError};

/// Files at most this big are uploaded with one PUT; bigger ones in parts.
const SINGLE_PUT_MAX: u64 = 16 << 20;
/// Part size of a multipart upload (S3 needs at least 5 MiB).
const PART_SIZE: usize = 8 << 20;

/// What was asked of the store since the process started.
#[derive(Debug, Default)]
pub struct BucketCounters {
    /// Bytes of object bodies received (GETs, whole or ranged).
    pub fetched_bytes: AtomicU64,
    /// GET requests (whole or ranged).
    pub gets: AtomicU64,
    /// Bytes uploaded.
    pub uploaded_bytes: AtomicU64,
}

/// A runtime that is shut down without blocking when dropped, so dropping
/// the storage inside an async context does not panic.
struct Rt(Option<tokio::runtime::Runtime>);

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// A bucket and the key prefix under which Tessera keeps its tenants.
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    rt: Rt,
    /// Request and byte counts, for `/metrics` and the benchmark.
    pub counters: BucketCounters,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bucket({}, prefix {})", self.store, self.prefix)
    }
}

impl Bucket {
    /// Connects to the bucket `cfg.url` names: `s3://BUCKET/PREFIX`,
    /// `file:///path` (a local directory) or `memory://` (tests).
    pub fn connect(cfg: &ObjectStorageConfig) -> Result<Bucket> {
        let (store, prefix) = super::url::open_store(cfg)?;
        Bucket::with_store(store, &prefix)
    }

    /// A bucket over an already built store, keys under `prefix`.
    pub fn with_store(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<Bucket> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tessera-bucket")
            .enable_all()
            .build()
            .map_err(|e| StorageError::io("object storage runtime", e))?;
        Ok(Bucket {
            store,
            prefix: Path::from(prefix),
            rt: Rt(Some(rt)),
            counters: BucketCounters::default(),
        })
    }

    /// The key of `parts` under the prefix.
    pub fn path<'a>(&self, parts: impl IntoIterator<Item = &'a str>) -> Path {
        let mut p = self.prefix.clone();
        for part in parts {
            p = p.join(part);
        }
        p
    }

    /// Runs `fut` on the bucket's runtime and waits for it.
    fn run<T: Send + 'static>(
        &self,
        what: &Path,
        fut: impl Future<Output = object_store::Result<T>> + Send + 'static,
    ) -> Result<T> {
        let Some(rt) = &self.rt.0 else {
            return Err(StorageError::Closed);
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        match rx.recv() {
            Ok(r) => r.map_err(|e| StorageError::object_store(what, e)),
            Err(_) => Err(StorageError::Closed),
        }
    }

    /// Writes `bytes` to `path` (an object appears whole or not at all).
    pub fn put(&self, path: &Path, bytes: Bytes) -> Result<()> {
        let (store, p, n) = (self.store.clone(), path.clone(), bytes.len() as u64);
        self.run(
            path,
            async move { store.put(&p, PutPayload::from(bytes)).await },
        )?;
        self.counters.uploaded_bytes.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Uploads the local file `file` to `path`, in parts when it is big.
    pub fn upload_file(&self, file: &FsPath, path: &Path) -> Result<()> {
        let size = std::fs::metadata(file)
            .map_err(|e| StorageError::io(file, e))?
            .len();
        if size <= SINGLE_PUT_MAX {
            let bytes = std::fs::read(file).map_err(|e| StorageError::io(file, e))?;
            return self.put(path, Bytes::from(bytes));
        }
        let (store, p, f) = (self.store.clone(), path.clone(), file.to_path_buf());
        self.run(path, async move {
            let mut w =
                WriteMultipart::new_with_chunk_size(store.put_multipart(&p).await?, PART_SIZE);
            let mut src = std::fs::File::open(&f).map_err(io_err)?;
            let mut buf = vec![0u8; PART_SIZE];
            loop {
                let n = std::io::Read::read(&mut src, &mut buf).map_err(io_err)?;
                if n == 0 {
                    break;
                }
                w.wait_for_capacity(4).await?;
                w.write(&buf[..n]);
            }
            w.finish().await.map(|_| ())
        })?;
        self.counters
            .uploaded_bytes
            .fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    /// The whole object, or `None` if there is none.
    pub fn get(&self, path: &Path) -> Result<Option<Bytes>> {
        let (store, p) = (self.store.clone(), path.clone());
        let got = self.run(path, async move {
            match store.get(&p).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        self.count_get(got.as_ref().map_or(0, |b| b.len()));
        Ok(got)
    }

    /// Streams the whole object into the local file `file`.
    pub fn download(&self, path: &Path, file: &FsPath) -> Result<u64> {
        let (store, p, f) = (self.store.clone(), path.clone(), file.to_path_buf());
        let n = self.run(path, async move {
            let mut out = std::fs::File::create(&f).map_err(io_err)?;
            let mut stream = store.get(&p).await?.into_stream();
            let mut n = 0u64;
            while let Some(chunk) = stream.try_next().await? {
                std::io::Write::write_all(&mut out, &chunk).map_err(io_err)?;
                n += chunk.len() as u64;
            }
            out.sync_all().map_err(io_err)?;
            Ok(n)
        })?;
        self.count_get(n as usize);
        Ok(n)
    }

    /// The bytes `range` of the object (a range request).
    pub fn get_range(&self, path: &Path, range: Range<u64>) -> Result<Bytes> {
        let (store, p) = (self.store.clone(), path.clone());
        let b = self.run(path, async move { store.get_range(&p, range).await })?;
        self.count_get(b.len());
        Ok(b)
    }

    fn count_get(&self, n: usize) {
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        self.counters
            .fetched_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Every object under `prefix`.
    pub fn list(&self, prefix: &Path) -> Result<Vec<ObjectMeta>> {
        let (store, p) = (self.store.clone(), prefix.clone());
        self.run(
            prefix,
            async move { store.list(Some(&p)).try_collect().await },
        )
    }

    /// The names of the "directories" directly under `prefix` (one
    /// delimiter listing, not a walk of the bucket).
    pub fn list_dirs(&self, prefix: &Path) -> Result<Vec<String>> {
        let (store, p) = (self.store.clone(), prefix.clone());
        let r = self.run(
            prefix,
            async move { store.list_with_delimiter(Some(&p)).await },
        )?;
        Ok(r.common_prefixes
            .iter()
            .filter_map(|d| d.filename().map(decode_part))
            .collect())
    }

    /// Deletes the object; a missing object is not an error.
    pub fn delete(&self, path: &Path) -> Result<()> {
        let (store, p) = (self.store.clone(), path.clone());
        self.run(path, async move {
            match store.delete(&p).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                r => r,
            }
        })
    }
}

/// A key segment as it was given to `Path::join`: `object_store`
/// percent-encodes some characters (a tenant id's `*`, for one) in keys.
fn decode_part(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

fn io_err(e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "local file",
        source: Box::new(e),
    }
}

/// How long one request may take before it counts as failed, so that a
/// store that accepts connections but never answers cannot hold an upload
/// (or a query) forever.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_directories_are_listed_by_their_ids() {
        let b = Bucket::with_store(Arc::new(object_store::memory::InMemory::new()), "p").unwrap();
        for t in ["plain", "a*b", "x.y_(z)!'"] {
            b.put(
                &b.path([t, "bucket-index.json.gz"]),
                Bytes::from_static(b"x"),
            )
            .unwrap();
        }
        let mut got = b.list_dirs(&b.path([])).unwrap();
        got.sort();
        assert_eq!(got, ["a*b", "plain", "x.y_(z)!'"]);
        for (s, want) in [
            ("%2A", "*"),
            ("100%", "100%"),
            ("%zz", "%zz"),
            ("%", "%"),
            ("", ""),
        ] {
            assert_eq!(decode_part(s), want, "{s:?}");
        }
    }
}

//! Blocks in S3-compatible object storage: the bucket as a second
//! [`BlockStore`](crate::storage::block::store::BlockStore), the per-tenant
//! bucket index, the on-disk cache of remote bytes, and the background work
//! that ships local blocks and compacts, retains and deletes in the bucket.
//!
//! Without `object_storage` in the configuration none of this exists and
//! the engine behaves as a single machine with a local directory.

pub(crate) mod cache;
pub(crate) mod client;
pub(crate) mod compactor;
pub(crate) mod index;
pub(crate) mod layout;
pub(crate) mod remote;
pub(crate) mod shipper;
pub(crate) mod side;
pub(crate) mod store;
pub(crate) mod url;
pub(crate) mod view;
pub(crate) mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use cache::{CacheCounters, PageCache};
pub use client::{Bucket, BucketCounters};

/// Default of `object_storage.local_retention`: three block ranges (6h
/// with the default 2h range).
pub const DEFAULT_LOCAL_RETENTION: Duration = Duration::from_secs(6 * 3600);
/// Default of `object_storage.cache.max_bytes`: 10 GiB.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 10 << 30;
/// Default of `object_storage.deletion_delay`: how long a replaced or
/// expired block stays readable after it is marked, so queries already
/// reading it finish.
pub const DEFAULT_DELETION_DELAY: Duration = Duration::from_secs(2 * 3600);
/// A block directory without `meta.json` whose newest object is older
/// than this is the leftover of an upload nobody will finish (its node's
/// disk is gone) and is deleted. Uploads this node started are finished
/// or cleaned at its next start without waiting for this.
pub const PARTIAL_UPLOAD_MAX_AGE: Duration = Duration::from_secs(2 * 24 * 3600);

/// Where the bucket is and how it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStorageConfig {
    /// `s3://BUCKET/PREFIX`, `file:///path` or `memory://PREFIX`.
    pub url: String,
    /// S3 endpoint (for anything but AWS itself).
    pub endpoint: Option<String>,
    /// S3 region.
    pub region: Option<String>,
    /// Access key; the `AWS_*` environment variables are used when absent.
    pub access_key_id: Option<String>,
    /// Secret key.
    pub secret_access_key: Option<String>,
    /// Allow a plain `http://` endpoint.
    pub allow_http: bool,
    /// Shipped blocks whose samples are all older than this (relative to
    /// the tenant's newest sample) leave the local disk.
    pub local_retention: Duration,
    /// Directory of the on-disk cache of remote bytes.
    pub cache_dir: PathBuf,
    /// Bound of the cache.
    pub cache_max_bytes: u64,
    /// How long a marked block stays before its files are deleted.
    pub deletion_delay: Duration,
}

impl ObjectStorageConfig {
    /// Defaults for `url`, with the cache under `data_dir/cache`.
    pub fn new(url: &str, data_dir: &Path) -> ObjectStorageConfig {
        ObjectStorageConfig {
            url: url.to_string(),
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
            local_retention: DEFAULT_LOCAL_RETENTION,
            cache_dir: data_dir.join("cache"),
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            deletion_delay: DEFAULT_DELETION_DELAY,
        }
    }
}

/// What every tenant's bucket side shares: the client, the cache and the
/// settings.
#[derive(Debug)]
pub struct BucketContext {
    /// The bucket client.
    pub bucket: Arc<Bucket>,
    /// The on-disk cache of remote bytes.
    pub cache: Arc<PageCache>,
    /// The settings.
    pub cfg: ObjectStorageConfig,
    /// Wakes the shipper when a block is flushed.
    pub wake: Wake,
}

/// A flag and a condition variable: the shipper sleeps on it between
/// rounds and a flush raises it.
#[derive(Debug, Default)]
pub struct Wake {
    raised: parking_lot::Mutex<bool>,
    cv: parking_lot::Condvar,
}

impl Wake {
    /// Raises the flag.
    pub fn notify(&self) {
        *self.raised.lock() = true;
        self.cv.notify_all();
    }

    /// Waits until the flag is raised or `timeout` passes, and lowers it.
    pub fn wait(&self, timeout: Duration) {
        let mut r = self.raised.lock();
        if !*r {
            self.cv.wait_for(&mut r, timeout);
        }
        *r = false;
    }
}

impl BucketContext {
    /// Connects to the bucket and opens the cache.
    pub fn open(cfg: &ObjectStorageConfig) -> crate::storage::Result<BucketContext> {
        Ok(BucketContext {
            bucket: Arc::new(Bucket::connect(cfg)?),
            cache: Arc::new(PageCache::open(&cfg.cache_dir, cfg.cache_max_bytes)?),
            cfg: cfg.clone(),
            wake: Wake::default(),
        })
    }
}

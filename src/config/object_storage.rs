//! The `object_storage:` section (flags `--object-storage.*`): blocks in an
//! S3-compatible bucket. Absent (no `url`), everything stays on local disk.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ByteSize, ConfigError, PromDuration};
use crate::storage::bucket::{
    ObjectStorageConfig, DEFAULT_CACHE_MAX_BYTES, DEFAULT_DELETION_DELAY, DEFAULT_LOCAL_RETENTION,
};

/// `object_storage:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectStorageSection {
    /// `s3://BUCKET/PREFIX` or `file:///path`; absent = no bucket.
    pub url: Option<String>,
    /// S3 endpoint, e.g. `http://127.0.0.1:8333`.
    pub endpoint: Option<String>,
    /// S3 region.
    pub region: Option<String>,
    /// Access key id (or `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// Secret access key (or `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
    /// Allow a plain-HTTP endpoint.
    pub allow_http: bool,
    /// How long shipped blocks stay on local disk.
    pub local_retention: PromDuration,
    /// How long a replaced or expired block stays readable in the bucket.
    pub deletion_delay: PromDuration,
    /// The on-disk cache of remote bytes.
    pub cache: CacheSection,
}

/// `object_storage.cache:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSection {
    /// Directory; default `<data_dir>/cache`.
    pub dir: Option<PathBuf>,
    /// Bound, e.g. `10GiB`.
    pub max_bytes: ByteSize,
}

impl Default for ObjectStorageSection {
    fn default() -> ObjectStorageSection {
        ObjectStorageSection {
            url: None,
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
            local_retention: PromDuration(DEFAULT_LOCAL_RETENTION),
            deletion_delay: PromDuration(DEFAULT_DELETION_DELAY),
            cache: CacheSection::default(),
        }
    }
}

impl Default for CacheSection {
    fn default() -> CacheSection {
        CacheSection {
            dir: None,
            max_bytes: ByteSize(DEFAULT_CACHE_MAX_BYTES),
        }
    }
}

/// Values given as `--object-storage.*` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ObjectStorageFlags {
    /// Bucket URL: s3://BUCKET/PREFIX or file:///path [default: none, local disk only].
    #[arg(long = "object-storage.url")]
    pub url: Option<String>,
    /// S3 endpoint, e.g. http://127.0.0.1:8333 [default: AWS].
    #[arg(long = "object-storage.endpoint")]
    pub endpoint: Option<String>,
    /// S3 region [default: AWS_REGION or us-east-1].
    #[arg(long = "object-storage.region")]
    pub region: Option<String>,
    /// S3 access key id [default: AWS_ACCESS_KEY_ID].
    #[arg(long = "object-storage.access-key-id")]
    pub access_key_id: Option<String>,
    /// S3 secret access key [default: AWS_SECRET_ACCESS_KEY].
    #[arg(long = "object-storage.secret-access-key")]
    pub secret_access_key: Option<String>,
    /// Allow a plain-HTTP endpoint [default: false].
    #[arg(long = "object-storage.allow-http", num_args = 0..=1, default_missing_value = "true")]
    pub allow_http: Option<bool>,
    /// How long shipped blocks stay on local disk [default: 6h].
    #[arg(long = "object-storage.local-retention")]
    pub local_retention: Option<PromDuration>,
    /// How long a replaced or expired block stays readable [default: 2h].
    #[arg(long = "object-storage.deletion-delay")]
    pub deletion_delay: Option<PromDuration>,
    /// Cache directory [default: <data-dir>/cache].
    #[arg(long = "object-storage.cache.dir")]
    pub cache_dir: Option<PathBuf>,
    /// Cache bound, e.g. 10GiB [default: 10GiB].
    #[arg(long = "object-storage.cache.max-bytes")]
    pub cache_max_bytes: Option<ByteSize>,
}

impl ObjectStorageSection {
    /// Replaces every value the flags set.
    pub fn apply_flags(&mut self, f: &ObjectStorageFlags) {
        let set = |dst: &mut Option<String>, v: &Option<String>| {
            if v.is_some() {
                dst.clone_from(v);
            }
        };
        set(&mut self.url, &f.url);
        set(&mut self.endpoint, &f.endpoint);
        set(&mut self.region, &f.region);
        set(&mut self.access_key_id, &f.access_key_id);
        set(&mut self.secret_access_key, &f.secret_access_key);
        if let Some(v) = f.allow_http {
            self.allow_http = v;
        }
        if let Some(v) = f.local_retention {
            self.local_retention = v;
        }
        if let Some(v) = f.deletion_delay {
            self.deletion_delay = v;
        }
        if let Some(v) = &f.cache_dir {
            self.cache.dir = Some(v.clone());
        }
        if let Some(v) = f.cache_max_bytes {
            self.cache.max_bytes = v;
        }
    }

    /// The storage settings, `None` without a `url`. Relative cache
    /// directories are taken as given (relative to the working directory,
    /// like `data_dir`).
    pub fn resolve(&self, data_dir: &Path) -> Result<Option<ObjectStorageConfig>, ConfigError> {
        let Some(url) = &self.url else {
            return Ok(None);
        };
        if self.cache.max_bytes.0 == 0 {
            return Err(ConfigError::Invalid(
                "object_storage.cache.max_bytes must be positive".into(),
            ));
        }
        let mut c = ObjectStorageConfig::new(url, data_dir);
        c.endpoint.clone_from(&self.endpoint);
        c.region.clone_from(&self.region);
        c.access_key_id.clone_from(&self.access_key_id);
        c.secret_access_key.clone_from(&self.secret_access_key);
        c.allow_http = self.allow_http;
        c.local_retention = self.local_retention.0;
        c.deletion_delay = self.deletion_delay.0;
        if let Some(d) = &self.cache.dir {
            c.cache_dir = d.clone();
        }
        c.cache_max_bytes = self.cache.max_bytes.0;
        Ok(Some(c))
    }
}

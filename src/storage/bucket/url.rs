//! Turning `object_storage.url` into an `object_store` client: `s3://`
//! (any S3-compatible server), `file://` (a local directory, for tests and
//! single machines with a shared mount) and `memory://` (unit tests).

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use super::client::REQUEST_TIMEOUT;
use super::ObjectStorageConfig;
use crate::storage::error::{Result, StorageError};

fn bad(msg: impl Into<String>) -> StorageError {
    StorageError::Config(format!("object_storage.url: {}", msg.into()))
}

/// The store `cfg.url` names and the key prefix inside it.
pub(crate) fn open_store(cfg: &ObjectStorageConfig) -> Result<(Arc<dyn ObjectStore>, String)> {
    let (scheme, rest) = cfg
        .url
        .split_once("://")
        .ok_or_else(|| bad(format!("{:?} has no scheme (s3://, file://)", cfg.url)))?;
    match scheme {
        "s3" => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("s3:// needs a bucket name"));
            }
            Ok((
                Arc::new(s3(cfg, bucket)?),
                prefix.trim_matches('/').to_string(),
            ))
        }
        "file" => {
            if !rest.starts_with('/') {
                return Err(bad("file:// needs an absolute path (file:///path)"));
            }
            std::fs::create_dir_all(rest).map_err(|e| StorageError::io(rest, e))?;
            let fs = LocalFileSystem::new_with_prefix(rest)
                .map_err(|e| StorageError::object_store(rest, e))?;
            Ok((Arc::new(fs), String::new()))
        }
        "memory" => Ok((
            Arc::new(InMemory::new()),
            rest.trim_matches('/').to_string(),
        )),
        other => Err(bad(format!("unsupported scheme {other:?} (s3, file)"))),
    }
}

/// Makes rustls use the ring provider for every HTTP client of the
/// process (the bucket's and the cluster's); installing it twice is
/// harmless (the second call reports the first). Deprecated upstream only
/// for lacking post-quantum key exchange.
pub(crate) fn install_tls_provider() {
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An S3 client: the usual `AWS_*` environment variables first, then the
/// configured keys over them. Requests are retried briefly by the client;
/// the shipper does the long backoff while a store is down.
fn s3(cfg: &ObjectStorageConfig, bucket: &str) -> Result<object_store::aws::AmazonS3> {
    install_tls_provider();
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 2,
            retry_timeout: REQUEST_TIMEOUT,
        })
        .with_client_options(
            ClientOptions::new()
                .with_timeout(REQUEST_TIMEOUT)
                .with_connect_timeout(std::time::Duration::from_secs(5))
                .with_allow_http(cfg.allow_http),
        );
    if let Some(e) = &cfg.endpoint {
        b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
    }
    if let Some(r) = &cfg.region {
        b = b.with_region(r);
    }
    if let Some(k) = &cfg.access_key_id {
        b = b.with_access_key_id(k);
    }
    if let Some(s) = &cfg.secret_access_key {
        b = b.with_secret_access_key(s);
    }
    b.build()
        .map_err(|e| StorageError::object_store(&cfg.url, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file_url = format!("file://{}", dir.path().display());
        for (url, ok, prefix) in [
            ("memory://", true, ""),
            ("memory://a/b/", true, "a/b"),
            (file_url.as_str(), true, ""),
            ("file://relative", false, ""),
            ("s3://", false, ""),
            ("gs://b", false, ""),
            ("no-scheme", false, ""),
        ] {
            let cfg = ObjectStorageConfig::new(url, dir.path());
            match open_store(&cfg) {
                Ok((_, p)) => {
                    assert!(ok, "{url} accepted");
                    assert_eq!(p, prefix, "{url}");
                }
                Err(e) => assert!(!ok, "{url} refused: {e}"),
            }
        }
    }
}

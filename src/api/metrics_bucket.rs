//! The object-storage families of `GET /metrics`, present only when a
//! bucket is configured.

use std::fmt::Write as _;

use super::metrics::{esc, family};
use crate::storage::Storage;

/// Renders the bucket side's figures, if there is a bucket.
pub(crate) fn render(out: &mut String, s: &Storage) {
    let Some(b) = s.bucket_status() else {
        return;
    };
    family(
        out,
        "tessera_object_storage_pending_uploads",
        "gauge",
        "Local blocks not yet shipped to the bucket, by tenant.",
    );
    for t in s.tenant_ids() {
        let n = b
            .pending_uploads
            .iter()
            .find(|(x, _)| *x == t)
            .map_or(0, |p| p.1);
        let _ = writeln!(
            out,
            "tessera_object_storage_pending_uploads{{tenant=\"{}\"}} {n}",
            esc(t.as_str())
        );
    }
    let rows: [(&str, &str, &str, f64); 12] = [
        (
            "tessera_object_storage_oldest_unshipped_block_age_seconds",
            "gauge",
            "Age of the oldest block not yet shipped; 0 when all are.",
            b.oldest_unshipped_age_secs,
        ),
        (
            "tessera_object_storage_uploads_total",
            "counter",
            "Blocks shipped to the bucket.",
            b.uploads as f64,
        ),
        (
            "tessera_object_storage_upload_failures_total",
            "counter",
            "Failed attempts to ship a block (each is retried with backoff).",
            b.upload_failures as f64,
        ),
        (
            "tessera_object_storage_compactions_total",
            "counter",
            "Blocks written by compactions in the bucket.",
            b.compactions as f64,
        ),
        (
            "tessera_object_storage_compaction_failures_total",
            "counter",
            "Failed bucket rounds (compaction, retention, deletion, cleanup).",
            b.compaction_failures as f64,
        ),
        (
            "tessera_object_storage_fetched_bytes_total",
            "counter",
            "Bytes received from the bucket.",
            b.fetched_bytes as f64,
        ),
        (
            "tessera_object_storage_get_requests_total",
            "counter",
            "GET requests (whole or ranged) sent to the bucket.",
            b.get_requests as f64,
        ),
        (
            "tessera_object_storage_uploaded_bytes_total",
            "counter",
            "Bytes uploaded to the bucket.",
            b.uploaded_bytes as f64,
        ),
        (
            "tessera_object_storage_cache_bytes",
            "gauge",
            "Bytes in the on-disk cache of bucket data.",
            b.cache_bytes as f64,
        ),
        (
            "tessera_object_storage_cache_max_bytes",
            "gauge",
            "The cache's bound (object_storage.cache.max_bytes).",
            b.cache_max_bytes as f64,
        ),
        (
            "tessera_object_storage_cache_hits_total",
            "counter",
            "Reads of bucket data answered by the cache.",
            b.cache_hits as f64,
        ),
        (
            "tessera_object_storage_cache_misses_total",
            "counter",
            "Reads of bucket data that went to the bucket.",
            b.cache_misses as f64,
        ),
    ];
    for (name, kind, help, v) in rows {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {v}");
    }
}

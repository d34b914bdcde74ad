//! Helpers shared by the storage integration tests.
#![allow(dead_code)]

use std::path::Path;

use tessera::model::{Histogram, HistogramCounts, HistogramSample, LabelRef, Labels, Sample, Span};
use tessera::storage::{AppendOutcome, Result, SeriesInput, Storage, StorageConfig, SyncPolicy};
use tessera::tenant::TenantId;

/// A test storage config: no background thread, no fsync on the write path.
pub fn config(dir: &Path, block_range_ms: i64) -> StorageConfig {
    let mut cfg = StorageConfig::new(dir);
    cfg.block_range_ms = block_range_ms;
    cfg.maintenance_interval = None;
    cfg.wal.sync = SyncPolicy::None;
    cfg
}

/// Opens storage, panicking with the error on failure.
pub fn open(cfg: &StorageConfig) -> Storage {
    Storage::open(cfg.clone()).expect("open storage").0
}

/// A tenant id.
pub fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

/// Appends one series' samples given owned labels.
pub fn append(
    storage: &Storage,
    t: &TenantId,
    labels: &Labels,
    samples: &[Sample],
) -> Result<AppendOutcome> {
    append_values(storage, t, labels, samples, &[])
}

/// Appends one series' native histogram samples given owned labels.
pub fn append_histograms(
    storage: &Storage,
    t: &TenantId,
    labels: &Labels,
    histograms: &[HistogramSample],
) -> Result<AppendOutcome> {
    append_values(storage, t, labels, &[], histograms)
}

fn append_values(
    storage: &Storage,
    t: &TenantId,
    labels: &Labels,
    samples: &[Sample],
    histograms: &[HistogramSample],
) -> Result<AppendOutcome> {
    let refs: Vec<LabelRef> = labels.refs();
    storage.append(
        t,
        &[SeriesInput {
            labels: &refs,
            samples,
            histograms,
        }],
    )
}

/// Label set from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// Samples as (t, value bits) for bit-exact comparison.
pub fn bits(samples: &[Sample]) -> Vec<(i64, u64)> {
    samples.iter().map(|s| (s.t, s.v.to_bits())).collect()
}

/// The newest WAL segment file of `tenant` under the data dir `root`
/// (segment files are named by their index, in digits only).
pub fn newest_wal_segment(root: &Path, tenant: &str) -> std::path::PathBuf {
    let wal = root.join("tenants").join(tenant).join("wal");
    let mut segs: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    segs.sort();
    segs.pop().expect("a WAL segment")
}

/// An integer histogram of schema 0 with all `count` observations in the
/// one bucket at index `bucket` and the given sum.
pub fn one_bucket_histogram(count: u64, sum: f64, bucket: i32) -> Histogram {
    Histogram {
        sum,
        counts: HistogramCounts::Int {
            count,
            zero_count: 0,
            positive_deltas: vec![count as i64],
            negative_deltas: vec![],
        },
        positive_spans: vec![Span {
            offset: bucket,
            length: 1,
        }],
        ..Histogram::empty_int(0)
    }
}

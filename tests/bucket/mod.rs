//! Shared by the object-storage tests: the two backends every test runs
//! against (SeaweedFS over S3, and `object_store`'s local filesystem), a
//! storage over one of them, a fixed data set and a fixed set of queries.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use tessera::model::{LabelRef, Sample};
use tessera::storage::{
    MatchOp, Matcher, ObjectStorageConfig, SeriesInput, Storage, StorageConfig, TenantConfig,
};
use tessera::tenant::TenantId;

use crate::weed::{Weed, BUCKET};

/// Two hours.
pub const RANGE: i64 = 7_200_000;

/// Where the bucket is.
pub enum Backend {
    /// A real S3 server.
    S3(Weed),
    /// A local directory through `object_store`'s filesystem backend.
    File(tempfile::TempDir),
}

impl Backend {
    /// SeaweedFS on free loopback ports.
    pub fn s3() -> Backend {
        Backend::S3(Weed::start())
    }

    /// A temporary directory.
    pub fn file() -> Backend {
        Backend::File(tempfile::tempdir().unwrap())
    }

    /// Both, S3 first.
    pub fn both() -> Vec<Backend> {
        vec![Backend::s3(), Backend::file()]
    }

    /// The object storage settings for this backend, cache in `data_dir`.
    pub fn config(&self, data_dir: &Path) -> ObjectStorageConfig {
        let mut c = match self {
            Backend::S3(w) => {
                let mut c = ObjectStorageConfig::new(&format!("s3://{BUCKET}/tessera"), data_dir);
                c.endpoint = Some(w.endpoint.clone());
                c.region = Some("us-east-1".into());
                c.access_key_id = Some("test".into());
                c.secret_access_key = Some("test".into());
                c.allow_http = true;
                c
            }
            Backend::File(d) => {
                ObjectStorageConfig::new(&format!("file://{}", d.path().display()), data_dir)
            }
        };
        c.deletion_delay = Duration::ZERO;
        c
    }

    /// A name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::S3(_) => "s3",
            Backend::File(_) => "file",
        }
    }

    /// The SeaweedFS, if this is the S3 backend.
    pub fn weed(&mut self) -> Option<&mut Weed> {
        match self {
            Backend::S3(w) => Some(w),
            Backend::File(_) => None,
        }
    }
}

/// Storage settings over `data_dir` with the bucket, maintenance by hand.
pub fn storage_config(data_dir: &Path, backend: &Backend) -> StorageConfig {
    let mut c = StorageConfig::new(data_dir);
    c.block_range_ms = RANGE;
    c.maintenance_interval = None;
    c.object_storage = Some(backend.config(data_dir));
    c
}

/// Opens the storage.
pub fn open(cfg: &StorageConfig) -> Storage {
    Storage::open(cfg.clone()).expect("open storage").0
}

/// The tenant `s`.
pub fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

/// Appends `hours` of data (20 series, a sample every 30 s from t=0) for
/// `tenant`, flushing a block at every range boundary; `k` sets the
/// values, so two tenants can hold the same series with other values.
pub fn load(st: &Storage, tenant: &TenantId, hours: i64, k: f64) {
    let step = 30_000;
    let mut t = 0;
    while t < hours * 3_600_000 {
        let end = t + RANGE;
        for i in 0..20 {
            let inst = format!("host-{i}");
            let job = if i % 2 == 0 { "node" } else { "app" };
            let labels = [
                LabelRef::new("__name__", "cpu_seconds_total"),
                LabelRef::new("instance", &inst),
                LabelRef::new("job", job),
            ];
            let samples: Vec<Sample> = (t..end)
                .step_by(step as usize)
                .map(|ts| Sample::new(ts, k * (i as f64 + 1.0) * ts as f64 / 1000.0))
                .collect();
            let out = st
                .append(
                    tenant,
                    &[SeriesInput {
                        labels: &labels,
                        samples: &samples,
                        histograms: &[],
                    }],
                )
                .unwrap();
            assert_eq!(out.accepted, samples.len() as u64);
        }
        st.flush(tenant).unwrap();
        t = end;
    }
}

fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
    Matcher::new(op, n, v).unwrap()
}

/// A fixed set of reads, each rendered to text: selects over the whole
/// range, a narrow window and a block boundary, label names and values.
pub fn answers(st: &Storage, tenant: &TenantId, hours: i64) -> Vec<String> {
    let end = hours * 3_600_000;
    let name = m(MatchOp::Equal, "__name__", "cpu_seconds_total");
    let mut out = Vec::new();
    for (mint, maxt) in [
        (0, end),
        (RANGE - 60_000, RANGE + 60_000),
        (end - 600_000, end),
    ] {
        let q = st.querier(tenant, mint, maxt);
        for ms in [
            vec![name.clone()],
            vec![name.clone(), m(MatchOp::Equal, "instance", "host-3")],
            vec![m(MatchOp::Regex, "job", "no.*")],
        ] {
            let sel = q.select(&ms).unwrap();
            let samples: usize = sel.iter().map(|s| s.samples.len()).sum();
            let sum: f64 = sel.iter().flat_map(|s| s.samples.iter().map(|x| x.v)).sum();
            out.push(format!(
                "[{mint},{maxt}] {ms:?}: {} series, {samples} samples, sum {sum}",
                sel.len()
            ));
            for s in sel.iter().take(2) {
                out.push(format!("  {} {:?}", s.labels, s.samples.first()));
            }
        }
        out.push(format!("names {:?}", q.label_names(&[], None).unwrap()));
        out.push(format!(
            "jobs {:?}",
            q.label_values("job", &[], None).unwrap()
        ));
    }
    out
}

/// Per-tenant settings with a retention.
pub fn with_retention(ms: i64) -> TenantConfig {
    TenantConfig {
        retention_ms: Some(ms),
        ..TenantConfig::default()
    }
}

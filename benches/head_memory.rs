//! Resident memory per active series in the head.
//!
//! Opens a storage engine, appends `NodeExporterShape` data for 500k series
//! (5000 hosts) with 240 samples each (one hour at 15 s), and reports the
//! growth of the process' resident set size (from `/proc/self/statm`)
//! divided by the number of series. The input data is generated one round
//! at a time so it does not count against the engine. Run with
//! `cargo bench --bench head_memory`; `HEAD_MEMORY_HOSTS` and
//! `HEAD_MEMORY_SAMPLES` change the size.

use std::time::Instant;

use tessera::model::{LabelRef, Sample};
use tessera::storage::{SeriesInput, Storage, StorageConfig, SyncPolicy};
use tessera::synth::NodeExporterShape;
use tessera::tenant::TenantId;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // Nothing to list or smoke-test under `cargo test --benches`.
    }
    let hosts = env("HEAD_MEMORY_HOSTS", 5000);
    let samples = env("HEAD_MEMORY_SAMPLES", 240);
    let shape = NodeExporterShape {
        hosts,
        interval_ms: 15_000,
        seed: 3,
    };
    let n = shape.series_count();
    let labels: Vec<_> = (0..n).map(|s| shape.labels(s)).collect();
    let refs: Vec<Vec<LabelRef>> = labels
        .iter()
        .map(|l| l.iter().map(|l| LabelRef::new(&l.name, &l.value)).collect())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StorageConfig::new(dir.path());
    cfg.wal.sync = SyncPolicy::None;
    cfg.maintenance_interval = None;
    let t = TenantId::new("mem").unwrap();
    let before = rss_bytes();
    let st = Storage::open(cfg).unwrap().0;
    let started = Instant::now();
    let start_ms = 1_700_000_000_000i64;
    for round in 0..samples {
        let vals: Vec<Sample> = (0..n)
            .map(|s| shape.samples(s, start_ms + round as i64 * 15_000, 1)[0])
            .collect();
        for part in (0..n).collect::<Vec<_>>().chunks(2000) {
            let batch: Vec<SeriesInput> = part
                .iter()
                .map(|&s| SeriesInput {
                    labels: &refs[s],
                    samples: std::slice::from_ref(&vals[s]),
                })
                .collect();
            st.append(&t, &batch).unwrap();
        }
    }
    let after = rss_bytes();
    let per_series = (after.saturating_sub(before)) as f64 / n as f64;
    println!(
        "head_memory: {n} series x {samples} samples: RSS grew {:.1} MiB, {per_series:.0} bytes per series ({} head chunks, {:?})",
        (after - before) as f64 / (1 << 20) as f64,
        st.head_stats(&t).num_chunks,
        started.elapsed()
    );
    drop(labels);
}

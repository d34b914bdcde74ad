//! Bytes per sample in compacted blocks.
//!
//! `NodeExporterShape` with 100 hosts (10 400 series), 1920 samples per
//! series (8 hours at 15 s from a 6 h boundary), appended scrape by scrape
//! with the default 2 h block range; the head is flushed into 2 h blocks as
//! it goes, then flushed out and compacted, which merges the first three
//! 2 h blocks into one 6 h block (1440 samples per series). Prints the
//! on-disk size of every block per sample: the `chunks` file alone and the
//! whole block directory (chunks + index + meta). Run with
//! `cargo bench --bench block_size`.

use std::path::Path;

use tessera::model::{LabelRef, Sample};
use tessera::storage::{SeriesInput, Storage, StorageConfig, SyncPolicy};
use tessera::synth::{NodeExporterShape, ORIGIN_MS};
use tessera::tenant::TenantId;

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |rd| {
        rd.flatten()
            .map(|e| e.metadata().map_or(0, |m| m.len()))
            .sum()
    })
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let hosts: usize = std::env::var("BLOCK_SIZE_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let samples = 1920u64;
    let shape = NodeExporterShape {
        hosts,
        interval_ms: 15_000,
        seed: 11,
    };
    let n = shape.series_count();
    let labels: Vec<_> = (0..n).map(|s| shape.labels(s)).collect();
    let refs: Vec<Vec<LabelRef>> = labels.iter().map(|l| l.refs()).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StorageConfig::new(dir.path());
    cfg.wal.sync = SyncPolicy::None;
    cfg.maintenance_interval = None;
    let st = Storage::open(cfg).unwrap().0;
    let t = TenantId::new("size").unwrap();
    // Start on a 6 h boundary so the first 6 h window fills and compacts.
    let start = ORIGIN_MS - ORIGIN_MS.rem_euclid(6 * 3_600_000);
    for i in 0..samples {
        let ts = start + i as i64 * 15_000;
        let vals: Vec<Sample> = (0..n)
            .map(|s| Sample::new(ts, shape.value_at(s, i)))
            .collect();
        let batch: Vec<SeriesInput> = (0..n)
            .map(|s| SeriesInput {
                labels: &refs[s],
                samples: std::slice::from_ref(&vals[s]),
                histograms: &[],
            })
            .collect();
        st.append(&t, &batch).unwrap();
        if i % 240 == 0 {
            st.maintain().unwrap();
        }
    }
    st.flush(&t).unwrap();
    st.compact(&t).unwrap();
    let blocks_dir = dir.path().join("tenants").join("size").join("blocks");
    let (mut chunks, mut total, mut stored) = (0u64, 0u64, 0u64);
    for b in st.blocks(&t) {
        let d = blocks_dir.join(&b.ulid);
        let c = std::fs::metadata(d.join("chunks")).map_or(0, |m| m.len());
        let all = dir_size(&d);
        println!(
            "block {} level {} [{}, {}): {} series, {} samples, chunks {:.3} B/sample, whole block {:.3} B/sample",
            b.ulid,
            b.compaction.level,
            b.min_time,
            b.max_time,
            b.stats.num_series,
            b.stats.num_samples,
            c as f64 / b.stats.num_samples as f64,
            all as f64 / b.stats.num_samples as f64
        );
        chunks += c;
        total += all;
        stored += b.stats.num_samples;
    }
    assert_eq!(stored, n as u64 * samples, "every sample is in a block");
    assert!(
        st.blocks(&t).iter().any(|b| b.compaction.level == 2),
        "the first 6 h window was compacted"
    );
    println!(
        "block_size: {n} series x {samples} samples: chunks {:.3} B/sample, whole blocks {:.3} B/sample",
        chunks as f64 / stored as f64,
        total as f64 / stored as f64
    );
}

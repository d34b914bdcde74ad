//! Resident memory per active series in the head.
//!
//! Opens a storage engine, appends `NodeExporterShape` data for 500k series
//! (5000 hosts) with 240 samples each (one hour at 15 s), and reports the
//! growth of the process' resident set size (from `/proc/self/statm`)
//! divided by the number of series. The input data is generated one round
//! at a time so it does not count against the engine. Run with
//! `cargo bench --bench head_memory`; `HEAD_MEMORY_HOSTS` and
//! `HEAD_MEMORY_SAMPLES` change the size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

/// Counts the bytes the program holds, to tell the engine's data apart
/// from the allocator's overhead in the resident set.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: defers every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
    let refs: Vec<Vec<LabelRef>> = labels.iter().map(|l| l.refs()).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StorageConfig::new(dir.path());
    cfg.wal.sync = SyncPolicy::None;
    cfg.maintenance_interval = None;
    let t = TenantId::new("mem").unwrap();
    let before = rss_bytes();
    let live_before = LIVE.load(Ordering::Relaxed);
    let st = Storage::open(cfg).unwrap().0;
    let started = Instant::now();
    let start_ms = tessera::synth::ORIGIN_MS;
    for round in 0..samples {
        let ts = start_ms + round as i64 * 15_000;
        let vals: Vec<Sample> = (0..n)
            .map(|s| Sample::new(ts, shape.value_at(s, round as u64)))
            .collect();
        for part in (0..n).collect::<Vec<_>>().chunks(2000) {
            let batch: Vec<SeriesInput> = part
                .iter()
                .map(|&s| SeriesInput {
                    labels: &refs[s],
                    samples: std::slice::from_ref(&vals[s]),
                    histograms: &[],
                })
                .collect();
            st.append(&t, &batch).unwrap();
        }
    }
    let after = rss_bytes();
    let live = (LIVE.load(Ordering::Relaxed) - live_before) as f64 / n as f64;
    let per_series = (after.saturating_sub(before)) as f64 / n as f64;
    println!(
        "head_memory: {n} series x {samples} samples: RSS grew {:.1} MiB, {per_series:.0} bytes per series ({live:.0} allocated), {} head chunks, {:?}",
        (after - before) as f64 / (1 << 20) as f64,
        st.head_stats(&t).num_chunks,
        started.elapsed()
    );
    drop(labels);
}

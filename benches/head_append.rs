//! Head append throughput, no HTTP involved.
//!
//! Data shape: `NodeExporterShape` with 1000 hosts = 100k series, 120
//! samples each (30 minutes at 15 s). Two ways in:
//! * `scrape_batches`: 120 rounds, each round appends one sample for every
//!   series in batches of 2000 series (the shape of remote_write traffic);
//! * `series_batches`: each series' 120 samples in one call (backfill).
//! Both go through label validation, series lookup, the WAL (sync policy
//! `none`) and the Gorilla chunks. Throughput is samples per second on one
//! core (appends to one tenant are serialised).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tessera::model::{LabelRef, Labels, Sample};
use tessera::storage::{SeriesInput, Storage, StorageConfig, SyncPolicy};
use tessera::synth::NodeExporterShape;
use tessera::tenant::TenantId;

const HOSTS: usize = 1000;
const SAMPLES: usize = 120;
const BATCH: usize = 2000;

struct Data {
    labels: Vec<Labels>,
    samples: Vec<Vec<Sample>>,
}

fn data() -> Data {
    let shape = NodeExporterShape {
        hosts: HOSTS,
        interval_ms: 15_000,
        seed: 7,
    };
    let n = shape.series_count();
    Data {
        labels: (0..n).map(|s| shape.labels(s)).collect(),
        samples: (0..n)
            .map(|s| shape.samples(s, 1_700_000_000_000, SAMPLES))
            .collect(),
    }
}

fn open() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StorageConfig::new(dir.path());
    cfg.wal.sync = SyncPolicy::None;
    cfg.maintenance_interval = None;
    let st = Storage::open(cfg).unwrap().0;
    (dir, st)
}

fn refs(d: &Data) -> Vec<Vec<LabelRef<'_>>> {
    d.labels.iter().map(|l| l.refs()).collect()
}

fn scrape_batches(d: &Data, st: &Storage, t: &TenantId) {
    let refs = refs(d);
    for round in 0..SAMPLES {
        for chunk in (0..refs.len()).collect::<Vec<_>>().chunks(BATCH) {
            let batch: Vec<SeriesInput> = chunk
                .iter()
                .map(|&s| SeriesInput {
                    labels: &refs[s],
                    samples: std::slice::from_ref(&d.samples[s][round]),
                    histograms: &[],
                })
                .collect();
            let out = st.append(t, &batch).unwrap();
            assert_eq!(out.rejected, 0);
        }
    }
}

fn series_batches(d: &Data, st: &Storage, t: &TenantId) {
    let refs = refs(d);
    for chunk in (0..refs.len()).collect::<Vec<_>>().chunks(BATCH / 10) {
        let batch: Vec<SeriesInput> = chunk
            .iter()
            .map(|&s| SeriesInput {
                labels: &refs[s],
                samples: &d.samples[s],
                histograms: &[],
            })
            .collect();
        st.append(t, &batch).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let d = data();
    let total = (d.labels.len() * SAMPLES) as u64;
    let t = TenantId::new("bench").unwrap();
    let mut g = c.benchmark_group("head_append_100k_series_x_120");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Elements(total));
    for (name, f) in [
        (
            "scrape_batches",
            scrape_batches as fn(&Data, &Storage, &TenantId),
        ),
        ("series_batches", series_batches),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let (_dir, st) = open();
                    let start = Instant::now();
                    f(&d, &st, &t);
                    spent += start.elapsed();
                }
                spent
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

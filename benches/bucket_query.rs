//! Query latency over blocks in the bucket with a cold and a warm cache,
//! against the same blocks on local disk, and the bytes fetched from the
//! store per query.
//!
//! Data: `NodeExporterShape` with 100 hosts (about 10 400 series) at 30 s
//! for 24 hours, flushed into 2h blocks and compacted (in the bucket, or
//! locally for the local case) into 6h and 18h blocks. Store: SeaweedFS
//! (`weed server -s3`, started by the benchmark on loopback).
//!
//! Queries, each a selector over the whole day read in full through
//! `Querier::select`:
//! * `one_host_cpu`: `node_cpu_seconds_total{instance="host-7:9100"}`, the
//!   CPU series of one host (16 series);
//! * `all_hosts_load1`: `node_load1`, one series of every host (100).
//!
//! * `local`: the blocks on local disk (no bucket).
//! * `remote_warm`: remote blocks, cache already holding what the query needs.
//! * `remote_cold`: a new machine each iteration: an empty data directory
//!   and cache, the same bucket (start included: one index read).
//!
//! The bytes fetched per cold query are printed (`fetched per cold query`).

#[path = "../tests/weed/mod.rs"]
mod weed;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tessera::model::LabelRef;
use tessera::storage::{
    MatchOp, Matcher, ObjectStorageConfig, SeriesInput, Storage, StorageConfig, SyncPolicy,
};
use tessera::synth::NodeExporterShape;
use tessera::tenant::TenantId;

const HOUR: i64 = 3_600_000;
const START: i64 = 1_700_006_400_000; // a multiple of 18h

fn config(dir: &std::path::Path, bucket: Option<&ObjectStorageConfig>) -> StorageConfig {
    let mut c = StorageConfig::new(dir);
    c.wal.sync = SyncPolicy::None;
    c.maintenance_interval = None;
    c.object_storage = bucket.cloned();
    c
}

/// Writes the day, flushing every 2h; compacts (in the bucket when there is one).
fn load(st: &Storage, t: &TenantId, shape: &NodeExporterShape) {
    let n = shape.series_count();
    let labels: Vec<_> = (0..n).map(|s| shape.labels(s)).collect();
    let per_block = (2 * HOUR / shape.interval_ms) as usize;
    for b in 0..13 {
        let start = START + b as i64 * 2 * HOUR;
        let samples: Vec<_> = (0..n).map(|s| shape.samples(s, start, per_block)).collect();
        for (ls, ss) in labels.chunks(2000).zip(samples.chunks(2000)) {
            let refs: Vec<Vec<LabelRef>> = ls.iter().map(|l| l.refs()).collect();
            let batch: Vec<SeriesInput> = refs
                .iter()
                .zip(ss)
                .map(|(r, s)| SeriesInput {
                    labels: r,
                    samples: s,
                    histograms: &[],
                })
                .collect();
            st.append(t, &batch).unwrap();
        }
        st.flush(t).unwrap();
    }
    st.ship().unwrap();
    st.compact(t).unwrap();
}

/// The two queries' matchers, by name.
fn queries() -> Vec<(&'static str, Vec<Matcher>)> {
    let eq = |n: &str, v: &str| Matcher::new(MatchOp::Equal, n, v).unwrap();
    vec![
        (
            "one_host_cpu",
            vec![
                eq("__name__", "node_cpu_seconds_total"),
                eq("instance", "host-7:9100"),
            ],
        ),
        ("all_hosts_load1", vec![eq("__name__", "node_load1")]),
    ]
}

fn query(st: &Storage, t: &TenantId, m: &[Matcher]) -> usize {
    let got = st.querier(t, START, START + 24 * HOUR).select(m).unwrap();
    got.iter().map(|s| s.samples.len()).sum()
}

fn bench(c: &mut Criterion) {
    let shape = NodeExporterShape {
        hosts: 100,
        interval_ms: 30_000,
        seed: 3,
    };
    let t = TenantId::new("bench").unwrap();
    let w = weed::Weed::start();

    let local_dir = tempfile::tempdir().unwrap();
    let local = Storage::open(config(local_dir.path(), None)).unwrap().0;
    load(&local, &t, &shape);

    let writer_dir = tempfile::tempdir().unwrap();
    let mut os = ObjectStorageConfig::new("s3://tessera-test/bench", writer_dir.path());
    os.endpoint = Some(w.endpoint.clone());
    os.region = Some("us-east-1".into());
    os.access_key_id = Some("bench".into());
    os.secret_access_key = Some("bench".into());
    os.allow_http = true;
    os.local_retention = Duration::ZERO;
    let writer = Storage::open(config(writer_dir.path(), Some(&os)))
        .unwrap()
        .0;
    load(&writer, &t, &shape);
    writer.maintain_bucket().unwrap();
    drop(writer);
    let stored: u64 = tessera::storage::bucket::Bucket::connect(&os)
        .unwrap()
        .list(&object_store::path::Path::from("bench/bench"))
        .unwrap()
        .iter()
        .map(|o| o.size)
        .sum();
    eprintln!("the tenant's blocks in the bucket: {stored} bytes");

    let new_machine = || {
        let dir = tempfile::tempdir().unwrap();
        let mut o = os.clone();
        o.cache_dir = dir.path().join("cache");
        let st = Storage::open(config(dir.path(), Some(&o))).unwrap().0;
        (dir, st)
    };
    let (_warm_dir, warm) = new_machine();
    let levels: Vec<_> = warm.blocks(&t).iter().map(|b| b.compaction.level).collect();
    eprintln!("blocks in the bucket, by level: {levels:?}");
    for (name, m) in queries() {
        let want = query(&local, &t, &m);
        assert!(want > 0, "{name} found nothing");
        assert_eq!(
            query(&warm, &t, &m),
            want,
            "{name}: remote answers as local"
        );
        let (_d, probe) = new_machine();
        let before = probe.bucket_status().unwrap();
        query(&probe, &t, &m);
        let after = probe.bucket_status().unwrap();
        eprintln!(
            "{name}: {want} samples; fetched per cold query: {} bytes in {} GETs",
            after.fetched_bytes - before.fetched_bytes,
            after.get_requests - before.get_requests,
        );
        let mut g = c.benchmark_group(format!("bucket_query_{name}_24h"));
        g.sample_size(20);
        g.bench_function("local", |b| b.iter(|| query(&local, &t, &m)));
        g.bench_function("remote_warm", |b| b.iter(|| query(&warm, &t, &m)));
        g.bench_function("remote_cold", |b| {
            b.iter_batched(
                new_machine,
                |(_d, st)| query(&st, &t, &m),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

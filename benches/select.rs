//! Series selection over 1M series.
//!
//! `NodeExporterShape` with 10 000 hosts = 1M series in one tenant's head,
//! one sample each. The selector is
//! `{__name__="node_load1", job="node", instance=~"host-1.*"}`, which
//! matches 1111 series. `postings_only` resolves the matchers to series
//! (`Querier::series_count`); `with_label_sets` also builds the label sets
//! of the 1111 series (`Querier::select_labels`).

use criterion::{criterion_group, criterion_main, Criterion};
use tessera::model::{LabelRef, Sample};
use tessera::storage::{MatchOp, Matcher, SeriesInput, Storage, StorageConfig, SyncPolicy};
use tessera::synth::NodeExporterShape;
use tessera::tenant::TenantId;

fn bench(c: &mut Criterion) {
    let shape = NodeExporterShape {
        hosts: 10_000,
        interval_ms: 15_000,
        seed: 5,
    };
    let n = shape.series_count();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StorageConfig::new(dir.path());
    cfg.wal.sync = SyncPolicy::None;
    cfg.maintenance_interval = None;
    let st = Storage::open(cfg).unwrap().0;
    let t = TenantId::new("sel").unwrap();
    let labels: Vec<_> = (0..n).map(|s| shape.labels(s)).collect();
    let sample = [Sample::new(1_700_000_000_000, 1.0)];
    for part in labels.chunks(5000) {
        let refs: Vec<Vec<LabelRef>> = part.iter().map(|l| l.refs()).collect();
        let batch: Vec<SeriesInput> = refs
            .iter()
            .map(|r| SeriesInput {
                labels: r,
                samples: &sample,
                histograms: &[],
            })
            .collect();
        st.append(&t, &batch).unwrap();
    }
    drop(labels);
    let matchers = [
        Matcher::new(MatchOp::Equal, "__name__", "node_load1").unwrap(),
        Matcher::new(MatchOp::Equal, "job", "node").unwrap(),
        Matcher::new(MatchOp::Regex, "instance", "host-1.*").unwrap(),
    ];
    let q = st.querier(&t, i64::MIN, i64::MAX);
    let found = q.select_labels(&matchers).unwrap().len();
    assert!(found > 1000, "selector matched {found} series");
    let mut g = c.benchmark_group("select_1M_series");
    assert_eq!(q.series_count(&matchers).unwrap(), found);
    g.bench_function("postings_only", |b| {
        b.iter(|| q.series_count(&matchers).unwrap())
    });
    g.bench_function("with_label_sets", |b| {
        b.iter(|| q.select_labels(&matchers).unwrap().len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

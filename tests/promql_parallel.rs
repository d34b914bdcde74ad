//! Range functions over many series are computed in batches on every core
//! (`promql::eval::range_float`); instant queries compute one series at a
//! time. Every step of a range query must equal the instant query at that
//! step, for float series interleaved with histogram series, with resets,
//! NaN, gaps and the annotations a series raises.

mod common;

use common::{append, config, labels, open, tenant};
use tessera::model::{Histogram, HistogramSample, Sample};
use tessera::promql::{Engine, TenantScope, Value};
use tessera::storage::Storage;

const STEP: i64 = 15_000;
/// Samples per series: one hour at 15 s.
const POINTS: i64 = 240;

/// `count` observations in the bucket (0.5, 1] and a sum of half of them.
fn histogram(count: u64) -> Histogram {
    common::one_bucket_histogram(count, 0.5 * count as f64, 0)
}

/// 300 counters `req_total` (some reset, some have gaps), 3 histogram
/// series of the same name among them (sorted between the floats), and
/// 150 gauges `temp` whose values include NaN and large magnitudes.
fn store() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&config(dir.path(), 2 * 3600 * 1000));
    let t = tenant("acme");
    for i in 0..300i64 {
        let id = format!("{i:03}");
        let l = labels(&[("__name__", "req_total"), ("id", &id)]);
        let samples: Vec<Sample> = (0..POINTS)
            .filter(|k| i % 7 != 0 || k % 5 != 0)
            .map(|k| {
                let grow = (k * (i % 13 + 1)) as f64 * 1.25;
                let v = if i % 4 == 0 && k > 100 {
                    grow - 150.0 * 1.25
                } else {
                    grow
                };
                Sample::new(k * STEP, v.max(0.0))
            })
            .collect();
        append(&storage, &t, &l, &samples).unwrap();
    }
    for i in [50i64, 150, 250] {
        let id = format!("{i:03}h");
        let l = labels(&[("__name__", "req_total"), ("id", &id)]);
        let hs: Vec<HistogramSample> = (0..POINTS)
            .map(|k| HistogramSample {
                t: k * STEP,
                h: histogram((k * 3) as u64),
            })
            .collect();
        common::append_histograms(&storage, &t, &l, &hs).unwrap();
    }
    for i in 0..150i64 {
        let id = format!("{i:03}");
        let l = labels(&[("__name__", "temp"), ("id", &id)]);
        let samples: Vec<Sample> = (0..POINTS)
            .map(|k| {
                let v = match (i % 10, k % 17) {
                    (0, 3) => f64::NAN,
                    (1, _) => 1e15 * ((k % 3) as f64 - 1.0) + 0.1 * k as f64,
                    _ => ((i * 31 + k * 7) % 100) as f64 / 10.0 - 3.3,
                };
                Sample::new(k * STEP, v)
            })
            .collect();
        append(&storage, &t, &l, &samples).unwrap();
    }
    (dir, storage)
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[test]
fn every_step_of_a_batched_range_query_equals_the_instant_query() {
    let (_d, storage) = store();
    let engine = Engine::default();
    let scope = TenantScope::new(&storage, tenant("acme"));
    let (start, end) = (20 * 60_000, 60 * 60_000);
    let step = 60_000;
    for q in [
        "rate(req_total[5m])",
        "sum by (id) (increase(req_total[5m]))",
        "sum(rate(req_total[5m]))",
        "sum(rate(req_total{id!~\".*h\"}[5m]))",
        "avg_over_time(temp[5m])",
        "sum_over_time(temp[10m])",
        "max_over_time(temp[5m])",
        "quantile_over_time(0.9, temp[5m])",
        "predict_linear(temp[5m], 60)",
        "rate(temp[5m])",
        "count_over_time(req_total[5m])",
    ] {
        let range = engine.range_query(&scope, q, start, end, step).unwrap();
        let Value::Matrix(series) = &range.value else {
            panic!("{q}: not a matrix");
        };
        // A sum over floats and histograms together is no answer, with a
        // warning, as upstream.
        assert!(
            !series.is_empty() || q == "sum(rate(req_total[5m]))",
            "{q}: empty answer"
        );
        let mut infos = Vec::new();
        for t in (start..=end).step_by(step as usize) {
            let inst = engine.instant_query(&scope, q, t).unwrap();
            for i in inst
                .annotations
                .infos
                .iter()
                .chain(&inst.annotations.warnings)
            {
                if !infos.contains(i) {
                    infos.push(i.clone());
                }
            }
            let Value::Vector(v) = inst.value else {
                panic!("{q}: not a vector");
            };
            let floats: Vec<_> = v.iter().filter(|e| e.histogram.is_none()).collect();
            let at_t: Vec<(&tessera::model::Labels, f64)> = series
                .iter()
                .filter_map(|s| {
                    s.samples
                        .iter()
                        .find(|p| p.t == t)
                        .map(|p| (&s.labels, p.v))
                })
                .collect();
            assert_eq!(floats.len(), at_t.len(), "{q} at {t}: series count");
            for e in floats {
                let (_, v) = at_t
                    .iter()
                    .find(|(l, _)| **l == e.labels)
                    .unwrap_or_else(|| panic!("{q} at {t}: {:?} missing", e.labels));
                assert!(
                    close(e.v, *v),
                    "{q} at {t} {:?}: instant {} range {}",
                    e.labels,
                    e.v,
                    v
                );
            }
        }
        let mut got: Vec<_> = range
            .annotations
            .infos
            .iter()
            .chain(&range.annotations.warnings)
            .cloned()
            .collect();
        got.sort();
        infos.sort();
        assert_eq!(got, infos, "{q}: annotations");
    }
}

//! Model-based test: random sequences of append, query, restart, crash,
//! flush, maintenance, compaction and retention run against the engine and
//! against an in-memory `BTreeMap` oracle. Results must agree exactly,
//! bit for bit (NaN payloads and stale markers included).
//!
//! Values are floats or native histograms (from a small pool, stale markers
//! and custom buckets included), mixed within a series over time as
//! Prometheus allows: a float and a histogram at one timestamp conflict.
//!
//! A second run adds a bucket (`object_store`'s filesystem backend) and the
//! operations that use it: shipping, bucket rounds (compaction there, local
//! copies dropped at once since `local_retention` is 0, so reads go to the
//! bucket through the cache), and replacing the machine (flush everything,
//! ship, wipe the data directory, start again).

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use tessera::model::{
    stale_nan, CounterResetHint, Histogram, HistogramCounts, HistogramSample, LabelRef, Labels,
    Sample, Span,
};
use tessera::storage::{MatchOp, Matcher, SampleReject, SeriesInput, Storage, StorageConfig};
use tessera::tenant::TenantId;

const BLOCK_RANGE: i64 = 100;
const TENANTS: [&str; 2] = ["alpha", "beta"];

fn series_pool() -> Vec<Labels> {
    vec![
        common::labels(&[("__name__", "up"), ("job", "a"), ("instance", "x")]),
        common::labels(&[("__name__", "up"), ("job", "b"), ("instance", "x")]),
        common::labels(&[("__name__", "up"), ("job", "b"), ("instance", "y")]),
        common::labels(&[("__name__", "cpu"), ("job", "a")]),
        common::labels(&[("__name__", "cpu"), ("job", "a"), ("mode", "idle\nx")]),
        common::labels(&[("__name__", "mem.bytes"), ("zone", "é")]),
    ]
}

fn matcher_sets() -> Vec<Vec<Matcher>> {
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    vec![
        vec![m(MatchOp::Regex, "__name__", ".+")],
        vec![m(MatchOp::Equal, "__name__", "up")],
        vec![
            m(MatchOp::Equal, "__name__", "up"),
            m(MatchOp::NotEqual, "instance", "x"),
        ],
        vec![
            m(MatchOp::Regex, "job", "a|b"),
            m(MatchOp::Equal, "instance", ""),
        ],
        vec![
            m(MatchOp::Regex, "__name__", ".+"),
            m(MatchOp::NotRegex, "__name__", "up|cpu"),
        ],
        vec![m(MatchOp::Regex, "mode", "idle.*")],
    ]
}

/// A stored value: float bits, or an index into [`histogram_pool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Val {
    F(u64),
    H(usize),
}

/// The histograms appends choose from: integer and float counts, custom
/// buckets, a NaN sum and the stale marker; all different bit for bit.
fn histogram_pool() -> Vec<Histogram> {
    let span = |offset, length| Span { offset, length };
    let int = Histogram {
        schema: 3,
        zero_threshold: 0.001,
        sum: 12.5,
        counts: HistogramCounts::Int {
            count: 10,
            zero_count: 1,
            positive_deltas: vec![2, 1, -2],
            negative_deltas: vec![3],
        },
        positive_spans: vec![span(-1, 2), span(4, 1)],
        negative_spans: vec![span(0, 1)],
        ..Histogram::empty_int(3)
    };
    let float = Histogram {
        schema: -4,
        sum: -3.25,
        counts: HistogramCounts::Float {
            count: 6.5,
            zero_count: 0.5,
            positive: vec![1.0, 5.0],
            negative: vec![],
        },
        positive_spans: vec![span(2, 2)],
        ..Histogram::empty_int(-4)
    };
    let nhcb = Histogram {
        schema: -53,
        custom_values: vec![0.1, 1.0, 10.0],
        sum: 7.0,
        counts: HistogramCounts::Int {
            count: 4,
            zero_count: 0,
            positive_deltas: vec![1, 0, 1],
            negative_deltas: vec![],
        },
        positive_spans: vec![span(0, 1), span(1, 2)],
        ..Histogram::empty_int(-53)
    };
    let nan_sum = Histogram {
        sum: f64::NAN,
        ..int.clone()
    };
    vec![int, float, nhcb, nan_sum, Histogram::stale_marker()]
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        tenant: usize,
        series: usize,
        samples: Vec<(i64, Val)>,
    },
    Query {
        tenant: usize,
        matchers: usize,
        mint: i64,
        maxt: i64,
    },
    Restart,
    Crash,
    Flush {
        tenant: usize,
    },
    Maintain,
    Compact {
        tenant: usize,
    },
    Retention {
        tenant: usize,
        cutoff: i64,
    },
    /// With a bucket: ship every pending block.
    Ship,
    /// With a bucket: one bucket round (ship, compact, drop local copies).
    BucketRound,
    /// With a bucket: flush all, ship, wipe the data directory, start again.
    Replace,
}

fn value() -> impl Strategy<Value = Val> {
    prop_oneof![
        3 => value_bits().prop_map(Val::F),
        1 => (0..histogram_pool().len()).prop_map(Val::H),
    ]
}

fn value_bits() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u32..1000).prop_map(|v| (v as f64 / 4.0).to_bits()),
        Just(stale_nan().to_bits()),
        Just(f64::NAN.to_bits()),
        Just(0x7ff8_0000_dead_beef),
        Just(f64::INFINITY.to_bits()),
        Just(f64::NEG_INFINITY.to_bits()),
        Just((-0.0f64).to_bits()),
        any::<u64>(),
    ]
}

/// Operations for the run with a bucket: no local retention (it is the
/// bucket's), plus shipping, bucket rounds and replacing the machine.
fn bucket_op() -> impl Strategy<Value = Op> {
    let t = 0..=TENANTS.len() - 1;
    prop_oneof![
        8 => (t.clone(), 0..6usize, prop::collection::vec((0i64..1500, value()), 1..12))
            .prop_map(|(tenant, series, samples)| Op::Append { tenant, series, samples }),
        3 => (t.clone(), 0..6usize, -10i64..1600, 0i64..1600)
            .prop_map(|(tenant, matchers, mint, len)| Op::Query { tenant, matchers, mint, maxt: mint + len }),
        1 => Just(Op::Restart),
        1 => Just(Op::Crash),
        2 => t.clone().prop_map(|tenant| Op::Flush { tenant }),
        1 => Just(Op::Maintain),
        1 => t.prop_map(|tenant| Op::Compact { tenant }),
        2 => Just(Op::Ship),
        2 => Just(Op::BucketRound),
        1 => Just(Op::Replace),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..=TENANTS.len() - 1;
    prop_oneof![
        8 => (t.clone(), 0..6usize, prop::collection::vec((0i64..1500, value()), 1..12))
            .prop_map(|(tenant, series, samples)| Op::Append { tenant, series, samples }),
        3 => (t.clone(), 0..6usize, -10i64..1600, 0i64..1600)
            .prop_map(|(tenant, matchers, mint, len)| Op::Query { tenant, matchers, mint, maxt: mint + len }),
        1 => Just(Op::Restart),
        1 => Just(Op::Crash),
        1 => t.clone().prop_map(|tenant| Op::Flush { tenant }),
        1 => Just(Op::Maintain),
        1 => t.clone().prop_map(|tenant| Op::Compact { tenant }),
        1 => (t, 0i64..1600).prop_map(|(tenant, cutoff)| Op::Retention { tenant, cutoff }),
    ]
}

#[derive(Default, Clone)]
struct SeriesModel {
    samples: BTreeMap<i64, Val>,
    maxt: Option<i64>,
}

/// The oracle: what every tenant should hold, following the documented rules.
struct Model {
    series: Vec<BTreeMap<Labels, SeriesModel>>,
    min_valid: Vec<i64>,
    ooo_window: Vec<i64>,
}

impl Model {
    fn decide(
        &self,
        tenant: usize,
        s: &SeriesModel,
        t: i64,
        bits: Val,
    ) -> Result<bool, SampleReject> {
        if t < self.min_valid[tenant] {
            return Err(SampleReject::TooOld);
        }
        let maxt = s.maxt.unwrap_or(i64::MIN);
        if t > maxt {
            return Ok(true);
        }
        if let Some(&b) = s.samples.get(&t) {
            return if b == bits {
                Ok(false)
            } else {
                Err(SampleReject::DuplicateTimestamp)
            };
        }
        let w = self.ooo_window[tenant];
        if w == 0 {
            return Err(SampleReject::OutOfOrder);
        }
        if t < maxt.saturating_sub(w) {
            return Err(SampleReject::TooOld);
        }
        Ok(true)
    }

    /// Applies an append; returns (accepted, ignored, rejected). The
    /// engine tries a series' floats first, then its histograms.
    fn append(
        &mut self,
        tenant: usize,
        labels: &Labels,
        samples: &[(i64, Val)],
    ) -> (u64, u64, u64) {
        let mut s = self.series[tenant].remove(labels).unwrap_or_default();
        let mut counts = (0, 0, 0);
        let floats = samples.iter().filter(|(_, v)| matches!(v, Val::F(_)));
        let hists = samples.iter().filter(|(_, v)| matches!(v, Val::H(_)));
        for &(t, bits) in floats.chain(hists) {
            match self.decide(tenant, &s, t, bits) {
                Ok(true) => {
                    s.samples.insert(t, bits);
                    s.maxt = Some(s.maxt.map_or(t, |m| m.max(t)));
                    counts.0 += 1;
                }
                Ok(false) => counts.1 += 1,
                Err(_) => counts.2 += 1,
            }
        }
        self.series[tenant].insert(labels.clone(), s);
        counts
    }

    fn head_bounds(&self, tenant: usize) -> Option<(i64, i64)> {
        let mv = self.min_valid[tenant];
        let head: Vec<i64> = self.series[tenant]
            .values()
            .flat_map(|s| s.samples.range(mv..).map(|(t, _)| *t))
            .collect();
        Some((*head.iter().min()?, *head.iter().max()?))
    }

    fn flush(&mut self, tenant: usize) {
        if let Some((_, max)) = self.head_bounds(tenant) {
            self.min_valid[tenant] = self.min_valid[tenant].max(max + 1);
        }
    }

    /// After a flush of everything and a new machine: the flush boundary
    /// is one past the newest sample (the newest block's end).
    fn replaced(&mut self, tenant: usize) {
        let newest = self.series[tenant]
            .values()
            .filter_map(|s| s.samples.keys().next_back().copied())
            .max();
        if let Some(t) = newest {
            self.min_valid[tenant] = t + 1;
        }
    }

    fn maintain(&mut self, tenant: usize) {
        for _ in 0..tessera::storage::MAX_FLUSHES_PER_ROUND {
            let Some((min, max)) = self.head_bounds(tenant) else {
                break;
            };
            if max - min <= BLOCK_RANGE / 2 * 3 {
                break;
            }
            let boundary = (min.div_euclid(BLOCK_RANGE) + 1) * BLOCK_RANGE;
            if boundary > max - self.ooo_window[tenant] {
                break;
            }
            self.min_valid[tenant] = self.min_valid[tenant].max(boundary);
        }
    }

    fn query(
        &self,
        tenant: usize,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<(Labels, Vec<(i64, Val)>)> {
        self.series[tenant]
            .iter()
            .filter(|(l, _)| {
                matchers
                    .iter()
                    .all(|m| m.matches(l.get(&m.name).unwrap_or("")))
            })
            .map(|(l, s)| {
                (
                    l.clone(),
                    s.samples
                        .range(mint..=maxt)
                        .map(|(t, b)| (*t, *b))
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }
}

/// Appends floats and histograms of one series in one call.
fn append_values(
    st: &Storage,
    tenant: &TenantId,
    labels: &Labels,
    samples: &[(i64, Val)],
) -> tessera::storage::AppendOutcome {
    let pool = histogram_pool();
    let mut floats = Vec::new();
    let mut hists = Vec::new();
    for &(t, v) in samples {
        match v {
            Val::F(b) => floats.push(Sample::new(t, f64::from_bits(b))),
            Val::H(i) => hists.push(HistogramSample {
                t,
                h: pool[i].clone(),
            }),
        }
    }
    let refs: Vec<LabelRef> = labels.refs();
    st.append(
        tenant,
        &[SeriesInput {
            labels: &refs,
            samples: &floats,
            histograms: &hists,
        }],
    )
    .unwrap()
}

/// An engine series' values in time order, histograms named by their
/// index in the pool (a histogram outside it fails the test).
fn values_of(samples: &[Sample], hists: &[HistogramSample]) -> Vec<(i64, Val)> {
    let pool = histogram_pool();
    let mut out: Vec<(i64, Val)> = samples
        .iter()
        .map(|s| (s.t, Val::F(s.v.to_bits())))
        .collect();
    for h in hists {
        // The head may store `not_reset` with a histogram sent without a
        // hint (`storage/head/reset_hint.rs`, whose own tests say when);
        // anything else must come back bit for bit.
        let mut unhinted = h.h.clone();
        if unhinted.reset_hint == CounterResetHint::NotReset {
            unhinted.reset_hint = CounterResetHint::Unknown;
        }
        let i = (pool.iter().position(|p| p.bit_eq(&h.h)))
            .or_else(|| pool.iter().position(|p| p.bit_eq(&unhinted)))
            .unwrap_or_else(|| panic!("histogram not from the pool: {:?}", h.h));
        out.push((h.t, Val::H(i)));
    }
    out.sort_by_key(|(t, _)| *t);
    out
}

fn tenants() -> Vec<TenantId> {
    TENANTS.iter().map(|t| common::tenant(t)).collect()
}

fn config(dir: &std::path::Path, windows: &[i64]) -> StorageConfig {
    let mut cfg = common::config(dir, BLOCK_RANGE);
    for (t, w) in tenants().into_iter().zip(windows) {
        cfg.tenant_overrides.insert(
            t,
            tessera::storage::TenantConfig {
                ooo_window_ms: *w,
                retention_ms: None,
                ..Default::default()
            },
        );
    }
    cfg
}

fn run(ops: &[Op], windows: [i64; 2]) -> Result<(), TestCaseError> {
    run_with(ops, windows, false)
}

fn run_with(ops: &[Op], windows: [i64; 2], with_bucket: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let bucket = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir.path().join("data"), &windows);
    if with_bucket {
        let url = format!("file://{}", bucket.path().display());
        let mut os = tessera::storage::ObjectStorageConfig::new(&url, &cfg.data_dir);
        os.local_retention = std::time::Duration::ZERO;
        os.deletion_delay = std::time::Duration::ZERO;
        os.cache_max_bytes = 64 << 10;
        cfg.object_storage = Some(os);
    }
    let mut storage = Some(common::open(&cfg));
    let pool = series_pool();
    let sets = matcher_sets();
    let ts = tenants();
    let mut model = Model {
        series: vec![BTreeMap::new(); 2],
        min_valid: vec![i64::MIN; 2],
        ooo_window: windows.to_vec(),
    };
    for (i, op) in ops.iter().enumerate() {
        let st = storage.as_ref().unwrap();
        match op {
            Op::Append {
                tenant,
                series,
                samples,
            } => {
                let got = append_values(st, &ts[*tenant], &pool[*series], samples);
                let want = model.append(*tenant, &pool[*series], samples);
                prop_assert_eq!(
                    (got.accepted, got.duplicates_ignored, got.rejected),
                    want,
                    "op {}: {:?}",
                    i,
                    op
                );
            }
            Op::Query {
                tenant,
                matchers,
                mint,
                maxt,
            } => {
                let got: Vec<(Labels, Vec<(i64, Val)>)> = st
                    .querier(&ts[*tenant], *mint, *maxt)
                    .select(&sets[*matchers])
                    .unwrap()
                    .into_iter()
                    .map(|s| (s.labels, values_of(&s.samples, &s.histograms)))
                    .collect();
                prop_assert_eq!(
                    got,
                    model.query(*tenant, &sets[*matchers], *mint, *maxt),
                    "op {}: {:?}",
                    i,
                    op
                );
            }
            Op::Restart => {
                storage.take().unwrap().close().unwrap();
                storage = Some(common::open(&cfg));
            }
            Op::Crash => {
                // Leak the old instance: no close, no final fsync, as after kill -9.
                std::mem::forget(storage.take());
                storage = Some(common::open(&cfg));
            }
            Op::Flush { tenant } => {
                st.flush(&ts[*tenant]).unwrap();
                model.flush(*tenant);
            }
            Op::Maintain => {
                st.maintain().unwrap();
                // Only tenants that have a partition are maintained; a tenant with no data has no head to flush.
                for t in 0..2 {
                    model.maintain(t);
                }
            }
            Op::Compact { tenant } => {
                st.compact(&ts[*tenant]).unwrap();
            }
            Op::Ship => {
                st.ship().unwrap();
            }
            Op::BucketRound => {
                st.maintain_bucket().unwrap();
            }
            Op::Replace => {
                st.flush_all().unwrap();
                st.ship().unwrap();
                storage.take().unwrap().close().unwrap();
                std::fs::remove_dir_all(&cfg.data_dir).unwrap();
                storage = Some(common::open(&cfg));
                for t in 0..2 {
                    model.flush(t);
                    model.replaced(t);
                }
            }
            Op::Retention { tenant, cutoff } => {
                let deleted = st.apply_retention(&ts[*tenant], *cutoff).unwrap();
                for (min, max) in deleted {
                    prop_assert!(
                        max <= *cutoff,
                        "deleted block [{}, {}) reaches past cutoff {}",
                        min,
                        max,
                        cutoff
                    );
                    for s in model.series[*tenant].values_mut() {
                        s.samples.retain(|t, _| !(*t >= min && *t < max));
                    }
                }
            }
        }
    }
    // Final full comparison after a clean restart.
    storage.take().unwrap().close().unwrap();
    let st = common::open(&cfg);
    for (ti, t) in ts.iter().enumerate() {
        let all = &sets[0];
        let got: Vec<_> = st
            .querier(t, i64::MIN, i64::MAX)
            .select(all)
            .unwrap()
            .into_iter()
            .map(|s| (s.labels, values_of(&s.samples, &s.histograms)))
            .collect();
        prop_assert_eq!(
            got,
            model.query(ti, all, i64::MIN, i64::MAX),
            "final state of tenant {}",
            t
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_with_a_bucket_matches_oracle(ops in prop::collection::vec(bucket_op(), 1..60), w0 in prop_oneof![Just(0i64), Just(50)]) {
        run_with(&ops, [w0, 0], true)?;
    }

    #[test]
    fn engine_matches_oracle(ops in prop::collection::vec(op(), 1..60), w0 in prop_oneof![Just(0i64), Just(50), Just(300)], w1 in prop_oneof![Just(0i64), Just(120)]) {
        run(&ops, [w0, w1])?;
    }
}

fn app(tenant: usize, series: usize, samples: &[(i64, f64)]) -> Op {
    Op::Append {
        tenant,
        series,
        samples: samples
            .iter()
            .map(|(t, v)| (*t, Val::F(v.to_bits())))
            .collect(),
    }
}

#[test]
fn flush_then_late_sample_is_too_old_regression() {
    run(
        &[
            app(0, 0, &[(10, 1.0), (20, 2.0)]),
            Op::Flush { tenant: 0 },
            app(0, 0, &[(15, 1.5), (21, 3.0)]),
            Op::Restart,
        ],
        [50, 0],
    )
    .unwrap();
}

#[test]
fn crash_after_flush_replays_only_unflushed_regression() {
    run(
        &[
            app(0, 1, &[(1, 1.0), (150, 2.0), (320, 3.0)]),
            Op::Maintain,
            app(0, 1, &[(330, 4.0)]),
            Op::Crash,
            Op::Query {
                tenant: 0,
                matchers: 0,
                mint: 0,
                maxt: 1000,
            },
        ],
        [0, 0],
    )
    .unwrap();
}

#[test]
fn compaction_and_retention_keep_the_rest_regression() {
    let mut ops = Vec::new();
    for i in 0..8 {
        ops.push(app(1, 3, &[(i * 100 + 5, i as f64)]));
        ops.push(Op::Flush { tenant: 1 });
    }
    ops.push(Op::Compact { tenant: 1 });
    ops.push(Op::Retention {
        tenant: 1,
        cutoff: 310,
    });
    ops.push(Op::Restart);
    ops.push(Op::Query {
        tenant: 1,
        matchers: 0,
        mint: 0,
        maxt: 2000,
    });
    run(&ops, [0, 0]).unwrap();
}

#[test]
fn nonexistent_tenant_reads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let st: Storage = common::open(&config(dir.path(), &[0, 0]));
    let m = Matcher::new(MatchOp::Equal, "__name__", "up").unwrap();
    assert!(st
        .querier(&common::tenant("nobody"), 0, 10)
        .select(&[m])
        .unwrap()
        .is_empty());
}

#[test]
fn series_recreated_after_gc_survives_two_restarts_regression() {
    run(
        &[
            app(0, 0, &[(1359, 0.0)]),
            app(0, 1, &[(1000, 0.0)]),
            Op::Flush { tenant: 0 },
            app(0, 3, &[(0, 0.0)]),
            Op::Restart,
            app(0, 3, &[(1360, 0.0)]),
        ],
        [0, 0],
    )
    .unwrap();
}

#[test]
fn shipped_blocks_read_from_the_bucket_after_a_replace_regression() {
    let q = |tenant| Op::Query {
        tenant,
        matchers: 0,
        mint: 0,
        maxt: 2000,
    };
    let mut ops = Vec::new();
    for i in 0..6 {
        ops.push(app(0, 0, &[(i * 100 + 7, i as f64), (i * 100 + 50, 0.5)]));
        ops.push(app(1, 0, &[(i * 100 + 7, -(i as f64))]));
        ops.push(Op::Flush { tenant: 0 });
        ops.push(Op::Flush { tenant: 1 });
    }
    ops.extend([
        Op::BucketRound,
        q(0),
        Op::Compact { tenant: 0 },
        Op::BucketRound,
        q(0),
        q(1),
        Op::Replace,
        q(0),
        q(1),
        // Older than the newest block: refused on the new machine too.
        app(0, 0, &[(10, 9.0), (700, 9.0)]),
        Op::Crash,
        q(0),
    ]);
    run_with(&ops, [0, 0], true).unwrap();
}

fn app_h(tenant: usize, series: usize, samples: &[(i64, usize)]) -> Op {
    Op::Append {
        tenant,
        series,
        samples: samples.iter().map(|(t, i)| (*t, Val::H(*i))).collect(),
    }
}

#[test]
fn histograms_survive_crash_flush_and_compaction_regression() {
    let q = Op::Query {
        tenant: 0,
        matchers: 0,
        mint: i64::MIN / 2,
        maxt: i64::MAX / 2,
    };
    let ops = vec![
        app_h(0, 0, &[(10, 0), (20, 1), (30, 4), (40, 2), (50, 3)]),
        app(0, 0, &[(60, 1.5), (25, 2.5)]),
        app_h(0, 0, &[(60, 0), (15, 2), (70, 1)]),
        Op::Crash,
        q.clone(),
        Op::Flush { tenant: 0 },
        app_h(0, 0, &[(250, 0)]),
        app_h(0, 1, &[(150, 1), (260, 2)]),
        Op::Flush { tenant: 0 },
        Op::Compact { tenant: 0 },
        Op::Restart,
        q,
    ];
    run(&ops, [50, 0]).unwrap();
}

//! PromQL engine behaviour that the conformance scripts don't cover:
//! tenant scoping, forced matchers, limits, error types, and that no input
//! makes the parser or evaluator panic.

mod common;

use std::time::Duration;

use common::{append, config, labels, open, tenant};
use proptest::prelude::*;
use tessera::model::{Histogram, HistogramSample, Sample};
use tessera::promql::{Engine, EngineConfig, QueryError, TenantScope, Value};
use tessera::storage::{MatchOp, Matcher, Storage};

const MIN: i64 = 60_000;

/// Two tenants with the same metric name and label sets but different values.
fn two_tenants() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&config(dir.path(), 2 * 3600 * 1000));
    for (t, base) in [("acme", 1.0), ("globex", 1000.0)] {
        for org in ["a", "b"] {
            let l = labels(&[("__name__", "req_total"), ("org", org), ("job", "api")]);
            let samples: Vec<Sample> = (0..=10)
                .map(|i| Sample::new(i * MIN, base + i as f64))
                .collect();
            append(&storage, &tenant(t), &l, &samples).unwrap();
        }
    }
    (dir, storage)
}

fn vector(v: &Value) -> Vec<(String, f64)> {
    match v {
        Value::Vector(s) => {
            let mut out: Vec<(String, f64)> =
                s.iter().map(|x| (format!("{:?}", x.labels), x.v)).collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("expected a vector, got {other:?}"),
    }
}

#[test]
fn selectors_read_only_the_scoped_tenant() {
    let (_d, storage) = two_tenants();
    let engine = Engine::default();
    for (t, expect) in [("acme", 2.0 * 11.0), ("globex", 2.0 * 1010.0)] {
        let scope = TenantScope::new(&storage, tenant(t));
        let out = engine
            .instant_query(&scope, "sum(req_total)", 10 * MIN)
            .unwrap();
        let v = vector(&out.value);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].1, expect, "tenant {t}");
        // A regex that matches everything still stays inside the tenant.
        let out = engine
            .instant_query(&scope, r#"count({__name__=~".+"})"#, 10 * MIN)
            .unwrap();
        assert_eq!(vector(&out.value)[0].1, 2.0, "tenant {t}");
    }
    let nobody = TenantScope::new(&storage, tenant("initech"));
    let out = engine
        .instant_query(&nobody, "req_total", 10 * MIN)
        .unwrap();
    assert_eq!(out.value, Value::Vector(vec![]));
}

#[test]
fn forced_matchers_narrow_every_selector_and_cannot_be_widened() {
    let (_d, storage) = two_tenants();
    let engine = Engine::default();
    let forced = vec![Matcher::new(MatchOp::Equal, "org", "a").unwrap()];
    let scope = TenantScope::new(&storage, tenant("acme")).with_forced_matchers(forced);
    for q in [
        "req_total",
        r#"req_total{org=~".*"}"#,
        r#"req_total{org!="a"} or req_total"#,
        r#"{__name__=~"req.*", org="b"} or on() req_total"#,
        "rate(req_total[5m])",
        "max_over_time(req_total[5m:1m])",
    ] {
        let out = engine.instant_query(&scope, q, 10 * MIN).unwrap();
        for (l, _) in vector(&out.value) {
            assert!(
                !l.contains("org: \"b\"") && !l.contains("\"b\""),
                "{q} leaked {l}"
            );
        }
    }
    let out = engine
        .instant_query(&scope, r#"count(req_total{org="b"})"#, 10 * MIN)
        .unwrap();
    assert_eq!(out.value, Value::Vector(vec![]));
    let out = engine
        .instant_query(&scope, "count(req_total)", 10 * MIN)
        .unwrap();
    assert_eq!(vector(&out.value)[0].1, 1.0);
}

#[test]
fn sample_limit_is_a_typed_error() {
    let (_d, storage) = two_tenants();
    let engine = Engine::new(EngineConfig {
        max_samples: 10,
        ..EngineConfig::default()
    });
    let scope = TenantScope::new(&storage, tenant("acme"));
    let err = engine
        .range_query(&scope, "req_total", 0, 10 * MIN, MIN)
        .unwrap_err();
    assert_eq!(err, QueryError::TooManySamples(10));
    assert_eq!(err.error_type(), "execution");
    assert!(err.to_string().contains("too many samples"));
    assert!(
        err.to_string().contains("max samples per query: 10"),
        "{err}"
    );
    // A query under the limit still works.
    engine
        .instant_query(&scope, r#"req_total{org="a"}"#, 10 * MIN)
        .unwrap();
}

#[test]
fn series_limit_is_a_typed_error() {
    let (_d, storage) = two_tenants();
    let engine = Engine::new(EngineConfig {
        max_series: 1,
        ..EngineConfig::default()
    });
    let scope = TenantScope::new(&storage, tenant("acme"));
    let err = engine
        .instant_query(&scope, "req_total", 10 * MIN)
        .unwrap_err();
    assert_eq!(err, QueryError::TooManySeries(1));
    engine
        .instant_query(&scope, r#"req_total{org="a"}"#, 10 * MIN)
        .unwrap();
}

#[test]
fn timeout_is_a_typed_error() {
    let (_d, storage) = two_tenants();
    let engine = Engine::new(EngineConfig {
        timeout: Duration::ZERO,
        ..EngineConfig::default()
    });
    let scope = TenantScope::new(&storage, tenant("acme"));
    std::thread::sleep(Duration::from_millis(2));
    let err = engine
        .range_query(&scope, "rate(req_total[5m])", 0, 10 * MIN, 1000)
        .unwrap_err();
    assert!(matches!(err, QueryError::Timeout(_)), "{err:?}");
    assert_eq!(err.error_type(), "timeout");
}

#[test]
fn errors_carry_prometheus_types() {
    let (_d, storage) = two_tenants();
    let engine = Engine::default();
    let scope = TenantScope::new(&storage, tenant("acme"));
    let bad = engine.instant_query(&scope, "sum(", 0).unwrap_err();
    assert_eq!(bad.error_type(), "bad_data");
    let all = engine
        .instant_query(&scope, r#"{job=~".*"}"#, 0)
        .unwrap_err();
    assert_eq!(all.error_type(), "bad_data");
    let dup = engine
        .instant_query(&scope, "req_total * on(job) req_total", 10 * MIN)
        .unwrap_err();
    assert!(
        dup.to_string()
            .contains("many-to-many matching not allowed"),
        "{dup}"
    );
    let step = engine
        .range_query(&scope, "req_total", 0, MIN, 0)
        .unwrap_err();
    assert_eq!(step.error_type(), "bad_data");
    // Histogram functions skip float samples, as upstream's do.
    let nh = engine
        .instant_query(&scope, "histogram_count(req_total)", 10 * MIN)
        .unwrap();
    assert_eq!(nh.value, Value::Vector(vec![]));
}

/// An integer histogram with `count` observations in bucket 1 of schema 0
/// (values in (1, 2]) and a sum of `1.5 * count`.
fn int_histogram(count: u64) -> Histogram {
    common::one_bucket_histogram(count, 1.5 * count as f64, 1)
}

/// Tenant `acme` holds a counter histogram growing by 60 per minute (one
/// per second), with a reset to 0 at 7m; `globex` holds the same name
/// with floats only.
fn histogram_tenants() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&config(dir.path(), 2 * 3600 * 1000));
    let l = labels(&[("__name__", "lat_seconds"), ("job", "api")]);
    let hs: Vec<HistogramSample> = (0..=10)
        .map(|i| {
            let n = if i < 7 { i * 60 } else { (i - 7) * 60 };
            HistogramSample {
                t: i as i64 * MIN,
                h: int_histogram(n as u64),
            }
        })
        .collect();
    common::append_histograms(&storage, &tenant("acme"), &l, &hs).unwrap();
    let floats: Vec<Sample> = (0..=10).map(|i| Sample::new(i * MIN, 7.0)).collect();
    append(&storage, &tenant("globex"), &l, &floats).unwrap();
    (dir, storage)
}

#[test]
fn native_histograms_are_computed_with_and_stay_in_their_tenant() {
    let (_d, storage) = histogram_tenants();
    let engine = Engine::default();
    let acme = TenantScope::new(&storage, tenant("acme"));
    let count = |q: &str| {
        let out = engine.instant_query(&acme, q, 5 * MIN).unwrap();
        vector(&out.value)
    };
    assert_eq!(count("histogram_count(lat_seconds)")[0].1, 300.0);
    assert_eq!(count("histogram_sum(lat_seconds * 2)")[0].1, 900.0);
    assert_eq!(count("histogram_avg(sum(lat_seconds))")[0].1, 1.5);
    // 60 observations a minute over a 2m window that holds three samples
    // one minute apart: extrapolated to the window, one per second.
    let rate = count("histogram_count(rate(lat_seconds[2m]))")[0].1;
    assert!((rate - 1.0).abs() < 1e-9, "{rate}");
    // All observations lie in (1, 2]: the median interpolates inside it.
    let q = count("histogram_quantile(0.5, lat_seconds)")[0].1;
    assert!(q > 1.0 && q < 2.0, "{q}");
    assert_eq!(count("histogram_fraction(0, 2, lat_seconds)")[0].1, 1.0);
    // The counter reset at 7m is detected: over (4m, 8m] the samples are
    // 300, 360, 0, 60, a raw increase of 60 + 60; extrapolated from 3m of
    // samples to the 4m window, 160 (without the reset it would be negative).
    let out = engine
        .instant_query(&acme, "histogram_count(increase(lat_seconds[4m]))", 8 * MIN)
        .unwrap();
    let inc = vector(&out.value)[0].1;
    assert!((inc - 160.0).abs() < 1e-9, "{inc}");
    // A bare selector answers the histogram itself.
    let out = engine.instant_query(&acme, "lat_seconds", 5 * MIN).unwrap();
    let Value::Vector(v) = &out.value else {
        panic!("{:?}", out.value)
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].histogram.as_ref().map(|h| h.count_f64()), Some(300.0));
    // The other tenant's series of the same name holds floats only.
    let globex = TenantScope::new(&storage, tenant("globex"));
    let out = engine
        .instant_query(&globex, "histogram_count(lat_seconds)", 5 * MIN)
        .unwrap();
    assert_eq!(out.value, Value::Vector(vec![]));
    // sort() orders floats only (upstream's funcSort over `filterFloats`):
    // a histogram is left out rather than refused, and nothing of globex's
    // float series of the same name appears.
    let out = engine
        .instant_query(&acme, "sort(lat_seconds)", 5 * MIN)
        .unwrap();
    assert_eq!(out.value, Value::Vector(vec![]));
    let out = engine
        .instant_query(&acme, "sort(histogram_count(lat_seconds))", 5 * MIN)
        .unwrap();
    let v = vector(&out.value);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].1, 300.0);
    assert!(!v[0].0.contains("__name__"), "{v:?}");
    // Trimming keeps the share of a bucket below the bound: (1, 2] cut at
    // 2^0.5 is half of it on the exponential scale, and the name stays.
    let out = engine
        .instant_query(&acme, "lat_seconds </ 1.4142135623730951", 5 * MIN)
        .unwrap();
    let Value::Vector(v) = &out.value else {
        panic!("{:?}", out.value)
    };
    assert_eq!(v[0].labels.get("__name__"), Some("lat_seconds"));
    let kept = v[0]
        .histogram
        .as_ref()
        .map(|h| h.count_f64())
        .unwrap_or(0.0);
    assert!((kept - 150.0).abs() < 1e-9, "{kept}");
    // Mixing floats and histograms in one sum gives upstream's warning.
    let out = engine
        .instant_query(&acme, "sum(lat_seconds or vector(1))", 5 * MIN)
        .unwrap();
    assert_eq!(out.value, Value::Vector(vec![]));
    assert!(
        out.annotations.warnings[0].contains("mix of histograms and floats for aggregation"),
        "{:?}",
        out.annotations
    );
}

/// Random expressions built from a small grammar: each must give a value or
/// an error, never a panic.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("req_total".to_string()),
        Just(r#"req_total{org="a"}"#.to_string()),
        Just("req_total offset -2m".to_string()),
        Just("req_total @ 300".to_string()),
        (-5.0f64..5.0).prop_map(|v| format!("{v}")),
        Just("NaN".to_string()),
        Just("Inf".to_string()),
        Just("time()".to_string()),
        Just("vector(1)".to_string()),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        let fns = prop_oneof![
            Just("rate"),
            Just("irate"),
            Just("delta"),
            Just("deriv"),
            Just("changes"),
            Just("resets"),
            Just("avg_over_time"),
            Just("stddev_over_time"),
            Just("mad_over_time"),
            Just("last_over_time"),
            Just("absent_over_time"),
        ];
        let ops = prop_oneof![
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("%"),
            Just("^"),
            Just(">"),
            Just("== bool"),
            Just("and"),
            Just("or"),
            Just("unless"),
            Just("* on(org) group_left"),
            Just("/ ignoring(job)"),
            Just("atan2"),
        ];
        let aggs = prop_oneof![
            Just("sum"),
            Just("avg"),
            Just("min"),
            Just("max"),
            Just("stddev"),
            Just("count"),
            Just("group"),
        ];
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(a, o, b)| format!("({a}) {o} ({b})")),
            (aggs, inner.clone()).prop_map(|(a, e)| format!("{a} by (org) ({e})")),
            (fns.clone(), inner.clone()).prop_map(|(f, e)| format!("{f}(({e})[5m:1m])")),
            (fns, 1u32..20).prop_map(|(f, r)| format!("{f}(req_total[{r}m])")),
            inner.clone().prop_map(|e| format!("topk(2, {e})")),
            inner.clone().prop_map(|e| format!("quantile(0.3, {e})")),
            inner
                .clone()
                .prop_map(|e| format!("histogram_quantile(0.9, {e})")),
            inner
                .clone()
                .prop_map(|e| format!("label_replace({e}, \"x\", \"$1\", \"org\", \"(.)\")")),
            inner.clone().prop_map(|e| format!("clamp({e}, 1, 3)")),
            inner.clone().prop_map(|e| format!("-({e})")),
            inner.clone().prop_map(|e| format!("absent({e})")),
            inner
                .clone()
                .prop_map(|e| format!("count_values(\"v\", {e})")),
            inner.prop_map(|e| format!("scalar({e})")),
        ]
    })
}

/// One shared store for the property tests (opening one per case is slow).
fn shared() -> &'static Storage {
    static S: std::sync::OnceLock<(tempfile::TempDir, Storage)> = std::sync::OnceLock::new();
    &S.get_or_init(two_tenants).1
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_expressions_never_panic(q in expr(), t in 0i64..12, range in any::<bool>()) {
        let storage = shared();
        let engine = Engine::default();
        let scope = TenantScope::new(storage, tenant("acme"));
        let _ = if range {
            engine.range_query(&scope, &q, 0, t * MIN, 30_000)
        } else {
            engine.instant_query(&scope, &q, t * MIN)
        };
    }

    #[test]
    fn random_text_never_panics(q in "[a-z_(){}\\[\\]=~!\"0-9.,:@+*/ -]{0,40}") {
        let storage = shared();
        let engine = Engine::default();
        let scope = TenantScope::new(storage, tenant("acme"));
        let _ = engine.instant_query(&scope, &q, 5 * MIN);
    }
}

#[test]
fn restricted_label_allows_only_plain_allowed_values() {
    let (_d, storage) = two_tenants();
    let engine = Engine::default();
    let scope = TenantScope::new(&storage, tenant("acme"))
        .with_restricted_label("org", vec!["a".into()])
        .unwrap();
    // No matcher on the label: the allowed set applies.
    let out = engine
        .instant_query(&scope, "count(req_total)", 10 * MIN)
        .unwrap();
    assert_eq!(vector(&out.value)[0].1, 1.0);
    let out = engine
        .instant_query(&scope, r#"count({__name__=~".+"})"#, 10 * MIN)
        .unwrap();
    assert_eq!(vector(&out.value)[0].1, 1.0);
    for ok in [r#"req_total{org="a"}"#, r#"req_total{org=~"a"}"#] {
        let out = engine.instant_query(&scope, ok, 10 * MIN).unwrap();
        assert_eq!(vector(&out.value).len(), 1, "{ok}");
    }
    for bad in [
        r#"req_total{org="b"}"#,
        r#"req_total{org=~".*"}"#,
        r#"req_total{org=~"a|.*"}"#,
        r#"req_total{org=~"(?i)A"}"#,
        r#"req_total{org!=""}"#,
        r#"req_total{org!~"a"}"#,
        r#"req_total{org=~"a|b"}"#,
        r#"sum(rate(req_total{org=~"a|b"}[5m]))"#,
    ] {
        let err = engine.instant_query(&scope, bad, 10 * MIN).unwrap_err();
        assert_eq!(err.error_type(), "forbidden", "{bad}: {err}");
        assert!(err.to_string().contains("restricted label"), "{bad}: {err}");
    }
    // Metadata goes through the same policy.
    let values = scope.label_values("org", &[], 0, 10 * MIN).unwrap();
    assert_eq!(values, vec!["a".to_string()]);
    assert!(scope
        .series(&[r#"req_total{org="b"}"#], 0, 10 * MIN)
        .is_err());
}

#[test]
fn federated_scope_tags_series_with_their_tenant() {
    let (_d, storage) = two_tenants();
    let engine = Engine::default();
    let scope = TenantScope::federated(&storage, vec![tenant("acme"), tenant("globex")]);
    let out = engine
        .instant_query(&scope, r#"sum by (__tenant_id__) (req_total)"#, 10 * MIN)
        .unwrap();
    assert_eq!(
        vector(&out.value),
        vec![
            (r#"{__tenant_id__="acme"}"#.to_string(), 22.0),
            (r#"{__tenant_id__="globex"}"#.to_string(), 2020.0)
        ]
    );
    let out = engine
        .instant_query(
            &scope,
            r#"count(req_total{__tenant_id__="globex"})"#,
            10 * MIN,
        )
        .unwrap();
    assert_eq!(vector(&out.value)[0].1, 2.0);
    let t = scope
        .label_values("__tenant_id__", &[], 0, 10 * MIN)
        .unwrap();
    assert_eq!(t, vec!["acme".to_string(), "globex".to_string()]);
    // A single-tenant scope has no such label and cannot reach other tenants.
    let one = TenantScope::new(&storage, tenant("acme"));
    let out = engine
        .instant_query(
            &one,
            r#"count(req_total{__tenant_id__="globex"})"#,
            10 * MIN,
        )
        .unwrap();
    assert_eq!(out.value, Value::Vector(vec![]));
}

/// `start_timestamp()` (the float part of upstream's `start_timestamps.test`
/// case, whose script also loads native histograms and so is skipped there):
/// the start timestamp of the sample the selector picks, 0 when it has
/// none; and nothing for an expression argument.
#[test]
fn start_timestamp_function_reads_the_picked_samples_start_time() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&config(dir.path(), 2 * 3600 * 1000));
    let t = tenant("st");
    let l = labels(&[("__name__", "series"), ("case", "b")]);
    let refs = l.refs();
    let samples = [Sample::new(40_000, 40.0), Sample::new(70_000, 70.0)];
    storage
        .append_with_start_times(
            &t,
            &[tessera::storage::SeriesInput {
                labels: &refs,
                samples: &samples,
                histograms: &[],
            }],
            &[&[37_000, 30_000]],
        )
        .unwrap();
    let plain = labels(&[("__name__", "series"), ("case", "none")]);
    append(&storage, &t, &plain, &[Sample::new(40_000, 1.0)]).unwrap();
    let scope = TenantScope::new(&storage, t);
    let engine = Engine::default();
    let at = |q: &str, ms: i64| vector(&engine.instant_query(&scope, q, ms).unwrap().value);
    let got = at("start_timestamp(series)", 50_000);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter().any(|(l, v)| l.contains("\"b\"") && *v == 37.0),
        "{got:?}"
    );
    assert!(
        got.iter().any(|(l, v)| l.contains("none") && *v == 0.0),
        "{got:?}"
    );
    let later = at(r#"start_timestamp(series{case="b"})"#, 100_000);
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].1, 30.0);
    assert!(at("start_timestamp(series * 1)", 50_000).is_empty());
}

/// Selections of many series compute their range functions and instant
/// selectors on the reader's decoding threads (`each_series_mapped`).
/// Their answers must be what each series gives alone (a selection of
/// one series, computed on the query's thread), series for series, in
/// the same order, with histograms and stale markers taking their own
/// paths in between.
#[test]
fn many_series_computed_where_decoded_match_each_series_alone() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&config(dir.path(), 2 * 3600 * 1000));
    let t = tenant("many");
    let n = 700usize;
    let key = |i: usize| format!("s{i:04}");
    for i in 0..n {
        let l = labels(&[("__name__", "c_total"), ("k", &key(i))]);
        let samples: Vec<Sample> = (0..=40)
            .map(|j| {
                // Some series reset, one goes stale half way.
                let v = if i % 7 == 0 && j > 20 { j - 20 } else { j } as f64 * (i + 1) as f64;
                if i == 13 && j == 20 {
                    Sample::new(j * 15_000, tessera::model::stale_nan())
                } else {
                    Sample::new(j * 15_000, v)
                }
            })
            .collect();
        append(&storage, &t, &l, &samples).unwrap();
    }
    // One series of native histograms (growing counts) in the middle.
    let hl = labels(&[("__name__", "c_total"), ("k", "s0350h")]);
    let hs: Vec<HistogramSample> = (0..=40)
        .map(|j| HistogramSample {
            t: j * 15_000,
            h: int_histogram(j as u64 * 4),
        })
        .collect();
    common::append_histograms(&storage, &t, &hl, &hs).unwrap();
    let engine = Engine::default();
    let scope = TenantScope::new(&storage, t);
    let mut all_keys: Vec<String> = (0..n).map(key).chain(["s0350h".to_string()]).collect();
    all_keys.sort();
    for q in [
        "rate(c_total[1m])",
        "avg_over_time(c_total[2m])",
        "c_total",
        "timestamp(c_total)",
    ] {
        let all = engine
            .range_query(&scope, q, 0, 600_000, 15_000)
            .unwrap_or_else(|e| panic!("{q}: {e:?}"));
        let Value::Matrix(all) = all.value else {
            panic!("{q}: not a matrix");
        };
        assert!(all.len() >= n, "{q}: {} series", all.len());
        let mut got = all.iter();
        for k in &all_keys {
            let one_q = q.replace("c_total", &format!("c_total{{k=\"{k}\"}}"));
            let one = engine
                .range_query(&scope, &one_q, 0, 600_000, 15_000)
                .unwrap_or_else(|e| panic!("{one_q}: {e:?}"));
            let Value::Matrix(one) = one.value else {
                panic!("{one_q}: not a matrix");
            };
            for s in one {
                assert_eq!(got.next(), Some(&s), "{q}: series {k}");
            }
        }
        assert_eq!(got.next(), None, "{q}: extra series");
    }
}

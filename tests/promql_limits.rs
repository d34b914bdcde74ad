//! The stack a query thread gets is enough for the deepest query the parser
//! accepts: every kind of nesting at exactly the limit is parsed, planned
//! and evaluated (instant and range) on a thread with a quarter of
//! `QUERY_STACK_BYTES`, and one level more is refused as `bad_data`.
//! Grids and outputs whose size follows from the query are refused before
//! they are allocated.

mod common;

use common::{append, config, labels, open, tenant};
use tessera::model::Sample;
use tessera::promql::{Engine, EngineConfig, QueryError, TenantScope, Value, QUERY_STACK_BYTES};
use tessera::storage::Storage;

const MIN: i64 = 60_000;
const LIMIT: usize = 1000;

fn storage() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&config(dir.path(), 2 * 3600 * 1000));
    for host in ["a", "b"] {
        let l = labels(&[("__name__", "x"), ("host", host)]);
        let samples: Vec<Sample> = (0..=60).map(|i| Sample::new(i * MIN, i as f64)).collect();
        append(&storage, &tenant("t"), &l, &samples).unwrap();
    }
    (dir, storage)
}

/// A query of `kind` nested `depth` levels deep (as the limit counts them).
fn nested(kind: &str, depth: usize) -> String {
    match kind {
        "parentheses" => format!("{}x{}", "(".repeat(depth), ")".repeat(depth)),
        "function calls" => format!("{}x{}", "abs(".repeat(depth), ")".repeat(depth)),
        "aggregations" => format!("{}x{}", "sum(".repeat(depth), ")".repeat(depth)),
        "binary operators" => format!("x{}", " + x".repeat(depth)),
        "power chain" => format!("x{}", " ^ 1".repeat(depth)),
        "set operators" => format!("x{}", " or x".repeat(depth)),
        "unary minus" => format!("{}x", "-".repeat(depth)),
        "scalar arithmetic" => format!("1{}", " + 1".repeat(depth)),
        // A call, a subquery and a parenthesis per level.
        "subqueries" => {
            let mut q = "x".to_string();
            for _ in 0..depth / 3 {
                q = format!("max_over_time(({q})[2m:1m])");
            }
            q
        }
        _ => unreachable!(),
    }
}

const KINDS: [&str; 9] = [
    "parentheses",
    "function calls",
    "aggregations",
    "binary operators",
    "power chain",
    "set operators",
    "unary minus",
    "scalar arithmetic",
    "subqueries",
];

/// Runs `f` on a thread with `stack` bytes, as the server's query pool does.
fn on_stack<T: Send + 'static>(stack: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the query thread must not overflow its stack")
}

#[test]
fn queries_at_the_nesting_limit_run_on_a_quarter_of_the_query_stack() {
    for kind in KINDS {
        let q = nested(kind, LIMIT);
        let out = on_stack(QUERY_STACK_BYTES / 4, move || {
            let (_d, storage) = storage();
            let scope = TenantScope::new(&storage, tenant("t"));
            let engine = Engine::default();
            let instant = engine.instant_query(&scope, &q, 60 * MIN);
            let range = engine.range_query(&scope, &q, 50 * MIN, 60 * MIN, MIN);
            let formatted = tessera::promql::format_query(&q).map(|f| f.len());
            (instant, range, formatted)
        });
        let (instant, range, formatted) = out;
        let instant = instant.unwrap_or_else(|e| panic!("{kind}: {e}"));
        match instant.value {
            Value::Vector(v) => assert!(!v.is_empty(), "{kind}: empty result"),
            Value::Scalar { v, .. } => assert_eq!(v, (LIMIT + 1) as f64, "{kind}"),
            other => panic!("{kind}: {other:?}"),
        }
        match range.unwrap_or_else(|e| panic!("{kind} range: {e}")).value {
            Value::Matrix(m) => assert!(!m.is_empty(), "{kind}: empty range result"),
            other => panic!("{kind}: {other:?}"),
        }
        assert!(formatted.unwrap_or_else(|e| panic!("{kind}: {e}")) > 0);
    }
}

#[test]
fn one_level_past_the_limit_is_bad_data_naming_the_limit() {
    let (_d, storage) = storage();
    let scope = TenantScope::new(&storage, tenant("t"));
    let engine = Engine::default();
    for kind in KINDS {
        for depth in [LIMIT + 3, 100_000] {
            let q = nested(kind, depth);
            let err = engine.instant_query(&scope, &q, 60 * MIN).unwrap_err();
            assert_eq!(err.error_type(), "bad_data", "{kind} {depth}");
            assert!(
                err.to_string()
                    .contains("expression nesting exceeds the limit of 1000 levels"),
                "{kind} {depth}: {err}"
            );
            let err = tessera::promql::format_query(&q).unwrap_err();
            assert_eq!(err.error_type(), "bad_data", "{kind} {depth}");
        }
    }
}

#[test]
fn a_subquery_grid_too_long_for_the_budget_is_refused_before_allocation() {
    let (_d, storage) = storage();
    let scope = TenantScope::new(&storage, tenant("t"));
    let engine = Engine::default();
    // 100 years at 1 ms would be 3.2e12 steps (25 TB of slots): refused
    // by arithmetic, not by the allocator.
    for q in [
        "max_over_time(x[100y:1ms])",
        "count_over_time(vector(1)[10000d:1ms])",
        "rate(x[5m])[100000d:1s]",
        "max_over_time(max_over_time(x[1d:1ms])[1d:1ms])",
    ] {
        let err = engine.instant_query(&scope, q, 60 * MIN).unwrap_err();
        assert!(matches!(err, QueryError::TooManySamples(50_000_000)), "{q}: {err}");
        assert!(
            err.to_string()
                .starts_with("query processing would load too many samples into memory"),
            "{q}: {err}"
        );
    }
}

#[test]
fn step_slots_of_every_materialised_series_count_against_max_samples() {
    let (_d, storage) = storage();
    let scope = TenantScope::new(&storage, tenant("t"));
    let cfg = EngineConfig {
        max_samples: 1000,
        ..EngineConfig::default()
    };
    let engine = Engine::new(cfg);
    // Two series over 601 steps: 1202 slots > 1000, although each series
    // has only 61 minutes of points in a 10-minute lookback.
    let err = engine
        .range_query(&scope, "sort(x)", 0, 600 * MIN, MIN)
        .unwrap_err();
    assert!(matches!(err, QueryError::TooManySamples(1000)), "{err}");
    // One series' worth fits.
    engine
        .range_query(&scope, "sort(x{host=\"a\"})", 0, 600 * MIN, MIN)
        .unwrap();
    // Aggregation groups are charged before they are made: by-host groups
    // over 601 steps.
    let err = engine
        .range_query(&scope, "sum by (host) (x)", 0, 600 * MIN, MIN)
        .unwrap_err();
    assert!(matches!(err, QueryError::TooManySamples(1000)), "{err}");
    // count_values: each distinct value starts a series over the grid.
    let err = engine
        .range_query(&scope, "count_values(\"v\", x)", 0, 60 * MIN, MIN)
        .unwrap_err();
    assert!(matches!(err, QueryError::TooManySamples(1000)), "{err}");
}

#[test]
fn label_functions_cannot_build_giant_label_values() {
    let (_d, storage) = storage();
    let scope = TenantScope::new(&storage, tenant("t"));
    let engine = Engine::default();
    let sep = "s".repeat(250_000);
    let join = format!(
        "label_join(x, \"dst\", \"{sep}\", \"host\", \"host\", \"host\", \"host\", \"host\", \"host\")"
    );
    let err = engine.instant_query(&scope, &join, 60 * MIN).unwrap_err();
    assert_eq!(err.error_type(), "execution", "{err}");
    let msg = err.to_string();
    assert!(msg.starts_with("label_join() would make a label value of 1250006 bytes"), "{msg}");
    assert!(msg.ends_with("over the limit of 1048576 bytes"), "{msg}");
    let refs = "$1".repeat(600_000);
    let replace = format!("label_replace(x, \"dst\", \"{refs}\", \"host\", \"(.*)\")");
    let err = engine.instant_query(&scope, &replace, 60 * MIN).unwrap_err();
    assert!(err.to_string().contains("label_replace() would make a label value"), "{err}");
    // Below the limit, both work.
    let ok = format!("label_join(x, \"dst\", \"{}\", \"host\", \"host\")", "s".repeat(1000));
    engine.instant_query(&scope, &ok, 60 * MIN).unwrap();
}

#[test]
fn regexes_past_the_compiled_size_limit_are_bad_data() {
    let (_d, storage) = storage();
    let scope = TenantScope::new(&storage, tenant("t"));
    let engine = Engine::default();
    for q in [
        r#"x{host=~"(a{1000}){1000}"}"#,
        r#"label_replace(x, "d", "$1", "host", "((((a{100}){100}){100}){100})")"#,
    ] {
        let err = engine.instant_query(&scope, q, 60 * MIN).unwrap_err();
        assert_ne!(err.error_type(), "internal", "{q}: {err}");
    }
}

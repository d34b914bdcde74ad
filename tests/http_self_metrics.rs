//! Self-monitoring: `/metrics` reports what the last start's WAL replay did
//! (time, samples, repaired tails), failed maintenance rounds and
//! compactions, per-tenant limit hits and query latency by endpoint; each
//! is provoked here and read back. Disk-full rejections are provoked in
//! `tests/disk_full.rs`.

mod common;
mod http;

use tessera::model::{LabelRef, Labels, Sample};
use tessera::storage::SeriesInput;
use tessera::tenant::TenantId;

fn value(body: &str, name: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{body}"))
}

#[tokio::test]
async fn replay_and_repairs_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = http::start(dir.path()).await;
    let labels = Labels::from_pairs([("__name__", "m"), ("job", "x")]);
    let refs: Vec<LabelRef> = labels.refs();
    let samples: Vec<Sample> = (0..500).map(|i| Sample::new(i * 1000, i as f64)).collect();
    s.storage()
        .append(
            &TenantId::new("acme").unwrap(),
            &[SeriesInput {
                labels: &refs,
                samples: &samples,
                histograms: &[],
            }],
        )
        .unwrap();
    let body = s.get("/metrics").await.text().await.unwrap();
    assert_eq!(value(&body, "tessera_wal_repairs_total"), 0.0);
    assert_eq!(value(&body, "tessera_wal_replayed_samples"), 0.0);
    assert_eq!(
        value(&body, "tessera_storage_maintenance_failures_total"),
        0.0
    );
    s.stop().await;

    // A torn write at the end of the newest WAL segment.
    let newest = common::newest_wal_segment(dir.path(), "acme");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap();
    std::io::Write::write_all(&mut f, &[0xAB; 13]).unwrap();
    drop(f);

    let s = http::start(dir.path()).await;
    let body = s.get("/metrics").await.text().await.unwrap();
    assert_eq!(value(&body, "tessera_wal_repairs_total"), 1.0, "{body}");
    assert_eq!(value(&body, "tessera_wal_replayed_samples"), 500.0);
    assert!(value(&body, "tessera_wal_replay_duration_seconds") > 0.0);
    s.stop().await;
}

/// `POST /api/v1/import/prometheus` as `tenant`; returns the status.
async fn import(s: &http::Server, tenant: &str, text: &str) -> u16 {
    s.client
        .post(s.url("/api/v1/import/prometheus"))
        .header("X-Scope-OrgID", tenant)
        .body(text.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// An instant query as `tenant` at t=10s; returns the status.
async fn query(s: &http::Server, tenant: &str, q: &str) -> u16 {
    s.client
        .get(s.url("/api/v1/query"))
        .header("X-Scope-OrgID", tenant)
        .query(&[("query", q), ("time", "10")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn limit_hits_are_counted_per_tenant_and_limit() {
    use std::collections::HashMap;
    use tessera::promql::{Engine, EngineConfig};
    use tessera::tenant::limits::{RateLimit, RateLimiter};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tessera::storage::StorageConfig::new(dir.path());
    cfg.maintenance_interval = None;
    cfg.tenant_defaults.limits.max_series_per_tenant = 2;
    cfg.tenant_defaults.limits.max_label_value_length = 10;
    let slow = RateLimit {
        rate: 1.0,
        burst: 1,
    };
    let limiter = RateLimiter::new(
        RateLimit::default(),
        HashMap::from([(TenantId::new("slow").unwrap(), slow)]),
    );
    let engine = Engine::new(EngineConfig {
        max_samples: 5,
        max_series: 1,
        ..EngineConfig::default()
    });
    let state = tessera::api::AppState::new()
        .with_rate_limiter(limiter)
        .with_engine(engine);
    let s = http::start_with(cfg, state).await;
    let three = "m{i=\"1\"} 1 10000\nm{i=\"2\"} 1 10000\nm{i=\"3\"} 1 10000\n";
    assert_eq!(import(&s, "lim", three).await, 400);
    let long = "m{i=\"1\",x=\"far too long a value\"} 1 10000\n";
    assert_eq!(import(&s, "lim", long).await, 400);
    assert_eq!(
        import(&s, "slow", "a 1 1000\nb 1 1000\nc 1 1000\n").await,
        429
    );
    let ten: String = (1..=10)
        .map(|i| format!("one {i} {}\n", i * 1000))
        .collect();
    assert_eq!(import(&s, "q", &ten).await, 204);
    assert_eq!(query(&s, "lim", "m").await, 422, "two series, max 1");
    assert_eq!(query(&s, "q", "count_over_time(one[1m])").await, 422);
    assert_eq!(query(&s, "q", "vector(1)").await, 200);
    let body = s.get("/metrics").await.text().await.unwrap();
    let hits = |t: &str, l: &str| {
        value(
            &body,
            &format!("tessera_limit_hits_total{{tenant=\"{t}\",limit=\"{l}\"}}"),
        )
    };
    assert_eq!(hits("lim", "max_series_per_tenant"), 1.0, "{body}");
    assert_eq!(hits("lim", "max_label_value_length"), 1.0);
    assert_eq!(hits("slow", "ingestion_rate"), 1.0);
    assert_eq!(hits("lim", "max_series_per_query"), 1.0);
    assert_eq!(hits("q", "max_samples_per_query"), 1.0);
    assert!(!body.contains("tessera_limit_hits_total{tenant=\"q\",limit=\"max_series"));
    // Query latency by endpoint: three instant queries, whatever their status.
    let count = "tessera_query_duration_seconds_count{endpoint=\"query\"}";
    assert_eq!(value(&body, count), 3.0, "{body}");
    s.get("/api/v1/labels").await;
    let body = s.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        value(
            &body,
            "tessera_query_duration_seconds_count{endpoint=\"labels\"}"
        ),
        1.0
    );
    s.stop().await;
}

/// A query cut off by the server's query timeout answers 503 and counts a
/// `query_timeout` limit hit for its tenant only.
#[tokio::test]
async fn query_timeouts_are_limit_hits() {
    use tessera::promql::{Engine, EngineConfig};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tessera::storage::StorageConfig::new(dir.path());
    cfg.maintenance_interval = None;
    // A zero budget: the deadline has passed by the first selector.
    let engine = Engine::new(EngineConfig {
        timeout: std::time::Duration::ZERO,
        ..EngineConfig::default()
    });
    let state = tessera::api::AppState::new().with_engine(engine);
    let s = http::start_with(cfg, state).await;
    assert_eq!(import(&s, "slowq", "one 1 1000\n").await, 204);
    assert_eq!(query(&s, "slowq", "one").await, 503);
    let body = s.get("/metrics").await.text().await.unwrap();
    let hit = "tessera_limit_hits_total{tenant=\"slowq\",limit=\"query_timeout\"}";
    assert_eq!(value(&body, hit), 1.0, "{body}");
    assert!(!body.contains("limit=\"max_samples_per_query\""), "{body}");
    s.stop().await;
}

/// A compaction that cannot write its block is counted.
#[tokio::test]
async fn compaction_failures_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let s = http::start(dir.path()).await;
    let t = TenantId::new("acme").unwrap();
    let st = s.storage();
    let hour = 3_600_000;
    // Two blocks in the first 6h window, and data past it so the window
    // is closed.
    for start in [0, hour, 7 * hour] {
        let samples: Vec<Sample> = (0..10)
            .map(|i| Sample::new(start + i * 1000, 1.0))
            .collect();
        let labels = Labels::from_pairs([("__name__", "m")]);
        let refs = labels.refs();
        let input = SeriesInput {
            labels: &refs,
            samples: &samples,
            histograms: &[],
        };
        st.append(&t, &[input]).unwrap();
        st.flush(&t).unwrap().expect("a block");
    }
    let body = s.get("/metrics").await.text().await.unwrap();
    assert_eq!(value(&body, "tessera_compaction_failures_total"), 0.0);
    // Where the new block would be written is now a file, not a directory
    // (the open blocks stay readable: they are memory-mapped).
    let blocks = dir.path().join("tenants/acme/blocks");
    std::fs::rename(&blocks, dir.path().join("moved")).unwrap();
    std::fs::write(&blocks, b"not a directory").unwrap();
    assert!(st.compact(&t).is_err());
    let body = s.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        value(&body, "tessera_compaction_failures_total"),
        1.0,
        "{body}"
    );
    std::fs::remove_file(&blocks).unwrap();
    std::fs::rename(dir.path().join("moved"), &blocks).unwrap();
    assert_eq!(
        st.compact(&t).unwrap().len(),
        1,
        "compacts once it can write"
    );
    s.stop().await;
}

//! Per-tenant ingest limits and `/metrics` over real HTTP: one tenant
//! limited, another not; a 429 stores nothing; rejections are counted.

mod http;

use std::collections::HashMap;

use http::{read, start_with, Server, V1_TYPE};
use tessera::api::AppState;
use tessera::config::Config;
use tessera::ingest::proto::{encode_snappy, v1};
use tessera::ingest::text::{parse, TextFormat};
use tessera::storage::{SeriesLimits, StorageConfig, SyncPolicy, TenantConfig};
use tessera::tenant::limits::{RateLimit, RateLimiter};
use tessera::tenant::TenantId;

fn series(labels: &[(&str, &str)], n: usize) -> v1::TimeSeries {
    v1::TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| v1::Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: (0..n)
            .map(|i| v1::Sample {
                value: i as f64,
                timestamp: 1000 * (i as i64 + 1),
            })
            .collect(),
        ..Default::default()
    }
}

fn body(series: Vec<v1::TimeSeries>) -> Vec<u8> {
    encode_snappy(&v1::WriteRequest {
        timeseries: series,
        metadata: Vec::new(),
    })
}

fn tid(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

/// A server where tenant `small` has `limits` and everyone else none.
async fn server(dir: &std::path::Path, limits: SeriesLimits, rate: RateLimit) -> Server {
    let mut cfg = StorageConfig::new(dir);
    cfg.maintenance_interval = None;
    // Every append fsyncs, so the fsync metrics have something to show.
    cfg.wal.sync = SyncPolicy::Always;
    cfg.tenant_overrides.insert(
        tid("small"),
        TenantConfig {
            limits,
            ..Default::default()
        },
    );
    let limiter = RateLimiter::new(RateLimit::default(), HashMap::from([(tid("small"), rate)]));
    start_with(cfg, AppState::new().with_rate_limiter(limiter)).await
}

async fn write(srv: &Server, tenant: &str, s: Vec<v1::TimeSeries>) -> (u16, String) {
    let resp = srv.write(V1_TYPE, Some(tenant), body(s)).await;
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn series_limit_per_tenant_refuses_new_series_only_for_that_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let limits = SeriesLimits {
        max_series_per_tenant: 2,
        ..Default::default()
    };
    let srv = server(dir.path(), limits, RateLimit::default()).await;
    let batch = || {
        (0..3)
            .map(|i| series(&[("__name__", "up"), ("i", &i.to_string())], 1))
            .collect::<Vec<_>>()
    };
    let (code, text) = write(&srv, "small", batch()).await;
    assert_eq!(code, 400, "{text}");
    assert!(
        text.contains("per-tenant series limit of 2 exceeded"),
        "{text}"
    );
    assert!(text.starts_with("1 samples rejected"), "{text}");
    assert_eq!(read(&srv.storage(), "small", "up").len(), 2);
    // Existing series still take samples at the limit (t=1000 is an
    // identical duplicate and ignored; 2000 and 3000 are new).
    let more = vec![series(&[("__name__", "up"), ("i", "0")], 3)];
    let (code, text) = write(&srv, "small", more).await;
    assert_eq!(code, 204, "{text}");
    let got = read(&srv.storage(), "small", "up");
    assert_eq!(got[0].1.len(), 3);
    let (code, _) = write(&srv, "big", batch()).await;
    assert_eq!(code, 204);
    assert_eq!(read(&srv.storage(), "big", "up").len(), 3);
    srv.stop().await;
    // WAL replay rebuilds the counts: the limit still holds after a restart.
    let srv = server(dir.path(), limits, RateLimit::default()).await;
    let fourth = vec![series(&[("__name__", "up"), ("i", "9")], 1)];
    let (code, text) = write(&srv, "small", fourth).await;
    assert_eq!(code, 400);
    assert!(
        text.contains("per-tenant series limit of 2 exceeded"),
        "{text}"
    );
    assert_eq!(read(&srv.storage(), "small", "up").len(), 2);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn series_limit_per_metric_and_gc_frees_the_slots() {
    let dir = tempfile::tempdir().unwrap();
    let limits = SeriesLimits {
        max_series_per_metric: 1,
        ..Default::default()
    };
    let srv = server(dir.path(), limits, RateLimit::default()).await;
    let (code, text) = write(
        &srv,
        "small",
        vec![
            series(&[("__name__", "x"), ("a", "1")], 1),
            series(&[("__name__", "x"), ("a", "2")], 1),
            series(&[("__name__", "y"), ("a", "1")], 1),
        ],
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        text.contains(r#"per-metric series limit of 1 exceeded for metric "x""#),
        "{text}"
    );
    assert_eq!(read(&srv.storage(), "small", "x").len(), 1);
    assert_eq!(read(&srv.storage(), "small", "y").len(), 1);
    // Flushing empties the head; GC must give the metric's slot back.
    srv.storage().flush(&tid("small")).unwrap();
    assert_eq!(srv.storage().head_stats(&tid("small")).num_series, 0);
    let late = v1::TimeSeries {
        samples: vec![v1::Sample {
            value: 1.0,
            timestamp: 10_000,
        }],
        ..series(&[("__name__", "x"), ("a", "3")], 0)
    };
    let (code, text) = write(&srv, "small", vec![late]).await;
    assert_eq!(code, 204, "{text}");
    let (code, _) = write(
        &srv,
        "big",
        vec![
            series(&[("__name__", "x"), ("a", "1")], 1),
            series(&[("__name__", "x"), ("a", "2")], 1),
        ],
    )
    .await;
    assert_eq!(code, 204);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn label_count_and_length_limits_name_label_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let limits = SeriesLimits {
        max_label_names_per_series: 3,
        max_label_name_length: 8,
        max_label_value_length: 5,
        ..Default::default()
    };
    let srv = server(dir.path(), limits, RateLimit::default()).await;
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("__name__", "m"), ("a", "1"), ("b", "2"), ("c", "3")],
            "series has 4 label names; the limit is 3",
        ),
        (
            &[("__name__", "m"), ("too_long_name", "1")],
            r#"label name "too_long_name" is longer than the limit of 8 bytes"#,
        ),
        (
            &[("__name__", "m"), ("host", "abcdef")],
            r#"value of label "host" is longer than the limit of 5 bytes"#,
        ),
    ];
    for (labels, want) in cases {
        let (code, text) = write(&srv, "small", vec![series(labels, 2)]).await;
        assert_eq!(code, 400, "{labels:?}");
        assert!(text.contains(want), "{labels:?}: {text}");
        let (code, text) = write(&srv, "big", vec![series(labels, 2)]).await;
        assert_eq!(code, 204, "{labels:?}: {text}");
    }
    assert!(read(&srv.storage(), "small", "m").is_empty());
    assert_eq!(read(&srv.storage(), "big", "m").len(), 3);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_gives_429_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rate = RateLimit {
        rate: 5.0,
        burst: 8,
    };
    let srv = server(dir.path(), SeriesLimits::default(), rate).await;
    let six = || {
        vec![
            series(&[("__name__", "r")], 3),
            series(&[("__name__", "q")], 3),
        ]
    };
    let (code, _) = write(&srv, "small", six()).await;
    assert_eq!(code, 204);
    let (code, text) = write(&srv, "small", six()).await;
    assert_eq!(code, 429);
    assert_eq!(text, "ingestion rate limit of 5 samples/s exceeded\n");
    // The first request's samples only: the 429 stored nothing.
    let got = read(&srv.storage(), "small", "r");
    assert_eq!(got[0].1.len(), 3);
    assert_eq!(srv.storage().head_stats(&tid("small")).num_series, 2);
    let (code, _) = write(&srv, "big", six()).await;
    assert_eq!(code, 204);
    let (code, _) = write(&srv, "big", six()).await;
    assert_eq!(code, 204, "duplicates are accepted");
    srv.stop().await;
}

/// The value of the sample line starting with `prefix` (labels included).
fn value(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_samples_rejections_series_and_requests() {
    let dir = tempfile::tempdir().unwrap();
    let limits = SeriesLimits {
        max_series_per_tenant: 1,
        ..Default::default()
    };
    let rate = RateLimit {
        rate: 10.0,
        burst: 10,
    };
    let srv = server(dir.path(), limits, rate).await;
    let two = || {
        vec![
            series(&[("__name__", "a")], 2),
            series(&[("__name__", "b")], 2),
        ]
    };
    assert_eq!(write(&srv, "small", two()).await.0, 400); // 2 accepted, 2 refused
    assert_eq!(
        write(&srv, "small", vec![series(&[("__name__", "a")], 20)])
            .await
            .0,
        429
    );
    assert_eq!(write(&srv, "big", two()).await.0, 204);
    srv.storage().flush(&tid("big")).unwrap();
    let resp = srv.get("/metrics").await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let parsed = parse(&text, TextFormat::Prometheus);
    assert!(parsed.errors.is_empty(), "{:?}\n{text}", parsed.errors);
    let v = |p: &str| value(&text, p);
    assert_eq!(v(r#"tessera_samples_received_total{tenant="small"}"#), 24.0);
    assert_eq!(v(r#"tessera_samples_received_total{tenant="big"}"#), 4.0);
    assert_eq!(
        v(r#"tessera_samples_rejected_total{tenant="small",reason="series_limit"}"#),
        2.0
    );
    assert_eq!(
        v(r#"tessera_samples_rejected_total{tenant="small",reason="rate_limited"}"#),
        20.0
    );
    assert!(!text.contains(r#"tessera_samples_rejected_total{tenant="big""#));
    assert_eq!(v(r#"tessera_active_series{tenant="small"}"#), 1.0);
    assert_eq!(v(r#"tessera_active_series{tenant="big"}"#), 0.0);
    assert_eq!(v(r#"tessera_head_chunks{tenant="small"}"#), 1.0);
    assert_eq!(v(r#"tessera_blocks{tenant="big"}"#), 1.0);
    assert_eq!(v(r#"tessera_blocks{tenant="small"}"#), 0.0);
    assert_eq!(
        v(&format!(
            r#"tessera_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    // One fsync per storing append at least (three appends stored data).
    assert!(v("tessera_wal_fsync_duration_seconds_count") >= 3.0);
    assert!(v("tessera_wal_fsync_duration_seconds_sum") > 0.0);
    let h = "tessera_http_request_duration_seconds";
    assert_eq!(
        v(&format!(r#"{h}_count{{route="/api/v1/write",code="400"}}"#)),
        1.0
    );
    assert_eq!(
        v(&format!(r#"{h}_count{{route="/api/v1/write",code="429"}}"#)),
        1.0
    );
    assert_eq!(
        v(&format!(r#"{h}_count{{route="/api/v1/write",code="204"}}"#)),
        1.0
    );
    assert_eq!(
        v(&format!(
            r#"{h}_bucket{{route="/api/v1/write",code="204",le="+Inf"}}"#
        )),
        1.0
    );
    // Raw paths never become labels: unknown routes are not recorded.
    assert_eq!(srv.get("/no/such/path/123").await.status(), 404);
    let text = srv.get("/metrics").await.text().await.unwrap();
    assert!(!text.contains("/no/such/path"), "{text}");
    assert!(text.contains(r#"route="/metrics""#));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_limits_apply_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "data_dir: {:?}\nmaintenance_interval: 0\nlimits:\n  max_series_per_tenant: 1\ntenants:\n  vip:\n    max_series_per_tenant: 0\n    ingestion_rate: 1\n    ingestion_burst: 2\n",
        dir.path()
    );
    let sc = Config::from_yaml(&yaml).unwrap().server_config().unwrap();
    let limiter = RateLimiter::new(sc.rate_defaults, sc.rate_overrides);
    let srv = start_with(sc.storage, AppState::new().with_rate_limiter(limiter)).await;
    let two = || {
        vec![
            series(&[("__name__", "a")], 1),
            series(&[("__name__", "b")], 1),
        ]
    };
    let (code, text) = write(&srv, "anyone", two()).await;
    assert_eq!(code, 400);
    assert!(
        text.contains("per-tenant series limit of 1 exceeded"),
        "{text}"
    );
    assert_eq!(write(&srv, "vip", two()).await.0, 204);
    assert_eq!(write(&srv, "vip", two()).await.0, 429);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn text_import_and_push_share_the_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let rate = RateLimit {
        rate: 1.0,
        burst: 3,
    };
    let srv = server(dir.path(), SeriesLimits::default(), rate).await;
    let post = |path: &'static str, body: &'static str| {
        srv.client
            .post(srv.url(path))
            .header("X-Scope-OrgID", "small")
            .body(body)
            .send()
    };
    let three = "a 1\nb 2\nc 3\n";
    assert_eq!(
        post("/api/v1/import/prometheus", three)
            .await
            .unwrap()
            .status(),
        204
    );
    let resp = post("/api/v1/import/prometheus", three).await.unwrap();
    assert_eq!(resp.status(), 429);
    // When the three samples fit again, at 1/s: at most 3 s.
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        resp.text().await.unwrap(),
        "ingestion rate limit of 1 samples/s exceeded\n"
    );
    let resp = post("/metrics/job/j", "d 4\n").await.unwrap();
    assert_eq!(resp.status(), 429, "push draws on the same bucket");
    assert!(
        read(&srv.storage(), "small", "d").is_empty(),
        "a 429 stores nothing"
    );
    let metrics = srv.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        value(
            &metrics,
            r#"tessera_samples_rejected_total{tenant="small",reason="rate_limited"}"#
        ),
        4.0
    );
    srv.stop().await;
}

//! A real Prometheus 2.42 (`--enable-feature=native-histograms`) scrapes a
//! target serving a native histogram in the protobuf exposition format
//! and remote-writes it to Tessera; then both answer the same instant
//! query for that series, and the answers (Prometheus' `histogram` JSON:
//! count, sum and buckets with their boundary rules) must agree.
//!
//! `.ci/run` installs the package. Without a `prometheus` binary on PATH
//! this test fails and says so.

mod http;
mod peer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use serde_json::Value;
use tessera::api::dto::{self, MetricType};

use http::start_with;
use peer::{scrape_and_write_config, Prometheus};

const PROTO_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The histogram after `n` scrapes: one observation in the zero bucket,
/// `n` in each of the buckets (0.5, 1] and (1, 2], one in (2, 4].
fn family(n: u64) -> dto::MetricFamily {
    let n_i = n as i64;
    dto::MetricFamily {
        name: Some("demo_latency_seconds".into()),
        help: Some("Request latency.".into()),
        r#type: Some(MetricType::Histogram as i32),
        metric: vec![dto::Metric {
            label: vec![dto::LabelPair {
                name: Some("path".into()),
                value: Some("/a".into()),
            }],
            histogram: Some(dto::Histogram {
                sample_count: Some(2 * n + 2),
                sample_sum: Some(n as f64 * 2.25 + 3.0),
                schema: Some(0),
                zero_threshold: Some(0.001),
                zero_count: Some(1),
                positive_span: vec![dto::BucketSpan {
                    offset: Some(0),
                    length: Some(3),
                }],
                positive_delta: vec![n_i, 0, 1 - n_i],
                ..Default::default()
            }),
            ..Default::default()
        }],
    }
}

async fn target() -> std::net::SocketAddr {
    let scrapes = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let n = scrapes.fetch_add(1, Ordering::SeqCst) + 1;
            let body = family(n).encode_length_delimited_to_vec();
            async move { ([("Content-Type", PROTO_TYPE)], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// `data.result` of an instant query, or `Null`.
async fn instant(client: &reqwest::Client, base: &str, tenant: bool, t: f64) -> Value {
    let mut req = client.get(format!(
        "{base}/api/v1/query?query=demo_latency_seconds&time={t:.3}"
    ));
    if tenant {
        req = req.header("X-Scope-OrgID", "anonymous");
    }
    let v: Value = req.send().await.unwrap().json().await.unwrap();
    v["data"]["result"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_native_histograms_arrive_and_query_alike() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tessera::storage::StorageConfig::new(dir.path().join("tessera"));
    cfg.maintenance_interval = None;
    let srv = start_with(cfg, tessera::api::AppState::new()).await;
    let target = target().await;
    let config = scrape_and_write_config(target, srv.addr, "send_native_histograms: true");
    let prom = tokio::task::spawn_blocking({
        let d = dir.path().to_path_buf();
        move || Prometheus::start(&d, &config, &["--enable-feature=native-histograms"])
    })
    .await
    .unwrap();
    let base = format!("http://{}", srv.addr);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut agreed = 0;
    let (mut ours, mut theirs) = (Value::Null, Value::Null);
    // Several instants, each a few seconds back so the sample Prometheus
    // holds for it has been sent; each must agree.
    while Instant::now() < deadline && agreed < 3 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            - 4.0;
        theirs = instant(&srv.client, &prom.base, false, t).await;
        if theirs.as_array().is_none_or(|a| a.is_empty()) {
            continue;
        }
        ours = instant(&srv.client, &base, true, t).await;
        if ours == theirs {
            agreed += 1;
        }
    }
    assert_eq!(
        agreed,
        3,
        "last answers differ:\nTessera:    {ours}\nPrometheus: {theirs}\n{}",
        std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
    );
    let h = &ours[0]["histogram"][1];
    assert!(h["buckets"].as_array().is_some_and(|b| b.len() == 4), "{h}");
    assert_eq!(ours[0]["metric"]["job"], "demo");
    drop(prom);
    srv.stop().await;
}

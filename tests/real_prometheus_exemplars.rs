//! A real Prometheus 2.42 (`--enable-feature=exemplar-storage`) scrapes an
//! OpenMetrics target whose counter carries a new exemplar at every
//! scrape and remote-writes (`send_exemplars: true`) to Tessera; then
//! both answer `/api/v1/query_exemplars` for the same series and range,
//! and the answers must agree.
//!
//! `.ci/run` installs the package. Without a `prometheus` binary on PATH
//! this test fails and says so.

mod http;
mod peer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use http::{start_with, Server};

/// Debian's 2.42 never sends `remote_write.headers` (see the FIXME in
/// `real_prometheus.rs`), so what it writes lands in the default tenant.
const TENANT: &str = "anonymous";
use peer::{scrape_and_write_config, Prometheus};

/// Serves `demo_requests_total` in OpenMetrics; every scrape bumps the
/// counter and attaches an exemplar with a new trace id and timestamp.
async fn target() -> (std::net::SocketAddr, Arc<AtomicU64>) {
    let scrapes = Arc::new(AtomicU64::new(0));
    let n = scrapes.clone();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let n = n.fetch_add(1, Ordering::SeqCst) + 1;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as f64
                / 1000.0;
            let body = format!(
                "# TYPE demo_requests counter\n\
                 demo_requests_total{{path=\"/a\"}} {n} # {{trace_id=\"trace-{n}\",span_id=\"s{n}\"}} {v} {now:.3}\n\
                 # EOF\n",
                v = n as f64 / 4.0
            );
            async move {
                (
                    [(
                        "Content-Type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, scrapes)
}

/// The `(seriesLabels, exemplars)` of an answer, exemplars as
/// `(labels, value, timestamp ms)`, keeping those at or before `until`.
fn exemplars(v: &Value, until: i64) -> Vec<(Value, Vec<(Value, String, i64)>)> {
    assert_eq!(v["status"], "success", "{v}");
    v["data"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let ex = s["exemplars"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let t = (e["timestamp"].as_f64().unwrap() * 1000.0).round() as i64;
                    (
                        e["labels"].clone(),
                        e["value"].as_str().unwrap().to_string(),
                        t,
                    )
                })
                .filter(|e| e.2 <= until)
                .collect();
            (s["seriesLabels"].clone(), ex)
        })
        .collect()
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

async fn tessera(dir: &std::path::Path) -> Server {
    let mut cfg = tessera::storage::StorageConfig::new(dir);
    cfg.maintenance_interval = None;
    cfg.tenant_defaults.max_exemplars = 1000;
    start_with(cfg, tessera::api::AppState::new()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_sends_exemplars_and_both_answer_alike() {
    let dir = tempfile::tempdir().unwrap();
    let srv = tessera(&dir.path().join("tessera")).await;
    let (target, scrapes) = target().await;
    let config = scrape_and_write_config(target, srv.addr, "send_exemplars: true");
    let prom = tokio::task::spawn_blocking({
        let d = dir.path().to_path_buf();
        move || Prometheus::start(&d, &config, &["--enable-feature=exemplar-storage"])
    })
    .await
    .unwrap();
    let q = "/api/v1/query_exemplars?query=demo_requests_total&start=0&end=9999999999";
    let ours = |v: &Value| exemplars(v, i64::MAX);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut got = Vec::new();
    while Instant::now() < deadline {
        let r = srv
            .client
            .get(srv.url(q))
            .header("X-Scope-OrgID", TENANT)
            .send()
            .await
            .unwrap();
        got = ours(&r.json().await.unwrap());
        if got.first().is_some_and(|s| s.1.len() >= 4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if got.first().is_none_or(|s| s.1.len() < 4) {
        let theirs = get_json(&srv.client, &format!("{}{q}", prom.base)).await;
        let metrics = srv.get("/metrics").await.text().await.unwrap();
        let ours: Vec<&str> = metrics
            .lines()
            .filter(|l| l.contains("exemplar") || l.contains("samples_"))
            .collect();
        panic!(
            "too few exemplars arrived after {} scrapes: {got:?}\nPrometheus has {theirs}\nTessera: {ours:#?}",
            scrapes.load(Ordering::SeqCst),
        );
    }
    let series = &got[0];
    assert!(series.1.len() >= 4, "{got:?}");
    // Compare up to the newest exemplar Tessera has: Prometheus may hold
    // newer ones that are still in its send queue.
    let until = series.1.iter().map(|e| e.2).max().unwrap();
    let theirs = exemplars(
        &get_json(&srv.client, &format!("{}{q}", prom.base)).await,
        until,
    );
    let ours = exemplars(
        &srv.client
            .get(srv.url(q))
            .header("X-Scope-OrgID", TENANT)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
        until,
    );
    assert_eq!(ours, theirs);
    assert_eq!(ours[0].0["job"], "demo");
    assert_eq!(ours[0].0["path"], "/a");
    // A narrower range agrees too (both ends inclusive).
    let mid = &ours[0].1[1..3];
    let (s, e) = (mid[0].2 as f64 / 1000.0, mid[1].2 as f64 / 1000.0);
    let q2 = format!("/api/v1/query_exemplars?query=demo_requests_total%7Bpath%3D%22%2Fa%22%7D&start={s}&end={e}");
    let theirs = exemplars(
        &get_json(&srv.client, &format!("{}{q2}", prom.base)).await,
        until,
    );
    let r = srv
        .client
        .get(srv.url(&q2))
        .header("X-Scope-OrgID", TENANT)
        .send()
        .await
        .unwrap();
    let ours = exemplars(&r.json().await.unwrap(), until);
    assert_eq!(ours, theirs);
    assert_eq!(ours[0].1, mid);
    drop(prom);
    srv.stop().await;
}

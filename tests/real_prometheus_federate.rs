//! A real Prometheus 2.42 with `--enable-feature=native-histograms`
//! federates from Tessera: it asks `/federate` for the protobuf format,
//! and the native histograms and floats it stores must answer its own
//! query API exactly as Tessera answers for the same series (the
//! `histogram` JSON with count, sum and buckets, `histogram_count`,
//! `histogram_sum`, and the float).
//!
//! `.ci/run` installs the package. Without a `prometheus` binary on PATH
//! this test fails and says so.

mod http;
mod peer;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use http::{start, Server};
use peer::Prometheus;
use tessera::model::{
    CounterResetHint, Histogram, HistogramCounts, HistogramSample, LabelRef, Span,
};
use tessera::storage::SeriesInput;
use tessera::tenant::TenantId;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Integer histogram: negative, zero and positive buckets over two spans.
fn int_hist() -> Histogram {
    Histogram {
        schema: 1,
        reset_hint: CounterResetHint::Unknown,
        zero_threshold: 0.001,
        sum: 41.75,
        counts: HistogramCounts::Int {
            count: 18,
            zero_count: 2,
            positive_deltas: vec![3, 1, -2, 4],
            negative_deltas: vec![1],
        },
        positive_spans: vec![
            Span {
                offset: -1,
                length: 2,
            },
            Span {
                offset: 2,
                length: 2,
            },
        ],
        negative_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        custom_values: Vec::new(),
    }
}

/// A float gauge histogram (a zero threshold, so 2.42 sees it as native).
fn float_hist() -> Histogram {
    Histogram {
        reset_hint: CounterResetHint::Gauge,
        sum: 3.5,
        counts: HistogramCounts::Float {
            count: 6.5,
            zero_count: 0.5,
            positive: vec![1.5, 2.5],
            negative: vec![2.0],
        },
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        negative_spans: vec![Span {
            offset: 3,
            length: 1,
        }],
        ..int_hist()
    }
}

fn put(
    srv: &Server,
    labels: &[(&str, &str)],
    floats: &[tessera::model::Sample],
    hs: &[HistogramSample],
) {
    let refs: Vec<LabelRef> = labels.iter().map(|(n, v)| LabelRef::new(n, v)).collect();
    let batch = [SeriesInput {
        labels: &refs,
        samples: floats,
        histograms: hs,
    }];
    let out = srv
        .storage()
        .append(&TenantId::new("anonymous").unwrap(), &batch)
        .unwrap();
    assert_eq!(out.rejected, 0, "{out:?}");
}

fn federate_config(tessera: std::net::SocketAddr) -> String {
    format!(
        r#"global:
  scrape_interval: 1s
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{{job="app"}}']
    static_configs:
      - targets: ["{tessera}"]
"#
    )
}

/// `data.result` of an instant query at `t` (seconds).
async fn instant(client: &reqwest::Client, base: &str, query: &str, t: f64) -> Value {
    let v: Value = client
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", query), ("time", &format!("{t:.3}"))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "success", "{query}: {v}");
    v["data"]["result"].clone()
}

/// Each result's value part (`value` or `histogram`), labels left out:
/// the federating server adds its own target labels.
fn values(result: &Value) -> Vec<(String, Value)> {
    let mut out: Vec<_> = result
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let name = s["metric"]["__name__"].as_str().unwrap_or("").to_string();
            let path = s["metric"]["path"].as_str().unwrap_or("").to_string();
            let v = if s["histogram"].is_null() {
                s["value"].clone()
            } else {
                s["histogram"].clone()
            };
            (format!("{name}{{path={path}}}"), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Whether two answers agree: equal JSON, except that numbers written as
/// strings may differ by rounding in the last place. Prometheus 2.42 takes
/// schema 1..8 bucket bounds from a table whose literals are not always
/// the nearest double (`exponentialBounds` in `model/histogram/generic.go`
/// has 0.7071067811865475 for 2^-0.5, where the nearest double prints as
/// ...476), and Tessera computes them.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::String(x), Value::String(y)) if x != y => {
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(p), Ok(q)) => (p - q).abs() <= 1e-15 * p.abs().max(q.abs()),
                _ => false,
            }
        }
        _ => a == b,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_federates_native_histograms_over_protobuf() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(&dir.path().join("tessera")).await;
    let now = now_ms();
    let t0 = now - 2_000;
    put(
        &srv,
        &[
            ("__name__", "app_latency_seconds"),
            ("job", "app"),
            ("path", "/a"),
        ],
        &[],
        &[HistogramSample {
            t: t0,
            h: int_hist(),
        }],
    );
    put(
        &srv,
        &[
            ("__name__", "app_queue_depth"),
            ("job", "app"),
            ("path", "/b"),
        ],
        &[],
        &[HistogramSample {
            t: t0,
            h: float_hist(),
        }],
    );
    put(
        &srv,
        &[("__name__", "app_up"), ("job", "app"), ("path", "/c")],
        &[tessera::model::Sample::new(t0, 0.25)],
        &[],
    );
    // Another job: not matched, must not arrive.
    put(
        &srv,
        &[("__name__", "app_up"), ("job", "other"), ("path", "/d")],
        &[tessera::model::Sample::new(t0, 9.0)],
        &[],
    );
    let config = federate_config(srv.addr);
    let prom = tokio::task::spawn_blocking({
        let d = dir.path().to_path_buf();
        move || Prometheus::start(&d, &config, &["--enable-feature=native-histograms"])
    })
    .await
    .unwrap();
    let base = format!("http://{}", srv.addr);
    let t = (t0 as f64) / 1000.0 + 1.0;
    let queries = [
        "{__name__=~\"app_.*\",job=\"app\"}",
        "histogram_count({__name__=~\"app_.*\",job=\"app\"})",
        "histogram_sum({__name__=~\"app_.*\",job=\"app\"})",
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut theirs = Vec::new();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        theirs = values(&instant(&srv.client, &prom.base, queries[0], t).await);
        if theirs.len() >= 3 {
            break;
        }
    }
    let log = || std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
    assert_eq!(theirs.len(), 3, "federated series: {theirs:?}\n{}", log());
    for q in queries {
        let ours = values(&instant(&srv.client, &base, q, t).await);
        let theirs = values(&instant(&srv.client, &prom.base, q, t).await);
        assert!(
            same(&serde_json::json!(ours), &serde_json::json!(theirs)),
            "{q}\nTessera:    {ours:?}\nPrometheus: {theirs:?}\n{}",
            log()
        );
    }
    // Only the matched job was federated.
    let up = instant(&srv.client, &prom.base, "app_up", t).await;
    assert_eq!(up.as_array().map(Vec::len), Some(1), "{up}");
    assert_eq!(up[0]["metric"]["job"], "app", "{up}");
    // What was compared is what was written.
    let ours = values(&instant(&srv.client, &base, queries[0], t).await);
    assert_eq!(ours[0].0, "app_latency_seconds{path=/a}");
    assert_eq!(ours[0].1[1]["count"], "18");
    assert_eq!(ours[0].1[1]["sum"], "41.75");
    assert_eq!(ours[0].1[1]["buckets"].as_array().unwrap().len(), 6);
    assert_eq!(ours[1].1[1]["count"], "6.5");
    assert_eq!(ours[2].1[1], "0.25");
    drop(prom);
    srv.stop().await;
}

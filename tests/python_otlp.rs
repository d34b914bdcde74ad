//! The real OpenTelemetry Python SDK exporting over OTLP/HTTP (protobuf)
//! to Tessera: a counter, an up-down counter, a histogram and a gauge with
//! resource attributes, read back through the PromQL query API; and the
//! exemplars the SDK attaches to measurements made inside a span, read back
//! through `/api/v1/query_exemplars` with the SDK's trace and span ids.
//!
//! Needs `python3` with `opentelemetry-sdk` and
//! `opentelemetry-exporter-otlp-proto-http` (`pip install ...`); without
//! them the test fails and says so rather than passing vacuously.

mod http;

use std::process::Command;

use http::{start, start_with};

const EXPORT: &str = r#"
import sys
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

exporter = OTLPMetricExporter(
    endpoint=sys.argv[1] + "/otlp/v1/metrics",
    headers={"X-Scope-OrgID": "otel"},
)
reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
resource = Resource.create({
    "service.name": "checkout",
    "service.namespace": "shop",
    "service.instance.id": "pod-7",
    "deployment.environment": "test",
})
provider = MeterProvider(resource=resource, metric_readers=[reader])
meter = provider.get_meter("tessera-test")

orders = meter.create_counter("shop.orders", unit="{order}", description="Orders placed.")
orders.add(5, {"method": "card"})
orders.add(2, {"method": "card"})

queue = meter.create_up_down_counter("queue.items", unit="{item}")
queue.add(10)
queue.add(-3)

latency = meter.create_histogram(
    "http.server.duration", unit="s",
    explicit_bucket_boundaries_advisory=[0.1, 1.0],
)
for v in (0.05, 0.3, 2.0):
    latency.record(v, {"route": "/pay"})

temp = meter.create_gauge("room.temperature", unit="Cel")
temp.set(21.5)

ok = reader.force_flush(timeout_millis=10_000)
provider.shutdown()
if not ok:
    sys.exit("export failed")
"#;

fn require_sdk() {
    let out = Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the OpenTelemetry Python SDK is missing; run `pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http`\n{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run python3 ({e}); install Python 3 and the OpenTelemetry SDK"),
    }
}

/// An instant query for tenant `otel`: each series' labels (as
/// `name=value` pairs, sorted) and value.
async fn query(srv: &http::Server, q: &str) -> Vec<(Vec<String>, f64)> {
    let resp = srv
        .client
        .get(srv.url("/api/v1/query"))
        .query(&[("query", q)])
        .header("X-Scope-OrgID", "otel")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{q}");
    let body: serde_json::Value = resp.json().await.unwrap();
    body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut labels: Vec<String> = r["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                .collect();
            labels.sort();
            let v: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
            (labels, v)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn opentelemetry_sdk_exports_are_queryable() {
    require_sdk();
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let base = format!("http://{}", srv.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", EXPORT, &base])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = ["instance=pod-7", "job=shop/checkout"];
    let with = |name: &str, extra: &[&str]| -> Vec<String> {
        let mut l: Vec<String> = id.iter().map(|s| s.to_string()).collect();
        l.push(format!("__name__={name}"));
        l.extend(extra.iter().map(|s| s.to_string()));
        l.sort();
        l
    };
    assert_eq!(
        query(&srv, "shop_orders_total").await,
        [(with("shop_orders_total", &["method=card"]), 7.0)]
    );
    assert_eq!(
        query(&srv, "queue_items").await,
        [(with("queue_items", &[]), 7.0)]
    );
    assert_eq!(
        query(&srv, "room_temperature_celsius").await,
        [(with("room_temperature_celsius", &[]), 21.5)]
    );
    let mut buckets = query(&srv, "http_server_duration_seconds_bucket").await;
    buckets.sort_by(|a, b| a.1.total_cmp(&b.1));
    let les: Vec<(String, f64)> = buckets
        .iter()
        .map(|(l, v)| {
            let le = l.iter().find_map(|p| p.strip_prefix("le=")).unwrap();
            (le.to_string(), *v)
        })
        .collect();
    assert_eq!(
        les,
        [
            ("0.1".to_string(), 1.0),
            ("1".into(), 2.0),
            ("+Inf".into(), 3.0)
        ]
    );
    let sum = query(&srv, "http_server_duration_seconds_sum").await;
    assert!((sum[0].1 - 2.35).abs() < 1e-9, "{sum:?}");
    assert_eq!(
        query(&srv, "http_server_duration_seconds_count").await[0].1,
        3.0
    );
    // The other resource attributes are on target_info.
    let info = query(&srv, "target_info").await;
    assert_eq!(info.len(), 1, "{info:?}");
    assert!(
        info[0]
            .0
            .contains(&"deployment_environment=test".to_string()),
        "{info:?}"
    );
    // The SDK's start time is stored as the counter's start timestamp.
    let st = query(&srv, "start_timestamp(shop_orders_total)").await;
    assert_eq!(st.len(), 1, "{st:?}");
    assert!(st[0].1 > 1.0e9, "{st:?}");
    srv.stop().await;
}

const EXEMPLARS: &str = r#"
import sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

trace.set_tracer_provider(TracerProvider())
tracer = trace.get_tracer("tessera-test")
exporter = OTLPMetricExporter(
    endpoint=sys.argv[1] + "/otlp/v1/metrics",
    headers={"X-Scope-OrgID": "otel"},
)
reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
provider = MeterProvider(
    resource=Resource.create({"service.name": "pay"}), metric_readers=[reader]
)
meter = provider.get_meter("tessera-test")
orders = meter.create_counter("orders")
latency = meter.create_histogram(
    "latency", unit="s", explicit_bucket_boundaries_advisory=[0.1, 1.0]
)
with tracer.start_as_current_span("checkout") as span:
    orders.add(3)
    latency.record(0.3)
    ctx = span.get_span_context()
    print(format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))

ok = reader.force_flush(timeout_millis=10_000)
provider.shutdown()
if not ok:
    sys.exit("export failed")
"#;

/// `query_exemplars` for tenant `otel`: (series `__name__` and `le`,
/// exemplar `trace_id`, `span_id`, value).
async fn exemplars(srv: &http::Server, q: &str) -> Vec<(String, String, String, String)> {
    let resp = srv
        .client
        .get(srv.url("/api/v1/query_exemplars"))
        .query(&[("query", q)])
        .header("X-Scope-OrgID", "otel")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{q}");
    let body: serde_json::Value = resp.json().await.unwrap();
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut out = Vec::new();
    for series in body["data"].as_array().unwrap() {
        let l = &series["seriesLabels"];
        let name = format!("{}{}", s(&l["__name__"]), s(&l["le"]));
        for e in series["exemplars"].as_array().unwrap() {
            let el = &e["labels"];
            out.push((
                name.clone(),
                s(&el["trace_id"]),
                s(&el["span_id"]),
                s(&e["value"]),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn opentelemetry_sdk_exemplars_carry_its_trace_ids() {
    require_sdk();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tessera::storage::StorageConfig::new(dir.path());
    cfg.maintenance_interval = None;
    cfg.tenant_defaults.max_exemplars = 100;
    let srv = start_with(cfg, tessera::api::AppState::new()).await;
    let base = format!("http://{}", srv.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", EXEMPLARS, &base])
            .env("OTEL_METRICS_EXEMPLAR_FILTER", "always_on")
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut ids = stdout.split_whitespace();
    let (trace_id, span_id) = (ids.next().unwrap(), ids.next().unwrap());
    assert_eq!((trace_id.len(), span_id.len()), (32, 16), "{stdout}");
    let ex = |name: &str, v: &str| {
        (
            name.to_string(),
            trace_id.to_string(),
            span_id.to_string(),
            v.to_string(),
        )
    };
    assert_eq!(
        exemplars(&srv, "orders_total").await,
        [ex("orders_total", "3")]
    );
    // The histogram's exemplar is on the bucket holding 0.3, `le="1"`.
    assert_eq!(
        exemplars(&srv, r#"{__name__=~"latency_seconds.*"}"#).await,
        [ex("latency_seconds_bucket1", "0.3")]
    );
    srv.stop().await;
}

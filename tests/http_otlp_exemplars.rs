//! OTLP exemplars over real HTTP: translated as Prometheus 3 does (sums,
//! the `_bucket` holding the value, native histograms; not gauges),
//! stored in the tenant's exemplar storage and read back through
//! `/api/v1/query_exemplars`; refused ones counted and named in the partial
//! success; other tenants see none.

mod http;

use prost::Message;
use serde_json::Value as Json;
use tessera::api::AppState;
use tessera::ingest::otlp::proto::*;
use tessera::storage::StorageConfig;

use http::{read, start_with, Server};

/// Milliseconds of the test's data points.
const T: i64 = 1_700_000_000_000;
const NS: u64 = 1_000_000;
const TRACE: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const TRACE_HEX: &str = "5b8efff798038103d269b633813fc60c";
const SPAN: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
const SPAN_HEX: &str = "eee19b7ec3c1b174";

async fn server(dir: &std::path::Path) -> Server {
    let mut cfg = StorageConfig::new(dir);
    cfg.maintenance_interval = None;
    cfg.tenant_defaults.max_exemplars = 1000;
    start_with(cfg, AppState::new()).await
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
    }
}

fn exemplar(v: ExemplarValue, ms: i64, attrs: Vec<KeyValue>) -> Exemplar {
    Exemplar {
        filtered_attributes: attrs,
        time_unix_nano: ms as u64 * NS,
        value: Some(v),
        span_id: SPAN.to_vec(),
        trace_id: TRACE.to_vec(),
    }
}

fn metric(name: &str, unit: &str, data: MetricData) -> Metric {
    Metric {
        name: name.into(),
        description: String::new(),
        unit: unit.into(),
        data: Some(data),
    }
}

/// A counter with a good exemplar, one whose attributes are too long,
/// and two invalid ones; a histogram with an exemplar per bucket (sent out
/// of value order); an exponential histogram; a gauge with an exemplar;
/// a delta sum (refused) with an exemplar.
fn request() -> ExportMetricsServiceRequest {
    let mut no_value = exemplar(ExemplarValue::AsInt(0), T - 500, vec![]);
    no_value.value = None;
    let mut short_trace = exemplar(ExemplarValue::AsInt(1), T - 400, vec![]);
    short_trace.trace_id = vec![1, 2, 3, 4, 5];
    let long = kv("comment", &"x".repeat(80));
    let sum_exemplars = vec![
        exemplar(ExemplarValue::AsInt(3), T - 1000, vec![kv("user", "u1")]),
        no_value,
        short_trace,
        exemplar(ExemplarValue::AsDouble(2.5), T - 900, vec![long]),
    ];
    let hist_exemplars = vec![
        exemplar(ExemplarValue::AsDouble(5.0), T - 1000, vec![]),
        exemplar(ExemplarValue::AsDouble(0.05), T - 3000, vec![]),
        exemplar(ExemplarValue::AsDouble(0.5), T - 2000, vec![]),
    ];
    let point = |exemplars| NumberDataPoint {
        time_unix_nano: T as u64 * NS,
        value: Some(NumberValue::AsInt(7)),
        exemplars,
        ..Default::default()
    };
    let metrics = vec![
        metric(
            "orders",
            "",
            MetricData::Sum(Sum {
                data_points: vec![point(sum_exemplars)],
                aggregation_temporality: TEMPORALITY_CUMULATIVE,
                is_monotonic: true,
            }),
        ),
        metric(
            "latency",
            "s",
            MetricData::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: T as u64 * NS,
                    count: 3,
                    sum: Some(5.55),
                    bucket_counts: vec![1, 1, 1],
                    explicit_bounds: vec![0.1, 1.0],
                    exemplars: hist_exemplars,
                    ..Default::default()
                }],
                aggregation_temporality: TEMPORALITY_CUMULATIVE,
            }),
        ),
        metric(
            "size",
            "By",
            MetricData::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    time_unix_nano: T as u64 * NS,
                    count: 1,
                    sum: Some(3.0),
                    positive: Some(Buckets {
                        offset: 1,
                        bucket_counts: vec![1],
                    }),
                    exemplars: vec![exemplar(ExemplarValue::AsDouble(3.0), T - 100, vec![])],
                    ..Default::default()
                }],
                aggregation_temporality: TEMPORALITY_CUMULATIVE,
            }),
        ),
        metric(
            "delta",
            "",
            MetricData::Sum(Sum {
                data_points: vec![point(vec![exemplar(
                    ExemplarValue::AsInt(1),
                    T - 1000,
                    vec![],
                )])],
                aggregation_temporality: TEMPORALITY_DELTA,
                is_monotonic: true,
            }),
        ),
        metric(
            "temp",
            "",
            MetricData::Gauge(Gauge {
                data_points: vec![point(vec![exemplar(
                    ExemplarValue::AsInt(7),
                    T - 1000,
                    vec![],
                )])],
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "svc")],
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

async fn post(s: &Server, tenant: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    s.client
        .post(s.url("/otlp/v1/metrics"))
        .header("Content-Type", content_type)
        .header("X-Scope-OrgID", tenant)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// `query_exemplars` for `tenant` over all time: per series (its labels as
/// `k=v` text, sorted), its exemplars as (labels text, value, ms).
type Found = Vec<(String, Vec<(String, String, i64)>)>;

async fn exemplars(s: &Server, tenant: &str, query: &str) -> Found {
    let r = s
        .client
        .get(s.url("/api/v1/query_exemplars"))
        .query(&[("query", query)])
        .header("X-Scope-OrgID", tenant)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Json = r.json().await.unwrap();
    let text = |o: &Json| {
        let mut pairs: Vec<String> = o
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect();
        pairs.sort();
        pairs.join(",")
    };
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let ex = s["exemplars"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let secs = e["timestamp"].as_f64().unwrap();
                    let v = e["value"].as_str().unwrap().to_string();
                    (text(&e["labels"]), v, (secs * 1000.0).round() as i64)
                })
                .collect();
            (text(&s["seriesLabels"]), ex)
        })
        .collect()
}

fn metric_value(metrics: &str, line_start: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn protobuf_exemplars_are_stored_where_prometheus_puts_them() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let resp = post(
        &srv,
        "ex",
        "application/x-protobuf",
        request().encode_to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let reply = ExportMetricsServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
    let partial = reply.partial_success.expect("a warning about exemplars");
    // Exemplars are not data points: only the delta sum's point is rejected.
    assert_eq!(partial.rejected_data_points, 1);
    let msg = &partial.error_message;
    for want in [
        "exemplar of orders_total refused: exemplar has no value",
        "exemplar of orders_total refused: exemplar trace_id is 5 bytes long, not 16",
        "1 exemplars of orders_total kept without their attributes",
        "1 exemplars of gauge temp not kept",
        "delta temporality is not accepted",
    ] {
        assert!(msg.contains(want), "{want:?} not in {msg:?}");
    }
    let ids = format!("span_id={SPAN_HEX},trace_id={TRACE_HEX}");
    let found = exemplars(&srv, "ex", r#"{job="svc"}"#).await;
    let want: Found = vec![
        (
            "__name__=latency_seconds_bucket,job=svc,le=+Inf".into(),
            vec![(ids.clone(), "5".into(), T - 1000)],
        ),
        (
            "__name__=latency_seconds_bucket,job=svc,le=0.1".into(),
            vec![(ids.clone(), "0.05".into(), T - 3000)],
        ),
        (
            "__name__=latency_seconds_bucket,job=svc,le=1".into(),
            vec![(ids.clone(), "0.5".into(), T - 2000)],
        ),
        (
            "__name__=orders_total,job=svc".into(),
            vec![
                (format!("{ids},user=u1"), "3".into(), T - 1000),
                (ids.clone(), "2.5".into(), T - 900),
            ],
        ),
        (
            "__name__=size_bytes,job=svc".into(),
            vec![(ids.clone(), "3".into(), T - 100)],
        ),
    ];
    assert_eq!(found, want);
    // The samples were stored as without exemplars.
    assert_eq!(read(&srv.storage(), "ex", "orders_total")[0].1[0].v, 7.0);
    // Two invalid, the gauge's and the refused point's: discarded; six
    // stored.
    let m = srv.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        metric_value(&m, r#"tessera_exemplars_discarded_total{tenant="ex"}"#),
        Some(4.0),
        "{m}"
    );
    // Another tenant sees none of them, with the same query.
    assert_eq!(exemplars(&srv, "other", r#"{job="svc"}"#).await, vec![]);
    assert_eq!(exemplars(&srv, "other", "orders_total").await, Found::new());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_exemplars_and_storage_refusals_in_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let body = |sample_ms: i64, exemplar_ms: i64| {
        serde_json::json!({"resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
            "scopeMetrics": [{"metrics": [{
                "name": "jobs.done", "sum": {
                    "aggregationTemporality": 2, "isMonotonic": true,
                    "dataPoints": [{
                        "timeUnixNano": (sample_ms as u64 * NS).to_string(),
                        "asInt": "7",
                        "exemplars": [{"asInt": "4", "traceId": TRACE_HEX, "spanId": SPAN_HEX,
                                       "timeUnixNano": (exemplar_ms as u64 * NS).to_string(),
                                       "filteredAttributes": [
                                           {"key": "http.route", "value": {"stringValue": "/x"}}]}]
                    }]
                }
            }]}]
        }]})
        .to_string()
        .into_bytes()
    };
    let resp = post(&srv, "js", "application/json", body(T, T - 10)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.unwrap(),
        "{}",
        "all stored: no partial success"
    );
    let found = exemplars(&srv, "js", "jobs_done_total").await;
    assert_eq!(
        found,
        vec![(
            "__name__=jobs_done_total,job=api".to_string(),
            vec![(
                // Attribute keys are kept as sent, as upstream does.
                format!("http.route=/x,span_id={SPAN_HEX},trace_id={TRACE_HEX}"),
                "4".to_string(),
                T - 10
            )]
        )]
    );
    // A later sample whose exemplar is older than the stored one: the
    // sample is stored, the exemplar refused as out of order and said so.
    let resp = post(&srv, "js", "application/json", body(T + 60_000, T - 20)).await;
    assert_eq!(resp.status(), 200);
    let reply: Json = resp.json().await.unwrap();
    assert_eq!(reply["partialSuccess"]["rejectedDataPoints"], "0");
    let msg = reply["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(
        msg.contains("exemplars not stored: 1 out of order"),
        "{msg}"
    );
    assert_eq!(read(&srv.storage(), "js", "jobs_done_total")[0].1.len(), 2);
    assert_eq!(exemplars(&srv, "js", "jobs_done_total").await, found);
    srv.stop().await;
}

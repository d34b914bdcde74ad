//! OTLP/HTTP metrics export over real HTTP: protobuf and JSON bodies,
//! gzip, Prometheus 3's translation, partial success, limits and tenants.

mod http;

use std::collections::HashMap;
use std::io::Write;

use http::{read, start, start_with};
use prost::Message;
use tessera::api::AppState;
use tessera::ingest::otlp::proto::*;
use tessera::ingest::otlp::{OtlpSettings, TranslationStrategy};
use tessera::storage::{MatchOp, Matcher, StorageConfig};
use tessera::tenant::limits::{RateLimit, RateLimiter};
use tessera::tenant::TenantId;
use tessera::write::otlp::OtlpConfigs;

/// Milliseconds of the test's data points.
const T: i64 = 1_700_000_000_000;
const NS: u64 = 1_000_000;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
    }
}

fn number(attrs: Vec<KeyValue>, start_ms: i64, v: NumberValue) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start_ms as u64 * NS,
        time_unix_nano: T as u64 * NS,
        value: Some(v),
        ..Default::default()
    }
}

fn metric(name: &str, unit: &str, data: MetricData) -> Metric {
    Metric {
        name: name.into(),
        description: format!("help of {name}"),
        unit: unit.into(),
        data: Some(data),
    }
}

/// One resource (service `shop/cart`, instance `i-1`, region `eu`) with
/// every kind of metric.
fn request() -> ExportMetricsServiceRequest {
    let metrics = vec![
        metric(
            "http.requests",
            "1",
            MetricData::Sum(Sum {
                data_points: vec![number(
                    vec![kv("http.method", "GET")],
                    T - 60_000,
                    NumberValue::AsInt(42),
                )],
                aggregation_temporality: TEMPORALITY_CUMULATIVE,
                is_monotonic: true,
            }),
        ),
        metric(
            "queue.depth",
            "{items}",
            MetricData::Sum(Sum {
                data_points: vec![number(vec![], 0, NumberValue::AsInt(-3))],
                aggregation_temporality: TEMPORALITY_CUMULATIVE,
                is_monotonic: false,
            }),
        ),
        metric(
            "cpu.utilization",
            "1",
            MetricData::Gauge(Gauge {
                data_points: vec![number(vec![], 0, NumberValue::AsDouble(0.25))],
            }),
        ),
        metric(
            "request.duration",
            "s",
            MetricData::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: T as u64 * NS,
                    count: 6,
                    sum: Some(4.5),
                    bucket_counts: vec![1, 2, 3],
                    explicit_bounds: vec![0.1, 1.0],
                    ..Default::default()
                }],
                aggregation_temporality: TEMPORALITY_CUMULATIVE,
            }),
        ),
        metric(
            "rpc.latency",
            "ms",
            MetricData::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: T as u64 * NS,
                    count: 10,
                    sum: 55.0,
                    quantile_values: vec![ValueAtQuantile {
                        quantile: 0.5,
                        value: 5.0,
                    }],
                    ..Default::default()
                }],
            }),
        ),
        metric(
            "payload.size",
            "By",
            MetricData::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    time_unix_nano: T as u64 * NS,
                    count: 4,
                    sum: Some(20.0),
                    scale: 0,
                    zero_count: 1,
                    positive: Some(Buckets {
                        offset: 1,
                        bucket_counts: vec![2, 1],
                    }),
                    ..Default::default()
                }],
                aggregation_temporality: TEMPORALITY_CUMULATIVE,
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "cart"),
                    kv("service.namespace", "shop"),
                    kv("service.instance.id", "i-1"),
                    kv("cloud.region", "eu"),
                ],
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

fn one(srv: &http::Server, tenant: &str, name: &str) -> (String, f64) {
    let got = read(&srv.storage(), tenant, name);
    assert_eq!(got.len(), 1, "{name}: {got:?}");
    assert_eq!(got[0].1.len(), 1, "{name}: {got:?}");
    (got[0].0.clone(), got[0].1[0].v)
}

async fn post(
    srv: &http::Server,
    path: &str,
    tenant: &str,
    content_type: &str,
    gzip: bool,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = srv
        .client
        .post(srv.url(path))
        .header("Content-Type", content_type)
        .header("X-Scope-OrgID", tenant);
    let body = if gzip {
        req = req.header("Content-Encoding", "gzip");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&body).unwrap();
        enc.finish().unwrap()
    } else {
        body
    };
    req.body(body).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_kind_is_translated_as_prometheus_does() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let body = request().encode_to_vec();
    let resp = post(
        &srv,
        "/otlp/v1/metrics",
        "a",
        "application/x-protobuf",
        false,
        body,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let reply = ExportMetricsServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
    assert_eq!(reply.partial_success, None, "{reply:?}");
    let id = r#"instance="i-1", job="shop/cart""#;
    assert_eq!(
        one(&srv, "a", "http_requests_total"),
        (
            format!(r#"http_requests_total{{http_method="GET", {id}}}"#),
            42.0
        )
    );
    assert_eq!(one(&srv, "a", "queue_depth").1, -3.0);
    assert_eq!(one(&srv, "a", "cpu_utilization_ratio").1, 0.25);
    assert_eq!(one(&srv, "a", "request_duration_seconds_sum").1, 4.5);
    assert_eq!(one(&srv, "a", "request_duration_seconds_count").1, 6.0);
    let mut buckets: Vec<(String, f64)> =
        read(&srv.storage(), "a", "request_duration_seconds_bucket")
            .into_iter()
            .map(|(l, s)| (l, s[0].v))
            .collect();
    buckets.sort_by(|a, b| a.1.total_cmp(&b.1));
    let les: Vec<(&str, f64)> = buckets
        .iter()
        .map(|(l, v)| {
            (
                l.split("le=\"").nth(1).unwrap().split('"').next().unwrap(),
                *v,
            )
        })
        .collect();
    assert_eq!(les, [("0.1", 1.0), ("1", 3.0), ("+Inf", 6.0)]);
    assert_eq!(
        one(&srv, "a", "rpc_latency_milliseconds").0,
        format!(r#"rpc_latency_milliseconds{{{id}, quantile="0.5"}}"#)
    );
    assert_eq!(one(&srv, "a", "rpc_latency_milliseconds_count").1, 10.0);
    // target_info carries the non-identifying resource attributes.
    assert_eq!(
        one(&srv, "a", "target_info"),
        (format!(r#"target_info{{cloud_region="eu", {id}}}"#), 1.0)
    );
    // The exponential histogram is a native histogram of schema 0.
    let m = Matcher::new(MatchOp::Equal, "__name__", "payload_size_bytes").unwrap();
    let series = srv
        .storage()
        .querier(&TenantId::new("a").unwrap(), i64::MIN, i64::MAX)
        .select(&[m])
        .unwrap();
    assert_eq!(series.len(), 1);
    let h = &series[0].histograms[0].h;
    assert_eq!((h.schema, h.sum, h.count_f64()), (0, 20.0, 4.0));
    assert_eq!(h.bucket_counts(true), [2.0, 1.0]);
    // Start time becomes the sample's start timestamp.
    let m = Matcher::new(MatchOp::Equal, "__name__", "http_requests_total").unwrap();
    let mut starts = Vec::new();
    srv.storage()
        .querier(&TenantId::new("a").unwrap(), i64::MIN, i64::MAX)
        .select_each_with_start_times(&[m], |_, _, st| {
            starts.extend(st);
            true
        })
        .unwrap();
    assert_eq!(starts, [(T, T - 60_000)]);
    // Metadata as Prometheus records it, unit from the UnitNamer.
    let md = srv.storage().metadata(
        &TenantId::new("a").unwrap(),
        Some("http_requests_total"),
        None,
    );
    assert_eq!(md[0].kind, "counter");
    assert_eq!(md[0].help, "help of http.requests");
    let md = srv.storage().metadata(
        &TenantId::new("a").unwrap(),
        Some("request_duration_seconds"),
        None,
    );
    assert_eq!(
        (md[0].kind.as_str(), md[0].unit.as_str()),
        ("histogram", "seconds")
    );
    // Nothing reached another tenant.
    assert!(read(&srv.storage(), "b", "http_requests_total").is_empty());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_and_gzip_on_prometheus_path() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let body = serde_json::json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
        "scopeMetrics": [{"metrics": [{
            "name": "jobs.done", "unit": "", "sum": {
                "aggregationTemporality": 2, "isMonotonic": true,
                "dataPoints": [{
                    "timeUnixNano": (T as u64 * NS).to_string(),
                    "asInt": "7",
                    "attributes": [{"key": "queue", "value": {"stringValue": "q1"}},
                                   {"key": "n", "value": {"intValue": "3"}}],
                    "exemplars": [{"asDouble": 1.5, "traceId": "5b8efff798038103d269b633813fc60c",
                                   "spanId": "eee19b7ec3c1b174", "timeUnixNano": "1"}]
                }]
            }
        }]}]
    }]})
    .to_string()
    .into_bytes();
    let resp = post(
        &srv,
        "/api/v1/otlp/v1/metrics",
        "j",
        "application/json",
        true,
        body,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    // This server keeps no exemplars (`max_exemplars: 0`): a warning, no
    // refused point.
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"partialSuccess":{"errorMessage":"exemplars not stored: 1 not kept: the tenant's max_exemplars is 0","rejectedDataPoints":"0"}}"#
    );
    assert_eq!(
        one(&srv, "j", "jobs_done_total"),
        (
            r#"jobs_done_total{job="api", n="3", queue="q1"}"#.into(),
            7.0
        )
    );
    // The exemplar is handed on and, without exemplar storage, counted
    // (tests/http_otlp_exemplars.rs stores them).
    let metrics = srv.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"tessera_exemplars_discarded_total{tenant="j"} 1"#),
        "{metrics}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_points_are_a_partial_success_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let mut req = request();
    let metrics = &mut req.resource_metrics[0].scope_metrics[0].metrics;
    // A delta sum (Prometheus 3 refuses delta by default) and an
    // exponential histogram below scale -4.
    metrics.push(metric(
        "delta.requests",
        "",
        MetricData::Sum(Sum {
            data_points: vec![
                number(vec![], 0, NumberValue::AsInt(1)),
                number(vec![kv("x", "y")], 0, NumberValue::AsInt(2)),
            ],
            aggregation_temporality: TEMPORALITY_DELTA,
            is_monotonic: true,
        }),
    ));
    metrics.push(metric(
        "coarse",
        "",
        MetricData::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![ExponentialHistogramDataPoint {
                time_unix_nano: T as u64 * NS,
                scale: -5,
                ..Default::default()
            }],
            aggregation_temporality: TEMPORALITY_CUMULATIVE,
        }),
    ));
    let body = req.encode_to_vec();
    let resp = post(
        &srv,
        "/otlp/v1/metrics",
        "p",
        "application/x-protobuf",
        false,
        body,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let reply = ExportMetricsServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
    let partial = reply.partial_success.expect("partial success");
    assert_eq!(partial.rejected_data_points, 3, "{partial:?}");
    assert!(
        partial.error_message.contains("delta temporality")
            && partial.error_message.contains("\"delta.requests\"")
            && partial
                .error_message
                .contains("scale must be >= -4, was -5"),
        "{}",
        partial.error_message
    );
    // The rest is stored.
    assert_eq!(one(&srv, "p", "http_requests_total").1, 42.0);
    assert!(read(&srv.storage(), "p", "delta_requests_total").is_empty());
    let m = srv.get("/metrics").await.text().await.unwrap();
    assert!(
        m.contains(r#"tessera_samples_rejected_total{tenant="p",reason="invalid_series"} 3"#),
        "{m}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn per_tenant_translation_and_promotion() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StorageConfig::new(dir.path());
    cfg.maintenance_interval = None;
    let utf8 = OtlpSettings {
        translation_strategy: TranslationStrategy::NoUtf8EscapingWithSuffixes,
        promote_resource_attributes: vec!["cloud.region".into()],
        ..Default::default()
    };
    let state = AppState::new().with_otlp(OtlpConfigs::new(
        OtlpSettings {
            promote_resource_attributes: vec!["cloud.region".into()],
            ..Default::default()
        },
        HashMap::from([(TenantId::new("u").unwrap(), utf8)]),
    ));
    let srv = start_with(cfg, state).await;
    for t in ["d", "u"] {
        let body = request().encode_to_vec();
        let resp = post(
            &srv,
            "/otlp/v1/metrics",
            t,
            "application/x-protobuf",
            false,
            body,
        )
        .await;
        assert_eq!(resp.status(), 200, "{t}");
    }
    assert_eq!(
        one(&srv, "d", "http_requests_total").0,
        r#"http_requests_total{cloud_region="eu", http_method="GET", instance="i-1", job="shop/cart"}"#
    );
    assert_eq!(
        one(&srv, "u", "http.requests_total").0,
        r#"http.requests_total{cloud.region="eu", http.method="GET", instance="i-1", job="shop/cart"}"#
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_and_limits_are_refused_with_a_status() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StorageConfig::new(dir.path());
    cfg.maintenance_interval = None;
    let limiter = RateLimiter::new(
        RateLimit::default(),
        HashMap::from([(
            TenantId::new("slow").unwrap(),
            RateLimit {
                rate: 1.0,
                burst: 1,
            },
        )]),
    );
    let srv = start_with(cfg, AppState::new().with_rate_limiter(limiter)).await;
    let pb = "application/x-protobuf";
    let status = |b: &[u8]| {
        #[derive(Clone, PartialEq, prost::Message)]
        struct Status {
            #[prost(int32, tag = "1")]
            code: i32,
            #[prost(string, tag = "2")]
            message: String,
        }
        let s = Status::decode(b).unwrap();
        (s.code, s.message)
    };
    let resp = post(&srv, "/otlp/v1/metrics", "a", "text/plain", false, vec![]).await;
    assert_eq!(resp.status(), 415);
    let resp = post(
        &srv,
        "/otlp/v1/metrics",
        "a",
        pb,
        false,
        vec![0x0a, 0x05, 1],
    )
    .await;
    assert_eq!(resp.status(), 400);
    let (code, msg) = status(&resp.bytes().await.unwrap());
    assert_eq!(code, 3);
    assert!(msg.contains("at byte 2: length runs past the end"), "{msg}");
    let resp = post(
        &srv,
        "/otlp/v1/metrics",
        "a",
        "application/json",
        false,
        b"{".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let resp = post(&srv, "/otlp/v1/metrics", "a", pb, true, vec![0; 80 << 20]).await;
    assert_eq!(resp.status(), 413, "a gzip bomb stops at the limit");
    let resp = post(
        &srv,
        "/otlp/v1/metrics",
        "slow",
        pb,
        false,
        request().encode_to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert!(read(&srv.storage(), "slow", "http_requests_total").is_empty());
    srv.stop().await;
}

//! `/federate` in the delimited protobuf exposition format over real HTTP:
//! negotiation by `Accept`, floats and native histograms decoded back to
//! what was written, family types, and tenant isolation.

mod http;

use std::time::{SystemTime, UNIX_EPOCH};

use http::{start, Server};
use prost::Message;
use tessera::api::dto::{self, MetricType};
use tessera::model::{
    CounterResetHint, Histogram, HistogramCounts, HistogramSample, LabelRef, Span,
};
use tessera::storage::{MetricMetadata, SeriesInput};
use tessera::tenant::TenantId;

const PROTO: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
/// What Prometheus 2.42 sends with native histograms enabled.
const PROM_242: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An integer histogram with negative, zero and positive buckets.
fn int_hist(scale: u64) -> Histogram {
    Histogram {
        schema: 2,
        reset_hint: CounterResetHint::Unknown,
        zero_threshold: 0.001,
        sum: 18.25 * scale as f64,
        counts: HistogramCounts::Int {
            count: 10 * scale,
            zero_count: scale,
            positive_deltas: vec![
                2 * scale as i64,
                scale as i64,
                -(2 * scale as i64),
                scale as i64,
            ],
            negative_deltas: vec![scale as i64],
        },
        positive_spans: vec![
            Span {
                offset: -2,
                length: 3,
            },
            Span {
                offset: 4,
                length: 1,
            },
        ],
        negative_spans: vec![Span {
            offset: 1,
            length: 1,
        }],
        custom_values: Vec::new(),
    }
}

fn put_hist(srv: &Server, tenant: &str, labels: &[(&str, &str)], hs: &[HistogramSample]) {
    let refs: Vec<LabelRef> = labels.iter().map(|(n, v)| LabelRef::new(n, v)).collect();
    let batch = [SeriesInput {
        labels: &refs,
        samples: &[],
        histograms: hs,
    }];
    let out = srv
        .storage()
        .append(&TenantId::new(tenant).unwrap(), &batch)
        .unwrap();
    assert_eq!(out.rejected, 0, "{out:?}");
}

async fn federate(
    srv: &Server,
    tenant: &str,
    accept: Option<&str>,
    query: &str,
) -> reqwest::Response {
    let mut req = srv
        .client
        .get(srv.url(&format!("/federate?{query}")))
        .header("X-Scope-OrgID", tenant);
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp
}

/// Decodes a body of varint-delimited `MetricFamily` messages.
fn decode(mut body: &[u8]) -> Vec<dto::MetricFamily> {
    let mut out = Vec::new();
    while !body.is_empty() {
        out.push(
            dto::MetricFamily::decode_length_delimited(&mut body).expect("a delimited family"),
        );
    }
    out
}

fn labels_of(m: &dto::Metric) -> Vec<(String, String)> {
    m.label
        .iter()
        .map(|l| (l.name().to_string(), l.value().to_string()))
        .collect()
}

/// Tenant `a`: two float series (one with counter metadata), an integer
/// histogram series whose newest is at `now - 10 s`, a gauge float
/// histogram, and a histogram that ended with a stale marker.
fn load_a(srv: &Server, now: i64) {
    srv.put(
        "a",
        &[("__name__", "http_requests_total"), ("code", "200")],
        &[(now - 20_000, 5.0), (now - 15_000, 7.0)],
    );
    srv.put(
        "a",
        &[("__name__", "temp"), ("room", "x")],
        &[(now - 3_000, -1.5)],
    );
    srv.storage()
        .record_metadata(
            &TenantId::new("a").unwrap(),
            &[MetricMetadata {
                metric: "http_requests_total".into(),
                kind: "counter".into(),
                help: "Requests.".into(),
                unit: String::new(),
            }],
        )
        .unwrap();
    let hs = [
        HistogramSample {
            t: now - 40_000,
            h: int_hist(1),
        },
        HistogramSample {
            t: now - 10_000,
            h: int_hist(3),
        },
    ];
    put_hist(
        srv,
        "a",
        &[("__name__", "latency_seconds"), ("job", "api")],
        &hs,
    );
    let mut g = int_hist(1);
    g.reset_hint = CounterResetHint::Gauge;
    g.counts = HistogramCounts::Float {
        count: 10.5,
        zero_count: 1.5,
        positive: vec![2.0, 3.0, 1.0, 2.0],
        negative: vec![1.0],
    };
    put_hist(
        srv,
        "a",
        &[("__name__", "queue_depth"), ("job", "api")],
        &[HistogramSample {
            t: now - 5_000,
            h: g,
        }],
    );
    let gone = [
        HistogramSample {
            t: now - 30_000,
            h: int_hist(1),
        },
        HistogramSample {
            t: now - 20_000,
            h: Histogram::stale_marker(),
        },
    ];
    put_hist(
        srv,
        "a",
        &[("__name__", "gone_seconds"), ("job", "api")],
        &gone,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_carries_floats_and_native_histograms_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let now = now_ms();
    load_a(&srv, now);
    let resp = federate(
        &srv,
        "a",
        Some(PROM_242),
        "match[]={job=\"api\"}&match[]={__name__=~\"http.*|temp\"}",
    )
    .await;
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    );
    let fams = decode(&resp.bytes().await.unwrap());
    let summary: Vec<_> = fams
        .iter()
        .map(|f| (f.name().to_string(), f.r#type(), f.metric.len()))
        .collect();
    assert_eq!(
        summary,
        [
            ("http_requests_total".to_string(), MetricType::Counter, 1),
            ("latency_seconds".to_string(), MetricType::Histogram, 1),
            ("queue_depth".to_string(), MetricType::GaugeHistogram, 1),
            ("temp".to_string(), MetricType::Untyped, 1),
        ]
    );
    let c = &fams[0].metric[0];
    assert_eq!(c.counter.as_ref().unwrap().value, Some(7.0));
    assert_eq!(c.timestamp_ms, Some(now - 15_000));
    assert_eq!(
        labels_of(c),
        [
            ("code".into(), "200".into()),
            ("instance".into(), String::new())
        ]
    );
    let t = &fams[3].metric[0];
    assert_eq!(
        (t.untyped.as_ref().unwrap().value, t.timestamp_ms),
        (Some(-1.5), Some(now - 3_000))
    );

    let m = &fams[1].metric[0];
    assert_eq!(m.timestamp_ms, Some(now - 10_000));
    assert_eq!(
        labels_of(m),
        [
            ("job".into(), "api".into()),
            ("instance".into(), String::new())
        ]
    );
    let h = m.histogram.as_ref().unwrap();
    let want = int_hist(3);
    assert_eq!((h.sample_count, h.sample_sum), (Some(30), Some(want.sum)));
    assert_eq!(
        (h.schema, h.zero_threshold, h.zero_count),
        (Some(2), Some(0.001), Some(3))
    );
    let spans = |s: &[dto::BucketSpan]| {
        s.iter()
            .map(|s| (s.offset(), s.length()))
            .collect::<Vec<_>>()
    };
    assert_eq!(spans(&h.positive_span), [(-2, 3), (4, 1)]);
    assert_eq!(spans(&h.negative_span), [(1, 1)]);
    assert_eq!(h.positive_delta, [6, 3, -6, 3]);
    assert_eq!(h.negative_delta, [3]);
    assert!(h.positive_count.is_empty() && h.sample_count_float.is_none());

    let g = fams[2].metric[0].histogram.as_ref().unwrap();
    assert_eq!(
        (g.sample_count_float, g.zero_count_float),
        (Some(10.5), Some(1.5))
    );
    assert_eq!(g.positive_count, [2.0, 3.0, 1.0, 2.0]);
    assert_eq!(g.negative_count, [1.0]);
    assert!(g.positive_delta.is_empty());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_stays_the_default_and_leaves_native_histograms_out() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let now = now_ms();
    load_a(&srv, now);
    let want = format!(
        "# TYPE http_requests_total counter\n\
         http_requests_total{{code=\"200\",instance=\"\"}} 7 {}\n\
         # TYPE temp untyped\n\
         temp{{room=\"x\",instance=\"\"}} -1.5 {}\n",
        now - 15_000,
        now - 3_000
    );
    let q = "match[]={job=\"api\"}&match[]={__name__=~\"http.*|temp\"}";
    for accept in [
        None,
        Some("*/*"),
        Some("text/plain"),
        Some("garbage"),
        Some(&*format!("{PROTO};q=0")),
    ] {
        let resp = federate(&srv, "a", accept, q).await;
        assert_eq!(
            resp.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8",
            "{accept:?}"
        );
        assert_eq!(resp.text().await.unwrap(), want, "{accept:?}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_federation_sees_only_the_callers_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let now = now_ms();
    load_a(&srv, now);
    put_hist(
        &srv,
        "b",
        &[
            ("__name__", "latency_seconds"),
            ("job", "api"),
            ("owner", "b"),
        ],
        &[HistogramSample {
            t: now - 1_000,
            h: int_hist(7),
        }],
    );
    srv.put(
        "b",
        &[("__name__", "temp"), ("owner", "b")],
        &[(now - 1_000, 99.0)],
    );
    let q = "match[]={__name__=~\".%2B\"}";
    let a = decode(
        &federate(&srv, "a", Some(PROTO), q)
            .await
            .bytes()
            .await
            .unwrap(),
    );
    let a_labels: Vec<_> = a
        .iter()
        .flat_map(|f| &f.metric)
        .flat_map(labels_of)
        .collect();
    assert_eq!(a.iter().map(|f| f.metric.len()).sum::<usize>(), 4);
    assert!(!a_labels.iter().any(|(n, _)| n == "owner"), "{a_labels:?}");

    let b = decode(
        &federate(&srv, "b", Some(PROTO), q)
            .await
            .bytes()
            .await
            .unwrap(),
    );
    let names: Vec<_> = b.iter().map(|f| f.name().to_string()).collect();
    assert_eq!(names, ["latency_seconds", "temp"]);
    assert_eq!(
        b[0].metric[0].histogram.as_ref().unwrap().sample_count,
        Some(70)
    );
    assert_eq!(b[1].metric[0].untyped.as_ref().unwrap().value, Some(99.0));
    // The anonymous tenant has nothing: an empty body.
    let anon = srv
        .client
        .get(srv.url(&format!("/federate?{q}")))
        .header("Accept", PROTO)
        .send()
        .await
        .unwrap();
    assert!(anon.bytes().await.unwrap().is_empty());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_bucket_histograms_federate_as_classic_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let now = now_ms();
    // Buckets le 0.25: 2, (0.25, 1]: none, (1, 10]: 3, +Inf: 1.
    let h = Histogram {
        schema: -53,
        reset_hint: CounterResetHint::Unknown,
        zero_threshold: 0.0,
        sum: 27.5,
        counts: HistogramCounts::Int {
            count: 6,
            zero_count: 0,
            positive_deltas: vec![2, 1, -2],
            negative_deltas: vec![],
        },
        positive_spans: vec![
            Span {
                offset: 0,
                length: 1,
            },
            Span {
                offset: 1,
                length: 2,
            },
        ],
        negative_spans: vec![],
        custom_values: vec![0.25, 1.0, 10.0],
    };
    let t = now - 1_000;
    put_hist(
        &srv,
        "a",
        &[("__name__", "rpc_seconds"), ("job", "api")],
        &[HistogramSample { t, h }],
    );
    let text = federate(&srv, "a", None, "match[]=rpc_seconds").await;
    let want = format!(
        "# TYPE rpc_seconds histogram\n\
         rpc_seconds_bucket{{job=\"api\",instance=\"\",le=\"0.25\"}} 2 {t}\n\
         rpc_seconds_bucket{{job=\"api\",instance=\"\",le=\"1\"}} 2 {t}\n\
         rpc_seconds_bucket{{job=\"api\",instance=\"\",le=\"10\"}} 5 {t}\n\
         rpc_seconds_bucket{{job=\"api\",instance=\"\",le=\"+Inf\"}} 6 {t}\n\
         rpc_seconds_sum{{job=\"api\",instance=\"\"}} 27.5 {t}\n\
         rpc_seconds_count{{job=\"api\",instance=\"\"}} 6 {t}\n"
    );
    assert_eq!(text.text().await.unwrap(), want);

    let fams = decode(
        &federate(&srv, "a", Some(PROTO), "match[]=rpc_seconds")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(fams.len(), 1);
    assert_eq!(fams[0].r#type(), MetricType::Histogram);
    let h = fams[0].metric[0].histogram.as_ref().unwrap();
    let buckets: Vec<_> = h
        .bucket
        .iter()
        .map(|b| (b.upper_bound(), b.cumulative_count()))
        .collect();
    assert_eq!(buckets, [(0.25, 2), (1.0, 2), (10.0, 5)]);
    assert_eq!(
        (h.sample_count, h.sample_sum, h.schema),
        (Some(6), Some(27.5), None)
    );
    srv.stop().await;
}

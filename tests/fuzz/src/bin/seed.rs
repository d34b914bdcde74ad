//! Writes the seed corpus under `tests/fuzz/corpus/<target>/`: valid
//! requests built with the server's own protobuf types, text bodies,
//! push paths, every expression of the upstream PromQL test scripts and
//! the compliance query list, and query strings for each endpoint.
//! Run from `tests/fuzz`: `cargo run --bin seed`.

use std::path::{Path, PathBuf};

use tessera::ingest::proto::{encode_snappy, read, v1, v2};
use tessera::model::Sample;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// An OTLP/JSON export with a resource, a counter and a histogram.
const OTLP_JSON: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}},{"key":"region","value":{"stringValue":"eu"}}]},"scopeMetrics":[{"metrics":[{"name":"jobs.done","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"timeUnixNano":"1700000000000000000","asInt":"7","attributes":[{"key":"q","value":{"stringValue":"a"}}]}]}},{"name":"latency","unit":"s","histogram":{"aggregationTemporality":2,"dataPoints":[{"timeUnixNano":"1700000000000000000","count":"3","sum":1.5,"bucketCounts":["1","1","1"],"explicitBounds":[0.1,1]}]}}]}]}]}"#;

/// An OTLP protobuf export with one metric of every kind.
fn otlp_request() -> tessera::ingest::otlp::proto::ExportMetricsServiceRequest {
    use tessera::ingest::otlp::proto::*;
    let t = 1_700_000_000_000_000_000u64;
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
    };
    let number = |v: f64| NumberDataPoint {
        attributes: vec![kv("host", "h1")],
        time_unix_nano: t,
        value: Some(NumberValue::AsDouble(v)),
        ..Default::default()
    };
    let metric = |name: &str, data: MetricData| Metric {
        name: name.into(),
        unit: "By".into(),
        data: Some(data),
        ..Default::default()
    };
    let metrics = vec![
        metric(
            "g",
            MetricData::Gauge(Gauge {
                data_points: vec![number(1.0)],
            }),
        ),
        metric(
            "s",
            MetricData::Sum(Sum {
                data_points: vec![number(2.0)],
                aggregation_temporality: TEMPORALITY_CUMULATIVE,
                is_monotonic: true,
            }),
        ),
        metric(
            "h",
            MetricData::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: t,
                    count: 2,
                    sum: Some(3.0),
                    bucket_counts: vec![1, 1],
                    explicit_bounds: vec![1.0],
                    ..Default::default()
                }],
                aggregation_temporality: TEMPORALITY_CUMULATIVE,
            }),
        ),
        metric(
            "e",
            MetricData::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    time_unix_nano: t,
                    count: 3,
                    scale: 3,
                    zero_count: 1,
                    positive: Some(Buckets {
                        offset: -2,
                        bucket_counts: vec![1, 0, 1],
                    }),
                    ..Default::default()
                }],
                aggregation_temporality: TEMPORALITY_CUMULATIVE,
            }),
        ),
        metric(
            "q",
            MetricData::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: t,
                    count: 1,
                    sum: 1.0,
                    quantile_values: vec![ValueAtQuantile {
                        quantile: 0.5,
                        value: 1.0,
                    }],
                    ..Default::default()
                }],
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "svc"), kv("zone", "z")],
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

fn v1_request() -> v1::WriteRequest {
    let series = |name: &str, host: &str| v1::TimeSeries {
        labels: vec![
            v1::Label {
                name: "__name__".into(),
                value: name.into(),
            },
            v1::Label {
                name: "host".into(),
                value: host.into(),
            },
        ],
        samples: vec![
            v1::Sample {
                value: 1.5,
                timestamp: 1000,
            },
            v1::Sample {
                value: f64::NAN,
                timestamp: 2000,
            },
        ],
        ..Default::default()
    };
    let mut hist = series("lat", "a");
    hist.samples.clear();
    hist.histograms.push(v1::Histogram {
        count: Some(v1::Count::CountInt(3)),
        sum: 2.0,
        schema: 1,
        zero_threshold: 0.001,
        zero_count: Some(v1::ZeroCount::ZeroCountInt(1)),
        positive_spans: vec![v1::BucketSpan {
            offset: -1,
            length: 2,
        }],
        positive_deltas: vec![1, 0],
        timestamp: 3000,
        ..Default::default()
    });
    v1::WriteRequest {
        timeseries: vec![series("up", "a"), series("up", "b"), hist],
        metadata: Vec::new(),
    }
}

fn v2_request() -> v2::Request {
    let mut b = v2::RequestBuilder::new();
    let ex = b.exemplar(&[("trace_id", "abc")], 1.0, 1000);
    b.series(
        &[("__name__", "cpu"), ("host", "h1")],
        &[Sample::new(1000, 2.0)],
    )
    .exemplars
    .push(ex);
    b.series(
        &[("__name__", "cpu"), ("host", "h2")],
        &[Sample::new(1000, 3.0)],
    );
    b.build()
}

fn promql_corpus(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let tests = root.join("../shared/peer-tests/promqltest");
    if let Ok(entries) = std::fs::read_dir(&tests) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            for line in text.lines() {
                let line = line.trim();
                if let Some(rest) = line.strip_prefix("eval") {
                    // The expression follows `instant at <t>` / `range from ... step <d>`.
                    let words: Vec<&str> = rest.split(' ').collect();
                    if let Some(i) = words.iter().position(|w| *w == "at" || *w == "step") {
                        out.push(words[i + 2..].join(" "));
                    }
                }
            }
        }
    }
    let compliance = root.join("../shared/peer-tests/compliance/promql-test-queries.yml");
    for line in std::fs::read_to_string(compliance)
        .unwrap_or_default()
        .lines()
    {
        if let Some(q) = line.trim().strip_prefix("- query: ") {
            out.push(q.trim_matches('\'').trim_matches('"').to_string());
        }
    }
    out.extend(
        [
            "sum by (host) (rate(requests_total[5m]))",
            "histogram_quantile(0.9, sum by (le) (rate(lat_bucket[5m])))",
            "max_over_time(temp[10m:1m])",
            "topk(2, up) or bottomk(1, temp)",
            "label_replace(up, \"x\", \"$1\", \"host\", \"(.*)\")",
            "count_values(\"v\", up)",
        ]
        .map(String::from),
    );
    out.sort();
    out.dedup();
    out
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = root.join("tests/fuzz/corpus");

    let v1 = prost::Message::encode_to_vec(&v1_request());
    let v2 = prost::Message::encode_to_vec(&v2_request());
    let rw = corpus.join("remote_write");
    write(&rw, "v1", &[[0u8].as_slice(), &v1].concat());
    write(&rw, "v2", &[[1u8].as_slice(), &v2].concat());
    let sn = corpus.join("snappy");
    write(&sn, "v1", &encode_snappy(&v1_request()));
    write(&sn, "v2", &encode_snappy(&v2_request()));

    let text = corpus.join("text");
    write(&text, "prom", b"# HELP up Up.\n# TYPE up gauge\nup{job=\"a\",instance=\"b\"} 1 1000\nhttp_requests_total{code=\"200\"} 1027e-3\nrpc{quantile=\"0.5\"} NaN\n");
    write(&text, "om", b"# TYPE foo counter\n# UNIT foo seconds\nfoo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\nfoo_created 1520430000.123\n# EOF\n");

    let push = corpus.join("push");
    write(
        &push,
        "put",
        b"\x00job/batch/instance/x\x00# TYPE done gauge\ndone{step=\"1\"} 1\n",
    );
    write(
        &push,
        "post-b64",
        b"\x01job@base64/YmF0Y2g=/path@base64/L3Zhci90bXA=\x00up 1\n",
    );
    write(&push, "delete", b"\x02job/batch\x00");

    let rr = corpus.join("remote_read");
    for (name, streamed, re) in [
        ("samples", 0, false),
        ("streamed", 1, false),
        ("regex", 0, true),
    ] {
        let req = read::ReadRequest {
            queries: vec![read::Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: 3_600_000,
                matchers: vec![read::LabelMatcher {
                    r#type: if re { 2 } else { 0 },
                    name: "__name__".into(),
                    value: if re { "req.*".into() } else { "up".into() },
                }],
                hints: None,
            }],
            accepted_response_types: vec![streamed],
        };
        write(
            &rr,
            name,
            &[[0u8].as_slice(), &prost::Message::encode_to_vec(&req)].concat(),
        );
    }

    let pq = corpus.join("promql");
    for (i, q) in promql_corpus(&root).iter().enumerate() {
        write(
            &pq,
            &format!("{i:04}"),
            &[&[40u8, 20, 3][..], q.as_bytes()].concat(),
        );
    }

    let qp = corpus.join("query_params");
    let cases: [(u8, &str); 10] = [
        (0, "query=sum(up)&time=3000"),
        (1, "query=rate(requests_total[5m])&start=0&end=3600&step=60"),
        (2, "match[]=up&start=0&end=1e9&limit=2"),
        (3, "match[]={job=\"api\"}"),
        (4, "start=2025-01-01T00:00:00Z&end=2026-01-01T00:00:00.5Z"),
        (5, "metric=up&limit=1"),
        (7, "query=sum by(a)(rate(x[5m]))"),
        (8, "limit=3"),
        (9, "match[]=up"),
        (129, "query=up&timeout=1s&lookback_delta=10m"),
    ];
    for (i, (e, q)) in cases.iter().enumerate() {
        write(&qp, &format!("{i:02}"), &[&[*e][..], q.as_bytes()].concat());
    }
    let otlp = corpus.join("otlp");
    write(
        &otlp,
        "protobuf",
        &[
            [0u8].as_slice(),
            &prost::Message::encode_to_vec(&otlp_request()),
        ]
        .concat(),
    );
    write(
        &otlp,
        "json",
        &[[1u8].as_slice(), OTLP_JSON.as_bytes()].concat(),
    );
    println!("seed corpus written under {}", corpus.display());
}

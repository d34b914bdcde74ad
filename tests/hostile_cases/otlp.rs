//! Hostile OTLP exports: bombs, counts and nesting past the limits,
//! broken framing, and label limits, each with the answer it must get.

use std::io::Write;

use prost::Message;
use tessera::ingest::otlp::proto::*;

use super::cases::{Case, Send};

const PB: &str = "application/x-protobuf";

fn post(content_type: &str, gzip: bool, body: Vec<u8>) -> Send {
    let mut headers = vec![
        ("Content-Type", content_type.to_string()),
        ("X-Scope-OrgID", "hostile".to_string()),
    ];
    let body = if gzip {
        headers.push(("Content-Encoding", "gzip".into()));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&body).unwrap();
        enc.finish().unwrap()
    } else {
        body
    };
    Send::Post("/otlp/v1/metrics", headers, body)
}

fn case(name: &str, send: Send, status: u16, body: &'static str) -> Case {
    Case {
        name: format!("otlp: {name}"),
        send,
        status: Some(status),
        body,
    }
}

/// `field` as a length-delimited protobuf field around `inner`.
fn wrap(field: u8, inner: &[u8]) -> Vec<u8> {
    let mut out = vec![(field << 3) | 2];
    let mut n = inner.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(inner);
    out
}

/// A request whose one gauge holds `n` empty data points (2 bytes each).
fn gauge_points(n: usize) -> Vec<u8> {
    let points = [0x0a, 0x00].repeat(n);
    let metric = wrap(5, &points);
    wrap(1, &wrap(2, &wrap(2, &metric)))
}

/// One gauge point with `attrs` at a fixed time.
fn with_attributes(attrs: Vec<KeyValue>) -> Vec<u8> {
    let point = NumberDataPoint {
        attributes: attrs,
        time_unix_nano: 1_700_000_000_000_000_000,
        value: Some(NumberValue::AsDouble(1.0)),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "hostile.gauge".into(),
                    data: Some(MetricData::Gauge(Gauge {
                        data_points: vec![point],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn kv(k: String, v: String) -> KeyValue {
    KeyValue {
        key: k,
        value: Some(AnyValue {
            value: Some(Value::StringValue(v)),
        }),
    }
}

/// An attribute whose value nests arrays `depth` deep.
fn nested_value(depth: usize) -> Vec<u8> {
    let mut v = AnyValue {
        value: Some(Value::StringValue("x".into())),
    };
    for _ in 0..depth {
        v = AnyValue {
            value: Some(Value::ArrayValue(ArrayValue { values: vec![v] })),
        };
    }
    with_attributes(vec![KeyValue {
        key: "deep".into(),
        value: Some(v),
    }])
}

/// The OTLP cases.
pub fn otlp_cases() -> Vec<Case> {
    vec![
        case(
            "gzip bomb of 100 MiB of zeros",
            post(PB, true, vec![0u8; 100 << 20]),
            413,
            "exceeds the limit of 67108864 bytes",
        ),
        case(
            "JSON gzip bomb of 20 MiB",
            post("application/json", true, vec![b' '; 20 << 20]),
            413,
            "exceeds the limit of 8388608 bytes",
        ),
        case(
            "gzip that is not gzip",
            post(PB, false, b"\x1f\x8b\x08garbage".to_vec())
                .with_encoding("gzip"),
            400,
            "invalid gzip body",
        ),
        case(
            "one data point over the limit",
            post(PB, false, gauge_points((1 << 20) + 1)),
            413,
            "more than 1048576 data points",
        ),
        case(
            "exactly the data point limit",
            post(PB, false, gauge_points(1 << 20)),
            200,
            "",
        ),
        case(
            "attribute values nested 40 deep",
            post(PB, false, nested_value(40)),
            400,
            "deeper than 32 levels",
        ),
        case(
            "length past the end",
            post(PB, false, vec![0x0a, 0x7f, 0x01]),
            400,
            "length runs past the end",
        ),
        case(
            "JSON integer that is not one",
            post(
                "application/json",
                false,
                br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"asInt":"1e3"}]}}]}]}]}"#.to_vec(),
            ),
            400,
            "is not a 64-bit integer",
        ),
        case(
            "label value over the length limit",
            post(PB, false, with_attributes(vec![kv("big".into(), "v".repeat(3000))])),
            200,
            "longer than the limit of 2048 bytes",
        ),
        case(
            "more label names than allowed",
            post(
                PB,
                false,
                with_attributes((0..40).map(|i| kv(format!("a{i}"), "v".into())).collect()),
            ),
            200,
            "the limit is 30",
        ),
    ]
}

impl Send {
    /// Adds `Content-Encoding` to a POST.
    fn with_encoding(self, enc: &'static str) -> Send {
        match self {
            Send::Post(path, mut headers, body) => {
                headers.push(("Content-Encoding", enc.to_string()));
                Send::Post(path, headers, body)
            }
            other => other,
        }
    }
}

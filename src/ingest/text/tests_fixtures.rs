//! Bodies written by the official Python client (`prometheus_client`
//! 0.26: `generate_latest` and `openmetrics.exposition.generate_latest`),
//! kept verbatim under `tests/fixtures/text/`. Every sample is checked.

use super::*;

const PROM: &str = include_str!("../../../tests/fixtures/text/python_client.prom");
const OM: &str = include_str!("../../../tests/fixtures/text/python_client.om.txt");
const EXTRAS_PROM: &str = include_str!("../../../tests/fixtures/text/python_client_extras.prom");
const EXTRAS_OM: &str = include_str!("../../../tests/fixtures/text/python_client_extras.om.txt");

/// (metric name, other labels, value, timestamp).
type Want = (
    &'static str,
    &'static [(&'static str, &'static str)],
    f64,
    Option<i64>,
);

const GET: &[(&str, &str)] = &[("code", "200"), ("method", "get")];
const POST: &[(&str, &str)] = &[("code", "500"), ("method", "post")];
const ROUTE: &[(&str, &str)] = &[("route", "/x")];
const DIR: &[(&str, &str)] = &[("dir", "in")];

const COUNTER: &[Want] = &[
    ("http_requests_total", GET, 3.0, None),
    ("http_requests_total", POST, 1.5, None),
];
const CREATED: &[Want] = &[
    ("http_requests_created", GET, 1.7953140704120367e9, None),
    ("http_requests_created", POST, 1.7953140704121144e9, None),
];
const GAUGE: &[Want] = &[
    ("queue_depth", &[("queue", "a\"b\\c\nd")], -2.5, None),
    ("queue_depth", &[("queue", "inf")], f64::INFINITY, None),
];
const HISTOGRAM: &[Want] = &[
    (
        "request_seconds_bucket",
        &[("le", "0.1"), ("route", "/x")],
        1.0,
        None,
    ),
    (
        "request_seconds_bucket",
        &[("le", "1.0"), ("route", "/x")],
        2.0,
        None,
    ),
    (
        "request_seconds_bucket",
        &[("le", "+Inf"), ("route", "/x")],
        3.0,
        None,
    ),
    ("request_seconds_count", ROUTE, 3.0, None),
    ("request_seconds_sum", ROUTE, 3.55, None),
    ("request_seconds_created", ROUTE, 1.7953140704122088e9, None),
];
const SUMMARY: &[Want] = &[
    ("payload_bytes_count", DIR, 2.0, None),
    ("payload_bytes_sum", DIR, 128.0, None),
    ("payload_bytes_created", DIR, 1.795314070412291e9, None),
];
const INFO_AND_ENUM: &[Want] = &[
    (
        "build_info",
        &[("commit", "abc"), ("env", "prod"), ("version", "1.2.3")],
        1.0,
        None,
    ),
    (
        "task_state",
        &[("task", "t1"), ("task_state", "starting")],
        0.0,
        None,
    ),
    (
        "task_state",
        &[("task", "t1"), ("task_state", "running")],
        1.0,
        None,
    ),
    (
        "task_state",
        &[("task", "t1"), ("task_state", "stopped")],
        0.0,
        None,
    ),
];
const EXTRAS: &[Want] = &[
    ("jobs_processed_total", &[("queue", "q1")], 2.0, None),
    (
        "jobs_processed_created",
        &[("queue", "q1")],
        1.7953140704143045e9,
        None,
    ),
    ("disk_used_bytes", &[], 1024.0, None),
    ("rpc_seconds_bucket", &[("le", "0.5")], 1.0, None),
    ("rpc_seconds_bucket", &[("le", "+Inf")], 1.0, None),
    ("rpc_seconds_count", &[], 1.0, None),
    ("rpc_seconds_sum", &[], 0.25, None),
    ("rpc_seconds_created", &[], 1.7953140704143472e9, None),
    (
        "temperature_celsius",
        &[("room", "kitchen")],
        21.5,
        Some(1_700_000_000_123),
    ),
    (
        "temperature_celsius",
        &[("room", "hall")],
        f64::from_bits(0x7ff8_0000_0000_0001),
        Some(1_700_000_001_000),
    ),
];

fn check_samples(body: &str, format: TextFormat, want: &[&[Want]]) -> ParsedText {
    let parsed = parse(body, format);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let want: Vec<&Want> = want.iter().flat_map(|w| w.iter()).collect();
    assert_eq!(parsed.samples.len(), want.len());
    for (got, (name, labels, value, ts)) in parsed.samples.iter().zip(want) {
        let mut expect = vec![("__name__".to_string(), name.to_string())];
        expect.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(got.labels, expect);
        assert_eq!(got.value.to_bits(), value.to_bits(), "{name} {labels:?}");
        assert_eq!(got.timestamp_ms, *ts, "{name} {labels:?}");
    }
    parsed
}

fn meta(metric: &str, kind: &str, help: &str, unit: &str) -> TextMetadata {
    TextMetadata {
        metric: metric.into(),
        kind: kind.into(),
        help: help.into(),
        unit: unit.into(),
    }
}

const REQ_HELP: &str = "Total requests.\nSecond line with \\ backslash";

#[test]
fn python_client_prometheus_format() {
    let want = [COUNTER, CREATED, GAUGE, HISTOGRAM, SUMMARY, INFO_AND_ENUM];
    let parsed = check_samples(PROM, TextFormat::Prometheus, &want);
    assert_eq!(
        parsed.metadata,
        vec![
            meta("http_requests_total", "counter", REQ_HELP, ""),
            meta("http_requests_created", "gauge", REQ_HELP, ""),
            meta("queue_depth", "gauge", "Current depth \"quoted\"", ""),
            meta("request_seconds", "histogram", "Latency.", ""),
            meta("request_seconds_created", "gauge", "Latency.", ""),
            meta("payload_bytes", "summary", "Payload sizes.", ""),
            meta("payload_bytes_created", "gauge", "Payload sizes.", ""),
            meta("build_info", "gauge", "Build info.", ""),
            meta("task_state", "gauge", "Task state.", ""),
        ]
    );
}

#[test]
fn python_client_openmetrics_format() {
    // OpenMetrics keeps each counter's `_created` next to its `_total`.
    let counter = [COUNTER[0], CREATED[0], COUNTER[1], CREATED[1]];
    let want = [&counter[..], GAUGE, HISTOGRAM, SUMMARY, INFO_AND_ENUM];
    let parsed = check_samples(OM, TextFormat::OpenMetrics, &want);
    assert_eq!(
        parsed.metadata,
        vec![
            meta("http_requests", "counter", REQ_HELP, ""),
            meta("queue_depth", "gauge", "Current depth \"quoted\"", ""),
            meta("request_seconds", "histogram", "Latency.", ""),
            meta("payload_bytes", "summary", "Payload sizes.", ""),
            meta("build", "info", "Build info.", ""),
            meta("task_state", "stateset", "Task state.", ""),
        ]
    );
}

#[test]
fn python_client_exemplars_units_and_timestamps() {
    check_samples(EXTRAS_PROM, TextFormat::Prometheus, &[EXTRAS]);
    let parsed = check_samples(EXTRAS_OM, TextFormat::OpenMetrics, &[EXTRAS]);
    assert_eq!(
        parsed.metadata,
        vec![
            meta("jobs_processed", "counter", "Jobs.", ""),
            meta("disk_used_bytes", "gauge", "Disk used.", "bytes"),
            meta("rpc_seconds", "histogram", "RPC latency.", ""),
            meta("temperature_celsius", "gauge", "Temp.", "celsius"),
        ]
    );
}

#[test]
fn fixtures_in_the_wrong_format_fail_loudly() {
    // Read as Prometheus text, an OpenMetrics body keeps every sample
    // (`# EOF` is a free comment) but its OpenMetrics-only types fail.
    let parsed = parse(OM, TextFormat::Prometheus);
    assert_eq!(parsed.samples.len(), 19);
    assert_eq!(
        parsed.errors,
        vec![
            IngestError::Text {
                line: 25,
                reason: "invalid metric type \"info\"".into()
            },
            IngestError::Text {
                line: 28,
                reason: "invalid metric type \"stateset\"".into()
            },
        ]
    );
    // Read as OpenMetrics, a Prometheus body lacks `# EOF`.
    let parsed = parse(PROM, TextFormat::OpenMetrics);
    assert_eq!(parsed.samples.len(), 19);
    assert_eq!(parsed.errors.len(), 1);
}

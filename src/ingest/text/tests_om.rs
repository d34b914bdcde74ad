//! Table-driven tests for the OpenMetrics dialect.

use super::*;

const OM: TextFormat = TextFormat::OpenMetrics;

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `line` as a complete OpenMetrics body.
fn body(line: &str) -> String {
    format!("{line}\n# EOF\n")
}

fn reasons(parsed: &ParsedText) -> Vec<(usize, String)> {
    parsed
        .errors
        .iter()
        .map(|e| match e {
            IngestError::Text { line, reason } => (*line, reason.clone()),
            other => panic!("unexpected error kind {other:?}"),
        })
        .collect()
}

type SampleCase<'a> = (&'a str, &'a [(&'a str, &'a str)], f64, Option<i64>);

const OM_OK: &[SampleCase] = &[
    ("m 1", &[("__name__", "m")], 1.0, None),
    ("m{} 1", &[("__name__", "m")], 1.0, None),
    ("m{a=\"b\"} 1", &[("__name__", "m"), ("a", "b")], 1.0, None),
    ("m{a=\"b\",} 1", &[("__name__", "m"), ("a", "b")], 1.0, None),
    (
        "m{a=\"1\",b=\"2\"} 3",
        &[("__name__", "m"), ("a", "1"), ("b", "2")],
        3.0,
        None,
    ),
    (
        "m{a=\"\\\"\\\\\\n\"} 1",
        &[("__name__", "m"), ("a", "\"\\\n")],
        1.0,
        None,
    ),
    ("m 1 1.5", &[("__name__", "m")], 1.0, Some(1500)),
    (
        "m 1 1700000000.123",
        &[("__name__", "m")],
        1.0,
        Some(1_700_000_000_123),
    ),
    ("m 1 1.001", &[("__name__", "m")], 1.0, Some(1001)),
    ("m 1 -1", &[("__name__", "m")], 1.0, Some(-1000)),
    ("m 1 1e3", &[("__name__", "m")], 1.0, Some(1_000_000)),
    ("m -Inf", &[("__name__", "m")], f64::NEG_INFINITY, None),
    ("m +Inf 0", &[("__name__", "m")], f64::INFINITY, Some(0)),
    (
        "m_created 1.7953140081816678e+09",
        &[("__name__", "m_created")],
        1.7953140081816678e9,
        None,
    ),
    (
        "m_total 1 # {trace_id=\"x\"} 1.0",
        &[("__name__", "m_total")],
        1.0,
        None,
    ),
    (
        "m_total 1 # {trace_id=\"x\"} 1.0 123.456",
        &[("__name__", "m_total")],
        1.0,
        None,
    ),
    (
        "m_total 2 5 # {a=\"b\",c=\"d\",} 2",
        &[("__name__", "m_total")],
        2.0,
        Some(5000),
    ),
    ("m 1 # {} 1", &[("__name__", "m")], 1.0, None),
    (
        "m 1 # {\"ex.label\"=\"v\"} NaN",
        &[("__name__", "m")],
        1.0,
        None,
    ),
    ("{\"my.metric\"} 1", &[("__name__", "my.metric")], 1.0, None),
    (
        "{\"my.metric\",\"a.b\"=\"v\"} 1",
        &[("__name__", "my.metric"), ("a.b", "v")],
        1.0,
        None,
    ),
    (
        "m{\"a b\"=\"v\"} 1",
        &[("__name__", "m"), ("a b", "v")],
        1.0,
        None,
    ),
];

#[test]
fn openmetrics_samples() {
    for (line, want_labels, value, ts) in OM_OK {
        let parsed = parse(&body(line), OM);
        assert!(parsed.errors.is_empty(), "{line:?}: {:?}", parsed.errors);
        assert_eq!(parsed.samples.len(), 1, "{line:?}");
        let got = &parsed.samples[0];
        assert_eq!(got.labels, labels(want_labels), "{line:?}");
        assert_eq!(got.value.to_bits(), value.to_bits(), "{line:?}");
        assert_eq!(got.timestamp_ms, *ts, "{line:?}");
    }
}

const OM_ERRORS: &[(&str, &str)] = &[
    ("", "blank lines are not allowed in OpenMetrics"),
    (
        " m 1",
        "expected a metric name or '{' at the start of a sample, found ' '",
    ),
    ("m  1", "expected a value after the metric, found ' '"),
    (
        "m\t1",
        "expected a space and a value after the metric, found '\\t'",
    ),
    (
        "m",
        "expected a space and a value after the metric, found end of line",
    ),
    (
        "m 1 ",
        "expected a timestamp or exemplar after the value, found end of line",
    ),
    (
        "m {a=\"b\"} 1",
        "bad value: invalid float \"{a=\\\"b\\\"}\"",
    ),
    (
        "m{a = \"b\"} 1",
        "expected '=' after label name \"a\", found ' '",
    ),
    (
        "m{a=\"b\" } 1",
        "expected ',' or '}' after the value of label \"a\", found ' '",
    ),
    (
        "m{a=\"b\" c=\"d\"} 1",
        "expected ',' or '}' after the value of label \"a\"",
    ),
    ("m{a=\"1\",a=\"2\"} 1", "duplicate label name \"a\""),
    (
        "m{a=\"b\"}",
        "expected a space and a value after the metric, found end of line",
    ),
    ("m 1 NaN", "invalid timestamp \"NaN\""),
    ("m 1 +Inf", "invalid timestamp \"+Inf\""),
    ("m 1 1e300", "timestamp \"1e300\" is out of range"),
    (
        "m 1 2 3",
        "expected end of line or an exemplar after the timestamp, found ' '",
    ),
    ("m 1 # x", "invalid float \"#\""),
    (
        "m 1 # {a=\"b\"}",
        "exemplar: expected a space and a value after the exemplar labels",
    ),
    (
        "m 1 # {a=\"b\"} x",
        "exemplar: bad value: invalid float \"x\"",
    ),
    (
        "m 1 # {a=\"b\"} 1 Inf",
        "exemplar: invalid timestamp \"Inf\"",
    ),
    (
        "m 1 # {a=\"b\"} 1 2 3",
        "expected end of line after the exemplar timestamp, found ' '",
    ),
    (
        "m 1 # {\"name\"} 1",
        "exemplar labels cannot contain a metric name",
    ),
    (
        "m 1 # {a=\"1\",a=\"2\"} 1",
        "duplicate exemplar label name \"a\"",
    ),
    ("m 1 # {a=\"b\" } 1", "exemplar: expected ',' or '}'"),
    ("# comment", "OpenMetrics has no free comments"),
    ("#HELP m x", "OpenMetrics has no free comments"),
    (
        "# HELP m",
        "expected a space and text after the metric name in HELP, found end of line",
    ),
    (
        "# HELP  m x",
        "expected a metric name after HELP, found ' '",
    ),
    ("# TYPE m untyped", "invalid metric type \"untyped\""),
    ("# TYPE m counter ", "invalid metric type \"counter \""),
    (
        "# UNIT m_bytes seconds",
        "unit \"seconds\" is not a suffix of metric \"m_bytes\"",
    ),
    ("# UNIT mbytes bytes", "is not a suffix"),
    ("# UNIT bytes bytes", "is not a suffix"),
];

#[test]
fn openmetrics_errors() {
    for (line, want) in OM_ERRORS {
        let parsed = parse(&body(line), OM);
        let got = reasons(&parsed);
        assert_eq!(got.len(), 1, "{line:?}: {got:?}");
        assert_eq!(got[0].0, 1, "{line:?}");
        assert!(
            got[0].1.contains(want),
            "{line:?}: {:?} lacks {want:?}",
            got[0].1
        );
        assert!(parsed.samples.is_empty(), "{line:?}");
    }
}

fn meta(metric: &str, kind: &str, help: &str, unit: &str) -> TextMetadata {
    TextMetadata {
        metric: metric.into(),
        kind: kind.into(),
        help: help.into(),
        unit: unit.into(),
    }
}

#[test]
fn openmetrics_metadata() {
    let cases: &[(&str, TextMetadata)] = &[
        ("# HELP m Some help.", meta("m", "", "Some help.", "")),
        ("# HELP m ", meta("m", "", "", "")),
        ("# HELP m  two", meta("m", "", " two", "")),
        (
            "# HELP m a \\\"q\\\" \\\\ \\n",
            meta("m", "", "a \"q\" \\ \n", ""),
        ),
        ("# HELP \"my.metric\" x", meta("my.metric", "", "x", "")),
        ("# TYPE m counter", meta("m", "counter", "", "")),
        (
            "# TYPE m gaugehistogram",
            meta("m", "gaugehistogram", "", ""),
        ),
        ("# TYPE m info", meta("m", "info", "", "")),
        ("# TYPE m stateset", meta("m", "stateset", "", "")),
        ("# TYPE m unknown", meta("m", "unknown", "", "")),
        ("# UNIT m_bytes bytes", meta("m_bytes", "", "", "bytes")),
        ("# UNIT _bytes bytes", meta("_bytes", "", "", "bytes")),
        ("# UNIT m ", meta("m", "", "", "")),
    ];
    for (line, want) in cases {
        let parsed = parse(&body(line), OM);
        assert!(parsed.errors.is_empty(), "{line:?}: {:?}", parsed.errors);
        assert_eq!(parsed.metadata, vec![want.clone()], "{line:?}");
    }
}

#[test]
fn eof_marker() {
    let missing = "data does not end with \"# EOF\"";
    let after = "unexpected data after \"# EOF\"";
    type Case<'a> = (&'a str, usize, &'a [(usize, &'a str)]);
    let cases: &[Case] = &[
        ("", 0, &[(1, missing)]),
        ("\n", 0, &[(1, missing)]),
        (
            "\n\n",
            0,
            &[(1, "blank lines"), (2, "blank lines"), (3, missing)],
        ),
        ("m 1\n", 1, &[(2, missing)]),
        ("m 1", 1, &[(2, missing)]),
        ("m 1\n# EOF", 1, &[]),
        ("m 1\n# EOF\n", 1, &[]),
        ("# EOF", 0, &[]),
        ("# EOF\n\n", 0, &[(2, after)]),
        ("# EOF\nm 1\n", 0, &[(2, after)]),
        ("# EOF junk\nm 1\n", 0, &[(1, after)]),
        ("m 1\n# EOF\nm 2\n# EOF\n", 1, &[(3, after)]),
        ("# eof\n", 0, &[(1, "no free comments"), (2, missing)]),
    ];
    for (text, samples, want) in cases {
        let parsed = parse(text, OM);
        assert_eq!(parsed.samples.len(), *samples, "{text:?}");
        let got = reasons(&parsed);
        assert_eq!(got.len(), want.len(), "{text:?}: {got:?}");
        for ((line, reason), (want_line, want_reason)) in got.iter().zip(want.iter()) {
            assert_eq!(line, want_line, "{text:?}");
            assert!(reason.contains(want_reason), "{text:?}: {reason:?}");
        }
    }
}

#[test]
fn eof_is_a_plain_comment_in_prometheus_format() {
    let parsed = parse("m 1\n# EOF\nn 2\n", TextFormat::Prometheus);
    assert!(parsed.errors.is_empty());
    assert_eq!(parsed.samples.len(), 2);
}

//! Table-driven tests: one row per construct, for both formats.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Parses `body` and returns its samples, failing on any error.
fn samples_of(body: &str, format: TextFormat) -> Vec<TextSample> {
    let parsed = parse(body, format);
    assert!(parsed.errors.is_empty(), "{body:?}: {:?}", parsed.errors);
    parsed.samples
}

/// Parses `body` expecting exactly one error; returns its line and reason.
fn error_of(body: &str, format: TextFormat) -> (usize, String) {
    let parsed = parse(body, format);
    match parsed.errors.as_slice() {
        [IngestError::Text { line, reason }] => (*line, reason.clone()),
        other => panic!("{body:?}: expected one error, got {other:?}"),
    }
}

type SampleCase<'a> = (&'a str, &'a [(&'a str, &'a str)], f64, Option<i64>);

const PROM_OK: &[SampleCase] = &[
    ("m 1", &[("__name__", "m")], 1.0, None),
    (
        "m 1 1700000000123",
        &[("__name__", "m")],
        1.0,
        Some(1_700_000_000_123),
    ),
    ("a:b_c 2.5", &[("__name__", "a:b_c")], 2.5, None),
    ("m{} 1", &[("__name__", "m")], 1.0, None),
    ("m{a=\"b\"} 1", &[("__name__", "m"), ("a", "b")], 1.0, None),
    ("m{a=\"b\",} 1", &[("__name__", "m"), ("a", "b")], 1.0, None),
    (
        "m{a=\"1\",b=\"2\"} 3",
        &[("__name__", "m"), ("a", "1"), ("b", "2")],
        3.0,
        None,
    ),
    // The comma between pairs is optional upstream.
    (
        "m{a=\"1\" b=\"2\"} 3",
        &[("__name__", "m"), ("a", "1"), ("b", "2")],
        3.0,
        None,
    ),
    (
        "  m { a = \"b\" , } \t 1 \t 5 ",
        &[("__name__", "m"), ("a", "b")],
        1.0,
        Some(5),
    ),
    ("m{a=\"b\"}1", &[("__name__", "m"), ("a", "b")], 1.0, None),
    ("m{a=\"\"} 1", &[("__name__", "m"), ("a", "")], 1.0, None),
    (
        "m{a=\"q\\\"uote\"} 1",
        &[("__name__", "m"), ("a", "q\"uote")],
        1.0,
        None,
    ),
    (
        "m{a=\"back\\\\slash\"} 1",
        &[("__name__", "m"), ("a", "back\\slash")],
        1.0,
        None,
    ),
    (
        "m{a=\"new\\nline\"} 1",
        &[("__name__", "m"), ("a", "new\nline")],
        1.0,
        None,
    ),
    (
        "m{a=\"keep\\tthis\"} 1",
        &[("__name__", "m"), ("a", "keep\\tthis")],
        1.0,
        None,
    ),
    (
        "m{a=\"ünïcödé ✓\"} 1",
        &[("__name__", "m"), ("a", "ünïcödé ✓")],
        1.0,
        None,
    ),
    (
        "m{a=\"{}=,# \"} 1",
        &[("__name__", "m"), ("a", "{}=,# ")],
        1.0,
        None,
    ),
    ("{\"my.metric\"} 1", &[("__name__", "my.metric")], 1.0, None),
    (
        "{\"my.metric\", \"label.name\"=\"v\"} 1",
        &[("__name__", "my.metric"), ("label.name", "v")],
        1.0,
        None,
    ),
    (
        "{a=\"v\", \"late.name\"} 1",
        &[("__name__", "late.name"), ("a", "v")],
        1.0,
        None,
    ),
    (
        "m{\"quoted\"=\"v\"} 1",
        &[("__name__", "m"), ("quoted", "v")],
        1.0,
        None,
    ),
    (
        "{\"esc\\\"aped\"} 1",
        &[("__name__", "esc\"aped")],
        1.0,
        None,
    ),
    ("m -1.5e3", &[("__name__", "m")], -1500.0, None),
    ("m .5", &[("__name__", "m")], 0.5, None),
    ("m +Inf", &[("__name__", "m")], f64::INFINITY, None),
    ("m -Inf", &[("__name__", "m")], f64::NEG_INFINITY, None),
    ("m Inf", &[("__name__", "m")], f64::INFINITY, None),
    ("m 0 0", &[("__name__", "m")], 0.0, Some(0)),
    (
        "m 1 9223372036854775807",
        &[("__name__", "m")],
        1.0,
        Some(i64::MAX),
    ),
];

#[test]
fn prometheus_samples() {
    for (line, want_labels, value, ts) in PROM_OK {
        let got = samples_of(line, TextFormat::Prometheus);
        assert_eq!(got.len(), 1, "{line:?}");
        assert_eq!(got[0].labels, labels(want_labels), "{line:?}");
        assert_eq!(got[0].value.to_bits(), value.to_bits(), "{line:?}");
        assert_eq!(got[0].timestamp_ms, *ts, "{line:?}");
    }
}

#[test]
fn nan_is_prometheus_normal_nan() {
    // `# EOF` is a free comment to the Prometheus parser, so one body serves both.
    for format in [TextFormat::Prometheus, TextFormat::OpenMetrics] {
        let got = samples_of("m NaN\n# EOF\n", format);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].value.to_bits(), 0x7ff8_0000_0000_0001);
        assert!(!crate::model::is_stale_nan(got[0].value));
    }
}

const PROM_ERRORS: &[(&str, &str)] = &[
    ("m", "expected a value after the metric, found end of line"),
    ("m{a=\"b\"}", "expected a value after the metric"),
    ("m{job}", "expected '=' after label name \"job\", found '}'"),
    (
        "m{job=b} 1",
        "expected a quoted label value after '=' for label \"job\", found 'b'",
    ),
    ("m{a=\"b} 1", "unterminated value for label \"a\""),
    (
        "m{a=\"b\",,c=\"d\"} 1",
        "expected a label name or '}', found ','",
    ),
    ("m{,} 1", "expected a label name or '}', found ','"),
    (
        "m{a.b=\"c\"} 1",
        "expected '=' after label name \"a\", found '.'",
    ),
    ("m{1a=\"c\"} 1", "expected a label name or '}', found '1'"),
    ("m{a=\"1\",a=\"2\"} 1", "duplicate label name \"a\""),
    ("m{__name__=\"x\"} 1", "duplicate label name \"__name__\""),
    ("{a=\"b\"} 1", "metric name missing"),
    ("{\"\"} 1", "empty metric name"),
    ("m{\"\"=\"v\"} 1", "empty label name"),
    ("m{\"x\"} 1", "metric name set twice: \"m\" and then \"x\""),
    ("{\"x\",\"y\"} 1", "metric name set twice"),
    (
        "1m 1",
        "expected a metric name or '{' at the start of a sample, found '1'",
    ),
    ("m.x 1", "bad value: invalid float \".x\""),
    ("m abc", "bad value: invalid float \"abc\""),
    ("m 0x1p3", "unsupported character in float"),
    ("m 1_000", "unsupported character in float"),
    ("m 1e999", "out of range"),
    ("m +NaN", "invalid float \"+NaN\""),
    (
        "m 1 -5",
        "expected a timestamp or end of line after the value, found '-'",
    ),
    (
        "m 1 1.5",
        "expected end of line after the timestamp, found '.'",
    ),
    (
        "m 1 2 3",
        "expected end of line after the timestamp, found '3'",
    ),
    ("m 1 9223372036854775808", "out of range"),
    (
        "m 1{",
        "expected a timestamp or end of line after the value, found '{'",
    ),
    (
        "m{a=\"b\"} {c=\"d\"} 1",
        "expected a value after the metric, found '{'",
    ),
    ("m 1\r", "bad value: invalid float \"1\\r\""),
];

#[test]
fn prometheus_errors() {
    for (line, want) in PROM_ERRORS {
        let (n, reason) = error_of(line, TextFormat::Prometheus);
        assert_eq!(n, 1, "{line:?}");
        assert!(reason.contains(want), "{line:?}: {reason:?} lacks {want:?}");
    }
}

#[test]
fn error_display_names_line_and_reason() {
    let parsed = parse("ok 1\n\nm{job} 1\n", TextFormat::Prometheus);
    assert_eq!(parsed.samples.len(), 1);
    assert_eq!(
        parsed.errors[0].to_string(),
        "line 3: expected '=' after label name \"job\", found '}'"
    );
}

#[test]
fn bad_lines_are_skipped_and_later_lines_parse() {
    let body = "a 1\nb{ 2\nc 3\nd x\n\ne 5\n";
    let parsed = parse(body, TextFormat::Prometheus);
    let names: Vec<&str> = parsed
        .samples
        .iter()
        .map(|s| s.labels[0].1.as_str())
        .collect();
    assert_eq!(names, ["a", "c", "e"]);
    let lines: Vec<usize> = parsed
        .errors
        .iter()
        .map(|e| match e {
            IngestError::Text { line, .. } => *line,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lines, [2, 4]);
}

#[test]
fn empty_and_blank_bodies() {
    for body in ["", "\n", "\n\n", "   \n\t\n", "# just a comment\n"] {
        let parsed = parse(body, TextFormat::Prometheus);
        assert_eq!(parsed, ParsedText::default(), "{body:?}");
    }
    let parsed = parse("m 1", TextFormat::Prometheus);
    assert_eq!(parsed.samples.len(), 1, "no trailing newline is fine");
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
fn prometheus_comments() {
    let cases: &[(&str, Option<TextMetadata>)] = &[
        ("# HELP m Some help.", Some(meta("m", "", "Some help.", ""))),
        // `{C}*` matches nothing: a help line with empty text.
        ("# HELP m", Some(meta("m", "", "", ""))),
        // `HELP[\t ]+` needs a blank, so this is a free comment.
        ("# HELP", None),
        ("# HELP m ", Some(meta("m", "", "", ""))),
        ("# HELP m  two", Some(meta("m", "", " two", ""))),
        ("#\tHELP\tm\tx", Some(meta("m", "", "x", ""))),
        ("  # HELP m x", Some(meta("m", "", "x", ""))),
        (
            "# HELP m a\\\\b\\nc\\\"d",
            Some(meta("m", "", "a\\b\nc\\\"d", "")),
        ),
        (
            "# HELP \"my.m\" dotted",
            Some(meta("my.m", "", "dotted", "")),
        ),
        ("# TYPE m counter", Some(meta("m", "counter", "", ""))),
        ("# TYPE m untyped", Some(meta("m", "untyped", "", ""))),
        ("# TYPE m histogram", Some(meta("m", "histogram", "", ""))),
        ("# TYPE m summary", Some(meta("m", "summary", "", ""))),
        ("# TYPE m gauge", Some(meta("m", "gauge", "", ""))),
        ("# HELPER m x", None),
        ("#HELP m x", None),
        ("# UNIT m_bytes bytes", None),
        ("# anything at all", None),
        ("#", None),
    ];
    for (line, want) in cases {
        let parsed = parse(line, TextFormat::Prometheus);
        assert!(parsed.errors.is_empty(), "{line:?}: {:?}", parsed.errors);
        assert!(parsed.samples.is_empty());
        assert_eq!(
            parsed.metadata,
            want.iter().cloned().collect::<Vec<_>>(),
            "{line:?}"
        );
    }
}

#[test]
fn prometheus_comment_errors() {
    let cases: &[(&str, &str)] = &[
        ("# TYPE m foo", "invalid metric type \"foo\""),
        ("# TYPE m gaugehistogram", "invalid metric type"),
        ("# TYPE m counter ", "invalid metric type \"counter \""),
        ("# TYPE m  counter", "invalid metric type \" counter\""),
        (
            "# HELP 1m x",
            "expected a metric name after HELP, found '1'",
        ),
        ("# TYPE \"open x", "unterminated quoted name after TYPE"),
        ("# HELP \"\" x", "empty metric name after HELP"),
        ("# HELP m€x", "HELP text is not valid UTF-8"),
    ];
    for (line, want) in cases {
        let (n, reason) = error_of(line, TextFormat::Prometheus);
        assert_eq!(n, 1);
        assert!(reason.contains(want), "{line:?}: {reason:?} lacks {want:?}");
    }
}

#[test]
fn metadata_merges_per_family_in_order_of_first_appearance() {
    let body = "# TYPE b gauge\n# HELP a first\n# HELP b bee\n# TYPE a counter\n# HELP a second\n";
    let parsed = parse(body, TextFormat::Prometheus);
    assert_eq!(
        parsed.metadata,
        vec![
            meta("b", "gauge", "bee", ""),
            meta("a", "counter", "second", "")
        ]
    );
}

#[test]
fn content_types() {
    let cases: &[(Option<&str>, TextFormat)] = &[
        (None, TextFormat::Prometheus),
        (Some(""), TextFormat::Prometheus),
        (Some("text/plain"), TextFormat::Prometheus),
        (Some("text/plain; version=0.0.4"), TextFormat::Prometheus),
        (
            Some("text/plain; version=0.0.4; charset=utf-8"),
            TextFormat::Prometheus,
        ),
        (
            Some("text/plain; version=1.0.0; escaping=underscores"),
            TextFormat::Prometheus,
        ),
        (Some("application/json"), TextFormat::Prometheus),
        (
            Some("application/openmetrics-text"),
            TextFormat::OpenMetrics,
        ),
        (
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            TextFormat::OpenMetrics,
        ),
        (
            Some(" Application/OpenMetrics-Text ;version=0.0.1"),
            TextFormat::OpenMetrics,
        ),
        (
            Some("application/openmetrics-textual"),
            TextFormat::Prometheus,
        ),
    ];
    for (ct, want) in cases {
        assert_eq!(TextFormat::from_content_type(*ct), *want, "{ct:?}");
    }
}

#[test]
fn batches_hand_over_every_sample_in_order_and_can_stop() {
    let body: String = (0..25).map(|i| format!("m{{i=\"{i}\"}} {i}\n")).collect();
    let mut sizes = Vec::new();
    let mut values = Vec::new();
    let out = parse_in_batches(&body, TextFormat::Prometheus, 10, &mut |b| {
        sizes.push(b.len());
        values.extend(b.iter().map(|s| s.value));
        true
    });
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(values, (0..25).map(f64::from).collect::<Vec<_>>());
    assert!(out.samples.is_empty() && out.errors.is_empty());

    let mut calls = 0;
    parse_in_batches(&body, TextFormat::Prometheus, 10, &mut |_| {
        calls += 1;
        false
    });
    assert_eq!(calls, 1, "a sink that refuses stops the parse");
}

#[test]
fn only_the_first_errors_are_kept_the_rest_are_counted() {
    let body = "{{{\n".repeat(MAX_KEPT_ERRORS + 57);
    let out = parse(&body, TextFormat::Prometheus);
    assert_eq!(out.errors.len(), MAX_KEPT_ERRORS);
    assert_eq!(out.more_errors, 57);
    assert_eq!(out.error_count(), (MAX_KEPT_ERRORS + 57) as u64);
}

#[test]
fn metadata_for_too_many_families_is_a_bad_line() {
    let mut body: String = (0..MAX_FAMILIES_PER_BODY)
        .map(|i| format!("# HELP f{i} x\n"))
        .collect();
    body.push_str("# TYPE f0 gauge\n# TYPE one_more counter\nf0 1\n");
    let out = parse(&body, TextFormat::Prometheus);
    assert_eq!(out.metadata.len(), MAX_FAMILIES_PER_BODY);
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(
        out.errors[0].to_string().contains("one_more"),
        "{}",
        out.errors[0]
    );
    assert_eq!(out.samples.len(), 1, "the samples of the body still count");
}

#[test]
fn sample_lines_are_counted_without_comments_or_blanks() {
    assert_eq!(count_sample_lines(""), 0);
    assert_eq!(
        count_sample_lines("# HELP a b\n\n  \n a 1\nb 2\n\t# c\n"),
        2
    );
    assert_eq!(count_sample_lines("a 1"), 1);
}

//! The hostile requests: each one names what it tries, how it is sent and
//! the answer it must get. None may crash, hang or exhaust the server.

use tessera::ingest::proto::{encode_snappy, v1, v2};
use tessera::model::Sample;

/// How a case reaches the server.
pub enum Send {
    /// `GET path?query` with the query pairs URL-encoded by the client.
    Get(&'static str, Vec<(&'static str, String)>),
    /// A form POST with the pairs in the body.
    Form(&'static str, Vec<(&'static str, String)>),
    /// `POST path` with headers and a body.
    Post(&'static str, Vec<(&'static str, String)>, Vec<u8>),
    /// Any method, raw path (not re-encoded), no body.
    Method(&'static str, String),
    /// Raw bytes on a fresh TCP connection.
    Raw(Vec<u8>),
}

/// One hostile request and the answer it must get.
pub struct Case {
    pub name: String,
    pub send: Send,
    /// Expected status; `None` means "the server may close the connection".
    pub status: Option<u16>,
    /// A fragment the body must contain ("" for no check).
    pub body: &'static str,
}

fn case(name: impl Into<String>, send: Send, status: u16, body: &'static str) -> Case {
    Case {
        name: name.into(),
        send,
        status: Some(status),
        body,
    }
}

const DEEP: &str = "expression nesting exceeds the limit of 1000 levels";
const TOO_MANY: &str = "query processing would load too many samples into memory";
const RW_V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

fn q(query: String) -> Vec<(&'static str, String)> {
    vec![("query", query), ("time", "3600".into())]
}

fn range(query: String) -> Vec<(&'static str, String)> {
    vec![
        ("query", query),
        ("start", "3000".into()),
        ("end", "3600".into()),
        ("step", "60".into()),
    ]
}

/// Nested queries of every kind, `depth` levels deep.
fn nested(kind: &str, depth: usize) -> String {
    match kind {
        "parentheses" => format!("{}up{}", "(".repeat(depth), ")".repeat(depth)),
        "function calls" => format!("{}up{}", "abs(".repeat(depth), ")".repeat(depth)),
        "aggregations" => format!("{}up{}", "sum(".repeat(depth), ")".repeat(depth)),
        "binary operators" => format!("up{}", " + up".repeat(depth)),
        "unary minus" => format!("{}up", "-".repeat(depth)),
        "subqueries" => {
            let mut s = "up".to_string();
            for _ in 0..depth / 3 {
                s = format!("max_over_time(({s})[2m:1m])");
            }
            s
        }
        _ => unreachable!(),
    }
}

const KINDS: [&str; 6] = [
    "parentheses",
    "function calls",
    "aggregations",
    "binary operators",
    "unary minus",
    "subqueries",
];

fn query_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for kind in KINDS {
        v.push(case(
            format!("{kind} at the nesting limit"),
            Send::Get("/api/v1/query", q(nested(kind, 1000))),
            200,
            "\"status\":\"success\"",
        ));
        v.push(case(
            format!("{kind} one level past the limit"),
            Send::Get("/api/v1/query", q(nested(kind, 1003))),
            400,
            DEEP,
        ));
        v.push(case(
            format!("{kind} 100,000 deep"),
            Send::Form("/api/v1/query", q(nested(kind, 100_000))),
            400,
            DEEP,
        ));
    }
    v.push(case(
        "range query at the nesting limit",
        Send::Get(
            "/api/v1/query_range",
            range(nested("binary operators", 1000)),
        ),
        200,
        "\"matrix\"",
    ));
    v.push(case(
        "range query past the limit",
        Send::Form("/api/v1/query_range", range(nested("parentheses", 50_000))),
        400,
        DEEP,
    ));
    v.push(case(
        "format_query past the limit",
        Send::Form(
            "/api/v1/format_query",
            vec![("query", nested("function calls", 20_000))],
        ),
        400,
        DEEP,
    ));
    v.push(case(
        "series match[] past the limit",
        Send::Form(
            "/api/v1/series",
            vec![("match[]", nested("parentheses", 20_000))],
        ),
        400,
        DEEP,
    ));
    v.push(case(
        "federate match[] past the limit",
        Send::Form(
            "/federate",
            vec![("match[]", nested("parentheses", 20_000))],
        ),
        400,
        DEEP,
    ));
    v.push(case(
        "labels match[] past the limit",
        Send::Get(
            "/api/v1/labels",
            vec![("match[]", nested("parentheses", 5_000))],
        ),
        400,
        DEEP,
    ));
    // Steps and ranges.
    v.push(case(
        "subquery with a 1ms step over 100 years",
        Send::Get("/api/v1/query", q("max_over_time(up[100y:1ms])".into())),
        422,
        TOO_MANY,
    ));
    v.push(case(
        "nested tiny-step subqueries",
        Send::Get(
            "/api/v1/query",
            q("max_over_time(max_over_time(up[1d:1ms])[1d:1ms])".into()),
        ),
        422,
        TOO_MANY,
    ));
    v.push(case(
        "subquery grid in a range query",
        Send::Get(
            "/api/v1/query_range",
            range("count_over_time(vector(1)[10000d:1ms])".into()),
        ),
        422,
        TOO_MANY,
    ));
    v.push(case(
        "range query step of 1ms over a day",
        Send::Get(
            "/api/v1/query_range",
            vec![
                ("query", "up".into()),
                ("start", "0".into()),
                ("end", "86400".into()),
                ("step", "0.001".into()),
            ],
        ),
        400,
        "exceeded maximum resolution of 11,000 points",
    ));
    v.push(case(
        "range query over the whole time axis",
        Send::Get(
            "/api/v1/query_range",
            vec![
                ("query", "up".into()),
                ("start", "-9e15".into()),
                ("end", "9e15".into()),
                ("step", "1".into()),
            ],
        ),
        400,
        "exceeded maximum resolution",
    ));
    v.push(case(
        "time beyond int64",
        Send::Get(
            "/api/v1/query",
            vec![("query", "up".into()), ("time", "1e300".into())],
        ),
        400,
        "cannot parse \\\"1e300\\\" to a valid timestamp",
    ));
    v.push(case(
        "time NaN",
        Send::Get(
            "/api/v1/query",
            vec![("query", "up".into()), ("time", "NaN".into())],
        ),
        400,
        "valid timestamp",
    ));
    v.push(case(
        "negative step",
        Send::Get(
            "/api/v1/query_range",
            vec![
                ("query", "up".into()),
                ("start", "0".into()),
                ("end", "60".into()),
                ("step", "-5".into()),
            ],
        ),
        400,
        "zero or negative query resolution step",
    ));
    // Go's durations end near 292 years; Prometheus refuses longer ones.
    v.push(case(
        "offset of a million years",
        Send::Get("/api/v1/query", q("up offset 1000000y".into())),
        400,
        "duration out of range",
    ));
    v.push(case(
        "offset of 290 years",
        Send::Get("/api/v1/query", q("up offset 290y".into())),
        200,
        "\"result\":[]",
    ));
    v.push(case(
        "@ far in the future",
        Send::Get("/api/v1/query", q("up @ 9e15".into())),
        200,
        "\"status\":\"success\"",
    ));
    v.push(case(
        "range selector of 100,000 years",
        Send::Get("/api/v1/query", q("count_over_time(up[100000y])".into())),
        400,
        "duration out of range",
    ));
    v.push(case(
        "range selector of 290 years",
        Send::Get("/api/v1/query", q("count_over_time(up[290y])".into())),
        200,
        "\"status\":\"success\"",
    ));
    v.push(case(
        "lookback_delta of 30,000 years",
        Send::Get(
            "/api/v1/query",
            vec![
                ("query", "up".into()),
                ("time", "3600".into()),
                ("lookback_delta", "1e12".into()),
            ],
        ),
        200,
        "\"status\":\"success\"",
    ));
    v.push(case(
        "topk with k near int64's limit",
        Send::Get("/api/v1/query", q("topk(9e18, up)".into())),
        200,
        "\"status\":\"success\"",
    ));
    v.push(case(
        "topk with k past int64",
        Send::Get("/api/v1/query", q("topk(1e300, up)".into())),
        422,
        "overflows int64",
    ));
    v.push(case("label_join building a 1.2 MB label", Send::Form("/api/v1/query", q(format!("label_join(up, \"d\", \"{}\", \"host\", \"host\", \"host\", \"host\", \"host\", \"host\", \"host\")", "x".repeat(200_000)))), 422, "over the limit of 1048576 bytes"));
    v.push(case(
        "label_replace multiplying a capture",
        Send::Form(
            "/api/v1/query",
            q(format!(
                "label_replace(up, \"d\", \"{}\", \"job\", \"(.*)\")",
                "$1".repeat(400_000)
            )),
        ),
        422,
        "label_replace() would make a label value",
    ));
    // The parser compiles matcher regexes itself, within the regex crate's limits.
    v.push(case(
        "regex past the compiled size limit",
        Send::Get("/api/v1/query", q("up{host=~\"(a{1000}){1000}\"}".into())),
        400,
        "exceeds size limit",
    ));
    v.push(case(
        "regex nested 10,000 groups deep",
        Send::Form(
            "/api/v1/query",
            q(format!(
                "up{{host=~\"{}a{}\"}}",
                "(".repeat(10_000),
                ")".repeat(10_000)
            )),
        ),
        400,
        "nested parentheses",
    ));
    v.push(case(
        "label_replace regex past the size limit",
        Send::Get(
            "/api/v1/query",
            q("label_replace(up, \"d\", \"$1\", \"host\", \"((a{100}){100}){100}\")".into()),
        ),
        422,
        "invalid regular expression",
    ));
    v.push(case(
        "query of 2 MB of garbage",
        Send::Form("/api/v1/query", q("}{)(][".repeat(300_000))),
        400,
        "parse error",
    ));
    v.push(case(
        "query with invalid UTF-8 escapes",
        Send::Get(
            "/api/v1/query",
            q("label_replace(up, \"\\xff\", \"\", \"a\", \"\")".into()),
        ),
        400,
        "invalid UTF-8",
    ));
    v.push(case(
        "query with a NUL byte",
        Send::Get("/api/v1/query", q("up\u{0}".into())),
        400,
        "parse error",
    ));
    v.push(case(
        "empty query",
        Send::Get("/api/v1/query", vec![("query", String::new())]),
        400,
        "no query given",
    ));
    v.push(case(
        "series limit past int64",
        Send::Get(
            "/api/v1/series",
            vec![("match[]", "up".into()), ("limit", "1e20".into())],
        ),
        400,
        "valid limit",
    ));
    v.push(case(
        "label values of a name that is not UTF-8",
        Send::Method("GET", "/api/v1/label/%FF%FE/values".into()),
        400,
        "invalid label name",
    ));
    v.push(case(
        "label values of a 100 KB name",
        Send::Method(
            "GET",
            format!("/api/v1/label/{}/values", "a".repeat(100_000)),
        ),
        431,
        "",
    ));
    v.push(case(
        "status/tsdb with a negative limit",
        Send::Get("/api/v1/status/tsdb", vec![("limit", "-5".into())]),
        400,
        "limit",
    ));
    v.push(case(
        "federate selecting everything",
        Send::Get("/federate", vec![("match[]", "{__name__=~\".*\"}".into())]),
        400,
        "match[]",
    ));
    v.push(case(
        "form body over 8 MiB",
        Send::Form("/api/v1/query", q("1".repeat(9 << 20))),
        413,
        "too large",
    ));
    v
}

fn v1_body(series: Vec<v1::TimeSeries>) -> Vec<u8> {
    encode_snappy(&v1::WriteRequest {
        timeseries: series,
        metadata: Vec::new(),
    })
}

fn v1_series(labels: Vec<(String, String)>) -> v1::TimeSeries {
    v1::TimeSeries {
        labels: labels
            .into_iter()
            .map(|(name, value)| v1::Label { name, value })
            .collect(),
        samples: vec![v1::Sample {
            value: 1.0,
            timestamp: 3_600_000,
        }],
        ..Default::default()
    }
}

fn rw(body: Vec<u8>) -> Send {
    Send::Post(
        "/api/v1/write",
        vec![
            ("Content-Type", "application/x-protobuf".into()),
            ("Content-Encoding", "snappy".into()),
            ("X-Scope-OrgID", "hostile".into()),
        ],
        body,
    )
}

/// A snappy block header (varint) claiming `len` bytes, then `tail`.
fn snappy_claiming(len: u64, tail: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = len;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(tail);
    out
}

fn ingest_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let name = |s: &str| ("__name__".to_string(), s.to_string());
    // Past what a snappy block can hold at all: a malformed body.
    v.push(case(
        "snappy header claiming 4 GiB",
        rw(snappy_claiming(4 << 30, b"\x00")),
        400,
        "snappy",
    ));
    v.push(case(
        "snappy header claiming 100 MiB",
        rw(snappy_claiming(100 << 20, &[0u8; 64])),
        413,
        "exceeds the limit of 67108864 bytes",
    ));
    let zeros = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 60 << 20])
        .unwrap();
    v.push(case(
        "decompression bomb of 60 MiB of zeros (within the limit)",
        rw(zeros),
        400,
        "protobuf",
    ));
    v.push(case(
        "body over 32 MiB",
        rw(vec![7u8; 33 << 20]),
        413,
        "too large",
    ));
    v.push(case(
        "truncated snappy",
        rw(v1_body(vec![v1_series(vec![name("ok_metric")])])[..10].to_vec()),
        400,
        "snappy",
    ));
    let proto = |raw: &[u8]| snap::raw::Encoder::new().compress_vec(raw).unwrap();
    v.push(case(
        "protobuf length far past the body",
        rw(proto(b"\x0a\xff\xff\xff\xff\x0f\x01")),
        400,
        "protobuf",
    ));
    v.push(case(
        "protobuf varint of 11 bytes",
        rw(proto(b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")),
        400,
        "protobuf",
    ));
    let many: Vec<(String, String)> = std::iter::once(name("many_labels"))
        .chain((0..10_000).map(|i| (format!("l{i}"), "v".to_string())))
        .collect();
    v.push(case(
        "10,000 labels on one series",
        rw(v1_body(vec![v1_series(many)])),
        400,
        "label",
    ));
    v.push(case(
        "1 MB label value",
        rw(v1_body(vec![v1_series(vec![
            name("long_value"),
            ("a".into(), "v".repeat(1 << 20)),
        ])])),
        400,
        "longer than the limit of 2048 bytes",
    ));
    v.push(case(
        "100 KB label name",
        rw(v1_body(vec![v1_series(vec![
            name("long_name"),
            ("n".repeat(100_000), "v".into()),
        ])])),
        400,
        "longer than the limit of 1024 bytes",
    ));
    // A valid request whose label value bytes are then made invalid UTF-8.
    let mut raw_pb = prost::Message::encode_to_vec(&v1::WriteRequest {
        timeseries: vec![v1_series(vec![name("bad_utf8"), ("a".into(), "ZZ".into())])],
        metadata: Vec::new(),
    });
    let at = raw_pb.windows(2).position(|w| w == b"ZZ").unwrap();
    raw_pb[at..at + 2].copy_from_slice(&[0xff, 0xfe]);
    let bad_utf8 = snap::raw::Encoder::new().compress_vec(&raw_pb).unwrap();
    v.push(case(
        "label value that is not UTF-8",
        rw(bad_utf8),
        400,
        "UTF-8",
    ));
    let mut b = v2::RequestBuilder::new();
    b.series(&[("__name__", "ok")], &[Sample::new(3_600_000, 1.0)])
        .labels_refs
        .push(9999);
    let body = encode_snappy(&b.build());
    v.push(case(
        "2.0 symbol reference out of range",
        Send::Post(
            "/api/v1/write",
            vec![
                ("Content-Type", RW_V2.into()),
                ("Content-Encoding", "snappy".into()),
                ("X-Scope-OrgID", "hostile".into()),
            ],
            body,
        ),
        400,
        "1 series refused",
    ));
    let mut hist = v1_series(vec![name("huge_spans")]);
    hist.samples.clear();
    hist.histograms.push(v1::Histogram {
        count: Some(v1::Count::CountInt(1)),
        schema: 0,
        positive_spans: vec![v1::BucketSpan {
            offset: 0,
            length: u32::MAX,
        }],
        positive_deltas: vec![1],
        timestamp: 3_600_000,
        ..Default::default()
    });
    v.push(case(
        "histogram spans claiming 4 billion buckets",
        rw(v1_body(vec![hist])),
        400,
        "huge_spans",
    ));
    let mut hist = v1_series(vec![name("bad_schema")]);
    hist.samples.clear();
    hist.histograms.push(v1::Histogram {
        count: Some(v1::Count::CountInt(0)),
        schema: 100,
        timestamp: 3_600_000,
        ..Default::default()
    });
    v.push(case(
        "histogram with schema 100",
        rw(v1_body(vec![hist])),
        400,
        "invalid histogram schema 100",
    ));
    let mut hist = v1_series(vec![name("nan_counts")]);
    hist.samples.clear();
    hist.histograms.push(v1::Histogram {
        count: Some(v1::Count::CountFloat(f64::NAN)),
        zero_count: Some(v1::ZeroCount::ZeroCountFloat(-1.0)),
        schema: 0,
        positive_spans: vec![v1::BucketSpan {
            offset: 0,
            length: 1,
        }],
        positive_counts: vec![-5.0],
        timestamp: 3_600_000,
        ..Default::default()
    });
    v.push(case(
        "float histogram with NaN and negative counts",
        rw(v1_body(vec![hist])),
        400,
        "negative count",
    ));
    let mut hist = v1_series(vec![name("far_buckets")]);
    hist.samples.clear();
    hist.histograms.push(v1::Histogram {
        count: Some(v1::Count::CountInt(2)),
        schema: 8,
        positive_spans: vec![
            v1::BucketSpan {
                offset: i32::MAX,
                length: 1,
            },
            v1::BucketSpan {
                offset: i32::MAX,
                length: 1,
            },
        ],
        positive_deltas: vec![1, 0],
        timestamp: 3_600_000,
        ..Default::default()
    });
    v.push(case(
        "valid histogram with buckets at the far end of the index range",
        rw(v1_body(vec![hist])),
        204,
        "",
    ));
    v.push(case(
        "Content-Encoding gzip",
        Send::Post(
            "/api/v1/write",
            vec![("Content-Encoding", "gzip".into())],
            vec![1, 2, 3],
        ),
        415,
        "gzip",
    ));
    v.push(case(
        "Content-Type of an unknown proto",
        Send::Post(
            "/api/v1/write",
            vec![(
                "Content-Type",
                "application/x-protobuf;proto=evil.Message".into(),
            )],
            vec![],
        ),
        415,
        "unknown proto",
    ));
    let read_req = |body: Vec<u8>| {
        Send::Post(
            "/api/v1/read",
            vec![("X-Scope-OrgID", "hostile".into())],
            body,
        )
    };
    v.push(case(
        "remote read claiming 4 GiB decompressed",
        read_req(snappy_claiming(4 << 30, b"\x00")),
        400,
        "remote read request",
    ));
    v.push(case(
        "remote read that is not protobuf",
        read_req(proto(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])),
        400,
        "bad protobuf",
    ));
    let everything = tessera::ingest::proto::read::ReadRequest {
        queries: vec![tessera::ingest::proto::read::Query {
            start_timestamp_ms: i64::MIN,
            end_timestamp_ms: i64::MAX,
            matchers: vec![tessera::ingest::proto::read::LabelMatcher {
                r#type: 2,
                name: "__name__".into(),
                value: ".*".into(),
            }],
            hints: None,
        }],
        accepted_response_types: vec![1],
    };
    v.push(case(
        "remote read of every series with matchers that match nothing in particular",
        read_req(tessera::ingest::proto::encode_snappy(&everything)),
        400,
        "non-empty matcher",
    ));
    let import = |body: Vec<u8>| {
        Send::Post(
            "/api/v1/import/prometheus",
            vec![("X-Scope-OrgID", "hostile".into())],
            body,
        )
    };
    v.push(case(
        "import of one 10 MB line",
        import(vec![b'a'; 10 << 20]),
        400,
        "line 1",
    ));
    v.push(case(
        "import of invalid UTF-8",
        import(b"up 1\n\xff\xfe 2\n".to_vec()),
        400,
        "UTF-8",
    ));
    let wide = format!(
        "wide{{{}}} 1\n",
        (0..5000)
            .map(|i| format!("l{i}=\"v\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    v.push(case(
        "import of a line with 5,000 labels",
        import(wide.into_bytes()),
        400,
        "label",
    ));
    v.push(case(
        "import of 4 MB of tiny lines",
        import("t 1\n".repeat(1 << 20).into_bytes()),
        204,
        "",
    ));
    // Garbage is counted, not kept: only the first errors are listed.
    v.push(case(
        "import of 1,000,000 bad lines",
        import("{{{\n".repeat(1_000_000).into_bytes()),
        400,
        "1000000 lines rejected, 0 samples rejected by storage, 0 samples stored",
    ));
    let families: String = (0..10_001)
        .map(|i| format!("# TYPE fam_{i} gauge\n"))
        .collect();
    v.push(case(
        "import declaring 10,001 metric families",
        import(format!("{families}fam_0 1\n").into_bytes()),
        400,
        "metadata for more than 10000 metric families in one body",
    ));
    let push = |body: Vec<u8>| {
        Send::Post(
            "/metrics/job/bulk",
            vec![("X-Scope-OrgID", "hostile".into())],
            body,
        )
    };
    v.push(case(
        "push of 200,001 samples",
        push(
            (0..200_001)
                .map(|i| format!("s{{i=\"{i}\"}} 1\n"))
                .collect::<String>()
                .into_bytes(),
        ),
        413,
        "more than the limit of 200000 per push",
    ));
    v.push(case(
        "push to a path with ..",
        Send::Method("PUT", "/metrics/job/../../../etc/passwd".into()),
        400,
        "",
    ));
    v.push(case(
        "push with bad base64 in the path",
        Send::Method("PUT", "/metrics/job@base64/!!!!".into()),
        400,
        "base64",
    ));
    v.push(case(
        "push with an odd number of path segments",
        Send::Method("PUT", "/metrics/job/a/b".into()),
        400,
        "",
    ));
    v.push(case(
        "push body with a timestamp",
        Send::Post(
            "/metrics/job/batch",
            vec![("X-Scope-OrgID", "hostile".into())],
            b"done 1 1000\n".to_vec(),
        ),
        400,
        "timestamp",
    ));
    v.push(case("push body that is protobuf", Send::Post("/metrics/job/batch", vec![("Content-Type", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited".into())], vec![1, 2, 3]), 415, "protobuf"));
    v
}

fn http_cases() -> Vec<Case> {
    use super::raw::request;
    let mut v = Vec::new();
    let big = "x".repeat(100 << 10);
    v.push(case(
        "100 KB header",
        Send::Raw(request("GET", "/-/healthy", &[("X-Big", &big)], b"")),
        431,
        "",
    ));
    let many: Vec<(String, String)> = (0..300).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    v.push(case(
        "300 headers",
        Send::Raw(request("GET", "/-/healthy", &refs, b"")),
        431,
        "",
    ));
    v.push(Case {
        name: "garbage request line".into(),
        send: Send::Raw(b"\x00\x01\x02 garbage\r\n\r\n".to_vec()),
        status: Some(400),
        body: "",
    });
    v.push(Case {
        name: "HTTP/0.9 request".into(),
        send: Send::Raw(b"GET /\r\n\r\n".to_vec()),
        status: Some(400),
        body: "",
    });
    v.push(case(
        "unknown method",
        Send::Method("BREW", "/api/v1/query".into()),
        405,
        "",
    ));
    v.push(case(
        "path traversal into the UI",
        Send::Method("GET", "/ui/../../../../etc/passwd".into()),
        404,
        "",
    ));
    v.push(case(
        "encoded path traversal",
        Send::Method("GET", "/ui/%2e%2e/%2e%2e/etc/passwd".into()),
        404,
        "",
    ));
    v.push(case(
        "Content-Length of 2^63",
        Send::Raw(request(
            "POST",
            "/api/v1/write",
            &[
                ("Content-Length", "9223372036854775807"),
                ("Content-Type", "application/x-protobuf"),
            ],
            b"abc",
        )),
        413,
        "9223372036854775807 bytes declared",
    ));
    v.push(Case {
        name: "Content-Length that overflows".into(),
        send: Send::Raw(request(
            "POST",
            "/api/v1/write",
            &[("Content-Length", "99999999999999999999999")],
            b"abc",
        )),
        status: Some(400),
        body: "",
    });
    v.push(Case {
        name: "malformed chunk size".into(),
        send: Send::Raw(request(
            "POST",
            "/api/v1/import/prometheus",
            &[("Transfer-Encoding", "chunked")],
            b"zz\r\nabc\r\n0\r\n\r\n",
        )),
        status: Some(400),
        body: "",
    });
    // The rest never comes: cut off by the minimum body rate after its grace.
    v.push(Case {
        name: "body shorter than Content-Length".into(),
        send: Send::Raw(request(
            "POST",
            "/api/v1/import/prometheus",
            &[("Content-Length", "1000")],
            b"up 1\n",
        )),
        status: Some(408),
        body: "web.min-body-rate",
    });
    v.push(case(
        "invalid tenant id",
        Send::Post(
            "/api/v1/import/prometheus",
            vec![("X-Scope-OrgID", "../etc".into())],
            b"up 1\n".to_vec(),
        ),
        400,
        "tenant",
    ));
    v.push(case(
        "tenant id of 1000 bytes",
        Send::Get("/api/v1/labels", vec![]).with_header("X-Scope-OrgID", "t".repeat(1000)),
        400,
        "tenant",
    ));
    v.push(case(
        "tenant id with non-ASCII",
        Send::Raw(request(
            "GET",
            "/api/v1/labels",
            &[("X-Scope-OrgID", "t\u{e9}")],
            b"",
        )),
        400,
        "",
    ));
    v.push(case(
        "two tenant headers",
        Send::Raw(request(
            "GET",
            "/api/v1/labels",
            &[("X-Scope-OrgID", "a"), ("X-Scope-OrgID", "b")],
            b"",
        )),
        400,
        "",
    ));
    v.push(case(
        "admin flush for an invalid tenant",
        Send::Post(
            "/api/v1/admin/tsdb/flush",
            vec![("X-Scope-OrgID", "a/b".into())],
            vec![],
        ),
        400,
        "tenant",
    ));
    v.push(case(
        "unknown path",
        Send::Method("GET", "/api/v1/../../x".into()),
        404,
        "",
    ));
    v
}

impl Send {
    /// Adds a header to a GET (by turning it into a raw request).
    fn with_header(self, name: &'static str, value: String) -> Send {
        match self {
            Send::Get(path, pairs) => {
                let query: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish();
                let target = if query.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{query}")
                };
                Send::Raw(super::raw::request("GET", &target, &[(name, &value)], b""))
            }
            other => other,
        }
    }
}

/// Every case, in the order the suite runs them.
pub fn all() -> Vec<Case> {
    let mut v = query_cases();
    v.extend(ingest_cases());
    v.extend(http_cases());
    v.extend(super::federate::accept_cases());
    v.extend(super::otlp::otlp_cases());
    v
}

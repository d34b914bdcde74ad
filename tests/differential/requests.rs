//! The API requests sent to both servers: every expanded query as a range
//! query over the loaded interval (as the compliance tester runs them), the
//! first expansion of each template as an instant query, and metadata
//! requests (series, label names, label values).

use crate::templates::{Expect, Query};

/// Resolution of the range queries (the compliance tester's default).
pub const STEP_S: i64 = 10;

/// One API request.
#[derive(Debug, Clone)]
pub struct Request {
    /// API path, e.g. `/api/v1/query_range`.
    pub path: String,
    /// URL parameters.
    pub params: Vec<(String, String)>,
    /// How the two answers are judged.
    pub expect: Expect,
}

impl Request {
    fn new(path: &str, params: &[(&str, String)], expect: Expect) -> Request {
        Request {
            path: path.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            expect,
        }
    }

    /// A one-line description for the report.
    pub fn describe(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{} {}", self.path, params.join(" "))
    }
}

/// The time grid the requests use, derived from the data's span.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// First sample (ms).
    pub data_start_ms: i64,
    /// Last sample (ms).
    pub data_end_ms: i64,
}

/// Seconds with millisecond precision, as the API takes them.
fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// All requests, queries first.
pub fn build(queries: &[Query], w: Window) -> Vec<Request> {
    // The range starts late enough that `[1h]` and `offset 10m` mostly
    // see data, and ends past the last sample so the 5m lookback tail and
    // the stale markers are visible. The odd milliseconds keep step times
    // off the scrape grid.
    let start = secs(w.data_start_ms + 25 * 60_000 + 321);
    let end = secs(w.data_end_ms + 6 * 60_000);
    let instant = secs(w.data_end_ms - 17_500);
    let mut out: Vec<Request> = queries
        .iter()
        .map(|q| {
            let params = [
                ("query", q.text.clone()),
                ("start", start.clone()),
                ("end", end.clone()),
                ("step", STEP_S.to_string()),
            ];
            Request::new("/api/v1/query_range", &params, q.expect)
        })
        .collect();
    for q in queries.iter().filter(|q| q.first_of_template) {
        let params = [("query", q.text.clone()), ("time", instant.clone())];
        out.push(Request::new("/api/v1/query", &params, q.expect));
    }
    out.extend(metadata(w));
    out
}

/// Series, label-name and label-value requests.
fn metadata(w: Window) -> Vec<Request> {
    let all = [
        ("start", secs(w.data_start_ms - 60_000)),
        ("end", secs(w.data_end_ms + 60_000)),
    ];
    let cmp = Expect::Compare;
    let with = |extra: &[(&str, String)]| -> Vec<(&'static str, String)> {
        let mut p: Vec<(&str, String)> = all.to_vec();
        for (k, v) in extra {
            // Only "match[]" is ever passed in here.
            assert_eq!(*k, "match[]");
            p.push(("match[]", v.clone()));
        }
        p
    };
    let m = |s: &str| ("match[]", s.to_string());
    let mut out = Vec::new();
    for sel in [
        "demo_memory_usage_bytes",
        "demo_cpu_usage_seconds_total{mode=~\"user|system\"}",
        "{__name__=~\"demo_api_request_duration_seconds_.+\", le=\"+Inf\"}",
        "{instance=\"demo.promlabs.com:10001\", __name__!~\".*_bucket\"}",
        "demo_intermittent_metric",
        "nonexistent_metric_name",
    ] {
        out.push(Request::new("/api/v1/series", &with(&[m(sel)]), cmp));
    }
    let two = with(&[m("demo_num_cpus"), m("demo_disk_usage_bytes")]);
    out.push(Request::new("/api/v1/series", &two, cmp));
    // A series request without a selector is an error on both.
    out.push(Request::new("/api/v1/series", &with(&[]), Expect::BothFail));
    out.push(Request::new("/api/v1/labels", &with(&[]), cmp));
    let mem = with(&[m("demo_memory_usage_bytes")]);
    out.push(Request::new("/api/v1/labels", &mem, cmp));
    for name in ["__name__", "instance", "mode", "le", "path", "nonexistent"] {
        let path = format!("/api/v1/label/{name}/values");
        out.push(Request::new(&path, &with(&[]), cmp));
    }
    let hist = with(&[m(
        "demo_api_request_duration_seconds_bucket{status=\"500\"}",
    )]);
    out.push(Request::new("/api/v1/label/le/values", &hist, cmp));
    out
}

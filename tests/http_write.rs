//! The remote-write receiver over real HTTP: both protocol versions, the
//! 415/400 rules of the compliance suite, partial writes and tenants.

mod http;

use http::{read, start, written, V1_TYPE, V2_TYPE};
use tessera::ingest::proto::{encode_snappy, v1, v2};
use tessera::model::{stale_nan, Sample};

fn v1_series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> v1::TimeSeries {
    v1::TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| v1::Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| v1::Sample { value, timestamp })
            .collect(),
        ..Default::default()
    }
}

fn v1_body(series: Vec<v1::TimeSeries>) -> Vec<u8> {
    encode_snappy(&v1::WriteRequest {
        timeseries: series,
        metadata: Vec::new(),
    })
}

fn samples(pairs: &[(i64, f64)]) -> Vec<Sample> {
    pairs.iter().map(|&(t, v)| Sample::new(t, v)).collect()
}

fn assert_bits(got: &[Sample], want: &[Sample]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(g.bit_eq(w), "{g:?} vs {w:?}");
    }
}

fn special_values() -> Vec<(i64, f64)> {
    vec![
        (1000, 1.0),
        (2000, f64::NAN),
        (3000, stale_nan()),
        (4000, f64::INFINITY),
        (5000, f64::NEG_INFINITY),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn v1_write_is_stored_bit_exact_without_written_headers() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let body = v1_body(vec![v1_series(
        &[("job", "node"), ("__name__", "up")],
        &special_values(),
    )]);
    let resp = srv.write(V1_TYPE, None, body).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(written(&resp), [None, None, None]);
    let got = read(&srv.storage(), "anonymous", "up");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, r#"up{job="node"}"#);
    assert_bits(&got[0].1, &samples(&special_values()));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_write_with_unsorted_refs_is_stored_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let mut b = v2::RequestBuilder::new();
    let ex = b.exemplar(&[("trace_id", "abc")], 1.0, 1000);
    b.series(
        &[("zone", "a"), ("__name__", "cpu"), ("host", "h1")],
        &samples(&special_values()),
    )
    .exemplars
    .push(ex);
    b.series(
        &[("__name__", "cpu"), ("host", "h2")],
        &samples(&[(1000, 2.5)]),
    );
    let resp = srv.write(V2_TYPE, None, encode_snappy(&b.build())).await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    // The exemplar is not stored (this storage keeps none: max_exemplars
    // is 0 by default in StorageConfig): not reported as written, but
    // counted as discarded. tests/http_exemplars.rs stores them.
    assert_eq!(written(&resp), [Some(6), Some(0), Some(0)]);
    let metrics = srv.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("tessera_exemplars_discarded_total{tenant=\"anonymous\"} 1\n"),
        "{metrics}"
    );
    let got = read(&srv.storage(), "anonymous", "cpu");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, r#"cpu{host="h1", zone="a"}"#);
    assert_bits(&got[0].1, &samples(&special_values()));
    assert_eq!(got[1].0, r#"cpu{host="h2"}"#);
    assert_bits(&got[1].1, &samples(&[(1000, 2.5)]));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_media_headers_give_415_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let corrupt = b"\xff\xff\xff\xff not snappy".to_vec();
    let resp = srv.write("application/json", None, corrupt.clone()).await;
    assert_eq!(resp.status(), 415);
    assert!(resp.text().await.unwrap().contains("application/json"));
    let resp = srv
        .client
        .post(srv.url("/api/v1/write"))
        .header("Content-Type", V2_TYPE)
        .header("Content-Encoding", "gzip")
        .body(corrupt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(written(&resp), [None, None, None]);
    assert!(resp.text().await.unwrap().contains("gzip"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_snappy_or_protobuf_gives_400() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    for ct in [V1_TYPE, V2_TYPE] {
        let resp = srv
            // Claims 10 bytes, then copies from before the start.
            .write(ct, None, b"\x0a\x01\x00".to_vec())
            .await;
        assert_eq!(resp.status(), 400, "{ct}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("snappy"), "{text}");
        assert_eq!(text.trim_end().lines().count(), 1, "{text}");
        let bad_proto = snap::raw::Encoder::new()
            .compress_vec(b"\x0a\xff\xff\xff\xff\x0f")
            .unwrap();
        let resp = srv.write(ct, None, bad_proto).await;
        assert_eq!(resp.status(), 400, "{ct}");
        assert!(resp.text().await.unwrap().contains("protobuf"), "{ct}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_unnamed_series_of_four_is_a_partial_write() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let mut b = v2::RequestBuilder::new();
    for host in ["a", "b", "c"] {
        b.series(
            &[("__name__", "m"), ("host", host)],
            &samples(&[(1000, 1.0)]),
        );
    }
    b.series(&[("host", "nameless")], &samples(&[(1000, 1.0)]));
    let resp = srv.write(V2_TYPE, None, encode_snappy(&b.build())).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(written(&resp), [Some(3), Some(0), Some(0)]);
    let text = resp.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("1 samples rejected (1 series refused)"));
    let reason = lines.next().unwrap();
    assert!(reason.contains("missing metric name"), "{text}");
    assert!(reason.contains("nameless"), "{text}");
    assert_eq!(read(&srv.storage(), "anonymous", "m").len(), 3);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_order_sample_is_named_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let first = v1_body(vec![v1_series(
        &[("__name__", "up"), ("job", "x")],
        &[(2000, 1.0)],
    )]);
    assert_eq!(srv.write(V1_TYPE, None, first).await.status(), 204);
    let second = v1_body(vec![
        v1_series(
            &[("__name__", "up"), ("job", "x")],
            &[(1000, 5.0), (3000, 3.0)],
        ),
        v1_series(&[("__name__", "up"), ("job", "y")], &[(1000, 7.0)]),
    ]);
    let resp = srv.write(V1_TYPE, None, second).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(written(&resp), [None, None, None]);
    let text = resp.text().await.unwrap();
    assert!(text.starts_with("1 samples rejected\n"), "{text}");
    assert!(
        text.contains(r#"out of order sample for series up{job="x"} at timestamp 1000"#),
        "{text}"
    );
    let got = read(&srv.storage(), "anonymous", "up");
    assert_eq!(got.len(), 2);
    assert_bits(&got[0].1, &samples(&[(2000, 1.0), (3000, 3.0)]));
    assert_bits(&got[1].1, &samples(&[(1000, 7.0)]));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_with_identical_series_are_kept_apart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    for (tenant, v) in [("team-a", 1.0), ("team-b", 2.0)] {
        let body = v1_body(vec![v1_series(&[("__name__", "up")], &[(1000, v)])]);
        assert_eq!(srv.write(V1_TYPE, Some(tenant), body).await.status(), 204);
    }
    let st = srv.storage();
    assert_bits(&read(&st, "team-a", "up")[0].1, &samples(&[(1000, 1.0)]));
    assert_bits(&read(&st, "team-b", "up")[0].1, &samples(&[(1000, 2.0)]));
    assert!(read(&st, "anonymous", "up").is_empty());
    let body = v1_body(vec![v1_series(&[("__name__", "up")], &[(1000, 3.0)])]);
    let resp = srv.write(V1_TYPE, Some("../etc"), body).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("X-Scope-OrgID"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn body_over_the_limit_gives_413() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let addr = srv.url("").trim_start_matches("http://").to_string();
    let limit = tessera::api::MAX_REQUEST_BODY;
    // A declared length over the limit is refused before any byte of the
    // body is read: only the headers are sent, and the 413 comes back.
    let declared = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || {
            raw_status(&addr, &format!(
                "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: {V1_TYPE}\r\nContent-Length: {}\r\n\r\n",
                limit + 1
            ), 0)
        }
    })
    .await
    .unwrap();
    assert_eq!(declared, Some(413));
    // Without a declared length (chunked), reading stops at the limit.
    let chunked = tokio::task::spawn_blocking(move || {
        raw_status(&addr, &format!(
            "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: {V1_TYPE}\r\nTransfer-Encoding: chunked\r\n\r\n"
        ), limit + (1 << 20))
    })
    .await
    .unwrap();
    assert_eq!(chunked, Some(413));
    let ok = vec![0u8; 16];
    // Not valid snappy, but under the limit: refused as data, not size.
    assert_eq!(srv.write(V1_TYPE, None, ok).await.status(), 400);
    srv.stop().await;
}

/// Sends `head`, then up to `body` bytes in 64 KiB chunks (stopping when
/// the server stops reading), and returns the response's status code.
fn raw_status(addr: &str, head: &str, body: usize) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'x'; 64 << 10];
    let mut sent = 0;
    while sent < body {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if s.write_all(&framed).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.split(' ').nth(1)?.parse().ok()
}

/// `/api/v1/query` at `time_s`: each result's labels and value.
async fn instant(srv: &http::Server, query: &str, time_s: i64) -> Vec<(String, f64)> {
    let enc: String = query
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => c.to_string(),
            _ => format!("%{:02X}", c as u32),
        })
        .collect();
    let resp = srv
        .get(&format!("/api/v1/query?query={enc}&time={time_s}"))
        .await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let mut out: Vec<(String, f64)> = body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = r["metric"]["__name__"].as_str().unwrap_or("").to_string();
            let v: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
            (name, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_start_timestamps_reach_increase_through_the_http_api() {
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let mut b = v2::RequestBuilder::new();
    // A delta-style counter: 60 every minute, each sample's start timestamp
    // (Sample.start_timestamp) the previous sample's time.
    let delta: Vec<Sample> = (1..=5).map(|i| Sample::new(i * 60_000, 60.0)).collect();
    b.series(&[("__name__", "delta_total")], &delta);
    b.series(&[("__name__", "plain_total")], &delta);
    let mut req = b.build();
    for (i, s) in req.timeseries[0].samples.iter_mut().enumerate() {
        s.start_timestamp = if i == 0 { 1 } else { i as i64 * 60_000 };
    }
    // A new counter with one sample at 4m, created at 1m30s, sent the way
    // older senders do: TimeSeries.created_timestamp (field 6).
    let mut one = v2::RequestBuilder::new();
    one.series(&[("__name__", "new_total")], &[Sample::new(240_000, 3.0)]);
    let one = one.build();
    let mut body = v2::Request {
        symbols: req.symbols.clone(),
        timeseries: req.timeseries.clone(),
    }
    .encode_to_vec();
    let mut ts = v2::TimeSeries {
        labels_refs: vec![],
        ..one.timeseries[0].clone()
    };
    // Refer to the name through symbols appended to this request's table.
    let base = req.symbols.len() as u32;
    ts.labels_refs = vec![base, base + 1];
    let mut ts_bytes = ts.encode_to_vec();
    ts_bytes.extend([0x30, 0x90, 0xbf, 0x05]); // created_timestamp = 90000
    for s in ["__name__", "new_total"] {
        body.push(0x22);
        body.push(s.len() as u8);
        body.extend(s.as_bytes());
    }
    body.push(0x2a);
    body.push(ts_bytes.len() as u8);
    body.extend(ts_bytes);
    let snappy = snap::raw::Encoder::new().compress_vec(&body).unwrap();
    let resp = srv.write(V2_TYPE, None, snappy).await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);

    // delta_total: every sample restarts the count, and the counter is zero
    // at the first start timestamp: 5 x 60 (a flat series otherwise gives 0,
    // like plain_total). new_total: one sample normally gives nothing; with
    // its start timestamp inside the window it counts in full.
    let resets = instant(&srv, "resets(delta_total[5m])", 300).await;
    assert_eq!(resets, [(String::new(), 4.0)]);
    let single = instant(&srv, "increase(new_total[5m])", 300).await;
    assert_eq!(single, [(String::new(), 3.0)]);
    let plain = instant(&srv, "increase(plain_total[5m])", 300).await;
    assert_eq!(plain, [(String::new(), 0.0)]);
    let delta = instant(&srv, "increase(delta_total[5m])", 300).await;
    assert_eq!(delta, [(String::new(), 300.0)]);
    srv.stop().await;
}

fn int_histogram(ts: i64) -> v1::Histogram {
    v1::Histogram {
        count: Some(v1::Count::CountInt(3)),
        sum: 4.5,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: Some(v1::ZeroCount::ZeroCountInt(1)),
        positive_spans: vec![v1::BucketSpan {
            offset: 0,
            length: 2,
        }],
        positive_deltas: vec![1, 0],
        timestamp: ts,
        ..Default::default()
    }
}

/// The histograms of the series named `name` for `tenant`, as (t, sum, count).
fn read_histograms(
    storage: &tessera::storage::Storage,
    tenant: &str,
    name: &str,
) -> Vec<(i64, f64, f64)> {
    let m =
        tessera::storage::Matcher::new(tessera::storage::MatchOp::Equal, "__name__", name).unwrap();
    let t = tessera::tenant::TenantId::new(tenant).unwrap();
    storage
        .querier(&t, i64::MIN, i64::MAX)
        .select(&[m])
        .unwrap()
        .into_iter()
        .flat_map(|s| s.histograms)
        .map(|h| (h.t, h.h.sum, h.h.count_f64()))
        .collect()
}

fn v2_histogram(v1h: &v1::Histogram) -> v2::Histogram {
    v2::Histogram {
        count: v1h.count,
        sum: v1h.sum,
        zero_threshold: v1h.zero_threshold,
        zero_count: v1h.zero_count,
        positive_spans: v1h.positive_spans.clone(),
        positive_deltas: v1h.positive_deltas.clone(),
        timestamp: v1h.timestamp,
        ..Default::default()
    }
}

/// Native histograms are stored from 1.0 and 2.0 requests (custom buckets
/// included), the 2.0 Histograms-Written header counts them, and a bad or
/// conflicting histogram makes a partial write like a float would.
#[tokio::test(flavor = "multi_thread")]
async fn native_histograms_are_stored_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let mut hist = v1_series(&[("__name__", "latency"), ("job", "api")], &[]);
    hist.histograms = vec![int_histogram(1000), int_histogram(2000)];
    let body = v1_body(vec![
        v1_series(&[("__name__", "up"), ("job", "api")], &[(1000, 1.0)]),
        hist,
    ]);
    let resp = srv.write(V1_TYPE, None, body).await;
    assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap());
    assert_eq!(read(&srv.storage(), "anonymous", "up").len(), 1);
    assert_eq!(
        read_histograms(&srv.storage(), "anonymous", "latency"),
        [(1000, 4.5, 3.0), (2000, 4.5, 3.0)]
    );
    // Another tenant sees none of it.
    assert!(read_histograms(&srv.storage(), "other", "latency").is_empty());

    // 2.0, with a custom-bucket histogram: the headers say what was stored.
    let mut b = v2::RequestBuilder::new();
    b.series(
        &[("__name__", "up"), ("job", "v2")],
        &samples(&[(1000, 1.0)]),
    );
    let nhcb = v2::Histogram {
        schema: -53,
        custom_values: vec![0.5, 1.0],
        positive_spans: vec![v2::BucketSpan {
            offset: 0,
            length: 3,
        }],
        positive_deltas: vec![1, 0, 1],
        count: Some(v2::Count::CountInt(4)),
        zero_count: None,
        zero_threshold: 0.0,
        sum: 2.0,
        timestamp: 4000,
        ..Default::default()
    };
    b.series(&[("__name__", "latency"), ("job", "v2")], &[])
        .histograms
        .extend([v2_histogram(&int_histogram(3000)), nhcb]);
    let resp = srv.write(V2_TYPE, None, encode_snappy(&b.build())).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(written(&resp), [Some(1), Some(2), Some(0)]);
    assert_eq!(
        read_histograms(&srv.storage(), "anonymous", "latency"),
        [
            (1000, 4.5, 3.0),
            (2000, 4.5, 3.0),
            (3000, 4.5, 3.0),
            (4000, 2.0, 4.0)
        ]
    );

    // Partial write: an invalid histogram refuses its series; a different
    // histogram at a stored timestamp is a duplicate; the rest is stored.
    let mut b = v2::RequestBuilder::new();
    let mut bad = v2_histogram(&int_histogram(5000));
    bad.count = Some(v2::Count::CountInt(99));
    b.series(&[("__name__", "bad"), ("job", "v2")], &[])
        .histograms
        .push(bad);
    let mut changed = v2_histogram(&int_histogram(3000));
    changed.sum = 9.0;
    b.series(&[("__name__", "latency"), ("job", "v2")], &[])
        .histograms
        .extend([changed, v2_histogram(&int_histogram(6000))]);
    let resp = srv.write(V2_TYPE, None, encode_snappy(&b.build())).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(written(&resp), [Some(0), Some(1), Some(0)]);
    let text = resp.text().await.unwrap();
    assert!(
        text.starts_with("2 samples rejected (1 series refused)"),
        "{text}"
    );
    assert!(text.contains("histogram 0: count 99"), "{text}");
    assert!(text.contains("duplicate"), "{text}");
    assert!(read_histograms(&srv.storage(), "anonymous", "bad").is_empty());
    assert_eq!(
        read_histograms(&srv.storage(), "anonymous", "latency").last(),
        Some(&(6000, 4.5, 3.0))
    );
    let metrics = srv.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(
            "tessera_samples_rejected_total{tenant=\"anonymous\",reason=\"duplicate_timestamp\"} 1\n"
        ),
        "{metrics}"
    );
    srv.stop().await;
}

async fn query_body(srv: &http::Server, tenant: &str, path: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(srv.url(path))
        .header("X-Scope-OrgID", tenant)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Bare selectors return stored histograms in Prometheus's JSON
/// (`histogram` / `histograms` points with count, sum and buckets as
/// `[boundary rule, lower, upper, count]`); anything that would compute
/// with them is refused, never answered without them.
#[tokio::test(flavor = "multi_thread")]
async fn histograms_are_queried_as_prometheus_json() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let mut hist = v1_series(&[("__name__", "latency"), ("job", "api")], &[]);
    let mut stale = int_histogram(180_000);
    stale.sum = stale_nan();
    hist.histograms = vec![int_histogram(60_000), int_histogram(120_000), stale];
    let mixed_float = v1_series(&[("__name__", "mixed")], &[(60_000, 1.0)]);
    let resp = srv
        .write(V1_TYPE, Some("team"), v1_body(vec![hist, mixed_float]))
        .await;
    assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap());
    let mut later = v1_series(&[("__name__", "mixed")], &[]);
    later.histograms = vec![int_histogram(120_000)];
    let resp = srv.write(V1_TYPE, Some("team"), v1_body(vec![later])).await;
    assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap());

    let h = r#"{"count":"3","sum":"4.5","buckets":[[3,"-0.001","0.001","1"],[0,"0.5","1","1"],[0,"1","2","1"]]}"#;
    let (status, body) = query_body(&srv, "team", "/api/v1/query?query=latency&time=120").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"__name__":"latency","job":"api"}},"histogram":[120,{h}]}}]}}}}"#
        )
    );
    // The histogram stale marker ends the series.
    let (_, body) = query_body(&srv, "team", "/api/v1/query?query=latency&time=190").await;
    assert!(body.contains(r#""result":[]"#), "{body}");
    // A range query, and a series that changed from floats to histograms.
    let (status, body) = query_body(
        &srv,
        "team",
        "/api/v1/query_range?query=%7B__name__%3D~%22latency%7Cmixed%22%7D&start=60&end=120&step=60",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"__name__":"latency","job":"api"}},"histograms":[[60,{h}],[120,{h}]]}},{{"metric":{{"__name__":"mixed"}},"values":[[60,"1"]],"histograms":[[120,{h}]]}}]}}}}"#
        )
    );
    // An instant query of a range selector.
    let (status, body) =
        query_body(&srv, "team", "/api/v1/query?query=latency%5B1m%5D&time=120").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!(r#""histograms":[[120,{h}]]"#)),
        "{body}"
    );
    // Results computed from histograms come in the same shape.
    let (status, body) =
        query_body(&srv, "team", "/api/v1/query?query=sum(latency)&time=120").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!(r#"{{"metric":{{}},"histogram":[120,{h}]}}"#)),
        "{body}"
    );
    let (status, body) = query_body(
        &srv,
        "team",
        "/api/v1/query?query=latency%20%2A%202&time=120",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#""histogram":[120,{"count":"6","sum":"9","#),
        "{body}"
    );
    let (status, body) = query_body(
        &srv,
        "team",
        "/api/v1/query?query=histogram_count(latency)&time=120",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#"{"metric":{"job":"api"},"value":[120,"3"]}"#),
        "{body}"
    );
    // `sort` leaves histograms out; `count_values` counts them by their
    // upstream text form.
    let (status, body) =
        query_body(&srv, "team", "/api/v1/query?query=sort(latency)&time=120").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""result":[]"#), "{body}");
    let (status, body) = query_body(
        &srv,
        "team",
        "/api/v1/query?query=count_values(%22v%22%2C%20latency)&time=120",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#"{"metric":{"v":"{count:3, sum:4.5, [-0.001,0.001]:1, (0.5,1]:1, (1,2]:1}"},"value":[120,"1"]}"#),
        "{body}"
    );
    // Another tenant sees nothing.
    let (_, body) = query_body(&srv, "other", "/api/v1/query?query=latency&time=120").await;
    assert!(body.contains(r#""result":[]"#), "{body}");
    srv.stop().await;
}

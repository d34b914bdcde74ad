//! `POST /api/v1/read`: sampled and streamed answers against what was
//! written, limits and malformed requests, a real Prometheus 2.42 reading
//! Tessera through `remote_read` with credentials, and Tessera's XOR chunks
//! checked byte for byte against the chunks a real Prometheus serves for
//! the same samples. Tenant scoping and policies: `tests/isolation.rs`.

mod http;
mod peer;
mod read_frames;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;
use read_frames::frames;
use tessera::auth::{sha256_hex, AuthConfig, Authenticator};
use tessera::ingest::proto::{encode_snappy, read, v1};
use tessera::model::Sample;
use tessera::promql::{Engine, EngineConfig};
use tessera::storage::chunk::{decode_prom_xor, encode_prom_xor};
use tessera::storage::StorageConfig;

const EQ: i32 = 0;
const RE: i32 = 2;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn query(start: i64, end: i64, matchers: &[(&str, i32, &str)]) -> read::Query {
    read::Query {
        start_timestamp_ms: start,
        end_timestamp_ms: end,
        matchers: matchers
            .iter()
            .map(|(n, t, v)| read::LabelMatcher {
                r#type: *t,
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        hints: None,
    }
}

fn request(queries: Vec<read::Query>, types: Vec<i32>) -> Vec<u8> {
    encode_snappy(&read::ReadRequest {
        queries,
        accepted_response_types: types,
    })
}

async fn post(
    url: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = reqwest::Client::new().post(url).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// Samples with irregular gaps, values of every kind and a stale marker.
fn series_samples(t0: i64, n: i64) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let t = t0 + i * 15_000 + (i % 7) * 13 - if i % 50 == 49 { 4_000 } else { 0 };
            let v = match i % 11 {
                0 => f64::from_bits(0x7ff0_0000_0000_0002), // Prometheus' stale NaN
                1 => 1e300,
                2 => -2.5,
                3 => f64::INFINITY,
                _ => (i as f64) * 0.1 + 1000.0,
            };
            Sample::new(t, v)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sampled_and_streamed_answers_hold_exactly_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let s = http::start(dir.path()).await;
    let t0 = 1_700_000_000_000;
    let a = series_samples(t0, 300);
    let b = series_samples(t0 + 7, 5);
    let pairs = |s: &[Sample]| s.iter().map(|x| (x.t, x.v)).collect::<Vec<_>>();
    s.put(
        "anonymous",
        &[("__name__", "rr_a"), ("job", "x")],
        &pairs(&a),
    );
    s.put(
        "anonymous",
        &[("__name__", "rr_b"), ("job", "x")],
        &pairs(&b),
    );
    s.put(
        "other",
        &[("__name__", "rr_a"), ("job", "x")],
        &[(t0, 42.0)],
    );

    let end = t0 + 300 * 15_000;
    let queries = || {
        vec![
            query(t0, end, &[("__name__", RE, "rr_.*")]),
            // An inner range: only the samples inside it, ends inclusive.
            query(a[10].t, a[20].t, &[("__name__", EQ, "rr_a")]),
            query(t0, end, &[("__name__", EQ, "nothing")]),
        ]
    };
    let same = |got: &[v1::Sample], want: &[Sample]| {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.timestamp, g.value.to_bits()), (w.t, w.v.to_bits()));
        }
    };

    let (status, headers, body) =
        post(&s.url("/api/v1/read"), request(queries(), vec![]), None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["content-encoding"], "snappy");
    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    let resp = read::ReadResponse::decode(raw.as_slice()).unwrap();
    assert_eq!(resp.results.len(), 3);
    let r0 = &resp.results[0].timeseries;
    assert_eq!(
        r0.len(),
        2,
        "sorted by labels, the other tenant's rr_a absent"
    );
    assert_eq!(r0[0].labels[0].value, "rr_a");
    same(&r0[0].samples, &a);
    same(&r0[1].samples, &b);
    same(&resp.results[1].timeseries[0].samples, &a[10..=20]);
    assert!(resp.results[2].timeseries.is_empty());

    let (status, headers, body) =
        post(&s.url("/api/v1/read"), request(queries(), vec![1, 0]), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
    );
    assert!(headers.get("content-encoding").is_none());
    let fr = frames(&body);
    let got: Vec<(i64, String, Vec<Sample>)> = fr
        .iter()
        .map(|f| {
            let cs = &f.chunked_series[0];
            let mut samples = Vec::new();
            for c in &cs.chunks {
                assert_eq!(c.r#type, 1, "XOR");
                let part = decode_prom_xor(&c.data).unwrap();
                assert!(part.len() <= 120);
                assert_eq!(
                    (c.min_time_ms, c.max_time_ms),
                    (part[0].t, part[part.len() - 1].t)
                );
                samples.extend(part);
            }
            (f.query_index, cs.labels[0].value.clone(), samples)
        })
        .collect();
    assert_eq!(
        got.len(),
        3,
        "one frame per series: rr_a, rr_b, then rr_a of query 1"
    );
    assert_eq!((got[0].0, got[0].1.as_str()), (0, "rr_a"));
    assert_eq!((got[1].0, got[1].1.as_str()), (0, "rr_b"));
    assert_eq!((got[2].0, got[2].1.as_str()), (1, "rr_a"));
    for (g, w) in [
        (&got[0].2, &a[..]),
        (&got[1].2, &b[..]),
        (&got[2].2, &a[10..=20]),
    ] {
        assert_eq!(g.len(), w.len());
        for (x, y) in g.iter().zip(w) {
            assert_eq!((x.t, x.v.to_bits()), (y.t, y.v.to_bits()));
        }
    }
    assert_eq!(
        fr[0].chunked_series[0].chunks.len(),
        3,
        "300 samples in chunks of 120"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_and_malformed_requests_are_clear_400s() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StorageConfig::new(dir.path());
    cfg.maintenance_interval = None;
    let engine = Engine::new(EngineConfig {
        max_samples: 100,
        ..EngineConfig::default()
    });
    let s = http::start_with(cfg, tessera::api::AppState::new().with_engine(engine)).await;
    let t0 = 1_700_000_000_000;
    let many: Vec<(i64, f64)> = (0..150).map(|i| (t0 + i * 1000, 1.0)).collect();
    s.put("anonymous", &[("__name__", "big")], &many);
    let url = s.url("/api/v1/read");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "over the sample limit",
            request(
                vec![query(t0, t0 + 1_000_000, &[("__name__", EQ, "big")])],
                vec![],
            ),
            "max samples per query: 100",
        ),
        ("not snappy", b"hello".to_vec(), "remote read request"),
        (
            "snappy but not protobuf",
            snap::raw::Encoder::new().compress_vec(&[0xff; 20]).unwrap(),
            "bad protobuf",
        ),
        (
            "no supported response type",
            request(vec![query(0, 1, &[("__name__", EQ, "big")])], vec![7]),
            "response types",
        ),
        (
            "bad regex",
            request(vec![query(0, 1, &[("__name__", RE, "(")])], vec![]),
            "regex",
        ),
        (
            "unknown matcher type",
            request(vec![query(0, 1, &[("__name__", 9, "x")])], vec![]),
            "unknown matcher type 9",
        ),
        (
            "only empty matchers",
            request(vec![query(0, 1, &[("job", EQ, "")])], vec![]),
            "empty",
        ),
        (
            "1001 queries",
            request(vec![query(0, 1, &[("__name__", EQ, "x")]); 1001], vec![]),
            "limit of 1000",
        ),
    ];
    for (name, body, want) in cases {
        let (status, _, body) = post(&url, body, None).await;
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{name}: {text}");
        assert!(text.contains(want), "{name}: {text}");
    }
    // Within the limit it answers.
    let (status, _, _) = post(
        &url,
        request(
            vec![query(t0, t0 + 50_000, &[("__name__", EQ, "big")])],
            vec![],
        ),
        None,
    )
    .await;
    assert_eq!(status, 200);
    s.stop().await;
}

/// A Prometheus 2.42 whose `remote_read` points at Tessera with a bearer
/// token answers PromQL over Tessera's data: the tenant comes from the
/// credentials.
#[tokio::test(flavor = "multi_thread")]
async fn prometheus_reads_tessera_through_remote_read() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "mode: tokens\ntokens:\n  - {{name: prom, sha256: \"{}\", tenant: acme, policy: reader}}\npolicies:\n  reader: {{read: true}}\n",
        sha256_hex(b"prom-secret")
    );
    let auth_cfg: AuthConfig = serde_yaml::from_str(&yaml).unwrap();
    let auth = Authenticator::new(&auth_cfg, dir.path()).unwrap();
    let mut cfg = StorageConfig::new(dir.path().join("data"));
    cfg.maintenance_interval = None;
    let s = http::start_with(cfg, tessera::api::AppState::new().with_authenticator(auth)).await;
    let now = now_ms() / 1000 * 1000;
    let t0 = now - 20 * 60_000;
    for (job, scale) in [("a", 1.0), ("b", 10.0)] {
        let samples: Vec<(i64, f64)> = (0..=80)
            .map(|i| (t0 + i * 15_000, scale * i as f64))
            .collect();
        s.put(
            "acme",
            &[("__name__", "rr_requests_total"), ("job", job)],
            &samples,
        );
    }
    // Another tenant's same series must not be read.
    s.put(
        "globex",
        &[("__name__", "rr_requests_total"), ("job", "a")],
        &[(now - 60_000, 1e9)],
    );

    let config = format!(
        "global:\n  scrape_interval: 1h\nremote_read:\n  - url: \"{}\"\n    read_recent: true\n    authorization:\n      credentials: prom-secret\n",
        s.url("/api/v1/read")
    );
    let pdir = dir.path().join("prom");
    std::fs::create_dir_all(&pdir).unwrap();
    let prom = tokio::task::block_in_place(|| peer::Prometheus::start(&pdir, &config, &[]));
    let at = (t0 + 80 * 15_000) as f64 / 1000.0;
    let q = |query: &str| {
        let url = format!("{}/api/v1/query", prom.base);
        let query = query.to_string();
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .query(&[("query", query.as_str()), ("time", &at.to_string())])
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .unwrap();
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["status"], "success", "{query}: {v}");
            v["data"]["result"].clone()
        }
    };
    let r = q("sum(rr_requests_total)").await;
    assert_eq!(r[0]["value"][1], "880", "{r}");
    let r = q("rr_requests_total{job=\"b\"}").await;
    assert_eq!(r[0]["value"][1], "800", "{r}");
    // 15 s apart, +1 (job a) and +10 (job b) each: 11/15 per second.
    let r = q("sum(rate(rr_requests_total[5m]))").await;
    let rate: f64 = r[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((rate - 11.0 / 15.0).abs() < 1e-9, "{r}");
    let r = q("count(rr_requests_total)").await;
    assert_eq!(r[0]["value"][1], "2", "{r}");
    drop(prom);
    s.stop().await;
}

/// Prometheus 2.42 takes the samples by remote write and serves its own
/// head chunks by streamed remote read; for each of its chunks, Tessera's
/// encoder given the same samples must produce the same bytes, and
/// Tessera's decoder must read Prometheus's bytes back into them.
#[tokio::test(flavor = "multi_thread")]
async fn xor_chunks_are_byte_for_byte_prometheus_s() {
    let dir = tempfile::tempdir().unwrap();
    let config = "global:\n  scrape_interval: 1h\n";
    let prom = tokio::task::block_in_place(|| {
        peer::Prometheus::start(dir.path(), config, &["--web.enable-remote-write-receiver"])
    });
    let now = now_ms() / 1000 * 1000;
    let t0 = now - 11 * 1_800_000;
    // Irregular times (every delta-of-delta bucket, the 64-bit one once)
    // and values of every kind, about 5 h in all, so they cross at least
    // two of Prometheus's 2 h chunk-range boundaries (three chunks or
    // more); no stale markers: Prometheus's appender handles those.
    let mut t = t0;
    let mut samples = Vec::new();
    for i in 0..430i64 {
        t += match i % 9 {
            0 => 15_000,
            1 => 15_001,
            2 => 15_000 + 8_000,
            3 => 15_000 - 8_000,
            4 => 15_000 + 60_000,
            5 => 15_000 + 200_000,
            6 => 1_000,
            _ => 15_000,
        } + if i == 150 { 1_000_000 } else { 0 };
        if t > now {
            break;
        }
        let v = match i % 6 {
            0 => i as f64,
            1 => i as f64 * 0.1,
            2 => -1e-300,
            3 => f64::INFINITY,
            4 => 123456.789,
            _ => i as f64,
        };
        samples.push(Sample::new(t, v));
    }
    let wr = v1::WriteRequest {
        timeseries: vec![v1::TimeSeries {
            labels: vec![v1::Label {
                name: "__name__".into(),
                value: "oracle".into(),
            }],
            samples: samples
                .iter()
                .map(|s| v1::Sample {
                    value: s.v,
                    timestamp: s.t,
                })
                .collect(),
            ..Default::default()
        }],
        metadata: Vec::new(),
    };
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/write", prom.base))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(encode_snappy(&wr))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let body = request(vec![query(t0, now, &[("__name__", EQ, "oracle")])], vec![1]);
    let (status, _, body) = post(&format!("{}/api/v1/read", prom.base), body, None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let mut chunks = 0;
    let mut seen = 0;
    for f in frames(&body) {
        for c in &f.chunked_series[0].chunks {
            assert_eq!(c.r#type, 1);
            let want: Vec<Sample> = samples
                .iter()
                .copied()
                .filter(|s| s.t >= c.min_time_ms && s.t <= c.max_time_ms)
                .collect();
            let decoded = decode_prom_xor(&c.data).unwrap();
            assert_eq!(decoded.len(), want.len(), "chunk {chunks}");
            for (d, w) in decoded.iter().zip(&want) {
                assert_eq!((d.t, d.v.to_bits()), (w.t, w.v.to_bits()), "chunk {chunks}");
            }
            assert_eq!(encode_prom_xor(&want), c.data, "chunk {chunks} bytes");
            chunks += 1;
            seen += want.len();
        }
    }
    assert!(samples.len() >= 250, "only {} samples", samples.len());
    assert_eq!(seen, samples.len(), "every sample in some chunk");
    assert!(chunks >= 3, "only {chunks} chunks");
}

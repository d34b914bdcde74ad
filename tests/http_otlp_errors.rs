//! OTLP/HTTP failures over real HTTP, in OTLP's shape: every 4xx and 5xx
//! answer is a `google.rpc.Status` in the request's encoding (protobuf, or
//! JSON for a JSON request), whatever refused it (the credential check,
//! the content type, a limit, the ingestion rate, the server-wide body
//! budget); 429 says when to retry when that is known.

mod http;

use std::collections::HashMap;
use std::io::Write;

use prost::Message;
use tessera::api::{AppState, BodyBudget};
use tessera::auth::{sha256_hex, AuthConfig, Authenticator};
use tessera::ingest::otlp::proto::*;
use tessera::storage::StorageConfig;
use tessera::tenant::limits::{RateLimit, RateLimiter};
use tessera::tenant::TenantId;

use http::{read, start_with, Server};

const T: u64 = 1_700_000_000_000;
const PB: &str = "application/x-protobuf";
const JSON: &str = "application/json";

const AUTH: &str = r#"
mode: tokens
tokens:
  - {name: writer, sha256: "SHA_W", tenant: w, policy: writer}
  - {name: slow, sha256: "SHA_S", tenant: slow, policy: writer}
  - {name: reader, sha256: "SHA_R", tenant: r, policy: reader}
policies:
  writer: {read: true, write: true}
  reader: {read: true}
"#;

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

async fn server(dir: &std::path::Path) -> Server {
    let yaml = AUTH
        .replace("SHA_W", &sha256_hex(b"w-secret"))
        .replace("SHA_S", &sha256_hex(b"s-secret"))
        .replace("SHA_R", &sha256_hex(b"r-secret"));
    let cfg: AuthConfig = serde_yaml::from_str(&yaml).unwrap();
    let auth = Authenticator::new(&cfg, dir).unwrap();
    let limiter = RateLimiter::new(
        RateLimit::default(),
        HashMap::from([(
            TenantId::new("slow").unwrap(),
            RateLimit {
                rate: 10.0,
                burst: 10,
            },
        )]),
    );
    let mut scfg = StorageConfig::new(dir.join("data"));
    scfg.maintenance_interval = None;
    let state = AppState::new()
        .with_authenticator(auth)
        .with_rate_limiter(limiter)
        .with_body_budget(BodyBudget::new(1 << 20));
    start_with(scfg, state).await
}

/// A counter with `n` data points (distinct attribute values).
fn counter(n: usize) -> ExportMetricsServiceRequest {
    let points = (0..n)
        .map(|i| NumberDataPoint {
            attributes: vec![KeyValue {
                key: "i".into(),
                value: Some(AnyValue {
                    value: Some(Value::IntValue(i as i64)),
                }),
            }],
            time_unix_nano: T * 1_000_000,
            value: Some(NumberValue::AsInt(1)),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: None,
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "jobs".into(),
                    description: String::new(),
                    unit: String::new(),
                    data: Some(MetricData::Sum(Sum {
                        data_points: points,
                        aggregation_temporality: TEMPORALITY_CUMULATIVE,
                        is_monotonic: true,
                    })),
                }],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

struct Answer {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    code: i32,
    message: String,
}

/// POSTs and decodes the answer's Status in the encoding `content_type`
/// asks for (protobuf for anything but JSON).
async fn post(
    s: &Server,
    token: Option<&str>,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut req = s
        .client
        .post(s.url("/otlp/v1/metrics"))
        .header("Content-Type", content_type);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(e) = encoding {
        req = req.header("Content-Encoding", e);
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.bytes().await.unwrap();
    let (code, message) = if content_type == JSON {
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {bytes:?}"));
        (
            v["code"].as_i64().unwrap() as i32,
            v["message"].as_str().unwrap().to_string(),
        )
    } else {
        assert_eq!(content_type, PB, "{status}: {bytes:?}");
        let st = Status::decode(bytes.as_ref())
            .unwrap_or_else(|e| panic!("{status}: not a Status ({e}): {bytes:?}"));
        (st.code, st.message)
    };
    Answer {
        status,
        content_type,
        headers,
        code,
        message,
    }
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(b).unwrap();
    enc.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failure_is_a_status_in_the_request_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let body = || counter(2).encode_to_vec();
    let w = Some("w-secret");

    // The credential check, before anything else (401 keeps its challenge).
    let a = post(&srv, None, PB, None, body()).await;
    assert_eq!((a.status, a.code), (401, 16), "{}", a.message);
    assert!(a.headers.contains_key("www-authenticate"));
    assert!(a.message.contains("missing Authorization"), "{}", a.message);
    let a = post(&srv, Some("wrong"), JSON, None, b"{}".to_vec()).await;
    assert_eq!((a.status, a.code, a.content_type.as_str()), (401, 16, JSON));
    let a = post(&srv, Some("r-secret"), PB, None, body()).await;
    assert_eq!((a.status, a.code), (403, 7), "{}", a.message);
    assert!(a.message.contains("may not write"), "{}", a.message);

    // Undecodable (400), unknown encodings (415), past a limit (413).
    let a = post(&srv, w, JSON, None, b"{".to_vec()).await;
    assert_eq!((a.status, a.code, a.content_type.as_str()), (400, 3, JSON));
    let a = post(&srv, w, "text/plain", None, body()).await;
    assert_eq!((a.status, a.code), (415, 3));
    assert!(a.message.contains("Content-Type"), "{}", a.message);
    let a = post(&srv, w, JSON, Some("br"), b"{}".to_vec()).await;
    assert_eq!((a.status, a.code, a.content_type.as_str()), (415, 3, JSON));
    assert!(a.message.contains("\"br\""), "{}", a.message);
    let bomb = gzip(&vec![0; 80 << 20]);
    let a = post(&srv, w, PB, Some("gzip"), bomb).await;
    assert_eq!((a.status, a.code), (413, 8), "{}", a.message);
    assert!(a.message.contains("exceeds the limit"), "{}", a.message);

    // The server-wide body budget (1 MiB here) is spent: 503, retryable.
    let a = post(&srv, w, PB, None, vec![0; 3 << 19]).await;
    assert_eq!((a.status, a.code), (503, 14), "{}", a.message);
    assert!(a.message.contains("retry later"), "{}", a.message);

    // Over the ingestion rate (10/s, burst 10): 8 points fit, 8 more must
    // wait about 0.6 s, so Retry-After says 1 second; nothing is stored.
    let s = Some("s-secret");
    let a = post(&srv, s, PB, None, counter(8).encode_to_vec()).await;
    assert_eq!(a.status, 200, "{}", a.message);
    let a = post(&srv, s, PB, None, counter(8).encode_to_vec()).await;
    assert_eq!((a.status, a.code), (429, 8), "{}", a.message);
    assert_eq!(a.headers["retry-after"], "1");
    // A request larger than the burst never fits: no Retry-After.
    let a = post(&srv, s, JSON, None, json_counter(11)).await;
    assert_eq!((a.status, a.code, a.content_type.as_str()), (429, 8, JSON));
    assert!(!a.headers.contains_key("retry-after"), "{:?}", a.headers);
    assert!(a.message.contains("burst"), "{}", a.message);

    // Nothing of the refused requests was stored; the writer's good
    // request is.
    assert_eq!(read(&srv.storage(), "slow", "jobs_total").len(), 8);
    let a = post(&srv, w, PB, None, body()).await;
    assert_eq!(a.status, 200);
    assert_eq!(read(&srv.storage(), "w", "jobs_total").len(), 2);
    srv.stop().await;
}

/// [`counter`] as OTLP/JSON.
fn json_counter(n: usize) -> Vec<u8> {
    let points: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "timeUnixNano": (T * 1_000_000).to_string(), "asInt": "1",
                "attributes": [{"key": "i", "value": {"intValue": i.to_string()}}]
            })
        })
        .collect();
    serde_json::json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
        "name": "jobs", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
                                "dataPoints": points}}]}]}]})
    .to_string()
    .into_bytes()
}

//! One function per fuzz target. Each takes arbitrary bytes and must never
//! panic, hang or allocate without bound; where a target reaches the HTTP
//! layer it also asserts that the server never answers 500 (an internal
//! error is a bug) and that query endpoints always answer JSON.
//!
//! Included both by the cargo-fuzz crate (`tests/fuzz`) and by the server's
//! own test run (`tests/fuzz_regressions.rs`).

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use tower::ServiceExt;

use tessera::ingest::remote_write::{decode_v1, decode_v2, snappy_decompress, DecodedBatch};
use tessera::ingest::text::{parse, TextFormat};
use tessera::model::{LabelRef, Sample};
use tessera::promql::{Engine, EngineConfig, TenantScope};
use tessera::storage::{SeriesInput, Storage, StorageConfig, SyncPolicy};
use tessera::tenant::TenantId;

/// The fixed data every PromQL and HTTP target reads: a few gauges and
/// counters with stale markers and gaps, and classic histogram buckets,
/// in tenant `fuzz`.
struct Fixture {
    _dir: tempfile::TempDir,
    storage: Arc<Storage>,
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

const MIN: i64 = 60_000;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = StorageConfig::new(dir.path());
        cfg.maintenance_interval = None;
        cfg.wal.sync = SyncPolicy::None;
        let (storage, _) = Storage::open(cfg).expect("open storage");
        let storage = Arc::new(storage);
        load(&storage);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let state = tessera::api::AppState::with_storage(storage.clone())
            .with_engine(Engine::new(engine_config()));
        let router = tessera::api::app(state);
        Fixture {
            _dir: dir,
            storage,
            runtime,
            router,
        }
    })
}

fn tenant() -> TenantId {
    TenantId::new("fuzz").expect("tenant id")
}

fn load(storage: &Storage) {
    let t = tenant();
    let put = |pairs: &[(&str, &str)], f: &dyn Fn(i64) -> Option<f64>| {
        let refs: Vec<LabelRef<'_>> = pairs.iter().map(|(n, v)| LabelRef::new(n, v)).collect();
        let samples: Vec<Sample> = (0..=60)
            .filter_map(|i| f(i).map(|v| Sample::new(i * MIN, v)))
            .collect();
        storage
            .append(
                &t,
                &[SeriesInput {
                    labels: &refs,
                    samples: &samples,
                    histograms: &[],
                }],
            )
            .expect("load fixture");
    };
    for (host, k) in [("a", 1.0), ("b", 2.0), ("c", 0.5)] {
        put(
            &[("__name__", "up"), ("job", "api"), ("host", host)],
            &|i| Some(f64::from(i32::from(i % 7 != 0)) * k),
        );
        put(
            &[
                ("__name__", "requests_total"),
                ("job", "api"),
                ("host", host),
            ],
            &|i| Some((i as f64 * k * 10.0) % 500.0),
        );
        put(&[("__name__", "temp"), ("host", host)], &|i| {
            (i % 11 != 5).then(|| {
                if i == 30 {
                    tessera::model::stale_nan()
                } else {
                    (i as f64).sin() * k
                }
            })
        });
        for le in ["0.1", "0.5", "1", "+Inf"] {
            let b = le.parse::<f64>().unwrap_or(f64::INFINITY).min(2.0);
            put(
                &[("__name__", "lat_bucket"), ("host", host), ("le", le)],
                &move |i| Some(i as f64 * b * k),
            );
        }
    }
}

/// Small limits so that the fuzzer finds limit paths, not the machine's RAM.
fn engine_config() -> EngineConfig {
    EngineConfig {
        max_samples: 200_000,
        timeout: std::time::Duration::from_secs(2),
        ..EngineConfig::default()
    }
}

/// Checks a decoded batch's internal references.
fn check_batch(b: &DecodedBatch<'_>) {
    for s in &b.series {
        assert!(
            b.labels.get(s.labels.clone()).is_some(),
            "label range out of the arena"
        );
        assert!(
            b.samples.get(s.samples.clone()).is_some(),
            "sample range out of the arena"
        );
        assert!(b.start_times_of(s.samples.clone()).len() <= s.samples.len());
    }
}

/// remote_write 1.0 (`data[0]` even) or 2.0 (odd) protobuf, uncompressed.
pub fn remote_write(data: &[u8]) {
    let Some((&v, body)) = data.split_first() else {
        return;
    };
    let decoded = if v & 1 == 0 {
        decode_v1(body)
    } else {
        decode_v2(body)
    };
    if let Ok(b) = decoded {
        check_batch(&b);
    }
}

/// Snappy block bodies: the declared length is checked before allocating;
/// what decompresses is decoded both ways.
pub fn snappy(data: &[u8]) {
    const LIMIT: usize = 1 << 20;
    if let Ok(raw) = snappy_decompress(data, LIMIT) {
        assert!(raw.len() <= LIMIT);
        if let Ok(b) = decode_v1(&raw) {
            check_batch(&b);
        }
        if let Ok(b) = decode_v2(&raw) {
            check_batch(&b);
        }
    }
}

/// The Prometheus and OpenMetrics text parsers.
pub fn text(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for f in [TextFormat::Prometheus, TextFormat::OpenMetrics] {
        let p = parse(s, f);
        for sample in &p.samples {
            assert!(
                sample.labels.iter().any(|(n, _)| n == "__name__"),
                "sample without a name"
            );
        }
    }
}

/// OTLP bodies: the first byte's low bit picks protobuf or JSON; what
/// decodes is translated with the default settings. Decoding never
/// allocates past its counted limits, and translation never panics.
pub fn otlp(data: &[u8]) {
    use tessera::ingest::otlp::{decode, gunzip, translate, OtlpFormat, OtlpSettings};
    let Some((&v, body)) = data.split_first() else {
        return;
    };
    let format = if v & 1 == 0 {
        OtlpFormat::Protobuf
    } else {
        OtlpFormat::Json
    };
    if let Ok(raw) = gunzip(body, 1 << 20) {
        assert!(raw.len() <= 1 << 20);
    }
    if let Ok(req) = decode(body, format) {
        let t = translate(&req, &OtlpSettings::default());
        let refused: u64 = t.refused.iter().map(|r| r.points).sum();
        assert!(refused <= t.data_points, "more refused than sent");
        for s in &t.series {
            assert!(s.labels.iter().any(|(n, _)| n == "__name__"));
        }
    }
}

/// Sends one request through the whole router (extractors, handlers,
/// storage) and returns its status and body.
fn send(req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let f = fixture();
    f.runtime.block_on(async {
        let resp = f
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("infallible router");
        let status = resp.status();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map(|c| c.to_bytes().to_vec())
            .unwrap_or_default();
        (status, body)
    })
}

/// Pushgateway-style pushes: `data[0]` picks the method, the bytes up to
/// the first NUL are the grouping path (after `/metrics/`), the rest is
/// the body.
pub fn push(data: &[u8]) {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let method = [Method::PUT, Method::POST, Method::DELETE][usize::from(m) % 3].clone();
    let (path, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let uri = format!("/metrics/{}", percent_encode_path(path));
    let Ok(req) = Request::builder()
        .method(method)
        .uri(uri)
        .header("X-Scope-OrgID", "fuzz-push")
        .header(
            "Content-Type",
            if m & 0x80 == 0 {
                "text/plain; version=0.0.4"
            } else {
                "application/openmetrics-text"
            },
        )
        .body(Body::from(body.to_vec()))
    else {
        return;
    };
    let (status, body) = send(req);
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// Remote read: `data[0]` odd sends the rest as the body as is, even
/// snappy-compresses it first (so the fuzzer explores the protobuf); the
/// request reads the fixture's tenant. Never a 500; a 200 is a snappy
/// `ReadResponse` or well-formed frames.
pub fn remote_read(data: &[u8]) {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let body = if m & 1 == 1 {
        rest.to_vec()
    } else {
        snap::raw::Encoder::new()
            .compress_vec(rest)
            .unwrap_or_default()
    };
    let Ok(req) = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/read")
        .header("X-Scope-OrgID", "fuzz")
        .body(Body::from(body))
    else {
        return;
    };
    let (status, body) = send(req);
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// Path bytes as a URI path: `/` kept, everything but unreserved escaped.
fn percent_encode_path(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for &c in b {
        if c.is_ascii_alphanumeric() || matches!(c, b'/' | b'-' | b'_' | b'.' | b'~' | b'@' | b'=')
        {
            s.push(char::from(c));
        } else {
            s.push_str(&format!("%{c:02X}"));
        }
    }
    s
}

/// Query bytes as a URL query value: everything but unreserved escaped.
fn percent_encode_value(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for &c in b {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
            s.push(char::from(c));
        } else {
            s.push_str(&format!("%{c:02X}"));
        }
    }
    s
}

/// PromQL: parse, plan and evaluate over the fixture, as an instant query
/// and as a range query whose bounds come from `data[0..3]`, on a thread
/// with the query stack the server gives queries.
pub fn promql(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let (head, q) = data.split_at(3);
    let Ok(query) = std::str::from_utf8(q) else {
        return;
    };
    let query = query.to_string();
    let start = i64::from(head[0]) * MIN / 4;
    let end = start + i64::from(head[1]) * MIN / 2;
    let step = (i64::from(head[2]) + 1) * 15_000;
    std::thread::Builder::new()
        .stack_size(tessera::promql::QUERY_STACK_BYTES)
        .spawn(move || {
            let f = fixture();
            let scope = TenantScope::new(&f.storage, tenant());
            let engine = Engine::new(engine_config());
            if let Err(e) = engine.instant_query(&scope, &query, end) {
                assert_ne!(e.error_type(), "internal", "{query}: {e}");
            }
            if let Err(e) = engine.range_query(&scope, &query, start, end, step) {
                assert_ne!(e.error_type(), "internal", "{query}: {e}");
            }
            let _ = tessera::promql::format_query(&query);
            let _ = tessera::promql::parse_selector(&query);
        })
        .expect("spawn")
        .join()
        .expect("the query must not panic");
}

/// Query API parameters: `data[0]` picks the endpoint (and GET or form
/// POST), the rest is sent as the raw query string (GET) or form body
/// (POST), so every parameter parser sees arbitrary bytes.
pub fn query_params(data: &[u8]) {
    const ENDPOINTS: [&str; 12] = [
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/series",
        "/api/v1/labels",
        "/api/v1/label/host/values",
        "/api/v1/metadata",
        "/api/v1/query_exemplars",
        "/api/v1/format_query",
        "/api/v1/status/tsdb",
        "/federate",
        "/api/v1/label/__name__/values",
        "/api/v1/status/buildinfo",
    ];
    let Some((&e, rest)) = data.split_first() else {
        return;
    };
    let endpoint = ENDPOINTS[usize::from(e) % ENDPOINTS.len()];
    // Keep the fuzzer's own structure (`&`, `=`) but make the bytes legal in a URI.
    let query: String = rest
        .split(|&b| b == b'&')
        .map(|pair| {
            let mut kv = pair.splitn(2, |&b| b == b'=');
            let k = percent_encode_value(kv.next().unwrap_or_default());
            match kv.next() {
                Some(v) => format!("{k}={}", percent_encode_value(v)),
                None => k,
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    let post = e & 0x80 != 0 && endpoint != "/api/v1/metadata" && endpoint != "/api/v1/status/tsdb";
    let builder = Request::builder().header("X-Scope-OrgID", "fuzz");
    let req = if post {
        builder
            .method(Method::POST)
            .uri(endpoint)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(Body::from(query))
    } else {
        builder
            .method(Method::GET)
            .uri(format!("{endpoint}?{query}"))
            .body(Body::empty())
    };
    let Ok(req) = req else {
        return;
    };
    let (status, body) = send(req);
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        String::from_utf8_lossy(&body)
    );
    if endpoint.starts_with("/api/") && status != StatusCode::METHOD_NOT_ALLOWED {
        let json: Result<serde_json::Value, _> = serde_json::from_slice(&body);
        assert!(
            json.is_ok(),
            "{endpoint}: not JSON: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

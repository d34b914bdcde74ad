//! `/federate` over real HTTP: exact exposition text, lookback and stale
//! markers, the union of several `match[]`, tenant isolation, errors, the
//! block-merging path, and that the body is streamed.

mod http;

use std::time::{SystemTime, UNIX_EPOCH};

use http::{start, Server};
use tessera::model::{stale_nan, LabelRef, Sample};
use tessera::storage::SeriesInput;
use tessera::tenant::TenantId;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn federate(srv: &Server, tenant: Option<&str>, query: &str) -> (u16, String) {
    let mut req = srv.client.get(srv.url(&format!("/federate?{query}")));
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Tenant `a`'s data set, relative to `now`; returns the expected text of
/// `{__name__=~".+"}`.
fn load_a(srv: &Server, now: i64) -> String {
    let t = |ago_s: i64| now - ago_s * 1000;
    srv.put(
        "a",
        &[("__name__", "gone"), ("job", "api")],
        &[(t(90), 5.0), (t(30), stale_nan())],
    );
    srv.put(
        "a",
        &[
            ("__name__", "http_requests_total"),
            ("code", "200"),
            ("job", "api"),
        ],
        &[(t(10), 1e6)],
    );
    srv.put(
        "a",
        &[
            ("__name__", "http_requests_total"),
            ("code", "500"),
            ("job", "api"),
        ],
        &[(t(20), f64::NAN)],
    );
    srv.put(
        "a",
        &[("__name__", "old"), ("job", "api")],
        &[(t(600), 7.0)],
    );
    srv.put(
        "a",
        &[("__name__", "revived"), ("job", "api")],
        &[(t(90), stale_nan()), (t(30), 2.5)],
    );
    srv.put(
        "a",
        &[("__name__", "temp"), ("job", "api")],
        &[(t(700), 1.0), (t(100), f64::NEG_INFINITY)],
    );
    srv.put(
        "a",
        &[("__name__", "up"), ("instance", "h1"), ("job", "api")],
        &[(t(120), 1.0), (t(60), 0.0)],
    );
    srv.put("a", &[("__name__", "up"), ("job", "web")], &[(t(30), 1.0)]);
    srv.put("a", &[("job", "nameless")], &[(t(30), 3.0)]);
    format!(
        "# TYPE http_requests_total untyped\n\
         http_requests_total{{code=\"200\",job=\"api\",instance=\"\"}} 1e+06 {}\n\
         http_requests_total{{code=\"500\",job=\"api\",instance=\"\"}} NaN {}\n\
         # TYPE revived untyped\n\
         revived{{job=\"api\",instance=\"\"}} 2.5 {}\n\
         # TYPE temp untyped\n\
         temp{{job=\"api\",instance=\"\"}} -Inf {}\n\
         # TYPE up untyped\n\
         up{{instance=\"h1\",job=\"api\"}} 0 {}\n\
         up{{job=\"web\",instance=\"\"}} 1 {}\n",
        t(10),
        t(20),
        t(30),
        t(100),
        t(60),
        t(30)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newest_samples_within_lookback_skipping_stale_markers() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let want = load_a(&srv, now_ms());
    let (status, body) = federate(&srv, Some("a"), "match[]={__name__=~\".%2B\"}").await;
    assert_eq!(status, 200);
    assert_eq!(body, want);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_match_params_are_a_union_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let now = now_ms();
    load_a(&srv, now);
    let (status, body) = federate(
        &srv,
        Some("a"),
        "match[]=up&match[]={job=\"web\"}&match[]=up{instance=\"h1\"}&match[]=revived",
    )
    .await;
    assert_eq!(status, 200);
    let want = format!(
        "# TYPE revived untyped\nrevived{{job=\"api\",instance=\"\"}} 2.5 {}\n\
         # TYPE up untyped\nup{{instance=\"h1\",job=\"api\"}} 0 {}\n\
         up{{job=\"web\",instance=\"\"}} 1 {}\n",
        now - 30_000,
        now - 60_000,
        now - 30_000
    );
    assert_eq!(body, want);

    // POST with a form body, as Prometheus accepts.
    let resp = srv
        .client
        .post(srv.url("/federate"))
        .header("X-Scope-OrgID", "a")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("match[]=http_requests_total%7Bcode%3D%22200%22%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let want = format!(
        "# TYPE http_requests_total untyped\n\
         http_requests_total{{code=\"200\",job=\"api\",instance=\"\"}} 1e+06 {}\n",
        now - 10_000
    );
    assert_eq!(resp.text().await.unwrap(), want);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_see_only_their_own_series() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let now = now_ms();
    load_a(&srv, now);
    srv.put(
        "b",
        &[("__name__", "up"), ("instance", "h1"), ("job", "api")],
        &[(now - 5000, 42.0)],
    );
    let (_, b) = federate(&srv, Some("b"), "match[]=up").await;
    assert_eq!(
        b,
        format!(
            "# TYPE up untyped\nup{{instance=\"h1\",job=\"api\"}} 42 {}\n",
            now - 5000
        )
    );
    let (_, a) = federate(&srv, Some("a"), "match[]=up").await;
    assert!(!a.contains(" 42 "), "{a}");
    assert_eq!(a.lines().count(), 3, "{a}");
    // No header is the anonymous tenant, which has nothing.
    assert_eq!(
        federate(&srv, None, "match[]=up").await,
        (200, String::new())
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_bad_match_is_400_and_no_match_is_an_empty_200() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    load_a(&srv, now_ms());
    for (query, fragment) in [
        ("", "no match[] parameter provided"),
        ("match[]=", "no expression found in input"),
        ("match[]=up{", "invalid parameter \"match[]\""),
        ("match[]=rate(up[5m])", "not a series selector"),
        ("match[]={job=~\".*\"}", "at least one non-empty matcher"),
    ] {
        let resp = srv
            .client
            .get(srv.url(&format!("/federate?{query}")))
            .header("X-Scope-OrgID", "a")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(body["status"], "error", "{query}");
        assert_eq!(body["errorType"], "bad_data", "{query}");
        let msg = body["error"].as_str().unwrap();
        assert!(msg.contains(fragment), "{query}: {msg}");
    }
    for query in ["match[]=nothing_here", "match[]=old", "match[]=gone"] {
        assert_eq!(
            federate(&srv, Some("a"), query).await,
            (200, String::new()),
            "{query}"
        );
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_in_range_are_merged_with_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let now = now_ms();
    let c = TenantId::new("c").unwrap();
    srv.put(
        "c",
        &[("__name__", "m"), ("k", "both")],
        &[(now - 90_000, 1.0)],
    );
    srv.put(
        "c",
        &[("__name__", "m"), ("k", "block")],
        &[(now - 80_000, 2.0)],
    );
    srv.put(
        "c",
        &[("__name__", "a"), ("k", "block")],
        &[(now - 70_000, 3.0)],
    );
    assert!(srv.storage().flush(&c).unwrap().is_some());
    srv.put(
        "c",
        &[("__name__", "m"), ("k", "both")],
        &[(now - 20_000, 4.0)],
    );
    srv.put(
        "c",
        &[("__name__", "m"), ("k", "head")],
        &[(now - 10_000, 5.0)],
    );
    let (status, body) = federate(&srv, Some("c"), "match[]={k=~\".%2B\"}&match[]=m").await;
    assert_eq!(status, 200);
    let want = format!(
        "# TYPE a untyped\na{{k=\"block\",instance=\"\"}} 3 {}\n\
         # TYPE m untyped\n\
         m{{k=\"block\",instance=\"\"}} 2 {}\n\
         m{{k=\"both\",instance=\"\"}} 4 {}\n\
         m{{k=\"head\",instance=\"\"}} 5 {}\n",
        now - 70_000,
        now - 80_000,
        now - 20_000,
        now - 10_000
    );
    assert_eq!(body, want);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_are_streamed_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let now = now_ms();
    let n = 20_000;
    let names: Vec<String> = (0..n).map(|i| format!("host-{i:06}")).collect();
    let labels: Vec<[LabelRef; 3]> = names
        .iter()
        .map(|h| {
            [
                LabelRef::new("__name__", "load"),
                LabelRef::new("instance", h),
                LabelRef::new("job", "node"),
            ]
        })
        .collect();
    let samples = [Sample::new(now - 1000, 0.5)];
    let batch: Vec<SeriesInput> = labels
        .iter()
        .map(|l| SeriesInput {
            labels: l,
            samples: &samples,
            histograms: &[],
        })
        .collect();
    srv.storage()
        .append(&TenantId::new("big").unwrap(), &batch)
        .unwrap();
    let mut resp = srv
        .client
        .get(srv.url("/federate?match[]=load"))
        .header("X-Scope-OrgID", "big")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(resp.headers()["transfer-encoding"], "chunked");
    assert!(resp.headers().get("content-length").is_none());
    let (mut chunks, mut bytes) = (0, Vec::new());
    while let Some(c) = resp.chunk().await.unwrap() {
        chunks += 1;
        bytes.extend_from_slice(&c);
    }
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.len() > 4 * 64 * 1024, "{}", text.len());
    assert!(chunks >= 4, "body came in {chunks} chunks");
    assert_eq!(text.lines().count(), n + 1);
    assert_eq!(
        text.lines().nth(1).unwrap(),
        format!(
            "load{{instance=\"host-000000\",job=\"node\"}} 0.5 {}",
            now - 1000
        )
    );
    srv.stop().await;
}

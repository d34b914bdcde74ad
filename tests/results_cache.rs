//! The range-query results cache over real HTTP: cached answers equal
//! uncached ones (`nocache=1`), late samples, deleted tenants and retention
//! are never served stale, and no entry crosses tenants or policies.

mod http;

use serde_json::Value;
use tessera::api::AppState;
use tessera::auth::{sha256_hex, AuthConfig, Authenticator};
use tessera::promql::cache::ResultsCache;
use tessera::storage::StorageConfig;
use tessera::tenant::TenantId;

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

async fn server(dir: &std::path::Path, auth: Option<Authenticator>) -> http::Server {
    let mut cfg = StorageConfig::new(dir);
    cfg.maintenance_interval = None;
    let mut state = AppState::new().with_results_cache(ResultsCache::new(64 << 20));
    if let Some(a) = auth {
        state = state.with_authenticator(a);
    }
    http::start_with(cfg, state).await
}

/// `query_range` over `[from, to]` minutes after T0 at a 1 m step.
async fn range(
    s: &http::Server,
    who: (&str, &str),
    q: &str,
    from: i64,
    to: i64,
    nocache: bool,
) -> Value {
    let secs = |m: i64| ((T0 + m * MIN) / 1000).to_string();
    let mut params = vec![
        ("query", q.to_string()),
        ("start", secs(from)),
        ("end", secs(to)),
        ("step", "60".to_string()),
    ];
    if nocache {
        params.push(("nocache", "1".to_string()));
    }
    let resp = s
        .client
        .get(s.url("/api/v1/query_range"))
        .header(who.0, who.1)
        .query(&params)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "success", "{body}");
    body["data"]["result"].clone()
}

async fn outcome(s: &http::Server, outcome: &str) -> f64 {
    let text = s.get("/metrics").await.text().await.unwrap();
    let prefix = format!("tessera_query_results_cache_requests_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
}

fn every_15s(from_min: i64, to_min: i64, v: f64) -> Vec<(i64, f64)> {
    (from_min * 4..=to_min * 4)
        .map(|i| (T0 + i * 15_000, v))
        .collect()
}

const ANON: (&str, &str) = ("X-Scope-OrgID", "anonymous");

#[tokio::test]
async fn cached_answers_equal_fresh_ones_and_late_samples_are_seen() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), None).await;
    s.put(
        "anonymous",
        &[("__name__", "m"), ("i", "a")],
        &every_15s(0, 30, 1.0),
    );
    let q = "sum(m)";
    let first = range(&s, ANON, q, 0, 30, false).await;
    let again = range(&s, ANON, q, 0, 30, false).await;
    assert_eq!(first, again);
    assert_eq!(first, range(&s, ANON, q, 0, 30, true).await);
    assert_eq!(outcome(&s, "hit").await, 1.0);

    // A late series in the middle of the cached range.
    s.put(
        "anonymous",
        &[("__name__", "m"), ("i", "b")],
        &[(T0 + 10 * MIN, 100.0)],
    );
    let after = range(&s, ANON, q, 0, 30, false).await;
    assert_eq!(after, range(&s, ANON, q, 0, 30, true).await);
    assert_ne!(after, first, "the late sample must show");
    let at = |v: &Value, m: i64| -> String {
        let t = (T0 + m * MIN) / 1000;
        let pts = v[0]["values"].as_array().unwrap();
        let p = pts.iter().find(|p| p[0].as_i64() == Some(t)).unwrap();
        p[1].as_str().unwrap().to_string()
    };
    assert_eq!(at(&after, 9), "1");
    assert_eq!(at(&after, 12), "101");
    // Steps before the late sample came from the entry.
    assert_eq!(outcome(&s, "partial").await, 1.0);

    // A dashboard's window moving forward over newly written data.
    s.put(
        "anonymous",
        &[("__name__", "m"), ("i", "a")],
        &every_15s(31, 40, 2.0),
    );
    let moved = range(&s, ANON, q, 10, 40, false).await;
    assert_eq!(moved, range(&s, ANON, q, 10, 40, true).await);
    assert_eq!(at(&moved, 38), "2");
    assert_eq!(outcome(&s, "partial").await, 2.0);
    s.stop().await;
}

#[tokio::test]
async fn deleted_tenants_and_retention_are_not_served_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), None).await;
    let acme = TenantId::new("acme").unwrap();
    let who = ("X-Scope-OrgID", "acme");
    s.put("acme", &[("__name__", "m")], &every_15s(0, 30, 7.0));
    let q = "max(m)";
    let full = range(&s, who, q, 0, 30, false).await;
    assert_eq!(full[0]["values"].as_array().unwrap().len(), 31);
    s.storage().delete_tenant(&acme).unwrap();
    assert_eq!(range(&s, who, q, 0, 30, false).await, Value::Array(vec![]));

    // Data in a block, cached, then removed by retention.
    s.put("acme", &[("__name__", "m")], &every_15s(0, 30, 7.0));
    s.storage().flush(&acme).unwrap();
    let before = range(&s, who, q, 0, 30, false).await;
    assert_eq!(before, range(&s, who, q, 0, 30, false).await);
    let hits = outcome(&s, "hit").await;
    assert!(hits >= 1.0);
    let removed = s.storage().apply_retention(&acme, T0 + 60 * MIN).unwrap();
    assert!(!removed.is_empty(), "retention removed no block");
    let after = range(&s, who, q, 0, 30, false).await;
    assert_eq!(after, range(&s, who, q, 0, 30, true).await);
    assert_eq!(after, Value::Array(vec![]), "retention's data was served");
    s.stop().await;
}

#[tokio::test]
async fn entries_never_cross_tenants_or_policies() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
mode: tokens
tokens:
  - {{name: ops, sha256: "{}", tenant: acme, policy: all}}
  - {{name: customer, sha256: "{}", tenant: acme, policy: org1}}
  - {{name: other, sha256: "{}", tenant: globex, policy: all}}
policies:
  all: {{read: true}}
  org1: {{read: true, restricted_labels: {{organisation_id: [org1]}}}}
"#,
        sha256_hex(b"ops-secret"),
        sha256_hex(b"customer-secret"),
        sha256_hex(b"other-secret")
    );
    let cfg: AuthConfig = serde_yaml::from_str(&yaml).unwrap();
    let auth = Authenticator::new(&cfg, dir.path()).unwrap();
    let s = server(dir.path(), Some(auth)).await;
    s.put(
        "acme",
        &[("__name__", "m"), ("organisation_id", "org1")],
        &every_15s(0, 30, 1.0),
    );
    s.put(
        "acme",
        &[("__name__", "m"), ("organisation_id", "org2")],
        &every_15s(0, 30, 100.0),
    );
    s.put(
        "globex",
        &[("__name__", "m"), ("organisation_id", "org1")],
        &every_15s(0, 30, 5000.0),
    );
    let bearer = |t: &str| ("Authorization", format!("Bearer {t}"));
    let first_value = |v: &Value| v[0]["values"][0][1].as_str().unwrap().to_string();
    for round in 0..2 {
        for (token, want) in [
            ("ops-secret", "101"),
            ("customer-secret", "1"),
            ("other-secret", "5000"),
        ] {
            let (h, v) = bearer(token);
            let got = range(&s, (h, &v), "sum(m)", 0, 30, false).await;
            assert_eq!(first_value(&got), want, "{token}, round {round}");
            assert_eq!(got[0]["values"].as_array().unwrap().len(), 31);
        }
    }
    assert_eq!(outcome(&s, "hit").await, 3.0);
    s.stop().await;
}

async fn infos(s: &http::Server, q: &str, from: i64, to: i64, nocache: bool) -> Value {
    let secs = |m: i64| ((T0 + m * MIN) / 1000).to_string();
    let mut params = vec![
        ("query", q.to_string()),
        ("start", secs(from)),
        ("end", secs(to)),
        ("step", "60".to_string()),
    ];
    if nocache {
        params.push(("nocache", "1".to_string()));
    }
    let body: Value = s
        .client
        .get(s.url("/api/v1/query_range"))
        .query(&params)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["infos"].clone()
}

#[tokio::test]
async fn annotations_come_back_with_cached_answers() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), None).await;
    // Not named like a counter: rate() adds an info.
    s.put("anonymous", &[("__name__", "m")], &every_15s(0, 30, 1.0));
    let q = "rate(m[5m])";
    let fresh = infos(&s, q, 0, 30, true).await;
    assert!(
        fresh.to_string().contains("might not be a counter"),
        "{fresh}"
    );
    assert_eq!(infos(&s, q, 0, 30, false).await, fresh);
    assert_eq!(infos(&s, q, 0, 30, false).await, fresh);
    assert_eq!(outcome(&s, "hit").await, 1.0);
    // A part of an annotated entry is not reused: computed afresh.
    assert_eq!(infos(&s, q, 10, 30, false).await, fresh);
    assert_eq!(
        range(&s, ANON, q, 10, 30, false).await,
        range(&s, ANON, q, 10, 30, true).await
    );
    s.stop().await;
}

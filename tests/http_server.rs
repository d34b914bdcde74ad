//! Server lifecycle over real HTTP: health and readiness, the admin flush,
//! JSON error bodies, and data surviving a restart.

mod http;

use http::{read, start, V1_TYPE};
use tessera::api::{app, AppState};
use tessera::ingest::proto::{encode_snappy, v1};
use tessera::tenant::TenantId;

fn body(name: &str, t: i64, v: f64) -> Vec<u8> {
    encode_snappy(&v1::WriteRequest {
        timeseries: vec![v1::TimeSeries {
            labels: vec![v1::Label {
                name: "__name__".into(),
                value: name.into(),
            }],
            samples: vec![v1::Sample {
                value: v,
                timestamp: t,
            }],
            ..Default::default()
        }],
        metadata: Vec::new(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_ready_once_storage_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let resp = srv.get("/-/healthy").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "Tessera is Healthy.\n");
    let resp = srv.get("/-/ready").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "Tessera is Ready.\n");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn before_storage_opens_only_health_answers() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app(AppState::new())).await });
    let client = reqwest::Client::new();
    let get = |p: &str| client.get(format!("http://{addr}{p}")).send();
    assert_eq!(get("/-/healthy").await.unwrap().status(), 200);
    let ready = get("/-/ready").await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.text().await.unwrap(), "Service Unavailable\n");
    let write = client
        .post(format!("http://{addr}/api/v1/write"))
        .header("Content-Type", V1_TYPE)
        .body(body("up", 1, 1.0))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 503);
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn flush_writes_a_block_for_the_callers_tenant_only() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    for tenant in ["a", "b"] {
        let resp = srv
            .write(V1_TYPE, Some(tenant), body("up", 1000, 1.0))
            .await;
        assert_eq!(resp.status(), 204);
    }
    let resp = srv
        .client
        .post(srv.url("/api/v1/admin/tsdb/flush"))
        .header("X-Scope-OrgID", "a")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let st = srv.storage();
    let blocks = st.blocks(&TenantId::new("a").unwrap());
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].stats.num_samples, 1);
    assert!(st.blocks(&TenantId::new("b").unwrap()).is_empty());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_tenant_gives_a_prometheus_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let resp = srv
        .client
        .post(srv.url("/api/v1/admin/tsdb/flush"))
        .header("X-Scope-OrgID", "a/b")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let json: serde_json::Value = resp.json_body().await;
    assert_eq!(json["status"], "error");
    assert_eq!(json["errorType"], "bad_data");
    let msg = json["error"].as_str().unwrap();
    assert!(
        msg.contains("X-Scope-OrgID") && msg.contains("'/'"),
        "{msg}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let resp = srv.write(V1_TYPE, Some("t"), body("up", 1000, 42.0)).await;
    assert_eq!(resp.status(), 204);
    srv.stop().await;
    let srv = start(dir.path()).await;
    let got = read(&srv.storage(), "t", "up");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.len(), 1);
    assert_eq!((got[0].1[0].t, got[0].1[0].v), (1000, 42.0));
    srv.stop().await;
}

/// `reqwest` is built without its `json` feature; parse the body by hand.
trait JsonBody {
    async fn json_body(self) -> serde_json::Value;
}

impl JsonBody for reqwest::Response {
    async fn json_body(self) -> serde_json::Value {
        assert_eq!(
            self.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        serde_json::from_str(&self.text().await.unwrap()).unwrap()
    }
}

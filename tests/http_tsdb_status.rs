//! `/api/v1/status/tsdb` over real HTTP: the numbers for a known data set,
//! `limit`, its errors, and tenant isolation.

mod http;

use http::{start, Server};
use serde_json::{json, Value};

async fn status(srv: &Server, tenant: Option<&str>, query: &str) -> (u16, Value) {
    let mut req = srv
        .client
        .get(srv.url(&format!("/api/v1/status/tsdb{query}")));
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = req.send().await.unwrap();
    let code = resp.status().as_u16();
    (
        code,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap(),
    )
}

fn stats(pairs: &[(&str, u64)]) -> Value {
    pairs
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect()
}

/// Four series: three `up` on hosts h1..h3 and one `node_load1` on h1.
fn load(srv: &Server) {
    for (job, inst) in [("api", "h1"), ("web", "h2"), ("db", "h3")] {
        srv.put(
            "a",
            &[("__name__", "up"), ("instance", inst), ("job", job)],
            &[(1000, 1.0), (2000, 1.0)],
        );
    }
    srv.put(
        "a",
        &[
            ("__name__", "node_load1"),
            ("instance", "h1"),
            ("job", "api"),
        ],
        &[(1500, 0.5), (5000, 0.7)],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_for_a_known_data_set() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    load(&srv);
    let (code, body) = status(&srv, Some("a"), "").await;
    assert_eq!(code, 200);
    // Bytes per pair: name and value each with a one-byte length prefix,
    // times the series that carry it (upstream's `labels.SizeOfLabels`).
    // __name__: up (9+3)*3 + node_load1 (9+11)*1 = 56
    // instance: h1 (9+3)*2 + h2 12 + h3 12 = 48
    // job: api (4+4)*2 + web 8 + db 7 = 31
    let want = json!({
        "status": "success",
        "data": {
            "headStats": {
                "numSeries": 4,
                "numLabelPairs": 8,
                "chunkCount": 4,
                "minTime": 1000,
                "maxTime": 5000,
            },
            "seriesCountByMetricName": stats(&[("up", 3), ("node_load1", 1)]),
            "labelValueCountByLabelName": stats(&[("instance", 3), ("job", 3), ("__name__", 2)]),
            "memoryInBytesByLabelName": stats(&[("__name__", 56), ("instance", 48), ("job", 31)]),
            "seriesCountByLabelValuePair": stats(&[
                ("__name__=up", 3),
                ("instance=h1", 2),
                ("job=api", 2),
                ("__name__=node_load1", 1),
                ("instance=h2", 1),
                ("instance=h3", 1),
                ("job=db", 1),
                ("job=web", 1),
            ]),
        }
    });
    assert_eq!(body, want);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_cuts_every_list_and_bad_limits_are_400() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    load(&srv);
    let (code, body) = status(&srv, Some("a"), "?limit=2").await;
    assert_eq!(code, 200);
    let d = &body["data"];
    assert_eq!(
        d["seriesCountByMetricName"],
        stats(&[("up", 3), ("node_load1", 1)])
    );
    assert_eq!(
        d["labelValueCountByLabelName"],
        stats(&[("instance", 3), ("job", 3)])
    );
    assert_eq!(
        d["memoryInBytesByLabelName"],
        stats(&[("__name__", 56), ("instance", 48)])
    );
    assert_eq!(
        d["seriesCountByLabelValuePair"],
        stats(&[("__name__=up", 3), ("instance=h1", 2)])
    );
    assert_eq!(d["headStats"]["numSeries"], 4, "head stats are not limited");
    let (_, one) = status(&srv, Some("a"), "?limit=1").await;
    assert_eq!(one["data"]["seriesCountByMetricName"], stats(&[("up", 3)]));
    for (q, msg) in [
        ("?limit=0", "limit must be a positive number"),
        ("?limit=-1", "limit must be a positive number"),
        ("?limit=ten", "limit must be a positive number"),
        ("?limit=10001", "limit must not exceed 10000"),
    ] {
        let (code, body) = status(&srv, Some("a"), q).await;
        assert_eq!(code, 400, "{q}");
        assert_eq!(body["errorType"], "bad_data", "{q}");
        assert_eq!(body["error"], msg, "{q}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_sees_its_own_head_only() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    load(&srv);
    srv.put("b", &[("__name__", "up"), ("zone", "eu")], &[(9000, 1.0)]);
    let (_, b) = status(&srv, Some("b"), "").await;
    let d = &b["data"];
    assert_eq!(
        d["headStats"],
        json!({"numSeries": 1, "numLabelPairs": 2, "chunkCount": 1, "minTime": 9000, "maxTime": 9000})
    );
    assert_eq!(d["seriesCountByMetricName"], stats(&[("up", 1)]));
    assert_eq!(
        d["seriesCountByLabelValuePair"],
        stats(&[("__name__=up", 1), ("zone=eu", 1)])
    );
    // A tenant with no data (here: no header, so `anonymous`) has an empty
    // head, with upstream's sentinel times.
    let (code, anon) = status(&srv, None, "").await;
    assert_eq!(code, 200);
    assert_eq!(
        anon["data"]["headStats"],
        json!({"numSeries": 0, "numLabelPairs": 0, "chunkCount": 0,
               "minTime": i64::MAX, "maxTime": i64::MIN})
    );
    assert_eq!(anon["data"]["seriesCountByMetricName"], json!([]));
    srv.stop().await;
}

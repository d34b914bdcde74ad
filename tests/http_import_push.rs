//! Text import and Pushgateway-style push over real HTTP: timestamps,
//! extra labels, partial imports, group replacement with stale markers,
//! restarts and tenants.

mod http;

use http::{read, start, Server};
use tessera::model::is_stale_nan;
use tessera::tenant::TenantId;

const OM: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROM: &str = "text/plain; version=0.0.4";

async fn import(
    srv: &Server,
    query: &str,
    ct: &str,
    tenant: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut req = srv
        .client
        .post(srv.url(&format!("/api/v1/import/prometheus{query}")))
        .header("Content-Type", ct)
        .body(body.to_string());
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn push(
    srv: &Server,
    method: &str,
    path: &str,
    tenant: Option<&str>,
    body: &str,
) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = srv
        .client
        .request(method, srv.url(path))
        .header("Content-Type", PROM)
        .body(body.to_string());
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// (labels, values) of every series named `name`, stale markers as "stale".
fn values(srv: &Server, tenant: &str, name: &str) -> Vec<(String, Vec<String>)> {
    read(&srv.storage(), tenant, name)
        .into_iter()
        .map(|(l, s)| {
            let v = s
                .iter()
                .map(|s| {
                    if is_stale_nan(s.v) {
                        "stale".to_string()
                    } else {
                        s.v.to_string()
                    }
                })
                .collect();
            (l, v)
        })
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn import_text_and_openmetrics_with_and_without_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let before = now_ms();
    let body = "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\"} 5 1000\na_total{x=\"2\"} 6\n";
    assert_eq!(
        import(&srv, "", PROM, None, body).await,
        (204, String::new())
    );
    let got = read(&srv.storage(), "anonymous", "a_total");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, r#"a_total{x="1"}"#);
    assert_eq!((got[0].1[0].t, got[0].1[0].v), (1000, 5.0));
    assert!(
        got[1].1[0].t >= before && got[1].1[0].t <= now_ms(),
        "{:?}",
        got[1]
    );
    let om = "# TYPE b_seconds gauge\n# UNIT b_seconds seconds\nb_seconds 1.5 2.5\nb_seconds{y=\"z\"} 3\n# EOF\n";
    assert_eq!(import(&srv, "", OM, None, om).await, (204, String::new()));
    let got = read(&srv.storage(), "anonymous", "b_seconds");
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].1[0].t, got[0].1[0].v), (2500, 1.5));
    assert!(got[1].1[0].t >= before);
    let t = TenantId::anonymous();
    let md = srv.storage().metadata(&t, Some("a_total"), None);
    assert_eq!(
        (md[0].kind.as_str(), md[0].help.as_str()),
        ("counter", "Things.")
    );
    let md = srv.storage().metadata(&t, Some("b_seconds"), None);
    assert_eq!(
        (md[0].kind.as_str(), md[0].unit.as_str()),
        ("gauge", "seconds")
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn import_extra_labels_bad_lines_and_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let q = "?extra_label=job=imp&extra_label=env%3Dprod";
    let body = "m{job=\"orig\"} 1 1000\n";
    assert_eq!(import(&srv, q, PROM, None, body).await.0, 204);
    assert_eq!(
        read(&srv.storage(), "anonymous", "m")[0].0,
        r#"m{env="prod", job="imp"}"#
    );
    assert_eq!(
        import(&srv, "?extra_label=bad", PROM, None, body).await.0,
        400
    );
    let body = "ok 1 1000\nnot valid line\nok2 2 1000\n{{ 3\n";
    let (status, text) = import(&srv, "", PROM, None, body).await;
    assert_eq!(status, 400, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("2 lines rejected, 0 samples rejected by storage, 2 samples stored"),
        "{text}"
    );
    assert!(lines[1].starts_with("line 2:"), "{text}");
    assert!(lines[2].starts_with("line 4:"), "{text}");
    assert_eq!(read(&srv.storage(), "anonymous", "ok").len(), 1);
    assert_eq!(read(&srv.storage(), "anonymous", "ok2").len(), 1);
    let resp = srv
        .client
        .post(srv.url("/api/v1/import/prometheus"))
        .header("Content-Encoding", "gzip")
        .body("x 1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn push_put_post_delete_write_stale_markers() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    // instance@base64 "a/b" = YS9i
    let path = "/metrics/job/batch/instance@base64/YS9i";
    let body = "# TYPE c counter\nc_total{k=\"1\"} 1\nc_total{k=\"2\"} 2\n# TYPE g gauge\ng{job=\"body\"} 7\n";
    assert_eq!(
        push(&srv, "PUT", path, None, body).await,
        (200, String::new())
    );
    let c = values(&srv, "anonymous", "c_total");
    assert_eq!(c[0].0, r#"c_total{instance="a/b", job="batch", k="1"}"#);
    assert_eq!(
        values(&srv, "anonymous", "g")[0].0,
        r#"g{instance="a/b", job="batch"}"#
    );
    // PUT without k="2": it goes stale, k="1" gets a new value.
    let body = "c_total{k=\"1\"} 3\ng 8\n";
    assert_eq!(push(&srv, "PUT", path, None, body).await.0, 200);
    let c = values(&srv, "anonymous", "c_total");
    assert_eq!(c[0].1, ["1", "3"]);
    assert_eq!(c[1].1, ["2", "stale"]);
    // POST of family g alone leaves c_total alone; a POST that declares
    // c but pushes no sample of it marks c_total stale.
    assert_eq!(push(&srv, "POST", path, None, "g 9\n").await.0, 200);
    assert_eq!(values(&srv, "anonymous", "c_total")[0].1, ["1", "3"]);
    assert_eq!(values(&srv, "anonymous", "g")[0].1, ["7", "8", "9"]);
    assert_eq!(
        push(&srv, "POST", path, None, "# TYPE c_total counter\n")
            .await
            .0,
        200
    );
    assert_eq!(
        values(&srv, "anonymous", "c_total")[0].1,
        ["1", "3", "stale"]
    );
    // A timestamped sample refuses the whole push.
    let (status, text) = push(&srv, "PUT", path, None, "g 1\nnew 2 1000\n").await;
    assert_eq!(status, 400);
    assert!(
        text.contains("line 2") && text.contains("timestamps"),
        "{text}"
    );
    assert!(values(&srv, "anonymous", "new").is_empty());
    assert_eq!(values(&srv, "anonymous", "g")[0].1.len(), 3);
    // Bad paths.
    let (status, text) = push(&srv, "PUT", "/metrics/job/x/odd", None, "a 1\n").await;
    assert_eq!(status, 400);
    assert!(text.contains("odd number"), "{text}");
    // Delete, after a restart: the registry is on disk.
    srv.stop().await;
    let srv = start(dir.path()).await;
    assert_eq!(push(&srv, "DELETE", path, None, "").await.0, 202);
    assert_eq!(
        values(&srv, "anonymous", "g")[0].1,
        ["7", "8", "9", "stale"]
    );
    // Already stale series are not marked again; the group is gone.
    assert_eq!(
        values(&srv, "anonymous", "c_total")[0].1,
        ["1", "3", "stale"]
    );
    assert_eq!(push(&srv, "DELETE", path, None, "").await.0, 202);
    assert_eq!(values(&srv, "anonymous", "g")[0].1.len(), 4);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn push_groups_are_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let path = "/metrics/job/j";
    assert_eq!(push(&srv, "PUT", path, Some("t1"), "x 1\n").await.0, 200);
    assert_eq!(push(&srv, "PUT", path, Some("t2"), "x 2\n").await.0, 200);
    assert_eq!(push(&srv, "DELETE", path, Some("t1"), "").await.0, 202);
    assert_eq!(values(&srv, "t1", "x")[0].1, ["1", "stale"]);
    assert_eq!(values(&srv, "t2", "x")[0].1, ["2"]);
    assert!(values(&srv, "anonymous", "x").is_empty());
    assert_eq!(srv.get("/metrics/job/j").await.status(), 405);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_write_metadata_is_recorded() {
    use tessera::ingest::proto::{encode_snappy, v1};
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let meta = |name: &str, kind: i32, help: &str| v1::MetricMetadata {
        r#type: kind,
        metric_family_name: name.to_string(),
        help: help.to_string(),
        unit: String::new(),
    };
    let body = encode_snappy(&v1::WriteRequest {
        timeseries: Vec::new(),
        // 1 = counter, 4 = gaugehistogram; an empty entry is ignored.
        metadata: vec![
            meta("rw_total", 1, "From RW."),
            meta("h", 4, ""),
            meta("none", 0, ""),
        ],
    });
    let resp = srv.write(http::V1_TYPE, Some("rw"), body).await;
    assert_eq!(resp.status(), 204);
    let md = srv
        .storage()
        .metadata(&TenantId::new("rw").unwrap(), None, None);
    let got: Vec<(&str, &str, &str)> = md
        .iter()
        .map(|m| (m.metric.as_str(), m.kind.as_str(), m.help.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("h", "gaugehistogram", ""),
            ("rw_total", "counter", "From RW.")
        ]
    );
    srv.stop().await;
}

/// With exemplar storage off (max_exemplars 0, StorageConfig's default)
/// OpenMetrics exemplars are not stored: the samples are, and the
/// exemplars are counted as discarded, never dropped in silence
/// (tests/http_exemplars.rs stores them).
#[tokio::test(flavor = "multi_thread")]
async fn openmetrics_exemplars_are_counted_as_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let body = "# TYPE req counter\nreq_total{a=\"b\"} 17 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\nreq_total{a=\"c\"} 3 # {trace_id=\"x\"} 1 1520879607.7\nreq_total{a=\"d\"} 1\n# EOF\n";
    let (status, text) = import(&srv, "", OM, Some("ex"), body).await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(values(&srv, "ex", "req_total").len(), 3);
    let metrics = srv.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("tessera_exemplars_discarded_total{tenant=\"ex\"} 2\n"),
        "{metrics}"
    );
    srv.stop().await;
}

//! Exemplars over real HTTP: stored from remote_write 1.0 and 2.0 and
//! OpenMetrics text, answered by `/api/v1/query_exemplars` in Prometheus'
//! shape, per tenant, bounded, and still there after a restart.

mod http;

use serde_json::{json, Value};
use tessera::ingest::proto::{encode_snappy, v1, v2};
use tessera::model::Sample;
use tessera::storage::StorageConfig;

use http::{start_with, written, Server, V1_TYPE, V2_TYPE};

const T0: i64 = 1_700_000_000_000;

fn config(dir: &std::path::Path, max_exemplars: u64) -> StorageConfig {
    let mut cfg = StorageConfig::new(dir);
    cfg.maintenance_interval = None;
    cfg.tenant_defaults.max_exemplars = max_exemplars;
    cfg
}

async fn start(dir: &std::path::Path, max_exemplars: u64) -> Server {
    start_with(config(dir, max_exemplars), tessera::api::AppState::new()).await
}

fn label(n: &str, v: &str) -> v1::Label {
    v1::Label {
        name: n.into(),
        value: v.into(),
    }
}

/// A 1.0 series with one sample per exemplar, at the exemplar's time.
fn v1_series(labels: &[(&str, &str)], exemplars: &[(&str, f64, i64)]) -> v1::TimeSeries {
    v1::TimeSeries {
        labels: labels.iter().map(|(n, v)| label(n, v)).collect(),
        samples: exemplars
            .iter()
            .map(|&(_, _, t)| v1::Sample {
                value: 1.0,
                timestamp: t,
            })
            .collect(),
        exemplars: exemplars
            .iter()
            .map(|&(trace, value, timestamp)| v1::Exemplar {
                labels: vec![label("trace_id", trace)],
                value,
                timestamp,
            })
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

async fn query(s: &Server, tenant: &str, params: &str) -> (u16, Value) {
    let r = s
        .client
        .get(s.url(&format!("/api/v1/query_exemplars?{params}")))
        .header("X-Scope-OrgID", tenant)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap())
}

fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `[(series __name__/job, [(trace_id, t)])]` of a successful answer.
fn summary(v: &Value) -> Vec<(String, Vec<(String, i64)>)> {
    assert_eq!(v["status"], "success", "{v}");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let l = &s["seriesLabels"];
            let name = format!(
                "{}/{}",
                l["__name__"].as_str().unwrap(),
                l["job"].as_str().unwrap_or("")
            );
            let ex = s["exemplars"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let t = (e["timestamp"].as_f64().unwrap() * 1000.0).round() as i64;
                    (e["labels"]["trace_id"].as_str().unwrap().to_string(), t)
                })
                .collect();
            (name, ex)
        })
        .collect()
}

async fn metrics(s: &Server) -> String {
    s.get("/metrics").await.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn v1_exemplars_are_stored_and_answered_in_prometheus_shape() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 100).await;
    let body = v1_body(vec![
        v1_series(
            &[("__name__", "rq_total"), ("job", "api")],
            &[("a1", 0.25, T0), ("a2", 0.5, T0 + 1500)],
        ),
        v1_series(
            &[("__name__", "rq_total"), ("job", "db")],
            &[("d1", 7.0, T0 + 10)],
        ),
        v1_series(&[("__name__", "other"), ("job", "x")], &[("o1", 1.0, T0)]),
    ]);
    let r = s.write(V1_TYPE, Some("t1"), body).await;
    assert_eq!(r.status(), 204, "{:?}", r.text().await);
    let (code, v) = query(&s, "t1", &format!("query={}", q("rq_total"))).await;
    assert_eq!(code, 200);
    // The exact bytes of Prometheus' answer: series in label order, values
    // as strings, timestamps as float seconds.
    assert_eq!(
        v,
        json!({"status": "success", "data": [
            {"seriesLabels": {"__name__": "rq_total", "job": "api"}, "exemplars": [
                {"labels": {"trace_id": "a1"}, "value": "0.25", "timestamp": 1_700_000_000},
                {"labels": {"trace_id": "a2"}, "value": "0.5", "timestamp": 1_700_000_001.5},
            ]},
            {"seriesLabels": {"__name__": "rq_total", "job": "db"}, "exemplars": [
                {"labels": {"trace_id": "d1"}, "value": "7", "timestamp": 1_700_000_000.01},
            ]},
        ]})
    );
    // Time range: inclusive, in seconds or RFC 3339.
    let p = format!("query={}&start=1700000001&end=1700000002", q("rq_total"));
    assert_eq!(
        summary(&query(&s, "t1", &p).await.1),
        [(
            "rq_total/api".to_string(),
            vec![("a2".to_string(), T0 + 1500)]
        )]
    );
    let p = format!(
        "query={}&start=2023-11-14T22:13:20Z&end=2023-11-14T22:13:20.010Z",
        q("rq_total")
    );
    let got = summary(&query(&s, "t1", &p).await.1);
    assert_eq!(got.len(), 2, "{got:?}");
    // Selectors: every one in the query, matchers applied, each series once.
    let p = format!(
        "query={}",
        q("sum(rate(rq_total{job=\"db\"}[5m])) + other + rq_total{job=\"db\"}")
    );
    let got: Vec<String> = summary(&query(&s, "t1", &p).await.1)
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(got, ["other/x", "rq_total/db"]);
    // No selectors: null, as Prometheus answers.
    let (code, v) = query(&s, "t1", "query=1%2B1").await;
    assert_eq!((code, &v["data"]), (200, &Value::Null));
    // Bad input names what was wrong.
    let (code, v) = query(&s, "t1", "query=rq_total%7B").await;
    assert_eq!((code, v["errorType"].as_str()), (400, Some("bad_data")));
    let (code, v) = query(&s, "t1", "query=up&start=10&end=5").await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("end timestamp"),
        "{v}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_counts_written_exemplars_and_refusals_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 100).await;
    let long = "x".repeat(121); // trace_id (8) + 121 runes = 129 > 128
    let mut b = v2::RequestBuilder::new();
    let ok = b.exemplar(&[("trace_id", "abc")], 1.0, T0);
    let dup = b.exemplar(&[("trace_id", "abc")], 1.0, T0);
    let older = b.exemplar(&[("trace_id", "old")], 1.0, T0 - 1);
    let too_long = b.exemplar(&[("trace_id", &long)], 1.0, T0 + 1);
    let ts = b.series(
        &[("__name__", "cpu"), ("job", "n")],
        &[Sample::new(T0, 1.0), Sample::new(T0 + 1, 2.0)],
    );
    ts.exemplars = vec![ok, dup, older, too_long];
    // An exemplar whose series stores nothing has nowhere to go.
    let orphan = b.exemplar(&[("trace_id", "orphan")], 1.0, T0);
    b.series(&[("__name__", "ghost")], &[])
        .exemplars
        .push(orphan);
    let r = s
        .write(V2_TYPE, Some("t2"), encode_snappy(&b.build()))
        .await;
    assert_eq!(r.status(), 204, "{:?}", r.text().await);
    // Stored + duplicate count as written, as in Prometheus.
    assert_eq!(written(&r), [Some(2), Some(0), Some(2)]);
    let m = metrics(&s).await;
    assert!(
        m.contains("tessera_exemplars_discarded_total{tenant=\"t2\"} 3\n"),
        "{m}"
    );
    assert!(
        m.contains("tessera_exemplars_in_storage{tenant=\"t2\"} 1\n"),
        "{m}"
    );
    let (_, v) = query(&s, "t2", "query=cpu").await;
    assert_eq!(
        summary(&v),
        [("cpu/n".to_string(), vec![("abc".to_string(), T0)])]
    );
    // Samples were stored whatever became of the exemplars.
    assert_eq!(http::read(&s.storage(), "t2", "cpu")[0].1.len(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_with_identical_series_see_only_their_own_exemplars() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 100).await;
    let labels = [("__name__", "rq_total"), ("job", "api")];
    for (tenant, trace) in [("alpha", "alpha-trace"), ("beta", "beta-trace")] {
        let body = v1_body(vec![v1_series(&labels, &[(trace, 1.0, T0)])]);
        assert_eq!(s.write(V1_TYPE, Some(tenant), body).await.status(), 204);
    }
    for (tenant, mine, theirs) in [
        ("alpha", "alpha-trace", "beta-trace"),
        ("beta", "beta-trace", "alpha-trace"),
    ] {
        let r = s
            .client
            .get(s.url("/api/v1/query_exemplars?query=%7B__name__%3D~%22.%2B%22%7D"))
            .header("X-Scope-OrgID", tenant)
            .send()
            .await
            .unwrap();
        let body = r.text().await.unwrap();
        assert!(body.contains(mine), "{tenant}: {body}");
        assert!(!body.contains(theirs), "{tenant} sees {theirs}: {body}");
    }
    // A tenant that never wrote sees nothing (and gets a success).
    let (code, v) = query(&s, "gamma", "query=rq_total").await;
    assert_eq!((code, v["data"].clone()), (200, json!([])));
    // A federated read names each series' tenant.
    let (_, v) = query(&s, "alpha|beta", "query=rq_total").await;
    let tenants: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seriesLabels"]["__tenant_id__"].as_str().unwrap())
        .collect();
    assert_eq!(tenants, ["alpha", "beta"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_buffer_is_bounded_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 3).await;
    let ex: Vec<(String, f64, i64)> = (0..5)
        .map(|i| (format!("t{i}"), i as f64, T0 + i * 1000))
        .collect();
    let refs: Vec<(&str, f64, i64)> = ex.iter().map(|(a, b, c)| (a.as_str(), *b, *c)).collect();
    let body = v1_body(vec![v1_series(&[("__name__", "m")], &refs)]);
    assert_eq!(s.write(V1_TYPE, None, body).await.status(), 204);
    let want: Vec<(String, i64)> = (2..5).map(|i| (format!("t{i}"), T0 + i * 1000)).collect();
    let (_, v) = query(&s, "anonymous", "query=m").await;
    assert_eq!(summary(&v)[0].1, want, "the three newest of five");
    s.stop().await;
    // The WAL brings them back; the buffer is as big as configured then.
    let s = start(dir.path(), 2).await;
    let (_, v) = query(&s, "anonymous", "query=m").await;
    assert_eq!(
        summary(&v)[0].1,
        want[1..],
        "the two newest of what was logged"
    );
    // Out-of-order detection holds across the restart.
    let body = v1_body(vec![v1_series(&[("__name__", "m")], &[("late", 1.0, T0)])]);
    s.write(V1_TYPE, None, body).await;
    let (_, v) = query(&s, "anonymous", "query=m").await;
    assert_eq!(summary(&v)[0].1, want[1..]);
    s.stop().await;
    // max_exemplars 0: nothing kept, everything counted.
    let s = start(dir.path(), 0).await;
    let (_, v) = query(&s, "anonymous", "query=m").await;
    assert_eq!(v["data"], json!([]));
    let body = v1_body(vec![v1_series(
        &[("__name__", "m")],
        &[("n", 1.0, T0 + 9000)],
    )]);
    let r = s.write(V1_TYPE, None, body).await;
    assert_eq!(r.status(), 204);
    assert!(metrics(&s)
        .await
        .contains("tessera_exemplars_discarded_total{tenant=\"anonymous\"} 1\n"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openmetrics_import_and_push_store_exemplars() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 100).await;
    let long = "y".repeat(200);
    let body = format!(
        "# TYPE req counter\n\
         req_total{{a=\"b\"}} 17 1700000000.5 # {{trace_id=\"KOO5S4vxi0o\"}} 0.67\n\
         req_total{{a=\"c\"}} 3 1700000000 # {{trace_id=\"x\"}} 1 1699999999.25\n\
         req_total{{a=\"d\"}} 1 1700000000 # {{trace_id=\"{long}\"}} 1\n\
         # EOF\n"
    );
    let r = s
        .client
        .post(s.url("/api/v1/import/prometheus"))
        .header(
            "Content-Type",
            "application/openmetrics-text; version=1.0.0",
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{:?}", r.text().await);
    let (_, v) = query(&s, "anonymous", "query=req_total").await;
    let got: Vec<(String, i64)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let e = &s["exemplars"][0];
            (
                e["labels"]["trace_id"].as_str().unwrap().to_string(),
                (e["timestamp"].as_f64().unwrap() * 1000.0).round() as i64,
            )
        })
        .collect();
    // Without its own timestamp an exemplar takes its sample's.
    assert_eq!(
        got,
        [
            ("KOO5S4vxi0o".to_string(), T0 + 500),
            ("x".to_string(), T0 - 750)
        ]
    );
    assert!(metrics(&s)
        .await
        .contains("tessera_exemplars_discarded_total{tenant=\"anonymous\"} 1\n"));
    // Push: the exemplar lands on the pushed series (grouping labels on).
    let r = s
        .client
        .post(s.url("/metrics/job/batch"))
        .header(
            "Content-Type",
            "application/openmetrics-text; version=1.0.0",
        )
        .body("# TYPE done counter\ndone_total 1 # {trace_id=\"p1\"} 1 1700000000\n# EOF\n")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let (_, v) = query(&s, "anonymous", "query=done_total").await;
    assert_eq!(
        summary(&v),
        [("done_total/batch".to_string(), vec![("p1".to_string(), T0)])]
    );
    s.stop().await;
}

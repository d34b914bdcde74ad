//! Reads through every node of a cluster: a real three-server NATS
//! JetStream cluster, SeaweedFS and three `tessera` processes on loopback.
//!
//! - `/api/v1/status/tsdb`, `/api/v1/metadata` and
//!   `/api/v1/query_exemplars` answer the same through every node, and the
//!   same as one single node given the same writes;
//! - two tenants with identical series (samples, exemplars, metadata):
//!   every read endpoint through every node, and a forged internal read.

mod cluster_stack;
mod crash;
mod nats;
mod weed;

use std::collections::BTreeSet;

use cluster_stack::*;
use serde_json::Value;
use tessera::ingest::proto::{encode_snappy, v1};

fn label(name: &str, value: &str) -> v1::Label {
    v1::Label {
        name: name.into(),
        value: value.into(),
    }
}

/// A remote-write body: `metric{i, tag}` for `i < series` with one sample
/// at `t` of value `v(i)`, every other series with an exemplar
/// `{trace_id="<tag>-<i>"}` of the same value, and the metric's metadata
/// with help text `help`.
fn rich_body(
    metric: &str,
    tag: &str,
    series: usize,
    t: i64,
    v: impl Fn(usize) -> f64,
    help: &str,
) -> Vec<u8> {
    let timeseries = (0..series)
        .map(|i| v1::TimeSeries {
            labels: vec![
                label("__name__", metric),
                label("i", &i.to_string()),
                label("tag", tag),
            ],
            samples: vec![v1::Sample {
                value: v(i),
                timestamp: t,
            }],
            exemplars: if i % 2 == 0 {
                vec![v1::Exemplar {
                    labels: vec![label("trace_id", &format!("{tag}-{i}"))],
                    value: v(i),
                    timestamp: t,
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        })
        .collect();
    encode_snappy(&v1::WriteRequest {
        timeseries,
        metadata: vec![v1::MetricMetadata {
            r#type: v1::MetricType::Gauge as i32,
            metric_family_name: metric.into(),
            help: help.into(),
            unit: String::new(),
        }],
    })
}

/// A strong GET that must answer 200; its `data`.
async fn data(base: &str, tenant: &str, path: &str, params: &[(&str, String)]) -> Value {
    let (code, v) = get(base, tenant, path, params, true).await;
    assert_eq!(code, 200, "{base}{path} {params:?}: {v}");
    v["data"].clone()
}

/// Status/tsdb, metadata and exemplars written through node A answer the
/// same through every node, and the same as one node given the same
/// writes: the owners' heads are summed before ranking, metadata and
/// exemplars travel in the log to the owners.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_metadata_and_exemplars_match_one_node() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::start(3).await;
    let single_dir = tempfile::tempdir().unwrap();
    let single =
        crash::server::Proc::start_with(single_dir.path(), None, Vec::new(), Vec::new()).await;
    let t = now_ms() - 30_000;
    let writes = [
        rich_body("card_a", "x", 40, t, |i| i as f64, "Series A."),
        rich_body("card_b", "y", 9, t, |i| 100.0 + i as f64, "Series B."),
    ];
    for b in &writes {
        assert_eq!(write(s.base(0), "alpha", b.clone()).await.status(), 204);
        assert_eq!(write(&single.base, "alpha", b.clone()).await.status(), 204);
    }
    let limit = [("limit", "5".to_string())];
    let one_status = data(&single.base, "alpha", "/api/v1/status/tsdb", &limit).await;
    assert_eq!(one_status["headStats"]["numSeries"], 49, "{one_status}");
    assert_eq!(
        one_status["seriesCountByMetricName"],
        serde_json::json!([{"name": "card_a", "value": 40}, {"name": "card_b", "value": 9}])
    );
    let q = [
        ("query", "{__name__=~\"card_.\"}".to_string()),
        ("start", crash::check::secs(t - 1000)),
        ("end", crash::check::secs(t + 1000)),
    ];
    let one_exemplars = data(&single.base, "alpha", "/api/v1/query_exemplars", &q).await;
    assert_eq!(one_exemplars.as_array().unwrap().len(), 20 + 5);
    let one_meta = data(&single.base, "alpha", "/api/v1/metadata", &[]).await;
    assert_eq!(one_meta["card_a"][0]["help"], "Series A.", "{one_meta}");
    let only_b = [("metric", "card_b".to_string())];
    for node in 0..3 {
        let base = s.base(node);
        let st = data(base, "alpha", "/api/v1/status/tsdb", &limit).await;
        assert_eq!(st, one_status, "node {node} status/tsdb");
        let ex = data(base, "alpha", "/api/v1/query_exemplars", &q).await;
        assert_eq!(ex, one_exemplars, "node {node} exemplars");
        let meta = data(base, "alpha", "/api/v1/metadata", &[]).await;
        assert_eq!(meta, one_meta, "node {node} metadata");
        let meta = data(base, "alpha", "/api/v1/metadata", &only_b).await;
        assert_eq!(
            meta,
            serde_json::json!({"card_b": [{"type": "gauge", "help": "Series B.", "unit": ""}]}),
            "node {node}"
        );
    }
    // The statistics came from more than one owner.
    let st = status(s.base(0)).await.unwrap();
    let owners: BTreeSet<&str> = st["partition_status"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["owner"].as_str())
        .collect();
    assert_eq!(owners.len(), 3, "{st:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenants_stay_apart_on_every_node() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::start(3).await;
    let t = now_ms() - 30_000;
    // Identical series names and labels; values tell the tenants apart.
    // Exemplars and metadata too: the same series, trace ids and metric
    // names, with help texts that tell the tenants apart.
    let r = write(
        s.base(0),
        "alpha",
        rich_body("iso_m", "same", 12, t, |i| 1000.0 + i as f64, "alpha help"),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = write(
        s.base(1),
        "beta",
        rich_body("iso_m", "same", 12, t, |i| 2000.0 + i as f64, "beta help"),
    )
    .await;
    assert_eq!(r.status(), 204);
    let b_only = rich_body("beta_only", "b", 3, t, |_| 7.0, "beta only");
    let r = write(s.base(2), "beta", b_only).await;
    assert_eq!(r.status(), 204);
    let ts = crash::check::secs(t);
    for node in 0..3 {
        let base = s.base(node);
        for (tenant, lo, hi, other_metric) in [
            ("alpha", 1000.0, 1011.0, "beta_only"),
            ("beta", 2000.0, 2011.0, ""),
        ] {
            let p = [("query", "iso_m".to_string()), ("time", ts.clone())];
            let (code, v) = get(base, tenant, "/api/v1/query", &p, true).await;
            assert_eq!(code, 200, "{v}");
            let res = v["data"]["result"].as_array().unwrap();
            assert_eq!(res.len(), 12, "node {node} {tenant}: {v}");
            for r in res {
                let x: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
                assert!((lo..=hi).contains(&x), "node {node} {tenant} sees {x}: {v}");
            }
            let p = [
                ("query", "sum(iso_m)".to_string()),
                ("start", crash::check::secs(t - 60_000)),
                ("end", ts.clone()),
                ("step", "15".to_string()),
            ];
            let (code, v) = get(base, tenant, "/api/v1/query_range", &p, true).await;
            assert_eq!(code, 200, "{v}");
            let want: f64 = (0..12).map(|i| lo + i as f64).sum();
            let vals = v["data"]["result"][0]["values"].as_array().unwrap();
            assert!(
                vals.iter().all(|x| x[1] == want.to_string()),
                "node {node} {tenant}: {v}"
            );
            let p = [("match[]", "{__name__=~\".+\"}".to_string())];
            let (_, v) = get(base, tenant, "/api/v1/series", &p, true).await;
            let names: BTreeSet<&str> = v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["__name__"].as_str().unwrap())
                .collect();
            let want: BTreeSet<&str> = if tenant == "beta" {
                ["iso_m", "beta_only"].into()
            } else {
                ["iso_m"].into()
            };
            assert_eq!(names, want, "node {node} {tenant} series: {v}");
            let (_, v) = get(base, tenant, "/api/v1/label/__name__/values", &[], true).await;
            let got: BTreeSet<&str> = v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            assert_eq!(got, want, "node {node} {tenant} values: {v}");
            let (_, v) = get(base, tenant, "/api/v1/labels", &[], true).await;
            assert_eq!(
                v["data"],
                serde_json::json!(["__name__", "i", "tag"]),
                "node {node} {tenant} labels: {v}"
            );
            check_extras(base, node, tenant, t, (lo, hi)).await;
            if !other_metric.is_empty() {
                let p = [("query", other_metric.to_string()), ("time", ts.clone())];
                let (_, v) = get(base, tenant, "/api/v1/query", &p, true).await;
                assert_eq!(
                    v["data"]["result"],
                    serde_json::json!([]),
                    "node {node} {tenant}: {v}"
                );
            }
            let p = [("match[]", "iso_m".to_string())];
            let r = client()
                .get(format!("{base}/federate"))
                .header("X-Scope-OrgID", tenant)
                .query(&p)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let text = r.text().await.unwrap();
            let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("iso_m")).collect();
            assert_eq!(lines.len(), 12, "node {node} {tenant} federate:\n{text}");
            for l in lines {
                let x: f64 = l.split(' ').nth(1).unwrap().parse().unwrap();
                assert!((lo..=hi).contains(&x), "node {node} {tenant} federates {l}");
            }
        }
        // A forged internal read: alpha's credential asking for beta.
        let forged = serde_json::json!({
            "tenant": "beta", "partitions": (0..PARTITIONS).collect::<Vec<_>>(), "mint": 0, "maxt": i64::MAX / 2,
            "op": {"select": {"with_st": false}},
            "matchers": [{"name": "__name__", "op": "=", "value": "iso_m"}],
        });
        let r = client()
            .post(format!("{base}/internal/cluster/read"))
            .header("X-Scope-OrgID", "alpha")
            .json(&forged)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "node {node}: {}", r.text().await.unwrap());
        for op in [
            serde_json::json!({"metadata": {"metric": null}}),
            serde_json::json!("exemplars"),
            serde_json::json!("tsdb_status"),
        ] {
            let mut f = forged.clone();
            f["op"] = op;
            let r = client()
                .post(format!("{base}/internal/cluster/read"))
                .header("X-Scope-OrgID", "alpha")
                .json(&f)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "node {node}: {}", r.text().await.unwrap());
        }
        // Malformed internal reads are 400s naming the problem.
        let r = client()
            .post(format!("{base}/internal/cluster/read"))
            .header("X-Scope-OrgID", "alpha")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("does not decode"));
        let mut bad = forged.clone();
        bad["tenant"] = "alpha".into();
        bad["partitions"] = serde_json::json!([PARTITIONS + 5]);
        let r = client()
            .post(format!("{base}/internal/cluster/read"))
            .header("X-Scope-OrgID", "alpha")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("does not exist"));
    }
}

/// Status/tsdb, metadata and exemplars of `tenant` through `base`: only
/// its own series, help texts and exemplar values (`lo..=hi` for `iso_m`).
async fn check_extras(base: &str, node: usize, tenant: &str, t: i64, (lo, hi): (f64, f64)) {
    let st = data(base, tenant, "/api/v1/status/tsdb", &[]).await;
    let (series, by_metric) = if tenant == "beta" {
        (
            15,
            serde_json::json!([{"name": "iso_m", "value": 12}, {"name": "beta_only", "value": 3}]),
        )
    } else {
        (12, serde_json::json!([{"name": "iso_m", "value": 12}]))
    };
    assert_eq!(
        st["headStats"]["numSeries"], series,
        "node {node} {tenant}: {st}"
    );
    assert_eq!(
        st["seriesCountByMetricName"], by_metric,
        "node {node} {tenant}: {st}"
    );
    let meta = data(base, tenant, "/api/v1/metadata", &[]).await;
    let names: BTreeSet<&str> = meta
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let want: BTreeSet<&str> = if tenant == "beta" {
        ["iso_m", "beta_only"].into()
    } else {
        ["iso_m"].into()
    };
    assert_eq!(names, want, "node {node} {tenant} metadata: {meta}");
    let help = format!("{tenant} help");
    assert_eq!(
        meta["iso_m"][0]["help"],
        help.as_str(),
        "node {node}: {meta}"
    );
    let p = [("metric", "beta_only".to_string())];
    let meta = data(base, tenant, "/api/v1/metadata", &p).await;
    assert_eq!(
        meta.as_object().unwrap().len(),
        usize::from(tenant == "beta"),
        "node {node} {tenant}: {meta}"
    );
    let range = |q: &str| {
        [
            ("query", q.to_string()),
            ("start", crash::check::secs(t - 1000)),
            ("end", crash::check::secs(t + 1000)),
        ]
    };
    let ex = data(base, tenant, "/api/v1/query_exemplars", &range("iso_m")).await;
    let ex = ex.as_array().unwrap();
    assert_eq!(ex.len(), 6, "node {node} {tenant}: {ex:?}");
    for s in ex {
        let x: f64 = s["exemplars"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (lo..=hi).contains(&x),
            "node {node} {tenant} exemplar {x}: {s}"
        );
    }
    let ex = data(base, tenant, "/api/v1/query_exemplars", &range("beta_only")).await;
    assert_eq!(
        ex.as_array().unwrap().len(),
        if tenant == "beta" { 2 } else { 0 },
        "node {node} {tenant}: {ex}"
    );
}

/// Objects in the cluster's bucket prefix that belong to `tenant`
/// (`cluster/p<p>/<tenant>/…`), by listing the bucket.
fn tenant_objects(endpoint: &str, tenant: &str) -> usize {
    let body = reqwest::blocking::Client::new()
        .get(format!(
            "{endpoint}/{}?list-type=2&prefix=cluster/",
            weed::BUCKET
        ))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    body.split("<Key>")
        .skip(1)
        .filter(|k| k.contains(&format!("/{tenant}/")))
        .count()
}

/// A tenant deleted through one node is gone through every node: its
/// heads, metadata, exemplars and shipped blocks in every partition; the
/// other tenant's identical series stay; the tenant can write afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_tenant_reaches_every_partition() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::start(3).await;
    let t = now_ms() - 60_000;
    for tenant in ["alpha", "beta"] {
        let b = rich_body("del_m", "same", 12, t, |i| i as f64, "help");
        assert_eq!(write(s.base(0), tenant, b).await.status(), 204);
    }
    // Part of each tenant's data in shipped blocks, the rest in heads;
    // strong reads first, so the owners hold what they flush.
    for tenant in ["alpha", "beta"] {
        let v = strong_query(s.base(0), tenant, "count(del_m)", t).await;
        assert_eq!(v["result"][0]["value"][1], "12", "{tenant}: {v}");
    }
    for node in 0..3 {
        for tenant in ["alpha", "beta"] {
            let r = client()
                .post(format!("{}/api/v1/admin/tsdb/flush", s.base(node)))
                .header("X-Scope-OrgID", tenant)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
        }
    }
    let objects = |tenant: &'static str| {
        let endpoint = s.weed.endpoint.clone();
        tokio::task::block_in_place(move || tenant_objects(&endpoint, tenant))
    };
    // Shipping runs in the background: wait until both counts hold still.
    let mut last = (0, 0);
    for _ in 0..60 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let now = (objects("alpha"), objects("beta"));
        if now == last && now.0 > 0 && now.1 > 0 {
            break;
        }
        last = now;
    }
    let (before, beta_before) = last;
    assert!(
        before >= 3 && beta_before >= 3,
        "blocks were not shipped: {last:?}"
    );
    let b = rich_body("del_m", "same", 12, t + 30_000, |i| i as f64, "help");
    assert_eq!(write(s.base(0), "alpha", b).await.status(), 204);
    // Refused without confirmation, then accepted through node B.
    let del = |confirm: &str| {
        client()
            .delete(format!("{}/api/v1/admin/tenants/alpha", s.base(1)))
            .header("X-Scope-OrgID", "alpha")
            .query(&[("confirm", confirm)])
            .send()
    };
    assert_eq!(del("beta").await.unwrap().status(), 400);
    let r = del("alpha").await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let ts = crash::check::secs(t + 30_000);
    let range = [
        ("query", "del_m".to_string()),
        ("start", crash::check::secs(t - 1000)),
        ("end", ts.clone()),
    ];
    for node in 0..3 {
        let base = s.base(node);
        let q = [
            ("query", "count_over_time(del_m[5m])".to_string()),
            ("time", ts.clone()),
        ];
        let v = data(base, "alpha", "/api/v1/query", &q).await;
        assert_eq!(v["result"], serde_json::json!([]), "node {node}: {v}");
        let v = data(base, "beta", "/api/v1/query", &q).await;
        assert_eq!(
            v["result"].as_array().unwrap().len(),
            12,
            "node {node}: {v}"
        );
        let v = data(base, "alpha", "/api/v1/metadata", &[]).await;
        assert_eq!(v, serde_json::json!({}), "node {node}");
        let v = data(base, "alpha", "/api/v1/query_exemplars", &range).await;
        assert_eq!(v, serde_json::json!([]), "node {node}");
        let v = data(base, "beta", "/api/v1/query_exemplars", &range).await;
        assert_eq!(v.as_array().unwrap().len(), 6, "node {node}: {v}");
        let v = data(base, "alpha", "/api/v1/status/tsdb", &[]).await;
        assert_eq!(v["headStats"]["numSeries"], 0, "node {node}: {v}");
    }
    // The strong reads waited for every owner to consume the record, so
    // the shipped blocks are gone already; beta's are untouched.
    assert_eq!(objects("alpha"), 0, "alpha objects left in the bucket");
    assert_eq!(objects("beta"), beta_before, "beta's objects changed");
    // The tenant starts afresh.
    let b = rich_body("del_new", "x", 2, t + 40_000, |i| i as f64, "new");
    assert_eq!(write(s.base(2), "alpha", b).await.status(), 204);
    let p = [("match[]", "{__name__=~\".+\"}".to_string())];
    let v = data(s.base(0), "alpha", "/api/v1/series", &p).await;
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
}

/// Auth for [`restricted_callers_keep_their_view_through_every_node`]: a
/// writer, a customer whose policy forces `tag="external"`, and an admin.
const AUTH: &str = r#"
auth:
  mode: tokens
  tokens:
    - {name: writer, sha256: "SHA_WRITER", tenant: acme, policy: writer}
    - {name: customer, sha256: "SHA_CUSTOMER", tenant: acme, policy: customer}
    - {name: ops, sha256: "SHA_OPS", tenant: acme, policy: ops}
  policies:
    writer: {write: true}
    customer: {read: true, forced_matchers: ['{tag="external"}']}
    ops: {read: true, admin: true}
  admin_policy: ops
"#;

/// A GET with a bearer token: status and JSON.
async fn get_as(base: &str, token: &str, path: &str, params: &[(&str, String)]) -> (u16, Value) {
    let r = client()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .header("X-Read-Consistency", "strong")
        .query(params)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A caller whose policy hides series sees, through every node, only the
/// metadata and exemplars of metrics it may select, and no head
/// statistics, also when it forges internal reads; the admin sees all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restricted_callers_keep_their_view_through_every_node() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cfg = AUTH
        .replace("SHA_WRITER", &tessera::auth::sha256_hex(b"w-secret"))
        .replace("SHA_CUSTOMER", &tessera::auth::sha256_hex(b"c-secret"))
        .replace("SHA_OPS", &tessera::auth::sha256_hex(b"o-secret"));
    let file = dir.path().join("tessera.yml");
    std::fs::write(&file, cfg).unwrap();
    let extra = vec!["--config".to_string(), file.display().to_string()];
    let s = Stack::start_with(3, extra, Some("o-secret")).await;
    let t = now_ms() - 30_000;
    for (metric, tag, help) in [
        ("pub_m", "external", "public"),
        ("secret_m", "internal", "secret"),
    ] {
        let r = client()
            .post(format!("{}/api/v1/write", s.base(0)))
            .bearer_auth("w-secret")
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .body(rich_body(metric, tag, 4, t, |i| i as f64, help))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }
    let range = [
        ("query", "{__name__=~\".+_m\"}".to_string()),
        ("start", crash::check::secs(t - 1000)),
        ("end", crash::check::secs(t + 1000)),
    ];
    // What the admin's forged reads of each node's own partitions find:
    // both metrics, so the customer's reads below reached both too.
    let mut admin_sees = BTreeSet::new();
    for node in 0..3 {
        let base = s.base(node);
        let (code, v) = get_as(base, "c-secret", "/api/v1/metadata", &[]).await;
        assert_eq!(code, 200, "{v}");
        let names: Vec<&String> = v["data"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["pub_m"], "node {node}: {v}");
        let (code, v) = get_as(base, "c-secret", "/api/v1/query_exemplars", &range).await;
        assert_eq!(code, 200, "{v}");
        let series = v["data"].as_array().unwrap();
        assert_eq!(series.len(), 2, "node {node}: {v}");
        assert!(
            series
                .iter()
                .all(|s| s["seriesLabels"]["__name__"] == "pub_m"),
            "{v}"
        );
        let (code, v) = get_as(base, "c-secret", "/api/v1/status/tsdb", &[]).await;
        assert_eq!(code, 403, "node {node}: {v}");
        let (code, v) = get_as(base, "o-secret", "/api/v1/metadata", &[]).await;
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["data"].as_object().unwrap().len(), 2, "node {node}: {v}");
        let (code, v) = get_as(base, "o-secret", "/api/v1/status/tsdb", &[]).await;
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["data"]["headStats"]["numSeries"], 8, "node {node}: {v}");
        // Forged internal reads with the customer's credential.
        let forged = |op: Value| {
            serde_json::json!({
                "tenant": "acme", "partitions": (0..PARTITIONS).collect::<Vec<_>>(),
                "mint": 0, "maxt": i64::MAX / 2, "op": op, "matchers": [],
            })
        };
        let post = |body: Value, token: &'static str| {
            client()
                .post(format!("{base}/internal/cluster/read"))
                .bearer_auth(token)
                .json(&body)
                .send()
        };
        let r = post(forged(serde_json::json!("tsdb_status")), "c-secret")
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "node {node}: {}", r.text().await.unwrap());
        // Any one node owns only some partitions: ask each node for its own.
        let st = status_as(base, Some("o-secret")).await.unwrap();
        let mine: Vec<u64> = st["partition_status"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["owner"] == NODES[node])
            .map(|p| p["partition"].as_u64().unwrap())
            .collect();
        let mut body = forged(serde_json::json!({"metadata": {"metric": null}}));
        body["partitions"] = serde_json::json!(mine);
        let r = post(body.clone(), "c-secret").await.unwrap();
        assert_eq!(r.status(), 200);
        let reply: Value = r.json().await.unwrap();
        for m in reply["metadata"].as_array().unwrap() {
            assert_eq!(m["metric"], "pub_m", "node {node} leaks {m}");
        }
        let reply: Value = post(body, "o-secret").await.unwrap().json().await.unwrap();
        for m in reply["metadata"].as_array().unwrap() {
            admin_sees.insert(m["metric"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        admin_sees,
        BTreeSet::from(["pub_m".into(), "secret_m".into()])
    );
}

//! Pushgateway-style push in cluster mode: the group registry is
//! cluster-wide (the NATS key-value bucket `tessera_push_groups`), tested
//! on a real three-server NATS JetStream cluster, SeaweedFS and three
//! `tessera` processes on loopback.
//!
//! - a group pushed through node A, replaced through node B and deleted
//!   through node C: stale markers for what vanished, read strongly;
//! - two tenants with the same group names through different nodes, their
//!   series and their registries (read from the bucket) apart, and a
//!   deleted tenant's registry gone from the bucket;
//! - a registry over the bucket's value limit refused with 413, nothing
//!   stored;
//! - the write time carried across nodes in the registry (a node whose
//!   clock runs ahead pushed last);
//! - concurrent pushes to different groups of one tenant through two
//!   nodes: every group kept (the compare-and-set retried on conflict).

mod cluster_stack;
mod crash;
mod nats;
mod weed;

use std::collections::BTreeSet;

use async_nats::jetstream::kv::Operation;
use cluster_stack::*;
use serde_json::Value;

/// A push (`PUT`, `POST`, `DELETE`) of `body` to `path` for `tenant`.
async fn push(base: &str, tenant: &str, method: &str, path: &str, body: String) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let r = client()
        .request(method, format!("{base}{path}"))
        .header("X-Scope-OrgID", tenant)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A strong instant query now: each series as (labels without the job,
/// value), sorted.
async fn now_series(base: &str, tenant: &str, q: &str) -> Vec<(String, String)> {
    let v = strong_query(base, tenant, q, now_ms()).await;
    let mut out: Vec<(String, String)> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut m = s["metric"].as_object().unwrap().clone();
            m.remove("job");
            (
                Value::Object(m).to_string(),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn series(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(l, v)| (l.to_string(), v.to_string()))
        .collect()
}

/// The bucket, straight from NATS.
async fn bucket(s: &Stack) -> async_nats::jetstream::kv::Store {
    let url = s.nats.urls().split(',').next().unwrap().to_string();
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.get_key_value("tessera_push_groups").await.unwrap()
}

/// The bucket's entry for `tenant` (an id of letters only): its JSON,
/// `None` when there is none (never written, deleted or purged).
async fn registry(s: &Stack, tenant: &str) -> Option<Value> {
    let entry = bucket(s)
        .await
        .entry(format!("t_{tenant}"))
        .await
        .unwrap()?;
    (entry.operation == Operation::Put).then(|| serde_json::from_slice(&entry.value).unwrap())
}

/// The grouping keys a registry holds, as `job` values.
fn jobs(registry: &Value) -> BTreeSet<String> {
    registry["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let grouping = g["grouping"].as_array().unwrap();
            assert_eq!(grouping.len(), 1, "{g}");
            assert_eq!(grouping[0][0], "job", "{g}");
            grouping[0][1].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn groups_are_cluster_wide() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::start(3).await;
    let (a, b, c) = (s.base(0), s.base(1), s.base(2));
    // Pushed through A, replaced through B: y vanishes, x has B's value.
    let put = push(a, "pa", "PUT", "/metrics/job/a", "x 1\ny 2\n".into()).await;
    assert_eq!(put, (200, String::new()));
    let q = "{job=\"a\"}";
    let want = series(&[(r#"{"__name__":"x"}"#, "1"), (r#"{"__name__":"y"}"#, "2")]);
    assert_eq!(now_series(c, "pa", q).await, want);
    let put = push(b, "pa", "PUT", "/metrics/job/a", "x 3\n".into()).await;
    assert_eq!(put, (200, String::new()));
    let want = series(&[(r#"{"__name__":"x"}"#, "3")]);
    assert_eq!(now_series(c, "pa", q).await, want);
    // x holds both pushes at increasing times.
    let v = strong_query(c, "pa", "count_over_time(x[10m])", now_ms()).await;
    assert_eq!(v["result"][0]["value"][1], "2", "{v}");
    // Deleted through C: x goes too, seen through A.
    let del = push(c, "pa", "DELETE", "/metrics/job/a", String::new()).await;
    assert_eq!(del.0, 202, "{del:?}");
    assert_eq!(now_series(a, "pa", q).await, Vec::new());
    let reg = registry(&s, "pa").await.expect("pa's registry");
    assert!(jobs(&reg).is_empty(), "{reg}");

    two_tenants_stay_apart(&s).await;
    too_large_registry_is_refused(&s).await;
    write_time_is_carried_across_nodes(&s).await;
}

/// A node whose clock runs a minute ahead pushed last (its write time is
/// put into the registry directly): a push through another node is
/// stored just after that time, not at its own clock's, so the group's
/// samples keep their order whichever node takes them.
async fn write_time_is_carried_across_nodes(s: &Stack) {
    let (a, b) = (s.base(0), s.base(1));
    assert_eq!(
        push(a, "skew", "PUT", "/metrics/job/k", "s 1\n".into())
            .await
            .0,
        200
    );
    let mut reg = registry(s, "skew").await.unwrap();
    let ahead = now_ms() + 60_000;
    reg["groups"][0]["last_ms"] = ahead.into();
    let value = serde_json::to_vec(&reg).unwrap();
    bucket(s).await.put("t_skew", value.into()).await.unwrap();
    assert_eq!(
        push(b, "skew", "PUT", "/metrics/job/k", "s 2\n".into())
            .await
            .0,
        200
    );
    let reg = registry(s, "skew").await.unwrap();
    assert_eq!(reg["groups"][0]["last_ms"], ahead + 1, "{reg}");
    let v = strong_query(a, "skew", "timestamp(s)", ahead + 1000).await;
    let secs: f64 = v["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!((secs * 1000.0).round() as i64, ahead + 1, "{v}");
}

/// Tenants `ta` and `tb` push the same group names through different
/// nodes; a replacement in one leaves the other alone, and deleting `tb`
/// removes its registry from the bucket only.
async fn two_tenants_stay_apart(s: &Stack) {
    let (a, b, c) = (s.base(0), s.base(1), s.base(2));
    for (tenant, base, v) in [("ta", a, "1"), ("tb", b, "2")] {
        let body = format!("m{{k=\"{tenant}\"}} {v}\n");
        assert_eq!(
            push(base, tenant, "PUT", "/metrics/job/a", body).await.0,
            200
        );
        let body = format!("n{{k=\"{tenant}\"}} {v}\n");
        assert_eq!(
            push(base, tenant, "PUT", "/metrics/job/b", body).await.0,
            200
        );
    }
    // ta's job a replaced through C: its m vanishes, tb's m stays.
    let put = push(c, "ta", "PUT", "/metrics/job/a", "other 5\n".into()).await;
    assert_eq!(put.0, 200, "{put:?}");
    for node in 0..3 {
        let base = s.base(node);
        let ta = now_series(base, "ta", "{job=~\"a|b\"}").await;
        let want = series(&[
            (r#"{"__name__":"n","k":"ta"}"#, "1"),
            (r#"{"__name__":"other"}"#, "5"),
        ]);
        assert_eq!(ta, want, "node {node}");
        let tb = now_series(base, "tb", "{job=~\"a|b\"}").await;
        let want = series(&[
            (r#"{"__name__":"m","k":"tb"}"#, "2"),
            (r#"{"__name__":"n","k":"tb"}"#, "2"),
        ]);
        assert_eq!(tb, want, "node {node}");
    }
    let (ra, rb) = (
        registry(s, "ta").await.unwrap(),
        registry(s, "tb").await.unwrap(),
    );
    let ab: BTreeSet<String> = ["a".into(), "b".into()].into();
    assert_eq!((jobs(&ra), jobs(&rb)), (ab.clone(), ab), "{ra}\n{rb}");
    let (ta_text, tb_text) = (ra.to_string(), rb.to_string());
    assert!(
        ta_text.contains("\"other\"") && !ta_text.contains("\"tb\""),
        "{ta_text}"
    );
    assert!(
        !tb_text.contains("\"other\"") && !tb_text.contains("\"ta\""),
        "{tb_text}"
    );
    // Deleting tb through B takes its registry out of the bucket.
    let r = client()
        .delete(format!("{b}/api/v1/admin/tenants/tb"))
        .header("X-Scope-OrgID", "tb")
        .query(&[("confirm", "tb")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(registry(s, "tb").await, None, "tb's registry left behind");
    assert_eq!(registry(s, "ta").await, Some(ra), "ta's registry changed");
    // A DELETE of tb's old group then marks nothing: the group is unknown.
    assert_eq!(
        push(a, "tb", "DELETE", "/metrics/job/a", String::new())
            .await
            .0,
        202
    );
    assert_eq!(registry(s, "tb").await, None);
}

/// A push whose registry would exceed the bucket's value limit is a 413
/// naming the limit, and stores nothing; the tenant's registry is as it was.
async fn too_large_registry_is_refused(s: &Stack) {
    let (a, b) = (s.base(0), s.base(1));
    assert_eq!(
        push(a, "big", "PUT", "/metrics/job/small", "s 1\n".into())
            .await
            .0,
        200
    );
    let before = registry(s, "big").await.unwrap();
    // 4,000 series with 250-byte label values: about 1.1 MB of registry.
    let pad = "p".repeat(250);
    let body: String = (0..4000)
        .map(|i| format!("big{{i=\"{i}\",pad=\"{pad}\"}} {i}\n"))
        .collect();
    let (code, text) = push(b, "big", "PUT", "/metrics/job/huge", body).await;
    assert_eq!(code, 413, "{text}");
    assert!(
        text.contains("more than the limit of 983040 bytes") && text.contains("nothing stored"),
        "{text}"
    );
    assert_eq!(now_series(a, "big", "count(big)").await, Vec::new());
    assert_eq!(registry(s, "big").await, Some(before));
    // Smaller pushes of the same group still go through.
    let body: String = (0..10).map(|i| format!("big{{i=\"{i}\"}} {i}\n")).collect();
    assert_eq!(
        push(b, "big", "PUT", "/metrics/job/huge", body).await.0,
        200
    );
    let v = now_series(a, "big", "count(big)").await;
    assert_eq!(v, series(&[("{}", "10")]));
}

/// Pushes from two nodes at once to different groups of one tenant: every
/// group ends up in the registry (a lost update would drop one), so
/// deleting every group marks every series stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_keep_every_group() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::start(3).await;
    const TASKS: usize = 8;
    const GROUPS: usize = 6;
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let base = s.base(task % 2).to_string();
        tasks.push(tokio::spawn(async move {
            for g in 0..GROUPS {
                let job = format!("g{task}_{g}");
                let body = format!("cc{{part=\"1\"}} {task}\ncc{{part=\"2\"}} {g}\n");
                let path = format!("/metrics/job/{job}");
                let r = push(&base, "cc", "PUT", &path, body).await;
                assert_eq!(r.0, 200, "{job}: {r:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let pushing = started.elapsed();
    let groups = TASKS * GROUPS;
    let c = s.base(2);
    let v = now_series(c, "cc", "count(cc)").await;
    assert_eq!(v, series(&[("{}", &(2 * groups).to_string())]));
    let reg = registry(&s, "cc").await.unwrap();
    assert_eq!(jobs(&reg).len(), groups, "{reg}");
    let mut conflicts = 0;
    for node in 0..2 {
        conflicts += counter(s.base(node), "tessera_cluster_push_group_conflicts_total").await;
    }
    eprintln!(
        "{groups} groups pushed concurrently through two nodes in {pushing:?}; {conflicts} conflicts retried"
    );
    // Eight tasks on two nodes collide (24 to 32 retries in measured
    // runs); none would mean the test did not exercise the compare-and-set.
    assert!(conflicts > 0, "no push-group conflict: nothing raced");
    let started = std::time::Instant::now();
    for task in 0..TASKS {
        for g in 0..GROUPS {
            let path = format!("/metrics/job/g{task}_{g}");
            assert_eq!(push(c, "cc", "DELETE", &path, String::new()).await.0, 202);
        }
    }
    let each = started.elapsed() / groups as u32;
    eprintln!("{groups} group DELETEs one after another through one node: {each:?} each");
    assert_eq!(now_series(c, "cc", "count(cc)").await, Vec::new());
    assert!(jobs(&registry(&s, "cc").await.unwrap()).is_empty());
}

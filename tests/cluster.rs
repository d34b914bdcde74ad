//! Cluster mode end to end: a real three-server NATS JetStream cluster,
//! SeaweedFS and three `tessera` processes on loopback, all started here.
//!
//! - kill -9 of a partition owner while writes go to another node: every
//!   acknowledged sample is read back exactly once through a third node,
//!   nothing that was never sent;
//! - kill -9 of one NATS server under write load: writes go on, nothing
//!   acknowledged is lost;
//! - a retried request is not stored twice (the log drops it by its
//!   `Nats-Msg-Id`, whichever node it reaches);
//! - `X-Read-Consistency: strong` reads see a write at once.
//!
//! Reads through every node (status/tsdb, metadata, exemplars, tenant
//! isolation) are in `tests/cluster_reads.rs`.
//!
//! Each test starts its own stack; they run one at a time (the machine
//! has few cores, and each stack is seven processes).

mod cluster_stack;
mod crash;
mod nats;
mod weed;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use cluster_stack::*;
use serde_json::Value;
use tessera::ingest::proto::{encode_snappy, v1};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_owner_loses_no_acknowledged_sample() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Stack::start(3).await;
    // Node B owns some partitions (balanced: two of six each).
    let st = status(s.base(0)).await.unwrap();
    let b_owns = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "node-b")
        .map(|n| n["owns"].as_array().unwrap().len())
        .unwrap_or(0);
    assert!(b_owns > 0, "node-b owns nothing: {st:#}");
    let first_t = now_ms() - 60_000;
    let load = crash::load::Load::start(s.base(0), first_t);
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.nodes[1].kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let logs = load.stop().await;
    // B's partitions move to A and C within a lease TTL, and the new
    // owners replay the log.
    s.wait_owned(2, &["node-a", "node-c"]).await;
    // A strong read through C waits until the owners have consumed
    // everything the log holds.
    let data = strong_query(
        s.base(2),
        crash::load::TENANT,
        "count(durab_sample)",
        now_ms(),
    )
    .await;
    assert_eq!(data["result"][0]["value"][1], "32", "{data}");
    let v = crash::check::verify(s.base(2), &logs).await;
    let (acked, refused, failed) = v.requests;
    eprintln!("owner kill: {acked} requests acknowledged, {refused} refused, {failed} failed; {} samples verified", v.acked);
    assert!(acked > 50, "too few writes acknowledged: {v:?}");
    assert_eq!(
        refused + failed,
        0,
        "writes through node A failed while B died: {v:?}"
    );
    // Now through the bucket: the owners flush their heads into blocks,
    // which ship, each recording the log sequence it covers; a few more
    // writes follow; then node C dies too, and A, owning everything,
    // replays only what C's shipped blocks do not cover, into empty
    // storages next to them. Every acknowledged sample is still there
    // once, with its value.
    for node in [0, 2] {
        let r = client()
            .post(format!("{}/api/v1/admin/tsdb/flush", s.base(node)))
            .header("X-Scope-OrgID", crash::load::TENANT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }
    let shipped = wait_shipped(&s, 2).await;
    // After everything the load wrote (its clock runs ahead of the wall
    // clock), so the flushed heads do not refuse them as too old.
    let late_t = logs
        .iter()
        .flat_map(|l| &l.batches)
        .map(|b| b.first_t + crash::load::SAMPLES_PER_BATCH)
        .max()
        .unwrap_or(first_t)
        .max(now_ms())
        + 1000;
    let (late_writes, late_series) = (10i64, 24usize);
    for k in 0..late_writes {
        let b = body("late", "x", late_series, late_t + k * 1000, |i| i as f64);
        let r = write(s.base(0), crash::load::TENANT, b).await;
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }
    // Let C consume the late writes, so what it shipped covers less than
    // the log holds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log_len = log_length(s.base(0)).await;
    let replayed_before = counter(s.base(0), "tessera_cluster_replayed_messages_total").await;
    s.nodes[2].kill();
    s.wait_owned(0, &["node-a"]).await;
    let data = strong_query(
        s.base(0),
        crash::load::TENANT,
        "count(durab_sample)",
        now_ms(),
    )
    .await;
    assert_eq!(data["result"][0]["value"][1], "32", "{data}");
    let again = crash::check::verify(s.base(0), &logs).await;
    assert_eq!(again.acked, v.acked, "{again:?}");
    let q = format!("sum(count_over_time(late[1h])) + sum(sum_over_time(late[1h]))");
    let data = strong_query(s.base(0), crash::load::TENANT, &q, late_t + 60_000).await;
    let per_write = late_series as i64 + (0..late_series as i64).sum::<i64>();
    let want = (late_writes * per_write).to_string();
    assert_eq!(data["result"][0]["value"][1], want, "{data}");
    // A replayed only the messages after what C's blocks cover: at most
    // the late writes (one message per partition each), far fewer than
    // the whole retained log of C's partitions.
    let replayed =
        counter(s.base(0), "tessera_cluster_replayed_messages_total").await - replayed_before;
    let most = late_writes as u64 * u64::from(PARTITIONS);
    assert!(
        replayed <= most && replayed * 4 < log_len,
        "A replayed {replayed} messages of a {log_len}-message log"
    );
    let st = status(s.base(0)).await.unwrap();
    let from: Vec<u64> = st["partition_status"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["replay_from"].as_u64())
        .collect();
    assert!(
        from.iter().any(|&f| f > 1),
        "no replay started past 1: {st:#}"
    );
    eprintln!(
        "after C's death too: {shipped} blocks were in the bucket; {} samples verified again; \
         A replayed {replayed} messages of a {log_len}-message log (replay from {from:?})",
        again.acked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_joining_node_takes_its_share_without_restarts() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Stack::start(2).await;
    let t0 = now_ms() - 120_000;
    for k in 0..40i64 {
        let r = write(
            s.base((k % 2) as usize),
            "join",
            body("join_m", "x", 30, t0 + k * 1000, |i| i as f64),
        )
        .await;
        assert_eq!(r.status(), 204);
    }
    // node-c joins: the others hand partitions over, no restart.
    s.add_node("node-c").await;
    s.wait_owned(0, &NODES).await;
    for k in 40..80i64 {
        let r = write(
            s.base((k % 3) as usize),
            "join",
            body("join_m", "x", 30, t0 + k * 1000, |i| i as f64),
        )
        .await;
        assert_eq!(r.status(), 204);
    }
    let end = t0 + 79_000;
    for node in 0..3 {
        let data = strong_query(s.base(node), "join", "count_over_time(join_m[5m])", end).await;
        let result = data["result"].as_array().unwrap();
        assert_eq!(result.len(), 30, "node {node}: {data}");
        assert!(
            result.iter().all(|r| r["value"][1] == "80"),
            "node {node}: {data}"
        );
    }
    let st = status(s.base(2)).await.unwrap();
    let owners: BTreeSet<&str> = st["partition_status"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["owner"].as_str())
        .collect();
    assert_eq!(owners, NODES.into_iter().collect(), "{st}");
}

/// All of NATS gone: the nodes cannot renew their leases, give their
/// partitions up within a TTL and answer reads with 503 instead of
/// possibly stale data; writes are refused (503), not acknowledged; when
/// NATS returns, the partitions are taken again and every acknowledged
/// sample is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_cut_off_from_nats_stop_answering_and_recover() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Stack::start(2).await;
    let t = now_ms() - 20_000;
    let r = write(s.base(0), "cut", body("cut_m", "x", 40, t, |i| i as f64)).await;
    assert_eq!(r.status(), 204);
    let data = strong_query(s.base(1), "cut", "count(cut_m)", t).await;
    assert_eq!(data["result"][0]["value"][1], "40", "{data}");
    tokio::task::block_in_place(|| (0..3).for_each(|i| s.nats.kill(i)));
    let p = [
        ("query", "count(cut_m)".to_string()),
        ("time", crash::check::secs(t)),
    ];
    let started = Instant::now();
    loop {
        let (code, v) = get(s.base(0), "cut", "/api/v1/query", &p, false).await;
        if code == 503 {
            break;
        }
        assert_eq!(code, 200, "{v}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still answering without NATS: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = write(
        s.base(1),
        "cut",
        body("cut_m", "x", 40, t + 1000, |i| i as f64),
    )
    .await;
    assert_eq!(r.status(), 503, "a write acknowledged without the log");
    tokio::task::block_in_place(|| (0..3).for_each(|i| s.nats.restart(i)));
    let data = strong_query(s.base(1), "cut", "count_over_time(cut_m[1m])", t + 1000).await;
    let result = data["result"].as_array().unwrap();
    assert_eq!(result.len(), 40, "{data}");
    assert!(result.iter().all(|r| r["value"][1] == "1"), "{data}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_nats_server_loses_no_acknowledged_sample() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Stack::start(2).await;
    let first_t = now_ms() - 60_000;
    let load = crash::load::Load::start(s.base(0), first_t);
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::task::block_in_place(|| s.nats.kill(0));
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let logs = load.stop().await;
    let data = strong_query(
        s.base(1),
        crash::load::TENANT,
        "count(durab_sample)",
        now_ms(),
    )
    .await;
    assert_eq!(data["result"][0]["value"][1], "32", "{data}");
    let v = crash::check::verify(s.base(1), &logs).await;
    let (acked, refused, failed) = v.requests;
    eprintln!(
        "NATS server kill: {acked} requests acknowledged, {refused} refused, {failed} failed; {} samples verified, {} of {} unacknowledged samples present; {:?} since the kill",
        v.acked, v.unknown_present, v.unknown, killed_at.elapsed()
    );
    // Writes go on: the senders' last requests (after the kill) succeeded.
    for log in &logs {
        let tail: Vec<_> = log.batches.iter().rev().take(5).collect();
        assert!(
            tail.iter()
                .all(|b| b.outcome == crash::load::Outcome::Acked),
            "sender {} still failing after the NATS server died: {tail:?}\n{}",
            log.sender,
            s.logs()
        );
    }
    assert!(acked > 50, "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retried_request_is_stored_once() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::start(3).await;
    let t = now_ms() - 10_000;
    let b = body("retry_m", "x", 50, t, |i| i as f64 + 0.5);
    let r = write(s.base(0), "rt", b.clone()).await;
    assert_eq!(r.status(), 204);
    // The log length settles once the lease loops have seen it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = log_length(s.base(0)).await;
    assert!(before > 0);
    // The client retries the same request, through each node.
    for i in 0..3 {
        let r = write(s.base(i), "rt", b.clone()).await;
        assert_eq!(r.status(), 204);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = log_length(s.base(0)).await;
    assert_eq!(before, after, "the retries added messages to the log");
    let mut dups = 0u64;
    for i in 0..3 {
        dups += counter(s.base(i), "tessera_cluster_duplicate_messages_total").await;
    }
    assert!(dups >= 3, "the stream reported {dups} duplicate messages");
    let data = strong_query(s.base(1), "rt", "count_over_time(retry_m[1m])", t + 1).await;
    let result = data["result"].as_array().unwrap();
    assert_eq!(result.len(), 50, "{data}");
    assert!(result.iter().all(|r| r["value"][1] == "1"), "{data}");
    // A different request with new samples is stored.
    let r = write(
        s.base(2),
        "rt",
        body("retry_m", "x", 50, t + 1000, |i| i as f64),
    )
    .await;
    assert_eq!(r.status(), 204);
    let data = strong_query(s.base(0), "rt", "count_over_time(retry_m[1m])", t + 1001).await;
    let result = data["result"].as_array().unwrap();
    assert!(result.iter().all(|r| r["value"][1] == "2"), "{data}");
    // A series with bad labels is refused by the node that takes the write
    // (a partial write, as on one node); the good series of the request
    // are stored.
    let label = |n: &str, v: &str| v1::Label {
        name: n.into(),
        value: v.into(),
    };
    let sample = v1::Sample {
        value: 4.0,
        timestamp: t + 2000,
    };
    let req = v1::WriteRequest {
        timeseries: vec![
            v1::TimeSeries {
                labels: vec![label("__name__", "bad_m"), label("a", "1"), label("a", "2")],
                samples: vec![sample.clone()],
                ..Default::default()
            },
            v1::TimeSeries {
                labels: vec![label("__name__", "good_m")],
                samples: vec![sample],
                ..Default::default()
            },
        ],
        metadata: Vec::new(),
    };
    let r = write(s.base(1), "rt", encode_snappy(&req)).await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("duplicate label name") && text.contains("bad_m"),
        "{text}"
    );
    let data = strong_query(s.base(2), "rt", "good_m or bad_m", t + 2000).await;
    assert_eq!(data["result"].as_array().unwrap().len(), 1, "{data}");
    assert_eq!(data["result"][0]["metric"]["__name__"], "good_m", "{data}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strong_reads_see_the_write_at_once() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::start(3).await;
    let t0 = now_ms() - 100_000;
    for k in 0..30i64 {
        let t = t0 + k * 1000;
        let w = (k % 3) as usize;
        let r = write(
            s.base(w),
            "sc",
            body("strong_m", "x", 20, t, |i| (k * 100 + i as i64) as f64),
        )
        .await;
        assert_eq!(r.status(), 204);
        // Immediately, through another node, once: no retry.
        let p = [
            ("query", "sum(strong_m)".to_string()),
            ("time", crash::check::secs(t)),
        ];
        let (code, v) = get(s.base((w + 1) % 3), "sc", "/api/v1/query", &p, true).await;
        assert_eq!(code, 200, "{v}");
        let want: i64 = (0..20).map(|i| k * 100 + i).sum();
        assert_eq!(
            v["data"]["result"][0]["value"][1],
            want.to_string(),
            "write {k}: {v}"
        );
        // The sample is the newest: its timestamp is t.
        let p = [
            ("query", "timestamp(strong_m{i=\"0\"})".to_string()),
            ("time", crash::check::secs(t)),
        ];
        let (_, v) = get(s.base((w + 2) % 3), "sc", "/api/v1/query", &p, true).await;
        assert_eq!(
            v["data"]["result"][0]["value"][1],
            crash::check::secs(t)
                .trim_end_matches('0')
                .trim_end_matches('.'),
            "write {k}: {v}"
        );
    }
    // An owner waits for the log only as long as the asking node has time
    // left (`wait_ms`), not its own 20 s: a strong read that retries or
    // reads several selectors still answers within one timeout.
    let st = status(s.base(0)).await.unwrap();
    let mine = st["partition_status"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["owner"] == NODES[0])
        .map(|p| p["partition"].as_u64().unwrap())
        .expect("node-a owns a partition");
    let req = serde_json::json!({
        "tenant": "sc",
        "partitions": [mine],
        "wait": [[mine, 1u64 << 50]],
        "mint": t0,
        "maxt": t0 + 30_000,
        "op": {"select": {"with_st": false}},
        "matchers": [{"name": "__name__", "op": "=", "value": "strong_m"}],
        "wait_ms": 300,
    });
    let r = client()
        .post(format!("{}/internal/cluster/read", s.base(0)))
        .header("X-Scope-OrgID", "sc")
        .json(&req)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(code, 503, "{text}");
    assert!(
        text.contains(&format!("partition {mine} on node {}", NODES[0]))
            && text.contains("gave up after 300ms"),
        "{text}"
    );
}

/// An integer native histogram: 3 observations, sum 4.5, one in the zero
/// bucket and one in each of the first two positive buckets of schema 0.
fn int_histogram(ts: i64) -> v1::Histogram {
    v1::Histogram {
        count: Some(v1::Count::CountInt(3)),
        sum: 4.5,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: Some(v1::ZeroCount::ZeroCountInt(1)),
        positive_spans: vec![v1::BucketSpan {
            offset: 0,
            length: 2,
        }],
        positive_deltas: vec![1, 0],
        timestamp: ts,
        ..Default::default()
    }
}

/// Native histograms written through one node travel through the log
/// and come back through another as Prometheus writes them; one too
/// large for a log message is refused as a partial write naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn histograms_travel_through_the_log() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::start(3).await;
    let t0 = (now_ms() / 1000) * 1000 - 120_000;
    let series = 12;
    let timeseries = (0..series)
        .map(|i| v1::TimeSeries {
            labels: vec![
                v1::Label {
                    name: "__name__".into(),
                    value: "hist_m".into(),
                },
                v1::Label {
                    name: "i".into(),
                    value: i.to_string(),
                },
            ],
            histograms: vec![int_histogram(t0), int_histogram(t0 + 60_000)],
            ..Default::default()
        })
        .collect();
    let b = encode_snappy(&v1::WriteRequest {
        timeseries,
        metadata: Vec::new(),
    });
    let r = write(s.base(0), "hist", b).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let h = serde_json::json!({
        "count": "3",
        "sum": "4.5",
        "buckets": [[3, "-0.001", "0.001", "1"], [0, "0.5", "1", "1"], [0, "1", "2", "1"]]
    });
    // An instant query through C: every series, each with its histogram.
    let data = strong_query(s.base(2), "hist", "hist_m", t0 + 60_000).await;
    let result = data["result"].as_array().unwrap();
    assert_eq!(result.len(), series, "{data}");
    for r in result {
        assert_eq!(r["histogram"][1], h, "{data}");
        assert!(r.get("value").is_none(), "{data}");
    }
    // Usage counts what the fan-out read on the node that answered (C:
    // both histograms of each series are in the lookback window), and
    // nothing on A, which only took the write.
    let samples_read = |v: &Value| v["data"]["total"]["samples_read"].as_u64().unwrap();
    let (code, u) = get(s.base(2), "hist", "/api/v1/status/usage", &[], false).await;
    assert_eq!(code, 200, "{u}");
    assert_eq!(samples_read(&u), 2 * series as u64, "{u}");
    let (_, u) = get(s.base(0), "hist", "/api/v1/status/usage", &[], false).await;
    assert_eq!(samples_read(&u), 0, "{u}");
    // A range query through B: both points of one series.
    let p = [
        ("query", "hist_m{i=\"3\"}".to_string()),
        ("start", crash::check::secs(t0)),
        ("end", crash::check::secs(t0 + 60_000)),
        ("step", "60".to_string()),
    ];
    let (code, v) = get(s.base(1), "hist", "/api/v1/query_range", &p, true).await;
    assert_eq!(code, 200, "{v}");
    let points = v["data"]["result"][0]["histograms"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{v}");
    assert!(points.iter().all(|p| p[1] == h), "{v}");
    // A histogram of 500,000 buckets encodes to more than a log message
    // takes: its series is refused (400, naming it), the other stored.
    let big = v1::Histogram {
        count: Some(v1::Count::CountInt(500_000)),
        sum: 1.0,
        schema: 0,
        zero_count: Some(v1::ZeroCount::ZeroCountInt(0)),
        positive_spans: vec![v1::BucketSpan {
            offset: 0,
            length: 500_000,
        }],
        positive_deltas: std::iter::once(1)
            .chain(std::iter::repeat_n(0, 499_999))
            .collect(),
        timestamp: t0 + 60_000,
        ..Default::default()
    };
    let one = |name: &str, h: v1::Histogram| v1::TimeSeries {
        labels: vec![v1::Label {
            name: "__name__".into(),
            value: name.into(),
        }],
        histograms: vec![h],
        ..Default::default()
    };
    let b = encode_snappy(&v1::WriteRequest {
        timeseries: vec![one("huge_m", big), one("small_m", int_histogram(t0))],
        metadata: Vec::new(),
    });
    let r = write(s.base(0), "hist", b).await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("huge_m") && text.contains("the most one message of the cluster's log takes"),
        "{text}"
    );
    let data = strong_query(s.base(2), "hist", "{__name__=~\"small_m|huge_m\"}", t0).await;
    let result = data["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{data}");
    assert_eq!(result[0]["metric"]["__name__"], "small_m", "{data}");
}

/// A read that would gather more samples from the owners than the query
/// limit is refused with the limit's error (422), not answered unbounded;
/// a narrower one still works, and the nodes stay healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fan_out_is_bounded_by_the_sample_limit() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::start(3).await;
    let t0 = now_ms() - 700_000;
    // 2000 series x 600 samples = 1.2 M samples, over the 1 M limit.
    for k in 0..4i64 {
        let timeseries = (0..2000)
            .map(|i| v1::TimeSeries {
                labels: vec![
                    v1::Label {
                        name: "__name__".into(),
                        value: "big_m".into(),
                    },
                    v1::Label {
                        name: "i".into(),
                        value: i.to_string(),
                    },
                ],
                samples: (k * 150..(k + 1) * 150)
                    .map(|j| v1::Sample {
                        value: j as f64,
                        timestamp: t0 + j * 1000,
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        let b = encode_snappy(&v1::WriteRequest {
            timeseries,
            metadata: Vec::new(),
        });
        let r = write(s.base(k as usize % 3), "big", b).await;
        assert_eq!(r.status(), 204);
    }
    let end = t0 + 599_000;
    let p = [
        ("query", "count_over_time(big_m[15m])".to_string()),
        ("time", crash::check::secs(end)),
    ];
    for node in 0..3 {
        let (code, v) = get(s.base(node), "big", "/api/v1/query", &p, true).await;
        assert_eq!(code, 422, "node {node}: {v}");
        assert_eq!(v["errorType"], "execution", "{v}");
        assert!(
            v["error"].as_str().unwrap().contains("too many samples"),
            "{v}"
        );
    }
    let data = strong_query(
        s.base(1),
        "big",
        "count_over_time(big_m{i=\"7\"}[15m])",
        end,
    )
    .await;
    assert_eq!(data["result"][0]["value"][1], "600", "{data}");
    for node in 0..3 {
        let r = client()
            .get(format!("{}/-/healthy", s.base(node)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[test]
fn cluster_mode_needs_object_storage_and_valid_settings() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(Path::new("/nonexistent-tessera-test-dir"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} started");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = run(&["--cluster.nats-url=nats://127.0.0.1:1"]);
    assert!(e.contains("object_storage.url"), "{e}");
    let os = "--object-storage.url=memory://x";
    let e = run(&[
        "--cluster.nats-url=nats://127.0.0.1:1",
        os,
        "--cluster.partitions=0",
    ]);
    assert!(e.contains("cluster.partitions"), "{e}");
    let e = run(&[
        "--cluster.nats-url=nats://127.0.0.1:1",
        os,
        "--cluster.node-id=a b",
    ]);
    assert!(e.contains("cluster.node_id"), "{e}");
    let e = run(&[
        "--cluster.nats-url=nats://127.0.0.1:1",
        os,
        "--cluster.node-id=a",
        "--cluster.replicas=9",
    ]);
    assert!(e.contains("cluster.replicas"), "{e}");
    // Nothing listens on port 1: the error names NATS and the URL.
    let e = run(&[
        "--cluster.nats-url=nats://127.0.0.1:1",
        os,
        "--cluster.node-id=a",
    ]);
    assert!(e.contains("NATS") && e.contains("127.0.0.1:1"), "{e}");
}

//! The cluster tests' stack: a real three-server NATS JetStream cluster,
//! SeaweedFS and `tessera` nodes on loopback, and the HTTP helpers the
//! tests share (`tests/cluster.rs`, `tests/cluster_reads.rs`).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::crash;
use crate::crash::server::Proc;
use crate::nats::Nats;
use crate::weed::{Weed, BUCKET};
use serde_json::Value;
use tessera::ingest::proto::{encode_snappy, v1};

/// One stack at a time.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub const PARTITIONS: u32 = 6;
pub const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// NATS, SeaweedFS and the Tessera nodes.
pub struct Stack {
    pub nodes: Vec<Proc>,
    pub nats: Nats,
    pub weed: Weed,
    pub dir: tempfile::TempDir,
    /// The bearer token the stack's own status checks send, if auth is on.
    pub token: Option<String>,
}

/// `serve` flags of node `id`.
pub fn node_args(id: &str, nats: &Nats, weed: &Weed) -> Vec<String> {
    vec![
        format!("--cluster.nats-url={}", nats.urls()),
        format!("--cluster.node-id={id}"),
        format!("--cluster.partitions={PARTITIONS}"),
        "--cluster.replicas=3".into(),
        "--cluster.lease-ttl=3s".into(),
        "--cluster.strong-read-timeout=20s".into(),
        "--query.max-samples=1000000".into(),
        "--maintenance-interval=1s".into(),
        format!("--object-storage.url=s3://{BUCKET}/cluster"),
        format!("--object-storage.endpoint={}", weed.endpoint),
        "--object-storage.region=us-east-1".into(),
        "--object-storage.access-key-id=test".into(),
        "--object-storage.secret-access-key=test".into(),
        "--object-storage.allow-http".into(),
    ]
}

impl Stack {
    pub async fn start(n: usize) -> Stack {
        Stack::start_with(n, Vec::new(), None).await
    }

    /// [`Stack::start`] with more `serve` flags for every node, and the
    /// bearer token of a reader when they turn auth on.
    pub async fn start_with(n: usize, extra: Vec<String>, token: Option<&str>) -> Stack {
        let nats = tokio::task::block_in_place(Nats::start);
        let weed = tokio::task::block_in_place(Weed::start);
        let dir = tempfile::tempdir().unwrap();
        let mut nodes = Vec::new();
        for id in &NODES[..n] {
            let d = dir.path().join(id);
            std::fs::create_dir_all(&d).unwrap();
            let env = vec![("RUST_LOG".to_string(), "info".to_string())];
            let mut args = node_args(id, &nats, &weed);
            args.extend(extra.iter().cloned());
            nodes.push(Proc::start_with(&d, None, args, env).await);
        }
        let s = Stack {
            nodes,
            nats,
            weed,
            dir,
            token: token.map(str::to_string),
        };
        s.wait_owned(0, &NODES[..n]).await;
        s
    }

    /// Starts one more node, `id`, with the same settings.
    pub async fn add_node(&mut self, id: &str) {
        let d = self.dir.path().join(id);
        std::fs::create_dir_all(&d).unwrap();
        let env = vec![("RUST_LOG".to_string(), "info".to_string())];
        let args = node_args(id, &self.nats, &self.weed);
        self.nodes.push(Proc::start_with(&d, None, args, env).await);
    }

    pub fn base(&self, i: usize) -> &str {
        &self.nodes[i].base
    }

    /// Waits until node `via` sees every partition owned by one of `live`
    /// and every one of `live` owning some (when there are enough).
    pub async fn wait_owned(&self, via: usize, live: &[&str]) {
        let started = Instant::now();
        let mut last = Value::Null;
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(st) = status_as(self.base(via), self.token.as_deref()).await {
                let owners: Vec<Option<String>> = st["partition_status"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["owner"].as_str().map(str::to_string))
                    .collect();
                let all_live = owners
                    .iter()
                    .all(|o| o.as_deref().is_some_and(|o| live.contains(&o)));
                let used: BTreeSet<&str> = owners.iter().flatten().map(String::as_str).collect();
                if all_live && used.len() == live.len().min(PARTITIONS as usize) {
                    return;
                }
                last = st;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "partitions never settled on {live:?}: {last:#}\n{}",
            self.logs()
        );
    }

    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("--- {}:\n{}", NODES[i], n.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub async fn status(base: &str) -> Result<Value, String> {
    status_as(base, None).await
}

/// `/api/v1/status/cluster`'s data, with a bearer token if given.
pub async fn status_as(base: &str, token: Option<&str>) -> Result<Value, String> {
    let mut rb = client().get(format!("{base}/api/v1/status/cluster"));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.map_err(|e| e.to_string())?;
    let v: Value = r.json().await.map_err(|e| e.to_string())?;
    Ok(v["data"].clone())
}

/// The sum of every partition's last sequence as `base` last saw them.
pub async fn log_length(base: &str) -> u64 {
    let st = status(base).await.unwrap();
    st["partition_status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["last_sequence"].as_u64().unwrap())
        .sum()
}

/// A remote-write body: `metric{tenant_tag, i}` for `i < series`, one
/// sample each at `t` with value `v(i)`.
pub fn body(metric: &str, tag: &str, series: usize, t: i64, v: impl Fn(usize) -> f64) -> Vec<u8> {
    let timeseries = (0..series)
        .map(|i| v1::TimeSeries {
            labels: vec![
                v1::Label {
                    name: "__name__".into(),
                    value: metric.into(),
                },
                v1::Label {
                    name: "i".into(),
                    value: i.to_string(),
                },
                v1::Label {
                    name: "tag".into(),
                    value: tag.into(),
                },
            ],
            samples: vec![v1::Sample {
                value: v(i),
                timestamp: t,
            }],
            ..Default::default()
        })
        .collect();
    encode_snappy(&v1::WriteRequest {
        timeseries,
        metadata: Vec::new(),
    })
}

pub async fn write(base: &str, tenant: &str, body: Vec<u8>) -> reqwest::Response {
    client()
        .post(format!("{base}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Scope-OrgID", tenant)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// GET with a tenant and optional strong consistency: status and JSON.
pub async fn get(
    base: &str,
    tenant: &str,
    path: &str,
    params: &[(&str, String)],
    strong: bool,
) -> (u16, Value) {
    let mut rb = client()
        .get(format!("{base}{path}"))
        .header("X-Scope-OrgID", tenant)
        .query(params);
    if strong {
        rb = rb.header("X-Read-Consistency", "strong");
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A strong instant query that must succeed; retried while owners change
/// (503) for up to a minute.
pub async fn strong_query(base: &str, tenant: &str, q: &str, t: i64) -> Value {
    let started = Instant::now();
    loop {
        let p = [("query", q.to_string()), ("time", crash::check::secs(t))];
        let (code, v) = get(base, tenant, "/api/v1/query", &p, true).await;
        if code == 200 {
            return v["data"].clone();
        }
        assert_eq!(code, 503, "{q}: {v}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{q} kept failing: {v}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The value of an unlabelled counter on `base`'s `/metrics` (0 when absent).
pub async fn counter(base: &str, name: &str) -> u64 {
    let m = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("{name} ");
    m.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

/// Waits until the bucket holds at least `min` blocks (a `meta.json` each)
/// under the cluster prefix; returns how many.
pub async fn wait_shipped(s: &Stack, min: usize) -> usize {
    let started = Instant::now();
    loop {
        let n = tokio::task::block_in_place(|| count_metas(&s.weed.endpoint));
        if n >= min {
            return n;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {n} blocks shipped"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Block `meta.json` objects in the cluster prefix, by listing the bucket.
pub fn count_metas(endpoint: &str) -> usize {
    let body = reqwest::blocking::Client::new()
        .get(format!("{endpoint}/{BUCKET}?list-type=2&prefix=cluster/"))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    body.matches("/meta.json</Key>").count()
}

//! A real server on a loopback port for HTTP tests, with its storage
//! reachable so tests can check what was stored.

#![allow(dead_code)] // each test file uses a different part

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tessera::api::AppState;
use tessera::model::{LabelRef, Sample};
use tessera::server::{run, ServerError};
use tessera::storage::{MatchOp, Matcher, SeriesInput, Storage, StorageConfig};
use tessera::tenant::TenantId;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const V1_TYPE: &str = "application/x-protobuf;proto=prometheus.WriteRequest";
pub const V2_TYPE: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServerError>>,
}

/// Starts a server on `127.0.0.1:0` over `dir` and waits until it is ready.
pub async fn start(dir: &Path) -> Server {
    let mut cfg = StorageConfig::new(dir);
    cfg.maintenance_interval = None;
    start_with(cfg, AppState::new()).await
}

/// Starts a server with the given storage settings and (fresh) state.
pub async fn start_with(cfg: StorageConfig, state: AppState) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(listener, cfg, state.clone(), async {
        let _ = stopped.await;
    }));
    let server = Server {
        addr,
        state,
        client: reqwest::Client::new(),
        stop,
        task,
    };
    for _ in 0..500 {
        let resp = server.get("/-/ready").await;
        if resp.status() == 200 {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("server never became ready");
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POSTs a snappy remote-write body with the given content type.
    pub async fn write(
        &self,
        content_type: &str,
        tenant: Option<&str>,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url("/api/v1/write"))
            .header("Content-Type", content_type)
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "2.0.0")
            .body(body);
        if let Some(t) = tenant {
            req = req.header("X-Scope-OrgID", t);
        }
        req.send().await.unwrap()
    }

    pub fn storage(&self) -> Arc<Storage> {
        self.state.storage().expect("server is ready")
    }

    /// Appends one series for `tenant` straight through storage; every
    /// sample must be accepted.
    pub fn put(&self, tenant: &str, labels: &[(&str, &str)], samples: &[(i64, f64)]) {
        let refs: Vec<LabelRef> = labels.iter().map(|(n, v)| LabelRef::new(n, v)).collect();
        let samples: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
        let batch = [SeriesInput {
            labels: &refs,
            samples: &samples,
            histograms: &[],
        }];
        let out = self
            .storage()
            .append(&TenantId::new(tenant).unwrap(), &batch)
            .unwrap();
        assert_eq!(out.rejected, 0, "{out:?}");
    }

    /// Stops the server gracefully; storage is closed when this returns.
    pub async fn stop(self) {
        drop(self.client);
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops within 10s")
            .unwrap()
            .unwrap();
    }
}

/// Samples of the series named `name` for `tenant`, keyed by their labels' text.
pub fn read(storage: &Storage, tenant: &str, name: &str) -> Vec<(String, Vec<Sample>)> {
    let m = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
    let t = TenantId::new(tenant).unwrap();
    storage
        .querier(&t, i64::MIN, i64::MAX)
        .select(&[m])
        .unwrap()
        .into_iter()
        .map(|s| (s.labels.to_string(), s.samples))
        .collect()
}

/// The written-count headers of a response (missing counts as absent).
pub fn written(resp: &reqwest::Response) -> [Option<u64>; 3] {
    ["samples", "histograms", "exemplars"].map(|k| {
        resp.headers()
            .get(format!("x-prometheus-remote-write-{k}-written"))
            .map(|v| v.to_str().unwrap().parse().unwrap())
    })
}

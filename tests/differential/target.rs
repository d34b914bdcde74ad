//! The two servers under comparison: a real Prometheus process, or Tessera
//! in-process, each reached over loopback HTTP.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The reference Prometheus's config: no scrapes, and an out-of-order
/// window so that the jittered per-instance timestamps never get rejected
/// across batch boundaries (2.42 reads it from `storage.tsdb`).
const PROMETHEUS_CONFIG: &str = "\
global:
  evaluation_interval: 1m
storage:
  tsdb:
    out_of_order_time_window: 1h
";

/// Kills the child process when dropped, so a failing test leaves nothing behind.
pub struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Prometheus binary to run, if there is one.
pub fn prometheus_binary() -> Option<String> {
    let bin = std::env::var("PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".to_string());
    let ok = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(bin)
}

/// Starts Prometheus over `dir` with the remote-write receiver on, and
/// waits until it is ready. Returns its base URL and the process guard.
pub async fn start_prometheus(bin: &str, dir: &Path) -> Result<(String, Reaper), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, PROMETHEUS_CONFIG).map_err(|e| e.to_string())?;
    let log_path = dir.join("prometheus.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    // Take a free port from the OS; the short race with other processes is
    // caught by the readiness wait below.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("start {bin}: {e}"))?;
    let reaper = Reaper(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ready = client.get(format!("{base}/-/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return Ok((base, reaper));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    Err(format!(
        "prometheus at {base} never became ready; its log:\n{log}"
    ))
}

/// POSTs one snappy `prometheus.WriteRequest` body (remote write 1.0, which
/// both 2.42 and Tessera accept).
pub async fn write(client: &reqwest::Client, base: &str, body: Vec<u8>) -> Result<(), String> {
    let resp = client
        .post(format!("{base}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{base}: {e}"))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    Err(format!("{base}/api/v1/write: {status}: {text}"))
}

/// What a server answered to one API request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// `status: success`, with its `data`.
    Data(Value),
    /// `status: error`, with its `errorType` and `error`.
    Error { kind: String, message: String },
    /// No Prometheus API answer at all: the endpoint is missing (404 with
    /// a non-API body), or the response was not the API's JSON.
    NoApi(String),
}

/// GETs `path` with `params`, and sorts the answer into an [`Answer`].
pub async fn get(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    params: &[(String, String)],
) -> Answer {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let url = format!("{base}{path}?{query}");
    let resp = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => return Answer::NoApi(format!("request failed: {e}")),
    };
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let Ok(json) = serde_json::from_str::<Value>(&text) else {
        let head: String = text.chars().take(120).collect();
        return Answer::NoApi(format!("HTTP {status}, not JSON: {head:?}"));
    };
    match json.get("status").and_then(Value::as_str) {
        Some("success") => Answer::Data(json.get("data").cloned().unwrap_or(Value::Null)),
        Some("error") => Answer::Error {
            kind: str_field(&json, "errorType"),
            message: str_field(&json, "error"),
        },
        _ => Answer::NoApi(format!("HTTP {status}, no API status: {text:.120}")),
    }
}

fn str_field(json: &Value, key: &str) -> String {
    json.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

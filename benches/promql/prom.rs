//! A throwaway Prometheus server: started on a loopback port over an empty
//! data directory, loaded through its remote-write receiver, queried through
//! its HTTP API, killed on drop.
//!
//! Remote write is the fastest reliable way in for this volume: `promtool
//! tsdb create-blocks-from openmetrics` in 2.42 re-parses the whole input
//! once per 2 h block (and its text is ~100 bytes a sample). The receiver
//! appends to the head, which refuses samples older than one hour before
//! its newest sample, so data goes in by time windows of [`WINDOW_MS`]:
//! every series' window, then the next window.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tessera::ingest::proto::{encode_snappy, v1};

use super::data::Shape;
use super::measure::{median, timed, Digest, Query};

/// Time window of one remote-write pass (must stay under the head's 1 h).
const WINDOW_MS: i64 = 30 * 60_000;
/// Samples per remote-write request (about what Prometheus senders batch
/// times the window length).
const REQUEST_SAMPLES: usize = 100_000;

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    base: String,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// One timed Prometheus query.
pub struct PromTiming {
    /// Median `data.stats.timings.evalTotalTime`.
    pub eval: Duration,
    /// Median wall time of the HTTP request, body read included.
    pub http: Duration,
    /// The result.
    pub digest: Digest,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `prometheus` is on `PATH`.
pub fn available() -> bool {
    Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr").port()
}

impl Prometheus {
    /// Starts Prometheus over `dir` with limits raised so that the queries
    /// are not refused (`max_samples` as for Tessera) and waits for `/-/ready`.
    pub fn start(dir: &Path, max_samples: usize) -> Prometheus {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, "global:\n  scrape_interval: 1h\n").expect("write config");
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--storage.tsdb.retention.time=3650d")
            .arg(format!("--query.max-samples={max_samples}"))
            .arg("--query.timeout=10m")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let p = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            rt,
            client: reqwest::Client::new(),
        };
        p.wait_ready();
        p
    }

    /// The process id, for `/proc` readings.
    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let url = format!("{}/-/ready", self.base);
            let ok = self.rt.block_on(async {
                let r = self.client.get(&url).send().await;
                r.is_ok_and(|r| r.status().is_success())
            });
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("prometheus did not become ready within 120 s");
    }

    /// Sends every sample of `shape` by remote write, window by window, and
    /// returns the number of samples sent. Request bodies are built on a
    /// second thread while the previous one is in flight.
    pub fn load(&self, shape: &dyn Shape) -> u64 {
        let (tx, rx) = sync_channel::<(Vec<u8>, u64)>(4);
        let mut sent = 0;
        std::thread::scope(|s| {
            s.spawn(move || encode_all(shape, |body, n| tx.send((body, n)).is_ok()));
            for (body, n) in rx {
                self.write(body);
                sent += n;
            }
        });
        sent
    }

    fn write(&self, body: Vec<u8>) {
        let url = format!("{}/api/v1/write", self.base);
        let (status, text) = self.rt.block_on(async {
            let r = self
                .client
                .post(&url)
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(body)
                .send()
                .await
                .expect("remote write request");
            (r.status(), r.text().await.unwrap_or_default())
        });
        assert!(status.is_success(), "remote write: {status}: {text}");
    }

    fn get(&self, path: &str) -> String {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async {
            let r = self.client.get(&url).send().await.expect("GET");
            r.text().await.expect("GET body")
        })
    }

    /// Waits until compaction has stopped (compaction count, block count
    /// and head lower bound unchanged for 3 s) with the head starting at
    /// `head_from` or later, so the timed queries don't race it.
    pub fn settle(&self, head_from: i64) {
        let deadline = Instant::now() + Duration::from_secs(900);
        let (mut last, mut stable) = (Vec::new(), 0);
        while Instant::now() < deadline {
            let m = self.get("/metrics");
            let read = |name: &str| -> f64 {
                m.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
                    .unwrap_or(f64::NAN)
            };
            let now = [
                read("prometheus_tsdb_compactions_total"),
                read("prometheus_tsdb_blocks_loaded"),
                read("prometheus_tsdb_head_min_time"),
            ];
            let same = now.iter().zip(&last).all(|(a, b)| a == b) && !last.is_empty();
            stable = if same { stable + 1 } else { 0 };
            if stable >= 3 && now[2] >= head_from as f64 {
                return;
            }
            last = now.to_vec();
            std::thread::sleep(Duration::from_secs(1));
        }
        eprintln!("warning: prometheus compaction did not settle within 15 min");
    }

    /// Runs `q` once to warm up, then `runs` times; medians of the engine's
    /// own `evalTotalTime` and of the HTTP wall time.
    pub fn time_query(&self, q: &Query, runs: usize) -> Result<PromTiming, String> {
        self.query(q)?;
        let (mut evals, mut walls, mut digest) = (Vec::new(), Vec::new(), Digest::default());
        for _ in 0..runs.max(1) {
            let (wall, r) = timed(|| self.query(q));
            let (eval, d) = r?;
            evals.push(eval);
            digest = d;
            walls.push(wall);
        }
        Ok(PromTiming {
            eval: median(evals),
            http: median(walls),
            digest,
        })
    }

    /// One query through the HTTP API with `stats=all`.
    pub fn query(&self, q: &Query) -> Result<(Duration, Digest), String> {
        let json = self.query_json(q)?;
        let eval = json["data"]["stats"]["timings"]["evalTotalTime"]
            .as_f64()
            .ok_or("no data.stats.timings.evalTotalTime")?;
        Ok((Duration::from_secs_f64(eval), digest(&json["data"])))
    }

    /// The `(labels, value)` pairs of an instant query's vector result.
    pub fn vector(&self, q: &Query) -> Result<Vec<(String, String)>, String> {
        let json = self.query_json(q)?;
        let rows = json["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(rows
            .iter()
            .map(|r| (r["metric"].to_string(), r["value"][1].to_string()))
            .collect())
    }

    fn query_json(&self, q: &Query) -> Result<Json, String> {
        let secs = |t: i64| format!("{}.{:03}", t.div_euclid(1000), t.rem_euclid(1000));
        let mut form = vec![("query", q.expr.clone()), ("stats", "all".into())];
        let path = match q.range {
            Some((start, end, step)) => {
                form.push(("start", secs(start)));
                form.push(("end", secs(end)));
                form.push(("step", secs(step)));
                "/api/v1/query_range"
            }
            None => {
                form.push(("time", secs(q.time_ms)));
                "/api/v1/query"
            }
        };
        let url = format!("{}{path}", self.base);
        let body = self.rt.block_on(async {
            let r = self.client.post(&url).form(&form).send().await;
            r.map_err(|e| e.to_string())?
                .bytes()
                .await
                .map_err(|e| e.to_string())
        })?;
        let json: Json = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if json["status"] != "success" {
            return Err(format!("{}: {}", json["errorType"], json["error"]));
        }
        Ok(json)
    }
}

/// Digest of a `data` object of the query API.
fn digest(data: &Json) -> Digest {
    let mut d = Digest::default();
    let num = |p: &Json| p[1].as_str().and_then(parse_value);
    for r in data["result"].as_array().into_iter().flatten() {
        d.series += 1;
        if let Some(values) = r["values"].as_array() {
            values.iter().filter_map(num).for_each(|v| d.add(v));
        } else if let Some(v) = num(&r["value"]) {
            d.add(v);
        }
    }
    d
}

/// Prometheus formats values with Go's `strconv.FormatFloat(v, 'f', -1, 64)`
/// plus `NaN`, `+Inf`, `-Inf`.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// Encodes `shape` as remote-write bodies, window by window, handing each
/// body and its sample count to `send` until it returns false.
fn encode_all(shape: &dyn Shape, mut send: impl FnMut(Vec<u8>, u64) -> bool) {
    let (from, to) = shape.span();
    let mut w = from;
    while w < to {
        let w_end = (w + WINDOW_MS).min(to);
        let mut req = v1::WriteRequest::default();
        let mut n = 0;
        for s in 0..shape.count() {
            let samples = shape.samples(s, w, w_end);
            if samples.is_empty() {
                continue;
            }
            n += samples.len();
            req.timeseries.push(v1::TimeSeries {
                labels: shape
                    .labels(s)
                    .iter()
                    .map(|l| v1::Label {
                        name: l.name.to_string(),
                        value: l.value.to_string(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|x| v1::Sample {
                        value: x.v,
                        timestamp: x.t,
                    })
                    .collect(),
                ..Default::default()
            });
            if n >= REQUEST_SAMPLES {
                if !send(encode_snappy(&req), n as u64) {
                    return;
                }
                (req.timeseries, n) = (Vec::new(), 0);
            }
        }
        if n > 0 && !send(encode_snappy(&req), n as u64) {
            return;
        }
        w = w_end;
    }
}

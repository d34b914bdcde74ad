//! Bytes per native histogram sample on disk: Tessera's block against a
//! Prometheus 2.42 block (`--enable-feature=native-histograms`) holding
//! the same remote_write 1.0 bodies.
//!
//! Data shape (`HIST_SERIES` series, default 200, × 480 samples: 2 h at
//! 15 s): integer exponential histograms of schema 3 with a zero bucket
//! and 30 consecutive positive buckets whose counts grow by a few
//! observations per bucket per scrape, as a latency histogram of a busy
//! service does. Tessera appends the decoded bodies and flushes one block;
//! Prometheus takes the same bodies on its remote-write receiver and
//! writes its head into a block with a snapshot. Prints the `chunks` bytes
//! and the whole block per histogram sample for both.
//!
//! Needs `prometheus` (2.42, Debian's package) on PATH. Run with
//! `cargo bench --bench histogram_size`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tessera::ingest::proto::{encode_snappy, v1};
use tessera::ingest::remote_write::{decode_v1, snappy_decompress};
use tessera::storage::{SeriesInput, Storage, StorageConfig, SyncPolicy};
use tessera::tenant::TenantId;

const START_MS: i64 = 1_700_000_000_000 - 1_700_000_000_000 % 7_200_000;
const STEP_MS: i64 = 15_000;
const SAMPLES: usize = 480;
const BUCKETS: usize = 30;

/// A tiny deterministic generator (xorshift), so both peers get the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One series' state: cumulative bucket counts, zero count and sum.
struct State {
    buckets: Vec<u64>,
    zero: u64,
    sum: f64,
    offset: i32,
}

fn histogram(s: &State, t: i64) -> v1::Histogram {
    let mut deltas = Vec::with_capacity(BUCKETS);
    let mut prev = 0i64;
    for &c in &s.buckets {
        deltas.push(c as i64 - prev);
        prev = c as i64;
    }
    v1::Histogram {
        count: Some(v1::Count::CountInt(s.zero + s.buckets.iter().sum::<u64>())),
        sum: s.sum,
        schema: 3,
        zero_threshold: 1e-3,
        zero_count: Some(v1::ZeroCount::ZeroCountInt(s.zero)),
        positive_spans: vec![v1::BucketSpan {
            offset: s.offset,
            length: BUCKETS as u32,
        }],
        positive_deltas: deltas,
        timestamp: t,
        ..Default::default()
    }
}

/// One remote_write body per scrape: every series' histogram at `t`.
fn bodies(series: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut states: Vec<State> = (0..series)
        .map(|i| State {
            buckets: vec![0; BUCKETS],
            zero: 0,
            sum: 0.0,
            offset: -20 + (i % 7) as i32,
        })
        .collect();
    (0..SAMPLES)
        .map(|k| {
            let t = START_MS + k as i64 * STEP_MS;
            let timeseries = states
                .iter_mut()
                .enumerate()
                .map(|(i, s)| {
                    // Busiest in the middle buckets, as latencies cluster.
                    for (b, c) in s.buckets.iter_mut().enumerate() {
                        let weight = 1 + (BUCKETS / 2).abs_diff(b) as u64;
                        let add = rng.next() % (16 / weight.min(16) + 1);
                        *c += add;
                        s.sum += add as f64 * 2f64.powf((s.offset + b as i32) as f64 / 8.0);
                    }
                    s.zero += rng.next() % 2;
                    v1::TimeSeries {
                        labels: vec![
                            v1::Label {
                                name: "__name__".into(),
                                value: "http_request_duration_seconds".into(),
                            },
                            v1::Label {
                                name: "instance".into(),
                                value: format!("host-{}", i / 4),
                            },
                            v1::Label {
                                name: "route".into(),
                                value: format!("/r{}", i % 4),
                            },
                        ],
                        histograms: vec![histogram(s, t)],
                        ..Default::default()
                    }
                })
                .collect();
            encode_snappy(&v1::WriteRequest {
                timeseries,
                metadata: Vec::new(),
            })
        })
        .collect()
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |rd| {
        rd.flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => dir_size(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

/// The only block directory under `dir` (a ULID-named directory).
fn block_in(dir: &Path) -> std::path::PathBuf {
    let blocks: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("meta.json").exists())
        .map(|e| e.path())
        .collect();
    assert_eq!(blocks.len(), 1, "one block in {}", dir.display());
    blocks[0].clone()
}

/// `stats.numSamples` and `stats.numChunks` of a block's `meta.json`
/// (the same keys in both peers' blocks).
fn stats(block: &Path) -> (u64, u64) {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(block.join("meta.json")).unwrap()).unwrap();
    let get = |k: &str| meta["stats"][k].as_u64().unwrap_or(0);
    (get("numSamples"), get("numChunks"))
}

fn tessera(bodies: &[Vec<u8>], dir: &Path) -> (u64, u64, (u64, u64)) {
    let mut cfg = StorageConfig::new(dir);
    cfg.wal.sync = SyncPolicy::None;
    cfg.maintenance_interval = None;
    let st = Storage::open(cfg).unwrap().0;
    let t = TenantId::new("size").unwrap();
    for b in bodies {
        let raw = snappy_decompress(b, 64 << 20).unwrap();
        let batch = decode_v1(&raw).unwrap();
        let inputs: Vec<SeriesInput> = batch
            .series
            .iter()
            .map(|s| SeriesInput {
                labels: &batch.labels[s.labels.clone()],
                samples: &batch.samples[s.samples.clone()],
                histograms: &batch.histograms[s.histograms.clone()],
            })
            .collect();
        let out = st.append(&t, &inputs).unwrap();
        assert_eq!(out.rejected, 0, "{out:?}");
    }
    st.flush(&t).unwrap().expect("a block");
    let block = block_in(&dir.join("tenants/size/blocks"));
    let r = (
        std::fs::metadata(block.join("chunks")).unwrap().len(),
        dir_size(&block),
        stats(&block),
    );
    st.close().unwrap();
    r
}

struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn prometheus(bodies: &[Vec<u8>], dir: &Path) -> (u64, u64, (u64, u64)) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(dir.join("prometheus.yml"), "global: {}\n").unwrap();
    let data = dir.join("prom-data");
    let _p = Reaper(
        Command::new(std::env::var("PROMETHEUS_BIN").unwrap_or("prometheus".into()))
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args([
                "--enable-feature=native-histograms",
                "--web.enable-remote-write-receiver",
                "--web.enable-admin-api",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus on PATH"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client
        .get(format!("{base}/-/ready"))
        .send()
        .map_or(true, |r| r.status() != 200)
    {
        assert!(Instant::now() < deadline, "prometheus never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    for b in bodies {
        let r = client
            .post(format!("{base}/api/v1/write"))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(b.clone())
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{:?}", r.text());
    }
    let snap: serde_json::Value = client
        .post(format!("{base}/api/v1/admin/tsdb/snapshot"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let name = snap["data"]["name"].as_str().expect("snapshot name");
    let block = block_in(&data.join("snapshots").join(name));
    (
        dir_size(&block.join("chunks")),
        dir_size(&block),
        stats(&block),
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let series: usize = std::env::var("HIST_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let bodies = bodies(series);
    let n = (series * SAMPLES) as f64;
    let dir = tempfile::tempdir().unwrap();
    let (tc, tb, ts) = tessera(&bodies, &dir.path().join("tessera"));
    std::fs::create_dir_all(dir.path().join("prom")).unwrap();
    let (pc, pb, ps) = prometheus(&bodies, &dir.path().join("prom"));
    // Both blocks must hold every histogram, or the comparison means nothing.
    assert_eq!((ts.0, ps.0), (n as u64, n as u64), "samples in the blocks");
    println!(
        "{series} series x {SAMPLES} histograms ({BUCKETS} buckets, schema 3), bytes per histogram sample:"
    );
    println!(
        "  tessera    chunks {:8.2}  whole block {:8.2}  ({} chunks)",
        tc as f64 / n,
        tb as f64 / n,
        ts.1
    );
    println!(
        "  prometheus chunks {:8.2}  whole block {:8.2}  ({} chunks)",
        pc as f64 / n,
        pb as f64 / n,
        ps.1
    );
}

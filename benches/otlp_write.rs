//! OTLP ingest next to remote write on the same data: samples per server
//! CPU-second through the whole server path (router, extractors, decode,
//! translation, the write pipeline, WAL and head), without sockets.
//!
//! The data is the node_exporter shape (`synth::NodeExporterShape`): every
//! round sends every series once with one sample, 2000 series a request,
//! rounds 15 s apart. Remote write gets snappy 1.0 bodies; OTLP gets
//! protobuf bodies of the same series, one metric per family (gauges, and
//! cumulative monotonic sums for `_total` families, so translation gives
//! the same names and labels). Bodies are encoded before the clock starts.
//! CPU time is the process's user plus system time (`getrusage`), so the
//! blocking threads that append are counted; each protocol writes into its
//! own fresh storage. The first round, which creates the series, is
//! reported apart from the steady rounds after it.
//!
//!     cargo bench --bench otlp_write            # HOSTS=100 ROUNDS=20

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use prost::Message;
use tessera::api::AppState;
use tessera::ingest::otlp::proto::*;
use tessera::ingest::proto::{encode_snappy, v1};
use tessera::storage::{Storage, StorageConfig};
use tessera::synth::{NodeExporterShape, ORIGIN_MS};
use tower::ServiceExt;

const PER_REQUEST: usize = 2000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's user plus system CPU time, seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Series `range` at round `round` as a remote write 1.0 body.
fn rw_body(shape: &NodeExporterShape, range: std::ops::Range<usize>, t: i64) -> Vec<u8> {
    let timeseries = range
        .map(|i| v1::TimeSeries {
            labels: shape
                .labels(i)
                .iter()
                .map(|l| v1::Label {
                    name: l.name.to_string(),
                    value: l.value.to_string(),
                })
                .collect(),
            samples: shape
                .samples(i, t, 1)
                .iter()
                .map(|s| v1::Sample {
                    value: s.v,
                    timestamp: s.t,
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    encode_snappy(&v1::WriteRequest {
        timeseries,
        metadata: vec![],
    })
}

/// The same series as an OTLP export: one metric per family.
fn otlp_body(shape: &NodeExporterShape, range: std::ops::Range<usize>, t: i64) -> Vec<u8> {
    let mut metrics: Vec<Metric> = Vec::new();
    for i in range {
        let labels = shape.labels(i);
        let mut name = String::new();
        let mut attributes = Vec::new();
        for l in labels.iter() {
            if l.name == "__name__" {
                name = l.value.to_string();
            } else {
                attributes.push(KeyValue {
                    key: l.name.to_string(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue(l.value.to_string())),
                    }),
                });
            }
        }
        let s = shape.samples(i, t, 1)[0];
        let point = NumberDataPoint {
            attributes,
            time_unix_nano: s.t as u64 * 1_000_000,
            value: Some(NumberValue::AsDouble(s.v)),
            ..Default::default()
        };
        if metrics.last().is_none_or(|m| m.name != name) {
            let data = if name.ends_with("_total") {
                MetricData::Sum(Sum {
                    data_points: vec![],
                    aggregation_temporality: TEMPORALITY_CUMULATIVE,
                    is_monotonic: true,
                })
            } else {
                MetricData::Gauge(Gauge {
                    data_points: vec![],
                })
            };
            metrics.push(Metric {
                name: name.clone(),
                data: Some(data),
                ..Default::default()
            });
        }
        match metrics.last_mut().and_then(|m| m.data.as_mut()) {
            Some(MetricData::Sum(s)) => s.data_points.push(point),
            Some(MetricData::Gauge(g)) => g.data_points.push(point),
            _ => unreachable!("only sums and gauges are built"),
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

struct Phase {
    samples: u64,
    cpu: f64,
    wall: f64,
}

/// Sends every round's bodies through a fresh server; returns the
/// creation round and the steady rounds.
fn run(
    rounds: &[Vec<Vec<u8>>],
    series_per_round: u64,
    path: &str,
    headers: &[(&str, &str)],
) -> (Phase, Phase) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StorageConfig::new(dir.path());
    cfg.maintenance_interval = None;
    let (storage, _) = Storage::open(cfg).unwrap();
    let router = tessera::api::app(AppState::with_storage(std::sync::Arc::new(storage)));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut phases = Vec::new();
    for (i, round) in rounds.iter().enumerate() {
        if i <= 1 {
            phases.push((cpu_seconds(), Instant::now(), 0u64));
        }
        for body in round {
            let mut req = Request::post(path);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let req = req.body(Body::from(body.clone())).unwrap();
            let resp = rt.block_on(router.clone().oneshot(req)).unwrap();
            assert!(resp.status().is_success(), "{path}: {}", resp.status());
        }
        phases.last_mut().unwrap().2 += series_per_round;
    }
    let end = (cpu_seconds(), Instant::now());
    let phase = |k: usize, until: (f64, Instant)| Phase {
        samples: phases[k].2,
        cpu: until.0 - phases[k].0,
        wall: until.1.duration_since(phases[k].1).as_secs_f64(),
    };
    let steady_start = (phases[1].0, phases[1].1);
    (phase(0, steady_start), phase(1, end))
}

fn main() {
    let hosts = env("HOSTS", 100);
    let n_rounds = env("ROUNDS", 20).max(2);
    let shape = NodeExporterShape {
        hosts,
        interval_ms: 15_000,
        seed: 1,
    };
    let series = shape.series_count();
    let encode = |f: &dyn Fn(&NodeExporterShape, std::ops::Range<usize>, i64) -> Vec<u8>| {
        (0..n_rounds)
            .map(|r| {
                let t = ORIGIN_MS + r as i64 * 15_000;
                (0..series)
                    .step_by(PER_REQUEST)
                    .map(|s| f(&shape, s..(s + PER_REQUEST).min(series), t))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let rw = encode(&rw_body);
    let otlp = encode(&otlp_body);
    println!(
        "{hosts} hosts, {series} series, {n_rounds} rounds of 1 sample per series, {PER_REQUEST} series a request"
    );
    println!("| protocol | creation: samples per CPU-s | steady: samples/s | steady: samples per CPU-s |");
    println!("|---|---|---|---|");
    let cases: [(&str, &[Vec<Vec<u8>>], &str, &[(&str, &str)]); 2] = [
        (
            "remote write 1.0",
            &rw,
            "/api/v1/write",
            &[
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
            ],
        ),
        (
            "OTLP protobuf",
            &otlp,
            "/otlp/v1/metrics",
            &[("Content-Type", "application/x-protobuf")],
        ),
    ];
    for (name, rounds, path, headers) in cases {
        let (create, steady) = run(rounds, series as u64, path, headers);
        println!(
            "| {name} | {:.0} k | {:.0} k | {:.0} k |",
            create.samples as f64 / create.cpu / 1e3,
            steady.samples as f64 / steady.wall / 1e3,
            steady.samples as f64 / steady.cpu / 1e3,
        );
    }
}

//! Generated data in the shape of the PromLabs demo service, which the
//! compliance queries are written against: three instances of job `demo`
//! scraped every 5s, with scrape jitter, an intermittent metric, and one
//! instance that goes down (stale markers) and comes back restarted
//! (counter resets).
//!
//! Everything is derived from a fixed seed, so both servers get identical
//! bytes; only the time base moves with the wall clock.

use std::collections::{BTreeMap, BTreeSet};

use tessera::ingest::proto::{encode_snappy, v1};
use tessera::model::stale_nan;

/// Scrape interval (ms).
pub const INTERVAL_MS: i64 = 5_000;
/// Scrapes per remote-write request: five minutes of data.
const TICKS_PER_BATCH: i64 = 60;
const MEMORY_TYPES: [(&str, f64); 4] = [
    ("buffers", 5.0e7),
    ("cached", 3.0e8),
    ("free", 6.0e8),
    ("used", 1.2e9),
];
const CPU_MODES: [(&str, f64); 3] = [("idle", 0.7), ("system", 0.1), ("user", 0.2)];
const LE: [&str; 10] = [
    "0.0001", "0.00015", "0.0002", "0.0003", "0.0005", "0.001", "0.01", "0.1", "1", "+Inf",
];
const METHODS: [&str; 2] = ["GET", "POST"];
const PATHS: [&str; 2] = ["/api/bar", "/api/foo"];
const STATUSES: [&str; 2] = ["200", "500"];

/// A label set, sorted by name.
type Labels = Vec<(String, String)>;

/// The data, ready to send.
pub struct Dataset {
    /// First sample time (ms).
    pub start_ms: i64,
    /// Last sample time (ms).
    pub end_ms: i64,
    /// Snappy-compressed `prometheus.WriteRequest` bodies, in time order.
    pub bodies: Vec<Vec<u8>>,
    /// Series written.
    pub series: usize,
    /// Samples written (stale markers included).
    pub samples: usize,
}

/// Small deterministic generator (splitmix64), so the data does not depend
/// on any crate's RNG algorithm staying put.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One demo-service instance and its counters.
struct Instance {
    name: String,
    rng: Rng,
    /// Scrape phase within the interval (ms).
    offset_ms: i64,
    cpus: f64,
    /// Whether vanished series get a stale marker (as a live scrape loop
    /// writes) or just stop (as after a Prometheus restart).
    stale_markers: bool,
    /// Scrape ticks during which the instance is down, end exclusive.
    down: Option<(i64, i64)>,
    cpu: [f64; 3],
    disk: f64,
    /// Per method/path/status: cumulative bucket counts, sum, count.
    hist: Vec<([f64; 10], f64, f64)>,
    last_success_s: f64,
    start_ms: i64,
    /// Series of the previous scrape, for stale markers.
    previous: BTreeSet<Labels>,
}

impl Instance {
    fn new(i: usize, start_ms: i64, ticks: i64) -> Instance {
        Instance {
            name: format!("demo.promlabs.com:{}", 10000 + i),
            rng: Rng(0x5eed_0000 + i as u64),
            offset_ms: 1_234 * i as i64,
            cpus: [4.0, 6.0, 8.0][i % 3],
            stale_markers: i != 1,
            down: (i == 2).then_some((ticks * 6 / 10, ticks * 6 / 10 + 96)),
            cpu: [0.0; 3],
            disk: 1.0e10 + 1.0e9 * i as f64,
            hist: vec![([0.0; 10], 0.0, 0.0); 8],
            last_success_s: (start_ms / 1000) as f64 - 1234.5,
            start_ms,
            previous: BTreeSet::new(),
        }
    }

    fn labels(&self, name: &str, extra: &[(&str, &str)]) -> Labels {
        let mut l: Labels = [
            ("__name__", name),
            ("instance", &self.name),
            ("job", "demo"),
        ]
        .iter()
        .chain(extra)
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        l.sort();
        l
    }

    /// The series and values one scrape at tick `k` (time `ts`) returns.
    fn scrape(&mut self, k: i64, ts: i64) -> Vec<(Labels, f64)> {
        let mut out = Vec::new();
        // Relative to the start, so values do not drift with the wall clock.
        let t = (ts - self.start_ms) as f64 / 1000.0;
        for (j, (ty, base)) in MEMORY_TYPES.iter().enumerate() {
            let wave = 1.0 + 0.1 * (t / 600.0 + j as f64).sin();
            let v = (base * wave + 1.0e6 * self.rng.unit()).round();
            out.push((self.labels("demo_memory_usage_bytes", &[("type", ty)]), v));
        }
        for (j, (mode, share)) in CPU_MODES.iter().enumerate() {
            self.cpu[j] += 5.0 * self.cpus * share * (0.8 + 0.4 * self.rng.unit());
            let l = self.labels("demo_cpu_usage_seconds_total", &[("mode", mode)]);
            out.push((l, self.cpu[j]));
        }
        out.push((self.labels("demo_num_cpus", &[]), self.cpus));
        self.disk += (1.0e5 * self.rng.unit()).round();
        if k % 360 == 359 {
            self.disk *= 0.5; // a cleanup job every 30 minutes
        }
        out.push((self.labels("demo_disk_usage_bytes", &[]), self.disk.round()));
        self.scrape_histograms(&mut out);
        if k % 60 == 30 && self.rng.unit() < 0.75 {
            self.last_success_s = ts as f64 / 1000.0;
        }
        let l = self.labels("demo_batch_last_success_timestamp_seconds", &[]);
        out.push((l, self.last_success_s));
        let cycle = 48 + 12 * (self.offset_ms / 1_234);
        if k % cycle < cycle * 6 / 10 {
            let v = (self.rng.unit() * 100_000.0).round() / 1000.0;
            out.push((self.labels("demo_intermittent_metric", &[]), v));
        }
        out
    }

    fn scrape_histograms(&mut self, out: &mut Vec<(Labels, f64)>) {
        let combos = METHODS.iter().flat_map(|m| {
            PATHS
                .iter()
                .flat_map(move |p| STATUSES.iter().map(move |s| (*m, *p, *s)))
        });
        for (c, (method, path, status)) in combos.enumerate() {
            let n = if status == "500" { 1 } else { 6 };
            let requests = (self.rng.unit() * (n + 1) as f64) as usize;
            for _ in 0..requests {
                // Log-uniform between 10^-4.5 s and 10^-0.5 s.
                let latency = 10f64.powf(-4.5 + 4.0 * self.rng.unit());
                let (buckets, sum, count) = &mut self.hist[c];
                for (b, le) in buckets.iter_mut().zip(LE) {
                    if le == "+Inf" || latency <= le.parse::<f64>().unwrap() {
                        *b += 1.0;
                    }
                }
                *sum += latency;
                *count += 1.0;
            }
            let base = [("method", method), ("path", path), ("status", status)];
            let (buckets, sum, count) = self.hist[c];
            for (b, le) in buckets.iter().zip(LE) {
                let mut with_le = base.to_vec();
                with_le.push(("le", le));
                let l = self.labels("demo_api_request_duration_seconds_bucket", &with_le);
                out.push((l, *b));
            }
            out.push((
                self.labels("demo_api_request_duration_seconds_sum", &base),
                sum,
            ));
            out.push((
                self.labels("demo_api_request_duration_seconds_count", &base),
                count,
            ));
        }
    }

    /// A restart: every counter starts again from zero.
    fn restart(&mut self) {
        self.cpu = [0.0; 3];
        self.hist = vec![([0.0; 10], 0.0, 0.0); 8];
    }
}

/// Generates about `minutes` of data whose last scrape is at most a minute
/// before `end_ms`.
pub fn generate(end_ms: i64, minutes: i64) -> Dataset {
    let ticks = minutes * 60_000 / INTERVAL_MS;
    // Whole minutes: subquery steps and `[1m]` windows are aligned to the
    // epoch, so only a fixed phase between them and the scrapes makes the
    // boundary cases (and so the match count) the same on every run.
    let start_ms = (end_ms - ticks * INTERVAL_MS).div_euclid(60_000) * 60_000;
    let mut instances: Vec<Instance> = (0..3).map(|i| Instance::new(i, start_ms, ticks)).collect();
    let mut bodies = Vec::new();
    let mut all_series = BTreeSet::new();
    let (mut samples, mut last_ts) = (0, start_ms);
    let mut k = 0;
    while k < ticks {
        let mut batch: BTreeMap<Labels, Vec<v1::Sample>> = BTreeMap::new();
        for tick in k..(k + TICKS_PER_BATCH).min(ticks) {
            for inst in &mut instances {
                let jitter = (inst.rng.unit() * 20.0) as i64;
                let ts = start_ms + tick * INTERVAL_MS + inst.offset_ms + jitter;
                for (labels, value) in scrape_tick(inst, tick, ts) {
                    batch.entry(labels).or_default().push(v1::Sample {
                        value,
                        timestamp: ts,
                    });
                    samples += 1;
                    last_ts = last_ts.max(ts);
                }
            }
        }
        all_series.extend(batch.keys().cloned());
        bodies.push(encode_snappy(&to_request(batch)));
        k += TICKS_PER_BATCH;
    }
    Dataset {
        start_ms,
        end_ms: last_ts,
        bodies,
        series: all_series.len(),
        samples,
    }
}

/// One scrape of `inst`, with stale markers for series that vanished since
/// the previous one (as Prometheus's scrape loop writes them).
fn scrape_tick(inst: &mut Instance, tick: i64, ts: i64) -> Vec<(Labels, f64)> {
    let down = inst.down.is_some_and(|(a, b)| (a..b).contains(&tick));
    if inst.down.is_some_and(|(_, b)| b == tick) {
        inst.restart();
    }
    let mut got = if down {
        Vec::new()
    } else {
        inst.scrape(tick, ts)
    };
    let now: BTreeSet<Labels> = got.iter().map(|(l, _)| l.clone()).collect();
    if inst.stale_markers {
        for gone in inst.previous.difference(&now) {
            got.push((gone.clone(), stale_nan()));
        }
    }
    inst.previous = now;
    got
}

fn to_request(batch: BTreeMap<Labels, Vec<v1::Sample>>) -> v1::WriteRequest {
    let timeseries = batch
        .into_iter()
        .map(|(labels, samples)| v1::TimeSeries {
            labels: labels
                .into_iter()
                .map(|(name, value)| v1::Label { name, value })
                .collect(),
            samples,
            ..Default::default()
        })
        .collect();
    v1::WriteRequest {
        timeseries,
        metadata: Vec::new(),
    }
}

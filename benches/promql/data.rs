//! Data shapes of the PromQL comparison, generated identically for both
//! databases.
//!
//! * [`Fleet`] (queries 1-3): `node_cpu_seconds_total` of `hosts` hosts x 8
//!   cpus x 8 modes (the CPU part of [`NodeExporterShape`]) plus a classic
//!   histogram `http_request_duration_seconds_bucket` of
//!   `instances x handlers` histograms with 12 `le` buckets, scraped every
//!   15 s over `[END_MS - 65m, END_MS]`.
//! * [`LongTerm`] (query 4): `node_load1` of `series` hosts, scraped every
//!   60 s for the 30 days before [`LONG_END_MS`] (43 200 samples a series).
//!
//! Every target gets a scrape offset in `[1 ms, interval)` (Prometheus
//! spreads targets over the interval the same way), so no sample sits
//! exactly on a step or range boundary: the result does not depend on
//! whether a range is closed or left-open.

use tessera::model::{Labels, Sample};
use tessera::synth::{NodeExporterShape, ORIGIN_MS};

/// Scrape interval and query step of queries 1-3.
pub const STEP_MS: i64 = 15_000;
/// End of the fleet data and of the range queries: 32 days after the first
/// 2 h boundary past [`ORIGIN_MS`], so every sample index is positive.
pub const END_MS: i64 = 1_700_006_400_000 + 32 * DAY_MS;
/// First timestamp of the fleet data: the 1 h query range plus a 5 m window.
pub const FLEET_FROM_MS: i64 = END_MS - 65 * MINUTE_MS;
/// Scrape interval of the long-term data.
pub const LONG_INTERVAL_MS: i64 = 60_000;
/// End of the long-term data (the instant of query 4). It ends 2 h before
/// the fleet data so Prometheus can cut it into blocks while the fleet data
/// stays in its head.
pub const LONG_END_MS: i64 = END_MS - 2 * 3_600_000;
/// Start of the long-term data.
pub const LONG_FROM_MS: i64 = LONG_END_MS - 30 * DAY_MS;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const CPU_PER_HOST: usize = 64;
/// Upper bounds of the histogram buckets (`+Inf` last).
const LES: [f64; 12] = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    f64::INFINITY,
];
const HANDLERS: [&str; 10] = [
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/series",
    "/api/v1/labels",
    "/api/v1/write",
    "/api/v1/rules",
    "/api/v1/targets",
    "/api/v1/status/config",
    "/metrics",
    "/-/healthy",
];

/// A set of series whose samples can be generated for any time window.
pub trait Shape: Sync {
    /// Number of series.
    fn count(&self) -> usize;
    /// Labels of series `s`.
    fn labels(&self, s: usize) -> Labels;
    /// Samples of series `s` with `from <= t < to`, in time order.
    fn samples(&self, s: usize, from: i64, to: i64) -> Vec<Sample>;
    /// `[from, to)` covering every sample.
    fn span(&self) -> (i64, i64);
}

/// splitmix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The scrape offset of target `key`, in `[1, interval)`.
fn offset(key: u64, interval: i64) -> i64 {
    1 + (mix(key) % (interval as u64 - 1)) as i64
}

/// Scrape slots of a target with `off` in `[from, to)`: `(t, index)` where
/// `index` counts intervals since [`ORIGIN_MS`].
fn slots(from: i64, to: i64, interval: i64, off: i64) -> impl Iterator<Item = (i64, u64)> {
    let first = (from - off).div_euclid(interval) + i64::from((from - off) % interval != 0);
    let origin = ORIGIN_MS / interval;
    (first..)
        .map(move |k| (k * interval + off, (k - origin) as u64))
        .take_while(move |(t, _)| *t < to)
        .filter(move |(t, _)| *t >= from)
}

/// Queries 1-3: node CPU counters plus one classic histogram.
pub struct Fleet {
    node: NodeExporterShape,
    /// Histogram instances.
    pub instances: usize,
    /// Handlers per instance (at most 10).
    pub handlers: usize,
}

impl Fleet {
    /// A fleet of `hosts` node_exporter hosts and `instances x handlers`
    /// histograms.
    pub fn new(hosts: usize, instances: usize, handlers: usize) -> Fleet {
        Fleet {
            node: NodeExporterShape {
                hosts,
                interval_ms: STEP_MS,
                seed: 20,
            },
            instances,
            handlers: handlers.min(HANDLERS.len()),
        }
    }

    fn cpu_series(&self) -> usize {
        self.node.hosts * CPU_PER_HOST
    }

    /// `(instance, handler, bucket)` of histogram series `h`.
    fn hist(&self, h: usize) -> (usize, usize, usize) {
        let id = h / LES.len();
        (id / self.handlers, id % self.handlers, h % LES.len())
    }

    /// Cumulative count of histogram `id` in bucket `b` at index `i`:
    /// requests grow by a per-histogram rate; latencies follow a
    /// log-logistic distribution around a per-handler median.
    fn bucket_value(&self, id: usize, handler: usize, b: usize, i: u64) -> f64 {
        let h = mix(0xb0c4e7 ^ id as u64);
        let rate = 5.0 + 195.0 * unit(h);
        let base = (1e5 * unit(mix(h))).floor();
        let total = base + (rate * i as f64 + 0.9 * rate * unit(mix(h ^ i)).min(0.999)).floor();
        let le = LES[b];
        if le.is_infinite() {
            return total;
        }
        let median = 0.01 * (1.0 + 30.0 * unit(mix(0x4a1d ^ handler as u64)));
        let share = 1.0 / (1.0 + (-(le.ln() - median.ln()) / 0.6).exp());
        (share * total).floor()
    }
}

impl Shape for Fleet {
    fn count(&self) -> usize {
        self.cpu_series() + self.instances * self.handlers * LES.len()
    }

    fn labels(&self, s: usize) -> Labels {
        if s < self.cpu_series() {
            let per_host = NodeExporterShape::series_per_host();
            return self
                .node
                .labels(s / CPU_PER_HOST * per_host + s % CPU_PER_HOST);
        }
        let (inst, handler, b) = self.hist(s - self.cpu_series());
        let le = match LES[b] {
            x if x.is_infinite() => "+Inf".to_string(),
            x => x.to_string(),
        };
        Labels::from_pairs([
            (
                "__name__",
                "http_request_duration_seconds_bucket".to_string(),
            ),
            ("job", "api".to_string()),
            ("instance", format!("app-{inst}:8080")),
            ("handler", HANDLERS[handler].to_string()),
            ("le", le),
        ])
    }

    fn samples(&self, s: usize, from: i64, to: i64) -> Vec<Sample> {
        if s < self.cpu_series() {
            let host = s / CPU_PER_HOST;
            let series = host * NodeExporterShape::series_per_host() + s % CPU_PER_HOST;
            let off = offset(host as u64, STEP_MS);
            return slots(from, to, STEP_MS, off)
                .map(|(t, i)| Sample::new(t, self.node.value_at(series, i)))
                .collect();
        }
        let h = s - self.cpu_series();
        let (inst, handler, b) = self.hist(h);
        let off = offset(1 << 40 | inst as u64, STEP_MS);
        slots(from, to, STEP_MS, off)
            .map(|(t, i)| Sample::new(t, self.bucket_value(h / LES.len(), handler, b, i)))
            .collect()
    }

    fn span(&self) -> (i64, i64) {
        (FLEET_FROM_MS, END_MS + 1)
    }
}

/// Query 4: one gauge per host over 30 days.
pub struct LongTerm {
    node: NodeExporterShape,
    load1: usize,
}

impl LongTerm {
    /// `series` hosts' `node_load1`.
    pub fn new(series: usize) -> LongTerm {
        let node = NodeExporterShape {
            hosts: series,
            interval_ms: LONG_INTERVAL_MS,
            seed: 30,
        };
        let load1 = (0..NodeExporterShape::series_per_host())
            .find(|&l| node.labels(l).metric_name() == Some("node_load1"))
            .expect("NodeExporterShape has node_load1");
        LongTerm { node, load1 }
    }
}

impl Shape for LongTerm {
    fn count(&self) -> usize {
        self.node.hosts
    }

    fn labels(&self, s: usize) -> Labels {
        self.node
            .labels(s * NodeExporterShape::series_per_host() + self.load1)
    }

    fn samples(&self, s: usize, from: i64, to: i64) -> Vec<Sample> {
        let series = s * NodeExporterShape::series_per_host() + self.load1;
        let off = offset(2 << 40 | s as u64, LONG_INTERVAL_MS);
        let (lo, hi) = self.span();
        slots(from.max(lo), to.min(hi), LONG_INTERVAL_MS, off)
            .map(|(t, i)| Sample::new(t, self.node.value_at(series, i)))
            .collect()
    }

    fn span(&self) -> (i64, i64) {
        (LONG_FROM_MS, LONG_END_MS)
    }
}

//! Node-exporter-like data: `hosts` machines scraped every 15 s for one
//! hour, as remote-write bodies that every server receives byte for byte.
//!
//! Per host: `node_cpu_seconds_total` (8 cpus x 8 modes, counters),
//! `node_load1`, `node_memory_MemAvailable_bytes` and `_MemTotal_bytes`,
//! `node_network_receive_bytes_total` (2 devices), `node_filesystem_avail_bytes`
//! (2 mount points) and one classic histogram
//! `http_request_duration_seconds` (11 bounds + `+Inf`, `_sum`, `_count`):
//! 87 series a host. Values are a deterministic function of (series, step).

use tessera::ingest::proto::{encode_snappy, v1};

/// Scrape interval (ms).
pub const STEP_MS: i64 = 15_000;
/// Scrapes per series (one hour and one sample).
pub const STEPS: i64 = 241;
/// Time window of one batch of requests: all series' samples in it are
/// sent before the next window, so Prometheus's head (which refuses what is
/// an hour older than its newest sample) takes everything.
const WINDOW_STEPS: i64 = 40;
/// Series per request.
const SERIES_PER_REQUEST: usize = 2_000;

/// Every metric name in the set.
pub const FAMILIES: [&str; 9] = [
    "node_cpu_seconds_total",
    "node_load1",
    "node_memory_MemAvailable_bytes",
    "node_memory_MemTotal_bytes",
    "node_network_receive_bytes_total",
    "node_filesystem_avail_bytes",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_count",
    "http_request_duration_seconds_sum",
];
const MODES: [&str; 8] = [
    "idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice",
];
const MODE_SHARE: [f64; 8] = [0.70, 0.15, 0.07, 0.03, 0.01, 0.02, 0.01, 0.01];
const CPUS: usize = 8;
const BOUNDS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

/// One series: its labels (sorted by name) and how its value moves.
struct Series {
    labels: Vec<(&'static str, String)>,
    kind: Kind,
}

enum Kind {
    /// Counter growing by about `rate` per second.
    Counter { rate: f64 },
    /// Gauge moving around `base` by up to `swing`.
    Gauge { base: f64, swing: f64 },
    /// Cumulative histogram bucket `b` (of `BOUNDS`) of a handler whose
    /// requests come at `rps`.
    Bucket { rps: f64, b: usize, host: u64 },
    /// The histogram's `_sum`.
    HistSum { rps: f64 },
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A number in [0, 1) from `(a, b)`.
fn unit(a: u64, b: u64) -> f64 {
    (mix(a.wrapping_mul(0x1000_0001) ^ b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Share of requests at or under bucket `b`.
fn bucket_share(b: usize) -> f64 {
    const CUM: [f64; 12] = [
        0.05, 0.12, 0.30, 0.55, 0.75, 0.88, 0.94, 0.975, 0.99, 0.996, 0.999, 1.0,
    ];
    CUM[b]
}

/// Where in its 15 s interval series `s` is scraped (1 to 11 s), as real
/// scrapes are spread; no sample then sits exactly on a query window's
/// edge, where Prometheus 2.42 (windows closed on the left) and 3.x (open)
/// would disagree.
fn scrape_offset(s: usize) -> i64 {
    1_000 + (s % 11) as i64 * 1_000
}

/// The data set.
pub struct Fleet {
    series: Vec<Series>,
    /// Timestamp of the first scrape (ms).
    pub start_ms: i64,
}

impl Fleet {
    /// `hosts` machines whose last scrape is at `end_ms` (a multiple of 15 s).
    pub fn new(hosts: usize, end_ms: i64) -> Fleet {
        let mut series = Vec::with_capacity(hosts * 87);
        for h in 0..hosts {
            let instance = format!("host-{h:04}:9100");
            let base = |name: &'static str| {
                vec![
                    ("__name__", name.to_string()),
                    ("instance", instance.clone()),
                    ("job", "node".to_string()),
                ]
            };
            let hu = h as u64;
            for cpu in 0..CPUS {
                for (m, mode) in MODES.iter().enumerate() {
                    let mut l = base("node_cpu_seconds_total");
                    l.push(("cpu", cpu.to_string()));
                    l.push(("mode", mode.to_string()));
                    let jitter = 0.8 + 0.4 * unit(hu, (cpu * 8 + m) as u64);
                    series.push(Series {
                        labels: l,
                        kind: Kind::Counter {
                            rate: MODE_SHARE[m] * jitter,
                        },
                    });
                }
            }
            let total = 8e9 * (1.0 + (h % 4) as f64);
            let gauges: [(&'static str, f64, f64); 3] = [
                ("node_load1", 2.0 + 4.0 * unit(hu, 1), 1.5),
                ("node_memory_MemAvailable_bytes", total * 0.4, total * 0.2),
                ("node_memory_MemTotal_bytes", total, 0.0),
            ];
            for (name, b, swing) in gauges {
                series.push(Series {
                    labels: base(name),
                    kind: Kind::Gauge { base: b, swing },
                });
            }
            for dev in ["eth0", "eth1"] {
                let mut l = base("node_network_receive_bytes_total");
                l.insert(1, ("device", dev.to_string()));
                series.push(Series {
                    labels: l,
                    kind: Kind::Counter {
                        rate: 1e6 * (1.0 + 9.0 * unit(hu, dev.len() as u64 + 7)),
                    },
                });
            }
            for mount in ["/", "/var"] {
                let mut l = base("node_filesystem_avail_bytes");
                l.push(("mountpoint", mount.to_string()));
                series.push(Series {
                    labels: l,
                    kind: Kind::Gauge {
                        base: 5e10 * (1.0 + unit(hu, mount.len() as u64 + 11)),
                        swing: 1e9,
                    },
                });
            }
            let rps = 5.0 + 95.0 * unit(hu, 99);
            let hist = |name: &'static str| {
                let mut l = base(name);
                l.push(("handler", "/api/v1/query".to_string()));
                l.sort();
                l
            };
            for b in 0..BOUNDS.len() {
                let mut l = hist("http_request_duration_seconds_bucket");
                l.push(("le", BOUNDS[b].to_string()));
                l.sort();
                series.push(Series {
                    labels: l,
                    kind: Kind::Bucket { rps, b, host: hu },
                });
            }
            series.push(Series {
                labels: hist("http_request_duration_seconds_count"),
                kind: Kind::Bucket {
                    rps,
                    b: BOUNDS.len() - 1,
                    host: hu,
                },
            });
            series.push(Series {
                labels: hist("http_request_duration_seconds_sum"),
                kind: Kind::HistSum { rps },
            });
        }
        for s in &mut series {
            s.labels.sort();
        }
        Fleet {
            series,
            start_ms: end_ms - (STEPS - 1) * STEP_MS,
        }
    }

    /// Series in the set.
    pub fn series(&self) -> usize {
        self.series.len()
    }

    /// Value of series `s` at step `i`; counters need the running state
    /// `acc` (the value at step `i - 1`, 0 before the first).
    fn value(&self, s: usize, i: i64, acc: f64) -> f64 {
        let u = unit(s as u64, i as u64);
        let secs = STEP_MS as f64 / 1000.0;
        match self.series[s].kind {
            Kind::Counter { rate } => acc + rate * secs * (0.5 + u),
            Kind::Gauge { base, swing } => base + swing * (2.0 * u - 1.0),
            Kind::Bucket { rps, b, host } => {
                // Requests of this step, identical for every bucket of the
                // histogram so that buckets stay cumulative.
                let n = (rps * secs * (0.5 + unit(host | 1 << 40, i as u64))).round();
                acc + (n * bucket_share(b)).round()
            }
            Kind::HistSum { rps } => acc + rps * secs * 0.08 * (0.5 + u),
        }
    }

    /// Where a counter stands before the first scrape: about 11 days of
    /// its rate, as for a machine that has been up a while (a counter
    /// starting near zero inside the hour would make Prometheus 2.42 and
    /// 3.x extrapolate `rate` differently at its start).
    fn initial(&self, s: usize) -> f64 {
        const UPTIME_S: f64 = 1e6;
        match self.series[s].kind {
            Kind::Counter { rate } => (rate * UPTIME_S).round(),
            Kind::Gauge { .. } => 0.0,
            Kind::Bucket { rps, b, .. } => (rps * UPTIME_S * bucket_share(b)).round(),
            Kind::HistSum { rps } => (rps * UPTIME_S * 0.08).round(),
        }
    }

    /// Every remote-write body (snappy-compressed protobuf) and the number
    /// of samples in all of them.
    pub fn bodies(&self) -> (Vec<Vec<u8>>, u64) {
        let mut acc: Vec<f64> = (0..self.series.len()).map(|s| self.initial(s)).collect();
        let (mut bodies, mut total) = (Vec::new(), 0u64);
        let mut from = 0;
        while from < STEPS {
            let to = (from + WINDOW_STEPS).min(STEPS);
            for chunk in (0..self.series.len())
                .collect::<Vec<_>>()
                .chunks(SERIES_PER_REQUEST)
            {
                let mut req = v1::WriteRequest::default();
                for &s in chunk {
                    let mut samples = Vec::with_capacity((to - from) as usize);
                    for i in from..to {
                        acc[s] = self.value(s, i, acc[s]);
                        samples.push(v1::Sample {
                            value: acc[s],
                            timestamp: self.start_ms + (i - 1) * STEP_MS + scrape_offset(s),
                        });
                    }
                    total += samples.len() as u64;
                    req.timeseries.push(v1::TimeSeries {
                        labels: self.series[s]
                            .labels
                            .iter()
                            .map(|(n, v)| v1::Label {
                                name: n.to_string(),
                                value: v.clone(),
                            })
                            .collect(),
                        samples,
                        ..Default::default()
                    });
                }
                bodies.push(encode_snappy(&req));
            }
            from = to;
        }
        (bodies, total)
    }
}

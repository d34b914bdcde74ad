//! Synthetic data shapes for benchmarks and tests.
//!
//! [`NodeExporterShape`] mimics what Prometheus scrapes from node_exporter on
//! a fleet of mostly idle servers. Per host there are
//! [`NodeExporterShape::series_per_host`] series:
//!
//! | metric | series per host | shape |
//! |---|---|---|
//! | `node_cpu_seconds_total{cpu="0".."7", mode}` | 64 | counters in seconds with 2 decimals; `idle` grows 14.5–15.0 s a scrape, `user`/`system` by tenths, `iowait`, `irq`, `softirq`, `steal`, `nice` by hundredths and mostly not at all |
//! | `node_memory_*_bytes` (12 fields) | 12 | gauges in whole 4 KiB pages that wander slowly; `MemTotal`, `SwapTotal`, `SwapFree` constant |
//! | `node_filesystem_{size,avail,free}_bytes{device, fstype, mountpoint}` | 9 | 3 mountpoints; size constant, avail/free fall by a page now and then |
//! | `node_network_{receive,transmit}_{bytes,packets}_total{device}` | 8 | `eth0` and `lo`, counters with irregular integer increments |
//! | `node_load{1,5,15}` | 3 | gauges with 2 decimals, smoother for the longer averages |
//! | `node_disk_{reads,writes}_completed_total`, `node_disk_{read,written}_bytes_total{device}` | 8 | `sda`, `sdb`; byte counters move in 512-byte sectors |
//!
//! Every series carries `job="node"` and `instance="host-<h>:9100"`.
//! Timestamps are exactly regular, as Prometheus aligns scrape timestamps.
//! Counters start from realistic large bases (the idle counter near 10^6 s).
//!
//! Values are closed-form functions of `(seed, series, sample index)`, so any
//! window can be generated directly: a counter is
//! `base + floor(rate * i + jitter * u(i))` with `u(i)` uniform in `[0, 1)`
//! and `jitter < rate`, which is monotone with increments in
//! `[rate - jitter, rate + jitter]`; a gauge is smooth value noise (random
//! knots, linearly interpolated, at two time scales) plus per-sample noise.
//! The randomness is a splitmix64 hash, so the library needs no `rand`.

use crate::model::{Labels, Sample};

/// Sample index 0 is at this time (2023-11-14T22:13:20Z); earlier
/// timestamps wrap to very large indices.
pub const ORIGIN_MS: i64 = 1_700_000_000_000;

/// Counters restart from their base every this many samples (about 2000
/// years at a 15 s interval), keeping every value an exact decimal.
const COUNTER_PERIOD: u64 = 1 << 32;

/// A fleet of node_exporter targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeExporterShape {
    /// Number of scraped hosts.
    pub hosts: usize,
    /// Scrape interval in milliseconds (must be positive).
    pub interval_ms: i64,
    /// Seed for every random choice; equal seeds give equal data.
    pub seed: u64,
}

const CPUS: usize = 8;
const CPU_MODES: [&str; 8] = [
    "idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice",
];
const MEMORY: [&str; 12] = [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "Active",
    "Inactive",
    "Dirty",
    "SwapTotal",
    "SwapFree",
    "Slab",
    "Shmem",
];
/// `(device, fstype, mountpoint, size in pages)`.
const FILESYSTEMS: [(&str, &str, &str, u64); 3] = [
    ("/dev/sda1", "ext4", "/", 25_600_000),
    ("/dev/sda2", "vfat", "/boot", 131_072),
    ("/dev/sdb1", "xfs", "/var", 51_200_000),
];
const FS_FIELDS: [&str; 3] = ["size", "avail", "free"];
const NET_DEVICES: [&str; 2] = ["eth0", "lo"];
const NET_FIELDS: [&str; 4] = [
    "receive_bytes",
    "transmit_bytes",
    "receive_packets",
    "transmit_packets",
];
const LOADS: [&str; 3] = ["node_load1", "node_load5", "node_load15"];
const DISKS: [&str; 2] = ["sda", "sdb"];
const DISK_FIELDS: [&str; 4] = [
    "node_disk_reads_completed_total",
    "node_disk_writes_completed_total",
    "node_disk_read_bytes_total",
    "node_disk_written_bytes_total",
];

const CPU_END: usize = CPUS * CPU_MODES.len();
const MEM_END: usize = CPU_END + MEMORY.len();
const FS_END: usize = MEM_END + FILESYSTEMS.len() * FS_FIELDS.len();
const NET_END: usize = FS_END + NET_DEVICES.len() * NET_FIELDS.len();
const LOAD_END: usize = NET_END + LOADS.len();
const PER_HOST: usize = LOAD_END + DISKS.len() * DISK_FIELDS.len();

/// How one series' values are generated, in integer units times `unit`.
#[derive(Debug, Clone, Copy)]
enum Gen {
    /// Always `units`.
    Constant { units: u64 },
    /// `base + floor(rate * i + jitter * u(i))`; `jitter < rate`.
    Counter { base: u64, rate: f64, jitter: f64 },
    /// `base - floor(rate * i + jitter * u(i))`, floored at zero.
    Draining { base: u64, rate: f64, jitter: f64 },
    /// `base + slow * noise(i / 960) + fast * noise(i / 40) + noise * (u(i) - 0.5)`,
    /// rounded and floored at zero.
    Gauge {
        base: f64,
        slow: f64,
        fast: f64,
        noise: f64,
    },
}

/// What one integer unit is worth.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Hundredths,
    One,
    Sector,
    Page,
}

impl Unit {
    fn value(self, units: u64) -> f64 {
        match self {
            // One correctly rounded division: an exact 2-decimal number.
            Unit::Hundredths => units as f64 / 100.0,
            Unit::One => units as f64,
            Unit::Sector => (units * 512) as f64,
            Unit::Page => (units * 4096) as f64,
        }
    }
}

/// A series' generator plus the stream key its randomness derives from
/// (shared by series that must move together, like fs avail and free).
#[derive(Debug, Clone, Copy)]
struct Spec {
    gen: Gen,
    unit: Unit,
    stream: u64,
    /// Added to the generated units (fs free = avail + reserved blocks).
    offset: u64,
}

impl NodeExporterShape {
    /// Series per host (104).
    pub fn series_per_host() -> usize {
        PER_HOST
    }

    /// Total series in the fleet.
    pub fn series_count(&self) -> usize {
        self.hosts * PER_HOST
    }

    /// The labels of series `series` (`0..series_count()`): host-major, then
    /// the metric families in the order of the table in the module docs.
    pub fn labels(&self, series: usize) -> Labels {
        let host = series / PER_HOST;
        let mut pairs = metric_labels(series % PER_HOST);
        pairs.push(("job".into(), "node".into()));
        pairs.push(("instance".into(), format!("host-{host}:9100")));
        Labels::from_pairs(pairs)
    }

    /// `n` samples of `series` at `start_ms`, `start_ms + interval_ms`, ...
    ///
    /// The sample at time `t` is [`Self::value_at`] of index
    /// `t / interval_ms - ORIGIN_MS / interval_ms` (floored, wrapping), so
    /// consecutive windows join up exactly.
    pub fn samples(&self, series: usize, start_ms: i64, n: usize) -> Vec<Sample> {
        let step = self.interval_ms.max(1);
        let origin_slot = ORIGIN_MS.div_euclid(step);
        (0..n)
            .map(|k| {
                let t = start_ms.wrapping_add((k as i64).wrapping_mul(step));
                let i = t.div_euclid(step).wrapping_sub(origin_slot) as u64;
                Sample::new(t, self.value_at(series, i))
            })
            .collect()
    }

    /// The value of `series` at sample index `i` (see [`Self::samples`]).
    pub fn value_at(&self, series: usize, i: u64) -> f64 {
        let spec = spec(self.seed, series);
        let key = mix(self.seed ^ mix(spec.stream));
        let units = generate(spec.gen, key, i % COUNTER_PERIOD);
        spec.unit.value(units + spec.offset)
    }
}

fn generate(gen: Gen, key: u64, i: u64) -> u64 {
    let u = unit_float(mix(key ^ mix(i)));
    match gen {
        Gen::Constant { units } => units,
        Gen::Counter { base, rate, jitter } => base + (rate * i as f64 + jitter * u).floor() as u64,
        Gen::Draining { base, rate, jitter } => {
            base.saturating_sub((rate * i as f64 + jitter * u).floor() as u64)
        }
        Gen::Gauge {
            base,
            slow,
            fast,
            noise,
        } => {
            let v = base
                + slow * value_noise(key ^ 1, i, 960)
                + fast * value_noise(key ^ 2, i, 40)
                + noise * (u - 0.5);
            v.round().max(0.0) as u64
        }
    }
}

/// Smooth noise in `[-1, 1]`: random knots every `span` samples, linearly
/// interpolated, so a window can start anywhere.
fn value_noise(key: u64, i: u64, span: u64) -> f64 {
    let knot = |k: u64| unit_float(mix(key ^ mix(k))) * 2.0 - 1.0;
    let k = i / span;
    let frac = (i % span) as f64 / span as f64;
    knot(k) * (1.0 - frac) + knot(k + 1) * frac
}

/// The splitmix64 finaliser: a fast, well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash mapped to `[0, 1)`.
fn unit_float(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The generator of series `series`, with per-series variation from `seed`.
fn spec(seed: u64, series: usize) -> Spec {
    let host = series / PER_HOST;
    let local = series % PER_HOST;
    let h = mix(seed ^ mix(0x5eed_0000 ^ series as u64));
    // A factor in [1 - spread, 1 + spread] so hosts and cpus differ.
    let vary = |spread: f64| 1.0 + spread * (unit_float(h) * 2.0 - 1.0);
    let plain = |gen, unit| Spec {
        gen,
        unit,
        stream: series as u64,
        offset: 0,
    };
    let counter = |base: f64, rate: f64, jitter: f64| Gen::Counter {
        base: (base * vary(0.3)) as u64,
        rate,
        jitter: jitter.min(rate * 0.95),
    };
    match local {
        l if l < CPU_END => plain(
            cpu_gen(l % CPU_MODES.len(), counter, vary(0.3)),
            Unit::Hundredths,
        ),
        l if l < MEM_END => plain(memory_gen(l - CPU_END, vary(0.3)), Unit::Page),
        l if l < FS_END => fs_spec(host, l - MEM_END, vary(0.2)),
        l if l < NET_END => {
            let (device, field) = (
                (l - FS_END) / NET_FIELDS.len(),
                (l - FS_END) % NET_FIELDS.len(),
            );
            // (base, rate per scrape): bytes then packets, receive then transmit.
            let (base, rate) =
                [(5e11, 30_000.0), (3e11, 45_000.0), (4e8, 40.0), (3e8, 35.0)][field];
            let scale = if device == 0 { 1.0 } else { 0.1 };
            plain(
                counter(base * scale, rate * scale * vary(0.5), rate * scale * 0.9),
                Unit::One,
            )
        }
        l if l < LOAD_END => {
            let fast = [12.0, 5.0, 2.0][l - NET_END];
            let noise = [8.0, 2.0, 1.0][l - NET_END];
            // Load averages of one host follow the same slow trend.
            let stream = (1 << 41) | host as u64;
            let gen = Gen::Gauge {
                base: 15.0,
                slow: 10.0,
                fast,
                noise,
            };
            Spec {
                gen,
                unit: Unit::Hundredths,
                stream,
                offset: 0,
            }
        }
        l => {
            let (disk, field) = (
                (l - LOAD_END) / DISK_FIELDS.len(),
                (l - LOAD_END) % DISK_FIELDS.len(),
            );
            let scale = if disk == 0 { 1.0 } else { 0.3 };
            let (base, rate) = [(2e6, 0.3), (3e7, 8.0), (1e8, 5.0), (8e8, 250.0)][field];
            let unit = if field >= 2 { Unit::Sector } else { Unit::One };
            plain(
                counter(base * scale, rate * scale, rate * scale * 0.9),
                unit,
            )
        }
    }
}

/// CPU time in hundredths of a second: idle takes nearly all of each 15 s.
fn cpu_gen(mode: usize, counter: impl Fn(f64, f64, f64) -> Gen, vary: f64) -> Gen {
    // (base seconds, hundredths per scrape) for idle, user, system, iowait,
    // irq, softirq, steal, nice.
    const MODES: [(f64, f64); 8] = [
        (1e6, 1475.0),
        (2e4, 12.0),
        (1e4, 6.0),
        (800.0, 0.6),
        (50.0, 0.05),
        (500.0, 0.4),
        (100.0, 0.1),
        (30.0, 0.02),
    ];
    let (base_s, rate) = MODES[mode];
    if mode == 0 {
        // Idle grows 14.5-15.0 s a scrape whatever the per-series factor.
        return counter(base_s * 100.0, rate, 24.0);
    }
    counter(base_s * 100.0, rate * vary, rate * vary)
}

/// Memory fields in pages of a 16 GiB host.
fn memory_gen(field: usize, vary: f64) -> Gen {
    const TOTAL: u64 = 4 << 20;
    const SWAP: u64 = 1 << 19;
    // (base, slow amplitude, fast amplitude, per-sample noise) in pages.
    let gauge = |base: f64, slow: f64, fast: f64, noise: f64| Gen::Gauge {
        base: base * vary,
        slow,
        fast,
        noise,
    };
    match MEMORY[field] {
        "MemTotal" => Gen::Constant { units: TOTAL },
        "SwapTotal" => Gen::Constant { units: SWAP },
        "SwapFree" => Gen::Constant {
            units: SWAP - (3_000.0 * vary) as u64,
        },
        "MemFree" => gauge(1.2e6, 150_000.0, 8_000.0, 64.0),
        "MemAvailable" => gauge(3.0e6, 150_000.0, 8_000.0, 64.0),
        "Buffers" => gauge(6.0e4, 3_000.0, 200.0, 4.0),
        "Cached" => gauge(1.7e6, 100_000.0, 5_000.0, 32.0),
        "Active" => gauge(1.4e6, 80_000.0, 4_000.0, 32.0),
        "Inactive" => gauge(1.1e6, 60_000.0, 3_000.0, 32.0),
        "Dirty" => gauge(200.0, 150.0, 100.0, 60.0),
        "Slab" => gauge(7.0e4, 2_000.0, 200.0, 8.0),
        _ => gauge(2.5e4, 200.0, 20.0, 2.0),
    }
}

/// Filesystem size is constant; avail and free share one draining counter
/// (free also counts the 5% reserved for root).
fn fs_spec(host: usize, idx: usize, vary: f64) -> Spec {
    let (fs, field) = (idx / FS_FIELDS.len(), idx % FS_FIELDS.len());
    let (_, _, _, size) = FILESYSTEMS[fs];
    let stream = (1 << 40) | (host * FILESYSTEMS.len() + fs) as u64;
    let rate = [0.03, 0.001, 0.1][fs];
    let gen = match field {
        0 => Gen::Constant { units: size },
        _ => Gen::Draining {
            base: (size as f64 * 0.55 * vary) as u64,
            rate,
            jitter: rate * 0.95,
        },
    };
    let offset = if field == 2 { size / 20 } else { 0 };
    Spec {
        gen,
        unit: Unit::Page,
        stream,
        offset,
    }
}

/// Name and identifying labels of local series `local` (without job and
/// instance).
fn metric_labels(local: usize) -> Vec<(String, String)> {
    let name = |n: String| ("__name__".to_string(), n);
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    match local {
        l if l < CPU_END => vec![
            name("node_cpu_seconds_total".into()),
            pair("cpu", &(l / CPU_MODES.len()).to_string()),
            pair("mode", CPU_MODES[l % CPU_MODES.len()]),
        ],
        l if l < MEM_END => vec![name(format!("node_memory_{}_bytes", MEMORY[l - CPU_END]))],
        l if l < FS_END => {
            let (fs, field) = (
                (l - MEM_END) / FS_FIELDS.len(),
                (l - MEM_END) % FS_FIELDS.len(),
            );
            let (device, fstype, mountpoint, _) = FILESYSTEMS[fs];
            vec![
                name(format!("node_filesystem_{}_bytes", FS_FIELDS[field])),
                pair("device", device),
                pair("fstype", fstype),
                pair("mountpoint", mountpoint),
            ]
        }
        l if l < NET_END => {
            let (device, field) = (
                (l - FS_END) / NET_FIELDS.len(),
                (l - FS_END) % NET_FIELDS.len(),
            );
            vec![
                name(format!("node_network_{}_total", NET_FIELDS[field])),
                pair("device", NET_DEVICES[device]),
            ]
        }
        l if l < LOAD_END => vec![name(LOADS[l - NET_END].into())],
        l => {
            let (disk, field) = (
                (l - LOAD_END) / DISK_FIELDS.len(),
                (l - LOAD_END) % DISK_FIELDS.len(),
            );
            vec![name(DISK_FIELDS[field].into()), pair("device", DISKS[disk])]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn shape() -> NodeExporterShape {
        NodeExporterShape {
            hosts: 3,
            interval_ms: 15_000,
            seed: 42,
        }
    }

    #[test]
    fn about_a_hundred_series_per_host() {
        assert_eq!(NodeExporterShape::series_per_host(), 104);
        assert_eq!(shape().series_count(), 312);
    }

    #[test]
    fn labels_are_unique_and_complete() {
        let s = shape();
        let all: Vec<_> = (0..s.series_count()).map(|i| s.labels(i)).collect();
        let set: HashSet<_> = all.iter().collect();
        assert_eq!(set.len(), all.len());
        for l in &all {
            assert!(
                l.metric_name().is_some_and(|n| n.starts_with("node_")),
                "{l}"
            );
            assert_eq!(l.get("job"), Some("node"));
            assert!(l
                .get("instance")
                .is_some_and(|i| i.starts_with("host-") && i.ends_with(":9100")));
        }
        assert_eq!(
            s.labels(0).to_string(),
            r#"node_cpu_seconds_total{cpu="0", instance="host-0:9100", job="node", mode="idle"}"#
        );
        assert_eq!(
            s.labels(PER_HOST + 64).metric_name(),
            Some("node_memory_MemTotal_bytes")
        );
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = shape().samples(7, ORIGIN_MS, 100);
        let b = shape().samples(7, ORIGIN_MS, 100);
        assert!(a.iter().zip(&b).all(|(x, y)| x.bit_eq(y)));
        let other = NodeExporterShape {
            seed: 43,
            ..shape()
        }
        .samples(7, ORIGIN_MS, 100);
        assert!(a.iter().zip(&other).any(|(x, y)| !x.bit_eq(y)));
    }

    #[test]
    fn windows_join_up() {
        let s = shape();
        for series in [0, 1, 65, 80, 90, 94, 100, 200] {
            for start in [
                ORIGIN_MS,
                ORIGIN_MS - 7 * 15_000,
                0,
                ORIGIN_MS + 123_456_789,
            ] {
                let whole = s.samples(series, start, 50);
                let mut parts = s.samples(series, start, 20);
                parts.extend(s.samples(series, start + 20 * 15_000, 30));
                assert!(
                    whole.iter().zip(&parts).all(|(x, y)| x.bit_eq(y)),
                    "{series} {start}"
                );
                assert!(whole.windows(2).all(|w| w[1].t - w[0].t == 15_000));
            }
        }
    }

    #[test]
    fn counters_grow_and_gauges_stay_in_units() {
        let s = shape();
        for series in 0..PER_HOST {
            let name = s
                .labels(series)
                .metric_name()
                .unwrap_or_default()
                .to_string();
            let v: Vec<f64> = s
                .samples(series, ORIGIN_MS, 2000)
                .iter()
                .map(|x| x.v)
                .collect();
            if name.ends_with("_total") {
                assert!(v.windows(2).all(|w| w[1] >= w[0]), "{name} not monotone");
            }
            if name.starts_with("node_memory") || name.starts_with("node_filesystem") {
                assert!(v.iter().all(|x| x % 4096.0 == 0.0 && *x >= 0.0), "{name}");
            }
            if name.starts_with("node_cpu") || name.starts_with("node_load") {
                assert!(
                    v.iter().all(|x| (x * 100.0).round() / 100.0 == *x),
                    "{name}"
                );
            }
        }
        // Idle grows 14.5-15.0 s a scrape from about a million seconds.
        let idle: Vec<f64> = s.samples(0, ORIGIN_MS, 500).iter().map(|x| x.v).collect();
        assert!(idle[0] > 5e5 && idle[0] < 2e6);
        assert!(
            idle.windows(2)
                .all(|w| (14.4..=15.1).contains(&(w[1] - w[0]))),
            "{:?}",
            &idle[..5]
        );
    }

    #[test]
    fn mostly_idle_counters_often_stand_still() {
        // cpu 0, mode nice: most scrapes add nothing.
        let v: Vec<f64> = shape()
            .samples(7, ORIGIN_MS, 1000)
            .iter()
            .map(|x| x.v)
            .collect();
        let still = v.windows(2).filter(|w| w[0] == w[1]).count();
        assert!(still > 900, "{still}");
        assert!(still < 999, "{still}");
    }
}

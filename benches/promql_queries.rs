//! PromQL query latency: Tessera's engine against Prometheus 2.42 loaded
//! with the same data, in the same run.
//!
//! Queries (1-3 are 1 h range queries at a 15 s step ending at the last
//! sample; 4 is an instant query at the end of its data):
//! 1. `sum by (instance) (rate(node_cpu_seconds_total[5m]))`
//! 2. `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`
//! 3. `topk(10, sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])))`
//! 4. `avg_over_time(node_load1[30d])`
//!
//! Data (see `promql/data.rs`): hosts x 8 cpus x 8 modes CPU counters and
//! instances x handlers classic histograms with 12 buckets, 15 s scrapes
//! over the last 65 min; 100 `node_load1` gauges at 60 s for 30 days.
//! Tessera keeps queries 1-3's data in its head (Prometheus holds it in its
//! head too) and flushes query 4's into a block. Prometheus gets two
//! servers, like Tessera's two tenants: one for queries 1-3, one for query
//! 4, whose head it compacts into blocks itself. Both are loaded by remote
//! write and checked to hold every sample sent before anything is timed.
//!
//! Each query runs once to warm up and then `PROMQL_BENCH_RUNS` times; the
//! table gives medians. For Prometheus the engine's own
//! `data.stats.timings.evalTotalTime` (`stats=all`) is the comparable
//! number; the HTTP time adds JSON encoding and transfer. The ratio is
//! Tessera / Prometheus eval. Each side's result is digested (series,
//! points, sum of values) and the digests must agree within 1e-6 relative.
//! Peak memory is the process's VmHWM above its RSS before the last run.
//!
//! Environment (defaults in brackets):
//! * `PROMQL_BENCH_HOSTS` [10000]: hosts (x 64 CPU series) of queries 1 and 3;
//! * `PROMQL_BENCH_PROM_HOSTS` [`PROMQL_BENCH_HOSTS`]: hosts for the
//!   comparison with Prometheus. When it is smaller, the comparison runs at
//!   this scale and Tessera alone runs again at `PROMQL_BENCH_HOSTS`. Full
//!   scale loads 170M samples into each side (Prometheus: ~3 min, ~4.3 GiB
//!   RSS) and took 16 min with 3 runs on two cores; 2500 hosts takes ~6;
//! * `PROMQL_BENCH_HIST_INSTANCES` [100], `PROMQL_BENCH_HIST_HANDLERS` [10]:
//!   histograms (x 12 bucket series);
//! * `PROMQL_BENCH_LONG_SERIES` [100]: series of query 4;
//! * `PROMQL_BENCH_RUNS` [5]: timed runs per query;
//! * `PROMQL_BENCH_MAX_SAMPLES` [500000000]: the sample limit of both engines
//!   (at full scale query 1 holds 640k x 241 intermediate points, more than
//!   Prometheus's default of 50M).
//!
//! Without `prometheus` on `PATH` only Tessera's numbers are printed.
//! Run with `cargo bench --bench promql_queries`.

#[path = "promql/data.rs"]
mod data;
#[path = "promql/measure.rs"]
mod measure;
#[path = "promql/prom.rs"]
mod prom;
#[path = "promql/tess.rs"]
mod tess;

use std::time::Duration;

use data::{Fleet, LongTerm, Shape, END_MS, FLEET_FROM_MS, LONG_END_MS, STEP_MS};
use measure::{ms, peak_above_mib, reset_peak, timed, Query};
use prom::{PromTiming, Prometheus};
use tess::TessTiming;
use tessera::promql::{Engine, EngineConfig, TenantScope};
use tessera::storage::Storage;
use tessera::tenant::TenantId;

/// Relative tolerance of the differential check.
const AGREE_REL: f64 = 1e-6;

struct Config {
    hosts: usize,
    prom_hosts: usize,
    instances: usize,
    handlers: usize,
    long_series: usize,
    runs: usize,
    max_samples: usize,
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Config {
    fn from_env() -> Config {
        let hosts = env("PROMQL_BENCH_HOSTS", 10_000);
        Config {
            hosts,
            prom_hosts: env("PROMQL_BENCH_PROM_HOSTS", hosts),
            instances: env("PROMQL_BENCH_HIST_INSTANCES", 100),
            handlers: env("PROMQL_BENCH_HIST_HANDLERS", 10),
            long_series: env("PROMQL_BENCH_LONG_SERIES", 100),
            runs: env("PROMQL_BENCH_RUNS", 5),
            max_samples: env("PROMQL_BENCH_MAX_SAMPLES", 500_000_000),
        }
    }

    fn fleet(&self, hosts: usize) -> Fleet {
        Fleet::new(hosts, self.instances, self.handlers)
    }
}

fn queries() -> Vec<Query> {
    let range = Some((END_MS - 3_600_000, END_MS, STEP_MS));
    let q = |name, expr: &str, range| Query {
        name,
        expr: expr.to_string(),
        range,
        time_ms: LONG_END_MS,
    };
    vec![
        q(
            "1 sum by instance of rate",
            "sum by (instance) (rate(node_cpu_seconds_total[5m]))",
            range,
        ),
        q(
            "2 histogram_quantile",
            "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
            range,
        ),
        q(
            "3 topk of busy hosts",
            "topk(10, sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m])))",
            range,
        ),
        q(
            "4 avg_over_time 30d",
            "avg_over_time(node_load1[30d])",
            None,
        ),
    ]
}

/// Tessera loaded with `fleet` (tenant `fleet`, head) and `long` (tenant
/// `longterm`, flushed to a block).
struct TesseraSide {
    _dir: tempfile::TempDir,
    st: Storage,
    fleet: TenantId,
    long: TenantId,
}

impl TesseraSide {
    fn load(fleet: &Fleet, long: &LongTerm) -> TesseraSide {
        let dir = tempfile::tempdir().expect("temp dir");
        let st = tess::open(dir.path());
        let (f, l) = (
            TenantId::new("fleet").unwrap(),
            TenantId::new("longterm").unwrap(),
        );
        let (t, n) = timed(|| tess::load(&st, &f, fleet));
        println!(
            "tessera: loaded {} series, {n} samples into the head in {:.1} s ({:.2} M samples/s)",
            fleet.count(),
            t.as_secs_f64(),
            n as f64 / t.as_secs_f64() / 1e6
        );
        let (t, n) = timed(|| {
            let n = tess::load(&st, &l, long);
            st.flush(&l).expect("flush");
            st.compact(&l).expect("compact");
            n
        });
        println!(
            "tessera: loaded and flushed {} series, {n} samples in {:.1} s ({} block(s)); RSS {:.0} MiB",
            long.count(),
            t.as_secs_f64(),
            st.blocks(&l).len(),
            measure::status_kib("self", "VmRSS:").unwrap_or(0) as f64 / 1024.0
        );
        TesseraSide {
            _dir: dir,
            st,
            fleet: f,
            long: l,
        }
    }

    fn time(&self, engine: &Engine, q: &Query, runs: usize) -> Result<TessTiming, String> {
        let tenant = if q.range.is_some() {
            &self.fleet
        } else {
            &self.long
        };
        let scope = TenantScope::new(&self.st, tenant.clone());
        tess::time_query(engine, &scope, q, runs)
    }
}

/// Two Prometheus servers, one per tenant of the Tessera side. The long-term
/// data has its own server because its head must be cut into blocks, and
/// Prometheus 2.42 was seen to lose an acknowledged remote-write sample or
/// two when that head compaction ran while the fleet data was being written.
struct PromSide {
    fleet: Prometheus,
    long: Prometheus,
}

impl PromSide {
    fn load(dir: &std::path::Path, cfg: &Config, fleet: &Fleet, long: &LongTerm) -> PromSide {
        let start = |name: &str| {
            let d = dir.join(name);
            std::fs::create_dir_all(&d).expect("prometheus dir");
            Prometheus::start(&d, cfg.max_samples)
        };
        let side = PromSide {
            fleet: start("fleet"),
            long: start("long"),
        };
        load_one(&side.long, "long-term", long, LONG_END_MS - 4 * 3_600_000);
        check_loaded(&side.long, "node_load1[31d]", LONG_END_MS, long);
        load_one(&side.fleet, "fleet", fleet, FLEET_FROM_MS);
        check_loaded(&side.fleet, "{job=~\"node|api\"}[70m]", END_MS, fleet);
        side
    }

    /// The server holding `q`'s data (range queries are over the fleet).
    fn for_query(&self, q: &Query) -> &Prometheus {
        if q.range.is_some() {
            &self.fleet
        } else {
            &self.long
        }
    }
}

/// Remote-writes `shape` to `p` and waits for compaction to settle with
/// the head starting at `head_from` or later.
fn load_one(p: &Prometheus, what: &str, shape: &dyn Shape, head_from: i64) {
    let (t, n) = timed(|| p.load(shape));
    println!(
        "prometheus: remote-wrote {what} data, {} series, {n} samples in {:.1} s ({:.2} M samples/s)",
        shape.count(),
        t.as_secs_f64(),
        n as f64 / t.as_secs_f64() / 1e6
    );
    let (t, ()) = timed(|| p.settle(head_from));
    println!(
        "prometheus: {what} compaction settled in {:.1} s; RSS {:.0} MiB",
        t.as_secs_f64(),
        measure::status_kib(&p.pid(), "VmRSS:").unwrap_or(0) as f64 / 1024.0
    );
}

/// Asks `p` how many samples `selector` holds at `time_ms`, compares with
/// what was sent, and names series that are short.
fn check_loaded(p: &Prometheus, selector: &str, time_ms: i64, shape: &dyn Shape) {
    let sent = samples_of(shape);
    let q = |expr: String| Query {
        name: "check",
        expr,
        range: None,
        time_ms,
    };
    let held = p
        .query(&q(format!("sum(count_over_time({selector}))")))
        .map(|(_, d)| d.sum);
    let ok = held.as_ref().is_ok_and(|h| *h == sent as f64);
    println!(
        "prometheus holds {held:?} of {sent} samples sent: {}",
        if ok { "ok" } else { "MISMATCH" }
    );
    if !ok {
        // Every series has the same number of samples: name the short ones.
        let (from, to) = shape.span();
        let each = shape.samples(0, from, to).len();
        let short = q(format!("count_over_time({selector}) != {each}"));
        for (labels, n) in p.vector(&short).unwrap_or_default().iter().take(10) {
            println!("prometheus: {labels} holds {n} samples, not {each}");
        }
    }
}

/// Samples in `shape`, counted from the generator.
fn samples_of(shape: &dyn Shape) -> u64 {
    let (from, to) = shape.span();
    (0..shape.count())
        .map(|s| shape.samples(s, from, to).len() as u64)
        .sum()
}

/// The expected result of query 4, straight from the generator: the sum
/// over series of each series' mean.
fn oracle_q4(long: &LongTerm) -> measure::Digest {
    let (from, to) = long.span();
    let mut d = measure::Digest::default();
    for s in 0..long.count() {
        let v = long.samples(s, from, to);
        d.series += 1;
        d.add(v.iter().map(|x| x.v).sum::<f64>() / v.len() as f64);
    }
    d
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.1}", ms(d))
}

fn fmt_mib(m: Option<f64>) -> String {
    m.map_or("-".into(), |m| format!("{m:.0}"))
}

/// The comparison at `cfg.prom_hosts`: both engines, one table.
fn compare(cfg: &Config, engine: &Engine) {
    let (fleet, long) = (cfg.fleet(cfg.prom_hosts), LongTerm::new(cfg.long_series));
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "\n## Comparison at {} hosts ({} series for queries 1-3)\n",
        cfg.prom_hosts,
        fleet.count()
    );
    let p = PromSide::load(dir.path(), cfg, &fleet, &long);
    let t = TesseraSide::load(&fleet, &long);
    println!("\n| query | Tessera ms | Prometheus eval ms | Prometheus HTTP ms | ratio | Tessera peak MiB | Prometheus peak MiB | results |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let mut notes = Vec::new();
    for q in queries() {
        eprintln!("timing query {}", q.name);
        let ours = t.time(engine, &q, cfg.runs);
        let server = p.for_query(&q);
        let base = reset_peak(&server.pid());
        let theirs = server.time_query(&q, cfg.runs);
        let their_peak = peak_above_mib(&server.pid(), base);
        println!("{}", row(&q, &ours, &theirs, their_peak));
        notes.push(format!("{}:\n{}", q.name, explain(&ours, &theirs)));
        if q.range.is_none() {
            notes.push(format!("  generator:  {}", oracle_q4(&long)));
        }
    }
    println!(
        "
Results (differential check: series, points and sum within {AGREE_REL:e} relative):
"
    );
    for n in notes {
        println!("{n}");
    }
}

fn row(
    q: &Query,
    ours: &Result<TessTiming, String>,
    theirs: &Result<PromTiming, String>,
    their_peak: Option<f64>,
) -> String {
    let cell = |r: Option<String>| r.unwrap_or_else(|| "-".into());
    let o = ours.as_ref().ok();
    let p = theirs.as_ref().ok();
    let ratio = o
        .zip(p)
        .map(|(o, p)| format!("{:.2}x", ms(o.time) / ms(p.eval)));
    let agree = match (o, p) {
        (Some(o), Some(p)) if o.digest.agrees(&p.digest, AGREE_REL) => "agree".to_string(),
        (Some(_), Some(_)) => "DIFFER".to_string(),
        (None, _) => "Tessera failed".to_string(),
        (_, None) => "Prometheus failed".to_string(),
    };
    format!(
        "| `{}` | {} | {} | {} | {} | {} | {} | {agree} |",
        q.expr,
        cell(o.map(|o| fmt_ms(o.time))),
        cell(p.map(|p| fmt_ms(p.eval))),
        cell(p.map(|p| fmt_ms(p.http))),
        cell(ratio),
        fmt_mib(o.and_then(|o| o.peak_mib)),
        fmt_mib(their_peak),
    )
}

/// Both results (or failures), for the notes under the table.
fn explain(ours: &Result<TessTiming, String>, theirs: &Result<PromTiming, String>) -> String {
    let ours = ours
        .as_ref()
        .map_or_else(|e| e.clone(), |o| o.digest.to_string());
    let theirs = theirs
        .as_ref()
        .map_or_else(|e| e.clone(), |p| p.digest.to_string());
    format!("  Tessera:    {ours}\n  Prometheus: {theirs}")
}

/// Tessera alone at `hosts`.
fn tessera_only(cfg: &Config, engine: &Engine, hosts: usize) {
    let (fleet, long) = (cfg.fleet(hosts), LongTerm::new(cfg.long_series));
    println!(
        "\n## Tessera alone at {hosts} hosts ({} series for queries 1-3)\n",
        fleet.count()
    );
    let t = TesseraSide::load(&fleet, &long);
    println!("\n| query | Tessera ms | Tessera peak MiB | result |");
    println!("|---|---:|---:|---|");
    for q in queries() {
        eprintln!("timing query {}", q.name);
        match t.time(engine, &q, cfg.runs) {
            Ok(o) => println!(
                "| `{}` | {} | {} | {} |",
                q.expr,
                fmt_ms(o.time),
                fmt_mib(o.peak_mib),
                o.digest
            ),
            Err(e) => println!("| `{}` | - | - | {e} |", q.expr),
        }
    }
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--test`; loading
    // hundreds of millions of samples is not a test.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let cfg = Config::from_env();
    // A stub or crashing engine is reported in the table; one line is enough.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("tessera engine panicked: {info}")
    }));
    let engine = Engine::new(EngineConfig {
        max_samples: cfg.max_samples,
        timeout: Duration::from_secs(600),
        ..EngineConfig::default()
    });
    println!(
        "# PromQL queries: Tessera vs Prometheus ({} runs, median)",
        cfg.runs
    );
    let with_prom = prom::available();
    if with_prom {
        compare(&cfg, &engine);
    } else {
        println!("\n`prometheus` is not on PATH: Tessera's numbers only.");
    }
    if !with_prom || cfg.hosts > cfg.prom_hosts {
        tessera_only(&cfg, &engine, cfg.hosts);
    }
}

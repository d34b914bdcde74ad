//! `tessera bench-write`: a remote_write 1.0 load generator.
//!
//! It sends node-exporter-like series ([`NodeExporterShape`]) as Prometheus
//! would: every scrape round sends each series once, one sample each,
//! `--series-per-request` series a request, and successive rounds advance
//! the timestamp by the scrape interval (15 s). All bodies are encoded and
//! snappy-compressed before the clock starts, so the generator's cost on
//! the measured path is only HTTP.
//!
//! The first round creates the series and is reported on its own; the
//! following rounds measure steady-state appends. With `--server-pid` the
//! server's CPU time (all threads, user + system) is read before and after
//! each phase, giving samples per server CPU-second, which unlike samples
//! per second does not depend on what else the machine is doing.

mod cpu;
mod encode;
mod send;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;

use crate::synth::NodeExporterShape;
use send::{Outcome, Target};

/// Scrape interval between rounds.
const INTERVAL_MS: i64 = 15_000;

/// Flags of `tessera bench-write`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchWriteArgs {
    /// Remote-write endpoint (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:9201/api/v1/write")]
    pub url: String,
    /// Sent as `X-Scope-OrgID` when given.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Simulated hosts, 104 series each (10000 hosts = 1.04M series).
    #[arg(long, default_value_t = 10_000)]
    pub hosts: usize,
    /// Series (one sample each) per request.
    #[arg(long, default_value_t = 2000)]
    pub series_per_request: usize,
    /// Concurrent connections, each with one request in flight.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Steady-state phase length, e.g. `30s`, `2m`, `500ms`; the phase also
    /// ends when the pre-encoded rounds run out.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Steady-state rounds to pre-encode (after the series-creating round).
    #[arg(long, default_value_t = 30)]
    pub rounds: usize,
    /// Server process whose CPU time to measure.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// File holding the server's pid (alternative to `--server-pid`).
    #[arg(long, conflicts_with = "server_pid")]
    pub server_pid_file: Option<PathBuf>,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// One measured phase.
struct Phase {
    name: &'static str,
    wall: Duration,
    server_cpu: Option<f64>,
    client_cpu: f64,
    outcome: Outcome,
}

/// Runs the load generator and prints what it measured.
pub fn run(args: &BenchWriteArgs) -> anyhow::Result<()> {
    let target = Target {
        uri: args
            .url
            .parse()
            .with_context(|| format!("--url {}", args.url))?,
        tenant: args.tenant.clone(),
    };
    anyhow::ensure!(
        target.uri.scheme_str() == Some("http"),
        "--url must be http://"
    );
    let pid = match (&args.server_pid, &args.server_pid_file) {
        (Some(p), _) => Some(*p),
        (None, Some(f)) => Some(cpu::read_pid_file(f)?),
        (None, None) => None,
    };
    let shape = NodeExporterShape {
        hosts: args.hosts,
        interval_ms: INTERVAL_MS,
        seed: args.seed,
    };
    let (create, steady) = prepare(shape, args)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let send = |name, bodies, deadline| -> anyhow::Result<Phase> {
        measure(name, pid, || {
            rt.block_on(send::send_all(&target, bodies, args.concurrency, deadline))
        })
    };
    let first = send("create", create, None)?;
    print_phase(&first);
    let deadline = Instant::now() + args.duration;
    let sent_all = steady.len();
    let second = send("steady", steady, Some(deadline))?;
    print_phase(&second);
    let sent: u64 = second.outcome.statuses.values().sum();
    if (sent as usize) >= sent_all && second.wall < args.duration {
        println!(
            "note: the {} pre-encoded rounds ran out after {:.1} s; raise --rounds for a longer run",
            args.rounds,
            second.wall.as_secs_f64()
        );
    }
    anyhow::ensure!(
        first.outcome.errors() + second.outcome.errors() == 0,
        "some requests failed"
    );
    Ok(())
}

/// Encodes the creation round and the steady rounds, paired with each
/// body's sample count.
type Bodies = Arc<Vec<(Bytes, u64)>>;

fn prepare(shape: NodeExporterShape, args: &BenchWriteArgs) -> anyhow::Result<(Bodies, Bodies)> {
    let t = Instant::now();
    let labels = encode::SeriesLabels::new(shape);
    let n = labels.len();
    anyhow::ensure!(n > 0, "--hosts must be positive");
    // All rounds lie in the past, ending now, so no peer rejects them as
    // too far in the future; rounds are aligned to the interval.
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let total = args.rounds + 1;
    let start_ms = (now_ms / INTERVAL_MS - total as i64) * INTERVAL_MS;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rounds = encode::rounds(&labels, start_ms, total, args.series_per_request, threads);
    if let (Some(a), Some(b)) = (rounds.first(), rounds.last()) {
        println!(
            "sample timestamps {} ..= {} ms",
            a.timestamp_ms, b.timestamp_ms
        );
    }
    let per = args.series_per_request.max(1);
    let with_counts = |r: encode::Round| -> Vec<(Bytes, u64)> {
        r.bodies
            .into_iter()
            .enumerate()
            .map(|(k, b)| (b, (n - k * per).min(per) as u64))
            .collect()
    };
    let mut rounds = rounds.into_iter();
    let create = rounds.next().map(with_counts).unwrap_or_default();
    let steady: Vec<_> = rounds.flat_map(with_counts).collect();
    let bytes: usize = create.iter().chain(&steady).map(|(b, _)| b.len()).sum();
    println!(
        "encoded {} series x {} rounds: {} requests, {:.1} MiB snappy, in {:.1} s",
        n,
        total,
        create.len() + steady.len(),
        bytes as f64 / (1 << 20) as f64,
        t.elapsed().as_secs_f64()
    );
    Ok((Arc::new(create), Arc::new(steady)))
}

fn measure(
    name: &'static str,
    pid: Option<u32>,
    f: impl FnOnce() -> anyhow::Result<Outcome>,
) -> anyhow::Result<Phase> {
    let server_before = pid.map(cpu::cpu_seconds).transpose()?;
    let client_before = cpu::cpu_seconds(std::process::id())?;
    let t = Instant::now();
    let outcome = f()?;
    let wall = t.elapsed();
    let server_cpu = match (pid, server_before) {
        (Some(p), Some(b)) => Some(cpu::cpu_seconds(p)? - b),
        _ => None,
    };
    Ok(Phase {
        name,
        wall,
        server_cpu,
        client_cpu: cpu::cpu_seconds(std::process::id())? - client_before,
        outcome,
    })
}

fn print_phase(p: &Phase) {
    let secs = p.wall.as_secs_f64();
    let samples = p.outcome.samples_ok as f64;
    let statuses: Vec<String> = p
        .outcome
        .statuses
        .iter()
        .map(|(c, n)| {
            if *c == 0 {
                format!("transport-error={n}")
            } else {
                format!("{c}={n}")
            }
        })
        .collect();
    println!("[{}] responses: {}", p.name, statuses.join(" "));
    if let Some(e) = &p.outcome.first_error {
        println!("[{}] first error: {}", p.name, e.trim_end());
    }
    println!(
        "[{}] samples sent (2xx): {}  wall: {:.2} s  samples/s: {:.0}  generator CPU: {:.2} s",
        p.name,
        p.outcome.samples_ok,
        secs,
        samples / secs.max(1e-9),
        p.client_cpu
    );
    if let Some(cpu) = p.server_cpu {
        println!(
            "[{}] server CPU: {:.2} s  samples per server CPU-second: {:.0}",
            p.name,
            cpu,
            samples / cpu.max(0.01)
        );
    }
}

/// Parses `30s`, `2m`, `500ms` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    Duration::try_from_secs_f64(v * scale).map_err(|_| format!("bad duration {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("30s", Some(30_000)),
            ("2m", Some(120_000)),
            ("500ms", Some(500)),
            ("45", Some(45_000)),
            ("0s", Some(0)),
            ("-1s", None),
            ("s", None),
            ("", None),
            ("ten", None),
        ];
        for (s, want) in cases {
            let got = parse_duration(s).ok().map(|d| d.as_millis() as u64);
            assert_eq!(got, want, "{s:?}");
        }
    }
}

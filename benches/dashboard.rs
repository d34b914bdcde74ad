//! Dashboard-style requests against Tessera, Prometheus 2.42 and
//! VictoriaMetrics 1.79, side by side, over real HTTP.
//!
//! Every server runs as its own process on a loopback port and receives the
//! same remote-write bodies (`dashboard/data.rs`: node-exporter-like data,
//! `DASH_HOSTS` hosts x 87 series, one hour at 15 s ending now). Each
//! server's sample count is checked before anything is timed. Then, one
//! server busy at a time, each request runs once to warm up on every
//! server and mode, and then in rounds of one run on each (so a drift in
//! the machine's speed falls on all of them alike): `DASH_RUNS` rounds, or
//! more until each had 300 ms of requests timed (at most 200 rounds; fast
//! requests are noisy). The table gives the median wall time of the
//! request (body read included, its parsing here not), as a dashboard
//! sees it.
//!
//! Caches: VictoriaMetrics runs with its rollup result cache on (its
//! default) and is also timed with `nocache=1` on every request, which
//! turns the cache off for that request. Tessera is timed the same two
//! ways (its range-query result cache honours `nocache=1` as well), and
//! each is compared with the other in the same mode.
//!
//! Answers: Tessera's must agree with Prometheus's (series, points and
//! the sum of values within 1e-9 relative; label and series lookups as
//! sets), or the run fails: speed never comes from a wrong answer.
//! VictoriaMetrics' answers are shown for information only, because its
//! `rate` deliberately does not extrapolate like Prometheus's.
//!
//! Environment (defaults in brackets): `DASH_HOSTS` [500], `DASH_RUNS` [5],
//! `DASH_REPORT` [dashboard.md]: where the table is also written;
//! `DASH_HOLD`: keep the loaded servers up for an hour instead (profiling).
//! Run with `cargo bench --bench dashboard` (or `benches/dashboard.sh`).

#[path = "dashboard/data.rs"]
mod data;
#[path = "dashboard/requests.rs"]
mod requests;
#[path = "dashboard/servers.rs"]
mod servers;

use std::time::{Duration, Instant};

use requests::{Answer, Request};
use servers::{Kind, Server};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; a test run (`cargo test --benches`)
    // does not, and this harness only makes sense as a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let hosts = env("DASH_HOSTS", 500);
    let runs = env("DASH_RUNS", 5).max(1);
    for peer in ["prometheus", "victoria-metrics"] {
        if !servers::available(peer) {
            eprintln!("{peer} is not on PATH (apt-get install -y prometheus victoria-metrics)");
            std::process::exit(2);
        }
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let end_ms = now_ms / data::STEP_MS * data::STEP_MS - data::STEP_MS;
    let fleet = data::Fleet::new(hosts, end_ms);
    let (bodies, samples) = fleet.bodies();
    eprintln!(
        "data: {hosts} hosts, {} series, {samples} samples, {} requests of {:.1} MiB",
        fleet.series(),
        bodies.len(),
        bodies.iter().map(Vec::len).sum::<usize>() as f64 / (1 << 20) as f64
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let kinds = [Kind::Tessera, Kind::Prometheus, Kind::Victoria];
    let servers: Vec<Server> = kinds
        .iter()
        .map(|&k| {
            let s = Server::start(k, &dir.path().join(k.name()));
            let (took, ()) = timed(|| bodies.iter().for_each(|b| s.write(b.clone())));
            s.flush();
            requests::wait_for_count(&s, end_ms, samples);
            eprintln!(
                "{}: loaded {samples} samples in {:.1} s",
                k.name(),
                took.as_secs_f64()
            );
            s
        })
        .collect();
    if std::env::var_os("DASH_HOLD").is_some() {
        // For profiling: keep the loaded servers up and say where they are.
        for s in &servers {
            eprintln!(
                "{} at {} (query end {})",
                s.kind.name(),
                s.base,
                end_ms / 1000
            );
        }
        std::thread::sleep(Duration::from_secs(3600));
    }
    let list = requests::list(fleet.start_ms, end_ms);
    let mut rows = Vec::new();
    for r in &list {
        rows.push(measure(r, &servers, runs));
    }
    let table = requests::table(&rows, hosts, runs);
    println!("{table}");
    let out = std::env::var("DASH_REPORT").unwrap_or_else(|_| "dashboard.md".into());
    std::fs::write(&out, &table).expect("write report");
    eprintln!("report written to {out}");
    let wrong: Vec<&str> = rows
        .iter()
        .filter(|r| !r.tessera_agrees)
        .map(|r| r.name)
        .collect();
    assert!(
        wrong.is_empty(),
        "Tessera's answer differs from Prometheus's for {wrong:?}"
    );
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let t = Instant::now();
    let v = f();
    (t.elapsed(), v)
}

/// One request's row: medians per (server, cache mode).
pub struct Row {
    /// Short name.
    pub name: &'static str,
    /// Tessera with its cache off, then on.
    pub tessera: [Duration; 2],
    /// Prometheus (no result cache).
    pub prometheus: Duration,
    /// VictoriaMetrics with its cache off, then on.
    pub victoria: [Duration; 2],
    /// Whether Tessera's answer is Prometheus's.
    pub tessera_agrees: bool,
    /// Whether VictoriaMetrics' answer is Prometheus's (information).
    pub victoria_agrees: bool,
}

/// Time a request is repeated for at least, and the most runs that
/// takes ([`medians_of`]).
const MIN_TIMED: Duration = Duration::from_millis(300);
const MAX_RUNS: usize = 200;

/// The median time of `r` on each `(server, nocache)` of `targets`, and
/// each one's first answer.
///
/// The runs go in rounds, one run of every target per round, so a change
/// in the machine's speed while a request is measured (this 2-core VM
/// drifts by 10-20% over seconds) falls on every server alike instead of
/// on whichever was measured then. Each target has at least `runs` runs,
/// more while it has had less than `MIN_TIMED` of timed requests (at most
/// `MAX_RUNS`; a median of five sub-millisecond requests moves by a third
/// from run to run); targets that have had enough sit out the rounds.
fn medians_of(targets: &[(&Server, bool)], r: &Request, runs: usize) -> Vec<(Duration, Answer)> {
    // Only the request and the body read are timed: parsing the answer
    // here costs the same for every server and would only dilute the
    // ratios.
    let firsts: Vec<Answer> = targets.iter().map(|(s, nc)| r.run(s, *nc)).collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); targets.len()];
    let mut spent = vec![Duration::ZERO; targets.len()];
    // A target is in a round while it has had fewer than `runs` runs, or
    // less than `MIN_TIMED` and fewer than `MAX_RUNS`.
    let wants = |k: usize, times: &[Vec<Duration>], spent: &[Duration]| {
        times[k].len() < runs || (spent[k] < MIN_TIMED && times[k].len() < MAX_RUNS)
    };
    while (0..targets.len()).any(|k| wants(k, &times, &spent)) {
        for (k, (s, nocache)) in targets.iter().enumerate() {
            if wants(k, &times, &spent) {
                let took = timed(|| r.fetch(s, *nocache)).0;
                spent[k] += took;
                times[k].push(took);
            }
        }
    }
    times
        .into_iter()
        .zip(firsts)
        .map(|(mut t, first)| {
            t.sort();
            (t[t.len() / 2], first)
        })
        .collect()
}

fn measure(r: &Request, servers: &[Server], runs: usize) -> Row {
    let [t, p, v] = [&servers[0], &servers[1], &servers[2]];
    let targets = [(t, true), (t, false), (p, true), (v, true), (v, false)];
    let mut m = medians_of(&targets, r, runs).into_iter();
    let mut next = || m.next().expect("one median per target");
    let ((t_off, t_answer), (t_on, _)) = (next(), next());
    let ((p_time, p_answer), (v_off, v_answer), (v_on, _)) = (next(), next(), next());
    let tessera_agrees = t_answer.agrees(&p_answer);
    if !tessera_agrees {
        eprintln!(
            "{}: Tessera {}\n  Prometheus {}",
            r.name,
            t_answer.brief(),
            p_answer.brief()
        );
    }
    Row {
        name: r.name,
        tessera: [t_off, t_on],
        prometheus: p_time,
        victoria: [v_off, v_on],
        tessera_agrees,
        victoria_agrees: v_answer.agrees(&p_answer),
    }
}

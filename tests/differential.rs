//! Differential check against a real Prometheus: the same generated data is
//! remote-written into Tessera and into Prometheus (Debian's 2.42), then the
//! compliance suite's queries (expanded from `differential/queries.yml`) and
//! some series/label requests go to both, and the answers are compared.
//!
//! The test prints the match percentage and every difference, and fails if
//! the percentage drops below `differential/FLOOR`, which only ever goes up.
//!
//! The reference is Prometheus 2.42, while Tessera follows 3.x where the
//! two differ, so the floor stays below 100. Measured differences, all of
//! that kind: counter extrapolation to the zero point (`extrapolatedRate`
//! caps the start gap by half a spacing before the zero-point cap in 3.x,
//! after it in 2.42; seen at series starts and after a restart, through
//! rate/increase and everything built on them), UTF-8 label names
//! (`label_replace`/`label_join` to `~invalid` fail only in 2.42), and
//! left-open range windows (a sample exactly `range` before the evaluation
//! time counts only in 2.42).
//!
//! `DIFF_SELF_CHECK=1` compares a second Prometheus instead of Tessera: the
//! harness itself must then score 100%. Without a `prometheus` binary (or
//! `PROMETHEUS_BIN`) the test is skipped, unless `TESSERA_REQUIRE_PROMETHEUS`
//! is set.

#[path = "http/mod.rs"]
mod http;

#[path = "differential/compare.rs"]
mod compare;
#[path = "differential/data.rs"]
mod data;
#[path = "differential/requests.rs"]
mod requests;
#[path = "differential/target.rs"]
mod target;
#[path = "differential/templates.rs"]
mod templates;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use requests::{Request, Window};
use target::Answer;
use tokio::sync::Semaphore;

const QUERIES_YML: &str = include_str!("differential/queries.yml");
const FLOOR: &str = include_str!("differential/FLOOR");
/// Minutes of generated data: enough for `[1h]` ranges plus offsets.
const DATA_MINUTES: i64 = 90;
/// Requests in flight at once (CI has two cores).
const PARALLEL: usize = 4;

/// The upstream templates expand to the count the compliance notes state.
#[test]
fn templates_expand_to_the_upstream_count() {
    let queries = templates::expand(QUERIES_YML).unwrap();
    assert_eq!(templates::upstream_template_count(QUERIES_YML), 118);
    let upstream = queries.iter().filter(|q| q.upstream).count();
    assert_eq!(upstream, 539);
    assert!(queries.len() > upstream);
    let fail = queries
        .iter()
        .filter(|q| q.expect == templates::Expect::BothFail)
        .count();
    assert_eq!(fail, 5);
}

/// The generated data is the same on every run for the same end time.
#[test]
fn generated_data_is_deterministic_and_demo_shaped() {
    let a = data::generate(1_700_000_000_000, 20);
    let b = data::generate(1_700_000_000_000, 20);
    assert_eq!(a.bodies, b.bodies);
    assert_eq!((a.start_ms, a.end_ms), (b.start_ms, b.end_ms));
    // 3 instances x (4 memory + 3 cpu + cpus + disk + 8 x (10 buckets +
    // sum + count) + batch + intermittent).
    assert_eq!(a.series, 3 * (4 + 3 + 1 + 1 + 8 * 12 + 1 + 1));
    assert!(a.end_ms - a.start_ms > 19 * 60_000);
    assert!(a.end_ms < 1_700_000_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tessera_answers_like_prometheus() {
    let Some(bin) = target::prometheus_binary() else {
        let msg = "differential check skipped: no `prometheus` binary on PATH \
                   (install Debian's `prometheus` package or set PROMETHEUS_BIN)";
        assert!(
            std::env::var_os("TESSERA_REQUIRE_PROMETHEUS").is_none(),
            "{msg}, but TESSERA_REQUIRE_PROMETHEUS is set"
        );
        println!("{msg}");
        return;
    };
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (reference, _ref_guard) = target::start_prometheus(&bin, &dir.path().join("prom-ref"))
        .await
        .unwrap();
    let sut = start_sut(&bin, dir.path()).await;
    let (sut_name, sut_url) = (sut.name, sut.url.clone());
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let dataset = data::generate(now_ms - 30_000, DATA_MINUTES);
    load(&dataset, &[&reference, &sut_url]).await;
    println!(
        "loaded {} series, {} samples in {} requests into both ({:.1}s)",
        dataset.series,
        dataset.samples,
        dataset.bodies.len(),
        began.elapsed().as_secs_f64()
    );
    check_reference_has_everything(&reference, dataset.series).await;

    let queries = templates::expand(QUERIES_YML).unwrap();
    let window = Window {
        data_start_ms: dataset.start_ms,
        data_end_ms: dataset.end_ms,
    };
    let reqs = requests::build(&queries, window);
    let answers = run_all(&reqs, &sut_url, &reference).await;
    let outcome = report(sut_name, &reqs, &answers);
    println!("total time {:.1}s", began.elapsed().as_secs_f64());
    if let Some(srv) = sut.tessera {
        srv.stop().await;
    }
    let Some(percent) = outcome else {
        return;
    };
    let floor: f64 = FLOOR
        .trim()
        .parse()
        .expect("differential/FLOOR holds a number");
    assert!(
        percent >= floor,
        "{sut_name} matched {percent:.2}% of requests, below the floor of {floor}% \
         (tests/differential/FLOOR); the differences are listed above"
    );
}

/// The system under test: Tessera in-process, or in self-check mode a
/// second Prometheus.
struct Sut {
    name: &'static str,
    url: String,
    tessera: Option<http::Server>,
    _prometheus: Option<target::Reaper>,
}

async fn start_sut(bin: &str, dir: &std::path::Path) -> Sut {
    if std::env::var_os("DIFF_SELF_CHECK").is_some_and(|v| v != "0") {
        let (url, guard) = target::start_prometheus(bin, &dir.join("prom-sut"))
            .await
            .unwrap();
        return Sut {
            name: "second prometheus",
            url,
            tessera: None,
            _prometheus: Some(guard),
        };
    }
    let srv = http::start(&dir.join("tessera")).await;
    Sut {
        name: "tessera",
        url: format!("http://{}", srv.addr),
        tessera: Some(srv),
        _prometheus: None,
    }
}

/// Sends every body, in order, to all targets at once.
async fn load(dataset: &data::Dataset, targets: &[&str]) {
    let client = reqwest::Client::new();
    for body in &dataset.bodies {
        let sends = targets.iter().map(|base| {
            let (client, base, body) = (client.clone(), base.to_string(), body.clone());
            async move { target::write(&client, &base, body).await }
        });
        for result in futures_join(sends).await {
            result.unwrap();
        }
    }
}

/// Awaits all futures concurrently (tokio's `join!` is for a fixed count).
async fn futures_join<F: std::future::Future + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// Guards against a silently empty reference: if nothing had loaded, both
/// sides would answer empty and "match".
async fn check_reference_has_everything(reference: &str, series: usize) {
    let client = reqwest::Client::new();
    let params = [("match[]".to_string(), "{job=\"demo\"}".to_string())];
    match target::get(&client, reference, "/api/v1/series", &params).await {
        Answer::Data(d) => assert_eq!(
            d.as_array().map_or(0, Vec::len),
            series,
            "the reference Prometheus holds every generated series"
        ),
        other => panic!("reference series request failed: {other:?}"),
    }
}

/// Runs every request against both servers, `PARALLEL` at a time; answers
/// come back in request order as (system under test, reference).
async fn run_all(reqs: &[Request], sut: &str, reference: &str) -> Vec<(Answer, Answer)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let permits = Arc::new(Semaphore::new(PARALLEL));
    let tasks = reqs.iter().map(|r| {
        let (client, permits, r) = (client.clone(), permits.clone(), r.clone());
        let (sut, reference) = (sut.to_string(), reference.to_string());
        async move {
            let _permit = permits.acquire_owned().await.unwrap();
            tokio::join!(
                target::get(&client, &sut, &r.path, &r.params),
                target::get(&client, &reference, &r.path, &r.params),
            )
        }
    });
    futures_join(tasks).await
}

/// Prints the totals and every difference. Returns the match percentage,
/// or `None` when the system under test has no query API to compare yet.
fn report(sut_name: &str, reqs: &[Request], answers: &[(Answer, Answer)]) -> Option<f64> {
    let no_api = answers
        .iter()
        .filter(|(s, _)| matches!(s, Answer::NoApi(_)))
        .count();
    if no_api == answers.len() {
        let why = match &answers.first() {
            Some((Answer::NoApi(why), _)) => why.clone(),
            _ => String::new(),
        };
        println!(
            "DIFFERENTIAL CHECK NOT RUN: {sut_name} gave no Prometheus API answer to any of \
             the {} requests (first: {why}); its query API is not there yet",
            answers.len()
        );
        return None;
    }
    let mut diffs = Vec::new();
    let mut by_path: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for (r, (s, p)) in reqs.iter().zip(answers) {
        let entry = by_path.entry(r.path.as_str()).or_default();
        entry.0 += 1;
        match compare::compare(r.expect, s, p) {
            Ok(()) => entry.1 += 1,
            Err(why) => diffs.push((r, why)),
        }
    }
    println!("differences (first = {sut_name}, second = prometheus):");
    for (r, why) in &diffs {
        println!("  {}\n      {why}", r.describe());
    }
    let total = reqs.len();
    let matched = total - diffs.len();
    let percent = 100.0 * matched as f64 / total as f64;
    for (path, (n, ok)) in &by_path {
        println!("  {path}: {ok}/{n} match");
    }
    let (empty, failed) = reference_shape(answers);
    println!(
        "prometheus answered {} requests with data, {empty} empty, {failed} with an error",
        total - empty - failed
    );
    println!("{sut_name} vs prometheus: {total} requests, {matched} match, {percent:.2}%");
    Some(percent)
}

/// How many reference answers were empty, and how many were errors: a
/// comparison of empty answers proves little, so the report shows it.
fn reference_shape(answers: &[(Answer, Answer)]) -> (usize, usize) {
    let mut empty = 0;
    let mut failed = 0;
    for (_, p) in answers {
        match p {
            Answer::Data(d) => {
                let list = d.get("result").unwrap_or(d);
                if list.as_array().is_some_and(Vec::is_empty) {
                    empty += 1;
                }
            }
            _ => failed += 1,
        }
    }
    (empty, failed)
}

/// A server without the query API is reported as such, not scored.
#[test]
fn missing_query_api_is_reported_not_scored() {
    let reqs = requests::build(
        &templates::expand(QUERIES_YML).unwrap()[..2],
        Window {
            data_start_ms: 0,
            data_end_ms: 3_600_000,
        },
    );
    let ok = Answer::Data(serde_json::json!([]));
    let missing = || Answer::NoApi("HTTP 404 Not Found, not JSON: \"\"".into());
    let all_missing: Vec<_> = reqs.iter().map(|_| (missing(), ok.clone())).collect();
    assert_eq!(report("fake server", &reqs, &all_missing), None);
    let mut one_missing: Vec<_> = reqs.iter().map(|_| (ok.clone(), ok.clone())).collect();
    one_missing[0].0 = missing();
    let percent = report("fake server", &reqs, &one_missing).unwrap();
    assert!(percent < 100.0 && percent > 90.0, "{percent}");
}

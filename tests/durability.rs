//! Kill -9 durability: the real binary under sustained remote-write load is
//! SIGKILLed at random moments and restarted on the same data dir, ten times
//! in a row; then every acknowledged sample must be readable with its exact
//! value, and nothing may be readable that was never sent.
//!
//! A SIGKILL loses no page-cache data, so even `--wal.sync=batch` (and
//! `none`) must keep every acknowledged sample here; what the sync policy
//! adds is safety against power loss, which this test cannot simulate.
//!
//! The kill moments are random; the seed is printed and can be replayed with
//! `DURABILITY_SEED=<n>`. Run with `--nocapture` to see the counts.

mod crash;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crash::check::{api, secs, verify, Verified};
use crash::load::{Load, METRIC, SENDERS, SERIES_PER_SENDER};
use crash::server::{flush, Proc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Kills per test.
const KILLS: usize = 10;

fn rng() -> (StdRng, u64) {
    let seed = std::env::var("DURABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    (StdRng::seed_from_u64(seed), seed)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// How each kill is timed.
#[derive(Clone, Copy)]
enum Kill {
    /// After 200-800 ms of load.
    DuringLoad,
    /// Right after asking for a flush of the head into a block.
    AfterFlush,
}

/// Starts the server and the senders, kills and restarts [`KILLS`] times,
/// lets the load run on the last restart, then verifies; then stops the
/// server gracefully, starts it once more, and verifies again.
async fn kill_cycles(sync: Option<&'static str>, kill: Kill, kills: usize) -> (Verified, Verified) {
    let (mut rng, seed) = rng();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Proc::start(dir.path(), sync).await;
    let load = Load::start(&srv.base, now_ms());
    let mut flushes = Vec::new();
    for i in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..=800))).await;
        let pending = match kill {
            Kill::DuringLoad => None,
            Kill::AfterFlush => {
                let base = srv.base.clone();
                let flush = tokio::spawn(async move { flush(&base).await.ok().map(|r| r.0) });
                if i % 3 == 0 {
                    // Kill the moment the flush has answered.
                    flushes.push(flush.await.unwrap());
                    None
                } else {
                    // Kill while the flush is (most likely) writing.
                    let wait = rng.gen_range(1..=8);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    Some(flush)
                }
            }
        };
        srv.kill();
        if let Some(flush) = pending {
            // `None`: the kill came before the flush answered.
            flushes.push(flush.await.unwrap());
        }
        srv.restart().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = load.stop().await;
    let after_kill = verify(&srv.base, &logs).await;
    srv.terminate().await;
    srv.restart().await;
    let after_clean = verify(&srv.base, &logs).await;
    if let Kill::AfterFlush = kill {
        every_query_works(&srv.base, &logs).await;
    }
    let slowest = srv.ready_times.iter().max().copied().unwrap_or_default();
    eprintln!(
        "sync={sync:?} seed={seed} kills={kills} flush answers={:?} \
         elapsed={:?} slowest start={slowest:?}\n  after the last kill: {after_kill:?}\n  \
         after a clean restart: {after_clean:?}",
        flushes,
        started.elapsed(),
    );
    (after_kill, after_clean)
}

/// The whole run must have been meaningful: enough acknowledged samples,
/// and both verifications agreeing on them.
fn assert_meaningful(after_kill: &Verified, after_clean: &Verified) {
    let per_request = (SERIES_PER_SENDER as u64) * 5;
    assert!(
        after_kill.requests.0 >= 200,
        "too few acknowledged requests to mean anything: {after_kill:?}"
    );
    assert_eq!(after_kill.acked, after_kill.requests.0 * per_request);
    assert_eq!(after_kill.acked, after_clean.acked);
    assert_eq!(after_kill.unknown_present, after_clean.unknown_present);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_keeps_every_acknowledged_sample_default_sync() {
    let (a, b) = kill_cycles(None, Kill::DuringLoad, KILLS).await;
    assert_meaningful(&a, &b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_keeps_every_acknowledged_sample_sync_always() {
    let (a, b) = kill_cycles(Some("always"), Kill::DuringLoad, KILLS).await;
    assert_meaningful(&a, &b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_right_after_a_flush_keeps_data_complete_and_readable() {
    let (a, b) = kill_cycles(None, Kill::AfterFlush, 6).await;
    assert_meaningful(&a, &b);
}

/// Compaction steps the fault hook can hold a compaction at, in the order
/// the kills visit them (twice each).
const COMPACTION_STEPS: [&str; 6] = [
    "written",
    "published",
    "deleting",
    "written",
    "published",
    "deleting",
];

fn pause_at(step: &str) -> Vec<(String, String)> {
    vec![(
        tessera::storage::fault::COMPACTION_PAUSE_ENV.to_string(),
        format!("{step}:20000"),
    )]
}

/// Names in the test tenant's `blocks/` left by an interrupted write or
/// deletion.
fn leftovers(srv: &Proc) -> Vec<String> {
    let mut names = srv.block_dir_names();
    names.retain(|n| n.ends_with(".tmp") || n.ends_with(".deleted"));
    names
}

/// With a 1s block range and maintenance every 100ms, the head is flushed
/// and blocks compacted continuously under load. A test-only fault hook
/// holds each compaction at one step (new block written but unpublished,
/// published with its sources still present, half of the sources
/// deleted); the server is SIGKILLed while it is held there, every time
/// at a different step. After each restart no leftover may remain, and in
/// the end every acknowledged sample is readable exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_a_compaction_keeps_data_complete_and_cleans_up() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let args = vec![
        "--block-range=1s".to_string(),
        "--maintenance-interval=100ms".to_string(),
    ];
    let mut srv = Proc::start_with(dir.path(), None, args, pause_at(COMPACTION_STEPS[0])).await;
    let load = Load::start(&srv.base, now_ms());
    let mut from = 0;
    for (i, step) in COMPACTION_STEPS.iter().enumerate() {
        let needle = format!("fault hook: compaction paused at {step}");
        assert!(
            srv.wait_for_log(&needle, from, Duration::from_secs(30))
                .await,
            "no compaction reached step {step}; blocks {:?}:\n{}",
            srv.block_dir_names(),
            srv.log_tail()
        );
        srv.kill();
        let left = leftovers(&srv);
        if *step == "written" {
            assert!(
                left.iter().any(|n| n.ends_with(".tmp")),
                "killed while a compaction was writing, yet no .tmp block: {left:?}"
            );
        }
        srv.env = match COMPACTION_STEPS.get(i + 1) {
            Some(next) => pause_at(next),
            None => Vec::new(),
        };
        from = srv.log_text().len();
        srv.restart().await;
        let left = leftovers(&srv);
        assert!(left.is_empty(), "leftovers after restart: {left:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs = load.stop().await;
    let after_kill = verify(&srv.base, &logs).await;
    srv.terminate().await;
    srv.restart().await;
    let after_clean = verify(&srv.base, &logs).await;
    let compacted = srv.log_text().matches("compaction paused").count();
    eprintln!(
        "compaction kills: {} (hook lines {compacted}), elapsed {:?}\n  after the last kill: \
         {after_kill:?}\n  after a clean restart: {after_clean:?}",
        COMPACTION_STEPS.len(),
        started.elapsed()
    );
    assert!(
        after_kill.requests.0 >= 100,
        "too few acknowledged requests: {after_kill:?}"
    );
    assert_eq!(after_kill.acked, after_clean.acked);
    assert_eq!(after_kill.unknown_present, after_clean.unknown_present);
}

/// The queries a dashboard would run over the data all succeed and see
/// every series, whatever mix of blocks and head the kills left.
async fn every_query_works(base: &str, logs: &[crash::load::SenderLog]) {
    let all = (SENDERS * SERIES_PER_SENDER) as u64;
    let (min_t, max_t) = logs
        .iter()
        .flat_map(|l| l.batches.iter().map(|b| b.first_t))
        .fold((i64::MAX, i64::MIN), |(a, b), t| (a.min(t), b.max(t)));
    let at = secs(max_t);
    let count = api(
        base,
        "/api/v1/query",
        &[("query", format!("count({METRIC})")), ("time", at.clone())],
    )
    .await;
    assert_eq!(count["result"][0]["value"][1], all.to_string(), "{count}");
    let q = format!(
        "sum by (sender) (count_over_time({METRIC}[{}ms]))",
        max_t - min_t + 10
    );
    let per_sender = api(base, "/api/v1/query", &[("query", q), ("time", at.clone())]).await;
    assert_eq!(
        per_sender["result"].as_array().map(Vec::len),
        Some(SENDERS),
        "{per_sender}"
    );
    let range = [
        ("query", format!("max(rate({METRIC}[5s]))")),
        ("start", secs(min_t)),
        ("end", secs(max_t)),
        ("step", "1".to_string()),
    ];
    let r = api(base, "/api/v1/query_range", &range).await;
    assert_eq!(r["resultType"], "matrix", "{r}");
    let window = [("start", secs(min_t)), ("end", at.clone())];
    let series = api(
        base,
        "/api/v1/series",
        &[&[("match[]", METRIC.to_string())][..], &window[..]].concat(),
    )
    .await;
    assert_eq!(
        series.as_array().map(Vec::len),
        Some(all as usize),
        "{series}"
    );
    let labels = api(base, "/api/v1/labels", &window).await;
    assert!(
        labels
            .as_array()
            .is_some_and(|l| l.iter().any(|n| n == "sender")),
        "{labels}"
    );
    let values = api(base, "/api/v1/label/series/values", &window).await;
    assert_eq!(
        values.as_array().map(Vec::len),
        Some(all as usize),
        "{values}"
    );
}

/// The checker itself can fail: a missing acknowledged sample, a wrong
/// value, a sample never sent and a duplicate are each reported.
#[test]
fn checker_flags_missing_wrong_unsent_and_duplicate_samples() {
    use crash::check::{attempted, check_series};
    use crash::load::{value, Batch, Outcome, SenderLog};
    let log = SenderLog {
        sender: 0,
        batches: vec![
            Batch {
                first_t: 100,
                outcome: Outcome::Acked,
            },
            Batch {
                first_t: 105,
                outcome: Outcome::Failed,
            },
        ],
    };
    let tried = attempted(&log);
    let good: Vec<(i64, f64)> = (100..105).map(|t| (t, value(3, t))).collect();
    type Case = (&'static str, Vec<(i64, f64)>, usize);
    let cases: Vec<Case> = vec![
        ("complete", good.clone(), 0),
        (
            "complete plus an unknown one",
            [&good[..], &[(106, value(3, 106))]].concat(),
            0,
        ),
        ("one acknowledged missing", good[1..].to_vec(), 1),
        ("empty", Vec::new(), 5),
        (
            "wrong value",
            [&good[..4], &[(104, value(3, 104) + 1e-9)]].concat(),
            1,
        ),
        (
            "never sent",
            [&good[..], &[(111, value(3, 111))]].concat(),
            1,
        ),
        (
            "duplicate",
            [&good[..], &[(104, value(3, 104))]].concat(),
            1,
        ),
    ];
    for (name, samples, want) in cases {
        let (mut v, mut problems) = (Verified::default(), Vec::new());
        check_series(3, &samples, &tried, &mut v, &mut problems);
        assert_eq!(problems.len(), want, "{name}: {problems:?}");
    }
}

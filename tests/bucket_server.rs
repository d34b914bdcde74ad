//! The release binary with a bucket, over HTTP on loopback: SIGKILL at
//! every step of an upload and of a compaction in the bucket (through the
//! `TESSERA_FAULT_UPLOAD_PAUSE` and `TESSERA_FAULT_BUCKET_COMPACTION_PAUSE`
//! hooks), a store that goes down under ingest, and after each a machine
//! replaced by one with an empty data directory, which must answer a fixed
//! set of queries (`/federate` included) exactly as before. Against
//! SeaweedFS and against `object_store`'s local filesystem.

mod bucket;
mod crash;
mod weed;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bucket::Backend;
use crash::server::Proc;
use serde_json::Value;
use tessera::ingest::proto::{encode_snappy, v1};
use tessera::storage::bucket::Bucket;
use tessera::storage::ObjectStorageConfig;

const TENANT: &str = "bk";
const HOUR: i64 = 3_600_000;
const RANGE: i64 = 2 * HOUR;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `serve` flags for the backend: maintenance (and the bucket worker)
/// every second, deletion without delay.
fn args(os: &ObjectStorageConfig) -> Vec<String> {
    let mut a = vec![
        "--maintenance-interval=1s".to_string(),
        "--object-storage.deletion-delay=0s".to_string(),
        format!("--object-storage.url={}", os.url),
    ];
    if let Some(e) = &os.endpoint {
        a.extend([
            format!("--object-storage.endpoint={e}"),
            "--object-storage.region=us-east-1".into(),
            "--object-storage.access-key-id=test".into(),
            "--object-storage.secret-access-key=test".into(),
            "--object-storage.allow-http".into(),
        ]);
    }
    a
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Remote-writes 10 series `bk{i}` with a sample a minute in `[from, to)`.
async fn write(base: &str, from: i64, to: i64) {
    let timeseries = (0..10)
        .map(|i| v1::TimeSeries {
            labels: vec![
                v1::Label {
                    name: "__name__".into(),
                    value: "bk".into(),
                },
                v1::Label {
                    name: "i".into(),
                    value: i.to_string(),
                },
            ],
            samples: (from..to)
                .step_by(60_000)
                .map(|t| v1::Sample {
                    value: (t / 60_000 * (i + 1)) as f64 * 0.25,
                    timestamp: t,
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let body = encode_snappy(&v1::WriteRequest {
        timeseries,
        metadata: Vec::new(),
    });
    let r = client()
        .post(format!("{base}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Scope-OrgID", TENANT)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

async fn flush(base: &str) {
    let r = client()
        .post(format!("{base}/api/v1/admin/tsdb/flush"))
        .header("X-Scope-OrgID", TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

async fn get(base: &str, path: &str, params: &[(&str, String)]) -> String {
    let r = client()
        .get(format!("{base}{path}"))
        .header("X-Scope-OrgID", TENANT)
        .query(params)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path} {params:?}: {}", r.status());
    r.text().await.unwrap()
}

/// A fixed set of requests, every endpoint family, as their bodies.
async fn answers(base: &str, from: i64, to: i64) -> Vec<String> {
    let s = |t: i64| format!("{}", t / 1000);
    let mut out = Vec::new();
    for q in [
        "sum(bk)",
        "bk{i=\"3\"}",
        "count_over_time(bk[10m])",
        "max by (i) (bk)",
    ] {
        let p = [
            ("query", q.to_string()),
            ("start", s(from)),
            ("end", s(to)),
            ("step", "600".into()),
        ];
        out.push(get(base, "/api/v1/query_range", &p).await);
    }
    out.push(
        get(
            base,
            "/api/v1/query",
            &[("query", "bk".into()), ("time", s(from + RANGE + HOUR))],
        )
        .await,
    );
    let m = ("match[]", "bk".to_string());
    out.push(
        get(
            base,
            "/api/v1/series",
            &[m.clone(), ("start", s(from)), ("end", s(to))],
        )
        .await,
    );
    out.push(
        get(
            base,
            "/api/v1/labels",
            &[("start", s(from)), ("end", s(to))],
        )
        .await,
    );
    out.push(
        get(
            base,
            "/api/v1/label/i/values",
            &[("start", s(from)), ("end", s(to))],
        )
        .await,
    );
    let mut fed: Vec<String> = get(base, "/federate", &[m])
        .await
        .lines()
        .map(str::to_string)
        .collect();
    fed.sort();
    assert!(
        fed.iter().any(|l| l.starts_with("bk{")),
        "federate found nothing: {fed:?}"
    );
    out.extend(fed);
    out
}

/// The value of a metric line in `/metrics` (summed over label sets).
async fn metric(base: &str, name: &str) -> f64 {
    let text = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until every block of the server is shipped.
async fn wait_shipped(srv: &Proc) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if metric(&srv.base, "tessera_object_storage_pending_uploads").await == 0.0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("blocks never shipped:\n{}", srv.log_tail());
}

/// What the bucket holds for the tenant: per block directory its files,
/// and the index's live and marked blocks.
#[derive(Debug, PartialEq)]
struct State {
    dirs: BTreeMap<String, BTreeSet<String>>,
    live: BTreeSet<String>,
    marked: BTreeSet<String>,
}

/// The bucket's state once it has no partial and no unlisted block, or
/// as it is after 60 s.
async fn settled_state(os: &ObjectStorageConfig) -> State {
    let started = Instant::now();
    loop {
        let s = state(os);
        let clean = s.partials().is_empty() && s.unlisted().is_empty();
        if clean || started.elapsed() > Duration::from_secs(60) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn state(os: &ObjectStorageConfig) -> State {
    let b = Bucket::connect(os).unwrap();
    let mut dirs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for o in b.list(&b.path([TENANT])).unwrap() {
        let parts: Vec<String> = o.location.parts().map(|p| p.as_ref().to_string()).collect();
        if let [.., dir, file] = parts.as_slice() {
            if dir != TENANT {
                dirs.entry(dir.clone()).or_default().insert(file.clone());
            }
        }
    }
    let (mut live, mut marked) = (BTreeSet::new(), BTreeSet::new());
    if let Some(gz) = b.get(&b.path([TENANT, "bucket-index.json.gz"])).unwrap() {
        let mut json = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut json)
            .unwrap();
        let ix: Value = serde_json::from_str(&json).unwrap();
        for d in ix["deletions"].as_array().unwrap() {
            marked.insert(d["ulid"].as_str().unwrap().to_string());
        }
        for blk in ix["blocks"].as_array().unwrap() {
            let u = blk["meta"]["ulid"].as_str().unwrap().to_string();
            if !marked.contains(&u) {
                live.insert(u);
            }
        }
    }
    State { dirs, live, marked }
}

impl State {
    /// Block directories without `meta.json` that are not being purged:
    /// a deleted block loses its `meta.json` first and its
    /// `deletion-mark.json` last, so a purge caught half-way is not a
    /// partial upload (it is never readable, and it finishes).
    fn partials(&self) -> Vec<&String> {
        self.dirs
            .iter()
            .filter(|(_, f)| !f.contains("meta.json") && !f.contains("deletion-mark.json"))
            .map(|(d, _)| d)
            .collect()
    }

    /// Published blocks the index does not list.
    fn unlisted(&self) -> Vec<&String> {
        self.dirs
            .iter()
            .filter(|(d, f)| {
                f.contains("meta.json") && !self.live.contains(*d) && !self.marked.contains(*d)
            })
            .map(|(d, _)| d)
            .collect()
    }

    /// Settled: no partial, nothing unlisted or marked, every live block present.
    fn settled(&self) -> bool {
        self.partials().is_empty()
            && self.unlisted().is_empty()
            && self.marked.is_empty()
            && self.live.iter().all(|u| self.dirs.contains_key(u))
            && self.dirs.len() == self.live.len()
    }
}

async fn wait_settled(srv: &Proc, os: &ObjectStorageConfig) -> State {
    let started = Instant::now();
    let mut last = state(os);
    while started.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let now = state(os);
        if now.settled() && now == last {
            return now;
        }
        last = now;
    }
    panic!("the bucket never settled: {last:?}\n{}", srv.log_tail());
}

/// Kills the server once its log shows the hook paused at `step`.
async fn kill_at(srv: &mut Proc, hook: &str, step: &str, from: usize) {
    let needle = format!("{hook} paused at {step}");
    assert!(
        srv.wait_for_log(&needle, from, Duration::from_secs(60))
            .await,
        "never paused at {step}:\n{}",
        srv.log_tail()
    );
    srv.kill();
}

/// Restarts with the pause hook `env` set to `step` (or none).
async fn restart_with(srv: &mut Proc, env: &str, step: Option<&str>) -> usize {
    srv.env = step
        .map(|s| vec![(env.to_string(), format!("{s}:120000"))])
        .unwrap_or_default();
    let from = srv.log_text().len();
    srv.restart().await;
    from
}

/// Wipes the data directory (a new machine) and starts again.
async fn replace_machine(srv: &mut Proc) {
    srv.terminate().await;
    std::fs::remove_dir_all(srv.data_dir()).unwrap();
    srv.env.clear();
    srv.restart().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_uploads_loses_nothing_and_leaves_nothing_partial() {
    for backend in tokio::task::block_in_place(Backend::both) {
        let dir = tempfile::tempdir().unwrap();
        let os = backend.config(&dir.path().join("data"));
        const ENV: &str = "TESSERA_FAULT_UPLOAD_PAUSE";
        let env = vec![(ENV.to_string(), "partial:120000".to_string())];
        let mut srv = Proc::start_with(dir.path(), None, args(&os), env).await;
        let to = now_ms();
        let from = (to - 5 * HOUR).div_euclid(RANGE) * RANGE;
        let mut t = from;
        while t < to {
            write(&srv.base, t, (t + RANGE).min(to)).await;
            flush(&srv.base).await;
            t += RANGE;
        }
        let before = answers(&srv.base, from, to).await;
        kill_at(&mut srv, "upload", "partial", 0).await;
        let s = state(&os);
        assert_eq!(s.partials().len(), 1, "{}: {s:?}", backend.name());
        assert!(s.live.is_empty(), "a partial block is listed: {s:?}");

        let log_from = restart_with(&mut srv, ENV, Some("uploaded")).await;
        kill_at(&mut srv, "upload", "uploaded", log_from).await;
        let s = state(&os);
        assert_eq!(
            s.unlisted().len(),
            1,
            "{}: meta uploaded, index not: {s:?}",
            backend.name()
        );
        assert!(s.live.is_empty(), "{s:?}");

        restart_with(&mut srv, ENV, None).await;
        wait_shipped(&srv).await;
        assert_eq!(
            answers(&srv.base, from, to).await,
            before,
            "{}",
            backend.name()
        );
        // The restarted server repairs the block the kill left published
        // but unlisted once it has opened the tenant's partition, which
        // can come after its pending-uploads gauge first reads 0.
        let s = settled_state(&os).await;
        assert!(
            s.partials().is_empty() && s.unlisted().is_empty(),
            "{}: {s:?}",
            backend.name()
        );
        replace_machine(&mut srv).await;
        assert_eq!(
            answers(&srv.base, from, to).await,
            before,
            "{}: replaced",
            backend.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_bucket_compaction_loses_nothing_and_leaves_nothing_partial() {
    for backend in tokio::task::block_in_place(Backend::both) {
        let dir = tempfile::tempdir().unwrap();
        let os = backend.config(&dir.path().join("data"));
        const ENV: &str = "TESSERA_FAULT_BUCKET_COMPACTION_PAUSE";
        let env = vec![(ENV.to_string(), "partial:120000".to_string())];
        let mut srv = Proc::start_with(dir.path(), None, args(&os), env).await;
        // Three 6h compaction windows of 2h blocks well in the past, then
        // recent data that moves the flush boundary past them.
        let to = now_ms();
        let from = (to - 30 * HOUR).div_euclid(6 * HOUR) * 6 * HOUR;
        for k in 0..9 {
            let t = from + k * RANGE;
            write(&srv.base, t, t + RANGE).await;
            flush(&srv.base).await;
        }
        write(&srv.base, to - 600_000, to).await;
        flush(&srv.base).await;
        // Not waiting for the uploads: the compaction may already be held
        // by the hook, and it holds the shipper (one worker) with it.
        let before = answers(&srv.base, from, to).await;

        kill_at(&mut srv, "bucket compaction", "partial", 0).await;
        let s = state(&os);
        assert_eq!(s.partials().len(), 1, "{}: {s:?}", backend.name());
        assert!(!s.live.iter().any(|u| s.partials().contains(&u)), "{s:?}");

        let log_from = restart_with(&mut srv, ENV, Some("uploaded")).await;
        kill_at(&mut srv, "bucket compaction", "uploaded", log_from).await;
        let s = state(&os);
        assert!(
            s.partials().is_empty(),
            "{}: the first partial is cleaned: {s:?}",
            backend.name()
        );
        assert_eq!(s.unlisted().len(), 1, "{}: {s:?}", backend.name());

        let log_from = restart_with(&mut srv, ENV, Some("published")).await;
        kill_at(&mut srv, "bucket compaction", "published", log_from).await;
        let s = state(&os);
        assert!(
            s.unlisted().is_empty(),
            "{}: adopted: {s:?}",
            backend.name()
        );
        assert!(
            !s.marked.is_empty(),
            "{}: sources marked: {s:?}",
            backend.name()
        );

        let log_from = restart_with(&mut srv, ENV, Some("purging")).await;
        kill_at(&mut srv, "bucket compaction", "purging", log_from).await;
        let s = state(&os);
        assert!(
            !s.partials().is_empty(),
            "{}: a purge cut short: {s:?}",
            backend.name()
        );

        restart_with(&mut srv, ENV, None).await;
        let settled = wait_settled(&srv, &os).await;
        assert!(
            settled.live.len() < 10,
            "{}: compacted: {settled:?}",
            backend.name()
        );
        assert_eq!(
            answers(&srv.base, from, to).await,
            before,
            "{}",
            backend.name()
        );
        replace_machine(&mut srv).await;
        assert_eq!(
            answers(&srv.base, from, to).await,
            before,
            "{}: replaced",
            backend.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_down_under_ingest_ships_its_backlog_when_it_returns() {
    let mut backend = tokio::task::block_in_place(Backend::s3);
    let dir = tempfile::tempdir().unwrap();
    let os = backend.config(&dir.path().join("data"));
    let mut srv = Proc::start_with(dir.path(), None, args(&os), Vec::new()).await;
    let load = crash::load::Load::start(&srv.base, now_ms());
    tokio::time::sleep(Duration::from_millis(500)).await;
    crash::server::flush(&srv.base).await.unwrap();
    wait_shipped(&srv).await;

    backend.weed().unwrap().stop();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let (status, body) = crash::server::flush(&srv.base).await.unwrap();
        assert_eq!(status, 204, "a flush with the store down: {body}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(metric(&srv.base, "tessera_object_storage_pending_uploads").await >= 4.0);
    assert!(metric(&srv.base, "tessera_object_storage_upload_failures_total").await >= 1.0);
    assert!(
        metric(
            &srv.base,
            "tessera_object_storage_oldest_unshipped_block_age_seconds"
        )
        .await
            > 1.0
    );

    let logs = load.stop().await;
    // A flush under live load refuses samples older than its boundary
    // (400, as without a bucket); no write may fail for the store.
    for l in &logs {
        let failed: Vec<_> = l
            .batches
            .iter()
            .filter(|b| match b.outcome {
                crash::load::Outcome::Acked => false,
                crash::load::Outcome::Refused(s) => s >= 500,
                crash::load::Outcome::Failed => true,
            })
            .collect();
        assert!(
            failed.is_empty(),
            "sender {}: writes failed while the store was down: {failed:?}",
            l.sender
        );
    }
    tokio::task::block_in_place(|| backend.weed().unwrap().restart());
    crash::server::flush(&srv.base).await.unwrap();
    wait_shipped(&srv).await;
    assert_eq!(
        metric(
            &srv.base,
            "tessera_object_storage_oldest_unshipped_block_age_seconds"
        )
        .await,
        0.0
    );
    replace_machine(&mut srv).await;
    let v = crash::check::verify(&srv.base, &logs).await;
    assert!(v.acked > 0, "{v:?}");
}

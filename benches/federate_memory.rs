//! Memory a full `/federate` of about a million series adds to the server.
//!
//! Starts the server in-process on a loopback port, appends
//! `NodeExporterShape` series (one sample each, 30 s old, so all are inside
//! the 5 m lookback) straight through storage, then reads
//! `/federate?match[]={__name__=~".+"}` with a streaming client that
//! discards the body, once in the text format and once in the delimited
//! protobuf format. A sampler thread reads `VmRSS` from
//! `/proc/self/status` every few milliseconds during the read; a counting
//! allocator gives the peak of live heap bytes, which the allocator's
//! retained free memory cannot hide. Both are reported relative to just
//! before the read. For comparison, it then measures the same walk through
//! `Querier::select_each`, which collects every matching label set first.
//!
//! Run with `cargo bench --bench federate_memory`; `FEDERATE_SERIES`
//! changes the size (default 1,000,000).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tessera::api::AppState;
use tessera::model::{LabelRef, Sample};
use tessera::server::run;
use tessera::storage::{MatchOp, Matcher, SeriesInput, StorageConfig, SyncPolicy};
use tessera::synth::NodeExporterShape;
use tessera::tenant::TenantId;

/// The `Accept` header that asks for the delimited protobuf format.
const PROTO: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(by: isize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: defers every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        grew(l.size() as isize);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        grew(new as isize - l.size() as isize);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MIB: f64 = (1 << 20) as f64;

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Samples `VmRSS` until stopped; returns the largest value seen.
fn rss_sampler(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut max = 0;
        while !stop.load(Ordering::Relaxed) {
            max = max.max(status_bytes("VmRSS"));
            std::thread::sleep(Duration::from_millis(2));
        }
        max.max(status_bytes("VmRSS"))
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// What one measured read did.
struct Reading {
    rss_before: u64,
    rss_max: u64,
    heap_before: isize,
    heap_peak: isize,
    elapsed: Duration,
}

impl Reading {
    fn report(&self, what: &str, extra: &str) {
        println!(
            "{what}: {extra}, {:?}; RSS {:.1} MiB before, max {:.1} MiB during (+{:.1} MiB); live heap peak +{:.1} MiB",
            self.elapsed,
            self.rss_before as f64 / MIB,
            self.rss_max as f64 / MIB,
            self.rss_max.saturating_sub(self.rss_before) as f64 / MIB,
            (self.heap_peak - self.heap_before) as f64 / MIB,
        );
    }
}

/// Runs `f` while sampling RSS and the heap peak.
fn measure<T>(f: impl FnOnce() -> T) -> (T, Reading) {
    let rss_before = status_bytes("VmRSS");
    let heap_before = LIVE.load(Ordering::Relaxed);
    PEAK.store(heap_before, Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = rss_sampler(stop.clone());
    let started = Instant::now();
    let out = f();
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let rss_max = sampler.join().unwrap();
    let reading = Reading {
        rss_before,
        rss_max,
        heap_before,
        heap_peak: PEAK.load(Ordering::Relaxed),
        elapsed,
    };
    (out, reading)
}

/// Appends `n` series, one sample each at `t`, in batches.
fn load(storage: &tessera::storage::Storage, tenant: &TenantId, n: usize, t: i64) {
    let hosts = n.div_ceil(NodeExporterShape::series_per_host());
    let shape = NodeExporterShape {
        hosts,
        interval_ms: 15_000,
        seed: 7,
    };
    for start in (0..n).step_by(10_000) {
        let end = (start + 10_000).min(n);
        let labels: Vec<_> = (start..end).map(|s| shape.labels(s)).collect();
        let refs: Vec<Vec<LabelRef>> = labels.iter().map(|l| l.refs()).collect();
        let samples: Vec<Sample> = (start..end)
            .map(|s| Sample::new(t, shape.value_at(s, 0)))
            .collect();
        let batch: Vec<SeriesInput> = refs
            .iter()
            .zip(&samples)
            .map(|(l, s)| SeriesInput {
                labels: l,
                samples: std::slice::from_ref(s),
                histograms: &[],
            })
            .collect();
        let out = storage.append(tenant, &batch).unwrap();
        assert_eq!(out.rejected, 0, "{out:?}");
    }
}

/// Reads the whole body, discarding it; returns (bytes, lines).
async fn read_federate(client: &reqwest::Client, url: &str, accept: &str) -> (u64, u64) {
    let mut resp = client
        .get(url)
        .header("X-Scope-OrgID", "fed")
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(chunk) = resp.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    (bytes, lines)
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // Nothing to list or smoke-test under `cargo test --benches`.
    }
    let n: usize = std::env::var("FEDERATE_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StorageConfig::new(dir.path());
    cfg.wal.sync = SyncPolicy::None;
    cfg.maintenance_interval = None;
    let state = AppState::new();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(run(listener, cfg, state.clone(), async {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::new();
    rt.block_on(async {
        for _ in 0..1000 {
            let ready = client.get(format!("http://{addr}/-/ready")).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("server never became ready");
    });
    let storage = state.storage().unwrap();
    let tenant = TenantId::new("fed").unwrap();
    let t = now_ms() - 30_000;
    let started = Instant::now();
    load(&storage, &tenant, n, t);
    println!(
        "federate_memory: {n} series loaded in {:?}; RSS {:.1} MiB, VmHWM {:.1} MiB",
        started.elapsed(),
        status_bytes("VmRSS") as f64 / MIB,
        status_bytes("VmHWM") as f64 / MIB
    );

    let url = format!("http://{addr}/federate?match[]=%7B__name__%3D~%22.%2B%22%7D");
    for (format, accept) in [("text", "text/plain"), ("protobuf", PROTO)] {
        let ((bytes, lines), r) = measure(|| rt.block_on(read_federate(&client, &url, accept)));
        r.report(
            &format!("federate_memory: /federate ({format})"),
            &format!("{bytes} bytes, {lines} newline bytes"),
        );
        println!(
            "federate_memory: RSS after the read {:.1} MiB",
            status_bytes("VmRSS") as f64 / MIB
        );
    }

    // The same walk through the label-sorting querier, for comparison.
    let all = Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap();
    let seen = AtomicU64::new(0);
    let (_, r) = measure(|| {
        storage
            .querier(&tenant, t - 1, t + 1)
            .select_each(&[all], |_, _| {
                seen.fetch_add(1, Ordering::Relaxed);
                true
            })
            .unwrap()
    });
    r.report(
        "federate_memory: Querier::select_each for comparison",
        &format!("{} series", seen.load(Ordering::Relaxed)),
    );

    drop(storage);
    let _ = stop_tx.send(());
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
    });
}

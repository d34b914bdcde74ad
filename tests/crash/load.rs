//! Concurrent remote-write senders whose every sample value is a function
//! of (series, timestamp), and a log of what each request was answered.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tessera::ingest::proto::{encode_snappy, v1};
use tokio::task::JoinHandle;

/// The tenant every request writes and reads as.
pub const TENANT: &str = "durab";
/// The metric name of every series.
pub const METRIC: &str = "durab_sample";
/// Concurrent senders, each owning its own series.
pub const SENDERS: usize = 4;
/// Series per sender.
pub const SERIES_PER_SENDER: usize = 8;
/// Samples per series in one request.
pub const SAMPLES_PER_BATCH: i64 = 5;

/// The one value series `series` may ever hold at `t`. Dividing by 3 fills
/// the mantissa, so a value that lost bits anywhere would not compare equal.
pub fn value(series: usize, t: i64) -> f64 {
    let k = (series as i64).wrapping_mul(1_000_003).wrapping_add(t);
    (k % 10_000_019) as f64 / 3.0
}

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: every sample in it is acknowledged.
    Acked,
    /// A non-2xx status: its samples may be partly stored.
    Refused(u16),
    /// No response (the server died or was down): its samples may or may
    /// not be stored.
    Failed,
}

/// One request: every series of its sender at `first_t ..
/// first_t + SAMPLES_PER_BATCH`.
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    /// The first timestamp (ms); the rest follow 1 ms apart.
    pub first_t: i64,
    /// The answer.
    pub outcome: Outcome,
}

/// Everything one sender attempted, in order.
#[derive(Debug, Default)]
pub struct SenderLog {
    /// The sender's index.
    pub sender: usize,
    /// Its requests in the order sent.
    pub batches: Vec<Batch>,
}

/// The global id of series `i` of `sender`.
pub fn series_id(sender: usize, i: usize) -> usize {
    sender * SERIES_PER_SENDER + i
}

/// The running senders.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<SenderLog>>,
}

impl Load {
    /// Starts [`SENDERS`] senders against `base`. They share one clock so
    /// that their timestamps stay close: a flush refuses everything older
    /// than the head's newest sample, across all series.
    pub fn start(base: &str, first_t: i64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let clock = Arc::new(AtomicI64::new(first_t));
        let tasks = (0..SENDERS)
            .map(|s| tokio::spawn(send_loop(s, base.to_string(), clock.clone(), stop.clone())))
            .collect();
        Load { stop, tasks }
    }

    /// Stops the senders and returns their logs.
    pub async fn stop(self) -> Vec<SenderLog> {
        self.stop.store(true, Ordering::Release);
        let mut logs = Vec::new();
        for t in self.tasks {
            logs.push(t.await.expect("sender task"));
        }
        logs
    }
}

async fn send_loop(
    sender: usize,
    base: String,
    clock: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
) -> SenderLog {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let url = format!("{base}/api/v1/write");
    let mut log = SenderLog {
        sender,
        batches: Vec::new(),
    };
    while !stop.load(Ordering::Acquire) {
        // New timestamps for every request, retries included: a failed
        // request's samples may be stored, so reusing its timestamps would
        // turn a retry into a duplicate or out-of-order write.
        let first_t = clock.fetch_add(SAMPLES_PER_BATCH, Ordering::AcqRel);
        let resp = client
            .post(&url)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header("X-Scope-OrgID", TENANT)
            .body(body(sender, first_t))
            .send()
            .await;
        let outcome = match resp {
            Ok(r) if r.status().is_success() => Outcome::Acked,
            Ok(r) => Outcome::Refused(r.status().as_u16()),
            Err(_) => Outcome::Failed,
        };
        log.batches.push(Batch { first_t, outcome });
        if outcome != Outcome::Acked {
            // The server is down or restarting; don't spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    log
}

/// The snappy-compressed remote-write 1.0 body of one request of `sender`.
pub fn body(sender: usize, first_t: i64) -> Vec<u8> {
    let label = |n: &str, v: String| v1::Label {
        name: n.to_string(),
        value: v,
    };
    let timeseries = (0..SERIES_PER_SENDER)
        .map(|i| {
            let id = series_id(sender, i);
            v1::TimeSeries {
                labels: vec![
                    label("__name__", METRIC.to_string()),
                    label("sender", sender.to_string()),
                    label("series", id.to_string()),
                ],
                samples: (first_t..first_t + SAMPLES_PER_BATCH)
                    .map(|t| v1::Sample {
                        value: value(id, t),
                        timestamp: t,
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    encode_snappy(&v1::WriteRequest {
        timeseries,
        metadata: Vec::new(),
    })
}

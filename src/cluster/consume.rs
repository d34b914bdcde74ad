//! One partition this node owns: a storage engine of its own under
//! `<data-dir>/partitions/<p>/` and an ordered consumer of the partition's
//! subject feeding it.
//!
//! A partition's storage starts empty each time this node takes the
//! partition (its previous local state may be stale: another node owned
//! it meanwhile); blocks that earlier owners shipped to the bucket (under
//! `<prefix>/p<p>/`) are read through the bucket index, and the log is
//! replayed from after the greatest sequence those blocks cover
//! (`coverage.rs`), or from its first retained message when none records
//! one. Samples a replayed message holds below a tenant's newest shipped
//! block are refused as too old, as they were when first applied; any
//! other overlap is merged away by the querier, which keeps one sample
//! per timestamp.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;

use super::coverage::{self, Coverage};
use super::node::Inner;
use super::wire::{decode, Decoded, TENANT_HEADER};
use super::{subject, ClusterError};
use crate::storage::{ExemplarInput, SeriesInput, Storage, StorageConfig, StorageError};
use crate::tenant::TenantId;

/// Most log messages applied in one storage call.
const MAX_BATCH: usize = 256;

/// An owned partition.
pub(crate) struct Owned {
    pub partition: u32,
    pub storage: Arc<Storage>,
    /// Last stream sequence applied (0 = none).
    consumed: AtomicU64,
    /// Revision of our lease key.
    pub revision: AtomicU64,
    /// When the lease was last taken or renewed.
    pub renewed: Mutex<Instant>,
    /// First sequence consumed after the takeover.
    pub replay_from: u64,
    /// The partition's last sequence when it was taken: messages up to
    /// it are a replay.
    replay_until: u64,
    /// What shipped blocks cover (shared with the storage's block extras).
    coverage: Arc<Mutex<Coverage>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Owned {
    /// Last stream sequence applied.
    pub fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::Acquire)
    }

    /// Waits (blocking, polling every 5 ms) until the partition is
    /// consumed up to `seq`, while `held()` says this is still the node's
    /// open partition (it is closed when the lease is lost, and a new one
    /// opened if it is taken again: this one would never catch up).
    pub fn wait_for(&self, seq: u64, deadline: Instant, held: impl Fn() -> bool) -> Waited {
        loop {
            if self.consumed() >= seq {
                return Waited::Reached;
            }
            if !held() {
                return Waited::Closed;
            }
            if Instant::now() >= deadline {
                return Waited::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// How [`Owned::wait_for`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// The partition consumed the log that far.
    Reached,
    /// The partition was closed (its lease lost) during the wait.
    Closed,
    /// The deadline passed first.
    TimedOut,
}

/// The storage settings of partition `p`.
pub(crate) fn partition_config(template: &StorageConfig, p: u32) -> StorageConfig {
    let mut cfg = template.clone();
    cfg.data_dir = template.data_dir.join("partitions").join(p.to_string());
    if let Some(os) = &mut cfg.object_storage {
        os.url = format!("{}/p{p}", os.url.trim_end_matches('/'));
        os.cache_dir = cfg.data_dir.join("cache");
    }
    cfg
}

/// Opens partition `p`'s storage afresh and starts consuming it.
pub(crate) async fn open(
    inner: &Arc<Inner>,
    p: u32,
    revision: u64,
) -> Result<Arc<Owned>, ClusterError> {
    let cfg = partition_config(&inner.template, p);
    let dir = cfg.data_dir.clone();
    let opened = tokio::task::spawn_blocking(move || {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("clearing {}: {e}", dir.display())),
        }
        Storage::open(cfg)
            .map(|(s, _)| s)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .map_err(|why| ClusterError::Partition { partition: p, why })?;
    let start = {
        let metas = opened
            .tenant_ids()
            .iter()
            .flat_map(|t| opened.blocks(t))
            .collect::<Vec<_>>();
        coverage::replay_start(metas.iter().map(|m| &m.extra))
    };
    let coverage = Arc::new(Mutex::new(Coverage::new(start)));
    let cov = coverage.clone();
    opened.set_block_extra(Arc::new(move |tenant, boundary| {
        cov.lock().extra(tenant, boundary)
    }));
    let replay_until = super::leases::last_sequence(inner, p).await.unwrap_or(0);
    tracing::info!(
        partition = p,
        from = start + 1,
        until = replay_until,
        "replaying the log after what shipped blocks cover"
    );
    let owned = Arc::new(Owned {
        partition: p,
        storage: Arc::new(opened),
        consumed: AtomicU64::new(start),
        revision: AtomicU64::new(revision),
        renewed: Mutex::new(Instant::now()),
        replay_from: start + 1,
        replay_until,
        coverage,
        tasks: Mutex::new(Vec::new()),
    });
    let consumer = tokio::spawn(run(inner.clone(), owned.clone()));
    let tracker = tokio::spawn(track_shipped(owned.clone()));
    *owned.tasks.lock() = vec![consumer, tracker];
    Ok(owned)
}

/// Every second, records which tenants' blocks are all in the bucket,
/// and up to which time, for the coverage of later blocks.
async fn track_shipped(owned: Arc<Owned>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let o = owned.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for t in o.storage.tenant_ids() {
                // The boundary first: blocks below it were published
                // before it moved, so "all shipped" then includes them.
                let Some(until) = o.storage.flushed_until(&t) else {
                    continue;
                };
                if o.storage.fully_shipped(&t) {
                    o.coverage.lock().shipped(&t, until);
                }
            }
        })
        .await;
    }
}

/// Stops the consumer and closes the storage.
pub(crate) async fn close(owned: Arc<Owned>) {
    for t in owned.tasks.lock().drain(..) {
        t.abort();
    }
    let storage = owned.storage.clone();
    let p = owned.partition;
    let closed = tokio::task::spawn_blocking(move || storage.close()).await;
    if let Ok(Err(e)) = closed {
        tracing::warn!(partition = p, error = %e, "closing a partition's storage failed");
    }
}

async fn run(inner: Arc<Inner>, owned: Arc<Owned>) {
    let p = owned.partition;
    loop {
        let next = owned.consumed() + 1;
        let cfg = pull::OrderedConfig {
            filter_subject: subject(p),
            deliver_policy: if next <= 1 {
                DeliverPolicy::All
            } else {
                DeliverPolicy::ByStartSequence {
                    start_sequence: next,
                }
            },
            ..Default::default()
        };
        let messages = match inner.stream.create_consumer(cfg).await {
            Ok(c) => c.messages().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(partition = p, error = %e, "cannot consume the partition; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut quiet_behind = 0u32;
        loop {
            let first = match tokio::time::timeout(STALL_CHECK, messages.next()).await {
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => {
                    inner
                        .counters
                        .consumer_restarts
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(partition = p, error = %e, "consumer failed; restarting it");
                    break;
                }
                Ok(None) => break,
                Err(_) => {
                    // Nothing delivered for a while. An idle log is fine;
                    // a log with messages past what was applied means the
                    // consumer lost its server (the client library notices
                    // only after two missed 15 s heartbeats).
                    if stalled(&inner, &owned).await {
                        quiet_behind += 1;
                    } else {
                        quiet_behind = 0;
                    }
                    if quiet_behind >= STALL_STRIKES {
                        inner
                            .counters
                            .consumer_restarts
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            partition = p,
                            consumed = owned.consumed(),
                            "consumer delivers nothing while the log holds more; restarting it"
                        );
                        break;
                    }
                    continue;
                }
            };
            quiet_behind = 0;
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match messages.next().now_or_never() {
                    Some(Some(Ok(m))) => batch.push(m),
                    _ => break,
                }
            }
            apply(&inner, &owned, batch).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How long the consumer may deliver nothing before the log is checked
/// for messages it should have delivered.
const STALL_CHECK: Duration = Duration::from_secs(1);

/// Consecutive checks that find the consumer behind a silent log before
/// it is recreated (one could be a message published just before it).
const STALL_STRIKES: u32 = 2;

/// Whether the log's last sequence of the partition is past what has
/// been applied. Asked of the stream itself: the lease loop's copy is
/// stale exactly when NATS is in trouble (its round can hang on another
/// bucket while this stream still answers).
async fn stalled(inner: &Inner, owned: &Owned) -> bool {
    let last = super::leases::last_sequence(inner, owned.partition).await;
    last.is_some_and(|last| last > owned.consumed())
}

/// One log message ready to append.
struct Pending {
    seq: u64,
    tenant: TenantId,
    payload: bytes::Bytes,
}

/// Applies messages in order; an append that fails (disk full, storage
/// closed) is retried until it succeeds, so nothing is skipped.
async fn apply(inner: &Arc<Inner>, owned: &Arc<Owned>, batch: Vec<async_nats::jetstream::Message>) {
    let p = owned.partition;
    let mut pending = Vec::with_capacity(batch.len());
    let mut last = owned.consumed();
    for m in batch {
        let Ok(info) = m.info() else {
            inner.counters.bad_messages.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let seq = info.stream_sequence;
        if seq <= last {
            continue;
        }
        last = seq;
        let tenant = m
            .headers
            .as_ref()
            .and_then(|h| h.get(TENANT_HEADER))
            .map(|v| v.as_str().to_string())
            .and_then(|t| TenantId::new(&t).ok());
        match tenant {
            Some(tenant) => pending.push(Pending {
                seq,
                tenant,
                payload: m.payload.clone(),
            }),
            None => {
                inner.counters.bad_messages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    partition = p,
                    seq,
                    "log message without a valid tenant header; skipped"
                );
            }
        }
    }
    loop {
        let storage = owned.storage.clone();
        let cov = owned.coverage.clone();
        let work: Vec<(u64, TenantId, bytes::Bytes)> = pending
            .iter()
            .map(|m| (m.seq, m.tenant.clone(), m.payload.clone()))
            .collect();
        let counters_bad = {
            let inner = inner.clone();
            move |seq: u64, e: String| {
                inner.counters.bad_messages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(partition = p, seq, error = %e, "undecodable log message skipped");
            }
        };
        let res = tokio::task::spawn_blocking(move || {
            for (seq, tenant, payload) in &work {
                let decoded = match decode(*seq, payload) {
                    Ok(d) => d,
                    Err(e) => {
                        counters_bad(*seq, e.to_string());
                        continue;
                    }
                };
                store(&storage, tenant, &decoded).map_err(|e| (*seq, e.to_string()))?;
                if decoded.batch.delete_tenant_at != 0 {
                    cov.lock().deleted(tenant);
                }
                cov.lock().applied(*seq, tenant, decoded.newest());
            }
            Ok::<_, (u64, String)>(())
        })
        .await;
        match res {
            Ok(Ok(())) => break,
            Ok(Err((seq, e))) => {
                inner
                    .counters
                    .append_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(partition = p, seq, error = %e, "append from the log failed; retrying");
                // Messages before `seq` were applied; retry from it.
                pending.retain(|m| m.seq >= seq);
                if let Some(first) = pending.first() {
                    owned.consumed.store(first.seq - 1, Ordering::Release);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                tracing::error!(partition = p, error = %e, "append task failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    inner
        .counters
        .consumed_messages
        .fetch_add(pending.len() as u64, Ordering::Relaxed);
    let replayed = pending
        .iter()
        .filter(|m| m.seq <= owned.replay_until)
        .count();
    inner
        .counters
        .replayed_messages
        .fetch_add(replayed as u64, Ordering::Relaxed);
    owned.consumed.store(last, Ordering::Release);
}

/// Stores one decoded message: its samples and histograms, then its
/// exemplars (of series now held) and its metadata, then a deletion of
/// the tenant it records. An `Err` is a storage
/// failure worth retrying; refusals of single samples or exemplars are
/// the storage's to count, as on one node.
fn store(storage: &Storage, tenant: &TenantId, decoded: &Decoded) -> Result<(), StorageError> {
    let refs = decoded.label_refs();
    let mut inputs = Vec::with_capacity(refs.len());
    let mut sts: Vec<&[i64]> = Vec::with_capacity(refs.len());
    let mut exemplars = Vec::new();
    for (i, labels) in refs.iter().enumerate() {
        let (samples, histograms) = (&decoded.samples[i], &decoded.histograms[i]);
        if !samples.is_empty() || !histograms.is_empty() {
            inputs.push(SeriesInput {
                labels,
                samples,
                histograms,
            });
            sts.push(&decoded.batch.series[i].start_times);
        }
        if !decoded.exemplars[i].is_empty() {
            exemplars.push(ExemplarInput {
                labels,
                exemplars: &decoded.exemplars[i],
            });
        }
    }
    if !inputs.is_empty() {
        if sts.iter().any(|s| !s.is_empty()) {
            storage.append_with_start_times(tenant, &inputs, &sts)?;
        } else {
            storage.append(tenant, &inputs)?;
        }
    }
    if !exemplars.is_empty() {
        storage.append_exemplars(tenant, &exemplars)?;
    }
    storage.record_metadata(tenant, &decoded.metadata)?;
    if decoded.batch.delete_tenant_at != 0 {
        let existed = storage.delete_tenant(tenant)?;
        tracing::warn!(target: "audit", tenant = %tenant, existed, "tenant deleted in a partition");
    }
    Ok(())
}

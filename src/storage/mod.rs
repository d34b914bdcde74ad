//! The embedded storage engine: tenant-partitioned heads, WAL, chunks,
//! label index and persistent blocks.
//!
//! [`Storage`] is the public face. Every method takes a [`TenantId`]; there
//! is no way to read or write without one, and no iterator over all
//! tenants' series. Each tenant has its own directory under
//! `<data-dir>/tenants/<tenant>/` holding its `wal/`, `blocks/` and
//! `flushed_until` file.

pub(crate) mod block;
pub mod bucket;
mod bucket_api;
pub mod changes;
pub mod chunk;
pub(crate) mod compact;
pub mod error;
mod exemplar_api;
pub mod exemplars;
pub mod fault;
pub(crate) mod head;
pub mod index;
mod limits;
pub(crate) mod metadata;
mod outcome;
pub(crate) mod partition;
mod querier;
mod readers;
mod source;
mod tenant_ops;
pub(crate) mod varint;
pub mod wal;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};

pub use block::{BlockMeta, BlockStats, Compaction};
pub use bucket::ObjectStorageConfig;
pub use bucket_api::BucketStatus;
pub use error::{Result, StorageError};
pub use exemplars::{ExemplarInput, ExemplarOutcome, ExemplarSeries, ExemplarStats};
pub use head::cardinality::{CardinalityStat, HeadPairs, Newest, TsdbStatus};
pub use index::{MatchOp, Matcher};
pub use limits::SeriesLimits;
pub use metadata::MetricMetadata;

pub use outcome::{AppendOutcome, LabelError, RejectReason, Rejection, SampleReject, SeriesInput};
pub use querier::{Querier, Series, SeriesValues};
pub use source::{EachMapped, EachSeries, Mapped, ReadSource, SeriesMap, TenantReader};
pub use tenant_ops::{Footprint, TenantStateFile};
pub use wal::{SyncPolicy, WalOptions};

use crate::tenant::TenantId;
use partition::Partition;

/// Two hours, Prometheus' default block range.
pub const DEFAULT_BLOCK_RANGE_MS: i64 = 2 * 3600 * 1000;

/// Per-tenant storage settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantConfig {
    /// Out-of-order window in ms. 0 (the default) behaves like Prometheus:
    /// any sample older than its series' newest is refused.
    pub ooo_window_ms: i64,
    /// Blocks whose samples are all older than this (relative to the
    /// tenant's newest sample) are deleted. `None` keeps data forever.
    pub retention_ms: Option<i64>,
    /// Series and label limits, enforced on every ingest path.
    pub limits: SeriesLimits,
    /// Size of the tenant's exemplar buffer (0, the default here: no
    /// exemplars are kept; the server's default is
    /// [`exemplars::DEFAULT_MAX_EXEMPLARS`]).
    pub max_exemplars: u64,
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Root data directory.
    pub data_dir: PathBuf,
    /// WAL settings, for every tenant.
    pub wal: WalOptions,
    /// Block range in ms (head chunks never straddle a multiple of it).
    pub block_range_ms: i64,
    /// Settings for tenants without an override.
    pub tenant_defaults: TenantConfig,
    /// Per-tenant overrides.
    pub tenant_overrides: HashMap<TenantId, TenantConfig>,
    /// How often the background task flushes, compacts and applies
    /// retention. `None` disables it (tests drive those steps by hand).
    pub maintenance_interval: Option<Duration>,
    /// Blocks in object storage; `None` (the default) keeps everything on
    /// the local disk.
    pub object_storage: Option<bucket::ObjectStorageConfig>,
}

impl StorageConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> StorageConfig {
        StorageConfig {
            data_dir: data_dir.into(),
            wal: WalOptions::default(),
            block_range_ms: DEFAULT_BLOCK_RANGE_MS,
            tenant_defaults: TenantConfig::default(),
            tenant_overrides: HashMap::new(),
            maintenance_interval: Some(Duration::from_secs(60)),
            object_storage: None,
        }
    }

    fn tenant(&self, t: &TenantId) -> TenantConfig {
        self.tenant_overrides
            .get(t)
            .cloned()
            .unwrap_or_else(|| self.tenant_defaults.clone())
    }
}

/// A tenant head's size and time range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Series held.
    pub num_series: usize,
    /// Chunks held (closed and open).
    pub num_chunks: usize,
    /// Distinct interned label strings.
    pub num_symbols: usize,
    /// Oldest sample time, if any.
    pub min_time: Option<i64>,
    /// Newest sample time, if any.
    pub max_time: Option<i64>,
}

/// What [`Storage::open`] replayed, per tenant.
#[derive(Debug, Clone, Default)]
pub struct OpenStats {
    /// Tenants opened.
    pub tenants: usize,
    /// WAL segments read.
    pub segments: usize,
    /// Series records replayed.
    pub series: u64,
    /// Samples replayed.
    pub samples: u64,
    /// Torn or corrupt WAL tails repaired.
    pub repairs: Vec<wal::Repair>,
    /// Blocks opened.
    pub blocks: usize,
}

/// The storage engine.
pub struct Storage {
    inner: Arc<Inner>,
    background: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The bucket worker, when a bucket is configured and maintenance runs.
    bucket_worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct Inner {
    cfg: StorageConfig,
    /// Per-tenant settings (defaults, overrides), replaced by a reload;
    /// `cfg`'s copies are only what the storage was opened with.
    tenant_settings: RwLock<(TenantConfig, HashMap<TenantId, TenantConfig>)>,
    tenants: RwLock<HashMap<TenantId, Arc<Partition>>>,
    /// Serialises partition creation so two appenders don't open one twice.
    creating: Mutex<()>,
    closed: AtomicBool,
    stop: (Mutex<bool>, Condvar),
    metadata: metadata::MetadataStore,
    /// What opening (WAL replay) found, for self-monitoring.
    opened: OpenReport,
    /// Background maintenance rounds (flush, compaction, retention) that failed.
    maintenance_failures: std::sync::atomic::AtomicU64,
    /// Compactions (background or asked for) that failed.
    compaction_failures: std::sync::atomic::AtomicU64,
    /// The bucket, its cache and settings, when one is configured.
    bucket: Option<Arc<bucket::BucketContext>>,
    /// What the bucket worker did.
    bucket_counters: Arc<bucket::worker::WorkerCounters>,
    /// Stops the bucket worker.
    bucket_stop: Arc<AtomicBool>,
    /// Extras for blocks written from a head (see [`Storage::set_block_extra`]).
    block_extra: RwLock<Option<BlockExtraFn>>,
}

/// Gives the meta extras of a block written from a tenant's head: called
/// with the tenant and the flush boundary once every sample older than
/// the boundary is in the block or in earlier ones.
pub type BlockExtraFn =
    Arc<dyn Fn(&TenantId, i64) -> std::collections::BTreeMap<String, String> + Send + Sync>;

/// What `Storage::open` did, kept for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenReport {
    /// Wall time of opening every tenant (WAL replay included).
    pub elapsed: Duration,
    /// WAL segments read.
    pub segments: usize,
    /// Samples replayed.
    pub samples: u64,
    /// Torn or corrupt WAL tails repaired.
    pub repairs: usize,
}

impl Storage {
    /// Opens the data directory, replaying every tenant's WAL.
    pub fn open(cfg: StorageConfig) -> Result<(Storage, OpenStats)> {
        if cfg.block_range_ms <= 0 {
            return Err(StorageError::Config(format!(
                "block range must be positive, got {}ms",
                cfg.block_range_ms
            )));
        }
        let started = std::time::Instant::now();
        let bucket = match &cfg.object_storage {
            Some(o) => Some(Arc::new(bucket::BucketContext::open(o)?)),
            None => None,
        };
        let root = cfg.data_dir.join("tenants");
        std::fs::create_dir_all(&root).map_err(|e| StorageError::io(&root, e))?;
        let mut tenants = HashMap::new();
        let mut stats = OpenStats::default();
        let rd = std::fs::read_dir(&root).map_err(|e| StorageError::io(&root, e))?;
        for entry in rd {
            let path = entry.map_err(|e| StorageError::io(&root, e))?.path();
            let Some(tenant) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| TenantId::new(n).ok())
            else {
                tracing::warn!(dir = %path.display(), "ignoring a directory that is not a valid tenant id");
                continue;
            };
            let (p, report) = Partition::open(
                tenant.clone(),
                &path,
                cfg.tenant(&tenant),
                cfg.block_range_ms,
                cfg.wal.clone(),
                bucket.as_ref(),
            )?;
            tracing::info!(
                tenant = %tenant,
                segments = report.replay.segments,
                series = report.replay.series,
                samples = report.replay.samples,
                blocks = report.blocks,
                elapsed_ms = report.elapsed.as_millis() as u64,
                "tenant replayed"
            );
            stats.tenants += 1;
            stats.segments += report.replay.segments;
            stats.series += report.replay.series;
            stats.samples += report.replay.samples;
            stats.blocks += report.blocks;
            stats.repairs.extend(report.replay.repaired.clone());
            tenants.insert(tenant, Arc::new(p));
        }
        if let Some(ctx) = &bucket {
            for tenant in discover_tenants(ctx, &tenants) {
                let dir = root.join(tenant.as_str());
                let (p, _) = Partition::open(
                    tenant.clone(),
                    &dir,
                    cfg.tenant(&tenant),
                    cfg.block_range_ms,
                    cfg.wal.clone(),
                    Some(ctx),
                )?;
                stats.tenants += 1;
                stats.blocks += p.blocks().len();
                tenants.insert(tenant, Arc::new(p));
            }
        }
        let inner = Arc::new(Inner {
            tenant_settings: RwLock::new((
                cfg.tenant_defaults.clone(),
                cfg.tenant_overrides.clone(),
            )),
            cfg,
            tenants: RwLock::new(tenants),
            creating: Mutex::new(()),
            closed: AtomicBool::new(false),
            stop: (Mutex::new(false), Condvar::new()),
            metadata: metadata::MetadataStore::default(),
            opened: OpenReport {
                elapsed: started.elapsed(),
                segments: stats.segments,
                samples: stats.samples,
                repairs: stats.repairs.len(),
            },
            maintenance_failures: std::sync::atomic::AtomicU64::new(0),
            compaction_failures: std::sync::atomic::AtomicU64::new(0),
            bucket,
            bucket_counters: Arc::default(),
            bucket_stop: Arc::default(),
            block_extra: RwLock::new(None),
        });
        let storage = Storage {
            background: Mutex::new(spawn_background(&inner)),
            bucket_worker: Mutex::new(spawn_bucket_worker(&inner)),
            inner,
        };
        Ok((storage, stats))
    }

    fn partition(&self, tenant: &TenantId) -> Option<Arc<Partition>> {
        self.inner.tenants.read().get(tenant).cloned()
    }

    fn partition_or_create(&self, tenant: &TenantId) -> Result<Arc<Partition>> {
        if let Some(p) = self.partition(tenant) {
            return Ok(p);
        }
        let _c = self.inner.creating.lock();
        if let Some(p) = self.partition(tenant) {
            return Ok(p);
        }
        let cfg = &self.inner.cfg;
        let dir = cfg.data_dir.join("tenants").join(tenant.as_str());
        let (p, _) = Partition::open(
            tenant.clone(),
            &dir,
            self.tenant_config(tenant),
            cfg.block_range_ms,
            cfg.wal.clone(),
            self.inner.bucket.as_ref(),
        )?;
        let p = Arc::new(p);
        self.inner.tenants.write().insert(tenant.clone(), p.clone());
        Ok(p)
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        Ok(())
    }

    /// Appends a batch for one tenant. Invalid series and refused samples
    /// are reported in the outcome and do not affect the rest of the batch;
    /// an `Err` (I/O failure) means nothing of the batch was stored.
    pub fn append(&self, tenant: &TenantId, batch: &[SeriesInput<'_>]) -> Result<AppendOutcome> {
        self.check_open()?;
        self.partition_or_create(tenant)?.append(batch)
    }

    /// [`Storage::append`] with start (created) timestamps:
    /// `start_times[i][j]` is the start timestamp of `batch[i].samples[j]`
    /// and, past the samples, `start_times[i][samples.len() + k]` that of
    /// `batch[i].histograms[k]`; 0, a missing entry or a missing slice
    /// means none. Start
    /// timestamps go to the WAL and the head with their samples and are
    /// read back with [`Querier::select_each_with_start_times`].
    pub fn append_with_start_times(
        &self,
        tenant: &TenantId,
        batch: &[SeriesInput<'_>],
        start_times: &[&[i64]],
    ) -> Result<AppendOutcome> {
        self.check_open()?;
        self.partition_or_create(tenant)?
            .append_st(batch, start_times)
    }

    /// The current point in `tenant`'s change history (see
    /// [`changes`]); take it before reading.
    pub fn change_mark(&self, tenant: &TenantId) -> changes::ChangeMark {
        match self.partition(tenant) {
            Some(p) => p.changes.mark(),
            None => changes::ChangeMark::no_data(),
        }
    }

    /// The earliest sample time of `tenant` written or removed after
    /// `mark`: `None` if nothing was, `Some(i64::MIN)` if anything may
    /// have been (the tenant was deleted or created since, or the mark is
    /// older than the history kept).
    pub fn changed_since(&self, tenant: &TenantId, mark: changes::ChangeMark) -> Option<i64> {
        match (self.partition(tenant), mark.is_no_data()) {
            (Some(p), false) => p.changes.changed_since(mark),
            (None, true) => None,
            _ => Some(i64::MIN),
        }
    }

    /// Checks one series' labels as an append does before creating a
    /// series (non-empty names, no duplicates, UTF-8, the tenant's label
    /// limits) without storing anything. Cluster mode refuses bad series
    /// with it before they enter the log, so the writer still sees them.
    pub fn check_labels(
        &self,
        tenant: &TenantId,
        labels: &[crate::model::LabelRef<'_>],
    ) -> std::result::Result<(), RejectReason> {
        let mut order = Vec::new();
        head::append::normalize_label_order(labels, &mut order).map_err(RejectReason::Labels)?;
        let pairs: Vec<(&[u8], &[u8])> = order
            .iter()
            .map(|&i| (labels[i as usize].name, labels[i as usize].value))
            .collect();
        head::append::check_utf8(&pairs).map_err(RejectReason::Labels)?;
        self.inner
            .cfg
            .tenant(tenant)
            .limits
            .check_labels(labels, &order)
    }

    /// A querier over `[mint, maxt]` (inclusive, ms) bound to `tenant`.
    pub fn querier(&self, tenant: &TenantId, mint: i64, maxt: i64) -> Querier {
        Querier::new(self.partition(tenant), mint, maxt)
    }

    /// The settings that apply to `tenant` now.
    pub fn tenant_config(&self, tenant: &TenantId) -> TenantConfig {
        let (defaults, overrides) = &*self.inner.tenant_settings.read();
        overrides.get(tenant).unwrap_or(defaults).clone()
    }

    /// Replaces every tenant's settings (a config reload): open tenants
    /// take them for their next append, new tenants when they appear.
    pub fn set_tenant_configs(
        &self,
        defaults: TenantConfig,
        overrides: HashMap<TenantId, TenantConfig>,
    ) {
        *self.inner.tenant_settings.write() = (defaults, overrides);
        let open: Vec<Arc<Partition>> = self.inner.tenants.read().values().cloned().collect();
        for p in open {
            let cfg = self.tenant_config(&p.tenant);
            p.resize_exemplars(cfg.max_exemplars);
            *p.cfg.write() = cfg;
        }
    }

    /// Writes the tenant's whole head into a block now (the admin flush).
    pub fn flush(&self, tenant: &TenantId) -> Result<Option<BlockMeta>> {
        self.check_open()?;
        match self.partition(tenant) {
            Some(p) => p.flush(None, self.inner.block_extra.read().as_ref()),
            None => Ok(None),
        }
    }

    /// Sets what every block written from a head from now on carries in
    /// its meta's `extra` (cluster mode records the ingest-log sequence
    /// the block covers). Compacted blocks inherit their sources' extras.
    pub fn set_block_extra(&self, f: BlockExtraFn) {
        *self.inner.block_extra.write() = Some(f);
    }

    /// Everything of `tenant` older than this time is in blocks (`None`
    /// for a tenant without a partition).
    pub fn flushed_until(&self, tenant: &TenantId) -> Option<i64> {
        self.partition(tenant).map(|p| p.flushed_until())
    }

    /// Flushes every tenant's head. Returns the blocks written.
    pub fn flush_all(&self) -> Result<Vec<BlockMeta>> {
        let mut out = Vec::new();
        for t in self.tenant_ids() {
            out.extend(self.flush(&t)?);
        }
        Ok(out)
    }

    /// Compacts the tenant's blocks as far as the level plan allows (in
    /// the bucket when one is configured).
    pub fn compact(&self, tenant: &TenantId) -> Result<Vec<BlockMeta>> {
        self.check_open()?;
        match self.partition(tenant) {
            Some(p) => match &p.bucket {
                Some(side) => bucket::compactor::compact(&p, side),
                None => compact_counted(&self.inner, &p),
            },
            None => Ok(Vec::new()),
        }
    }

    /// Deletes the tenant's blocks whose samples are all older than `cutoff`.
    pub fn apply_retention(&self, tenant: &TenantId, cutoff: i64) -> Result<Vec<(i64, i64)>> {
        self.check_open()?;
        match self.partition(tenant) {
            Some(p) => p.apply_retention(cutoff),
            None => Ok(Vec::new()),
        }
    }

    /// Metas of the tenant's blocks, oldest first.
    pub fn blocks(&self, tenant: &TenantId) -> Vec<BlockMeta> {
        self.partition(tenant)
            .map(|p| p.blocks().iter().map(|b| b.meta().clone()).collect())
            .unwrap_or_default()
    }

    /// Counts and time bounds of the tenant's head (zeroes for an unknown tenant).
    pub fn head_stats(&self, tenant: &TenantId) -> HeadStats {
        let Some(p) = self.partition(tenant) else {
            return HeadStats::default();
        };
        let (num_chunks, bounds) = p.head.chunks_and_bounds();
        HeadStats {
            num_series: p.head.num_series(),
            num_chunks,
            num_symbols: p.head.num_symbols(),
            min_time: bounds.map(|b| b.0),
            max_time: bounds.map(|b| b.1),
        }
    }

    /// Cardinality statistics of the tenant's head, top `limit` of each
    /// list (an empty status for an unknown tenant).
    pub fn tsdb_status(&self, tenant: &TenantId, limit: usize) -> TsdbStatus {
        head::cardinality::status_of(self.partition(tenant).as_deref().map(|p| &p.head), limit)
    }

    /// The tenant's head statistics in a form that adds up across the
    /// partitions of a cluster ([`TsdbStatus::merge`]); empty for an
    /// unknown tenant.
    pub fn head_pairs(&self, tenant: &TenantId) -> HeadPairs {
        self.partition(tenant)
            .map(|p| p.head.head_pairs())
            .unwrap_or_default()
    }

    /// Tenants with a partition. For operators (self-metrics, admin), never
    /// for answering a tenant's query.
    pub fn tenant_ids(&self) -> Vec<TenantId> {
        let mut v: Vec<TenantId> = self.inner.tenants.read().keys().cloned().collect();
        v.sort();
        v
    }

    /// WAL fsync count and total time, summed over tenants.
    pub fn wal_fsync_stats(&self) -> (u64, Duration) {
        let parts: Vec<Arc<Partition>> = self.inner.tenants.read().values().cloned().collect();
        parts
            .iter()
            .map(|p| p.wal.fsync_stats())
            .fold((0, Duration::ZERO), |a, b| (a.0 + b.0, a.1 + b.1))
    }

    /// What opening the data directory found (replay time, repairs).
    pub fn open_report(&self) -> OpenReport {
        self.inner.opened
    }

    /// Background maintenance rounds that failed since the process started.
    pub fn maintenance_failures(&self) -> u64 {
        self.inner
            .maintenance_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Compactions that failed since the process started (each also
    /// fails its maintenance round when run in the background).
    pub fn compaction_failures(&self) -> u64 {
        self.inner.compaction_failures.load(Ordering::Relaxed)
    }

    /// One round of background maintenance for every tenant: flush head
    /// ranges that are due, compact, and apply retention.
    pub fn maintain(&self) -> Result<()> {
        maintain(&self.inner)
    }

    /// Stops background work, fsyncs and closes every WAL.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let (lock, cv) = &self.inner.stop;
            *lock.lock() = true;
            cv.notify_all();
        }
        if let Some(h) = self.background.lock().take() {
            let _ = h.join();
        }
        if let Some(ctx) = &self.inner.bucket {
            self.inner.bucket_stop.store(true, Ordering::Release);
            ctx.wake.notify();
        }
        if let Some(h) = self.bucket_worker.lock().take() {
            let _ = h.join();
        }
        let parts: Vec<Arc<Partition>> = self.inner.tenants.read().values().cloned().collect();
        for p in parts {
            p.wal.close()?;
        }
        Ok(())
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, "closing storage failed");
        }
    }
}

/// Head ranges one maintenance round flushes per tenant, at most, before
/// it compacts and applies retention; the next round takes the rest.
///
/// Bounded because under sustained ingest (or after replaying a long WAL)
/// a flush can take as long as the head needs to grow one more block
/// range: a round that flushed until nothing was due would never reach
/// compaction and retention.
pub const MAX_FLUSHES_PER_ROUND: usize = 4;

fn maintain(inner: &Inner) -> Result<()> {
    let parts: Vec<Arc<Partition>> = inner.tenants.read().values().cloned().collect();
    for p in parts {
        for _ in 0..MAX_FLUSHES_PER_ROUND {
            let Some(boundary) = p.due_flush_boundary() else {
                break;
            };
            p.flush(Some(boundary), inner.block_extra.read().as_ref())?;
        }
        if p.bucket.is_some() {
            // Compaction and retention happen in the bucket (the worker).
            continue;
        }
        compact_counted(inner, &p)?;
        if let (Some(ret), Some(max)) = (p.cfg.read().retention_ms, p.max_time()) {
            p.apply_retention(max.saturating_sub(ret))?;
        }
    }
    Ok(())
}

/// Compacts `p`, counting a failure for `/metrics`.
fn compact_counted(inner: &Inner, p: &Partition) -> Result<Vec<BlockMeta>> {
    compact::compact(p).inspect_err(|e| {
        inner.compaction_failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(tenant = %p.tenant, error = %e, "compaction failed");
    })
}

/// Tenants that have a prefix in the bucket but no local directory (a
/// replaced machine), found with one delimiter listing of the prefix.
fn discover_tenants(
    ctx: &bucket::BucketContext,
    known: &HashMap<TenantId, Arc<Partition>>,
) -> Vec<TenantId> {
    match ctx.bucket.list_dirs(&ctx.bucket.path([])) {
        Ok(names) => names
            .iter()
            .filter_map(|n| TenantId::new(n).ok())
            .filter(|t| !known.contains_key(t))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not list the bucket's tenants at start");
            Vec::new()
        }
    }
}

/// Starts the bucket worker when a bucket is configured and maintenance runs.
fn spawn_bucket_worker(inner: &Arc<Inner>) -> Option<std::thread::JoinHandle<()>> {
    let ctx = inner.bucket.clone()?;
    let interval = inner.cfg.maintenance_interval?;
    let weak = Arc::downgrade(inner);
    bucket::worker::spawn(
        ctx,
        move || {
            weak.upgrade()
                .map(|i| i.tenants.read().values().cloned().collect())
                .unwrap_or_default()
        },
        inner.bucket_counters.clone(),
        interval,
        inner.bucket_stop.clone(),
    )
}

/// Starts the thread that fsyncs WALs under the batch policy and runs maintenance.
fn spawn_background(inner: &Arc<Inner>) -> Option<std::thread::JoinHandle<()>> {
    let sync_every = match inner.cfg.wal.sync {
        SyncPolicy::Batch(d) => Some(d),
        _ => None,
    };
    let maintain_every = inner.cfg.maintenance_interval;
    let tick = match (sync_every, maintain_every) {
        (None, None) => return None,
        (a, b) => a.into_iter().chain(b).min()?,
    };
    let inner = inner.clone();
    let handle = std::thread::Builder::new()
        .name("tessera-storage-bg".into())
        .spawn(move || {
            let mut since_maintenance = Duration::ZERO;
            loop {
                {
                    let (lock, cv) = &inner.stop;
                    let mut stopped = lock.lock();
                    if !*stopped {
                        cv.wait_for(&mut stopped, tick);
                    }
                    if *stopped {
                        return;
                    }
                }
                if sync_every.is_some() {
                    let parts: Vec<Arc<Partition>> =
                        inner.tenants.read().values().cloned().collect();
                    for p in parts {
                        if let Err(e) = p.wal.sync() {
                            tracing::error!(tenant = %p.tenant, error = %e, "WAL fsync failed");
                        }
                    }
                }
                since_maintenance += tick;
                if maintain_every.is_some_and(|m| since_maintenance >= m) {
                    since_maintenance = Duration::ZERO;
                    if let Err(e) = maintain(&inner) {
                        inner
                            .maintenance_failures
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::error!(error = %e, "storage maintenance failed");
                    }
                }
            }
        });
    match handle {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(error = %e, "could not start the storage background thread");
            None
        }
    }
}

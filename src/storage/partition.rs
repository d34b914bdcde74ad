//! One tenant's partition: its head, WAL and blocks, and the operations
//! that move data between them (append, replay, flush, compaction, retention).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::model::describe_label_refs;
use crate::storage::block::local::LocalBlocks;
use crate::storage::block::store::BlockStore;
use crate::storage::block::{self, writer::BlockWriter, Block};
use crate::storage::bucket::side::BucketSide;
use crate::storage::bucket::{compactor, view, BucketContext};
use crate::storage::error::{Result, StorageError};
use crate::storage::exemplars::buffer::ExemplarBuffer;
use crate::storage::exemplars::replay_exemplars;
use crate::storage::head::append::{
    apply, apply_histogram, decide, decide_histogram, normalize_label_order, DecideCtx, Decision,
};
use crate::storage::head::reset_hint::stored_hint;
use crate::storage::head::series::{MemSeries, Placement};
use crate::storage::head::{Head, MixHasher, SeriesHandle, SeriesKey};
use crate::storage::outcome::{AppendOutcome, RejectReason, SeriesInput};
use crate::storage::wal::{
    self, HistogramEntry, SampleEntry, SeriesEntry, Wal, WalOptions, WalRecord,
};
use crate::storage::TenantConfig;
use crate::tenant::TenantId;

const FLUSHED_UNTIL_FILE: &str = "flushed_until";

/// Scratch buffers reused across appends so steady-state appends do not allocate.
#[derive(Default)]
struct AppendScratch {
    new_series: Vec<SeriesEntry>,
    created: Vec<u32>,
    samples: Vec<SampleEntry>,
    placements: Vec<Placement>,
    plan: Vec<(SeriesHandle, usize, usize)>,
    hists: Vec<HistogramEntry>,
    hist_placements: Vec<Placement>,
    hist_plan: Vec<(SeriesHandle, usize, usize)>,
    batch_maxt: HashMap<u32, i64, std::hash::BuildHasherDefault<MixHasher>>,
    /// Sorted label order of every input series, concatenated.
    order: Vec<u32>,
    /// Per input: its range in `order`, or why its labels were refused.
    spans: Vec<std::result::Result<(u32, u32), RejectReason>>,
    keys: Vec<SeriesKey>,
    found: Vec<Option<SeriesHandle>>,
    /// One series' label order, before it is copied into `order`.
    one: Vec<u32>,
}

impl AppendScratch {
    fn clear(&mut self) {
        self.new_series.clear();
        self.created.clear();
        self.samples.clear();
        self.placements.clear();
        self.plan.clear();
        self.hists.clear();
        self.hist_placements.clear();
        self.hist_plan.clear();
        self.batch_maxt.clear();
        self.order.clear();
        self.spans.clear();
        self.keys.clear();
        self.found.clear();
    }
}

/// A tenant's partition.
pub(crate) struct Partition {
    pub tenant: TenantId,
    pub(crate) dir: PathBuf,
    /// The tenant's settings; replaced whole by a config reload.
    pub(crate) cfg: RwLock<TenantConfig>,
    pub(crate) head: Head,
    pub(crate) wal: Wal,
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    /// The local blocks directory.
    pub(crate) local: LocalBlocks,
    /// The tenant's blocks in the bucket, when one is configured.
    pub(crate) bucket: Option<BucketSide>,
    append_lock: Mutex<AppendScratch>,
    /// The tenant's exemplars (`max_exemplars` slots).
    pub(crate) exemplars: Mutex<ExemplarBuffer>,
    pub(crate) maintenance: Mutex<()>,
    flushed_until: AtomicI64,
    /// Samples this tenant's queriers returned since the process started.
    pub(crate) samples_read: std::sync::atomic::AtomicU64,
    /// Open queriers; a flush waits for the older ones before truncating.
    pub(crate) readers: Arc<crate::storage::readers::Readers>,
    /// The earliest sample times written or removed, for results caches.
    pub(crate) changes: crate::storage::changes::ChangeLog,
}

/// What opening a partition found.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpenReport {
    pub replay: wal::ReplayStats,
    pub samples_skipped: u64,
    pub unknown_series_samples: u64,
    /// Logged exemplars not restored (their series is gone, or the
    /// buffer refused them again).
    pub exemplars_skipped: u64,
    pub blocks: usize,
    pub elapsed: std::time::Duration,
}

impl Partition {
    /// Opens (or creates) the partition in `dir`, replaying its WAL. With
    /// a bucket, its index's blocks join the local ones (if the bucket
    /// cannot be read now, the background shipper does it later).
    pub fn open(
        tenant: TenantId,
        dir: &Path,
        cfg: TenantConfig,
        block_range: i64,
        wal_opts: WalOptions,
        bucket: Option<&Arc<BucketContext>>,
    ) -> Result<(Partition, OpenReport)> {
        let started = Instant::now();
        let local = LocalBlocks::new(&dir.join("blocks"))?;
        let mut blocks = local.open_all()?;
        let bucket = match bucket {
            Some(ctx) => Some(BucketSide::open(ctx, &tenant, dir)?),
            None => None,
        };
        if let Some(side) = &bucket {
            if let Err(e) = join_bucket(&local, side, &mut blocks) {
                tracing::warn!(tenant = %tenant, error = %e, "bucket not readable at start; retrying in the background");
            }
        }
        let flushed_until = read_flushed_until(dir)?.max(
            blocks
                .iter()
                .map(|b| b.meta().max_time)
                .max()
                .unwrap_or(i64::MIN),
        );
        let head = Head::new(block_range);
        head.set_min_valid_time(flushed_until);
        let mut report = OpenReport {
            blocks: blocks.len(),
            ..Default::default()
        };
        let wal_dir = dir.join("wal");
        let mut exemplars =
            ExemplarBuffer::new(usize::try_from(cfg.max_exemplars).unwrap_or(usize::MAX));
        report.replay = wal::replay(&wal_dir, |rec| match rec {
            WalRecord::Exemplars(e) => replay_exemplars(&head, &mut exemplars, e, &mut report),
            rec => replay_record(&head, rec, &mut report),
        })?;
        head.truncate_before(flushed_until)?;
        let wal = Wal::open(&wal_dir, wal_opts)?;
        report.elapsed = started.elapsed();
        let p = Partition {
            tenant,
            dir: dir.to_path_buf(),
            cfg: RwLock::new(cfg),
            head,
            wal,
            blocks: RwLock::new(blocks),
            local,
            bucket,
            append_lock: Mutex::new(AppendScratch::default()),
            exemplars: Mutex::new(exemplars),
            maintenance: Mutex::new(()),
            flushed_until: AtomicI64::new(flushed_until),
            samples_read: std::sync::atomic::AtomicU64::new(0),
            readers: Arc::default(),
            changes: crate::storage::changes::ChangeLog::new(),
        };
        Ok((p, report))
    }

    /// Everything before this time is in blocks.
    pub fn flushed_until(&self) -> i64 {
        self.flushed_until.load(Ordering::Acquire)
    }

    /// Holds off other appends (exemplars are logged under it, after the
    /// series they refer to).
    pub(crate) fn lock_appends(&self) -> impl Drop + '_ {
        self.append_lock.lock()
    }

    /// Validates, decides, logs to the WAL, then applies a batch. Samples
    /// refused for their own reasons never disturb the rest of the batch.
    pub fn append(&self, batch: &[SeriesInput<'_>]) -> Result<AppendOutcome> {
        self.append_st(batch, &[])
    }

    /// [`Partition::append`] with start timestamps: `sts[i][j]` belongs to
    /// `batch[i].samples[j]`; absent entries (and 0) mean none.
    pub fn append_st(&self, batch: &[SeriesInput<'_>], sts: &[&[i64]]) -> Result<AppendOutcome> {
        let mut out = AppendOutcome::default();
        let mut guard = self.append_lock.lock();
        let sc = &mut *guard;
        sc.clear();
        self.resolve_series(sc, batch);
        for (i, input) in batch.iter().enumerate() {
            let h = match (&sc.spans[i], sc.found[i].take()) {
                (Err(e), _) => {
                    let (e, n) = (e.clone(), input_len(input));
                    out.reject(e, n, || describe_label_refs(input.labels), None);
                    continue;
                }
                (Ok(_), Some(h)) => h,
                (Ok((a, b)), None) => {
                    let (a, b) = (*a, *b);
                    let key = sc.keys[i];
                    match self.head.create_series(
                        input.labels,
                        &sc.order[a as usize..b as usize],
                        key,
                        &self.cfg.read().limits.clone(),
                    ) {
                        Ok((h, created)) => {
                            if let Some(l) = created {
                                sc.new_series.push(SeriesEntry {
                                    series: h.id,
                                    labels: l,
                                });
                                sc.created.push(h.id);
                            }
                            h
                        }
                        Err(e) => {
                            let n = input_len(input);
                            out.reject(e, n, || describe_label_refs(input.labels), None);
                            continue;
                        }
                    }
                }
            };
            let id = h.id;
            let st = sts.get(i).copied().unwrap_or_default();
            self.decide_series(sc, &mut out, id, h, input, st)?;
        }
        if sc.new_series.is_empty() && sc.samples.is_empty() && sc.hists.is_empty() {
            return Ok(out);
        }
        let pos = match self
            .wal
            .log_with_histograms(&sc.new_series, &sc.samples, &sc.hists)
        {
            Ok(p) => p,
            Err(e) => {
                for id in &sc.created {
                    self.head.remove_series(*id);
                }
                return Err(e);
            }
        };
        for (h, start, end) in sc.plan.drain(..) {
            let mut s = h.data.lock();
            for k in start..end {
                apply(
                    &mut s,
                    sc.placements[k],
                    &sc.samples[k],
                    self.head.block_range,
                );
            }
        }
        for (h, start, end) in sc.hist_plan.drain(..) {
            let mut s = h.data.lock();
            for k in start..end {
                apply_histogram(
                    &mut s,
                    sc.hist_placements[k],
                    &sc.hists[k],
                    self.head.block_range,
                );
            }
        }
        // Visible to readers from here on: say so to results caches.
        let min_t = sc.samples.iter().map(|s| s.t);
        if let Some(t) = min_t.chain(sc.hists.iter().map(|h| h.t)).min() {
            self.changes.record(t);
        }
        out.histograms_accepted = sc.hists.len() as u64;
        out.accepted = (sc.samples.len() + sc.hists.len()) as u64;
        out.series_created = sc.created.len() as u64;
        drop(guard);
        self.wal.sync_to(pos)?;
        Ok(out)
    }

    /// Normalizes every input's labels, computes their keys and looks all
    /// of them up at once (a miss leaves `found[i]` empty).
    fn resolve_series(&self, sc: &mut AppendScratch, batch: &[SeriesInput<'_>]) {
        let mut order = std::mem::take(&mut sc.order);
        let mut one = std::mem::take(&mut sc.one);
        let limits = self.cfg.read().limits.clone();
        for input in batch {
            let checked = normalize_label_order(input.labels, &mut one)
                .map_err(RejectReason::Labels)
                .and_then(|()| limits.check_labels(input.labels, &one));
            match checked {
                Ok(()) => {
                    let start = order.len() as u32;
                    order.extend_from_slice(&one);
                    sc.keys.push(self.head.series_key(input.labels, &one));
                    sc.spans.push(Ok((start, order.len() as u32)));
                }
                Err(e) => {
                    sc.keys.push(SeriesKey::default());
                    sc.spans.push(Err(e));
                }
            }
        }
        sc.order = order;
        sc.one = one;
        self.head.lookup_keys(&sc.keys, &mut sc.found);
    }

    fn decide_series(
        &self,
        sc: &mut AppendScratch,
        out: &mut AppendOutcome,
        id: u32,
        h: SeriesHandle,
        input: &SeriesInput<'_>,
        sts: &[i64],
    ) -> Result<()> {
        let start = sc.samples.len();
        {
            let s = h.data.lock();
            let mut maxt = sc
                .batch_maxt
                .get(&id)
                .copied()
                .unwrap_or(i64::MIN)
                .max(s.maxt);
            let min_valid_t = self.head.min_valid_time();
            for (j, smp) in input.samples.iter().enumerate() {
                let ctx = DecideCtx {
                    maxt,
                    min_valid_t,
                    ooo_window: self.cfg.read().ooo_window_ms,
                    series: id,
                    pending: &sc.samples,
                    pending_hists: &sc.hists,
                };
                match decide(&s, &ctx, smp.t, smp.v)? {
                    Decision::Accept(p) => {
                        if p == Placement::InOrder {
                            maxt = smp.t;
                        }
                        sc.samples.push(SampleEntry {
                            series: id,
                            t: smp.t,
                            v: smp.v,
                            st: sts.get(j).copied().unwrap_or(0),
                        });
                        sc.placements.push(p);
                    }
                    Decision::IgnoreDuplicate => out.duplicates_ignored += 1,
                    Decision::Reject(r) => {
                        out.reject(
                            RejectReason::Sample(r),
                            1,
                            || self.head.labels_of(&h).to_string(),
                            Some(smp.t),
                        );
                    }
                }
            }
            let h_start = sc.hists.len();
            // The series' newest sample if it is a histogram, for the hint
            // stored with the next in-order one.
            let mut prev_h = match sc.batch_maxt.contains_key(&id) {
                true => (sc.hists.iter().rev())
                    .find(|e| e.series == id && e.t == maxt)
                    .map(|e| e.h.clone()),
                false if maxt == s.maxt => s.histogram_at(maxt)?,
                false => None,
            };
            for (j, hs) in input.histograms.iter().enumerate() {
                let ctx = DecideCtx {
                    maxt,
                    min_valid_t,
                    ooo_window: self.cfg.read().ooo_window_ms,
                    series: id,
                    pending: &sc.samples,
                    pending_hists: &sc.hists,
                };
                match decide_histogram(&s, &ctx, hs.t, &hs.h)? {
                    Decision::Accept(p) => {
                        let mut h = hs.h.clone();
                        if p == Placement::InOrder {
                            maxt = hs.t;
                            h.reset_hint = stored_hint(prev_h.as_ref(), &h);
                            prev_h = Some(h.clone());
                        }
                        sc.hists.push(HistogramEntry {
                            series: id,
                            t: hs.t,
                            h,
                            st: sts.get(input.samples.len() + j).copied().unwrap_or(0),
                        });
                        sc.hist_placements.push(p);
                    }
                    Decision::IgnoreDuplicate => {
                        out.duplicates_ignored += 1;
                        out.histogram_duplicates_ignored += 1;
                    }
                    Decision::Reject(r) => {
                        out.reject(
                            RejectReason::Sample(r),
                            1,
                            || self.head.labels_of(&h).to_string(),
                            Some(hs.t),
                        );
                    }
                }
            }
            if sc.hists.len() > h_start {
                sc.hist_plan.push((h.clone(), h_start, sc.hists.len()));
            }
            if maxt != s.maxt {
                sc.batch_maxt.insert(id, maxt);
            }
        }
        if sc.samples.len() > start {
            sc.plan.push((h, start, sc.samples.len()));
        }
        Ok(())
    }

    /// Writes every head sample older than `before` (all of them when
    /// `None`) into a new block, then truncates the head and checkpoints the
    /// WAL. `extra` gives the block's meta extras, asked once every sample
    /// older than the boundary is in the block (appends after that point
    /// cannot add any). Returns the block written, if any.
    pub fn flush(
        &self,
        before: Option<i64>,
        extra: Option<&crate::storage::BlockExtraFn>,
    ) -> Result<Option<block::BlockMeta>> {
        let _m = self.maintenance.lock();
        let Some((_, head_max)) = self.head.time_bounds() else {
            return Ok(None);
        };
        let before = before.unwrap_or(head_max.saturating_add(1));
        let segment = {
            let _a = self.append_lock.lock();
            self.head.set_min_valid_time(before);
            self.wal.cut_segment()?
        };
        let mut w = BlockWriter::new(self.local.staging_dir())?;
        self.head.for_each_series_before(before, &mut |d| {
            w.add_series(&d.labels, &d.samples, &d.sts, &d.histograms)
        })?;
        let extra = extra.map(|f| f(&self.tenant, before)).unwrap_or_default();
        let meta = match w.finish(1, Vec::new(), extra)? {
            Some(staged) => {
                self.add_block(self.local.publish(staged.dir(), &staged.meta)?);
                if let Some(side) = &self.bucket {
                    side.ctx.wake.notify();
                }
                Some(staged.meta.clone())
            }
            None => None,
        };
        write_flushed_until(&self.dir, before)?;
        self.flushed_until.fetch_max(before, Ordering::AcqRel);
        // Queriers that listed the blocks before this one was added still
        // need the head's copy of its samples.
        self.readers.wait_for_older();
        {
            let _a = self.append_lock.lock();
            self.head.truncate_before(before)?;
        }
        self.wal
            .checkpoint(segment, &|id| self.head.contains(id), before)?;
        Ok(meta)
    }

    pub(crate) fn add_block(&self, b: Arc<Block>) {
        let mut blocks = self.blocks.write();
        blocks.push(b);
        blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
    }

    /// The flush boundary the periodic maintenance would use now, if the
    /// head spans more than 1.5 block ranges (Prometheus' `compactable`)
    /// and the boundary is outside the out-of-order window.
    pub fn due_flush_boundary(&self) -> Option<i64> {
        let (min, max) = self.head.time_bounds()?;
        let r = self.head.block_range;
        if max.saturating_sub(min) <= r / 2 * 3 {
            return None;
        }
        let boundary = min.div_euclid(r).saturating_add(1).saturating_mul(r);
        (boundary <= max.saturating_sub(self.cfg.read().ooo_window_ms)).then_some(boundary)
    }

    /// Deletes blocks whose every sample is older than `cutoff`. Returns
    /// the `[min_time, max_time)` ranges deleted.
    pub fn apply_retention(&self, cutoff: i64) -> Result<Vec<(i64, i64)>> {
        let _m = self.maintenance.lock();
        let doomed: Vec<Arc<Block>> = self
            .blocks
            .read()
            .iter()
            .filter(|b| b.meta().max_time <= cutoff)
            .cloned()
            .collect();
        let mut ranges = Vec::new();
        for b in doomed {
            self.blocks.write().retain(|x| !Arc::ptr_eq(x, &b));
            self.local.delete(&b.meta().ulid)?;
            ranges.push((b.meta().min_time, b.meta().max_time));
        }
        if !ranges.is_empty() {
            // Steps whose windows reached into the deleted blocks change.
            self.changes.record(i64::MIN);
        }
        Ok(ranges)
    }

    /// A snapshot of the open blocks.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.read().clone()
    }

    /// Newest time held anywhere in the partition.
    pub fn max_time(&self) -> Option<i64> {
        let head = self.head.time_bounds().map(|b| b.1);
        let blocks = self
            .blocks
            .read()
            .iter()
            .map(|b| b.meta().max_time - 1)
            .max();
        head.max(blocks)
    }
}

/// Recovers what a crash left in the bucket, reads the tenant's bucket
/// index and merges its blocks into `blocks`.
fn join_bucket(local: &LocalBlocks, side: &BucketSide, blocks: &mut Vec<Arc<Block>>) -> Result<()> {
    compactor::recover_staging(side)?;
    let ix = side.store.read_index()?;
    let doomed = view::merge(blocks, side, &ix)?;
    view::delete_dropped(local, side, blocks, &doomed)?;
    side.synced.store(true, Ordering::Release);
    Ok(())
}

fn replay_record(head: &Head, rec: WalRecord, report: &mut OpenReport) {
    match rec {
        WalRecord::Series(entries) => {
            for e in entries {
                head.create_with_id(e.series, &e.labels);
            }
        }
        WalRecord::Samples(entries) => {
            let min_valid_t = head.min_valid_time();
            for e in entries {
                replay_one(
                    head,
                    report,
                    e.series,
                    e.t,
                    min_valid_t,
                    |s, ctx| match decide(s, ctx, e.t, e.v) {
                        Ok(Decision::Accept(p)) => {
                            apply(s, p, &e, head.block_range);
                            true
                        }
                        _ => false,
                    },
                );
            }
        }
        WalRecord::Histograms(entries) => {
            let min_valid_t = head.min_valid_time();
            for e in entries {
                replay_one(
                    head,
                    report,
                    e.series,
                    e.t,
                    min_valid_t,
                    |s, ctx| match decide_histogram(s, ctx, e.t, &e.h) {
                        Ok(Decision::Accept(p)) => {
                            apply_histogram(s, p, &e, head.block_range);
                            true
                        }
                        _ => false,
                    },
                );
            }
        }
        // Restored by `Partition::open` into the exemplar buffer.
        WalRecord::Exemplars(_) => {}
    }
}

/// Replays one logged value (a sample or a histogram) at `t` of `series`:
/// skipped below the head's minimum valid time or for an unknown series,
/// otherwise `place` decides it as at append time (any age accepted) and
/// applies it, returning false when it was refused.
fn replay_one(
    head: &Head,
    report: &mut OpenReport,
    series: u32,
    t: i64,
    min_valid_t: i64,
    place: impl FnOnce(&mut MemSeries, &DecideCtx<'_>) -> bool,
) {
    if t < min_valid_t {
        report.samples_skipped += 1;
        return;
    }
    let Some(h) = head.series(series) else {
        report.unknown_series_samples += 1;
        return;
    };
    let mut s = h.data.lock();
    let ctx = DecideCtx {
        maxt: s.maxt,
        min_valid_t,
        ooo_window: i64::MAX,
        series,
        pending: &[],
        pending_hists: &[],
    };
    if !place(&mut s, &ctx) {
        report.samples_skipped += 1;
    }
}

/// Samples and histograms an input carries.
fn input_len(input: &SeriesInput<'_>) -> u64 {
    (input.samples.len() + input.histograms.len()) as u64
}

fn read_flushed_until(dir: &Path) -> Result<i64> {
    let path = dir.join(FLUSHED_UNTIL_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(i64::MIN),
        Err(e) => return Err(StorageError::io(&path, e)),
    };
    let name = path.display().to_string();
    let (v, crc) = match bytes.as_slice() {
        [v @ .., c0, c1, c2, c3] if v.len() == 8 => (
            i64::from_le_bytes(v.try_into().unwrap_or_default()),
            u32::from_le_bytes([*c0, *c1, *c2, *c3]),
        ),
        _ => {
            return Err(StorageError::corruption(
                name,
                0,
                "flushed_until must be 12 bytes",
            ))
        }
    };
    if crc32c::crc32c(&bytes[..8]) != crc {
        return Err(StorageError::corruption(
            name,
            8,
            "flushed_until checksum mismatch",
        ));
    }
    Ok(v)
}

fn write_flushed_until(dir: &Path, t: i64) -> Result<()> {
    let mut bytes = t.to_le_bytes().to_vec();
    bytes.extend_from_slice(&crc32c::crc32c(&t.to_le_bytes()).to_le_bytes());
    let tmp = dir.join(format!("{FLUSHED_UNTIL_FILE}.tmp"));
    block::write_synced(&tmp, &bytes)?;
    let dst = dir.join(FLUSHED_UNTIL_FILE);
    std::fs::rename(&tmp, &dst).map_err(|e| StorageError::io(&dst, e))?;
    block::fsync_dir(dir)
}

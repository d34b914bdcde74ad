//! Write-ahead log: segmented files of CRC32C-checked records, replayed on
//! start, with checkpoints so the log can shrink once the head is persisted.
//!
//! Layout of a WAL directory: segment files named by an eight-digit index
//! (`00000042`), checkpoint directories `checkpoint.<index>` holding segment
//! files of the same format, and `*.tmp` leftovers of interrupted checkpoints
//! (removed on open and replay). The byte format is specified in the WAL
//! section of the storage format spec; its constants lead `segment.rs` and
//! `record.rs`.
//!
//! Invariants:
//! * Acknowledged bytes are never held in user space: `log` returns only
//!   after its one `write` handed the whole batch to the kernel.
//! * Only the last segment can end in a torn record: a segment is fsynced
//!   before the next one is created, and writing always resumes in a new
//!   segment after open.
//! * A failed write never leaves a partial batch followed by later data.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use parking_lot::Mutex;

use crate::model::Labels;
use crate::storage::error::Result;

mod checkpoint;
mod record;
mod record_exemplars;
mod replay;
mod segment;
mod sync;
mod writer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_crash;

/// When the WAL calls `fsync`.
///
/// Every policy hands each append batch to the operating system with one
/// `write` before the batch is acknowledged, so an acknowledged batch
/// survives the process being killed. They differ in what survives the
/// machine losing power:
/// * `None`: nothing is promised until a segment is closed or the WAL shut down.
/// * `Batch(d)`: at most the last `d` of acknowledged writes can be lost.
/// * `Always`: nothing acknowledged is lost; concurrent appenders share an fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Never fsync on the write path.
    None,
    /// fsync dirty WALs every given interval (group commit).
    Batch(Duration),
    /// fsync before acknowledging each batch.
    Always,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy::Batch(Duration::from_millis(1000))
    }
}

impl FromStr for SyncPolicy {
    type Err = String;
    /// Parses `none`, `always`, `batch` (1s), `batch:<N>ms` or `batch:<N>s`
    /// (N > 0). The error names the rejected input.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let bad = || {
            format!("invalid WAL sync policy {s:?}: expected none, always, batch, batch:<N>ms or batch:<N>s")
        };
        match s {
            "none" => return Ok(SyncPolicy::None),
            "always" => return Ok(SyncPolicy::Always),
            "batch" => return Ok(SyncPolicy::default()),
            _ => {}
        }
        let every = s.strip_prefix("batch:").ok_or_else(bad)?;
        let (digits, unit_ms) = match every.strip_suffix("ms") {
            Some(d) => (d, 1),
            None => (every.strip_suffix('s').ok_or_else(bad)?, 1000),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        match n.checked_mul(unit_ms) {
            Some(ms) if ms > 0 => Ok(SyncPolicy::Batch(Duration::from_millis(ms))),
            _ => Err(bad()),
        }
    }
}

/// WAL settings.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// A segment is closed and a new one started past this many bytes.
    pub segment_size: u64,
    /// fsync policy.
    pub sync: SyncPolicy,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size: 64 << 20,
            sync: SyncPolicy::default(),
        }
    }
}

/// A series definition: the head's id for a label set.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesEntry {
    /// Head-local series id.
    pub series: u32,
    /// Its labels.
    pub labels: Labels,
}

/// One sample for a series defined earlier in the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleEntry {
    /// Head-local series id.
    pub series: u32,
    /// Timestamp (ms).
    pub t: i64,
    /// Value, kept bit-exact.
    pub v: f64,
    /// Start (created) timestamp (ms); 0 when unknown, as upstream.
    pub st: i64,
}

/// One native histogram sample for a series defined earlier in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramEntry {
    /// Head-local series id.
    pub series: u32,
    /// Timestamp (ms).
    pub t: i64,
    /// The histogram (validated when it was appended).
    pub h: crate::model::Histogram,
    /// Start (created) timestamp (ms); 0 when unknown, as upstream.
    pub st: i64,
}

/// One exemplar of a series defined earlier in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct ExemplarEntry {
    /// Head-local series id.
    pub series: u32,
    /// The exemplar (validated when it was stored).
    pub exemplar: crate::model::Exemplar,
}

/// A decoded WAL record.
#[derive(Debug, Clone, PartialEq)]
pub enum WalRecord {
    /// New series.
    Series(Vec<SeriesEntry>),
    /// Samples.
    Samples(Vec<SampleEntry>),
    /// Native histogram samples.
    Histograms(Vec<HistogramEntry>),
    /// Exemplars, in the order they were stored.
    Exemplars(Vec<ExemplarEntry>),
}

/// A position in the log: segment index and byte offset after a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalPos {
    /// Segment index.
    pub segment: u32,
    /// Byte offset just past the record.
    pub offset: u64,
}

/// Where a torn or corrupt log was cut during replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Repair {
    /// The segment file that was truncated.
    pub segment: PathBuf,
    /// Its new length: the end of the last good record.
    pub offset: u64,
    /// What was wrong at that offset.
    pub reason: String,
    /// Later segments deleted because they followed the damage.
    pub dropped_segments: usize,
}

/// What replay read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayStats {
    /// Checkpoint index replayed first, if any.
    pub checkpoint: Option<u32>,
    /// Segments read (checkpoint segments included).
    pub segments: usize,
    /// Records decoded.
    pub records: u64,
    /// Series entries decoded.
    pub series: u64,
    /// Sample entries decoded.
    pub samples: u64,
    /// Exemplar entries decoded.
    pub exemplars: u64,
    /// The repair made, if the log was torn or corrupt.
    pub repaired: Option<Repair>,
}

/// What a checkpoint kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckpointStats {
    /// Index of the checkpoint written (the last segment it covers).
    pub index: u32,
    /// Series entries kept.
    pub series: u64,
    /// Sample entries kept.
    pub samples: u64,
    /// Exemplar entries kept.
    pub exemplars: u64,
    /// Segment files deleted.
    pub segments_deleted: usize,
}

/// Replays the log in `dir`: the newest checkpoint, then every later segment
/// in order, calling `f` for each record. A torn or corrupt tail is truncated
/// at the end of the last good record (and later segments deleted), recorded
/// in [`ReplayStats::repaired`] and logged; it is never an error. Errors are
/// only I/O failures. A missing directory replays nothing.
pub fn replay(dir: &Path, mut f: impl FnMut(WalRecord)) -> Result<ReplayStats> {
    replay::replay_dir(dir, &mut f)
}

/// An open write-ahead log. All methods take `&self`; it is safe to share.
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    /// The append path; held for the duration of one write (never an fsync
    /// on behalf of other callers).
    writer: Mutex<writer::Writer>,
    /// Group-commit state and fsync metrics.
    group: sync::GroupSync,
    /// Serialises checkpoints.
    checkpointing: Mutex<()>,
}

impl Wal {
    /// Opens the log in `dir` (creating it) for appending. Call after
    /// [`replay`]: writing starts in a new segment after the highest one.
    pub fn open(dir: &Path, opts: WalOptions) -> Result<Wal> {
        writer::open(dir, opts)
    }

    /// Writes the given series and samples as (at most) two records with one
    /// `write` call. Empty slices write no record. Returns the position after
    /// the last record. Cuts a new segment first if the current one is full.
    ///
    /// If the write fails (a full disk, say) the segment is cut back to where
    /// the batch began and the error returned; a later call may succeed.
    pub fn log(&self, series: &[SeriesEntry], samples: &[SampleEntry]) -> Result<WalPos> {
        self.log_batch(series, samples, &[])
    }

    /// [`Wal::log`] for a batch that may also hold histogram samples: at
    /// most three records (series, samples, histograms), one `write`.
    pub fn log_with_histograms(
        &self,
        series: &[SeriesEntry],
        samples: &[SampleEntry],
        histograms: &[HistogramEntry],
    ) -> Result<WalPos> {
        self.log_batch(series, samples, histograms)
    }

    /// Writes exemplars of series logged earlier as one record with one
    /// `write` (nothing for an empty slice); otherwise as [`Wal::log`].
    pub fn log_exemplars(&self, exemplars: &[ExemplarEntry]) -> Result<WalPos> {
        self.log_exemplar_batch(exemplars)
    }

    /// Under [`SyncPolicy::Always`], returns once an fsync covering `pos` has
    /// completed (sharing one fsync among concurrent callers). Under the other
    /// policies it returns at once.
    pub fn sync_to(&self, pos: WalPos) -> Result<()> {
        match self.opts.sync {
            SyncPolicy::Always => self.group.sync_to(Some(pos)),
            SyncPolicy::None | SyncPolicy::Batch(_) => Ok(()),
        }
    }

    /// fsyncs the current segment if anything was written since the last fsync.
    /// This is the tick of [`SyncPolicy::Batch`], driven by the caller's timer.
    pub fn sync(&self) -> Result<()> {
        self.group.sync_to(None)
    }

    /// Closes (and fsyncs) the current segment and starts the next one.
    /// Returns the index of the segment that was closed.
    pub fn cut_segment(&self) -> Result<u32> {
        self.cut()
    }

    /// Writes checkpoint `upto`: the previous checkpoint plus every segment
    /// with index `<= upto`, keeping series for which `keep_series` is true
    /// and samples and exemplars of kept series with `t >= min_t`. Published atomically
    /// (temporary directory, fsync, rename); afterwards the covered segments
    /// and older checkpoints are deleted. `upto` must be a closed segment
    /// (call [`Wal::cut_segment`] first).
    pub fn checkpoint(
        &self,
        upto: u32,
        keep_series: &dyn Fn(u32) -> bool,
        min_t: i64,
    ) -> Result<CheckpointStats> {
        self.write_checkpoint(upto, keep_series, min_t)
    }

    /// Number of fsyncs done and their total duration, for self-metrics.
    pub fn fsync_stats(&self) -> (u64, Duration) {
        self.group.stats.get()
    }

    /// Flushes and fsyncs; further writes fail with `StorageError::Closed`.
    pub fn close(&self) -> Result<()> {
        self.close_writer()
    }
}

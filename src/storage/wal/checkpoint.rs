//! Checkpoints: the still-needed part of old segments, rewritten compactly.
//!
//! A checkpoint is written into `checkpoint.<upto>.tmp/00000000`, fsynced
//! (file, then directory), renamed to `checkpoint.<upto>` and the WAL
//! directory fsynced; only then are the covered segments and older
//! checkpoints deleted. Replay removes `*.tmp` and ignores segments a
//! checkpoint covers, so a crash at any step leaves a replayable log.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::record::{
    append_histograms, append_samples, append_series, decode, TYPE_EXEMPLARS, TYPE_HISTOGRAMS,
    TYPE_HISTOGRAMS_ST, TYPE_SAMPLES, TYPE_SAMPLES_ST, TYPE_SERIES,
};
use super::record_exemplars::append_exemplars;
use super::replay::{checkpoint_segments, remove_covered, scan_segment, Outcome};
use super::segment::{checkpoint_name, create_segment, list, segment_name, TMP_SUFFIX};
use super::sync::FsyncStats;
use super::{
    CheckpointStats, ExemplarEntry, HistogramEntry, SampleEntry, SeriesEntry, Wal, WalRecord,
};
use crate::model::Labels;
use crate::storage::error::{Result, StorageError};

/// Flush a series record once its labels add up to about this many bytes.
const SERIES_RECORD_BYTES: usize = 1 << 20;
/// Samples per checkpoint record.
const SAMPLES_PER_RECORD: usize = 10_000;
/// Histogram samples per checkpoint record (each is larger than a sample).
const HISTOGRAMS_PER_RECORD: usize = 1_000;
/// Exemplars per checkpoint record.
const EXEMPLARS_PER_RECORD: usize = 10_000;

impl Wal {
    /// See [`Wal::checkpoint`].
    pub(crate) fn write_checkpoint(
        &self,
        upto: u32,
        keep_series: &dyn Fn(u32) -> bool,
        min_t: i64,
    ) -> Result<CheckpointStats> {
        let _one_at_a_time = self.checkpointing.lock();
        let current = self.current_segment();
        if upto >= current {
            return Err(StorageError::Config(format!(
                "cannot checkpoint up to segment {upto}: segment {current} is being written (cut it first)"
            )));
        }
        let listing = list(&self.dir)?;
        let sources = self.sources(&listing, upto)?;
        let tmp = self
            .dir
            .join(format!("{}{TMP_SUFFIX}", checkpoint_name(upto)));
        let mut stats = CheckpointStats {
            index: upto,
            ..Default::default()
        };
        let written = self.write_tmp(&tmp, &sources, keep_series, min_t, &mut stats);
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let fin = self.dir.join(checkpoint_name(upto));
        fs::rename(&tmp, &fin).map_err(|e| StorageError::io(&fin, e))?;
        // Publication point: once this fsync returns the checkpoint is the
        // start of the log, and everything it covers is redundant.
        self.group.stats.sync_dir(&self.dir)?;
        stats.segments_deleted = remove_covered(&listing, upto)?;
        self.group.stats.sync_dir(&self.dir)?;
        Ok(stats)
    }

    /// The previous checkpoint's segments, then segments after it up to `upto`.
    fn sources(&self, listing: &super::segment::Listing, upto: u32) -> Result<Vec<PathBuf>> {
        let prev = listing.last_checkpoint();
        let mut out = match prev {
            Some((i, _)) if *i >= upto => {
                return Err(StorageError::Config(format!(
                    "checkpoint {i} already covers segment {upto}"
                )));
            }
            Some((_, p)) => checkpoint_segments(p)?,
            None => Vec::new(),
        };
        let mut expected = prev.and_then(|p| p.0.checked_add(1));
        for (i, p) in listing
            .segments
            .iter()
            .filter(|s| prev.is_none_or(|c| s.0 > c.0) && s.0 <= upto)
        {
            if expected.is_some_and(|e| e != *i) {
                let missing = self.dir.join(segment_name(expected.unwrap_or_default()));
                return Err(StorageError::corruption(
                    missing.display().to_string(),
                    0,
                    "segment missing",
                ));
            }
            expected = i.checked_add(1);
            out.push(p.clone());
        }
        Ok(out)
    }

    /// Writes and fsyncs the checkpoint in `tmp`: kept series (last
    /// definition of an id wins) first, then kept samples in log order.
    fn write_tmp(
        &self,
        tmp: &Path,
        sources: &[PathBuf],
        keep_series: &dyn Fn(u32) -> bool,
        min_t: i64,
        stats: &mut CheckpointStats,
    ) -> Result<()> {
        if tmp.exists() {
            fs::remove_dir_all(tmp).map_err(|e| StorageError::io(tmp, e))?;
        }
        fs::create_dir(tmp).map_err(|e| StorageError::io(tmp, e))?;
        let path = tmp.join(segment_name(0));
        let mut out = CheckpointFile::new(&path)?;
        let mut series: BTreeMap<u32, Labels> = BTreeMap::new();
        for_each_record(sources, TYPE_SERIES, &mut |rec| {
            if let WalRecord::Series(entries) = rec {
                for s in entries.into_iter().filter(|s| keep_series(s.series)) {
                    series.insert(s.series, s.labels);
                }
            }
        })?;
        stats.series = series.len() as u64;
        out.put_series(series)?;
        let mut pending = Vec::with_capacity(SAMPLES_PER_RECORD);
        let mut res = Ok(());
        for_each_record(sources, TYPE_SAMPLES, &mut |rec| {
            let WalRecord::Samples(entries) = rec else {
                return;
            };
            for s in entries
                .into_iter()
                .filter(|s| s.t >= min_t && keep_series(s.series))
            {
                stats.samples += 1;
                pending.push(s);
                if pending.len() == SAMPLES_PER_RECORD && res.is_ok() {
                    res = out.put_samples(&mut pending);
                }
            }
        })?;
        res?;
        out.put_samples(&mut pending)?;
        let mut pending = Vec::with_capacity(HISTOGRAMS_PER_RECORD);
        let mut res = Ok(());
        for_each_record(sources, TYPE_HISTOGRAMS, &mut |rec| {
            let WalRecord::Histograms(entries) = rec else {
                return;
            };
            for h in entries
                .into_iter()
                .filter(|h| h.t >= min_t && keep_series(h.series))
            {
                stats.samples += 1;
                pending.push(h);
                if pending.len() == HISTOGRAMS_PER_RECORD && res.is_ok() {
                    res = out.put_histograms(&mut pending);
                }
            }
        })?;
        res?;
        out.put_histograms(&mut pending)?;
        self.keep_exemplars(&mut out, sources, keep_series, min_t, stats)?;
        out.finish(&self.group.stats)?;
        self.group.stats.sync_dir(tmp)
    }
}

impl Wal {
    /// Copies the exemplars of kept series with `t >= min_t` into the
    /// checkpoint, in log order (so replay refills the buffer as it was).
    fn keep_exemplars(
        &self,
        out: &mut CheckpointFile<'_>,
        sources: &[PathBuf],
        keep_series: &dyn Fn(u32) -> bool,
        min_t: i64,
        stats: &mut CheckpointStats,
    ) -> Result<()> {
        let mut pending = Vec::with_capacity(EXEMPLARS_PER_RECORD);
        let mut res = Ok(());
        for_each_record(sources, TYPE_EXEMPLARS, &mut |rec| {
            let WalRecord::Exemplars(entries) = rec else {
                return;
            };
            for e in entries
                .into_iter()
                .filter(|e| e.exemplar.t >= min_t && keep_series(e.series))
            {
                stats.exemplars += 1;
                pending.push(e);
                if pending.len() == EXEMPLARS_PER_RECORD && res.is_ok() {
                    res = out.put_exemplars(&mut pending);
                }
            }
        })?;
        res?;
        out.put_exemplars(&mut pending)
    }
}

/// Decodes every record of type `typ` in `sources` into `f` (for
/// `TYPE_SAMPLES` and `TYPE_HISTOGRAMS`, their variants with start
/// timestamps too). These files
/// are closed and fsynced, so damage is reported as corruption, not repaired.
fn for_each_record(sources: &[PathBuf], typ: u8, f: &mut dyn FnMut(WalRecord)) -> Result<()> {
    for src in sources {
        let outcome = scan_segment(src, &mut |t, payload| {
            // Decode everything, so that a bad record of the other type is
            // still caught, but hand on only the wanted type.
            let rec = decode(t, payload)?;
            if t == typ
                || (typ == TYPE_SAMPLES && t == TYPE_SAMPLES_ST)
                || (typ == TYPE_HISTOGRAMS && t == TYPE_HISTOGRAMS_ST)
            {
                f(rec);
            }
            Ok(())
        })?;
        if let Outcome::Damaged { offset, reason } = outcome {
            return Err(StorageError::corruption(
                src.display().to_string(),
                offset,
                reason,
            ));
        }
    }
    Ok(())
}

/// The checkpoint segment being written, through a user-space buffer: it is
/// fsynced before anything depends on it.
struct CheckpointFile<'a> {
    path: &'a Path,
    w: BufWriter<File>,
    buf: Vec<u8>,
}

impl<'a> CheckpointFile<'a> {
    fn new(path: &'a Path) -> Result<Self> {
        let f = create_segment(path)?;
        Ok(CheckpointFile {
            path,
            w: BufWriter::with_capacity(1 << 20, f),
            buf: Vec::new(),
        })
    }

    fn emit(&mut self) -> Result<()> {
        self.w
            .write_all(&self.buf)
            .map_err(|e| StorageError::io(self.path, e))?;
        self.buf.clear();
        Ok(())
    }

    fn put_series(&mut self, series: BTreeMap<u32, Labels>) -> Result<()> {
        let mut chunk = Vec::new();
        let mut bytes = 0;
        let mut it = series.into_iter().peekable();
        while let Some((id, labels)) = it.next() {
            bytes += labels
                .iter()
                .map(|l| l.name.len() + l.value.len() + 4)
                .sum::<usize>()
                + 8;
            chunk.push(SeriesEntry { series: id, labels });
            if bytes >= SERIES_RECORD_BYTES || it.peek().is_none() {
                append_series(&mut self.buf, &chunk).map_err(|e| too_large(self.path, e.0))?;
                self.emit()?;
                chunk.clear();
                bytes = 0;
            }
        }
        Ok(())
    }

    /// Writes `pending` as one record and empties it.
    fn put_samples(&mut self, pending: &mut Vec<SampleEntry>) -> Result<()> {
        append_samples(&mut self.buf, pending).map_err(|e| too_large(self.path, e.0))?;
        pending.clear();
        self.emit()
    }

    /// Writes `pending` as one histograms record and empties it.
    fn put_histograms(&mut self, pending: &mut Vec<HistogramEntry>) -> Result<()> {
        append_histograms(&mut self.buf, pending).map_err(|e| too_large(self.path, e.0))?;
        pending.clear();
        self.emit()
    }

    /// Writes `pending` as one exemplars record and empties it.
    fn put_exemplars(&mut self, pending: &mut Vec<ExemplarEntry>) -> Result<()> {
        append_exemplars(&mut self.buf, pending).map_err(|e| too_large(self.path, e.0))?;
        pending.clear();
        self.emit()
    }

    fn finish(self, fsyncs: &FsyncStats) -> Result<()> {
        let f = self
            .w
            .into_inner()
            .map_err(|e| StorageError::io(self.path, e.into_error()))?;
        fsyncs
            .time(|| f.sync_all())
            .map_err(|e| StorageError::io(self.path, e))
    }
}

fn too_large(path: &Path, n: usize) -> StorageError {
    StorageError::Config(format!(
        "checkpoint record of {n} bytes for {} is too large",
        path.display()
    ))
}

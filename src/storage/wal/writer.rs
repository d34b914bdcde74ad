//! The append path: opening, logging batches, cutting segments, closing.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use super::record::{append_histograms, append_samples, append_series, decode, TooLarge};
use super::record_exemplars::append_exemplars;
use super::replay::{scan_segment, Outcome};
use super::segment::{
    create_segment, list, remove_tmp, segment_name, truncate_file, MAX_SEGMENT_INDEX,
    SEGMENT_HEADER_LEN,
};
use super::sync::{FsyncStats, GroupSync};
use super::{ExemplarEntry, HistogramEntry, SampleEntry, SeriesEntry, Wal, WalOptions, WalPos};
use crate::storage::error::{Result, StorageError};

/// A failure the tests make the next write suffer.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Write half the batch, then fail with ENOSPC.
    HalfWrite,
    /// Like `HalfWrite`, and the truncation undoing it fails too.
    HalfWriteStuck,
}

/// The segment being appended to, and the reusable encode buffer.
pub(crate) struct Writer {
    index: u32,
    path: PathBuf,
    file: Arc<File>,
    len: u64,
    /// Steady-state logging encodes here, so it does not allocate.
    buf: Vec<u8>,
    closed: bool,
    /// Set when a failed write left a partial batch that could not be cut
    /// off: nothing may be appended until the segment is back at this length,
    /// or replay would stop at the garbage and drop what follows.
    pending_truncate: Option<u64>,
    #[cfg(test)]
    pub(crate) fault: Option<Fault>,
    #[cfg(test)]
    fail_truncate: bool,
}

impl Writer {
    fn pos(&self) -> WalPos {
        WalPos {
            segment: self.index,
            offset: self.len,
        }
    }

    /// Refuses writes after close and first undoes an earlier failed write.
    fn ready(&mut self) -> Result<()> {
        if self.closed {
            return Err(StorageError::Closed);
        }
        if let Some(len) = self.pending_truncate {
            self.set_len(len)
                .map_err(|e| StorageError::io(&self.path, e))?;
            self.pending_truncate = None;
        }
        Ok(())
    }

    /// Appends `buf` with one write; on failure cuts the segment back so no
    /// partial batch remains and a later write can succeed.
    fn write_batch(&mut self, buf: &[u8]) -> Result<()> {
        match self.write_all(buf) {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                if self.set_len(self.len).is_err() {
                    self.pending_truncate = Some(self.len);
                }
                Err(StorageError::io(&self.path, e))
            }
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        if let Some(fault) = self.fault.take() {
            (&*self.file).write_all(&buf[..buf.len() / 2])?;
            self.fail_truncate = fault == Fault::HalfWriteStuck;
            return Err(io::Error::from_raw_os_error(28));
        }
        if crate::storage::fault::disk_full() {
            // What a full filesystem does: part of the bytes land, then ENOSPC.
            (&*self.file).write_all(&buf[..buf.len() / 2])?;
            return Err(io::Error::from_raw_os_error(crate::storage::fault::ENOSPC));
        }
        (&*self.file).write_all(buf)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        #[cfg(test)]
        if std::mem::take(&mut self.fail_truncate) {
            return Err(io::Error::other("injected truncate failure"));
        }
        // The file is in append mode, so the next write lands at the new end.
        self.file.set_len(len)
    }
}

/// Creates segment `index` in `dir` with a durable header and directory entry.
fn new_segment(dir: &Path, index: u32, stats: &FsyncStats) -> Result<(Arc<File>, PathBuf)> {
    if index > MAX_SEGMENT_INDEX {
        return Err(StorageError::Config(format!(
            "WAL segment index {index} exceeds eight digits"
        )));
    }
    let path = dir.join(segment_name(index));
    let made = create_segment(&path).and_then(|f| {
        stats.sync_file(&f, &path)?;
        stats.sync_dir(dir)?;
        Ok(f)
    });
    match made {
        Ok(f) => Ok((Arc::new(f), path)),
        Err(e) => {
            // A half-made segment would block the retry (create_new) and is
            // empty of records anyway.
            let _ = fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Opens the WAL in `dir`; see [`Wal::open`].
pub(crate) fn open(dir: &Path, opts: WalOptions) -> Result<Wal> {
    fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
    let listing = list(dir)?;
    remove_tmp(&listing)?;
    let cp = listing.last_checkpoint().map(|c| c.0);
    let last = listing
        .segments
        .last()
        .filter(|(i, _)| cp.is_none_or(|c| *i > c));
    if let Some((_, path)) = last {
        // Replay normally repaired this already; if the caller skipped it, a
        // torn tail must still never end up in the middle of the log.
        if let Outcome::Damaged { offset, reason } =
            scan_segment(path, &mut |t, p| decode(t, p).map(drop))?
        {
            tracing::warn!(file = %path.display(), offset, reason, "truncating torn WAL tail on open");
            truncate_file(path, offset)?;
        }
    }
    let highest = listing.segments.last().map(|s| s.0).max(cp);
    let index = highest
        .map_or(Some(0), |h| h.checked_add(1))
        .unwrap_or(u32::MAX);
    let group_stats = FsyncStats::default();
    let (file, path) = new_segment(dir, index, &group_stats)?;
    let pos = WalPos {
        segment: index,
        offset: SEGMENT_HEADER_LEN,
    };
    let group = GroupSync::new(file.clone(), path.clone(), pos, group_stats);
    let writer = Writer {
        index,
        path,
        file,
        len: SEGMENT_HEADER_LEN,
        buf: Vec::new(),
        closed: false,
        pending_truncate: None,
        #[cfg(test)]
        fault: None,
        #[cfg(test)]
        fail_truncate: false,
    };
    Ok(Wal {
        dir: dir.to_path_buf(),
        opts,
        writer: Mutex::new(writer),
        group,
        checkpointing: Mutex::new(()),
    })
}

impl Wal {
    /// See [`Wal::log`].
    pub(crate) fn log_batch(
        &self,
        series: &[SeriesEntry],
        samples: &[SampleEntry],
        histograms: &[HistogramEntry],
    ) -> Result<WalPos> {
        let mut w = self.writer.lock();
        w.ready()?;
        let mut buf = std::mem::take(&mut w.buf);
        buf.clear();
        let encoded = append_series(&mut buf, series)
            .and_then(|()| append_samples(&mut buf, samples))
            .and_then(|()| append_histograms(&mut buf, histograms));
        let res = match encoded {
            Ok(()) => self.write_encoded(&mut w, &buf),
            Err(TooLarge(n)) => Err(StorageError::Config(format!(
                "WAL record of {n} bytes is too large"
            ))),
        };
        w.buf = buf;
        res
    }

    /// See [`Wal::log_exemplars`].
    pub(crate) fn log_exemplar_batch(&self, exemplars: &[ExemplarEntry]) -> Result<WalPos> {
        let mut w = self.writer.lock();
        w.ready()?;
        let mut buf = std::mem::take(&mut w.buf);
        buf.clear();
        let res = match append_exemplars(&mut buf, exemplars) {
            Ok(()) => self.write_encoded(&mut w, &buf),
            Err(TooLarge(n)) => Err(StorageError::Config(format!(
                "WAL record of {n} bytes is too large"
            ))),
        };
        w.buf = buf;
        res
    }

    fn write_encoded(&self, w: &mut MutexGuard<'_, Writer>, buf: &[u8]) -> Result<WalPos> {
        if buf.is_empty() {
            return Ok(w.pos());
        }
        let full = w.len.saturating_add(buf.len() as u64) > self.opts.segment_size;
        if full && w.len > SEGMENT_HEADER_LEN {
            self.cut_locked(w)?;
        }
        w.write_batch(buf)?;
        let pos = w.pos();
        self.group.advance(pos);
        Ok(pos)
    }

    /// Closes the current segment (fsynced) and starts the next; returns the
    /// closed index.
    pub(crate) fn cut_locked(&self, w: &mut Writer) -> Result<u32> {
        w.ready()?;
        self.group.stats.sync_file(&w.file, &w.path)?;
        let old = w.index;
        let next = old.saturating_add(1);
        let (file, path) = new_segment(&self.dir, next, &self.group.stats)?;
        w.index = next;
        w.path = path.clone();
        w.file = file.clone();
        w.len = SEGMENT_HEADER_LEN;
        self.group.switch(file, path, w.pos());
        Ok(old)
    }

    /// See [`Wal::cut_segment`].
    pub(crate) fn cut(&self) -> Result<u32> {
        self.cut_locked(&mut self.writer.lock())
    }

    /// Index of the segment being written.
    pub(crate) fn current_segment(&self) -> u32 {
        self.writer.lock().index
    }

    /// See [`Wal::close`].
    pub(crate) fn close_writer(&self) -> Result<()> {
        let mut w = self.writer.lock();
        if w.closed {
            return Ok(());
        }
        w.ready()?;
        self.group.stats.sync_file(&w.file, &w.path)?;
        w.closed = true;
        self.group.close();
        Ok(())
    }

    /// Arms a failure for the next write.
    #[cfg(test)]
    pub(crate) fn inject_fault(&self, fault: Fault) {
        self.writer.lock().fault = Some(fault);
    }
}

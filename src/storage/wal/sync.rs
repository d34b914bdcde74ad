//! Group commit: concurrent callers waiting for durability share one fsync.
//!
//! The writer reports how far it has written ([`GroupSync::advance`]); a
//! caller that needs position `p` durable either finds it already covered,
//! waits for the fsync in flight, or becomes the leader and runs one fsync
//! covering everything written when it started. Positions order by
//! (segment, offset); closing a segment fsyncs it, so switching segments
//! moves the synced mark past everything in the old one.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::WalPos;
use crate::storage::error::{Result, StorageError};

/// Count and total time of fsyncs, for self-metrics.
#[derive(Debug, Default)]
pub(crate) struct FsyncStats {
    count: AtomicU64,
    nanos: AtomicU64,
}

impl FsyncStats {
    /// Runs `f` (an fsync) and records it.
    pub(crate) fn time<T>(&self, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let start = Instant::now();
        let r = f();
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        r
    }

    /// fsyncs the data of `file` and records it.
    pub(crate) fn sync_file(&self, file: &File, path: &Path) -> Result<()> {
        self.time(|| file.sync_data())
            .map_err(|e| StorageError::io(path, e))
    }

    /// fsyncs directory `dir` and records it.
    pub(crate) fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.time(|| File::open(dir).and_then(|d| d.sync_all()))
            .map_err(|e| StorageError::io(dir, e))
    }

    /// (count, total duration).
    pub(crate) fn get(&self) -> (u64, Duration) {
        let n = self.count.load(Ordering::Relaxed);
        (n, Duration::from_nanos(self.nanos.load(Ordering::Relaxed)))
    }
}

/// What the group-commit protocol knows about the log.
struct State {
    /// End of the last batch handed to the OS.
    written: WalPos,
    /// Everything before this is durable.
    synced: WalPos,
    /// The segment holding `written`; `None` once the WAL is closed.
    file: Option<(Arc<File>, PathBuf)>,
    /// An fsync is in flight; others wait for it instead of starting their own.
    leader: bool,
}

/// Shared fsync bookkeeping of one WAL.
pub(crate) struct GroupSync {
    state: Mutex<State>,
    cond: Condvar,
    pub(crate) stats: FsyncStats,
}

impl GroupSync {
    /// Starts with segment `file` at `pos`, which is already durable.
    pub(crate) fn new(file: Arc<File>, path: PathBuf, pos: WalPos, stats: FsyncStats) -> GroupSync {
        let state = State {
            written: pos,
            synced: pos,
            file: Some((file, path)),
            leader: false,
        };
        GroupSync {
            state: Mutex::new(state),
            cond: Condvar::new(),
            stats,
        }
    }

    /// The writer handed bytes up to `pos` to the OS.
    pub(crate) fn advance(&self, pos: WalPos) {
        let mut st = self.state.lock();
        st.written = st.written.max(pos);
    }

    /// The writer fsynced and closed the old segment and continues in `file`
    /// at `pos`, whose header is durable.
    pub(crate) fn switch(&self, file: Arc<File>, path: PathBuf, pos: WalPos) {
        let mut st = self.state.lock();
        st.written = pos;
        st.synced = st.synced.max(pos);
        st.file = Some((file, path));
        self.cond.notify_all();
    }

    /// The WAL was fsynced and closed: everything written is durable.
    pub(crate) fn close(&self) {
        let mut st = self.state.lock();
        st.synced = st.written;
        st.file = None;
        self.cond.notify_all();
    }

    /// Returns once everything up to `pos` (or everything written, if `None`
    /// or if `pos` lies beyond it) is durable, running at most one fsync.
    pub(crate) fn sync_to(&self, pos: Option<WalPos>) -> Result<()> {
        let mut st = self.state.lock();
        loop {
            let want = pos.map_or(st.written, |p| p.min(st.written));
            if st.synced >= want {
                return Ok(());
            }
            if st.leader {
                self.cond.wait(&mut st);
                continue;
            }
            self.lead(&mut st)?;
        }
    }

    /// Runs one fsync covering everything written so far, without holding
    /// the lock while the disk works.
    fn lead(&self, st: &mut MutexGuard<'_, State>) -> Result<()> {
        let target = st.written;
        let Some((file, path)) = st.file.clone() else {
            // Closed: close() already made everything durable.
            st.synced = target;
            return Ok(());
        };
        st.leader = true;
        let res = MutexGuard::unlocked(st, || self.stats.sync_file(&file, &path));
        st.leader = false;
        if res.is_ok() && target > st.synced {
            st.synced = target;
        }
        // Wake waiters either way: on failure one of them retries as leader.
        self.cond.notify_all();
        res
    }
}

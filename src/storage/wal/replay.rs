//! Reading the log back: checkpoint, then segments, repairing a torn tail.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::record::{decode, DecodeError};
use super::segment::{
    list, remove_tmp, segment_name, sync_dir, truncate_file, Listing, SegmentReader, Step,
};
use super::{Repair, ReplayStats, WalRecord};
use crate::storage::error::{Result, StorageError};

/// Receives each good record's type and payload; an error marks the record
/// undecodable.
pub(crate) type Visit<'a> = dyn FnMut(u8, &[u8]) -> Result<(), DecodeError> + 'a;

/// How reading a segment ended.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// Every byte belonged to a good record.
    Clean,
    /// The bytes from `offset` on are not a valid record.
    Damaged { offset: u64, reason: String },
}

/// Calls `visit(type, payload)` for each record of the segment at `path`
/// until its end or its first bad record. A visitor error (an undecodable
/// payload) is damage at that record's start, like a bad CRC.
pub(crate) fn scan_segment(path: &Path, visit: &mut Visit<'_>) -> Result<Outcome> {
    let io_err = |e: io::Error| StorageError::io(path, e);
    let mut r = SegmentReader::open(path).map_err(io_err)?;
    loop {
        match r.next().map_err(io_err)? {
            Step::End => return Ok(Outcome::Clean),
            Step::Damage { offset, reason } => return Ok(Outcome::Damaged { offset, reason }),
            Step::Record {
                typ,
                payload,
                offset,
            } => {
                if let Err(e) = visit(typ, payload) {
                    let reason = format!(
                        "undecodable record: {} (payload offset {})",
                        e.reason, e.offset
                    );
                    return Ok(Outcome::Damaged { offset, reason });
                }
            }
        }
    }
}

/// Decodes every record of one segment into `f`, counting into `stats`.
fn replay_segment(
    path: &Path,
    stats: &mut ReplayStats,
    f: &mut dyn FnMut(WalRecord),
) -> Result<Outcome> {
    stats.segments += 1;
    scan_segment(path, &mut |typ, payload| {
        let rec = decode(typ, payload)?;
        stats.records += 1;
        match &rec {
            WalRecord::Series(s) => stats.series += s.len() as u64,
            WalRecord::Samples(s) => stats.samples += s.len() as u64,
            WalRecord::Histograms(h) => stats.samples += h.len() as u64,
            WalRecord::Exemplars(e) => stats.exemplars += e.len() as u64,
        }
        f(rec);
        Ok(())
    })
}

/// The segment files of checkpoint directory `dir`, in order. A checkpoint
/// without any is damaged: even an empty one holds a segment header.
pub(crate) fn checkpoint_segments(dir: &Path) -> Result<Vec<PathBuf>> {
    let segs: Vec<PathBuf> = list(dir)?.segments.into_iter().map(|s| s.1).collect();
    if segs.is_empty() {
        return Err(StorageError::corruption(
            dir.display().to_string(),
            0,
            "checkpoint holds no segment",
        ));
    }
    Ok(segs)
}

/// Replays a checkpoint. Checkpoints are fsynced before they are published,
/// so damage in one is not a torn write but lost data: an error.
fn replay_checkpoint(
    dir: &Path,
    stats: &mut ReplayStats,
    f: &mut dyn FnMut(WalRecord),
) -> Result<()> {
    for seg in checkpoint_segments(dir)? {
        if let Outcome::Damaged { offset, reason } = replay_segment(&seg, stats, f)? {
            return Err(StorageError::corruption(
                seg.display().to_string(),
                offset,
                reason,
            ));
        }
    }
    Ok(())
}

/// Removes what checkpoint `index` made redundant: segments `<= index` and
/// older checkpoints. Finishes a checkpoint interrupted after publication.
pub(crate) fn remove_covered(listing: &Listing, index: u32) -> Result<usize> {
    let mut segments = 0;
    for (_, p) in listing.segments.iter().filter(|s| s.0 <= index) {
        fs::remove_file(p).map_err(|e| StorageError::io(p, e))?;
        segments += 1;
    }
    for (_, p) in listing.checkpoints.iter().filter(|c| c.0 < index) {
        fs::remove_dir_all(p).map_err(|e| StorageError::io(p, e))?;
    }
    Ok(segments)
}

/// See [`super::replay`].
pub(crate) fn replay_dir(dir: &Path, f: &mut dyn FnMut(WalRecord)) -> Result<ReplayStats> {
    let mut stats = ReplayStats::default();
    match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(stats),
        Err(e) => return Err(StorageError::io(dir, e)),
        Ok(_) => {}
    }
    let listing = list(dir)?;
    remove_tmp(&listing)?;
    let cp = listing.last_checkpoint().map(|c| c.0);
    if let Some((index, path)) = listing.last_checkpoint() {
        replay_checkpoint(path, &mut stats, f)?;
        stats.checkpoint = Some(*index);
        if remove_covered(&listing, *index)? > 0 || listing.checkpoints.len() > 1 {
            sync_dir(dir)?;
        }
    }
    let segs: Vec<&(u32, PathBuf)> = listing
        .segments
        .iter()
        .filter(|s| cp.is_none_or(|c| s.0 > c))
        .collect();
    let mut expected = cp.and_then(|c| c.checked_add(1));
    let last = segs.last().map(|s| s.0);
    let started = std::time::Instant::now();
    for (n, (index, path)) in segs.iter().enumerate() {
        let repair = if expected.is_some_and(|e| e != *index) {
            let missing = expected.unwrap_or_default();
            let reason = format!("segment {} is missing", segment_name(missing));
            Some((dir.join(segment_name(missing)), 0, reason, n))
        } else {
            match replay_segment(path, &mut stats, f)? {
                Outcome::Clean => None,
                Outcome::Damaged { offset, reason } => {
                    truncate_file(path, offset)?;
                    Some((path.clone(), offset, reason, n + 1))
                }
            }
        };
        if let Some((segment, offset, reason, keep)) = repair {
            stats.repaired = Some(drop_after(dir, &segs, keep, segment, offset, reason)?);
            break;
        }
        // Progress of a long replay, one line a segment (64 MiB by
        // default), as Prometheus logs "WAL segment loaded".
        tracing::info!(
            wal = %dir.display(),
            segment = index,
            last = last.unwrap_or(*index),
            series = stats.series,
            samples = stats.samples,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "WAL segment replayed"
        );
        expected = index.checked_add(1);
    }
    Ok(stats)
}

/// Deletes `segs[keep..]`, which follow the damage, and reports the repair.
fn drop_after(
    dir: &Path,
    segs: &[&(u32, PathBuf)],
    keep: usize,
    segment: PathBuf,
    offset: u64,
    reason: String,
) -> Result<Repair> {
    let dropped = segs.get(keep..).unwrap_or_default();
    for (_, p) in dropped {
        fs::remove_file(p).map_err(|e| StorageError::io(p, e))?;
    }
    sync_dir(dir)?;
    tracing::warn!(
        file = %segment.display(),
        offset,
        reason,
        dropped_segments = dropped.len(),
        "WAL damaged: truncated at the last good record"
    );
    Ok(Repair {
        segment,
        offset,
        reason,
        dropped_segments: dropped.len(),
    })
}

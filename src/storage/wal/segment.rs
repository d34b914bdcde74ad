//! Segment files: naming, directory listing, creation and reading.
//!
//! A segment is `magic u32 | version u8 | reserved [3]u8 | crc32c u32`
//! followed by records (see `record.rs`); all integers little-endian.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::record::{checksum, MAX_PAYLOAD_LEN, RECORD_HEADER_LEN};
use crate::storage::error::{Result, StorageError};

/// First four bytes of every segment: "TWAL".
pub(crate) const SEGMENT_MAGIC: [u8; 4] = *b"TWAL";
/// Segment format version this build writes. Version 4 segments may hold
/// histogram records with start timestamps (type 6), version 3 ones
/// exemplar records (type 5), version 2 ones histogram records (type 4);
/// versions 1 to 3 are still read.
pub(crate) const SEGMENT_VERSION: u8 = 4;
/// The oldest segment version this build reads.
const OLDEST_SEGMENT_VERSION: u8 = 1;
/// Magic, version, three reserved zero bytes and the CRC32C of those eight.
pub(crate) const SEGMENT_HEADER_LEN: u64 = 12;
/// Name prefix of checkpoint directories.
pub(crate) const CHECKPOINT_PREFIX: &str = "checkpoint.";
/// Suffix of directories still being written.
pub(crate) const TMP_SUFFIX: &str = ".tmp";
/// Segment indexes are eight decimal digits.
pub(crate) const MAX_SEGMENT_INDEX: u32 = 99_999_999;

/// The header every segment starts with.
pub(crate) fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    segment_header_of(SEGMENT_VERSION)
}

/// The header of a segment of `version`.
pub(crate) fn segment_header_of(version: u8) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[..4].copy_from_slice(&SEGMENT_MAGIC);
    h[4] = version;
    let crc = checksum(&[&h[..8]]);
    h[8..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// File name of segment `index`.
pub(crate) fn segment_name(index: u32) -> String {
    format!("{index:08}")
}

/// Directory name of checkpoint `index`.
pub(crate) fn checkpoint_name(index: u32) -> String {
    format!("{CHECKPOINT_PREFIX}{index:08}")
}

/// Parses exactly eight ASCII digits.
fn parse_index(s: &str) -> Option<u32> {
    (s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// What a WAL directory holds.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Segments, ascending by index.
    pub(crate) segments: Vec<(u32, PathBuf)>,
    /// Complete checkpoints, ascending by index.
    pub(crate) checkpoints: Vec<(u32, PathBuf)>,
    /// Leftovers of interrupted writes (`*.tmp`).
    pub(crate) tmp: Vec<PathBuf>,
}

impl Listing {
    /// The newest complete checkpoint.
    pub(crate) fn last_checkpoint(&self) -> Option<&(u32, PathBuf)> {
        self.checkpoints.last()
    }
}

/// Lists segments, checkpoints and temporaries in `dir`; other names are ignored.
pub(crate) fn list(dir: &Path) -> Result<Listing> {
    let mut out = Listing::default();
    let rd = fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| StorageError::io(dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.ends_with(TMP_SUFFIX) {
            out.tmp.push(path);
        } else if let Some(i) = parse_index(&name) {
            out.segments.push((i, path));
        } else if let Some(i) = name.strip_prefix(CHECKPOINT_PREFIX).and_then(parse_index) {
            out.checkpoints.push((i, path));
        }
    }
    out.segments.sort();
    out.checkpoints.sort();
    Ok(out)
}

/// Removes `*.tmp` leftovers: they were never published, so nothing refers to them.
pub(crate) fn remove_tmp(listing: &Listing) -> Result<()> {
    for p in &listing.tmp {
        let r = if p.is_dir() {
            fs::remove_dir_all(p)
        } else {
            fs::remove_file(p)
        };
        r.map_err(|e| StorageError::io(p, e))?;
    }
    Ok(())
}

/// fsyncs a directory so that entries created, renamed or removed in it persist.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

/// Creates segment `path` holding only its header, in append mode. The caller
/// fsyncs it and the directory.
pub(crate) fn create_segment(path: &Path) -> Result<File> {
    let mut f = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .map_err(|e| StorageError::io(path, e))?;
    f.write_all(&segment_header())
        .map_err(|e| StorageError::io(path, e))?;
    Ok(f)
}

/// Truncates `path` to `len` and fsyncs it.
pub(crate) fn truncate_file(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io(path, e))?;
    f.set_len(len)
        .and_then(|()| f.sync_all())
        .map_err(|e| StorageError::io(path, e))
}

/// One step of reading a segment.
pub(crate) enum Step<'a> {
    /// A record whose CRC matched: its type and payload, and its start offset.
    Record {
        typ: u8,
        payload: &'a [u8],
        offset: u64,
    },
    /// Clean end of the segment.
    End,
    /// The bytes from `offset` on are not a valid record (or header).
    Damage { offset: u64, reason: String },
}

/// Reads records from one segment file, streaming. Every length read from the
/// file is checked against [`MAX_PAYLOAD_LEN`] and the bytes left in the file
/// before anything is allocated for it.
pub(crate) struct SegmentReader<R> {
    r: R,
    offset: u64,
    len: u64,
    payload: Vec<u8>,
    header_checked: bool,
}

impl SegmentReader<BufReader<File>> {
    /// Opens `path` for reading.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let f = File::open(path)?;
        let len = f.metadata()?.len();
        Ok(SegmentReader::new(
            BufReader::with_capacity(1 << 16, f),
            len,
        ))
    }
}

impl<R: Read> SegmentReader<R> {
    /// Reads a segment of `len` bytes from `r`.
    pub(crate) fn new(r: R, len: u64) -> Self {
        SegmentReader {
            r,
            offset: 0,
            len,
            payload: Vec::new(),
            header_checked: false,
        }
    }

    /// The next record, the clean end, or the damage that ends the segment.
    pub(crate) fn next(&mut self) -> io::Result<Step<'_>> {
        if !self.header_checked {
            self.header_checked = true;
            if let Some(reason) = self.read_header()? {
                return Ok(Step::Damage { offset: 0, reason });
            }
        }
        let start = self.offset;
        let left = self.len.saturating_sub(start);
        if left == 0 {
            return Ok(Step::End);
        }
        if left < RECORD_HEADER_LEN as u64 {
            return Ok(damage(
                start,
                format!("record header cut short ({left} bytes left)"),
            ));
        }
        let mut h = [0u8; RECORD_HEADER_LEN];
        self.r.read_exact(&mut h)?;
        let (len, crc, typ) = split_record_header(&h);
        if len > MAX_PAYLOAD_LEN {
            return Ok(damage(
                start,
                format!("record length {len} exceeds the maximum"),
            ));
        }
        if u64::from(len) > left - RECORD_HEADER_LEN as u64 {
            return Ok(damage(
                start,
                format!("record of {len} bytes cut short at the end of the file"),
            ));
        }
        self.payload.resize(len as usize, 0);
        self.r.read_exact(&mut self.payload)?;
        if checksum(&[&[typ], &self.payload]) != crc {
            return Ok(damage(start, "record checksum mismatch"));
        }
        self.offset = start + RECORD_HEADER_LEN as u64 + u64::from(len);
        Ok(Step::Record {
            typ,
            payload: &self.payload,
            offset: start,
        })
    }

    /// Checks the segment header; `Some(reason)` if it is bad. An empty file
    /// is a segment whose header never reached the disk: it reads as empty.
    fn read_header(&mut self) -> io::Result<Option<String>> {
        if self.len == 0 {
            return Ok(None);
        }
        if self.len < SEGMENT_HEADER_LEN {
            return Ok(Some(format!(
                "segment header cut short ({} bytes)",
                self.len
            )));
        }
        let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
        self.r.read_exact(&mut h)?;
        self.offset = SEGMENT_HEADER_LEN;
        if h[..4] == SEGMENT_MAGIC && h[4] > SEGMENT_VERSION && h == segment_header_of(h[4]) {
            // Intact, but from a newer build: not damage to cut away.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "WAL segment version {} was written by a newer build (this one reads {OLDEST_SEGMENT_VERSION} to {SEGMENT_VERSION}); refusing to read or repair it",
                    h[4]
                ),
            ));
        }
        let known = (OLDEST_SEGMENT_VERSION..=SEGMENT_VERSION).contains(&h[4]);
        if !known || h != segment_header_of(h[4]) {
            let reason = if h[..4] != SEGMENT_MAGIC {
                "bad segment magic".to_string()
            } else if !known {
                format!("unsupported segment version {}", h[4])
            } else {
                "segment header checksum mismatch".to_string()
            };
            return Ok(Some(reason));
        }
        Ok(None)
    }
}

fn damage(offset: u64, reason: impl Into<String>) -> Step<'static> {
    Step::Damage {
        offset,
        reason: reason.into(),
    }
}

fn split_record_header(h: &[u8; RECORD_HEADER_LEN]) -> (u32, u32, u8) {
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    (len, crc, h[8])
}

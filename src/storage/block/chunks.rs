//! The block chunk file: block-encoded chunks packed into zstd frames.
//!
//! ```text
//! ┌──────────────────────────────┬─────────────┬─────────────┬──────────────────────────┐
//! │ magic u32 BE = 0x5453434B    │ version u8  │ pad 3 bytes │ crc32c u32 LE of 0..8    │
//! ├──────────────────────────────┴─────────────┴─────────────┴──────────────────────────┤
//! │ frame 1 … frame n                                                                   │
//! └─────────────────────────────────────────────────────────────────────────────────────┘
//! frame:
//! ┌────────────────────┬──────────────────┬──────────────────┬───────────────────┐
//! │ comp_len u32 LE    │ raw_len u32 LE   │ crc32c u32 LE    │ zstd bytes        │
//! └────────────────────┴──────────────────┴──────────────────┴───────────────────┘
//! ```
//! The CRC covers the compressed bytes. A chunk reference is
//! `frame_offset << 24 | offset_in_decompressed_frame`. From version 2 on,
//! every chunk starts with an encoding byte ([`ChunkKind`]); version 1
//! files hold float block chunks without it and are still read.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

use super::source::{ByteSource, MappedFile};

use crate::model::{HistogramSample, Sample};
use crate::storage::chunk::{
    decode_block_chunk_st, decode_histogram_chunk, decode_histogram_chunk_st,
    encode_block_chunk_st, encode_histogram_chunk, encode_histogram_chunk_st, StEntry,
};
use crate::storage::error::{Result, StorageError};

/// Magic number opening a chunk file ("TSCK").
pub(crate) const CHUNKS_MAGIC: u32 = 0x5453_434B;
/// Chunk file format version this build writes: 3, every chunk led by
/// its encoding byte, which may be [`ChunkKind::HistogramSt`] (version 2
/// files hold the other two encodings only, and are still read).
pub(crate) const CHUNKS_VERSION: u8 = 3;
/// The first version: float block chunks only, without encoding bytes.
const CHUNKS_VERSION_FLOATS_ONLY: u8 = 1;

/// Which value encoding a chunk holds: the byte that leads every chunk
/// of a version-2 file. A later encoding gets the next number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ChunkKind {
    /// A float block chunk (`storage/chunk/blockenc.rs`).
    Float = 1,
    /// A histogram chunk (`storage/chunk/histogram.rs`).
    Histogram = 2,
    /// A histogram chunk behind the start timestamps of its histograms
    /// (`storage/chunk/histogram_st.rs`, chunk file version 3).
    HistogramSt = 3,
}
pub(crate) const HEADER_LEN: usize = 12;
pub(crate) const FRAME_HEADER_LEN: usize = 12;
/// A frame is closed once its uncompressed size passes this.
pub(crate) const FRAME_TARGET: usize = 128 << 10;
/// Largest decompressed frame a reader accepts (the in-frame offset has 24 bits).
const MAX_RAW_FRAME: usize = 1 << 24;
/// zstd level used for frames.
const ZSTD_LEVEL: i32 = 3;
/// Name of the chunk file inside a block directory.
pub(crate) const CHUNKS_FILE: &str = "chunks";

/// The checksum of the header and of every frame; the one place the CRC choice lives.
fn frame_crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Writes a chunk file.
pub(crate) struct ChunkFileWriter {
    path: PathBuf,
    out: BufWriter<File>,
    pos: u64,
    raw: Vec<u8>,
}

impl ChunkFileWriter {
    /// Creates the file and writes its header.
    pub fn create(path: &Path) -> Result<ChunkFileWriter> {
        let f = File::create(path).map_err(|e| StorageError::io(path, e))?;
        let mut w = ChunkFileWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
            pos: 0,
            raw: Vec::new(),
        };
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(&CHUNKS_MAGIC.to_be_bytes());
        header[4] = CHUNKS_VERSION;
        let crc = frame_crc(&header[..8]);
        header[8..].copy_from_slice(&crc.to_le_bytes());
        w.write(&header)?;
        Ok(w)
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        if crate::storage::fault::disk_full() {
            return Err(StorageError::io(
                &self.path,
                crate::storage::fault::enospc(),
            ));
        }
        self.out
            .write_all(b)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    /// Encodes one chunk (with the start timestamps of its samples that
    /// have one) and returns its reference.
    pub fn add_chunk(&mut self, samples: &[Sample], sts: &[StEntry]) -> Result<u64> {
        if self.raw.len() >= FRAME_TARGET {
            self.flush_frame()?;
        }
        let r = (self.pos << 24) | self.raw.len() as u64;
        self.raw.push(ChunkKind::Float as u8);
        encode_block_chunk_st(samples, sts, &mut self.raw);
        self.check_frame_room(samples.len())?;
        Ok(r)
    }

    /// Encodes one histogram chunk (with the start timestamps of its
    /// histograms that have one, in the `HistogramSt` encoding) and
    /// returns its reference.
    pub fn add_histogram_chunk(
        &mut self,
        samples: &[HistogramSample],
        sts: &[StEntry],
    ) -> Result<u64> {
        if self.raw.len() >= FRAME_TARGET {
            self.flush_frame()?;
        }
        let r = (self.pos << 24) | self.raw.len() as u64;
        if sts.is_empty() {
            self.raw.push(ChunkKind::Histogram as u8);
            encode_histogram_chunk(samples, &mut self.raw);
        } else {
            self.raw.push(ChunkKind::HistogramSt as u8);
            encode_histogram_chunk_st(samples, sts, &mut self.raw);
        }
        self.check_frame_room(samples.len())?;
        Ok(r)
    }

    fn check_frame_room(&self, samples: usize) -> Result<()> {
        if self.raw.len() > MAX_RAW_FRAME {
            return Err(StorageError::Config(format!(
                "chunk of {samples} samples too large for a frame"
            )));
        }
        Ok(())
    }

    fn flush_frame(&mut self) -> Result<()> {
        if self.raw.is_empty() {
            return Ok(());
        }
        let comp = zstd::bulk::compress(&self.raw, ZSTD_LEVEL)
            .map_err(|e| StorageError::io(&self.path, e))?;
        let mut h = [0u8; FRAME_HEADER_LEN];
        h[..4].copy_from_slice(&(comp.len() as u32).to_le_bytes());
        h[4..8].copy_from_slice(&(self.raw.len() as u32).to_le_bytes());
        h[8..].copy_from_slice(&frame_crc(&comp).to_le_bytes());
        self.write(&h)?;
        self.write(&comp)?;
        self.raw.clear();
        Ok(())
    }

    /// Writes the last frame and fsyncs the file. Returns its size.
    pub fn finish(mut self) -> Result<u64> {
        self.flush_frame()?;
        let f = self
            .out
            .into_inner()
            .map_err(|e| StorageError::io(&self.path, e.into_error()))?;
        f.sync_all().map_err(|e| StorageError::io(&self.path, e))?;
        Ok(self.pos)
    }
}

/// The decompressed frame a reader used last, so walking series in order
/// decompresses each frame once.
#[derive(Default)]
pub(crate) struct FrameCache {
    key: Option<(u64, u64)>,
    raw: Vec<u8>,
}

/// Gives every chunk file reader its own id, the first half of a
/// [`FrameCache`] key.
static NEXT_READER_ID: AtomicU64 = AtomicU64::new(1);

/// A chunk file read through a [`ByteSource`]: mapped from the local disk,
/// or fetched by ranges from the bucket.
pub(crate) struct ChunkFileReader {
    id: u64,
    src: Box<dyn ByteSource>,
    /// Whether the header has been checked (at open for a local file, at
    /// the first read for a remote one, so opening costs no request).
    header_ok: AtomicBool,
    /// The file's version, once the header was checked.
    version: AtomicU8,
}

impl ChunkFileReader {
    /// Maps the local file at `path` and checks its header.
    pub fn open(path: &Path) -> Result<ChunkFileReader> {
        let r = ChunkFileReader::from_source(Box::new(MappedFile::open(path)?));
        r.check_header()?;
        Ok(r)
    }

    /// A reader over `src` whose header is checked at the first read.
    pub fn from_source(src: Box<dyn ByteSource>) -> ChunkFileReader {
        ChunkFileReader {
            id: NEXT_READER_ID.fetch_add(1, Ordering::Relaxed),
            src,
            header_ok: AtomicBool::new(false),
            version: AtomicU8::new(0),
        }
    }

    fn check_header(&self) -> Result<()> {
        if self.header_ok.load(Ordering::Acquire) {
            return Ok(());
        }
        if self.src.len() < HEADER_LEN as u64 {
            return Err(self.corrupt(0, "bad chunk file magic"));
        }
        let h = self.src.read(0, HEADER_LEN)?;
        if h[..4] != CHUNKS_MAGIC.to_be_bytes() {
            return Err(self.corrupt(0, "bad chunk file magic"));
        }
        if frame_crc(&h[..8]).to_le_bytes() != h[8..HEADER_LEN] {
            return Err(self.corrupt(8, "chunk file header checksum mismatch"));
        }
        if h[4] > CHUNKS_VERSION {
            return Err(self.corrupt(
                4,
                format!(
                    "chunk file version {} was written by a newer build (this one reads 1 to {CHUNKS_VERSION})",
                    h[4]
                ),
            ));
        }
        if h[4] < CHUNKS_VERSION_FLOATS_ONLY {
            return Err(self.corrupt(4, format!("unsupported chunk file version {}", h[4])));
        }
        self.version.store(h[4], Ordering::Release);
        self.header_ok.store(true, Ordering::Release);
        Ok(())
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> StorageError {
        StorageError::corruption(self.src.name(), offset, reason)
    }

    /// Decodes the chunk at `chunk_ref`, appending its float samples to
    /// `out` (and, when `sts` is given, their start timestamps to `sts`) or
    /// its histograms to `hists`, as its encoding byte says.
    pub fn read(
        &self,
        chunk_ref: u64,
        cache: &mut FrameCache,
        out: &mut Vec<Sample>,
        sts: Option<&mut Vec<StEntry>>,
        hists: &mut Vec<HistogramSample>,
    ) -> Result<()> {
        let frame_off = chunk_ref >> 24;
        let in_frame = (chunk_ref & 0xff_ffff) as usize;
        let key = (self.id, frame_off);
        if cache.key != Some(key) {
            cache.key = None;
            self.check_header()?;
            self.load_frame(frame_off, &mut cache.raw)?;
            cache.key = Some(key);
        }
        let mut bytes = cache
            .raw
            .get(in_frame..)
            .ok_or_else(|| self.corrupt(frame_off, "chunk offset past frame end"))?;
        let mut at = in_frame;
        let kind = if self.version.load(Ordering::Acquire) == CHUNKS_VERSION_FLOATS_ONLY {
            ChunkKind::Float as u8
        } else {
            let (&k, rest) = bytes
                .split_first()
                .ok_or_else(|| self.corrupt(frame_off, "chunk offset past frame end"))?;
            bytes = rest;
            at += 1;
            k
        };
        let decoded = match kind {
            k if k == ChunkKind::Float as u8 => decode_block_chunk_st(bytes, out, sts),
            k if k == ChunkKind::Histogram as u8 => decode_histogram_chunk(bytes, hists),
            k if k == ChunkKind::HistogramSt as u8 => decode_histogram_chunk_st(bytes, hists, sts),
            k => {
                return Err(self.corrupt(
                    frame_off,
                    format!("frame byte {in_frame}: unknown chunk encoding {k}"),
                ))
            }
        };
        decoded.map_err(|e| {
            self.corrupt(
                frame_off,
                format!("frame byte {}: {}", at + e.offset, e.reason),
            )
        })?;
        Ok(())
    }

    fn load_frame(&self, off: u64, raw: &mut Vec<u8>) -> Result<()> {
        let header = self
            .src
            .read(off, FRAME_HEADER_LEN)
            .map_err(|_| self.corrupt(off, "frame header past end of file"))?;
        let word =
            |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let (comp_len, raw_len, crc) = (word(0) as usize, word(4) as usize, word(8));
        if raw_len > MAX_RAW_FRAME + FRAME_TARGET {
            return Err(self.corrupt(off, format!("frame claims {raw_len} uncompressed bytes")));
        }
        let body_off = off.saturating_add(FRAME_HEADER_LEN as u64);
        if body_off.saturating_add(comp_len as u64) > self.src.len() {
            return Err(self.corrupt(off, "frame body past end of file"));
        }
        let comp = self
            .src
            .read(body_off, comp_len)
            .map_err(|_| self.corrupt(off, "frame body past end of file"))?;
        if frame_crc(&comp) != crc {
            return Err(self.corrupt(off, "frame checksum mismatch"));
        }
        *raw = zstd::bulk::decompress(&comp, raw_len)
            .map_err(|e| self.corrupt(off, format!("zstd: {e}")))?;
        if raw.len() != raw_len {
            return Err(self.corrupt(off, "frame decompressed to the wrong size"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Histogram;

    fn header(version: u8) -> Vec<u8> {
        let mut h = CHUNKS_MAGIC.to_be_bytes().to_vec();
        h.extend_from_slice(&[version, 0, 0, 0]);
        let crc = frame_crc(&h);
        h.extend_from_slice(&crc.to_le_bytes());
        h
    }

    fn frame(raw: &[u8]) -> Vec<u8> {
        let comp = zstd::bulk::compress(raw, ZSTD_LEVEL).unwrap();
        let mut f = (comp.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        f.extend_from_slice(&frame_crc(&comp).to_le_bytes());
        f.extend_from_slice(&comp);
        f
    }

    #[test]
    fn float_and_histogram_chunks_carry_their_encoding() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(CHUNKS_FILE);
        let mut w = ChunkFileWriter::create(&path).unwrap();
        let floats = [Sample::new(1, 1.5), Sample::new(2, 2.5)];
        let hists = vec![
            HistogramSample {
                t: 3,
                h: Histogram::empty_int(1),
            },
            HistogramSample {
                t: 4,
                h: Histogram::stale_marker(),
            },
        ];
        let f = w.add_chunk(&floats, &[]).unwrap();
        let h = w.add_histogram_chunk(&hists, &[]).unwrap();
        w.finish().unwrap();
        let r = ChunkFileReader::open(&path).unwrap();
        let (mut out, mut hout, mut cache) = (Vec::new(), Vec::new(), FrameCache::default());
        r.read(f, &mut cache, &mut out, None, &mut hout).unwrap();
        assert_eq!(out, floats);
        assert!(hout.is_empty());
        r.read(h, &mut cache, &mut out, None, &mut hout).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(hout.len(), 2);
        assert!(hout[1].h.is_stale());
        // An unknown encoding byte is damage, named as such.
        let mut raw = vec![9u8];
        crate::storage::chunk::encode_block_chunk(&floats, &mut raw);
        let mut bytes = header(CHUNKS_VERSION);
        bytes.extend(frame(&raw));
        std::fs::write(&path, &bytes).unwrap();
        let r = ChunkFileReader::open(&path).unwrap();
        let err = r
            .read(
                12 << 24,
                &mut FrameCache::default(),
                &mut out,
                None,
                &mut hout,
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown chunk encoding 9"),
            "{err}"
        );
    }

    #[test]
    fn version_one_files_read_and_newer_ones_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(CHUNKS_FILE);
        let floats = [Sample::new(10, 1.0), Sample::new(20, f64::NAN)];
        let mut raw = Vec::new();
        crate::storage::chunk::encode_block_chunk(&floats, &mut raw);
        let mut bytes = header(1);
        bytes.extend(frame(&raw));
        std::fs::write(&path, &bytes).unwrap();
        let r = ChunkFileReader::open(&path).unwrap();
        let (mut out, mut hout) = (Vec::new(), Vec::new());
        r.read(
            12 << 24,
            &mut FrameCache::default(),
            &mut out,
            None,
            &mut hout,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert!(out[0].bit_eq(&floats[0]) && out[1].bit_eq(&floats[1]));
        std::fs::write(&path, header(CHUNKS_VERSION + 1)).unwrap();
        let err = ChunkFileReader::open(&path).err().unwrap().to_string();
        assert!(err.contains("written by a newer build"), "{err}");
    }
}

//! A block's on-disk index: symbols, series (labels and chunk metas) and
//! postings as serialized roaring bitmaps, opened with `mmap`.
//!
//! The byte layout is specified in the block index section of
//! `storage-format.md`; the constants below are that spec's. In
//! short, after a checksummed header come four sections, each a body
//! followed by the CRC32C of the body, then a fixed-size table of contents:
//!
//! ```text
//! header | symbols | series | postings | postings offset table | TOC
//! ```
//!
//! Fixed-width integers are big-endian (as in Prometheus' index); varints
//! are the crate's LEB128 ones; the roaring bitmaps keep their own standard
//! little-endian serialization.

mod reader;
mod roaring_check;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use roaring::RoaringBitmap;

use crate::model::Labels;
use crate::storage::error::{Result, StorageError};
use crate::storage::varint::{put_uvarint, put_varint};

/// First four bytes of every index file: "TIDX".
pub(crate) const MAGIC: u32 = 0x5449_4458;
/// Format version written after the magic; readers refuse any other.
pub(crate) const VERSION: u8 = 1;
/// Header: magic (4), version (1), reserved zeros (3), CRC32C of those 8 (4).
pub(crate) const HEADER_LEN: usize = 12;
/// Number of sections listed in the table of contents, in file order.
pub(crate) const NUM_SECTIONS: usize = 4;
/// TOC: per section a u64 offset and u64 body length, then a CRC32C.
pub(crate) const TOC_LEN: usize = NUM_SECTIONS * 16 + 4;
/// Each section body is followed by the CRC32C of the body.
pub(crate) const CRC_LEN: usize = 4;
/// Width of one row of the postings offset table's name and entry tables.
pub(crate) const ROW_LEN: usize = 12;

/// The one checksum of this format: CRC32C (Castagnoli), as in Prometheus.
pub(crate) fn checksum(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Where one chunk of a series lives in the block's chunk file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkMeta {
    /// First sample's timestamp.
    pub mint: i64,
    /// Last sample's timestamp.
    pub maxt: i64,
    /// Opaque reference into the chunk file (the block layer defines it).
    pub chunk_ref: u64,
}

/// Writes an index file. Series must be added in ascending label order.
///
/// Series are held in memory until [`IndexWriter::finish`], which needs all
/// of them to build the symbol table that precedes them in the file.
pub(crate) struct IndexWriter {
    path: PathBuf,
    series: Vec<(Labels, Vec<ChunkMeta>)>,
}

impl IndexWriter {
    /// Starts an index at `path` (the file is written by [`IndexWriter::finish`]).
    pub fn create(path: &Path) -> Result<IndexWriter> {
        Ok(IndexWriter {
            path: path.to_owned(),
            series: Vec::new(),
        })
    }

    /// Adds the next series. Its labels must sort after the previous
    /// series' labels, otherwise this fails and nothing is written.
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) -> Result<()> {
        let refuse =
            |reason: String| StorageError::corruption(self.path.display().to_string(), 0, reason);
        if let Some((prev, _)) = self.series.last() {
            if labels <= prev {
                return Err(refuse(format!(
                    "series added out of order: {labels} after {prev}"
                )));
            }
        }
        let names_ascend = labels.as_slice().windows(2).all(|w| w[0].name < w[1].name);
        if !names_ascend || labels.iter().any(|l| l.value.is_empty()) {
            return Err(refuse(format!(
                "series {labels} has duplicate names or empty values"
            )));
        }
        if self.series.len() >= u32::MAX as usize {
            return Err(refuse("more than 2^32-1 series in one index".into()));
        }
        self.series.push((labels.clone(), chunks.to_vec()));
        Ok(())
    }

    /// Writes symbols, series, postings and the table of contents, each
    /// section checksummed, then fsyncs the file.
    pub fn finish(self) -> Result<()> {
        let symbols = Symbols::collect(&self.series);
        let postings = self.postings();
        let (postings_body, rows) = encode_postings(&postings, &symbols, &self.path)?;
        let bodies = [
            encode_symbols(&symbols.sorted, &self.path)?,
            self.encode_series(&symbols)?,
            postings_body,
            encode_offset_table(&rows, &self.path)?,
        ];
        let io_err = |e| StorageError::io(&self.path, e);
        let file = File::create(&self.path).map_err(io_err)?;
        let mut out = BufWriter::new(file);
        write_file(&mut out, &bodies).map_err(io_err)?;
        let file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.sync_all().map_err(io_err)
    }

    /// Label name → value → series ids, all byte-ordered.
    fn postings(&self) -> BTreeMap<&str, BTreeMap<&str, RoaringBitmap>> {
        let mut out: BTreeMap<&str, BTreeMap<&str, RoaringBitmap>> = BTreeMap::new();
        for (id, (labels, _)) in self.series.iter().enumerate() {
            for l in labels.iter() {
                // `add_series` caps the count at u32::MAX, so ids fit.
                out.entry(&l.name)
                    .or_default()
                    .entry(&l.value)
                    .or_default()
                    .insert(id as u32);
            }
        }
        out
    }

    fn encode_series(&self, symbols: &Symbols<'_>) -> Result<Vec<u8>> {
        let mut entries = Vec::new();
        let mut offsets = Vec::with_capacity(self.series.len());
        for (labels, chunks) in &self.series {
            offsets.push(fit_u32(entries.len(), "series", &self.path)?);
            put_uvarint(&mut entries, labels.len() as u64);
            for l in labels.iter() {
                put_uvarint(&mut entries, u64::from(symbols.index(&l.name)));
                put_uvarint(&mut entries, u64::from(symbols.index(&l.value)));
            }
            put_uvarint(&mut entries, chunks.len() as u64);
            let mut prev_maxt = 0i64;
            for (i, c) in chunks.iter().enumerate() {
                // Wrapping deltas round-trip any i64, so no meta is refused.
                let mint = if i == 0 {
                    c.mint
                } else {
                    c.mint.wrapping_sub(prev_maxt)
                };
                put_varint(&mut entries, mint);
                put_varint(&mut entries, c.maxt.wrapping_sub(c.mint));
                put_uvarint(&mut entries, c.chunk_ref);
                prev_maxt = c.maxt;
            }
        }
        Ok(table_with_data(&offsets, &entries))
    }
}

/// The sorted, unique strings of all labels, and each one's index.
struct Symbols<'a> {
    sorted: Vec<&'a str>,
    index: HashMap<&'a str, u32>,
}

impl<'a> Symbols<'a> {
    fn collect(series: &'a [(Labels, Vec<ChunkMeta>)]) -> Symbols<'a> {
        let set: BTreeSet<&str> = series
            .iter()
            .flat_map(|(ls, _)| ls.iter().flat_map(|l| [l.name.as_str(), l.value.as_str()]))
            .collect();
        let sorted: Vec<&str> = set.into_iter().collect();
        // At most 2 symbols per label of at most u32::MAX series; a file that
        // large fails the 4 GiB section check first, so the cast cannot wrap
        // on any index that gets written.
        let index = sorted
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, i as u32))
            .collect();
        Symbols { sorted, index }
    }

    fn index(&self, s: &str) -> u32 {
        // Every label string went into the table in `collect`.
        self.index.get(s).copied().unwrap_or_default()
    }
}

/// One row of the postings offset table: a value's symbol and its postings.
struct Row {
    name: u32,
    value: u32,
    at: u32,
    len: u32,
}

fn encode_symbols(sorted: &[&str], path: &Path) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut offsets = Vec::with_capacity(sorted.len());
    for s in sorted {
        offsets.push(fit_u32(data.len(), "symbols", path)?);
        data.extend_from_slice(s.as_bytes());
    }
    fit_u32(data.len(), "symbols", path)?;
    Ok(table_with_data(&offsets, &data))
}

fn encode_postings(
    postings: &BTreeMap<&str, BTreeMap<&str, RoaringBitmap>>,
    symbols: &Symbols<'_>,
    path: &Path,
) -> Result<(Vec<u8>, Vec<Row>)> {
    let mut body = Vec::new();
    let mut rows = Vec::new();
    for (name, values) in postings {
        for (value, ids) in values {
            let at = fit_u32(body.len(), "postings", path)?;
            ids.serialize_into(&mut body)
                .map_err(|e| StorageError::io(path, e))?;
            let len = fit_u32(body.len() - at as usize, "postings", path)?;
            rows.push(Row {
                name: symbols.index(name),
                value: symbols.index(value),
                at,
                len,
            });
        }
    }
    fit_u32(body.len(), "postings", path)?;
    Ok((body, rows))
}

/// Names table (name, first row, row count) followed by the value rows.
fn encode_offset_table(rows: &[Row], path: &Path) -> Result<Vec<u8>> {
    let mut names: Vec<[u32; 3]> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let i = fit_u32(i, "postings offset table", path)?;
        match names.last_mut() {
            Some(last) if last[0] == r.name => last[2] += 1,
            _ => names.push([r.name, i, 1]),
        }
    }
    let mut out = Vec::with_capacity(8 + ROW_LEN * (names.len() + rows.len()));
    out.extend_from_slice(&fit_u32(names.len(), "postings offset table", path)?.to_be_bytes());
    for n in &names {
        n.iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
    }
    out.extend_from_slice(&fit_u32(rows.len(), "postings offset table", path)?.to_be_bytes());
    for r in rows {
        [r.value, r.at, r.len]
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
    }
    Ok(out)
}

/// `count u32 | offsets u32 × count | data`, the shape of symbols and series.
fn table_with_data(offsets: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * offsets.len() + data.len());
    // Callers bound the count by u32 (series count, symbols under 4 GiB).
    out.extend_from_slice(&(offsets.len() as u32).to_be_bytes());
    offsets
        .iter()
        .for_each(|o| out.extend_from_slice(&o.to_be_bytes()));
    out.extend_from_slice(data);
    out
}

fn fit_u32(n: usize, section: &str, path: &Path) -> Result<u32> {
    u32::try_from(n).map_err(|_| {
        let msg = format!("index {section} section exceeds 4 GiB");
        StorageError::io(path, io::Error::new(io::ErrorKind::InvalidInput, msg))
    })
}

/// Header, each body with its CRC, then the TOC.
fn write_file(out: &mut impl Write, bodies: &[Vec<u8>; NUM_SECTIONS]) -> io::Result<()> {
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(&MAGIC.to_be_bytes());
    header.extend_from_slice(&[VERSION, 0, 0, 0]);
    header.extend_from_slice(&checksum(&header).to_be_bytes());
    out.write_all(&header)?;
    let mut toc = Vec::with_capacity(TOC_LEN);
    let mut at = HEADER_LEN as u64;
    for body in bodies {
        toc.extend_from_slice(&at.to_be_bytes());
        toc.extend_from_slice(&(body.len() as u64).to_be_bytes());
        out.write_all(body)?;
        out.write_all(&checksum(body).to_be_bytes())?;
        at += (body.len() + CRC_LEN) as u64;
    }
    toc.extend_from_slice(&checksum(&toc).to_be_bytes());
    out.write_all(&toc)?;
    out.flush()
}

/// A memory-mapped index file. Series ids are `0..num_series()` in label order.
pub(crate) struct IndexReader {
    /// For error messages.
    path: String,
    map: Mmap,
    symbols: Table,
    series: Table,
    /// The postings section body.
    postings: Range<usize>,
    /// Start of the names table rows and their count.
    names: (usize, u32),
    /// Start of the value rows and their count.
    rows: (usize, u32),
}

/// A `count | offsets | data` section located in the file.
#[derive(Debug, Clone)]
struct Table {
    count: u32,
    /// File offset of the first u32 offset.
    offsets_at: usize,
    /// The data the offsets point into.
    data: Range<usize>,
}

impl IndexReader {
    /// Maps and validates an index file (magic, version, checksums).
    pub fn open(path: &Path) -> Result<IndexReader> {
        reader::open(path)
    }

    /// Number of series.
    pub fn num_series(&self) -> u32 {
        self.series.count
    }

    /// Labels and chunk metas of series `id`.
    pub fn series(&self, id: u32) -> Result<(Labels, Vec<ChunkMeta>)> {
        self.decode_series(id)
    }
}

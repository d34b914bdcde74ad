//! Opening and decoding an index file.
//!
//! Every checksum is verified once, in [`open`]; after that sections are
//! decoded on demand, each read still bounds-checked so that a file whose
//! checksums match but whose contents are wrong (a writer bug, a crafted
//! file) yields `DataCorruption`, never a panic.

use std::fs::File;
use std::ops::Range;
use std::path::Path;

use memmap2::Mmap;
use roaring::RoaringBitmap;

use super::{checksum, roaring_check, ChunkMeta, IndexReader, Table};
use super::{CRC_LEN, HEADER_LEN, MAGIC, NUM_SECTIONS, ROW_LEN, TOC_LEN, VERSION};
use crate::model::{Label, Labels};
use crate::storage::error::{Result, StorageError};
use crate::storage::index::select::PostingsSource;
use crate::storage::varint::{get_uvarint, get_varint};

/// Reads a big-endian u32 at `at`, if the bytes are there.
fn be_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

fn be_u64(buf: &[u8], at: usize) -> Option<u64> {
    let b = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

pub(super) fn open(path: &Path) -> Result<IndexReader> {
    let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
    // SAFETY: block files are written once, fsynced and renamed into place,
    // and never modified afterwards; the map is read-only.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| StorageError::io(path, e))?;
    let name = path.display().to_string();
    let sections = validate(&map, &name)?;
    let [symbols, series, postings, offsets] = sections;
    let bad = |at: usize, why: &str| StorageError::corruption(name.clone(), at as u64, why);
    let symbols =
        table(&map, symbols).ok_or_else(|| bad(0, "symbol table does not fit its section"))?;
    let series =
        table(&map, series).ok_or_else(|| bad(0, "series table does not fit its section"))?;
    let (names, rows) = offset_table(&map, offsets.clone()).ok_or_else(|| {
        bad(
            offsets.start,
            "postings offset table does not fit its section",
        )
    })?;
    Ok(IndexReader {
        path: name,
        map,
        symbols,
        series,
        postings,
        names,
        rows,
    })
}

/// Checks header, TOC and every section checksum; returns the section bodies.
fn validate(buf: &[u8], name: &str) -> Result<[Range<usize>; NUM_SECTIONS]> {
    let bad = |at: usize, why: String| StorageError::corruption(name, at as u64, why);
    if buf.len() < HEADER_LEN + TOC_LEN {
        return Err(bad(
            0,
            format!("file of {} bytes is too short for an index", buf.len()),
        ));
    }
    let header = buf.get(..HEADER_LEN).unwrap_or_default();
    if be_u32(header, 0) != Some(MAGIC) {
        return Err(bad(0, "bad magic number".into()));
    }
    if header.get(4..8) != Some(&[VERSION, 0, 0, 0][..]) {
        return Err(bad(
            4,
            format!("unsupported version or flags {:?}", header.get(4..8)),
        ));
    }
    if be_u32(header, 8) != Some(checksum(header.get(..8).unwrap_or_default())) {
        return Err(bad(8, "header checksum mismatch".into()));
    }
    let toc_at = buf.len() - TOC_LEN;
    let toc = buf.get(toc_at..).unwrap_or_default();
    if be_u32(toc, TOC_LEN - CRC_LEN)
        != Some(checksum(toc.get(..TOC_LEN - CRC_LEN).unwrap_or_default()))
    {
        return Err(bad(toc_at, "table of contents checksum mismatch".into()));
    }
    let mut sections: [Range<usize>; NUM_SECTIONS] = Default::default();
    let mut expect = HEADER_LEN;
    for (i, s) in sections.iter_mut().enumerate() {
        let at = be_u64(toc, i * 16).and_then(|v| usize::try_from(v).ok());
        let len = be_u64(toc, i * 16 + 8).and_then(|v| usize::try_from(v).ok());
        let end = len.and_then(|l| l.checked_add(expect));
        // Sections must tile the file exactly, so no byte escapes a checksum.
        let (Some(at), Some(end)) = (at, end) else {
            return Err(bad(
                toc_at + i * 16,
                format!("section {i} length overflows"),
            ));
        };
        if at != expect || end.checked_add(CRC_LEN).is_none_or(|e| e > toc_at) {
            return Err(bad(
                toc_at + i * 16,
                format!("section {i} at {at} is out of place"),
            ));
        }
        let body = buf.get(at..end).unwrap_or_default();
        if be_u32(buf, end) != Some(checksum(body)) {
            return Err(bad(end, format!("section {i} checksum mismatch")));
        }
        *s = at..end;
        expect = end + CRC_LEN;
    }
    if expect != toc_at {
        return Err(bad(
            expect,
            "bytes between the last section and the table of contents".into(),
        ));
    }
    Ok(sections)
}

/// Locates `count | offsets | data` inside `body`.
fn table(buf: &[u8], body: Range<usize>) -> Option<Table> {
    let count = be_u32(buf, body.start)?;
    let offsets_at = body.start.checked_add(4)?;
    let data_start = offsets_at.checked_add((count as usize).checked_mul(4)?)?;
    (data_start <= body.end).then_some(Table {
        count,
        offsets_at,
        data: data_start..body.end,
    })
}

/// Locates the names and value rows of the postings offset table, which
/// must fill `body` exactly.
fn offset_table(buf: &[u8], body: Range<usize>) -> Option<((usize, u32), (usize, u32))> {
    let num_names = be_u32(buf, body.start)?;
    let names_at = body.start.checked_add(4)?;
    let rows_count_at = names_at.checked_add((num_names as usize).checked_mul(ROW_LEN)?)?;
    let num_rows = be_u32(buf, rows_count_at)?;
    let rows_at = rows_count_at.checked_add(4)?;
    let end = rows_at.checked_add((num_rows as usize).checked_mul(ROW_LEN)?)?;
    (end == body.end).then_some(((names_at, num_names), (rows_at, num_rows)))
}

impl IndexReader {
    fn corrupt(&self, at: usize, why: impl Into<String>) -> StorageError {
        StorageError::corruption(self.path.clone(), at as u64, why)
    }

    fn u32_at(&self, at: usize) -> Result<u32> {
        be_u32(&self.map, at).ok_or_else(|| self.corrupt(at, "read past the end of the file"))
    }

    /// The file range of entry `i` of a table: from its offset to the next
    /// entry's offset (or the end of the data).
    fn entry(&self, t: &Table, i: u32) -> Result<Range<usize>> {
        let slot = t.offsets_at + 4 * i as usize;
        let start = self.u32_at(slot)? as usize;
        let end = if i + 1 < t.count {
            self.u32_at(slot + 4)? as usize
        } else {
            t.data.len()
        };
        if start > end || end > t.data.len() {
            return Err(self.corrupt(
                slot,
                format!("entry {i} spans {start}..{end} of {} bytes", t.data.len()),
            ));
        }
        Ok(t.data.start + start..t.data.start + end)
    }

    #[cfg(test)]
    /// Number of symbols (distinct label names and values).
    pub(crate) fn num_symbols(&self) -> u32 {
        self.symbols.count
    }

    /// Symbol `i`. Symbols ascend in byte order, so comparing indexes
    /// compares strings.
    pub(crate) fn symbol(&self, i: u32) -> Result<&str> {
        if i >= self.symbols.count {
            return Err(self.corrupt(
                self.symbols.offsets_at,
                format!("symbol {i} of {}", self.symbols.count),
            ));
        }
        let r = self.entry(&self.symbols, i)?;
        let bytes = self.map.get(r.clone()).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| self.corrupt(r.start, "symbol is not UTF-8"))
    }

    /// The index of symbol `s`, or where it would be inserted.
    fn find_symbol(&self, s: &str) -> Result<std::result::Result<u32, u32>> {
        let (mut lo, mut hi) = (0u32, self.symbols.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.symbol(mid)?.cmp(s) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Ok(mid)),
            }
        }
        Ok(Err(lo))
    }

    pub(super) fn decode_series(&self, id: u32) -> Result<(Labels, Vec<ChunkMeta>)> {
        if id >= self.series.count {
            return Err(self.corrupt(
                self.series.offsets_at,
                format!("series {id} of {}", self.series.count),
            ));
        }
        let r = self.entry(&self.series, id)?;
        let buf = self.map.get(r.clone()).unwrap_or_default();
        let mut pos = 0usize;
        let mut next = |what: &str| {
            get_uvarint(buf, &mut pos)
                .ok_or_else(|| self.corrupt(r.start + pos, format!("series {id}: bad {what}")))
        };
        let n = next("label count")?;
        let mut labels: Vec<Label> = Vec::with_capacity((n as usize).min(buf.len()));
        for _ in 0..n {
            let name = self.symbol_ref(next("label name")?, r.start)?;
            let value = self.symbol_ref(next("label value")?, r.start)?;
            if value.is_empty() || labels.last().is_some_and(|l| l.name.as_str() >= name) {
                return Err(
                    self.corrupt(r.start, format!("series {id}: labels not sorted or empty"))
                );
            }
            labels.push(Label {
                name: name.into(),
                value: value.into(),
            });
        }
        let chunks = self.decode_chunks(buf, pos, r.start, id)?;
        Ok((Labels::from_sorted_unchecked(labels), chunks))
    }

    fn symbol_ref(&self, v: u64, at: usize) -> Result<&str> {
        let i = u32::try_from(v)
            .map_err(|_| self.corrupt(at, format!("symbol reference {v} too large")))?;
        self.symbol(i)
    }

    fn decode_chunks(
        &self,
        buf: &[u8],
        mut pos: usize,
        base: usize,
        id: u32,
    ) -> Result<Vec<ChunkMeta>> {
        let bad =
            |pos: usize, what: &str| self.corrupt(base + pos, format!("series {id}: bad {what}"));
        let n = get_uvarint(buf, &mut pos).ok_or_else(|| bad(pos, "chunk count"))?;
        let mut out = Vec::with_capacity((n as usize).min(buf.len()));
        let mut prev_maxt = 0i64;
        for i in 0..n {
            let d = get_varint(buf, &mut pos).ok_or_else(|| bad(pos, "chunk mint"))?;
            let mint = if i == 0 { d } else { prev_maxt.wrapping_add(d) };
            let span = get_varint(buf, &mut pos).ok_or_else(|| bad(pos, "chunk maxt"))?;
            let chunk_ref = get_uvarint(buf, &mut pos).ok_or_else(|| bad(pos, "chunk ref"))?;
            let maxt = mint.wrapping_add(span);
            out.push(ChunkMeta {
                mint,
                maxt,
                chunk_ref,
            });
            prev_maxt = maxt;
        }
        if pos != buf.len() {
            return Err(bad(pos, "trailing bytes"));
        }
        Ok(out)
    }

    #[cfg(test)]
    /// Finds the id of the series with exactly these labels.
    pub(crate) fn find_series(&self, labels: &Labels) -> Result<Option<u32>> {
        let (mut lo, mut hi) = (0u32, self.series.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.decode_series(mid)?.0.cmp(labels) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(mid)),
            }
        }
        Ok(None)
    }

    /// All label names, ascending.
    pub(crate) fn label_names(&self) -> Result<Vec<String>> {
        (0..self.names.1)
            .map(|i| Ok(self.symbol(self.name_row(i)?[0])?.to_owned()))
            .collect()
    }

    fn row(&self, table: (usize, u32), i: u32) -> Result<[u32; 3]> {
        let at = table.0 + ROW_LEN * i as usize;
        Ok([self.u32_at(at)?, self.u32_at(at + 4)?, self.u32_at(at + 8)?])
    }

    fn name_row(&self, i: u32) -> Result<[u32; 3]> {
        self.row(self.names, i)
    }

    /// The value rows of label `name`, as a range of row numbers.
    fn rows_of(&self, name: &str) -> Result<Range<u32>> {
        let Ok(sym) = self.find_symbol(name)? else {
            return Ok(0..0);
        };
        let (mut lo, mut hi) = (0u32, self.names.1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let [n, first, count] = self.name_row(mid)?;
            match n.cmp(&sym) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let end = first.checked_add(count).filter(|&e| e <= self.rows.1);
                    let end = end.ok_or_else(|| {
                        self.corrupt(self.names.0, format!("name row {mid} out of range"))
                    })?;
                    return Ok(first..end);
                }
            }
        }
        Ok(0..0)
    }

    /// Decodes the postings list that value row `i` points at.
    fn row_postings(&self, value_row: [u32; 3]) -> Result<RoaringBitmap> {
        let [_, at, len] = value_row;
        let start = self.postings.start.checked_add(at as usize);
        let end = start
            .and_then(|s| s.checked_add(len as usize))
            .filter(|&e| e <= self.postings.end);
        let (Some(start), Some(end)) = (start, end) else {
            return Err(self.corrupt(
                self.postings.start,
                format!("postings {at}+{len} outside their section"),
            ));
        };
        let bytes = self.map.get(start..end).unwrap_or_default();
        roaring_check::check(bytes).map_err(|(off, why)| self.corrupt(start + off, why))?;
        let ids = RoaringBitmap::deserialize_from(bytes)
            .map_err(|e| self.corrupt(start, e.to_string()))?;
        if ids.max().is_some_and(|m| m >= self.series.count) {
            return Err(self.corrupt(
                start,
                format!("postings name series beyond {}", self.series.count),
            ));
        }
        Ok(ids)
    }
}

impl PostingsSource for IndexReader {
    fn all_series(&self) -> Result<RoaringBitmap> {
        let mut all = RoaringBitmap::new();
        all.insert_range(0..self.series.count);
        Ok(all)
    }

    fn postings(&self, name: &str, value: &str) -> Result<RoaringBitmap> {
        let rows = self.rows_of(name)?;
        let Ok(sym) = self.find_symbol(value)? else {
            return Ok(RoaringBitmap::new());
        };
        let (mut lo, mut hi) = (rows.start, rows.end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let row = self.row(self.rows, mid)?;
            match row[0].cmp(&sym) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.row_postings(row),
            }
        }
        Ok(RoaringBitmap::new())
    }

    fn scan_values(
        &self,
        name: &str,
        from: &str,
        f: &mut dyn FnMut(&str, &RoaringBitmap) -> bool,
    ) -> Result<()> {
        let rows = self.rows_of(name)?;
        // Symbol order is byte order, so the first value >= `from` is the
        // first row whose symbol index reaches `from`'s insertion point.
        let first_sym = self.find_symbol(from)?.unwrap_or_else(|at| at);
        let (mut lo, mut hi) = (rows.start, rows.end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.row(self.rows, mid)?[0] < first_sym {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for i in lo..rows.end {
            let row = self.row(self.rows, i)?;
            if !f(self.symbol(row[0])?, &self.row_postings(row)?) {
                break;
            }
        }
        Ok(())
    }

    fn names(&self) -> Result<Vec<String>> {
        self.label_names()
    }
}

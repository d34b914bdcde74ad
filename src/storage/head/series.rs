//! One in-memory series: closed Gorilla chunks, the chunk being appended to,
//! and a sorted buffer of out-of-order samples.

use crate::model::Sample;
use crate::storage::chunk::{XorAppender, XorIter};
use crate::storage::error::{Result, StorageError};

/// A chunk is cut after this many samples.
pub(crate) const SAMPLES_PER_CHUNK: usize = 120;
/// Smallest and largest buffer a new open chunk gets.
const MIN_CHUNK_CAP: usize = 48;
const MAX_CHUNK_CAP: usize = 2048;

/// An immutable chunk of at most [`SAMPLES_PER_CHUNK`] samples.
#[derive(Debug, Clone)]
pub(crate) struct HeadChunk {
    pub mint: i64,
    pub maxt: i64,
    pub count: u16,
    pub bytes: Box<[u8]>,
}

impl HeadChunk {
    /// Decodes the chunk's samples into `out`.
    pub fn decode_into(&self, out: &mut Vec<Sample>) -> Result<()> {
        decode_xor(&self.bytes, self.count as usize, out)
    }
}

fn decode_xor(bytes: &[u8], count: usize, out: &mut Vec<Sample>) -> Result<()> {
    for s in XorIter::new(bytes, count) {
        out.push(s.map_err(|e| StorageError::corruption("head chunk", e.offset as u64, e.reason))?);
    }
    Ok(())
}

#[derive(Debug)]
struct OpenChunk {
    mint: i64,
    app: XorAppender,
}

/// A series in the head.
#[derive(Debug)]
pub(crate) struct MemSeries {
    closed: Vec<HeadChunk>,
    open: Option<OpenChunk>,
    /// Out-of-order samples, sorted by time, all older than `maxt`.
    ooo: Vec<Sample>,
    /// Newest timestamp ever accepted; `i64::MIN` before the first sample.
    pub maxt: i64,
    next_cap: u16,
}

/// Where a sample would go, decided before it is written to the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Newer than every sample: appended to the open chunk.
    InOrder,
    /// Older than the newest sample, within the out-of-order window.
    OutOfOrder,
}

impl MemSeries {
    /// A series with no samples.
    pub fn new() -> MemSeries {
        MemSeries {
            closed: Vec::new(),
            open: None,
            ooo: Vec::new(),
            maxt: i64::MIN,
            next_cap: 128,
        }
    }

    /// Whether the series holds no samples.
    pub fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.is_none() && self.ooo.is_empty()
    }

    /// Oldest sample time, if any.
    pub fn min_time(&self) -> Option<i64> {
        let chunk_min = self
            .closed
            .first()
            .map(|c| c.mint)
            .or(self.open.as_ref().map(|o| o.mint));
        match (chunk_min, self.ooo.first().map(|s| s.t)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Number of chunks held (closed and open).
    pub fn num_chunks(&self) -> usize {
        self.closed.len() + usize::from(self.open.is_some())
    }

    /// Appends a sample newer than every stored one. Cuts the open chunk at
    /// [`SAMPLES_PER_CHUNK`] samples, when its buffer is full, or when `t`
    /// falls in another block range than the chunk's first sample. Only a
    /// cut allocates.
    pub fn append_in_order(&mut self, t: i64, v: f64, block_range: i64) {
        debug_assert!(t > self.maxt);
        let needs_cut = match &self.open {
            None => true,
            Some(o) => {
                o.app.num_samples() >= SAMPLES_PER_CHUNK
                    || !o.app.has_room()
                    || t.div_euclid(block_range) != o.mint.div_euclid(block_range)
            }
        };
        if needs_cut {
            self.cut(t);
        }
        if let Some(o) = self.open.as_mut() {
            o.app.append(t, v);
        }
        self.maxt = t;
    }

    fn cut(&mut self, mint: i64) {
        if let Some(o) = self.open.take() {
            let n = o.app.num_samples().max(1);
            let used = o.app.bytes().len();
            let predicted = used * SAMPLES_PER_CHUNK / n + XorAppender::MAX_SAMPLE_BYTES + 8;
            self.next_cap = predicted.clamp(MIN_CHUNK_CAP, MAX_CHUNK_CAP) as u16;
            if let Some(last) = o.app.last() {
                self.closed.push(HeadChunk {
                    mint: o.mint,
                    maxt: last.t,
                    count: o.app.num_samples() as u16,
                    bytes: o.app.bytes().into(),
                });
            }
        }
        self.open = Some(OpenChunk {
            mint,
            app: XorAppender::with_capacity(self.next_cap as usize),
        });
    }

    /// Inserts an out-of-order sample (older than `maxt`, not a duplicate).
    pub fn insert_ooo(&mut self, s: Sample) {
        let pos = self.ooo.partition_point(|x| x.t < s.t);
        self.ooo.insert(pos, s);
    }

    /// The stored value bits at exactly `t`, if a sample exists there.
    pub fn value_bits_at(&self, t: i64) -> Result<Option<u64>> {
        if let Ok(i) = self.ooo.binary_search_by_key(&t, |s| s.t) {
            return Ok(Some(self.ooo[i].v.to_bits()));
        }
        let mut buf = Vec::new();
        for c in self.closed.iter().filter(|c| c.mint <= t && t <= c.maxt) {
            c.decode_into(&mut buf)?;
        }
        if let Some(o) = self.open.as_ref().filter(|o| o.mint <= t) {
            decode_xor(o.app.bytes(), o.app.num_samples(), &mut buf)?;
        }
        Ok(buf.iter().find(|s| s.t == t).map(|s| s.v.to_bits()))
    }

    /// Appends the samples with `mint <= t <= maxt` to `out`, in time order.
    pub fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        let start = out.len();
        for c in self
            .closed
            .iter()
            .filter(|c| c.maxt >= mint && c.mint <= maxt)
        {
            c.decode_into(out)?;
        }
        if let Some(o) = self.open.as_ref().filter(|o| o.mint <= maxt) {
            decode_xor(o.app.bytes(), o.app.num_samples(), out)?;
        }
        let ooo = self.ooo.iter().filter(|s| s.t >= mint && s.t <= maxt);
        retain_range(out, start, mint, maxt);
        if self.ooo.is_empty() {
            return Ok(());
        }
        let in_order: Vec<Sample> = out.drain(start..).collect();
        merge_sorted(&in_order, ooo, out);
        Ok(())
    }

    /// Whether any sample lies in `[mint, maxt]`, judged by chunk bounds.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        let chunk = |a: i64, b: i64| b >= mint && a <= maxt;
        self.closed.iter().any(|c| chunk(c.mint, c.maxt))
            || self.open.as_ref().is_some_and(|o| chunk(o.mint, self.maxt))
            || self.ooo.iter().any(|s| s.t >= mint && s.t <= maxt)
    }

    /// Drops every sample older than `before`. Chunks that straddle the
    /// boundary are re-encoded with the samples that remain.
    pub fn truncate_before(&mut self, before: i64, block_range: i64) -> Result<()> {
        self.ooo.retain(|s| s.t >= before);
        let straddling = self
            .closed
            .iter()
            .any(|c| c.mint < before && c.maxt >= before)
            || self
                .open
                .as_ref()
                .is_some_and(|o| o.mint < before && self.maxt >= before);
        self.closed.retain(|c| c.maxt >= before);
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.app.last().map_or(true, |l| l.t < before))
        {
            self.open = None;
        }
        if straddling {
            let mut keep = Vec::new();
            for c in &self.closed {
                c.decode_into(&mut keep)?;
            }
            if let Some(o) = &self.open {
                decode_xor(o.app.bytes(), o.app.num_samples(), &mut keep)?;
            }
            keep.retain(|s| s.t >= before);
            self.closed.clear();
            self.open = None;
            let maxt = self.maxt;
            self.maxt = i64::MIN;
            for s in keep {
                self.append_in_order(s.t, s.v, block_range);
            }
            self.maxt = maxt;
        }
        Ok(())
    }
}

fn retain_range(out: &mut Vec<Sample>, start: usize, mint: i64, maxt: i64) {
    let mut w = start;
    for r in start..out.len() {
        let s = out[r];
        if s.t >= mint && s.t <= maxt {
            out[w] = s;
            w += 1;
        }
    }
    out.truncate(w);
}

fn merge_sorted<'a>(a: &[Sample], b: impl Iterator<Item = &'a Sample>, out: &mut Vec<Sample>) {
    let mut b = b.peekable();
    for s in a {
        while let Some(o) = b.next_if(|o| o.t < s.t) {
            out.push(*o);
        }
        out.push(*s);
    }
    out.extend(b.copied());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::stale_nan;

    const RANGE: i64 = 7_200_000;

    fn all(s: &MemSeries) -> Vec<Sample> {
        let mut out = Vec::new();
        s.samples_in(i64::MIN, i64::MAX, &mut out).unwrap();
        out
    }

    #[test]
    fn cuts_at_120_samples() {
        let mut s = MemSeries::new();
        for i in 0..241 {
            s.append_in_order(i * 15_000, i as f64, i64::MAX);
        }
        assert_eq!(s.num_chunks(), 3);
        assert_eq!(all(&s).len(), 241);
    }

    #[test]
    fn cuts_at_block_boundary() {
        let mut s = MemSeries::new();
        s.append_in_order(RANGE - 1, 1.0, RANGE);
        s.append_in_order(RANGE, 2.0, RANGE);
        assert_eq!(s.num_chunks(), 2);
    }

    #[test]
    fn merges_out_of_order_samples_in_time_order() {
        let mut s = MemSeries::new();
        s.append_in_order(10, 1.0, RANGE);
        s.append_in_order(30, 3.0, RANGE);
        s.insert_ooo(Sample::new(20, 2.0));
        s.insert_ooo(Sample::new(5, stale_nan()));
        let got: Vec<i64> = all(&s).iter().map(|s| s.t).collect();
        assert_eq!(got, [5, 10, 20, 30]);
        assert_eq!(s.value_bits_at(5).unwrap(), Some(stale_nan().to_bits()));
        assert_eq!(s.value_bits_at(30).unwrap(), Some(3.0f64.to_bits()));
        assert_eq!(s.value_bits_at(31).unwrap(), None);
        assert_eq!(s.min_time(), Some(5));
    }

    #[test]
    fn truncation_keeps_newer_samples() {
        let mut s = MemSeries::new();
        for i in 0..300 {
            s.append_in_order(i, i as f64, RANGE);
        }
        s.insert_ooo(Sample::new(-5, 0.5));
        s.truncate_before(150, RANGE).unwrap();
        let got = all(&s);
        assert_eq!(got.len(), 150);
        assert_eq!(got[0].t, 150);
        assert_eq!(s.maxt, 299);
        s.truncate_before(300, RANGE).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn range_filter_is_inclusive() {
        let mut s = MemSeries::new();
        for i in 0..10 {
            s.append_in_order(i * 10, i as f64, RANGE);
        }
        let mut out = Vec::new();
        s.samples_in(20, 40, &mut out).unwrap();
        assert_eq!(out.iter().map(|s| s.t).collect::<Vec<_>>(), [20, 30, 40]);
        assert!(s.overlaps(85, 100));
        assert!(!s.overlaps(91, 99));
    }
}

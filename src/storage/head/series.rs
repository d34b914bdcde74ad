//! One in-memory series: closed Gorilla chunks, the chunk being appended to,
//! and a sorted buffer of out-of-order samples.

use super::histograms::HeadHistograms;
use crate::model::{Histogram, HistogramSample, Sample};
use crate::storage::chunk::{
    decode_block_chunk, decode_xor_into, encode_block_chunk, StWriter, XorAppender,
};
use crate::storage::error::{Result, StorageError};

/// A chunk is cut after this many samples.
pub(crate) const SAMPLES_PER_CHUNK: usize = 120;
/// Smallest and largest buffer a new open chunk gets.
const MIN_CHUNK_CAP: usize = 48;
const MAX_CHUNK_CAP: usize = 2048;

/// How a closed head chunk's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkEncoding {
    /// Gorilla XOR, as appended.
    Xor,
    /// The block encoding, which is smaller on exact decimals.
    Block,
}

/// An immutable chunk of at most [`SAMPLES_PER_CHUNK`] samples. Its bytes
/// live in the series' [`ClosedChunks::bytes`], after those of the chunks before it.
#[derive(Debug, Clone)]
pub(crate) struct HeadChunk {
    pub mint: i64,
    /// `maxt - mint`: a chunk never spans more than u32::MAX ms
    /// (`append_in_order` cuts before), and the struct stays at 24 bytes.
    maxt_delta: u32,
    len: u32,
    pub count: u16,
    pub encoding: ChunkEncoding,
}

impl HeadChunk {
    /// Time of the chunk's last sample.
    pub fn maxt(&self) -> i64 {
        self.mint.saturating_add(i64::from(self.maxt_delta))
    }

    /// Decodes the chunk's samples (its `bytes`) into `out`.
    fn decode_into(&self, bytes: &[u8], out: &mut Vec<Sample>) -> Result<()> {
        match self.encoding {
            ChunkEncoding::Xor => decode_xor(bytes, self.count as usize, out),
            ChunkEncoding::Block => decode_block_chunk(bytes, out)
                .map(|_| ())
                .map_err(|e| StorageError::corruption("head chunk", e.offset as u64, e.reason)),
        }
    }
}

/// A series' closed chunks: their metas, and all their bytes in one buffer.
///
/// One buffer per series instead of one allocation per chunk saves the
/// allocator's per-block overhead, which is a large share of a small chunk.
/// Both vectors grow by exactly what is added.
#[derive(Debug, Default)]
pub(crate) struct ClosedChunks {
    metas: Vec<HeadChunk>,
    bytes: Vec<u8>,
}

impl ClosedChunks {
    /// Closes an appended XOR chunk, re-encoding it with the block encoding
    /// when that is smaller (usually a half to a third of the size on
    /// counters and rounded gauges). Memory per head series is dominated by
    /// closed chunks, and they are never appended to again.
    fn push(&mut self, mint: i64, app: &XorAppender) {
        let Some(last) = app.last() else { return };
        let xor = app.bytes();
        let maxt_delta = u32::try_from(last.t.saturating_sub(mint)).unwrap_or(u32::MAX);
        let mut meta = HeadChunk {
            mint,
            maxt_delta,
            len: 0,
            count: app.num_samples() as u16,
            encoding: ChunkEncoding::Xor,
        };
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let (samples, block) = &mut *scratch;
            samples.clear();
            block.clear();
            let decoded = decode_xor_into(xor, app.num_samples(), samples);
            let chosen: &[u8] = if decoded.is_ok() && !samples.is_empty() && {
                encode_block_chunk(samples, block);
                block.len() < xor.len()
            } {
                meta.encoding = ChunkEncoding::Block;
                block
            } else {
                xor
            };
            meta.len = chosen.len() as u32;
            self.bytes.reserve_exact(chosen.len());
            self.bytes.extend_from_slice(chosen);
        });
        self.metas.reserve_exact(1);
        self.metas.push(meta);
    }

    /// Each chunk with its bytes, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&HeadChunk, &[u8])> {
        let mut off = 0usize;
        self.metas.iter().map(move |m| {
            let start = off;
            off += m.len as usize;
            (m, self.bytes.get(start..off).unwrap_or_default())
        })
    }

    fn len(&self) -> usize {
        self.metas.len()
    }

    fn is_empty(&self) -> bool {
        self.metas.is_empty()
    }

    fn first(&self) -> Option<&HeadChunk> {
        self.metas.first()
    }

    /// Drops the leading chunks whose every sample is older than `before`.
    fn drop_before(&mut self, before: i64) {
        let n = self.metas.iter().take_while(|m| m.maxt() < before).count();
        if n == 0 {
            return;
        }
        let bytes: usize = self.metas[..n].iter().map(|m| m.len as usize).sum();
        self.metas.drain(..n);
        self.bytes.drain(..bytes.min(self.bytes.len()));
        self.metas.shrink_to_fit();
        self.bytes.shrink_to_fit();
    }

    fn clear(&mut self) {
        *self = ClosedChunks::default();
    }
}

thread_local! {
    /// Buffers for re-encoding chunks, so closing a chunk allocates only its result.
    static SCRATCH: std::cell::RefCell<(Vec<Sample>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

fn decode_xor(bytes: &[u8], count: usize, out: &mut Vec<Sample>) -> Result<()> {
    decode_xor_into(bytes, count, out)
        .map_err(|e| StorageError::corruption("head chunk", e.offset as u64, e.reason))
}

#[derive(Debug)]
struct OpenChunk {
    mint: i64,
    app: XorAppender,
}

/// A series in the head.
#[derive(Debug)]
pub(crate) struct MemSeries {
    closed: ClosedChunks,
    open: Option<OpenChunk>,
    /// What most series never have: out-of-order samples and start
    /// timestamps. Boxed and optional, so a series without either pays one
    /// pointer for both.
    pub(super) side: Option<Box<Side>>,
    /// Newest timestamp ever accepted; `i64::MIN` before the first sample.
    pub maxt: i64,
    next_cap: u16,
}

/// The rarely used parts of a series, allocated on first use.
#[derive(Debug, Default)]
pub(crate) struct Side {
    /// Out-of-order samples, sorted by time, all older than `maxt`.
    pub ooo: Vec<Sample>,
    /// Start timestamps of the samples that have one (see `start_times.rs`).
    pub sts: StWriter,
    /// Native histogram samples (see `histograms.rs`).
    pub hist: HeadHistograms,
}

impl Side {
    fn is_empty(&self) -> bool {
        self.ooo.is_empty() && self.sts.is_empty() && self.hist.is_empty()
    }
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
            closed: ClosedChunks::default(),
            open: None,
            side: None,
            maxt: i64::MIN,
            next_cap: 128,
        }
    }

    fn ooo(&self) -> &[Sample] {
        self.side.as_deref().map_or(&[], |v| v.ooo.as_slice())
    }

    fn hist(&self) -> Option<&HeadHistograms> {
        self.side.as_deref().map(|s| &s.hist)
    }

    /// Whether the series holds no samples.
    pub fn is_empty(&self) -> bool {
        self.closed.is_empty()
            && self.open.is_none()
            && self.ooo().is_empty()
            && self.hist().is_none_or(|h| h.is_empty())
    }

    /// Oldest sample time, if any.
    pub fn min_time(&self) -> Option<i64> {
        let chunk_min = self
            .closed
            .first()
            .map(|c| c.mint)
            .or(self.open.as_ref().map(|o| o.mint));
        [
            chunk_min,
            self.ooo().first().map(|s| s.t),
            self.hist().and_then(|h| h.min_time()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Number of chunks held (closed and open, floats and histograms).
    pub fn num_chunks(&self) -> usize {
        self.closed.len()
            + usize::from(self.open.is_some())
            + self.hist().map_or(0, |h| h.num_chunks())
    }

    /// Appends a histogram newer than every stored sample.
    pub fn append_histogram_in_order(&mut self, s: HistogramSample, block_range: i64) {
        debug_assert!(s.t > self.maxt);
        self.maxt = s.t;
        let side = self.side.get_or_insert_with(Default::default);
        side.hist.append_in_order(s, block_range);
    }

    /// Inserts an out-of-order histogram (older than `maxt`, not a duplicate).
    pub fn insert_histogram_ooo(&mut self, s: HistogramSample) {
        let side = self.side.get_or_insert_with(Default::default);
        side.hist.insert_ooo(s);
    }

    /// The histogram stored at exactly `t`, if any.
    pub fn histogram_at(&self, t: i64) -> Result<Option<Histogram>> {
        match self.hist() {
            Some(h) => h.at(t),
            None => Ok(None),
        }
    }

    /// Appends the histograms with `mint <= t <= maxt` to `out`, in time order.
    pub fn histograms_in(
        &self,
        mint: i64,
        maxt: i64,
        out: &mut Vec<HistogramSample>,
    ) -> Result<()> {
        match self.hist() {
            Some(h) => h.samples_in(mint, maxt, out),
            None => Ok(()),
        }
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
                    || t.saturating_sub(o.mint) > i64::from(u32::MAX)
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
            let predicted = used * SAMPLES_PER_CHUNK / n + XorAppender::MAX_SAMPLE_BYTES;
            self.next_cap = predicted.clamp(MIN_CHUNK_CAP, MAX_CHUNK_CAP) as u16;
            self.closed.push(o.mint, &o.app);
        }
        self.open = Some(OpenChunk {
            mint,
            app: XorAppender::with_capacity(self.next_cap as usize),
        });
    }

    /// Inserts an out-of-order sample (older than `maxt`, not a duplicate).
    pub fn insert_ooo(&mut self, s: Sample) {
        let ooo = &mut self.side.get_or_insert_with(Default::default).ooo;
        let pos = ooo.partition_point(|x| x.t < s.t);
        ooo.insert(pos, s);
    }

    /// The stored value bits at exactly `t`, if a sample exists there.
    pub fn value_bits_at(&self, t: i64) -> Result<Option<u64>> {
        if let Ok(i) = self.ooo().binary_search_by_key(&t, |s| s.t) {
            return Ok(Some(self.ooo()[i].v.to_bits()));
        }
        let mut buf = Vec::new();
        for (c, bytes) in self
            .closed
            .iter()
            .filter(|(c, _)| c.mint <= t && t <= c.maxt())
        {
            c.decode_into(bytes, &mut buf)?;
        }
        if let Some(o) = self.open.as_ref().filter(|o| o.mint <= t) {
            decode_xor(o.app.bytes(), o.app.num_samples(), &mut buf)?;
        }
        Ok(buf.iter().find(|s| s.t == t).map(|s| s.v.to_bits()))
    }

    /// Appends the samples with `mint <= t <= maxt` to `out`, in time order.
    pub fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        let start = out.len();
        let overlapping = |c: &HeadChunk| c.maxt() >= mint && c.mint <= maxt;
        let open = self.open.as_ref().filter(|o| o.mint <= maxt);
        let closed_n: usize = self
            .closed
            .metas
            .iter()
            .filter(|c| overlapping(c))
            .map(|c| usize::from(c.count))
            .sum();
        out.reserve(closed_n + open.map_or(0, |o| o.app.num_samples()));
        for (c, bytes) in self.closed.iter().filter(|(c, _)| overlapping(c)) {
            c.decode_into(bytes, out)?;
        }
        if let Some(o) = open {
            decode_xor(o.app.bytes(), o.app.num_samples(), out)?;
        }
        let ooo = self.ooo().iter().filter(|s| s.t >= mint && s.t <= maxt);
        retain_range(out, start, mint, maxt);
        if self.ooo().is_empty() {
            return Ok(());
        }
        let in_order: Vec<Sample> = out.drain(start..).collect();
        merge_sorted(&in_order, ooo, out);
        Ok(())
    }

    /// Whether any sample lies in `[mint, maxt]`, judged by chunk bounds.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        let chunk = |a: i64, b: i64| b >= mint && a <= maxt;
        self.closed.iter().any(|(c, _)| chunk(c.mint, c.maxt()))
            || self.open.as_ref().is_some_and(|o| chunk(o.mint, self.maxt))
            || self.ooo().iter().any(|s| s.t >= mint && s.t <= maxt)
            || self.hist().is_some_and(|h| h.overlaps(mint, maxt))
    }

    /// Drops every sample older than `before`. Chunks that straddle the
    /// boundary are re-encoded with the samples that remain.
    pub fn truncate_before(&mut self, before: i64, block_range: i64) -> Result<()> {
        if let Some(side) = self.side.as_mut() {
            side.ooo.retain(|s| s.t >= before);
            side.hist.truncate_before(before, block_range)?;
        }
        self.truncate_start_times(before)?;
        if self.side.as_ref().is_some_and(|s| s.is_empty()) {
            self.side = None;
        }
        let straddling = self
            .closed
            .iter()
            .any(|(c, _)| c.mint < before && c.maxt() >= before)
            || self
                .open
                .as_ref()
                .is_some_and(|o| o.mint < before && self.maxt >= before);
        self.closed.drop_before(before);
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.app.last().is_none_or(|l| l.t < before))
        {
            self.open = None;
        }
        if straddling {
            let mut keep = Vec::new();
            for (c, bytes) in self.closed.iter() {
                c.decode_into(bytes, &mut keep)?;
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

/// Keeps, in `out[start..]`, only samples with `mint <= t <= maxt`.
pub(crate) fn retain_range(out: &mut Vec<Sample>, start: usize, mint: i64, maxt: i64) {
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
    fn closed_chunks_take_the_smaller_encoding_and_stay_exact() {
        let mut dec = MemSeries::new();
        let mut odd = MemSeries::new();
        let counter =
            |i: i64| (12_345_678 + (0..=i).map(|k| k * 37 % 101).sum::<i64>()) as f64 / 100.0;
        for i in 0..240 {
            dec.append_in_order(i * 15_000, counter(i), i64::MAX);
            odd.append_in_order(
                i * 15_000,
                f64::from_bits(
                    0x3ff0_0000_0000_0000 ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 12,
                ),
                i64::MAX,
            );
        }
        assert_eq!(dec.closed.metas[0].encoding, ChunkEncoding::Block);
        assert_eq!(odd.closed.metas[0].encoding, ChunkEncoding::Xor);
        for s in [&dec, &odd] {
            let got = all(s);
            assert_eq!(got.len(), 240);
            assert!(got.windows(2).all(|w| w[0].t < w[1].t));
        }
        assert_eq!(all(&dec)[13].v.to_bits(), counter(13).to_bits());
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

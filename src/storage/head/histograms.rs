//! A head series' native histograms: closed histogram chunks (the block
//! encoding, `chunk/histogram.rs`), the open run being appended to, and the
//! out-of-order ones. Lives in the series' side struct, so a series that
//! never had a histogram pays nothing for it.

use crate::model::{Histogram, HistogramSample};
use crate::storage::chunk::{decode_histogram_chunk, encode_histogram_chunk};
use crate::storage::error::{Result, StorageError};

/// Histograms per head chunk (as Prometheus cuts histogram chunks at 120).
pub(crate) const HISTOGRAMS_PER_CHUNK: usize = 120;

/// One closed, encoded histogram chunk.
#[derive(Debug)]
struct Closed {
    mint: i64,
    maxt: i64,
    bytes: Box<[u8]>,
}

impl Closed {
    fn decode_into(&self, out: &mut Vec<HistogramSample>) -> Result<()> {
        decode_histogram_chunk(&self.bytes, out)
            .map(|_| ())
            .map_err(|e| {
                StorageError::corruption("head histogram chunk", e.offset as u64, e.reason)
            })
    }
}

/// The histograms of one head series.
#[derive(Debug, Default)]
pub(crate) struct HeadHistograms {
    closed: Vec<Closed>,
    /// In-order histograms not yet in a closed chunk, time-ordered.
    open: Vec<HistogramSample>,
    /// Out-of-order histograms, sorted by time, all older than the
    /// series' newest sample when they arrived.
    ooo: Vec<HistogramSample>,
}

impl HeadHistograms {
    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.is_empty() && self.ooo.is_empty()
    }

    /// Closed and open chunks held.
    pub fn num_chunks(&self) -> usize {
        self.closed.len() + usize::from(!self.open.is_empty())
    }

    /// Oldest histogram time, if any.
    pub fn min_time(&self) -> Option<i64> {
        let in_order = self
            .closed
            .first()
            .map(|c| c.mint)
            .or(self.open.first().map(|s| s.t));
        [in_order, self.ooo.first().map(|s| s.t)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Appends a histogram newer than every sample of the series; cuts the
    /// open run into a chunk at [`HISTOGRAMS_PER_CHUNK`] or when `t` is in
    /// another block range than the run's first histogram.
    pub fn append_in_order(&mut self, s: HistogramSample, block_range: i64) {
        if let Some(first) = self.open.first() {
            if self.open.len() >= HISTOGRAMS_PER_CHUNK
                || s.t.div_euclid(block_range) != first.t.div_euclid(block_range)
            {
                self.cut();
            }
        }
        self.open.push(s);
    }

    fn cut(&mut self) {
        let (Some(first), Some(last)) = (self.open.first(), self.open.last()) else {
            return;
        };
        let (mint, maxt) = (first.t, last.t);
        let mut bytes = Vec::new();
        encode_histogram_chunk(&self.open, &mut bytes);
        self.closed.push(Closed {
            mint,
            maxt,
            bytes: bytes.into_boxed_slice(),
        });
        self.open = Vec::new();
    }

    /// Inserts an out-of-order histogram (not a duplicate).
    pub fn insert_ooo(&mut self, s: HistogramSample) {
        let pos = self.ooo.partition_point(|x| x.t < s.t);
        self.ooo.insert(pos, s);
    }

    /// The histogram stored at exactly `t`, if any.
    pub fn at(&self, t: i64) -> Result<Option<Histogram>> {
        let find = |v: &[HistogramSample]| {
            v.binary_search_by_key(&t, |s| s.t)
                .ok()
                .map(|i| v[i].h.clone())
        };
        if let Some(h) = find(&self.ooo).or_else(|| find(&self.open)) {
            return Ok(Some(h));
        }
        let mut buf = Vec::new();
        for c in self.closed.iter().filter(|c| c.mint <= t && t <= c.maxt) {
            c.decode_into(&mut buf)?;
        }
        Ok(find(&buf))
    }

    /// Appends the histograms with `mint <= t <= maxt` to `out`, in time order.
    pub fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<HistogramSample>) -> Result<()> {
        let start = out.len();
        for c in self
            .closed
            .iter()
            .filter(|c| c.maxt >= mint && c.mint <= maxt)
        {
            c.decode_into(out)?;
        }
        out.extend(
            self.open
                .iter()
                .filter(|s| s.t >= mint && s.t <= maxt)
                .cloned(),
        );
        out.extend(
            self.ooo
                .iter()
                .filter(|s| s.t >= mint && s.t <= maxt)
                .cloned(),
        );
        let mut mine = out.split_off(start);
        mine.retain(|s| s.t >= mint && s.t <= maxt);
        if !self.ooo.is_empty() {
            mine.sort_by_key(|s| s.t);
        }
        out.append(&mut mine);
        Ok(())
    }

    /// Whether any histogram lies in `[mint, maxt]`, judged by chunk bounds.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        let within = |t: i64| t >= mint && t <= maxt;
        self.closed.iter().any(|c| c.maxt >= mint && c.mint <= maxt)
            || self.open.iter().any(|s| within(s.t))
            || self.ooo.iter().any(|s| within(s.t))
    }

    /// Drops every histogram older than `before`; a chunk that straddles
    /// it is decoded and its newer histograms kept.
    pub fn truncate_before(&mut self, before: i64, block_range: i64) -> Result<()> {
        self.ooo.retain(|s| s.t >= before);
        if self.closed.iter().all(|c| c.mint >= before) {
            self.open.retain(|s| s.t >= before);
            return Ok(());
        }
        let mut keep = Vec::new();
        for c in self.closed.iter().filter(|c| c.maxt >= before) {
            c.decode_into(&mut keep)?;
        }
        keep.extend(std::mem::take(&mut self.open));
        keep.retain(|s| s.t >= before);
        self.closed.clear();
        for s in keep {
            self.append_in_order(s, block_range);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(t: i64, sum: f64) -> HistogramSample {
        HistogramSample {
            t,
            h: Histogram {
                sum,
                ..Histogram::empty_int(1)
            },
        }
    }

    fn all(h: &HeadHistograms) -> Vec<i64> {
        let mut out = Vec::new();
        h.samples_in(i64::MIN, i64::MAX, &mut out).unwrap();
        out.iter().map(|s| s.t).collect()
    }

    #[test]
    fn cuts_chunks_merges_out_of_order_and_truncates() {
        let mut h = HeadHistograms::default();
        assert!(h.is_empty() && h.min_time().is_none());
        for i in 0..250 {
            h.append_in_order(hs(i * 10, i as f64), i64::MAX);
        }
        assert_eq!(h.num_chunks(), 3);
        h.insert_ooo(hs(5, -1.0));
        assert_eq!(all(&h).len(), 251);
        assert_eq!(all(&h)[..3], [0, 5, 10]);
        assert_eq!(h.at(1230).unwrap().unwrap().sum, 123.0);
        assert_eq!(h.at(5).unwrap().unwrap().sum, -1.0);
        assert!(h.at(6).unwrap().is_none());
        let mut some = Vec::new();
        h.samples_in(1195, 1210, &mut some).unwrap();
        assert_eq!(some.iter().map(|s| s.t).collect::<Vec<_>>(), [1200, 1210]);
        assert!(h.overlaps(2490, 5000) && !h.overlaps(2491, 5000));
        h.truncate_before(1205, i64::MAX).unwrap();
        assert_eq!(all(&h).first(), Some(&1210));
        assert_eq!(all(&h).len(), 129);
        assert_eq!(h.min_time(), Some(1210));
        h.truncate_before(10_000, i64::MAX).unwrap();
        assert!(h.is_empty());
    }

    #[test]
    fn cuts_at_block_boundary() {
        let mut h = HeadHistograms::default();
        h.append_in_order(hs(99, 0.0), 100);
        h.append_in_order(hs(100, 0.0), 100);
        assert_eq!(h.num_chunks(), 2);
    }
}

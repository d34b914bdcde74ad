//! Start-timestamp streams: the start (created) timestamp of each sample
//! that has one, kept beside the samples instead of inside their encoding.
//!
//! Spec: "Start timestamp stream" in `storage-format.md`. Only samples with a
//! start timestamp (ST) are listed; a sample that is not listed has ST 0,
//! which means "unknown", as upstream. So a series that never had an ST
//! carries no stream at all and pays nothing, neither bytes nor time.
//!
//! An entry is `(t, st)`: the sample's timestamp and its ST. The stream
//! stores `t` as a delta against the previous entry and `d = t - st` as a
//! delta against the previous entry's `d`. Both common shapes then cost a
//! zero byte for the `d` part: a cumulative counter with a fixed ST has `d`
//! grow by the scrape interval (so the delta is the interval) and a delta
//! series whose ST is the previous sample's time has a constant `d`.

use super::ChunkDecodeError;
use crate::storage::varint::{get_uvarint, get_varint, put_uvarint, put_varint};

/// One sample's `(timestamp, start timestamp)`; the ST is never 0.
pub(crate) type StEntry = (i64, i64);

/// Smallest encoding of one entry: a one-byte `t` delta and a one-byte `d` delta.
const MIN_ENTRY_BYTES: usize = 2;

/// An append-only encoder of start timestamps in strictly increasing `t`.
/// Its bytes hold no count; [`StWriter::write_to`] adds one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StWriter {
    bytes: Vec<u8>,
    count: u32,
    last_t: i64,
    last_d: i64,
}

impl StWriter {
    /// Builds a stream from entries sorted by strictly increasing `t`.
    pub fn from_entries(entries: &[StEntry]) -> StWriter {
        let mut w = StWriter::default();
        for &(t, st) in entries {
            w.push(t, st);
        }
        w
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the stream holds no entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Timestamp of the last entry, if any.
    pub fn last_t(&self) -> Option<i64> {
        (self.count > 0).then_some(self.last_t)
    }

    /// Appends an entry. The caller keeps `t` strictly increasing and `st`
    /// non-zero (the head checks both before it calls).
    pub fn push(&mut self, t: i64, st: i64) {
        debug_assert!(st != 0 && (self.count == 0 || t > self.last_t));
        if self.count == 0 {
            put_varint(&mut self.bytes, t);
        } else {
            put_uvarint(&mut self.bytes, (t as u64).wrapping_sub(self.last_t as u64));
        }
        let d = t.wrapping_sub(st);
        put_varint(&mut self.bytes, d.wrapping_sub(self.last_d));
        self.last_t = t;
        self.last_d = d;
        self.count = self.count.saturating_add(1);
    }

    /// Decodes every entry into `out`.
    pub fn entries(&self, out: &mut Vec<StEntry>) -> Result<(), ChunkDecodeError> {
        decode_entries(&self.bytes, self.len(), out).map(|_| ())
    }

    /// Writes the stream with its count: `count <uvarint>` then the entries.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        put_uvarint(out, u64::from(self.count));
        out.extend_from_slice(&self.bytes);
    }
}

/// Decodes a stream written by [`StWriter::write_to`] that fills `bytes`
/// exactly, appending its entries to `out`. On error `out` is left as it was.
pub(crate) fn decode_st_stream(
    bytes: &[u8],
    out: &mut Vec<StEntry>,
) -> Result<(), ChunkDecodeError> {
    let mut pos = 0;
    let n = get_uvarint(bytes, &mut pos).ok_or(ChunkDecodeError {
        offset: 0,
        reason: "truncated start timestamp count",
    })?;
    let fits = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(MIN_ENTRY_BYTES))
        .is_some_and(|need| need <= bytes.len() - pos);
    if !fits {
        return Err(ChunkDecodeError {
            offset: 0,
            reason: "start timestamp count exceeds the stream",
        });
    }
    let body = &bytes[pos..];
    let used = decode_entries(body, n as usize, out).map_err(|e| ChunkDecodeError {
        offset: e.offset + pos,
        reason: e.reason,
    })?;
    if used != body.len() {
        out.truncate(out.len() - n as usize);
        return Err(ChunkDecodeError {
            offset: pos + used,
            reason: "trailing bytes after the start timestamps",
        });
    }
    Ok(())
}

/// Decodes `n` entries from the start of `bytes`; returns the bytes used.
fn decode_entries(
    bytes: &[u8],
    n: usize,
    out: &mut Vec<StEntry>,
) -> Result<usize, ChunkDecodeError> {
    let start = out.len();
    let res = decode_entries_inner(bytes, n, out);
    if res.is_err() {
        out.truncate(start);
    }
    res
}

fn decode_entries_inner(
    bytes: &[u8],
    n: usize,
    out: &mut Vec<StEntry>,
) -> Result<usize, ChunkDecodeError> {
    let mut pos = 0;
    let err = |offset: usize, reason| ChunkDecodeError { offset, reason };
    let (mut t, mut d) = (0i64, 0i64);
    out.reserve(n.min(bytes.len() / MIN_ENTRY_BYTES));
    for i in 0..n {
        let at = pos;
        if i == 0 {
            t = get_varint(bytes, &mut pos).ok_or(err(at, "truncated start timestamp time"))?;
        } else {
            let dt = get_uvarint(bytes, &mut pos)
                .ok_or(err(at, "truncated start timestamp time delta"))?;
            let next = t.wrapping_add(dt as i64);
            if dt == 0 || next <= t {
                return Err(err(at, "start timestamp times not increasing"));
            }
            t = next;
        }
        let at = pos;
        let dd = get_varint(bytes, &mut pos).ok_or(err(at, "truncated start timestamp delta"))?;
        d = d.wrapping_add(dd);
        let st = t.wrapping_sub(d);
        if st == 0 {
            return Err(err(at, "start timestamp 0 is never stored"));
        }
        out.push((t, st));
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(entries: &[StEntry]) -> Vec<StEntry> {
        let mut bytes = Vec::new();
        StWriter::from_entries(entries).write_to(&mut bytes);
        let mut out = Vec::new();
        decode_st_stream(&bytes, &mut out).unwrap();
        out
    }

    #[test]
    fn table() {
        let cases: &[&[StEntry]] = &[
            &[],
            &[(0, 1)],
            &[(i64::MIN, i64::MAX), (i64::MAX, i64::MIN)],
            &[(60_000, 1), (120_000, 1), (180_000, 1)],
            &[(60_000, 0 - 1), (120_000, 60_000), (180_000, 120_000)],
        ];
        for c in cases {
            assert_eq!(&round_trip(c), c);
        }
    }

    #[test]
    fn common_shapes_cost_little() {
        let cumulative: Vec<StEntry> = (1..=100).map(|i| (i * 15_000, 7)).collect();
        let delta: Vec<StEntry> = (1..=100).map(|i| (i * 15_000, (i - 1) * 15_000)).collect();
        for e in [cumulative, delta] {
            let w = StWriter::from_entries(&e);
            // First entry up to 20 bytes; then 2 bytes for the t delta and at most 3 for d.
            assert!(w.bytes.len() <= 20 + 99 * 5, "{}", w.bytes.len());
        }
    }

    #[test]
    fn rejects_bad_streams() {
        let bad: &[(&[u8], &str)] = &[
            (&[], "truncated start timestamp count"),
            (&[5, 0, 0], "start timestamp count exceeds the stream"),
            (&[1, 2, 2], "start timestamp 0 is never stored"),
            (&[1, 2, 1, 9], "trailing bytes after the start timestamps"),
            (&[2, 2, 1, 0, 0], "start timestamp times not increasing"),
        ];
        for (b, want) in bad {
            let mut out = vec![(1, 1)];
            let e = decode_st_stream(b, &mut out).unwrap_err();
            assert_eq!(e.reason, *want, "{b:?}");
            assert_eq!(out, vec![(1, 1)], "output untouched on error");
        }
    }

    fn entries() -> impl Strategy<Value = Vec<StEntry>> {
        proptest::collection::btree_map(any::<i64>(), any::<i64>(), 0..200).prop_map(|m| {
            m.into_iter()
                .map(|(t, st)| (t, if st == 0 { 1 } else { st }))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn prop_round_trip(e in entries()) {
            prop_assert_eq!(round_trip(&e), e);
        }

        #[test]
        fn prop_decoder_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            match decode_st_stream(&b, &mut out) {
                Ok(()) => prop_assert!(out.windows(2).all(|w| w[0].0 < w[1].0)),
                Err(e) => {
                    prop_assert!(e.offset <= b.len());
                    prop_assert!(out.is_empty());
                }
            }
        }
    }
}

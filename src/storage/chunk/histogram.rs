//! Native histograms on disk: the histogram value encoding (shared by the
//! WAL's histogram records and histogram chunks) and the histogram chunk.
//! See "Histogram value" and "Histogram chunk" in `storage-format.md`.
//!
//! The layout is plain varints and raw floats; inside blocks, zstd removes
//! most of the repetition between consecutive histograms of a series.

use super::ChunkDecodeError;
use crate::model::{CounterResetHint, Histogram, HistogramCounts, HistogramSample, Span};
use crate::storage::varint::{get_uvarint, get_varint, put_uvarint, put_varint};

/// Flags bit: the counts are floats.
const FLAG_FLOAT: u8 = 0x04;
/// Flags bits holding the counter-reset hint.
const HINT_MASK: u8 = 0x03;

/// Appends the encoding of `h` to `out`.
pub(crate) fn put_histogram(out: &mut Vec<u8>, h: &Histogram) {
    let float = h.is_float();
    out.push(h.reset_hint.code() | if float { FLAG_FLOAT } else { 0 });
    put_varint(out, i64::from(h.schema));
    out.extend_from_slice(&h.zero_threshold.to_bits().to_le_bytes());
    out.extend_from_slice(&h.sum.to_bits().to_le_bytes());
    let f64s = |out: &mut Vec<u8>, v: &[f64]| {
        put_uvarint(out, v.len() as u64);
        for x in v {
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
    };
    match &h.counts {
        HistogramCounts::Int {
            count, zero_count, ..
        } => {
            put_uvarint(out, *count);
            put_uvarint(out, *zero_count);
        }
        HistogramCounts::Float {
            count, zero_count, ..
        } => {
            out.extend_from_slice(&count.to_bits().to_le_bytes());
            out.extend_from_slice(&zero_count.to_bits().to_le_bytes());
        }
    }
    for spans in [&h.negative_spans, &h.positive_spans] {
        put_uvarint(out, spans.len() as u64);
        for s in spans {
            put_varint(out, i64::from(s.offset));
            put_uvarint(out, u64::from(s.length));
        }
    }
    match &h.counts {
        HistogramCounts::Int {
            positive_deltas,
            negative_deltas,
            ..
        } => {
            for d in [negative_deltas, positive_deltas] {
                put_uvarint(out, d.len() as u64);
                for x in d {
                    put_varint(out, *x);
                }
            }
        }
        HistogramCounts::Float {
            positive, negative, ..
        } => {
            f64s(out, negative);
            f64s(out, positive);
        }
    }
    f64s(out, &h.custom_values);
}

/// A bounds-checked reader over an encoded histogram or chunk.
pub(crate) struct HistReader<'a> {
    buf: &'a [u8],
    /// Next byte to read.
    pub(crate) pos: usize,
}

impl<'a> HistReader<'a> {
    /// A reader at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> HistReader<'a> {
        HistReader { buf, pos: 0 }
    }

    fn err(&self, reason: &'static str) -> ChunkDecodeError {
        ChunkDecodeError {
            offset: self.pos,
            reason,
        }
    }

    fn u8(&mut self) -> Result<u8, ChunkDecodeError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(self.err("truncated histogram"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64, ChunkDecodeError> {
        let at = self.pos;
        get_uvarint(self.buf, &mut self.pos).ok_or(ChunkDecodeError {
            offset: at,
            reason: "bad uvarint",
        })
    }

    pub(crate) fn varint(&mut self) -> Result<i64, ChunkDecodeError> {
        let at = self.pos;
        get_varint(self.buf, &mut self.pos).ok_or(ChunkDecodeError {
            offset: at,
            reason: "bad varint",
        })
    }

    fn f64(&mut self) -> Result<f64, ChunkDecodeError> {
        let b = self
            .buf
            .get(self.pos..self.pos + 8)
            .ok_or(self.err("truncated float"))?;
        self.pos += 8;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    /// A length prefix for elements of at least `min_bytes` each, checked
    /// against the bytes left before anything is allocated.
    fn len(&mut self, min_bytes: usize) -> Result<usize, ChunkDecodeError> {
        let n = self.uvarint()?;
        let left = (self.buf.len() - self.pos) as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return Err(self.err("length exceeds the bytes left"));
        }
        Ok(n as usize)
    }

    fn f64s(&mut self) -> Result<Vec<f64>, ChunkDecodeError> {
        let n = self.len(8)?;
        (0..n).map(|_| self.f64()).collect()
    }

    fn spans(&mut self) -> Result<Vec<Span>, ChunkDecodeError> {
        let n = self.len(2)?;
        (0..n)
            .map(|_| {
                let offset = i32::try_from(self.varint()?).map_err(|_| self.err("span offset"))?;
                let length = u32::try_from(self.uvarint()?).map_err(|_| self.err("span length"))?;
                Ok(Span { offset, length })
            })
            .collect()
    }

    /// Reads one histogram. It must pass [`Histogram::validate`]: what is
    /// stored was validated when it arrived, so anything else is damage.
    pub(crate) fn histogram(&mut self) -> Result<Histogram, ChunkDecodeError> {
        let start = self.pos;
        let flags = self.u8()?;
        if flags & !(HINT_MASK | FLAG_FLOAT) != 0 {
            return Err(ChunkDecodeError {
                offset: start,
                reason: "unknown histogram flags",
            });
        }
        let schema = i32::try_from(self.varint()?).map_err(|_| self.err("schema out of range"))?;
        let zero_threshold = self.f64()?;
        let sum = self.f64()?;
        let float = flags & FLAG_FLOAT != 0;
        let (fc, fz, ic, iz) = if float {
            (self.f64()?, self.f64()?, 0, 0)
        } else {
            (0.0, 0.0, self.uvarint()?, self.uvarint()?)
        };
        let negative_spans = self.spans()?;
        let positive_spans = self.spans()?;
        let counts = if float {
            let negative = self.f64s()?;
            let positive = self.f64s()?;
            HistogramCounts::Float {
                count: fc,
                zero_count: fz,
                positive,
                negative,
            }
        } else {
            let mut deltas = || -> Result<Vec<i64>, ChunkDecodeError> {
                let n = self.len(1)?;
                (0..n).map(|_| self.varint()).collect()
            };
            let negative_deltas = deltas()?;
            let positive_deltas = deltas()?;
            HistogramCounts::Int {
                count: ic,
                zero_count: iz,
                positive_deltas,
                negative_deltas,
            }
        };
        let custom_values = self.f64s()?;
        let h = Histogram {
            schema,
            reset_hint: CounterResetHint::from_code(u64::from(flags & HINT_MASK)),
            zero_threshold,
            sum,
            counts,
            positive_spans,
            negative_spans,
            custom_values,
        };
        if h.validate().is_err() {
            return Err(ChunkDecodeError {
                offset: start,
                reason: "invalid histogram",
            });
        }
        Ok(h)
    }

    /// Whether every byte was read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }
}

/// Appends a histogram chunk holding `samples` (time-ordered, strictly
/// increasing, non-empty) to `out`.
pub(crate) fn encode_histogram_chunk(samples: &[HistogramSample], out: &mut Vec<u8>) {
    let mut body = Vec::new();
    let mut prev = None;
    for s in samples {
        match prev {
            None => put_varint(&mut body, s.t),
            Some(p) => put_uvarint(&mut body, (s.t as u64).wrapping_sub(p as u64)),
        }
        prev = Some(s.t);
        put_histogram(&mut body, &s.h);
    }
    put_uvarint(out, samples.len() as u64);
    put_uvarint(out, body.len() as u64);
    out.extend_from_slice(&body);
}

/// Decodes one histogram chunk at the start of `bytes`, appending its
/// samples to `out`; returns the bytes consumed.
pub(crate) fn decode_histogram_chunk(
    bytes: &[u8],
    out: &mut Vec<HistogramSample>,
) -> Result<usize, ChunkDecodeError> {
    let mut head = HistReader::new(bytes);
    let count = head.uvarint()?;
    let body_len = head.uvarint()?;
    let body_start = head.pos;
    let body_end = body_start
        .checked_add(usize::try_from(body_len).unwrap_or(usize::MAX))
        .filter(|e| *e <= bytes.len())
        .ok_or(ChunkDecodeError {
            offset: body_start,
            reason: "chunk body past the end",
        })?;
    // Every sample takes at least 20 bytes (time, flags, schema, two floats).
    if count == 0 || count.saturating_mul(20) > body_len {
        return Err(ChunkDecodeError {
            offset: 0,
            reason: "bad histogram chunk sample count",
        });
    }
    let mut r = HistReader::new(&bytes[body_start..body_end]);
    let start = out.len();
    let mut t = 0i64;
    for i in 0..count {
        if i == 0 {
            t = r.varint()?;
        } else {
            let d = r.uvarint()?;
            let next = (t as u64).wrapping_add(d) as i64;
            if d == 0 || next <= t {
                out.truncate(start);
                return Err(ChunkDecodeError {
                    offset: body_start + r.pos,
                    reason: "histogram timestamps do not increase",
                });
            }
            t = next;
        }
        let h = r.histogram().map_err(|e| ChunkDecodeError {
            offset: body_start + e.offset,
            reason: e.reason,
        })?;
        out.push(HistogramSample { t, h });
    }
    if !r.at_end() {
        out.truncate(start);
        return Err(ChunkDecodeError {
            offset: body_start + r.pos,
            reason: "bytes left after the last histogram",
        });
    }
    Ok(body_end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_histogram() -> impl Strategy<Value = Histogram> {
        (
            prop::bool::ANY,
            0u8..4,
            -4i32..=8,
            prop::collection::vec(0u32..5, 0..4),
            prop::collection::vec(0u32..20, 0..12),
            any::<f64>(),
        )
            .prop_map(|(float, hint, schema, lens, counts, sum)| {
                let n: u32 = lens.iter().sum();
                let c: Vec<u32> = (0..n as usize)
                    .map(|i| counts.get(i).copied().unwrap_or(1))
                    .collect();
                let spans = lens
                    .iter()
                    .enumerate()
                    .map(|(i, &length)| Span {
                        offset: if i == 0 { -3 } else { 2 },
                        length,
                    })
                    .collect();
                let total: u64 = c.iter().map(|&x| u64::from(x)).sum();
                let counts = if float {
                    HistogramCounts::Float {
                        count: total as f64 + 1.0,
                        zero_count: 1.0,
                        positive: c.iter().map(|&x| f64::from(x)).collect(),
                        negative: Vec::new(),
                    }
                } else {
                    let mut prev = 0i64;
                    HistogramCounts::Int {
                        count: total + 1,
                        zero_count: 1,
                        positive_deltas: c
                            .iter()
                            .map(|&x| {
                                let d = i64::from(x) - prev;
                                prev = i64::from(x);
                                d
                            })
                            .collect(),
                        negative_deltas: Vec::new(),
                    }
                };
                Histogram {
                    schema,
                    reset_hint: CounterResetHint::from_code(u64::from(hint)),
                    zero_threshold: 1e-3,
                    sum,
                    counts,
                    positive_spans: spans,
                    negative_spans: Vec::new(),
                    custom_values: Vec::new(),
                }
            })
    }

    #[test]
    fn custom_buckets_and_stale_markers_round_trip() {
        let nhcb = Histogram {
            schema: crate::model::histogram::CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![0.5, 1.0, 2.5],
            positive_spans: vec![Span {
                offset: 0,
                length: 4,
            }],
            counts: HistogramCounts::Int {
                count: 4,
                zero_count: 0,
                positive_deltas: vec![1, 0, 0, 0],
                negative_deltas: Vec::new(),
            },
            ..Histogram::empty_int(0)
        };
        let samples = vec![
            HistogramSample { t: -5, h: nhcb },
            HistogramSample {
                t: 10,
                h: Histogram::stale_marker(),
            },
        ];
        let mut buf = Vec::new();
        encode_histogram_chunk(&samples, &mut buf);
        buf.push(0xff);
        let mut out = Vec::new();
        assert_eq!(
            decode_histogram_chunk(&buf, &mut out).unwrap(),
            buf.len() - 1
        );
        assert!(out
            .iter()
            .zip(&samples)
            .all(|(a, b)| a.t == b.t && a.h.bit_eq(&b.h)));
        assert!(out[1].h.is_stale());
    }

    #[test]
    fn invalid_histograms_are_damage() {
        let mut h = Histogram::empty_int(0);
        h.schema = 9;
        let mut buf = Vec::new();
        put_histogram(&mut buf, &h);
        assert_eq!(
            HistReader::new(&buf).histogram().unwrap_err().reason,
            "invalid histogram"
        );
        // A huge length prefix is refused before anything is allocated.
        let mut buf = vec![0u8, 0];
        buf.extend_from_slice(&[0; 16]);
        buf.extend_from_slice(&[0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(HistReader::new(&buf).histogram().is_err());
    }

    proptest! {
        #[test]
        fn chunk_round_trip(hs in prop::collection::vec(arb_histogram(), 1..8), step in 1i64..100_000) {
            let samples: Vec<HistogramSample> = hs
                .into_iter()
                .enumerate()
                .map(|(i, h)| HistogramSample { t: i as i64 * step - 50_000, h })
                .collect();
            let mut buf = Vec::new();
            encode_histogram_chunk(&samples, &mut buf);
            let mut out = Vec::new();
            prop_assert_eq!(decode_histogram_chunk(&buf, &mut out).unwrap(), buf.len());
            prop_assert_eq!(out.len(), samples.len());
            for (a, b) in out.iter().zip(&samples) {
                prop_assert!(a.t == b.t && a.h.bit_eq(&b.h));
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_histogram_chunk(&bytes, &mut Vec::new());
            let _ = HistReader::new(&bytes).histogram();
        }
    }
}

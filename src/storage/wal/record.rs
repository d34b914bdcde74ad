//! Record framing and payload codecs.
//!
//! A record is `len u32 | crc32c u32 | type u8 | payload[len]`, all integers
//! little-endian; the CRC covers the type byte and the payload. See the WAL
//! section of the storage format spec.

use crate::model::Labels;
use crate::storage::varint::{get_uvarint, get_varint, put_uvarint, put_varint};

use super::{HistogramEntry, SampleEntry, SeriesEntry, WalRecord};
use crate::storage::chunk::{put_histogram, HistReader};

/// Bytes before the type byte: payload length and CRC.
pub(crate) const RECORD_HEADER_LEN: usize = 9;
/// Largest payload a record may carry. Anything longer on disk is damage;
/// it bounds what a reader ever allocates for one record.
pub(crate) const MAX_PAYLOAD_LEN: u32 = 128 << 20;
/// Record type of a [`WalRecord::Series`] payload.
pub(crate) const TYPE_SERIES: u8 = 1;
/// Record type of a [`WalRecord::Samples`] payload.
pub(crate) const TYPE_SAMPLES: u8 = 2;
/// Record type of a [`WalRecord::Samples`] payload whose entries also carry
/// a start timestamp. Written only for batches where some sample has one,
/// so logs of series without start timestamps are unchanged.
pub(crate) const TYPE_SAMPLES_ST: u8 = 3;
/// Record type of a [`WalRecord::Histograms`] payload (segment version 2).
pub(crate) const TYPE_HISTOGRAMS: u8 = 4;
/// Record type of a [`WalRecord::Exemplars`] payload (segment version 3);
/// its codec is in `record_exemplars.rs`.
pub(crate) const TYPE_EXEMPLARS: u8 = 5;
/// Record type of a [`WalRecord::Histograms`] payload whose entries also
/// carry a start timestamp (segment version 4). Written only for batches
/// where some histogram has one, as [`TYPE_SAMPLES_ST`] is for samples.
pub(crate) const TYPE_HISTOGRAMS_ST: u8 = 6;
/// Smallest encoding of one histogram entry: two one-byte varints, flags,
/// schema, threshold, sum, two counts and five empty lists.
const MIN_HISTOGRAM_ENTRY: usize = 2 + 2 + 16 + 2 + 5;

/// Smallest encoding of one series entry (id varint + label count varint).
const MIN_SERIES_ENTRY: usize = 2;
/// Smallest encoding of one sample entry (two one-byte varints + 8-byte value).
const MIN_SAMPLE_ENTRY: usize = 10;

/// The one checksum of the WAL: CRC32C (Castagnoli) over the type byte and
/// the payload of a record, or over the first bytes of a segment header.
pub(crate) fn checksum(parts: &[&[u8]]) -> u32 {
    parts.iter().fold(0, |crc, p| crc32c::crc32c_append(crc, p))
}

/// Why a payload could not be decoded: an offset inside the payload and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    /// Offset within the payload.
    pub(crate) offset: usize,
    /// What was wrong.
    pub(crate) reason: String,
}

impl DecodeError {
    pub(super) fn at(offset: usize, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            offset,
            reason: reason.into(),
        }
    }
}

/// A record would exceed [`MAX_PAYLOAD_LEN`]; carries the payload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge(pub(crate) usize);

/// Appends a framed series record to `out` (nothing for an empty slice).
/// On [`TooLarge`] `out` is left as it was.
pub(crate) fn append_series(out: &mut Vec<u8>, series: &[SeriesEntry]) -> Result<(), TooLarge> {
    if series.is_empty() {
        return Ok(());
    }
    let start = begin_record(out, TYPE_SERIES);
    put_uvarint(out, series.len() as u64);
    for s in series {
        put_uvarint(out, u64::from(s.series));
        put_uvarint(out, s.labels.len() as u64);
        for l in s.labels.iter() {
            put_bytes(out, l.name.as_bytes());
            put_bytes(out, l.value.as_bytes());
        }
    }
    finish_record(out, start)
}

/// Appends a framed samples record to `out` (nothing for an empty slice).
/// Ids and timestamps are zigzag deltas against the first entry, so a batch
/// of nearby ids scraped at one instant costs about 10 bytes a sample.
/// On [`TooLarge`] `out` is left as it was.
/// When some sample has a start timestamp the record is of type
/// [`TYPE_SAMPLES_ST`] and every entry ends with `t - st`.
/// On [`TooLarge`] `out` is left as it was.
pub(crate) fn append_samples(out: &mut Vec<u8>, samples: &[SampleEntry]) -> Result<(), TooLarge> {
    let Some(first) = samples.first() else {
        return Ok(());
    };
    let with_st = samples.iter().any(|s| s.st != 0);
    let start = begin_record(
        out,
        if with_st {
            TYPE_SAMPLES_ST
        } else {
            TYPE_SAMPLES
        },
    );
    put_uvarint(out, samples.len() as u64);
    put_uvarint(out, u64::from(first.series));
    put_varint(out, first.t);
    out.extend_from_slice(&first.v.to_bits().to_le_bytes());
    if with_st {
        put_varint(out, first.t.wrapping_sub(first.st));
    }
    for s in &samples[1..] {
        put_varint(out, i64::from(s.series) - i64::from(first.series));
        put_varint(out, s.t.wrapping_sub(first.t));
        out.extend_from_slice(&s.v.to_bits().to_le_bytes());
        if with_st {
            put_varint(out, s.t.wrapping_sub(s.st));
        }
    }
    finish_record(out, start)
}

/// Appends a framed histogram samples record to `out` (nothing for an
/// empty slice): ids and timestamps as zigzag deltas against the first
/// entry, as in samples records, each followed by its histogram in the
/// histogram value encoding. When some histogram has a start timestamp the
/// record is of type [`TYPE_HISTOGRAMS_ST`] and every entry ends with
/// `t - st`. On [`TooLarge`] `out` is left as it was.
pub(crate) fn append_histograms(
    out: &mut Vec<u8>,
    hists: &[HistogramEntry],
) -> Result<(), TooLarge> {
    let Some(first) = hists.first() else {
        return Ok(());
    };
    let with_st = hists.iter().any(|e| e.st != 0);
    let typ = if with_st {
        TYPE_HISTOGRAMS_ST
    } else {
        TYPE_HISTOGRAMS
    };
    let start = begin_record(out, typ);
    put_uvarint(out, hists.len() as u64);
    put_uvarint(out, u64::from(first.series));
    put_varint(out, first.t);
    put_histogram(out, &first.h);
    if with_st {
        put_varint(out, first.t.wrapping_sub(first.st));
    }
    for e in &hists[1..] {
        put_varint(out, i64::from(e.series) - i64::from(first.series));
        put_varint(out, e.t.wrapping_sub(first.t));
        put_histogram(out, &e.h);
        if with_st {
            put_varint(out, e.t.wrapping_sub(e.st));
        }
    }
    finish_record(out, start)
}

/// Reserves the header and writes the type byte; returns the record start.
pub(super) fn begin_record(out: &mut Vec<u8>, typ: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    out.push(typ);
    start
}

/// Fills in length and CRC of the record that begins at `start`.
/// A record the reader would refuse is removed again instead.
pub(super) fn finish_record(out: &mut Vec<u8>, start: usize) -> Result<(), TooLarge> {
    let payload_len = out.len() - start - RECORD_HEADER_LEN;
    if payload_len > MAX_PAYLOAD_LEN as usize {
        out.truncate(start);
        return Err(TooLarge(payload_len));
    }
    let crc = checksum(&[&out[start + 8..]]);
    out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

pub(super) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Decodes the payload of a record of type `typ`.
pub(crate) fn decode(typ: u8, payload: &[u8]) -> Result<WalRecord, DecodeError> {
    match typ {
        TYPE_SERIES => decode_series(payload).map(WalRecord::Series),
        TYPE_SAMPLES => decode_samples(payload, false).map(WalRecord::Samples),
        TYPE_SAMPLES_ST => decode_samples(payload, true).map(WalRecord::Samples),
        TYPE_HISTOGRAMS => decode_histograms(payload, false).map(WalRecord::Histograms),
        TYPE_HISTOGRAMS_ST => decode_histograms(payload, true).map(WalRecord::Histograms),
        TYPE_EXEMPLARS => {
            super::record_exemplars::decode_exemplars(payload).map(WalRecord::Exemplars)
        }
        other => Err(DecodeError::at(0, format!("unknown record type {other}"))),
    }
}

/// A cursor over a payload whose every read is bounds-checked.
pub(super) struct Cursor<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn uvarint(&mut self, what: &str) -> Result<u64, DecodeError> {
        let at = self.pos;
        get_uvarint(self.buf, &mut self.pos)
            .ok_or_else(|| DecodeError::at(at, format!("bad varint ({what})")))
    }

    pub(super) fn varint(&mut self, what: &str) -> Result<i64, DecodeError> {
        let at = self.pos;
        get_varint(self.buf, &mut self.pos)
            .ok_or_else(|| DecodeError::at(at, format!("bad varint ({what})")))
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(super) fn bytes(&mut self, n: u64, what: &str) -> Result<&'a [u8], DecodeError> {
        let at = self.pos;
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| at.checked_add(n))
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| {
                DecodeError::at(at, format!("{what} of {n} bytes runs past the payload"))
            })?;
        self.pos = end;
        Ok(&self.buf[at..end])
    }

    pub(super) fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let n = self.uvarint(what)?;
        let at = self.pos;
        let b = self.bytes(n, what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| DecodeError::at(at, format!("{what} is not UTF-8")))
    }

    pub(super) fn f64(&mut self) -> Result<f64, DecodeError> {
        let b = self.bytes(8, "value")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    /// Reads an entry count, refusing one the remaining bytes cannot hold so
    /// that the count can safely size an allocation.
    pub(super) fn count(&mut self, min_entry: usize, what: &str) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.uvarint(what)?;
        match usize::try_from(n) {
            Ok(n)
                if n.checked_mul(min_entry)
                    .is_some_and(|b| b <= self.remaining()) =>
            {
                Ok(n)
            }
            _ => Err(DecodeError::at(
                at,
                format!("{what} {n} exceeds the payload"),
            )),
        }
    }

    pub(super) fn series_id(&mut self) -> Result<u32, DecodeError> {
        let at = self.pos;
        let v = self.uvarint("series id")?;
        u32::try_from(v).map_err(|_| DecodeError::at(at, format!("series id {v} out of range")))
    }

    /// The series id and timestamp of entry `i` of a samples, histograms
    /// or exemplars record: the first entry holds them whole (they become
    /// `base`), later ones as zigzag deltas from `base`.
    pub(super) fn entry_key(
        &mut self,
        i: usize,
        base: &mut (u32, i64),
    ) -> Result<(u32, i64), DecodeError> {
        if i == 0 {
            *base = (self.series_id()?, self.varint("timestamp")?);
            return Ok(*base);
        }
        let at = self.pos;
        let d = self.varint("series id delta")?;
        let series = i64::from(base.0)
            .checked_add(d)
            .and_then(|id| u32::try_from(id).ok())
            .ok_or_else(|| DecodeError::at(at, format!("series id delta {d} out of range")))?;
        Ok((series, base.1.wrapping_add(self.varint("timestamp delta")?)))
    }

    pub(super) fn finish(&self) -> Result<(), DecodeError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(DecodeError::at(
                self.pos,
                "trailing bytes after the last entry",
            ))
        }
    }
}

fn decode_series(payload: &[u8]) -> Result<Vec<SeriesEntry>, DecodeError> {
    let mut c = Cursor {
        buf: payload,
        pos: 0,
    };
    let n = c.count(MIN_SERIES_ENTRY, "series count")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let series = c.series_id()?;
        let nl = c.count(2, "label count")?;
        let mut labels = Vec::with_capacity(nl);
        for _ in 0..nl {
            let name = c.string("label name")?;
            let value = c.string("label value")?;
            labels.push((name, value));
        }
        // from_pairs re-establishes the sort invariant whatever the bytes said;
        // for well-formed input it sorts already sorted data.
        let labels = Labels::from_pairs(labels);
        out.push(SeriesEntry { series, labels });
    }
    c.finish()?;
    Ok(out)
}

fn decode_samples(payload: &[u8], with_st: bool) -> Result<Vec<SampleEntry>, DecodeError> {
    let mut c = Cursor {
        buf: payload,
        pos: 0,
    };
    let min_entry = MIN_SAMPLE_ENTRY + usize::from(with_st);
    let n = c.count(min_entry, "sample count")?;
    let mut out = Vec::with_capacity(n);
    let st_of = |c: &mut Cursor<'_>, t: i64| -> Result<i64, DecodeError> {
        if !with_st {
            return Ok(0);
        }
        Ok(t.wrapping_sub(c.varint("start timestamp")?))
    };
    let mut base = (0u32, 0i64);
    for i in 0..n {
        let (series, t) = c.entry_key(i, &mut base)?;
        let v = c.f64()?;
        let st = st_of(&mut c, t)?;
        out.push(SampleEntry { series, t, v, st });
    }
    c.finish()?;
    Ok(out)
}

fn decode_histograms(payload: &[u8], with_st: bool) -> Result<Vec<HistogramEntry>, DecodeError> {
    let mut c = Cursor {
        buf: payload,
        pos: 0,
    };
    let n = c.count(MIN_HISTOGRAM_ENTRY, "histogram count")?;
    let mut out: Vec<HistogramEntry> = Vec::with_capacity(n);
    let histogram = |c: &mut Cursor<'_>| {
        let mut r = HistReader::new(&c.buf[c.pos..]);
        let h = r
            .histogram()
            .map_err(|e| DecodeError::at(c.pos + e.offset, e.reason))?;
        c.pos += r.pos;
        Ok::<_, DecodeError>(h)
    };
    let mut base = (0u32, 0i64);
    for i in 0..n {
        let (series, t) = c.entry_key(i, &mut base)?;
        let h = histogram(&mut c)?;
        let st = if with_st {
            t.wrapping_sub(c.varint("start timestamp")?)
        } else {
            0
        };
        out.push(HistogramEntry { series, t, h, st });
    }
    c.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::stale_nan;
    use proptest::prelude::*;

    /// Splits one framed record into (type, payload), checking the frame.
    fn unframe(buf: &[u8]) -> (u8, &[u8]) {
        let len = u32::from_le_bytes(buf[0..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(buf[4..8].try_into().unwrap());
        assert_eq!(buf.len(), RECORD_HEADER_LEN + len, "frame length");
        assert_eq!(checksum(&[&buf[8..]]), crc, "frame crc");
        (buf[8], &buf[RECORD_HEADER_LEN..])
    }

    fn sample_bits(s: &[SampleEntry]) -> Vec<(u32, i64, u64, i64)> {
        s.iter()
            .map(|s| (s.series, s.t, s.v.to_bits(), s.st))
            .collect()
    }

    fn series(id: u32, pairs: &[(&str, &str)]) -> SeriesEntry {
        SeriesEntry {
            series: id,
            labels: Labels::from_pairs(pairs.iter().copied()),
        }
    }

    #[test]
    fn empty_slices_write_nothing() {
        let mut b = Vec::new();
        append_series(&mut b, &[]).unwrap();
        append_samples(&mut b, &[]).unwrap();
        assert!(b.is_empty());
    }

    #[test]
    fn series_table() {
        let cases = vec![
            vec![series(0, &[])],
            vec![series(7, &[("__name__", "up"), ("job", "a\nb")])],
            vec![
                series(u32::MAX, &[("ü", "∑")]),
                series(0, &[("a", "1")]),
                series(3, &[("a", "1")]),
            ],
        ];
        for case in cases {
            let mut b = Vec::new();
            append_series(&mut b, &case).unwrap();
            let (t, p) = unframe(&b);
            assert_eq!(t, TYPE_SERIES);
            assert_eq!(decode(t, p).unwrap(), WalRecord::Series(case));
        }
    }

    #[test]
    fn samples_table_bit_exact() {
        let nan_payload = f64::from_bits(0x7ff8_0000_dead_beef);
        let cases = vec![
            vec![SampleEntry {
                series: 1,
                t: 0,
                v: 1.5,
                st: 0,
            }],
            vec![
                SampleEntry {
                    series: u32::MAX,
                    t: i64::MAX,
                    v: stale_nan(),
                    st: 0,
                },
                SampleEntry {
                    series: 0,
                    t: i64::MIN,
                    v: nan_payload,
                    st: 0,
                },
                SampleEntry {
                    series: 5,
                    t: -1,
                    v: -0.0,
                    st: 0,
                },
            ],
        ];
        for case in cases {
            let mut b = Vec::new();
            append_samples(&mut b, &case).unwrap();
            let (t, p) = unframe(&b);
            let WalRecord::Samples(got) = decode(t, p).unwrap() else {
                panic!("wrong type")
            };
            assert_eq!(sample_bits(&got), sample_bits(&case));
        }
    }

    #[test]
    fn start_timestamps_choose_the_record_type() {
        let plain = SampleEntry {
            series: 3,
            t: 60_000,
            v: 1.0,
            st: 0,
        };
        let with = SampleEntry { st: 1, ..plain };
        for (batch, want) in [
            (vec![plain, plain], TYPE_SAMPLES),
            (vec![plain, with], TYPE_SAMPLES_ST),
        ] {
            let mut b = Vec::new();
            append_samples(&mut b, &batch).unwrap();
            let (t, p) = unframe(&b);
            assert_eq!(t, want);
            let WalRecord::Samples(got) = decode(t, p).unwrap() else {
                panic!("wrong type")
            };
            assert_eq!(sample_bits(&got), sample_bits(&batch));
        }
        // A type-3 entry one byte short of its start timestamp is damage.
        let mut b = Vec::new();
        append_samples(&mut b, &[with]).unwrap();
        let (t, p) = unframe(&b);
        assert!(decode(t, &p[..p.len() - 1]).is_err());
    }

    #[test]
    fn bad_payloads_are_refused() {
        let cases: Vec<(u8, Vec<u8>, &str)> = vec![
            (9, vec![], "unknown record type"),
            (TYPE_SERIES, vec![], "bad varint"),
            (TYPE_SERIES, vec![5], "exceeds the payload"),
            (TYPE_SERIES, vec![1, 0, 0, 0], "trailing bytes"),
            (
                TYPE_SERIES,
                vec![1, 0xff, 0xff, 0xff, 0xff, 0x7f, 0],
                "out of range",
            ),
            (TYPE_SERIES, vec![1, 0, 1, 1, 0xff, 0], "not UTF-8"),
            (TYPE_SERIES, vec![1, 0, 1, 9, b'a', 0], "runs past"),
            (
                TYPE_SAMPLES,
                vec![0xff, 0xff, 0xff, 0xff, 0x0f],
                "exceeds the payload",
            ),
            (
                TYPE_SAMPLES,
                vec![1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                "trailing bytes",
            ),
        ];
        for (typ, payload, want) in cases {
            let err = decode(typ, &payload).unwrap_err();
            assert!(err.reason.contains(want), "{payload:?}: {err:?}");
        }
        // A delta that leaves u32 is corruption, not a wrap.
        let mut p = vec![2, 0, 0];
        p.extend_from_slice(&[0; 8]);
        p.push(1); // zigzag(-1)
        p.push(0);
        p.extend_from_slice(&[0; 8]);
        assert!(decode(TYPE_SAMPLES, &p)
            .unwrap_err()
            .reason
            .contains("out of range"));
    }

    fn arb_series() -> impl Strategy<Value = SeriesEntry> {
        let pair = ("\\PC{1,8}|[a-z\n]{1,4}", "\\PC{0,8}|\n");
        (any::<u32>(), proptest::collection::vec(pair, 0..5)).prop_map(|(id, pairs)| SeriesEntry {
            series: id,
            labels: Labels::from_pairs(pairs),
        })
    }

    fn arb_sample() -> impl Strategy<Value = SampleEntry> {
        (
            any::<u32>(),
            any::<i64>(),
            any::<u64>(),
            prop_oneof![Just(0i64), any::<i64>()],
        )
            .prop_map(|(series, t, v, st)| SampleEntry {
                series,
                t,
                v: f64::from_bits(v),
                st,
            })
    }

    proptest! {
        #[test]
        fn series_round_trip(s in proptest::collection::vec(arb_series(), 0..8)) {
            let mut b = Vec::new();
            append_series(&mut b, &s).unwrap();
            if s.is_empty() {
                prop_assert!(b.is_empty());
            } else {
                let (t, p) = unframe(&b);
                prop_assert_eq!(decode(t, p).unwrap(), WalRecord::Series(s));
            }
        }

        #[test]
        fn samples_round_trip(s in proptest::collection::vec(arb_sample(), 1..16)) {
            let mut b = Vec::new();
            append_samples(&mut b, &s).unwrap();
            let (t, p) = unframe(&b);
            let WalRecord::Samples(got) = decode(t, p).unwrap() else { panic!("wrong type") };
            prop_assert_eq!(sample_bits(&got), sample_bits(&s));
        }

        #[test]
        fn histograms_round_trip(
            ids in proptest::collection::vec(0u32..1000, 1..6),
            ts in proptest::collection::vec(any::<i64>(), 6),
        ) {
            let hs: Vec<HistogramEntry> = ids
                .iter()
                .zip(&ts)
                .enumerate()
                .map(|(i, (&series, &t))| {
                    let mut h = if i % 2 == 0 {
                        crate::model::Histogram::stale_marker()
                    } else {
                        crate::model::Histogram::empty_int(3)
                    };
                    h.zero_threshold = i as f64;
                    // Every other batch carries start timestamps.
                    let st = if ids.len() % 2 == 0 { t ^ 1 } else { 0 };
                    HistogramEntry { series, t, h, st }
                })
                .collect();
            let mut buf = Vec::new();
            append_histograms(&mut buf, &hs).unwrap();
            let (typ, payload) = unframe(&buf);
            let want = if ids.len() % 2 == 0 { TYPE_HISTOGRAMS_ST } else { TYPE_HISTOGRAMS };
            prop_assert_eq!(typ, want);
            match decode(typ, payload).unwrap() {
                WalRecord::Histograms(got) => {
                    prop_assert_eq!(got.len(), hs.len());
                    for (a, b) in got.iter().zip(&hs) {
                        prop_assert!(a.series == b.series && a.t == b.t && a.h.bit_eq(&b.h));
                    }
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn random_payloads_never_panic(typ in 0u8..6, p in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(typ, &p);
        }

        #[test]
        fn mutated_payloads_never_panic(
            s in proptest::collection::vec(arb_sample(), 1..4),
            at in any::<prop::sample::Index>(),
            x in 1u8..,
        ) {
            let mut b = Vec::new();
            append_samples(&mut b, &s).unwrap();
            let i = at.index(b.len() - RECORD_HEADER_LEN) + RECORD_HEADER_LEN;
            b[i] ^= x;
            let _ = decode(b[8], &b[RECORD_HEADER_LEN..]);
        }
    }
}

//! The histogram chunk with start timestamps: a
//! [start timestamp stream](super::st) in front of a plain histogram chunk.
//! See "Histogram chunk with start timestamps" in `storage-format.md`.

use super::st::{decode_st_stream, StEntry, StWriter};
use super::{decode_histogram_chunk, encode_histogram_chunk, ChunkDecodeError};
use crate::model::HistogramSample;
use crate::storage::varint::{get_uvarint, put_uvarint};

/// Appends `st_len <uvarint>`, the stream of `sts` (the `(t, st)` of the
/// chunk's histograms that have a start timestamp, time-ordered) and the
/// histogram chunk of `samples` to `out`.
pub(crate) fn encode_histogram_chunk_st(
    samples: &[HistogramSample],
    sts: &[StEntry],
    out: &mut Vec<u8>,
) {
    let mut stream = Vec::new();
    StWriter::from_entries(sts).write_to(&mut stream);
    put_uvarint(out, stream.len() as u64);
    out.extend_from_slice(&stream);
    encode_histogram_chunk(samples, out);
}

/// Decodes a chunk written by [`encode_histogram_chunk_st`] at the start of
/// `bytes`: histograms to `out`, and start timestamps to `sts` when given
/// (skipped otherwise). Returns the bytes consumed; on error `out` and
/// `sts` are left as they were.
pub(crate) fn decode_histogram_chunk_st(
    bytes: &[u8],
    out: &mut Vec<HistogramSample>,
    sts: Option<&mut Vec<StEntry>>,
) -> Result<usize, ChunkDecodeError> {
    let mut pos = 0;
    let len = get_uvarint(bytes, &mut pos).ok_or(ChunkDecodeError {
        offset: 0,
        reason: "truncated start timestamp section length",
    })?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| pos.checked_add(l))
        .filter(|e| *e <= bytes.len())
        .ok_or(ChunkDecodeError {
            offset: 0,
            reason: "start timestamp section past the end",
        })?;
    let mut mine = Vec::new();
    decode_st_stream(&bytes[pos..end], &mut mine).map_err(|e| ChunkDecodeError {
        offset: pos + e.offset,
        reason: e.reason,
    })?;
    let used = decode_histogram_chunk(&bytes[end..], out).map_err(|e| ChunkDecodeError {
        offset: end + e.offset,
        reason: e.reason,
    })?;
    if let Some(sts) = sts {
        sts.extend(mine);
    }
    Ok(end + used)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Histogram;
    use proptest::prelude::*;

    fn hists(ts: &[i64]) -> Vec<HistogramSample> {
        ts.iter()
            .map(|&t| HistogramSample {
                t,
                h: Histogram::empty_int(0),
            })
            .collect()
    }

    #[test]
    fn skips_start_times_when_not_asked_and_reports_damage() {
        let hs = hists(&[10, 20, 30]);
        let sts = vec![(10, 5), (30, 20)];
        let mut buf = Vec::new();
        encode_histogram_chunk_st(&hs, &sts, &mut buf);
        let mut out = Vec::new();
        assert_eq!(
            decode_histogram_chunk_st(&buf, &mut out, None),
            Ok(buf.len())
        );
        assert_eq!(out, hs);
        // A section length past the end is damage, and nothing is kept.
        let mut bad = buf.clone();
        bad[0] = 0x7f;
        let mut out = Vec::new();
        let mut got = Vec::new();
        assert!(decode_histogram_chunk_st(&bad, &mut out, Some(&mut got)).is_err());
        assert!(out.is_empty() && got.is_empty());
    }

    proptest! {
        #[test]
        fn round_trips(
            deltas in proptest::collection::vec(1i64..100_000, 1..50),
            st_every in 1usize..4,
            st_back in 0i64..1_000_000,
        ) {
            let mut t = -1_000i64;
            let ts: Vec<i64> = deltas.iter().map(|d| { t += d; t }).collect();
            let hs = hists(&ts);
            let sts: Vec<StEntry> = ts
                .iter()
                .step_by(st_every)
                .map(|&t| (t, t - st_back - 1))
                .filter(|e| e.1 != 0)
                .collect();
            let mut buf = Vec::new();
            encode_histogram_chunk_st(&hs, &sts, &mut buf);
            buf.extend_from_slice(b"next");
            let (mut out, mut got) = (Vec::new(), Vec::new());
            let used = decode_histogram_chunk_st(&buf, &mut out, Some(&mut got)).unwrap();
            prop_assert_eq!(used, buf.len() - 4);
            prop_assert_eq!(out, hs);
            prop_assert_eq!(got, sts);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_histogram_chunk_st(&bytes, &mut Vec::new(), Some(&mut Vec::new()));
        }
    }
}

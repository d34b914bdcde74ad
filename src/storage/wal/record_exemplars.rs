//! The exemplars record (type 5, segment version 3): exemplars of series
//! defined earlier in the log, in the order they were stored. See the WAL
//! section of the storage format spec.

use super::record::{
    begin_record, finish_record, put_bytes, Cursor, DecodeError, TooLarge, TYPE_EXEMPLARS,
};
use super::ExemplarEntry;
use crate::model::{Exemplar, Labels};
use crate::storage::varint::{put_uvarint, put_varint};

/// Smallest encoding of one entry: two one-byte varints, the 8-byte value
/// and a one-byte label count.
const MIN_EXEMPLAR_ENTRY: usize = 11;

/// Appends a framed exemplars record to `out` (nothing for an empty
/// slice): ids and timestamps as zigzag deltas against the first entry,
/// as in samples records, then the value's bits and the exemplar's labels.
/// On [`TooLarge`] `out` is left as it was.
pub(crate) fn append_exemplars(out: &mut Vec<u8>, ex: &[ExemplarEntry]) -> Result<(), TooLarge> {
    let Some(first) = ex.first() else {
        return Ok(());
    };
    let start = begin_record(out, TYPE_EXEMPLARS);
    put_uvarint(out, ex.len() as u64);
    for (i, e) in ex.iter().enumerate() {
        if i == 0 {
            put_uvarint(out, u64::from(e.series));
            put_varint(out, e.exemplar.t);
        } else {
            put_varint(out, i64::from(e.series) - i64::from(first.series));
            put_varint(out, e.exemplar.t.wrapping_sub(first.exemplar.t));
        }
        out.extend_from_slice(&e.exemplar.value.to_bits().to_le_bytes());
        put_uvarint(out, e.exemplar.labels.len() as u64);
        for l in e.exemplar.labels.iter() {
            put_bytes(out, l.name.as_bytes());
            put_bytes(out, l.value.as_bytes());
        }
    }
    finish_record(out, start)
}

/// Decodes an exemplars payload.
pub(crate) fn decode_exemplars(payload: &[u8]) -> Result<Vec<ExemplarEntry>, DecodeError> {
    let mut c = Cursor {
        buf: payload,
        pos: 0,
    };
    let n = c.count(MIN_EXEMPLAR_ENTRY, "exemplar count")?;
    let mut out = Vec::with_capacity(n);
    let mut base = (0u32, 0i64);
    for i in 0..n {
        let (series, t) = c.entry_key(i, &mut base)?;
        let value = c.f64()?;
        let nl = c.count(2, "exemplar label count")?;
        let mut labels = Vec::with_capacity(nl);
        for _ in 0..nl {
            let name = c.string("exemplar label name")?;
            let v = c.string("exemplar label value")?;
            labels.push((name, v));
        }
        out.push(ExemplarEntry {
            series,
            exemplar: Exemplar {
                labels: Labels::from_pairs(labels),
                value,
                t,
            },
        });
    }
    c.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::record::{decode, RECORD_HEADER_LEN};
    use super::super::WalRecord;
    use super::*;
    use proptest::prelude::*;

    fn entry(series: u32, t: i64, v: f64, labels: &[(&str, &str)]) -> ExemplarEntry {
        ExemplarEntry {
            series,
            exemplar: Exemplar {
                labels: Labels::from_pairs(labels.iter().copied()),
                value: v,
                t,
            },
        }
    }

    #[test]
    fn bytes_of_a_two_entry_record() {
        let mut out = Vec::new();
        let ex = [
            entry(3, 1000, 1.5, &[("trace_id", "ab")]),
            entry(1, 999, -0.0, &[]),
        ];
        append_exemplars(&mut out, &ex).unwrap();
        assert_eq!(out[8], TYPE_EXEMPLARS);
        let mut want = vec![2, 3, 0xd0, 0x0f]; // count, id, zigzag(1000)
        want.extend_from_slice(&1.5f64.to_bits().to_le_bytes());
        want.extend_from_slice(&[1, 8]);
        want.extend_from_slice(b"trace_id");
        want.extend_from_slice(&[2, b'a', b'b']);
        want.extend_from_slice(&[3, 1]); // zigzag(-2), zigzag(-1)
        want.extend_from_slice(&(-0.0f64).to_bits().to_le_bytes());
        want.push(0);
        assert_eq!(&out[RECORD_HEADER_LEN..], want.as_slice());
        let back = decode(TYPE_EXEMPLARS, &want).unwrap();
        assert_eq!(back, WalRecord::Exemplars(ex.to_vec()));
        let mut none = Vec::new();
        append_exemplars(&mut none, &[]).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn bad_payloads_are_refused_with_an_offset() {
        let cases: &[(&[u8], &str)] = &[
            (&[], "bad varint (exemplar count)"),
            (&[9, 0], "exemplar count 9 exceeds the payload"),
            (
                &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
                "exemplar label count 5 exceeds",
            ),
            (&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7], "trailing bytes"),
        ];
        for (p, want) in cases {
            let e = decode_exemplars(p).unwrap_err();
            assert!(e.reason.contains(want), "{p:?}: {e:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(
            es in proptest::collection::vec(
                (0u32..1000, any::<i64>(), any::<u64>(), "[a-z]{1,4}", "[a-zé]{0,6}"),
                1..12,
            )
        ) {
            let ex: Vec<ExemplarEntry> = es
                .iter()
                .map(|(id, t, bits, n, v)| ExemplarEntry {
                    series: *id,
                    exemplar: Exemplar {
                        labels: Labels::from_pairs([(n.clone(), v.clone())]),
                        value: f64::from_bits(*bits),
                        t: *t,
                    },
                })
                .collect();
            let mut out = Vec::new();
            append_exemplars(&mut out, &ex).unwrap();
            let back = decode_exemplars(&out[RECORD_HEADER_LEN..]).unwrap();
            prop_assert_eq!(back.len(), ex.len());
            for (a, b) in back.iter().zip(&ex) {
                prop_assert_eq!(a.series, b.series);
                prop_assert_eq!(a.exemplar.t, b.exemplar.t);
                prop_assert_eq!(a.exemplar.value.to_bits(), b.exemplar.value.to_bits());
                prop_assert_eq!(&a.exemplar.labels, &b.exemplar.labels);
            }
        }

        #[test]
        fn random_payloads_never_panic(p in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_exemplars(&p);
        }
    }
}

//! Tests for the XOR chunk.

use super::*;
use crate::model::{stale_nan, STALE_NAN_BITS};
use crate::storage::chunk::bits::BitWriter;
use proptest::prelude::*;

fn encode(samples: &[Sample]) -> XorAppender {
    let cap = samples.len() * XorAppender::MAX_SAMPLE_BYTES;
    let mut a = XorAppender::with_capacity(cap);
    for s in samples {
        assert!(a.has_room());
        a.append(s.t, s.v);
    }
    a
}

fn decode(bytes: &[u8], count: usize) -> Result<Vec<Sample>, ChunkDecodeError> {
    XorIter::new(bytes, count).collect()
}

fn assert_round_trip(samples: &[Sample]) {
    let a = encode(samples);
    assert_eq!(a.num_samples(), samples.len());
    let got = decode(a.bytes(), a.num_samples()).expect("decodes");
    assert_eq!(got.len(), samples.len());
    for (g, w) in got.iter().zip(samples) {
        assert!(g.bit_eq(w), "got {g:?} want {w:?}");
    }
    match samples.last() {
        Some(l) => assert!(a.last().expect("last").bit_eq(l)),
        None => assert!(a.last().is_none()),
    }
}

fn regular(n: usize, start: i64, step: i64, f: impl Fn(usize) -> f64) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample::new(start + i as i64 * step, f(i)))
        .collect()
}

#[test]
fn table_round_trips() {
    let special = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::from_bits(0x7ff8_dead_beef_0001),
        f64::from_bits(0xfff0_0000_0000_0001),
        stale_nan(),
        f64::MIN_POSITIVE / 3.0,
        f64::MAX,
        f64::MIN,
        1.5,
    ];
    let cases: Vec<(&str, Vec<Sample>)> = vec![
        ("empty", vec![]),
        ("one", vec![Sample::new(1_700_000_000_000, 3.25)]),
        ("one at i64::MIN", vec![Sample::new(i64::MIN, -0.0)]),
        ("two", vec![Sample::new(-5, 1.0), Sample::new(7, 2.0)]),
        (
            "120 regular",
            regular(120, 1_700_000_000_000, 15_000, |i| i as f64 * 0.25),
        ),
        ("120 constant", regular(120, 0, 1, |_| 42.0)),
        (
            "i64 extremes",
            vec![Sample::new(i64::MIN, 1.0), Sample::new(i64::MAX, 2.0)],
        ),
        (
            "extreme then small",
            vec![
                Sample::new(i64::MIN, 1.0),
                Sample::new(i64::MAX - 1, 2.0),
                Sample::new(i64::MAX, 3.0),
            ],
        ),
        ("specials", regular(special.len(), 100, 10, |i| special[i])),
        ("stale run", regular(10, 0, 15_000, |_| stale_nan())),
    ];
    for (name, samples) in cases {
        let a = encode(&samples);
        let got = decode(a.bytes(), a.num_samples());
        let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.len(), samples.len(), "{name}");
        for (g, w) in got.iter().zip(&samples) {
            assert!(g.bit_eq(w), "{name}: got {g:?} want {w:?}");
        }
    }
}

#[test]
fn dod_bucket_boundaries() {
    // Each delta-of-delta sits on either side of a bucket edge.
    let mut dods = vec![0i64, 1, -1];
    for w in DOD_PAYLOAD_BITS {
        if w < 64 {
            let half = 1i64 << (w - 1);
            dods.extend([half - 1, half, -half, -half - 1]);
        }
    }
    for dod in dods {
        let step = 1i64 << 40;
        let t = [0, step, 2 * step + dod];
        let samples: Vec<_> = t.iter().map(|&t| Sample::new(t, 1.0)).collect();
        assert_round_trip(&samples);
    }
}

#[test]
fn stale_marker_is_bit_exact() {
    let s = [Sample::new(0, 1.0), Sample::new(15, stale_nan())];
    let a = encode(&s);
    let got = decode(a.bytes(), 2).unwrap();
    assert_eq!(got[1].v.to_bits(), STALE_NAN_BITS);
}

#[test]
fn regular_counter_is_small() {
    // A 15 s counter growing by a constant costs well under 2 bytes a sample.
    let s = regular(120, 1_700_000_000_000, 15_000, |i| 1000.0 + i as f64);
    let a = encode(&s);
    assert!(a.bytes().len() < 120 * 2, "{} bytes", a.bytes().len());
}

#[test]
fn bytes_decode_after_every_append() {
    let s = regular(50, 1_000, 15_000, |i| (i as f64).sqrt());
    let mut a = XorAppender::with_capacity(50 * XorAppender::MAX_SAMPLE_BYTES);
    for (i, x) in s.iter().enumerate() {
        a.append(x.t, x.v);
        let got = decode(a.bytes(), a.num_samples()).unwrap();
        assert_eq!(got.len(), i + 1);
        assert!(got[i].bit_eq(x));
    }
}

#[test]
fn truncated_chunk_reports_error_once() {
    let s = regular(20, 0, 1000, |i| i as f64 * 1.1);
    let a = encode(&s);
    let cut = &a.bytes()[..a.bytes().len() / 2];
    let mut it = XorIter::new(cut, 20);
    let mut oks = 0;
    let err = loop {
        match it.next() {
            Some(Ok(_)) => oks += 1,
            Some(Err(e)) => break e,
            None => panic!("iterator ended without an error"),
        }
    };
    assert!(oks < 20);
    assert!(err.offset <= cut.len());
    assert!(it.next().is_none());
    // Asking for more samples than were written is also an error.
    let full = a.bytes();
    assert!(XorIter::new(full, 21).last().unwrap().is_err());
}

/// A chunk of sample (t=0, v=0), then dod +1, then the given raw bits.
fn second_sample_with(bits: &[(u64, u32)]) -> Vec<u8> {
    let mut w = BitWriter::with_capacity(32);
    w.write_bits(0, 8);
    w.write_bits(0, 64);
    w.write_bits(0b10, 2);
    w.write_bits(1, 7);
    for &(v, n) in bits {
        w.write_bits(v, n);
    }
    w.bytes().to_vec()
}

#[test]
fn corrupt_value_fields_are_errors() {
    type Case<'a> = (&'a str, &'a [(u64, u32)], &'a str);
    let cases: [Case; 3] = [
        (
            "reuse before any window",
            &[(0b10, 2), (0xff, 8)],
            "value reuses a window before one was set",
        ),
        (
            "window past 64 bits",
            &[(0b11, 2), (63, 6), (63, 6), (u64::MAX, 64)],
            "value window wider than 64 bits",
        ),
        (
            "truncated payload",
            &[(0b11, 2), (0, 6), (63, 6)],
            "truncated value",
        ),
    ];
    for (name, bits, reason) in cases {
        let bytes = second_sample_with(bits);
        let got: Vec<_> = XorIter::new(&bytes, 2).collect();
        assert_eq!(got.len(), 2, "{name}");
        assert!(got[0].is_ok(), "{name}");
        assert_eq!(got[1].clone().unwrap_err().reason, reason, "{name}");
    }
    // A zero delta-of-delta after the first sample means a zero delta.
    let bytes = second_sample_with(&[]);
    let mut bytes = bytes[..9].to_vec();
    bytes.push(0);
    let last = XorIter::new(&bytes, 2).last().unwrap();
    assert_eq!(last.unwrap_err().reason, "timestamps not increasing");
}

#[test]
fn max_sample_bytes_is_tight_enough() {
    assert_eq!(XorAppender::MAX_SAMPLE_BYTES, 19);
    assert_eq!(MAX_LATER_SAMPLE_BITS, 147);
}

/// Adversarial samples: extreme alternating deltas and hostile bit patterns.
fn adversarial(n: usize, seed: u64) -> Vec<Sample> {
    let mut x = seed | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let values = [
        f64::from_bits(0x7ff8_0000_0000_0001),
        f64::INFINITY,
        f64::NEG_INFINITY,
        stale_nan(),
        -0.0,
        f64::from_bits(1),
        f64::from_bits(0x8000_0000_0000_0001),
    ];
    let mut t = i64::MIN;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(Sample::new(
            t,
            if i % 2 == 0 {
                f64::from_bits(rnd())
            } else {
                values[i % values.len()]
            },
        ));
        // Alternate huge and tiny steps so the delta-of-delta hits the escape.
        let step = if i % 2 == 0 {
            (u64::MAX / (n as u64 + 2)) as i64
        } else {
            1 + (rnd() % 3) as i64
        };
        match t.checked_add(step) {
            Some(next) => t = next,
            None => break,
        }
    }
    out
}

#[test]
fn append_growth_never_exceeds_bound_and_never_reallocates() {
    for seed in 1..40u64 {
        let samples = adversarial(60, seed);
        let mut a = XorAppender::with_capacity(64 * XorAppender::MAX_SAMPLE_BYTES);
        let ptr = a.raw_buffer().as_ptr();
        let cap = a.raw_buffer().capacity();
        let mut appended = Vec::new();
        for s in &samples {
            assert!(a.has_room());
            let before = a.bytes().len();
            a.append(s.t, s.v);
            appended.push(*s);
            let grew = a.bytes().len() - before;
            assert!(grew <= XorAppender::MAX_SAMPLE_BYTES, "grew {grew}");
            assert_eq!(a.raw_buffer().as_ptr(), ptr, "buffer moved");
            assert_eq!(a.raw_buffer().capacity(), cap, "buffer grew");
        }
        let got = decode(a.bytes(), a.num_samples()).unwrap();
        assert!(got.iter().zip(&appended).all(|(g, w)| g.bit_eq(w)));
    }
}

#[test]
fn fills_to_capacity_without_reallocating() {
    let mut a = XorAppender::with_capacity(256);
    let ptr = a.raw_buffer().as_ptr();
    let mut t = 0i64;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while a.has_room() {
        x = x.rotate_left(17).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        t += 1 + (x % 1_000_000_007) as i64;
        a.append(t, f64::from_bits(x));
    }
    assert!(a.bytes().len() <= 256);
    assert_eq!(a.raw_buffer().as_ptr(), ptr);
    assert_eq!(a.raw_buffer().capacity(), 256);
    assert_eq!(a.capacity(), 256);
    assert_eq!(
        decode(a.bytes(), a.num_samples()).unwrap().len(),
        a.num_samples()
    );
}

#[test]
fn zero_capacity_has_no_room() {
    let a = XorAppender::with_capacity(0);
    assert!(!a.has_room());
    assert!(decode(a.bytes(), 0).unwrap().is_empty());
}

fn increasing_samples() -> impl Strategy<Value = Vec<Sample>> {
    (
        any::<i64>(),
        proptest::collection::vec((1u64..u64::MAX / 4096, any::<u64>(), any::<bool>()), 0..200),
    )
        .prop_map(|(start, steps)| {
            let mut t = start;
            let mut out = Vec::new();
            for (step, bits, small) in steps {
                let step = if small { step % 20_000 + 1 } else { step };
                out.push(Sample::new(t, f64::from_bits(bits)));
                match (t as i128)
                    .checked_add(step as i128)
                    .filter(|&n| n <= i64::MAX as i128)
                {
                    Some(n) => t = n as i64,
                    None => break,
                }
            }
            out
        })
}

proptest! {
    #[test]
    fn prop_round_trip(samples in increasing_samples()) {
        assert_round_trip(&samples);
    }

    #[test]
    fn prop_round_trip_decimal_values(start in any::<i32>(), vals in proptest::collection::vec(-10_000i64..10_000, 1..300)) {
        let samples: Vec<_> = vals.iter().enumerate()
            .map(|(i, &m)| Sample::new(start as i64 + 15_000 * i as i64, m as f64 / 100.0)).collect();
        assert_round_trip(&samples);
    }

    #[test]
    fn prop_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), count in 0usize..2000) {
        let mut n = 0usize;
        let mut prev: Option<i64> = None;
        for r in XorIter::new(&bytes, count) {
            n += 1;
            match r {
                Ok(s) => {
                    prop_assert!(prev.is_none_or(|p| s.t > p));
                    prev = Some(s.t);
                }
                Err(e) => prop_assert!(e.offset <= bytes.len()),
            }
        }
        prop_assert!(n <= count);
    }
}

#[test]
fn negative_zero_keeps_its_sign_after_any_value() {
    for prev in [1e300, 0.0, 1.0, f64::INFINITY, -1.0] {
        assert_round_trip(&[
            Sample::new(0, prev),
            Sample::new(1, -0.0),
            Sample::new(2, 5.0),
        ]);
    }
}

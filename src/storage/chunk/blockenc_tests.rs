//! Tests for the block chunk encoding.

use super::*;
use crate::model::{stale_nan, STALE_NAN_BITS};
use proptest::prelude::*;

fn encode(samples: &[Sample]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_block_chunk(samples, &mut out);
    out
}

fn assert_round_trip(samples: &[Sample]) -> Vec<u8> {
    let bytes = encode(samples);
    let mut got = vec![Sample::new(-1, 9.0)];
    let used = decode_block_chunk(&bytes, &mut got).expect("decodes");
    assert_eq!(used, bytes.len());
    assert!(got[0].bit_eq(&Sample::new(-1, 9.0)), "decoder must append");
    assert_eq!(got.len() - 1, samples.len());
    for (g, w) in got[1..].iter().zip(samples) {
        assert!(g.bit_eq(w), "got {g:?} want {w:?}");
    }
    bytes
}

/// The mode byte of an encoded chunk with at least one sample.
fn mode_of(bytes: &[u8]) -> u8 {
    let mut pos = 0;
    get_uvarint(bytes, &mut pos).unwrap();
    get_uvarint(bytes, &mut pos).unwrap();
    bytes[pos]
}

fn series(n: usize, step: i64, f: impl Fn(usize) -> f64) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample::new(1_700_000_000_000 + i as i64 * step, f(i)))
        .collect()
}

#[test]
fn modes_by_shape() {
    let quad = |i: usize| (i * i) as f64 * 0.5;
    let nan_mix = |i: usize| {
        if i.is_multiple_of(2) {
            f64::NAN
        } else {
            i as f64
        }
    };
    let mut jitter = series(120, 15_000, |i| i as f64);
    jitter[5].t += 2;
    let cases: Vec<(&str, Vec<Sample>, u8)> = vec![
        (
            "one",
            series(1, 1, |_| 1.5),
            MODE_DECIMAL_DELTA | FLAG_REGULAR_TIMESTAMPS,
        ),
        (
            "two",
            series(2, 10, |i| i as f64),
            MODE_DECIMAL_DELTA | FLAG_REGULAR_TIMESTAMPS,
        ),
        (
            "counter",
            series(720, 15_000, |i| 1e6 + i as f64 * 14.75),
            MODE_DECIMAL_DELTA | FLAG_REGULAR_TIMESTAMPS,
        ),
        (
            "quadratic",
            series(120, 15_000, quad),
            MODE_DECIMAL_DOD | FLAG_REGULAR_TIMESTAMPS,
        ),
        (
            "nan heavy",
            series(10, 1, nan_mix),
            MODE_XOR | FLAG_REGULAR_TIMESTAMPS,
        ),
        (
            "irrational",
            series(50, 1, |i| (i as f64 + 0.5).sqrt()),
            MODE_XOR | FLAG_REGULAR_TIMESTAMPS,
        ),
        ("jittered times", jitter, MODE_DECIMAL_DELTA),
    ];
    for (name, samples, want) in cases {
        let bytes = assert_round_trip(&samples);
        assert_eq!(mode_of(&bytes), want, "{name}");
    }
}

#[test]
fn table_round_trips() {
    let specials = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::from_bits(0x7ff8_0000_dead_beef),
        stale_nan(),
    ];
    let mut stale_end = series(120, 15_000, |i| 100.0 + i as f64);
    stale_end.push(Sample::new(stale_end[119].t + 15_000, stale_nan()));
    let cases: Vec<(&str, Vec<Sample>)> = vec![
        ("specials", series(specials.len(), 7, |i| specials[i])),
        ("stale at end", stale_end),
        (
            "leading nan",
            series(8, 1, |i| if i == 0 { f64::NAN } else { i as f64 }),
        ),
        (
            "i64 extreme times",
            vec![
                Sample::new(i64::MIN, 1.0),
                Sample::new(-1, 2.0),
                Sample::new(i64::MAX, 3.0),
            ],
        ),
        ("huge integers", series(30, 1, |i| 1e20 + i as f64 * 1e15)),
        ("tiny decimals", series(30, 1, |i| i as f64 * 1e-15)),
        (
            "max mantissa",
            series(3, 1, |i| 9_007_199_254_740_991.0 - i as f64),
        ),
        (
            "memory pages",
            series(200, 15_000, |i| 8e9 + ((i * 7919) % 13) as f64 * 4096.0),
        ),
        ("subnormals", series(4, 1, |i| f64::from_bits(i as u64 + 1))),
    ];
    for (name, samples) in cases {
        let bytes = encode(&samples);
        let mut got = Vec::new();
        let used = decode_block_chunk(&bytes, &mut got).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(used, bytes.len(), "{name}");
        assert!(got.iter().zip(&samples).all(|(g, w)| g.bit_eq(w)), "{name}");
        assert_eq!(got.len(), samples.len(), "{name}");
    }
}

#[test]
fn stale_marker_is_an_exception_not_a_fallback() {
    let mut s = series(100, 15_000, |i| i as f64 * 0.25);
    s[99].v = stale_nan();
    let bytes = assert_round_trip(&s);
    assert_eq!(mode_of(&bytes) & VALUE_MODE_MASK, MODE_DECIMAL_DELTA);
    let mut got = Vec::new();
    decode_block_chunk(&bytes, &mut got).unwrap();
    assert_eq!(got[99].v.to_bits(), STALE_NAN_BITS);
}

#[test]
fn empty_chunk_is_one_byte() {
    let bytes = encode(&[]);
    assert_eq!(bytes, [0]);
    let mut got = Vec::new();
    assert_eq!(decode_block_chunk(&bytes, &mut got), Ok(1));
    assert!(got.is_empty());
}

#[test]
fn regular_counter_is_compact() {
    let s = series(720, 15_000, |i| 1000.0 + i as f64);
    let bytes = assert_round_trip(&s);
    assert!(bytes.len() < 720 + 32, "{} bytes", bytes.len());
    // Every delta is 1: residual bytes are all the same, timestamps vanish.
    let g = series(720, 15_000, |i| 4096.0 * (1000 + 3 * i) as f64);
    assert!(assert_round_trip(&g).len() < 720 + 32);
}

#[test]
fn chunks_are_self_delimiting() {
    let a = series(10, 5, |i| i as f64);
    let b = series(3, 7, |i| (i as f64).sqrt());
    let mut buf = encode(&a);
    encode_block_chunk(&[], &mut buf);
    encode_block_chunk(&b, &mut buf);
    let mut got = Vec::new();
    let mut pos = 0;
    let mut chunks = 0;
    while pos < buf.len() {
        pos += decode_block_chunk(&buf[pos..], &mut got).unwrap();
        chunks += 1;
    }
    assert_eq!(chunks, 3);
    assert_eq!(got.len(), 13);
    assert!(got[10..].iter().zip(&b).all(|(g, w)| g.bit_eq(w)));
}

#[test]
fn corruption_is_reported_and_output_untouched() {
    let good = encode(&series(20, 15_000, |i| i as f64 * 0.1));
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty input", vec![], "truncated sample count"),
        (
            "length past end",
            good[..good.len() - 1].to_vec(),
            "chunk length past end of input",
        ),
        (
            "count too big",
            vec![5, 3, 4, 0, 0],
            "sample count exceeds chunk length",
        ),
        (
            "reserved mode bits",
            vec![1, 3, 0x80, 0, 0],
            "unknown mode bits",
        ),
        (
            "unknown value mode",
            vec![1, 3, 3, 0, 0],
            "unknown value mode",
        ),
        (
            "bad exponent",
            vec![1, 4, 0, 0, 200, 0],
            "decimal exponent out of range",
        ),
        (
            "zero divisor",
            vec![1, 6, 0, 0, 12, 0, 0, 0],
            "bad common divisor",
        ),
        (
            "truncated divisor",
            vec![1, 5, 0, 0, 12, 0, 0],
            "truncated common divisor",
        ),
        (
            "zero delta",
            vec![2, 5, 4, 0, 0, 12, 0],
            "timestamps not increasing",
        ),
    ];
    let mut trailing = good.clone();
    trailing[1] += 1;
    trailing.push(0);
    cases.push((
        "trailing bytes",
        trailing,
        "chunk length disagrees with its contents",
    ));
    for (name, bytes, reason) in cases {
        let mut out = vec![Sample::new(1, 1.0)];
        let err = decode_block_chunk(&bytes, &mut out).expect_err(name);
        assert_eq!(err.reason, reason, "{name}");
        assert!(err.offset <= bytes.len(), "{name}");
        assert_eq!(out.len(), 1, "{name}");
    }
}

fn increasing_times() -> impl Strategy<Value = Vec<i64>> {
    (
        any::<i64>(),
        proptest::collection::vec(
            prop_oneof![Just(15_000u64), 1u64..100_000, any::<u64>()],
            0..300,
        ),
    )
        .prop_map(|(start, steps)| {
            let mut t = start;
            let mut out = vec![];
            for step in steps {
                out.push(t);
                match (t as i128)
                    .checked_add(step.max(1) as i128)
                    .filter(|&n| n <= i64::MAX as i128)
                {
                    Some(n) => t = n as i64,
                    None => break,
                }
            }
            out
        })
}

fn decimal_or_special() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => (-1_000_000_000i64..1_000_000_000, 0u32..4).prop_map(|(m, d)| m as f64 / 10f64.powi(d as i32)),
        1 => Just(stale_nan()),
        1 => any::<u64>().prop_map(f64::from_bits),
        1 => Just(-0.0),
    ]
}

proptest! {
    #[test]
    fn prop_round_trip_any_bits(times in increasing_times(), bits in proptest::collection::vec(any::<u64>(), 300)) {
        let s: Vec<_> = times.iter().zip(&bits).map(|(&t, &b)| Sample::new(t, f64::from_bits(b))).collect();
        assert_round_trip(&s);
    }

    #[test]
    fn prop_round_trip_decimals(times in increasing_times(), vals in proptest::collection::vec(decimal_or_special(), 300)) {
        let s: Vec<_> = times.iter().zip(&vals).map(|(&t, &v)| Sample::new(t, v)).collect();
        assert_round_trip(&s);
    }

    #[test]
    fn prop_counters_round_trip(start in 0i64..1_000_000_000, incs in proptest::collection::vec(0i64..2_000, 10..400)) {
        let mut c = start;
        let s: Vec<_> = incs.iter().enumerate().map(|(i, d)| { c += d; Sample::new(i as i64 * 15_000, c as f64 / 100.0) }).collect();
        let bytes = assert_round_trip(&s);
        prop_assert_ne!(mode_of(&bytes) & VALUE_MODE_MASK, MODE_XOR);
    }

    #[test]
    fn prop_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut out = Vec::new();
        match decode_block_chunk(&bytes, &mut out) {
            Ok(used) => prop_assert!(used <= bytes.len()),
            Err(e) => { prop_assert!(e.offset <= bytes.len()); prop_assert!(out.is_empty()); }
        }
    }

    #[test]
    fn prop_mutated_chunks_never_panic(vals in proptest::collection::vec(decimal_or_special(), 1..60), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let s: Vec<_> = vals.iter().enumerate().map(|(i, &v)| Sample::new(i as i64 * 15_000, v)).collect();
        let mut bytes = encode(&s);
        for (at, x) in flips {
            let len = bytes.len();
            bytes[at % len] ^= x;
        }
        let mut out = Vec::new();
        if let Ok(used) = decode_block_chunk(&bytes, &mut out) {
            prop_assert!(used <= bytes.len());
            prop_assert!(out.windows(2).all(|w| w[0].t < w[1].t));
        }
    }

    #[test]
    fn prop_round_trip_with_start_timestamps(
        times in increasing_times(),
        vals in proptest::collection::vec(decimal_or_special(), 300),
        picks in proptest::collection::vec((any::<bool>(), any::<i64>()), 300),
    ) {
        let s: Vec<_> = times.iter().zip(&vals).map(|(&t, &v)| Sample::new(t, v)).collect();
        let sts: Vec<StEntry> = s
            .iter()
            .zip(&picks)
            .filter(|(_, (keep, st))| *keep && *st != 0)
            .map(|(x, (_, st))| (x.t, *st))
            .collect();
        let mut bytes = Vec::new();
        encode_block_chunk_st(&s, &sts, &mut bytes);
        let (mut got, mut got_sts) = (Vec::new(), Vec::new());
        let used = decode_block_chunk_st(&bytes, &mut got, Some(&mut got_sts)).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert!(got.iter().zip(&s).all(|(a, b)| a.bit_eq(b)) && got.len() == s.len());
        prop_assert_eq!(&got_sts, &sts);
        // A reader that does not ask for them skips the section.
        let mut plain = Vec::new();
        prop_assert_eq!(decode_block_chunk(&bytes, &mut plain).unwrap(), bytes.len());
        prop_assert_eq!(plain.len(), s.len());
        if sts.is_empty() {
            prop_assert_eq!(bytes, encode(&s));
        }
    }

    #[test]
    fn prop_mutated_st_chunks_never_panic(n in 1usize..40, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let s: Vec<_> = (0..n).map(|i| Sample::new(i as i64 * 15_000, i as f64)).collect();
        let sts: Vec<StEntry> = s.iter().map(|x| (x.t, x.t - 15_000)).filter(|e| e.1 != 0).collect();
        let mut bytes = Vec::new();
        encode_block_chunk_st(&s, &sts, &mut bytes);
        for (at, x) in flips {
            let len = bytes.len();
            bytes[at % len] ^= x;
        }
        let (mut out, mut got) = (Vec::new(), Vec::new());
        match decode_block_chunk_st(&bytes, &mut out, Some(&mut got)) {
            Ok(used) => prop_assert!(used <= bytes.len()),
            Err(e) => {
                prop_assert!(e.offset <= bytes.len());
                prop_assert!(out.is_empty() && got.is_empty());
            }
        }
    }
}

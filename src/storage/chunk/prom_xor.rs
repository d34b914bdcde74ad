//! Prometheus's XOR chunk, byte for byte: the wire format of remote read's
//! streamed responses (`Chunk.Encoding` `XOR`).
//!
//! Reproduces `xorAppender.Append` and `xorIterator.Next` of Prometheus's
//! `tsdb/chunkenc/xor.go`: a 2-byte big-endian sample count, then a bit
//! stream (most significant bit first). The first sample is its timestamp
//! as a signed varint and its value's 64 bits; the second its timestamp
//! delta as an unsigned varint and its value XORed with the first; later
//! ones a timestamp delta-of-delta in one of five buckets (`0`; `10` + 14
//! bits; `110` + 17; `1110` + 20; `1111` + 64) and an XORed value. A value
//! is `0` when equal to the previous one, else `1` followed by `0` and the
//! meaningful bits in the previous window, or by `1`, 5 bits of leading
//! zeros (at most 31), 6 bits of window length (64 written as 0) and the
//! bits. Tessera's own head chunks use a different layout (`xor.rs`).

use super::bits::BitReader;
use super::ChunkDecodeError;
use crate::model::Sample;
use crate::storage::varint::{put_uvarint, put_varint};

/// Most samples a chunk can count in its 2-byte header.
pub const MAX_PROM_XOR_SAMPLES: usize = u16::MAX as usize;

/// Whether `dod` fits a bucket of `nbits` two's-complement bits as
/// Prometheus's `bitRange` decides (one more on the positive side).
fn bit_range(dod: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= dod && dod <= half
}

/// Upstream's `bstream` writer, whose byte layout a chunk's bytes depend
/// on: `free` is how many low bits of the last byte are still unwritten.
/// A whole byte (`writeByte`) always appends a byte after it, even when the
/// write ended on a byte boundary, so a chunk can end in an empty byte;
/// a single bit (`writeBit`) appends one only when no bit is free.
struct Bstream {
    bytes: Vec<u8>,
    free: u32,
}

impl Bstream {
    /// A stream holding the chunk's 2-byte sample count and no free bit,
    /// as `NewXORChunk` starts it.
    fn with_header(n: u16, capacity: usize) -> Bstream {
        let mut bytes = Vec::with_capacity(capacity);
        bytes.extend_from_slice(&n.to_be_bytes());
        Bstream { bytes, free: 0 }
    }

    fn open_byte_if_full(&mut self) {
        if self.free == 0 {
            self.bytes.push(0);
            self.free = 8;
        }
    }

    /// `bstream.writeBit`.
    fn write_bit(&mut self, bit: bool) {
        self.open_byte_if_full();
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 1 << (self.free - 1);
            }
        }
        self.free -= 1;
    }

    /// `bstream.writeByte`: the byte's high bits fill the free ones, its
    /// low bits start a new byte, and as many bits stay free as before.
    fn write_byte(&mut self, byte: u8) {
        self.open_byte_if_full();
        if let Some(last) = self.bytes.last_mut() {
            *last |= byte >> (8 - self.free);
        }
        self.bytes.push((u16::from(byte) << self.free) as u8);
    }

    /// `bstream.writeBits`: the `n` low bits of `v`, whole bytes first.
    fn write_bits(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        let mut u = v << (64 - n);
        let mut left = n;
        while left >= 8 {
            self.write_byte((u >> 56) as u8);
            u <<= 8;
            left -= 8;
        }
        while left > 0 {
            self.write_bit(u >> 63 == 1);
            u <<= 1;
            left -= 1;
        }
    }
}

/// Encodes `samples` (increasing timestamps, at most
/// [`MAX_PROM_XOR_SAMPLES`]) as a Prometheus XOR chunk.
pub fn encode_prom_xor(samples: &[Sample]) -> Vec<u8> {
    debug_assert!(samples.len() <= MAX_PROM_XOR_SAMPLES);
    let n = samples.len().min(MAX_PROM_XOR_SAMPLES) as u16;
    let mut w = Bstream::with_header(n, 2 + samples.len() * 10 + 16);
    let mut prev_t = 0i64;
    let mut prev_delta = 0u64;
    let mut prev_v = 0u64;
    // `0xff` until a window is opened, as upstream.
    let mut leading = 0xffu32;
    let mut trailing = 0u32;
    let mut varint = Vec::with_capacity(10);
    for (i, s) in samples.iter().take(usize::from(n)).enumerate() {
        let v = s.v.to_bits();
        match i {
            0 => {
                varint.clear();
                put_varint(&mut varint, s.t);
                for b in &varint {
                    w.write_bits(u64::from(*b), 8);
                }
                w.write_bits(v, 64);
            }
            1 => {
                let delta = s.t.wrapping_sub(prev_t) as u64;
                varint.clear();
                put_uvarint(&mut varint, delta);
                for b in &varint {
                    w.write_bits(u64::from(*b), 8);
                }
                write_value(&mut w, v ^ prev_v, &mut leading, &mut trailing);
                prev_delta = delta;
            }
            _ => {
                let delta = s.t.wrapping_sub(prev_t) as u64;
                let dod = delta.wrapping_sub(prev_delta) as i64;
                if dod == 0 {
                    w.write_bit(false);
                } else if bit_range(dod, 14) {
                    w.write_bits(0b10, 2);
                    w.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    w.write_bits(0b110, 3);
                    w.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    w.write_bits(0b1110, 4);
                    w.write_bits(dod as u64, 20);
                } else {
                    w.write_bits(0b1111, 4);
                    w.write_bits(dod as u64, 64);
                }
                write_value(&mut w, v ^ prev_v, &mut leading, &mut trailing);
                prev_delta = delta;
            }
        }
        prev_t = s.t;
        prev_v = v;
    }
    w.bytes
}

/// Upstream's `xorWrite`.
fn write_value(w: &mut Bstream, delta: u64, leading: &mut u32, trailing: &mut u32) {
    if delta == 0 {
        w.write_bit(false);
        return;
    }
    w.write_bit(true);
    let new_leading = delta.leading_zeros().min(31);
    let new_trailing = delta.trailing_zeros();
    if *leading != 0xff && new_leading >= *leading && new_trailing >= *trailing {
        w.write_bit(false);
        w.write_bits(delta >> *trailing, 64 - *leading - *trailing);
        return;
    }
    *leading = new_leading;
    *trailing = new_trailing;
    w.write_bit(true);
    w.write_bits(u64::from(new_leading), 5);
    let sigbits = 64 - new_leading - new_trailing;
    // 64 meaningful bits are written as 0 (6 bits), as upstream.
    w.write_bits(u64::from(sigbits & 0x3f), 6);
    w.write_bits(delta >> new_trailing, sigbits);
}

/// Decodes a Prometheus XOR chunk into its samples.
pub fn decode_prom_xor(data: &[u8]) -> Result<Vec<Sample>, ChunkDecodeError> {
    let err = |offset: usize, reason: &'static str| ChunkDecodeError { offset, reason };
    if data.len() < 2 {
        return Err(err(0, "chunk shorter than its 2-byte header"));
    }
    let n = usize::from(u16::from_be_bytes([data[0], data[1]]));
    // Every sample takes at least one bit.
    if n > (data.len() - 2) * 8 {
        return Err(err(0, "sample count larger than the chunk can hold"));
    }
    let mut r = BitReader::new(&data[2..]);
    let mut out = Vec::with_capacity(n);
    let mut t = 0i64;
    let mut delta = 0u64;
    let mut v = 0u64;
    let mut leading = 0u32;
    let mut trailing = 0u32;
    for i in 0..n {
        let at = |r: &BitReader| 2 + r.byte_offset();
        match i {
            0 => {
                let x = read_varint_bits(&mut r, true)
                    .ok_or_else(|| err(at(&r), "truncated first timestamp"))?;
                t = x as i64;
                v = r
                    .read_bits(64)
                    .ok_or_else(|| err(at(&r), "truncated first value"))?;
            }
            1 => {
                let x = read_varint_bits(&mut r, false)
                    .ok_or_else(|| err(at(&r), "truncated first delta"))?;
                delta = x;
                t = t.wrapping_add(delta as i64);
                v = read_value(&mut r, v, &mut leading, &mut trailing)
                    .ok_or_else(|| err(at(&r), "truncated value"))?;
            }
            _ => {
                let mut ones = 0u32;
                while ones < 4 {
                    match r.read_bit() {
                        Some(true) => ones += 1,
                        Some(false) => break,
                        None => return Err(err(at(&r), "truncated timestamp")),
                    }
                }
                let width = match ones {
                    0 => 0,
                    1 => 14,
                    2 => 17,
                    3 => 20,
                    _ => 64,
                };
                let dod = if width == 0 {
                    0i64
                } else {
                    let bits = r
                        .read_bits(width)
                        .ok_or_else(|| err(at(&r), "truncated timestamp"))?;
                    if width == 64 {
                        bits as i64
                    } else if bits > 1 << (width - 1) {
                        // Upstream's sign rule: the top value stays positive.
                        bits as i64 - (1i64 << width)
                    } else {
                        bits as i64
                    }
                };
                delta = delta.wrapping_add(dod as u64);
                t = t.wrapping_add(delta as i64);
                v = read_value(&mut r, v, &mut leading, &mut trailing)
                    .ok_or_else(|| err(at(&r), "truncated value"))?;
            }
        }
        out.push(Sample::new(t, f64::from_bits(v)));
    }
    Ok(out)
}

/// A varint written byte by byte into the bit stream; `signed` for zigzag.
fn read_varint_bits(r: &mut BitReader, signed: bool) -> Option<u64> {
    let mut x = 0u64;
    let mut shift = 0u32;
    loop {
        let b = r.read_bits(8)?;
        if shift >= 64 {
            return None;
        }
        x |= (b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    if signed {
        let s = ((x >> 1) as i64) ^ -((x & 1) as i64);
        Some(s as u64)
    } else {
        Some(x)
    }
}

/// Upstream's `xorIterator.readValue`.
fn read_value(r: &mut BitReader, prev: u64, leading: &mut u32, trailing: &mut u32) -> Option<u64> {
    if !r.read_bit()? {
        return Some(prev);
    }
    if r.read_bit()? {
        *leading = r.read_bits(5)? as u32;
        let mut sigbits = r.read_bits(6)? as u32;
        if sigbits == 0 {
            sigbits = 64;
        }
        if *leading + sigbits > 64 {
            return None;
        }
        *trailing = 64 - *leading - sigbits;
    }
    let sigbits = 64 - *leading - *trailing;
    let bits = r.read_bits(sigbits)?;
    Some(prev ^ (bits << *trailing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(samples: &[Sample]) {
        let bytes = encode_prom_xor(samples);
        let back = decode_prom_xor(&bytes).unwrap();
        assert_eq!(back.len(), samples.len());
        for (a, b) in back.iter().zip(samples) {
            assert_eq!(a.t, b.t);
            assert_eq!(a.v.to_bits(), b.v.to_bits());
        }
    }

    #[test]
    fn every_timestamp_bucket_and_value_window_round_trips() {
        let mut s = Vec::new();
        let mut t = -5_000i64;
        // Deltas that land in each delta-of-delta bucket, both signs,
        // at the bucket edges.
        for step in [
            15_000i64,
            15_000,
            15_001,
            15_000 + 8192,
            15_000 - 8191,
            15_000 + 8193,
            15_000 + 65_536,
            15_000 + 65_537,
            15_000 + 524_288,
            15_000 + 524_289,
            1 << 40,
            1,
            15_000,
        ] {
            t += step;
            s.push(t);
        }
        let values = [
            0.0,
            1.0,
            1.0,
            -2.5,
            f64::NAN,
            f64::INFINITY,
            1e300,
            1e-300,
            0.1,
            0.2,
            3.0,
            3.0,
            -0.0,
        ];
        let samples: Vec<Sample> = s
            .iter()
            .zip(values)
            .map(|(&t, v)| Sample::new(t, v))
            .collect();
        roundtrip(&samples);
        roundtrip(&samples[..1]);
        roundtrip(&samples[..2]);
        roundtrip(&[]);
    }

    #[test]
    fn a_known_chunk_has_upstreams_bytes() {
        // Worked by hand from upstream's rules: header 0x0002; varint(1000)
        // zigzag = 2000 = 0xd0 0x0f; 1.0 = 0x3ff0000000000000; uvarint(1000)
        // = 0xe8 0x07; value equal: bit 0, padded with zeros.
        let bytes = encode_prom_xor(&[Sample::new(1000, 1.0), Sample::new(2000, 1.0)]);
        assert_eq!(
            bytes,
            vec![0x00, 0x02, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xe8, 0x07, 0x00]
        );
    }

    #[test]
    fn a_chunk_ending_on_a_whole_byte_keeps_upstreams_empty_last_byte() {
        // One sample: two varint bytes and the value's eight, each written
        // as a whole byte, so upstream's stream ends in an empty byte.
        let bytes = encode_prom_xor(&[Sample::new(1000, 1.0)]);
        assert_eq!(
            bytes,
            vec![0x00, 0x01, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x00]
        );
        // Bits after it: the uvarint fills that empty byte and leaves
        // another; the value's `1`, `1`, 5 + 6 bits of window (leading
        // zeros capped at 31, so 13 meaningful bits) and 13 bits take
        // 2 + 11 + 13 = 26 bits: three more bytes, the last one partial.
        let a = 1.0f64.to_bits();
        let b = f64::from_bits(a ^ (0xffu64 << 20));
        let bytes = encode_prom_xor(&[Sample::new(0, 1.0), Sample::new(1, b)]);
        assert_eq!(bytes.len(), 2 + 1 + 8 + 1 + 4);
        assert_eq!(decode_prom_xor(&bytes).unwrap()[1].v.to_bits(), b.to_bits());
    }

    #[test]
    fn damaged_chunks_are_errors_not_panics() {
        let good = encode_prom_xor(
            &(0..50)
                .map(|i| Sample::new(i * 1000, i as f64 * 0.7))
                .collect::<Vec<_>>(),
        );
        for cut in 0..good.len() {
            let _ = decode_prom_xor(&good[..cut]);
        }
        assert!(decode_prom_xor(&[0xff, 0xff, 0]).is_err());
        assert!(decode_prom_xor(&[0x00]).is_err());
        let mut bad = good.clone();
        for b in bad.iter_mut().skip(2) {
            *b = 0xff;
        }
        let _ = decode_prom_xor(&bad);
    }
}

//! The XOR chunk decoder queries use: the whole chunk into a vector, with
//! the bits held in a 64-bit register that is refilled eight bytes at a
//! time, instead of [`XorIter`]'s reader, which loads a word for every
//! field.
//!
//! It only says whether the chunk decoded; on any problem (truncation, a
//! timestamp that does not increase, a bad window) it gives the chunk to
//! [`XorIter`], whose samples and error are the reference. So a chunk that
//! decodes gives the same samples either way (`tests::same_as_iter`), and a
//! damaged one the same error at the same offset.

use super::xor::{sign_extend, Window, DOD_PAYLOAD_BITS, WINDOW_FIELD_BITS};
use super::{ChunkDecodeError, XorIter};
use crate::model::Sample;

/// Appends the `count` samples of an XOR chunk to `out`. On error, `out`
/// holds the samples before the damage, as when pushing from [`XorIter`].
pub(crate) fn decode_xor_into(
    bytes: &[u8],
    count: usize,
    out: &mut Vec<Sample>,
) -> Result<(), ChunkDecodeError> {
    let start = out.len();
    out.reserve(count);
    if fast(bytes, count, out).is_some() {
        return Ok(());
    }
    out.truncate(start);
    for s in XorIter::new(bytes, count) {
        out.push(s?);
    }
    Ok(())
}

/// A big-endian bit register over a byte slice: `acc` holds the next `n`
/// bits left-aligned (bits below them are zero or the bits that follow).
struct Bits<'a> {
    buf: &'a [u8],
    /// The next byte not yet counted in `n`.
    next: usize,
    acc: u64,
    n: u32,
}

impl Bits<'_> {
    /// Tops the register up to at least 57 bits, or to every bit left.
    #[inline]
    fn refill(&mut self) {
        if let Some(b) = self.buf.get(self.next..self.next + 8) {
            let w = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            self.acc |= w >> self.n;
            let bytes = (63 - self.n) / 8;
            self.next += bytes as usize;
            self.n += bytes * 8;
            return;
        }
        while self.n <= 56 {
            let Some(&b) = self.buf.get(self.next) else {
                return;
            };
            self.acc |= u64::from(b) << (56 - self.n);
            self.next += 1;
            self.n += 8;
        }
    }

    /// The next `k` bits (1..=56), or `None` past the end.
    #[inline(always)]
    fn take(&mut self, k: u32) -> Option<u64> {
        if self.n < k {
            self.refill();
            if self.n < k {
                return None;
            }
        }
        let v = self.acc >> (64 - k);
        self.acc <<= k;
        self.n -= k;
        Some(v)
    }

    /// The next `k` bits (1..=64).
    #[inline(always)]
    fn take_wide(&mut self, k: u32) -> Option<u64> {
        if k <= 56 {
            return self.take(k);
        }
        let hi = self.take(32)?;
        Some((hi << (k - 32)) | self.take(k - 32)?)
    }

    /// The delta-of-delta prefix: how many one bits (at most five), the
    /// closing zero consumed unless there are five.
    #[inline]
    fn prefix(&mut self) -> Option<u32> {
        let most = DOD_PAYLOAD_BITS.len() as u32;
        if self.n < most + 1 {
            self.refill();
        }
        let ones = self.acc.leading_ones().min(most);
        let used = if ones < most { ones + 1 } else { ones };
        if used > self.n {
            return None;
        }
        self.acc <<= used;
        self.n -= used;
        Some(ones)
    }
}

/// The decode proper; `None` on anything [`XorIter`] would refuse.
fn fast(bytes: &[u8], count: usize, out: &mut Vec<Sample>) -> Option<()> {
    if count == 0 {
        return Some(());
    }
    let mut r = Bits {
        buf: bytes,
        next: 0,
        acc: 0,
        n: 0,
    };
    let mut u = 0u64;
    let mut shift = 0u32;
    loop {
        let b = r.take(8)?;
        if shift == 63 && b > 1 {
            return None;
        }
        u |= (b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let mut t = crate::storage::varint::unzigzag(u);
    let mut v = r.take_wide(64)?;
    out.push(Sample::new(t, f64::from_bits(v)));
    let mut delta = 0u64;
    let mut win = Window::default();
    for _ in 1..count {
        let ones = r.prefix()?;
        let dod = match ones {
            0 => 0,
            k => {
                let width = DOD_PAYLOAD_BITS[k as usize - 1];
                sign_extend(r.take_wide(width)?, width)
            }
        };
        delta = delta.wrapping_add(dod as u64);
        let next_t = t.wrapping_add(delta as i64);
        if next_t <= t {
            return None;
        }
        t = next_t;
        if r.take(1)? == 1 {
            if r.take(1)? == 1 {
                let leading = r.take(WINDOW_FIELD_BITS)? as u32;
                let len = r.take(WINDOW_FIELD_BITS)? as u32 + 1;
                if leading + len > 64 {
                    return None;
                }
                win = Window { leading, len };
            } else if win.len == 0 {
                return None;
            }
            v ^= r.take_wide(win.len)? << win.trailing();
        }
        out.push(Sample::new(t, f64::from_bits(v)));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::chunk::XorAppender;
    use proptest::prelude::*;

    fn reference(bytes: &[u8], count: usize) -> (Vec<Sample>, Option<ChunkDecodeError>) {
        let mut out = Vec::new();
        for s in XorIter::new(bytes, count) {
            match s {
                Ok(s) => out.push(s),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
        let mut a = XorAppender::with_capacity(samples.len() * XorAppender::MAX_SAMPLE_BYTES);
        for &(t, v) in samples {
            a.append(t, v);
        }
        a.bytes().to_vec()
    }

    fn check(bytes: &[u8], count: usize) {
        let (want, err) = reference(bytes, count);
        let mut got = vec![Sample::new(-1, 0.5)];
        let res = decode_xor_into(bytes, count, &mut got);
        assert_eq!(got[0].t, -1);
        let got: Vec<(i64, u64)> = got[1..].iter().map(|s| (s.t, s.v.to_bits())).collect();
        let want: Vec<(i64, u64)> = want.iter().map(|s| (s.t, s.v.to_bits())).collect();
        assert_eq!(got, want);
        assert_eq!(res.err(), err);
    }

    /// Timestamps with every delta-of-delta width, values with reused and
    /// new windows, NaN, infinities and repeats.
    fn series() -> impl Strategy<Value = Vec<(i64, f64)>> {
        let step = prop_oneof![
            Just(15_000i64),
            1i64..64,
            1i64..20_000,
            1i64..1_000_000,
            1i64..(1 << 40),
        ];
        let value = prop_oneof![
            Just(0.0f64),
            Just(f64::NAN),
            Just(f64::INFINITY),
            -1e6f64..1e6,
            any::<f64>(),
            (0u32..1000).prop_map(f64::from),
        ];
        (any::<i32>(), prop::collection::vec((step, value), 1..200)).prop_map(|(t0, steps)| {
            let mut t = i64::from(t0);
            steps
                .into_iter()
                .map(|(d, v)| {
                    t += d;
                    (t, v)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn same_as_iter(samples in series()) {
            let bytes = encode(&samples);
            check(&bytes, samples.len());
            // Asking for fewer samples than the chunk holds.
            check(&bytes, samples.len() / 2);
        }

        #[test]
        fn damage_gives_the_iterators_error(
            samples in series(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
            cut in any::<prop::sample::Index>(),
            extra in 0usize..3,
        ) {
            let mut bytes = encode(&samples);
            for (i, bit) in flips {
                let i = i.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
            check(&bytes, samples.len() + extra);
            let cut = cut.index(bytes.len() + 1);
            check(&bytes[..cut], samples.len());
        }
    }

    #[test]
    fn empty_and_truncated_chunks() {
        check(&[], 0);
        check(&[], 1);
        check(&[0x80], 1);
        check(&[0x02, 0, 0, 0], 1);
        check(&encode(&[(1, 1.0), (2, 2.0)])[..9], 2);
    }
}

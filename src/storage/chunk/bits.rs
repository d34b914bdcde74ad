//! Bit-level writer and reader for the XOR chunk.
//!
//! Bits are packed most-significant first: the first bit written is bit 7 of
//! byte 0. The writer keeps every bit in its buffer as soon as it is written
//! (no pending accumulator), so the bytes are a complete, decodable prefix
//! after every call; unused low bits of the last byte are zero.

/// Appends bits to a byte buffer whose capacity is chosen up front.
#[derive(Debug, Clone)]
pub(super) struct BitWriter {
    buf: Vec<u8>,
    /// Unused low bits in the last byte of `buf` (0 when `buf` is empty).
    free: u32,
}

impl BitWriter {
    /// An empty writer whose buffer is allocated once with `capacity` bytes.
    /// Bytes the buffer holds without growing.
    pub(super) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub(super) fn with_capacity(capacity: usize) -> BitWriter {
        BitWriter {
            buf: Vec::with_capacity(capacity),
            free: 0,
        }
    }

    /// Writes the low `n` bits of `v` (`n <= 64`), highest first.
    pub(super) fn write_bits(&mut self, v: u64, n: u32) {
        debug_assert!(n <= 64);
        let mut n = n;
        while n > 0 {
            if self.free == 0 {
                self.buf.push(0);
                self.free = 8;
            }
            let k = n.min(self.free);
            let chunk = ((v >> (n - k)) & low_mask(k)) as u8;
            if let Some(last) = self.buf.last_mut() {
                *last |= chunk << (self.free - k);
            }
            self.free -= k;
            n -= k;
        }
    }

    /// Writes a single bit.
    pub(super) fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// The bytes written so far.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The underlying buffer, for tests that check it never reallocates.
    #[cfg(test)]
    pub(super) fn raw(&self) -> &Vec<u8> {
        &self.buf
    }
}

/// Reads bits written by [`BitWriter`] from a borrowed slice.
#[derive(Debug, Clone)]
pub(super) struct BitReader<'a> {
    buf: &'a [u8],
    /// Position in bits from the start of `buf`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader positioned at the first bit of `buf`.
    pub(super) fn new(buf: &'a [u8]) -> BitReader<'a> {
        BitReader { buf, pos: 0 }
    }

    /// The byte holding the next unread bit (for error offsets).
    pub(super) fn byte_offset(&self) -> usize {
        self.pos / 8
    }

    /// Reads one bit, or `None` at the end of the buffer.
    pub(super) fn read_bit(&mut self) -> Option<bool> {
        self.read_bits(1).map(|b| b == 1)
    }

    /// Reads `n` bits (`n <= 64`) as the low bits of the result, or `None`
    /// if fewer than `n` bits remain (the position is then unspecified).
    /// Bits not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.buf.len() * 8 - self.pos.min(self.buf.len() * 8)
    }

    /// The next `n` bits (at most 56, at most [`BitReader::remaining`])
    /// without consuming them, so a decoder can read a short prefix code in
    /// one step.
    pub(super) fn peek_bits(&self, n: u32) -> u64 {
        debug_assert!(n <= 56 && n as usize <= self.remaining());
        if n == 0 {
            return 0;
        }
        let mut probe = self.clone();
        probe.read_bits(n).unwrap_or(0)
    }

    /// Consumes `n` bits already looked at with [`BitReader::peek_bits`].
    pub(super) fn skip(&mut self, n: u32) {
        self.pos = (self.pos + n as usize).min(self.buf.len() * 8);
    }

    pub(super) fn read_bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        let total = self.buf.len() * 8;
        if self.pos + n as usize > total {
            // As if read bit by bit up to the end: the position stays
            // meaningful for the caller's corruption offset.
            self.pos = total;
            return None;
        }
        if n > 56 {
            // More than a 64-bit window can hold past any bit offset.
            let hi = self.read_bits(32)?;
            let lo = self.read_bits(n - 32)?;
            return Some((hi << (n - 32)) | lo);
        }
        if n == 0 {
            return Some(0);
        }
        // Eight bytes from the current one, big-endian, zero past the end;
        // the wanted bits start `off` bits in and are at most 56 long.
        let byte = self.pos / 8;
        let off = (self.pos % 8) as u32;
        let word = match self.buf.get(byte..byte + 8) {
            Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            None => {
                let mut b = [0u8; 8];
                let tail = &self.buf[byte..];
                b[..tail.len()].copy_from_slice(tail);
                u64::from_be_bytes(b)
            }
        };
        self.pos += n as usize;
        Some((word << off) >> (64 - n))
    }
}

/// A mask of the low `k` bits, for `k <= 8` as used by the byte loops.
#[inline]
fn low_mask(k: u32) -> u64 {
    (1u64 << k) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn msb_first_packing() {
        let mut w = BitWriter::with_capacity(4);
        w.write_bit(true);
        w.write_bits(0b011, 3);
        assert_eq!(w.bytes(), &[0b1011_0000]);
        w.write_bits(0xABC, 12);
        assert_eq!(w.bytes(), &[0b1011_1010, 0b1011_1100]);
        w.write_bits(0, 0);
        assert_eq!(w.bytes().len(), 2);
    }

    #[test]
    fn reader_stops_at_end() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.read_bits(7), Some(0x7f));
        assert_eq!(r.read_bit(), Some(true));
        assert_eq!(r.read_bit(), None);
        assert_eq!(BitReader::new(&[]).read_bits(1), None);
        assert_eq!(BitReader::new(&[]).read_bits(0), Some(0));
        assert_eq!(BitReader::new(&[1; 7]).read_bits(64), None);
    }

    proptest! {
        #[test]
        fn round_trip(fields in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..50)) {
            let mut w = BitWriter::with_capacity(0);
            for &(v, n) in &fields {
                w.write_bits(v, n);
            }
            let mut r = BitReader::new(w.bytes());
            for &(v, n) in &fields {
                let want = if n == 64 { v } else { v & ((1u64 << n) - 1) };
                prop_assert_eq!(r.read_bits(n), Some(want));
            }
        }
    }
}

//! Gorilla XOR chunk: delta-of-delta timestamps and XOR-compressed floats.
//!
//! The layout is our own (not Prometheus' `chunkenc.XORChunk` byte for
//! byte, though the ideas are the same as its `xorAppender`); the spec is the
//! "XOR chunk" section of `storage-format.md`. The sample count is not stored:
//! the head keeps it next to the chunk and hands it to [`XorIter::new`].

use super::bits::{BitReader, BitWriter};
use super::ChunkDecodeError;
use crate::model::Sample;

/// Timestamp delta-of-delta buckets after the first sample: a prefix of
/// ones ended by a zero (`0`, `10`, `110`, ...), then a two's-complement
/// payload of the given width. The last bucket's prefix has no closing zero.
/// `0` alone means a delta-of-delta of zero.
pub(super) const DOD_PAYLOAD_BITS: [u32; 5] = [7, 14, 20, 32, 64];

/// Prefix length of the widest (escape) bucket: `11111`.
const DOD_ESCAPE_PREFIX_BITS: u32 = DOD_PAYLOAD_BITS.len() as u32;

/// Width of the leading-zero count and of the (length - 1) field of a new
/// XOR window.
pub(super) const WINDOW_FIELD_BITS: u32 = 6;

/// Reusing the previous window costs its length; opening a new one costs
/// the two window fields. Reuse only while it wastes fewer bits than that.
const WINDOW_REUSE_SLACK: u32 = 2 * WINDOW_FIELD_BITS;

/// Worst-case bits of a sample after the first: the escape timestamp bucket
/// plus a value that opens a full 64-bit window.
const MAX_LATER_SAMPLE_BITS: usize =
    (DOD_ESCAPE_PREFIX_BITS + 64) as usize + (2 + 2 * WINDOW_FIELD_BITS + 64) as usize;

/// Worst-case bytes of the first sample: a 10-byte varint and 64 value bits.
const MAX_FIRST_SAMPLE_BYTES: usize = 10 + 8;

const fn max_usize(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Appends samples to a Gorilla chunk held in a fixed-capacity buffer.
///
/// The buffer is allocated once, with the capacity given to
/// [`XorAppender::with_capacity`]; the head cuts a new chunk when
/// [`XorAppender::has_room`] is false, so appending never reallocates.
#[derive(Debug, Clone)]
pub(crate) struct XorAppender {
    w: BitWriter,
    /// Samples appended (at most `u16::MAX` in practice: the head cuts at 120).
    n: u32,
    t: i64,
    /// Previous timestamp delta, as a wrapping 64-bit quantity.
    delta: u64,
    v: u64,
    window: Window,
}

/// The run of meaningful bits the previous XOR used (`len == 0`: none yet).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Window {
    pub(super) leading: u32,
    pub(super) len: u32,
}

impl Window {
    pub(super) fn trailing(self) -> u32 {
        64 - self.leading - self.len
    }
}

impl XorAppender {
    /// The most bytes a single append can add to the buffer.
    ///
    /// A later sample takes at most 147 bits (5 + 64 timestamp, 2 + 12 + 64
    /// value), and appending `b` bits after a partly filled byte adds at most
    /// `ceil(b / 8)` bytes: 19. The first sample takes at most 18.
    pub const MAX_SAMPLE_BYTES: usize =
        max_usize(MAX_LATER_SAMPLE_BITS.div_ceil(8), MAX_FIRST_SAMPLE_BYTES);

    /// An empty chunk whose buffer holds `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> XorAppender {
        XorAppender {
            w: BitWriter::with_capacity(capacity),
            n: 0,
            t: 0,
            delta: 0,
            v: 0,
            window: Window::default(),
        }
    }

    /// Appends a sample. `t` must be greater than the last appended timestamp.
    pub fn append(&mut self, t: i64, v: f64) {
        debug_assert!(self.n == 0 || t > self.t, "timestamps must increase");
        let bits = v.to_bits();
        if self.n == 0 {
            self.write_first(t, bits);
        } else {
            // Strictly increasing i64s differ by 1..=u64::MAX, which the
            // wrapping difference represents exactly as a u64.
            let delta = (t as u64).wrapping_sub(self.t as u64);
            self.write_dod(delta.wrapping_sub(self.delta) as i64);
            self.write_value(bits ^ self.v);
            self.delta = delta;
        }
        self.t = t;
        self.v = bits;
        self.n = self.n.saturating_add(1);
    }

    fn write_first(&mut self, t: i64, bits: u64) {
        let mut u = crate::storage::varint::zigzag(t);
        while u >= 0x80 {
            self.w.write_bits((u & 0x7f) | 0x80, 8);
            u >>= 7;
        }
        self.w.write_bits(u, 8);
        self.w.write_bits(bits, 64);
    }

    fn write_dod(&mut self, dod: i64) {
        if dod == 0 {
            self.w.write_bit(false);
            return;
        }
        for (i, &width) in DOD_PAYLOAD_BITS.iter().enumerate() {
            let last = i + 1 == DOD_PAYLOAD_BITS.len();
            if last || fits_signed(dod, width) {
                let ones = i as u32 + 1;
                // `ones` one bits, then a closing zero unless escaping.
                let (prefix, prefix_len) = if last {
                    ((1u64 << ones) - 1, ones)
                } else {
                    (((1u64 << ones) - 1) << 1, ones + 1)
                };
                self.w.write_bits(prefix, prefix_len);
                self.w.write_bits(dod as u64 & width_mask(width), width);
                return;
            }
        }
    }

    fn write_value(&mut self, xor: u64) {
        if xor == 0 {
            self.w.write_bit(false);
            return;
        }
        let leading = xor.leading_zeros();
        let trailing = xor.trailing_zeros();
        let len = 64 - leading - trailing;
        let win = self.window;
        if win.len > 0
            && leading >= win.leading
            && trailing >= win.trailing()
            && win.len <= len + WINDOW_REUSE_SLACK
        {
            self.w.write_bits(0b10, 2);
            self.w.write_bits(xor >> win.trailing(), win.len);
            return;
        }
        self.w.write_bits(0b11, 2);
        self.w.write_bits(u64::from(leading), WINDOW_FIELD_BITS);
        self.w.write_bits(u64::from(len - 1), WINDOW_FIELD_BITS);
        self.w.write_bits(xor >> trailing, len);
        self.window = Window { leading, len };
    }

    /// Whether one more sample surely fits without growing the buffer.
    pub fn has_room(&self) -> bool {
        self.w.bytes().len() + Self::MAX_SAMPLE_BYTES <= self.w.capacity()
    }

    /// Number of samples appended.
    pub fn num_samples(&self) -> usize {
        self.n as usize
    }

    /// The encoded bytes so far (a valid chunk for [`XorIter`]).
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// The last appended sample.
    pub fn last(&self) -> Option<Sample> {
        (self.n > 0).then(|| Sample::new(self.t, f64::from_bits(self.v)))
    }

    #[cfg(test)]
    /// Capacity of the buffer in bytes.
    pub fn capacity(&self) -> usize {
        self.w.capacity()
    }

    /// The buffer itself, so tests can prove it never reallocated.
    #[cfg(test)]
    pub(super) fn raw_buffer(&self) -> &Vec<u8> {
        self.w.raw()
    }
}

fn fits_signed(v: i64, width: u32) -> bool {
    if width >= 64 {
        return true;
    }
    let half = 1i64 << (width - 1);
    (-half..half).contains(&v)
}

fn width_mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// Sign-extends the low `width` bits of `raw`.
pub(super) fn sign_extend(raw: u64, width: u32) -> i64 {
    let shift = 64 - width;
    ((raw << shift) as i64) >> shift
}

/// Iterates over the samples of a Gorilla chunk.
pub(crate) struct XorIter<'a> {
    r: BitReader<'a>,
    remaining: usize,
    read: usize,
    t: i64,
    delta: u64,
    v: u64,
    window: Window,
    failed: bool,
}

impl<'a> XorIter<'a> {
    /// Decodes `count` samples from `bytes`.
    pub fn new(bytes: &'a [u8], count: usize) -> XorIter<'a> {
        XorIter {
            r: BitReader::new(bytes),
            remaining: count,
            read: 0,
            t: 0,
            delta: 0,
            v: 0,
            window: Window::default(),
            failed: false,
        }
    }

    fn err(&self, reason: &'static str) -> ChunkDecodeError {
        ChunkDecodeError {
            offset: self.r.byte_offset(),
            reason,
        }
    }

    fn read_first(&mut self) -> Result<(), ChunkDecodeError> {
        let mut u = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self
                .r
                .read_bits(8)
                .ok_or_else(|| self.err("truncated first timestamp"))?;
            if shift == 63 && b > 1 {
                return Err(self.err("first timestamp varint overflows"));
            }
            u |= (b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(self.err("first timestamp varint too long"));
            }
        }
        self.t = crate::storage::varint::unzigzag(u);
        self.v = self
            .r
            .read_bits(64)
            .ok_or_else(|| self.err("truncated first value"))?;
        Ok(())
    }

    fn read_dod(&mut self) -> Result<i64, ChunkDecodeError> {
        // The prefix (up to five 1 bits, ended by a 0 unless five) in one
        // look instead of bit by bit.
        let most = DOD_PAYLOAD_BITS.len() as u32;
        let k = (self.r.remaining() as u32).min(most);
        let prefix = self.r.peek_bits(k);
        let ones = if k == 0 {
            0
        } else {
            (prefix << (64 - k)).leading_ones().min(k)
        };
        if ones == k && k < most {
            // Ran out of bits before the prefix ended.
            self.r.skip(k);
            return Err(self.err("truncated timestamp"));
        }
        self.r.skip(if ones < most { ones + 1 } else { ones });
        let ones = ones as usize;
        let Some(width) = ones
            .checked_sub(1)
            .and_then(|i| DOD_PAYLOAD_BITS.get(i).copied())
        else {
            return Ok(0);
        };
        let raw = self
            .r
            .read_bits(width)
            .ok_or_else(|| self.err("truncated timestamp"))?;
        Ok(sign_extend(raw, width))
    }

    fn read_xor(&mut self) -> Result<u64, ChunkDecodeError> {
        let truncated = |it: &Self| it.err("truncated value");
        if !self.r.read_bit().ok_or_else(|| truncated(self))? {
            return Ok(0);
        }
        if !self.r.read_bit().ok_or_else(|| truncated(self))? {
            let win = self.window;
            if win.len == 0 {
                return Err(self.err("value reuses a window before one was set"));
            }
            let bits = self.r.read_bits(win.len).ok_or_else(|| truncated(self))?;
            return Ok(bits << win.trailing());
        }
        let leading = self
            .r
            .read_bits(WINDOW_FIELD_BITS)
            .ok_or_else(|| truncated(self))? as u32;
        let len = self
            .r
            .read_bits(WINDOW_FIELD_BITS)
            .ok_or_else(|| truncated(self))? as u32
            + 1;
        if leading + len > 64 {
            return Err(self.err("value window wider than 64 bits"));
        }
        let win = Window { leading, len };
        let bits = self.r.read_bits(len).ok_or_else(|| truncated(self))?;
        self.window = win;
        Ok(bits << win.trailing())
    }

    fn read_next(&mut self) -> Result<Sample, ChunkDecodeError> {
        if self.read == 0 {
            self.read_first()?;
        } else {
            let dod = self.read_dod()?;
            let delta = self.delta.wrapping_add(dod as u64);
            let t = self.t.wrapping_add(delta as i64);
            if t <= self.t {
                return Err(self.err("timestamps not increasing"));
            }
            self.v ^= self.read_xor()?;
            self.t = t;
            self.delta = delta;
        }
        Ok(Sample::new(self.t, f64::from_bits(self.v)))
    }
}

impl Iterator for XorIter<'_> {
    type Item = Result<Sample, ChunkDecodeError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.remaining == 0 {
            return None;
        }
        let res = self.read_next();
        match res {
            Ok(_) => {
                self.remaining -= 1;
                self.read += 1;
            }
            Err(_) => self.failed = true,
        }
        Some(res)
    }
}

#[cfg(test)]
#[path = "xor_tests.rs"]
mod tests;

//! The block chunk encoding (decimal-integer delta coding with XOR fallback).
//!
//! Spec: the "Block chunk" section of `storage-format.md`. Blocks concatenate
//! many of these and compress them with zstd, so the encoding aims at byte
//! streams zstd models well (runs of zero bytes for regular timestamps and
//! steady counters) rather than at the smallest raw size.

use super::decimal::{self, K_MIN};
use super::st::{decode_st_stream, StEntry, StWriter};
use super::ChunkDecodeError;
use crate::model::Sample;
use crate::storage::varint::{get_uvarint, get_varint, put_uvarint, put_varint};

/// Value coding, in the low two bits of the mode byte: exact decimals as
/// integer deltas.
const MODE_DECIMAL_DELTA: u8 = 0;
/// Exact decimals as integer delta-of-deltas.
const MODE_DECIMAL_DOD: u8 = 1;
/// Raw 8-byte XOR with the previous value's bits.
const MODE_XOR: u8 = 2;
/// Mask of the value coding in the mode byte.
const VALUE_MODE_MASK: u8 = 0x03;
/// Mode flag: every timestamp delta equals the first, so none follow it.
const FLAG_REGULAR_TIMESTAMPS: u8 = 0x04;
/// Mode flag: a start-timestamp section follows the mode byte. Set only
/// when a sample of the chunk has a start timestamp, so chunks without
/// any are byte for byte what they were before the flag existed.
const FLAG_START_TIMESTAMPS: u8 = 0x08;
/// Bits of the mode byte that must be zero.
const MODE_RESERVED_BITS: u8 = !(VALUE_MODE_MASK | FLAG_REGULAR_TIMESTAMPS | FLAG_START_TIMESTAMPS);

/// A chunk whose non-decimal values exceed one in this many is XOR coded.
const MAX_EXCEPTION_RATIO: usize = 4;

/// Encodes `samples` (strictly increasing timestamps, at least one sample)
/// and appends the bytes to `out`. The encoding is self-delimiting: it
/// records its own sample count and length.
pub(crate) fn encode_block_chunk(samples: &[Sample], out: &mut Vec<u8>) {
    encode_block_chunk_st(samples, &[], out);
}

/// [`encode_block_chunk`] with the start timestamps of the chunk's samples
/// (`(t, st)`, increasing `t`, each `t` one of the samples'). With none the
/// bytes are exactly those of [`encode_block_chunk`].
pub(crate) fn encode_block_chunk_st(samples: &[Sample], sts: &[StEntry], out: &mut Vec<u8>) {
    put_uvarint(out, samples.len() as u64);
    if samples.is_empty() {
        return;
    }
    let mut values = Vec::with_capacity(samples.len() * 2 + 16);
    let value_mode = match plan_decimal(samples) {
        Some(plan) => write_decimal(&plan, &mut values),
        None => MODE_XOR,
    };
    if value_mode == MODE_XOR {
        values.clear();
        write_xor(samples, &mut values);
    }
    let mut times = Vec::with_capacity(samples.len() + 16);
    let regular = write_timestamps(samples, &mut times);
    let mut st_section = Vec::new();
    if !sts.is_empty() {
        let mut stream = Vec::new();
        StWriter::from_entries(sts).write_to(&mut stream);
        put_uvarint(&mut st_section, stream.len() as u64);
        st_section.extend_from_slice(&stream);
    }
    let mode = value_mode
        | if regular { FLAG_REGULAR_TIMESTAMPS } else { 0 }
        | if sts.is_empty() {
            0
        } else {
            FLAG_START_TIMESTAMPS
        };
    put_uvarint(
        out,
        (1 + st_section.len() + times.len() + values.len()) as u64,
    );
    out.push(mode);
    out.extend_from_slice(&st_section);
    out.extend_from_slice(&times);
    out.extend_from_slice(&values);
}

/// Writes the first timestamp, the first delta and then the delta-of-deltas
/// unless all are zero. Returns whether they were (regular spacing).
fn write_timestamps(samples: &[Sample], out: &mut Vec<u8>) -> bool {
    let Some(first) = samples.first() else {
        return true;
    };
    put_varint(out, first.t);
    let deltas = || {
        samples
            .windows(2)
            .map(|w| (w[1].t as u64).wrapping_sub(w[0].t as u64))
    };
    let Some(d1) = deltas().next() else {
        return true;
    };
    put_uvarint(out, d1);
    let dods = || {
        deltas()
            .zip(deltas().skip(1))
            .map(|(a, b)| b.wrapping_sub(a) as i64)
    };
    let regular = dods().all(|d| d == 0);
    if !regular {
        dods().for_each(|d| put_varint(out, d));
    }
    regular
}

/// Values as chunk-wide exact decimals, with the few values that are not
/// (NaN, stale markers, -0.0) kept aside as raw bits.
struct DecimalPlan {
    k: i32,
    /// One mantissa per sample; exceptions repeat their neighbour's.
    mantissas: Vec<i64>,
    /// `(index, raw bits)` of samples whose value is not an exact decimal.
    exceptions: Vec<(usize, u64)>,
}

fn plan_decimal(samples: &[Sample]) -> Option<DecimalPlan> {
    let mut k = K_MIN;
    for s in samples {
        if let Some(found) = decimal::min_exponent(s.v, k) {
            k = found;
        }
    }
    let mut mantissas = Vec::with_capacity(samples.len());
    let mut exceptions = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        match decimal::mantissa(s.v, k) {
            Some(m) => mantissas.push(m),
            None => {
                exceptions.push((i, s.v.to_bits()));
                mantissas.push(mantissas.last().copied().unwrap_or(0));
            }
        }
    }
    if exceptions.len() * MAX_EXCEPTION_RATIO > samples.len() {
        return None;
    }
    // Leading exceptions take the first real mantissa, so they cost no delta.
    let lead = exceptions
        .iter()
        .enumerate()
        .take_while(|&(n, &(i, _))| n == i)
        .count();
    if let Some(&first_real) = mantissas.get(lead) {
        mantissas
            .iter_mut()
            .take(lead)
            .for_each(|m| *m = first_real);
    }
    Some(DecimalPlan {
        k,
        mantissas,
        exceptions,
    })
}

/// Writes a decimal plan with whichever of delta and delta-of-delta coding is
/// shorter, or returns [`MODE_XOR`] if raw XOR would be shorter still.
fn write_decimal(plan: &DecimalPlan, out: &mut Vec<u8>) -> u8 {
    // K_MIN..=K_MAX is 28 values, so the offset fits a byte.
    out.push((plan.k - K_MIN) as u8);
    put_uvarint(out, plan.exceptions.len() as u64);
    let mut next = 0usize;
    for &(i, bits) in &plan.exceptions {
        put_uvarint(out, (i - next) as u64);
        out.extend_from_slice(&bits.to_le_bytes());
        next = i + 1;
    }
    let mut delta = Vec::with_capacity(plan.mantissas.len() * 2);
    write_ints(&plan.mantissas, false, &mut delta);
    let mut dod = Vec::with_capacity(plan.mantissas.len() * 2);
    write_ints(&plan.mantissas, true, &mut dod);
    let (mode, best) = if dod.len() < delta.len() {
        (MODE_DECIMAL_DOD, dod)
    } else {
        (MODE_DECIMAL_DELTA, delta)
    };
    if out.len() + best.len() >= plan.mantissas.len() * 8 {
        return MODE_XOR;
    }
    out.extend_from_slice(&best);
    mode
}

/// The integer stream: first mantissa, (for delta-of-delta) the first delta,
/// then the common divisor `g` of the residuals and each residual over `g`.
fn write_ints(m: &[i64], dod: bool, out: &mut Vec<u8>) {
    let Some(&m0) = m.first() else { return };
    put_varint(out, m0);
    // |m| < 2^53, so deltas and delta-of-deltas fit an i64 without overflow.
    let deltas: Vec<i64> = m.windows(2).map(|w| w[1] - w[0]).collect();
    let residuals: Vec<i64> = if dod {
        if let Some(&d1) = deltas.first() {
            put_varint(out, d1);
        }
        deltas.windows(2).map(|w| w[1] - w[0]).collect()
    } else {
        deltas
    };
    let g = residuals
        .iter()
        .fold(0u64, |g, r| gcd(g, r.unsigned_abs()))
        .max(1);
    put_uvarint(out, g);
    for r in residuals {
        put_varint(out, r / g as i64);
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn write_xor(samples: &[Sample], out: &mut Vec<u8>) {
    let mut prev = 0u64;
    for s in samples {
        let bits = s.v.to_bits();
        out.extend_from_slice(&(bits ^ prev).to_be_bytes());
        prev = bits;
    }
}

/// Decodes one chunk written by [`encode_block_chunk`] from the start of
/// `bytes`, appending its samples to `out`. Returns the number of bytes read.
///
/// On error `out` is left as it was.
pub(crate) fn decode_block_chunk(
    bytes: &[u8],
    out: &mut Vec<Sample>,
) -> Result<usize, ChunkDecodeError> {
    decode_block_chunk_st(bytes, out, None)
}

/// [`decode_block_chunk`] that also appends the chunk's start timestamps to
/// `sts` when given (when not, their section is skipped unread).
///
/// On error `out` and `sts` are left as they were.
pub(crate) fn decode_block_chunk_st(
    bytes: &[u8],
    out: &mut Vec<Sample>,
    mut sts: Option<&mut Vec<StEntry>>,
) -> Result<usize, ChunkDecodeError> {
    let start = out.len();
    let st_start = sts.as_ref().map_or(0, |v| v.len());
    let res = Decoder { b: bytes, pos: 0 }.chunk(out, sts.as_deref_mut());
    if res.is_err() {
        out.truncate(start);
        if let Some(v) = sts {
            v.truncate(st_start);
        }
    }
    res
}

/// Cursor over one chunk; every read is bounds-checked.
struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn err(&self, reason: &'static str) -> ChunkDecodeError {
        ChunkDecodeError {
            offset: self.pos,
            reason,
        }
    }

    fn uvarint(&mut self, what: &'static str) -> Result<u64, ChunkDecodeError> {
        let at = self.pos;
        get_uvarint(self.b, &mut self.pos).ok_or(ChunkDecodeError {
            offset: at,
            reason: what,
        })
    }

    fn varint(&mut self, what: &'static str) -> Result<i64, ChunkDecodeError> {
        let at = self.pos;
        get_varint(self.b, &mut self.pos).ok_or(ChunkDecodeError {
            offset: at,
            reason: what,
        })
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, ChunkDecodeError> {
        let b = *self.b.get(self.pos).ok_or_else(|| self.err(what))?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads the start-timestamp section (`len <uvarint>` and a stream of
    /// that many bytes) into `sts`, or skips it.
    fn start_timestamps(&mut self, sts: Option<&mut Vec<StEntry>>) -> Result<(), ChunkDecodeError> {
        let len = self.uvarint("truncated start timestamp section length")?;
        let at = self.pos;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| at.checked_add(l))
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.err("start timestamp section past end of chunk"))?;
        if let Some(sts) = sts {
            decode_st_stream(&self.b[at..end], sts).map_err(|e| ChunkDecodeError {
                offset: at + e.offset,
                reason: e.reason,
            })?;
        }
        self.pos = end;
        Ok(())
    }

    fn u64_bytes(&mut self, what: &'static str) -> Result<[u8; 8], ChunkDecodeError> {
        let end = self.pos.checked_add(8).ok_or_else(|| self.err(what))?;
        let raw = self.b.get(self.pos..end).ok_or_else(|| self.err(what))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(raw);
        self.pos = end;
        Ok(a)
    }

    fn chunk(
        mut self,
        out: &mut Vec<Sample>,
        sts: Option<&mut Vec<StEntry>>,
    ) -> Result<usize, ChunkDecodeError> {
        let n = self.uvarint("truncated sample count")?;
        if n == 0 {
            return Ok(self.pos);
        }
        let body_len = self.uvarint("truncated chunk length")?;
        let end = usize::try_from(body_len)
            .ok()
            .and_then(|l| self.pos.checked_add(l))
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.err("chunk length past end of input"))?;
        // Every sample costs at least one body byte, which bounds `n` by
        // the input size before anything is allocated for it.
        if n >= body_len {
            return Err(self.err("sample count exceeds chunk length"));
        }
        let n = n as usize;
        self.b = self.b.get(..end).unwrap_or(self.b);
        let mode = self.byte("truncated mode")?;
        if mode & MODE_RESERVED_BITS != 0 {
            return Err(ChunkDecodeError {
                offset: self.pos - 1,
                reason: "unknown mode bits",
            });
        }
        if mode & FLAG_START_TIMESTAMPS != 0 {
            self.start_timestamps(sts)?;
        }
        let base = out.len();
        out.reserve(n);
        self.timestamps(n, mode & FLAG_REGULAR_TIMESTAMPS != 0, out)?;
        let values = out.get_mut(base..).unwrap_or_default();
        match mode & VALUE_MODE_MASK {
            MODE_XOR => self.xor_values(values)?,
            MODE_DECIMAL_DELTA => self.decimal_values(values, false)?,
            MODE_DECIMAL_DOD => self.decimal_values(values, true)?,
            _ => {
                return Err(ChunkDecodeError {
                    offset: self.pos,
                    reason: "unknown value mode",
                })
            }
        }
        if self.pos != end {
            return Err(self.err("chunk length disagrees with its contents"));
        }
        Ok(end)
    }
}

#[path = "blockenc_decode.rs"]
mod decode;

#[cfg(test)]
#[path = "blockenc_tests.rs"]
mod tests;

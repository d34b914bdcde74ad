//! Section decoders for the block chunk: timestamps and the value codings.

use super::Decoder;
use crate::model::Sample;
use crate::storage::chunk::decimal::{self, K_MAX, K_MIN, MANTISSA_LIMIT};
use crate::storage::chunk::ChunkDecodeError;

impl Decoder<'_> {
    /// Pushes `n` samples with their timestamps (values are filled in later).
    pub(super) fn timestamps(
        &mut self,
        n: usize,
        regular: bool,
        out: &mut Vec<Sample>,
    ) -> Result<(), ChunkDecodeError> {
        let mut t = self.varint("truncated first timestamp")?;
        out.push(Sample::new(t, 0.0));
        if n == 1 {
            return Ok(());
        }
        let mut delta = self.uvarint("truncated first delta")?;
        for i in 1..n {
            if i >= 2 && !regular {
                let dod = self.varint("truncated timestamp delta-of-delta")?;
                delta = delta.wrapping_add(dod as u64);
            }
            let next = t.wrapping_add(delta as i64);
            if next <= t {
                return Err(self.err("timestamps not increasing"));
            }
            t = next;
            out.push(Sample::new(t, 0.0));
        }
        Ok(())
    }

    pub(super) fn xor_values(&mut self, values: &mut [Sample]) -> Result<(), ChunkDecodeError> {
        let mut prev = 0u64;
        for s in values {
            prev ^= u64::from_be_bytes(self.u64_bytes("truncated xor value")?);
            s.v = f64::from_bits(prev);
        }
        Ok(())
    }

    pub(super) fn decimal_values(
        &mut self,
        values: &mut [Sample],
        dod: bool,
    ) -> Result<(), ChunkDecodeError> {
        let k_at = self.pos;
        let k = i32::from(self.byte("truncated exponent")?) + K_MIN;
        if k > K_MAX {
            return Err(ChunkDecodeError {
                offset: k_at,
                reason: "decimal exponent out of range",
            });
        }
        let exceptions = self.exceptions(values.len())?;
        self.mantissas(values, k, dod)?;
        for (i, bits) in exceptions {
            if let Some(s) = values.get_mut(i) {
                s.v = f64::from_bits(bits);
            }
        }
        Ok(())
    }

    /// Reads the `(index, raw bits)` list of values that are not decimals.
    fn exceptions(&mut self, n: usize) -> Result<Vec<(usize, u64)>, ChunkDecodeError> {
        let count_at = self.pos;
        let count = self.uvarint("truncated exception count")?;
        if count > n as u64 {
            return Err(ChunkDecodeError {
                offset: count_at,
                reason: "more exceptions than samples",
            });
        }
        let mut out = Vec::with_capacity(count as usize);
        let mut next = 0u64;
        for _ in 0..count {
            let at = self.pos;
            let gap = self.uvarint("truncated exception index")?;
            let i = next.checked_add(gap).filter(|&i| i < n as u64);
            let i = i.ok_or(ChunkDecodeError {
                offset: at,
                reason: "exception index out of range",
            })?;
            let bits = u64::from_le_bytes(self.u64_bytes("truncated exception value")?);
            out.push((i as usize, bits));
            next = i + 1;
        }
        Ok(out)
    }

    /// Reads the integer stream and turns each mantissa into its float.
    fn mantissas(
        &mut self,
        values: &mut [Sample],
        k: i32,
        dod: bool,
    ) -> Result<(), ChunkDecodeError> {
        let mut iter = values.iter_mut();
        let mut m = self.varint("truncated first mantissa")?;
        let mut delta = 0i64;
        self.put_mantissa(iter.next(), m, k)?;
        if dod && iter.len() > 0 {
            delta = self.varint("truncated first mantissa delta")?;
            m = self.step(m, delta)?;
            self.put_mantissa(iter.next(), m, k)?;
        }
        let g_at = self.pos;
        let g = self.uvarint("truncated common divisor")?;
        let g = i64::try_from(g).ok().filter(|&g| g > 0);
        let g = g.ok_or(ChunkDecodeError {
            offset: g_at,
            reason: "bad common divisor",
        })?;
        for s in iter {
            let at = self.pos;
            let r = self.varint("truncated mantissa residual")?;
            let r = r.checked_mul(g).ok_or(ChunkDecodeError {
                offset: at,
                reason: "residual overflows",
            })?;
            if dod {
                delta = delta.checked_add(r).ok_or(ChunkDecodeError {
                    offset: at,
                    reason: "delta overflows",
                })?;
            } else {
                delta = r;
            }
            m = self.step(m, delta)?;
            self.put_mantissa(Some(s), m, k)?;
        }
        Ok(())
    }

    fn step(&self, m: i64, delta: i64) -> Result<i64, ChunkDecodeError> {
        m.checked_add(delta)
            .ok_or_else(|| self.err("mantissa overflows"))
    }

    fn put_mantissa(&self, s: Option<&mut Sample>, m: i64, k: i32) -> Result<(), ChunkDecodeError> {
        if !(-MANTISSA_LIMIT < m && m < MANTISSA_LIMIT) {
            return Err(self.err("mantissa out of range"));
        }
        if let Some(s) = s {
            s.v = decimal::to_float(m, k);
        }
        Ok(())
    }
}

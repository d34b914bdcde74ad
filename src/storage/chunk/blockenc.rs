//! The block chunk encoding (decimal-integer delta coding with XOR fallback).
//!
//! STUB: to be implemented. The API below is fixed; the block writer depends on it.

use super::ChunkDecodeError;
use crate::model::Sample;

/// Encodes `samples` (strictly increasing timestamps, at least one sample)
/// and appends the bytes to `out`. The encoding is self-delimiting: it
/// records its own sample count and length.
pub(crate) fn encode_block_chunk(samples: &[Sample], out: &mut Vec<u8>) {
    let _ = (samples, out);
    todo!()
}

/// Decodes one chunk written by [`encode_block_chunk`] from the start of
/// `bytes`, appending its samples to `out`. Returns the number of bytes read.
pub(crate) fn decode_block_chunk(
    bytes: &[u8],
    out: &mut Vec<Sample>,
) -> Result<usize, ChunkDecodeError> {
    let _ = (bytes, out);
    todo!()
}

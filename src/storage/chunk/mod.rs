//! Sample encodings.
//!
//! * [`XorAppender`] / [`XorIter`]: Gorilla chunks (delta-of-delta timestamps,
//!   XOR floats) used by the head for the chunk a series is appending to.
//! * [`encode_block_chunk`] / [`decode_block_chunk`]: the block encoding used
//!   inside persistent blocks, before zstd framing. It turns exact decimal
//!   values into integers and delta-codes them, which compresses far better
//!   than XOR on counters and rounded gauges; it falls back to XOR for values
//!   that are not exact decimals (NaN, stale markers, arbitrary floats).
//!
//! * [`StWriter`] / [`decode_st_stream`]: start timestamps of the samples
//!   that have one, stored beside the samples (in the head per series, in a
//!   block chunk behind a mode flag).
//!
//! Every decoder takes `&[u8]`, never panics, and reports malformed input as a
//! [`ChunkDecodeError`] with the byte offset.

mod bits;
mod blockenc;
mod decimal;
mod histogram;
mod histogram_st;
mod prom_xor;
mod st;
mod xor;
mod xor_fast;

pub(crate) use blockenc::{
    decode_block_chunk, decode_block_chunk_st, encode_block_chunk, encode_block_chunk_st,
};
pub(crate) use histogram::{
    decode_histogram_chunk, encode_histogram_chunk, put_histogram, HistReader,
};
pub(crate) use histogram_st::{decode_histogram_chunk_st, encode_histogram_chunk_st};
pub use prom_xor::{decode_prom_xor, encode_prom_xor, MAX_PROM_XOR_SAMPLES};
pub(crate) use st::{StEntry, StWriter};
pub(crate) use xor::{XorAppender, XorIter};
pub(crate) use xor_fast::decode_xor_into;

use crate::model::Sample;

/// A chunk buffer did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chunk decode failed at byte {offset}: {reason}")]
pub struct ChunkDecodeError {
    /// Byte offset inside the chunk where decoding failed.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

/// Encodes `samples` (strictly increasing timestamps) as one XOR chunk.
///
/// Benchmarks only: the codecs are crate-private and `benches/` sees just the
/// public API. Not a stable interface.
#[doc(hidden)]
pub fn xor_encode_for_bench(samples: &[Sample]) -> Vec<u8> {
    let mut a = XorAppender::with_capacity(samples.len() * XorAppender::MAX_SAMPLE_BYTES);
    for s in samples {
        a.append(s.t, s.v);
    }
    a.bytes().to_vec()
}

/// Decodes `count` samples of an XOR chunk into `out`. Benchmarks only.
#[doc(hidden)]
pub fn xor_decode_for_bench(
    bytes: &[u8],
    count: usize,
    out: &mut Vec<Sample>,
) -> Result<(), ChunkDecodeError> {
    decode_xor_into(bytes, count, out)
}

/// Appends the block encoding of `samples` to `out`. Benchmarks only.
#[doc(hidden)]
pub fn block_encode_for_bench(samples: &[Sample], out: &mut Vec<u8>) {
    encode_block_chunk(samples, out);
}

/// Decodes one block chunk from the start of `bytes` into `out`, returning
/// the bytes read. Benchmarks only.
#[doc(hidden)]
pub fn block_decode_for_bench(
    bytes: &[u8],
    out: &mut Vec<Sample>,
) -> Result<usize, ChunkDecodeError> {
    decode_block_chunk(bytes, out)
}

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
//! Every decoder takes `&[u8]`, never panics, and reports malformed input as a
//! [`ChunkDecodeError`] with the byte offset.

mod bits;
mod blockenc;
mod xor;

pub(crate) use blockenc::{decode_block_chunk, encode_block_chunk};
pub(crate) use xor::{XorAppender, XorIter};

/// A chunk buffer did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chunk decode failed at byte {offset}: {reason}")]
pub struct ChunkDecodeError {
    /// Byte offset inside the chunk where decoding failed.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}
